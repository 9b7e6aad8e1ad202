package linearizability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// growthKey renders a successor of a growth as its log length and its
// remaining pending lengths.
func growthKey(s partitionState) string {
	return fmt.Sprintf("len %d start %d pending %v", s.log.length, s.start, s.pending)
}

// bruteGrowth lists, by going through every sub-multiset of pending (one
// count per distinct length), the successors growExactly (exact) or
// growAtLeast should produce from a log of length with the given claimed
// offsets.
func bruteGrowth(pending []int, length, need int64, exact bool, claimed *offsetSet) []string {
	var lengths, counts []int
	for _, k := range pending {
		if n := len(lengths); n > 0 && lengths[n-1] == k {
			counts[n-1]++
		} else {
			lengths, counts = append(lengths, k), append(counts, 1)
		}
	}
	var out []string
	taken := make([]int, len(lengths))
	var walk func(i int)
	walk = func(i int) {
		if i < len(lengths) {
			for k := 0; k <= counts[i]; k++ {
				taken[i] = k
				walk(i + 1)
			}
			return
		}
		var sum int64
		shortest := 0
		var rest []int
		for j, k := range taken {
			sum += int64(k * lengths[j])
			if k > 0 && shortest == 0 {
				shortest = lengths[j]
			}
			for range counts[j] - k {
				rest = append(rest, lengths[j])
			}
		}
		ok := sum == need
		if !exact {
			ok = sum >= need && sum-int64(shortest) < need
		}
		if ok && !claimed.anyIn(length, length+sum) {
			out = append(out, fmt.Sprintf("len %d start %d pending %v", length+sum, 0, rest))
		}
	}
	walk(0)
	return out
}

// TestGrowthMatchesBruteForce checks the pruned enumeration of pending
// appends that fill a gap against every sub-multiset, on random pending
// sets, gaps and claimed offsets: the same successors when there are at
// most maxGrowthChoices of them, else the one state that keeps every
// pending append.
func TestGrowthMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 9))
	for i := range 3000 {
		pending := make([]int, r.IntN(12))
		for j := range pending {
			pending[j] = 1 + r.IntN(1+r.IntN(7))
		}
		slices.Sort(pending)
		var s partitionState
		s.log = s.log.append([]string{"x", "y", "z"})
		s.pending = pending
		length := int64(s.log.length)
		claimed := &offsetSet{}
		if r.IntN(2) == 0 {
			from := length + r.Int64N(30)
			claimed.addRange(from, from+1+r.Int64N(3))
		}
		claimed.normalize()
		need := 1 + r.Int64N(30)
		exact := r.IntN(2) == 0

		want := bruteGrowth(pending, length, need, exact, claimed)
		if claimed.anyIn(length, length+need) {
			want = nil
		}
		if len(want) > maxGrowthChoices {
			want = []string{fmt.Sprintf("len %d start 0 pending %v", length+need, pending)}
		}
		var got []string
		b := &budget{}
		fn := func(g partitionState) { got = append(got, growthKey(g)) }
		if exact {
			s.growExactly(context.Background(), b, claimed, need, fn)
		} else {
			s.growAtLeast(context.Background(), b, claimed, need, fn)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d: pending %v need %d exact %v claimed %v:\n got  %s\n want %s",
				i, pending, need, exact, claimed.ranges, strings.Join(got, "; "), strings.Join(want, "; "))
		}
	}
}

// allUnreadFillOneGap is the shape of seed 689300192's t001-0: an acks=0
// producer whose 140 records (lengths 1 to 5, 419 offsets) retention
// deleted before any read, then a read that shows the log 419 longer, so
// that the only way to fill the gap is every one of them. Walking every
// sub-multiset below 419 to find that out took about 20 million units for
// that one step.
func allUnreadFillOneGap() []Op {
	h := []Op{app(1, 0, 5, 0, "a")}
	var n int64
	for i := range 140 {
		vals := make([]string, 1+(i*7)%5)
		for j := range vals {
			vals[j] = fmt.Sprintf("u%d-%d", i, j)
		}
		n += int64(len(vals))
		h = append(h, appUnknown(2, int64(10+i), int64(10+i), vals...))
	}
	return append(h,
		read(3, 200, 210, 1+n, 1+n),
		app(1, 220, 230, 1+n, "b"),
		read(3, 240, 250, 1+n, 2+n, "b"),
	)
}

// TestAllUnreadFillOneGap checks that such a partition is decided with a
// small fraction of the default budget, and that one offset more than the
// unread appends can fill is still illegal.
func TestAllUnreadFillOneGap(t *testing.T) {
	legal := allUnreadFillOneGap()
	res, err := CheckLinearizability(legal, Options{StepBudget: DefaultStepBudget})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictOK || res.Steps > DefaultStepBudget/100 {
		t.Fatalf("legal history: %s, %d units; want ok within %d", res, res.Steps, DefaultStepBudget/100)
	}
	t.Logf("legal: %d units", res.Steps)

	illegal := slices.Clone(legal)
	for i := len(illegal) - 3; i < len(illegal); i++ {
		illegal[i].Offset++
		illegal[i].HighWatermark++
	}
	res, err = CheckLinearizability(illegal, Options{StepBudget: DefaultStepBudget})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictIllegal || res.Steps > DefaultStepBudget/100 {
		t.Fatalf("gap one longer than every unread append: %s, %d units; want illegal within %d", res, res.Steps, DefaultStepBudget/100)
	}
}

// TestGrowthFallbackKeepsStart checks that the state choose falls back to
// when a gap has too many ways to be filled keeps the log start: a read
// below an acknowledged DeleteRecords afterwards is still illegal.
func TestGrowthFallbackKeepsStart(t *testing.T) {
	h := []Op{
		app(1, 0, 5, 0, "a"),
		app(1, 6, 8, 1, "b"),
		deleteRecords(2, 10, 12, 2, 2),
	}
	for i := range 40 {
		vals := make([]string, 1+i%5)
		for j := range vals {
			vals[j] = fmt.Sprintf("u%d-%d", i, j)
		}
		h = append(h, appUnknown(3, int64(20+i), int64(20+i), vals...))
	}
	// Twenty unread offsets: far more than maxGrowthChoices ways to make
	// them.
	h = append(h, endOffset(4, 100, 110, 22))
	res, err := CheckLinearizability(h, Options{})
	if err != nil || res.Verdict != VerdictOK {
		t.Fatalf("legal history: %s, %v", res, err)
	}
	h = append(h, read(5, 120, 130, 0, 22, "a", "b"))
	res, err = CheckLinearizability(h, Options{})
	if err != nil || res.Verdict != VerdictIllegal {
		t.Fatalf("read below the acknowledged log start after a fallback growth: %s, %v; want illegal", res, err)
	}
}
