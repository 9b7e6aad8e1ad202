package linearizability

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestObservationSorts compares sortByOffset and sortByValue with plain
// comparison sorts on random observations: dense and sparse offsets (the
// counting sort and its fallback), reads that agree and that disagree on a
// value, values shared across offsets, and ops in and out of history order.
func TestObservationSorts(t *testing.T) {
	byValue := func(a, b observation) int {
		if c := strings.Compare(a.value, b.value); c != 0 {
			return c
		}
		if a.offset != b.offset {
			return cmp.Compare(a.offset, b.offset)
		}
		return cmp.Compare(a.op, b.op)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 2000 {
		n := r.IntN(60)
		span := int64(1 + r.IntN(3*n+2))
		if round%5 == 0 {
			span = 1 << 40 // sparse: the comparison-sort fallback
		}
		base := r.Int64N(1<<50) - 1<<49
		var obs []observation
		seen := map[[2]int64]bool{} // an op reads each offset once
		for len(obs) < n {
			o := observation{offset: base + r.Int64N(span), op: r.IntN(n + 1)}
			if seen[[2]int64{o.offset, int64(o.op)}] {
				continue
			}
			seen[[2]int64{o.offset, int64(o.op)}] = true
			switch r.IntN(4) {
			case 0:
				o.value = "v" + strconv.Itoa(r.IntN(5)) // shared across offsets
			default:
				o.value = "w" + strconv.FormatInt(o.offset, 10) // the usual: one value per offset
			}
			o.final = o.op%2 == 0
			obs = append(obs, o)
		}
		if round%2 == 0 {
			slices.SortStableFunc(obs, func(a, b observation) int { return cmp.Compare(a.op, b.op) }) // history order
		}
		wantOffset := slices.Clone(obs)
		slices.SortFunc(wantOffset, compareByOffset)
		wantValue := slices.Clone(obs)
		slices.SortFunc(wantValue, byValue)
		gotOffset := sortByOffset(slices.Clone(obs))
		if !slices.Equal(gotOffset, wantOffset) {
			t.Fatalf("round %d: sortByOffset\n got %v\nwant %v", round, gotOffset, wantOffset)
		}
		if got := sortByValue(gotOffset); !slices.Equal(got, wantValue) {
			t.Fatalf("round %d: sortByValue\n got %v\nwant %v", round, got, wantValue)
		}
	}
}
