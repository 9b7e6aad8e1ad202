package linearizability

import (
	"context"
	"math"
	"math/bits"
	"slices"
)

// growExactly calls fn with every state that results from applying pending
// appends whose lengths sum to exactly need (need 0: s itself). Distinct
// sub-multisets of lengths give distinct remaining pending sets, so each is
// its own successor.
func (s partitionState) growExactly(ctx context.Context, b *budget, claimed *offsetSet, need int64, fn func(partitionState)) {
	if need < 0 {
		return
	}
	if need == 0 {
		fn(s)
		return
	}
	if length := int64(s.log.length); claimed.anyIn(length, length+need) {
		return
	}
	s.choose(ctx, b, need, need, fn)
}

// growAtLeast calls fn with every state that results from applying a
// minimal set of pending appends whose lengths sum to at least need: sets
// that drop below need without their shortest member. Applying more than a
// minimal set now is never required, since the rest can apply later. A set
// whose placeholders would reach a claimed offset is no choice.
func (s partitionState) growAtLeast(ctx context.Context, b *budget, claimed *offsetSet, need int64, fn func(partitionState)) {
	if need <= 0 {
		fn(s)
		return
	}
	length := int64(s.log.length)
	if claimed.anyIn(length, length+need) {
		return
	}
	s.choose(ctx, b, need, claimed.firstFrom(length+need)-length, fn)
}

// maxGrowthChoices bounds the successors of one growth. Unread unknown
// appends differ only in length, yet every choice of which of them fill a
// gap leaves a different pending set behind, and with dozens pending (a
// partition whose producers timed out a lot and that no final drain read)
// the choices run into the millions at a single step, and multiply across
// steps.
const maxGrowthChoices = 32

// choose calls fn with the states subsets finds for sums in [need, most],
// unless there are more than maxGrowthChoices: then with one state
// instead, the log grown by need placeholders and every pending append
// kept. That state can do whatever any of the choices could (its pending
// set contains each of theirs, and a choice that grew further than need
// can grow the rest later), so the model still never rejects a legal
// history; the price is that from then on it lets one unread append's
// length count in two gaps.
func (s partitionState) choose(ctx context.Context, b *budget, need, most int64, fn func(partitionState)) {
	var found []partitionState
	s.subsets(ctx, b, need, most, func(g partitionState) bool {
		found = append(found, g)
		return len(found) <= maxGrowthChoices
	})
	if len(found) > maxGrowthChoices {
		fn(partitionState{log: s.log.appendPlaceholders(int(need)), pending: s.pending, start: s.start})
		return
	}
	for _, g := range found {
		fn(g)
	}
}

// lengthGroup is one distinct pending length and how many pending appends
// have it.
type lengthGroup struct{ length, count int }

// subsets enumerates the distinct minimal sub-multisets of s.pending whose
// sums lie in [need, most] (need >= 1): minimal means that the set without
// its shortest length sums to less than need. With most == need that is
// every set that sums to exactly need.
//
// A plain walk over sub-multisets visits every set below need before it
// can tell that a branch leads nowhere, and when the only way to fill a
// gap is nearly every pending append (140 of them, lengths 1 to 5: a
// producer with acks=0 whose records retention deleted before any read),
// that is tens of millions of sets for one step. So the walk first builds
// reach: reach[g] holds every sum the groups from g on can make. A branch
// is entered only if reach says it can still end in [need, most], and then
// it does end in at least one emitted set (take a witness, drop its
// shortest members while the sum stays >= need), so the branches entered
// are at most the sets emitted times the number of groups. Every set
// looked at (each count of each group tried) costs one unit of b, and
// building reach one unit plus one per 64 words shifted. The walk stops
// when fn returns false.
func (s partitionState) subsets(ctx context.Context, b *budget, need, most int64, fn func(partitionState) bool) {
	// Distinct lengths, longest first, with their counts. Taking groups in
	// this order makes the last length a branch adds its shortest.
	var groups []lengthGroup
	var total int64
	for i := len(s.pending) - 1; i >= 0; i-- {
		total += int64(s.pending[i])
		if n := len(groups); n > 0 && groups[n-1].length == s.pending[i] {
			groups[n-1].count++
		} else {
			groups = append(groups, lengthGroup{s.pending[i], 1})
		}
	}
	if len(groups) == 0 || need > total {
		return
	}
	// A minimal set overshoots need by less than its shortest length, and
	// no set passes total.
	most = min(most, need+int64(groups[0].length)-1, total)
	if most < need {
		return
	}
	reach := make([]sumSet, len(groups)+1)
	reach[len(groups)] = newSumSet(most)
	reach[len(groups)].add(0)
	shifts := 0
	for g := len(groups) - 1; g >= 0; g-- {
		// Up to count of this length, as pieces of 1, 2, 4, ... and a
		// remainder: their subsets make every count, in log(count) shifts.
		reach[g] = reach[g+1].clone()
		for left, piece := groups[g].count, 1; left > 0; piece *= 2 {
			piece = min(piece, left)
			left -= piece
			reach[g].orShifted(reach[g], int64(piece*groups[g].length))
			shifts++
		}
	}
	// A shift is a pass over the words of a set: a unit per 64 words
	// shifted keeps the charge in line with a model step's work.
	if !b.spendN(1 + int64(shifts*len(reach[0].words))/64) {
		return
	}
	if !reach[0].anyIn(need, most) {
		return
	}
	// rest[g] is the sum of every length from group g on.
	rest := make([]int64, len(groups)+1)
	for g := len(groups) - 1; g >= 0; g-- {
		rest[g] = rest[g+1] + int64(groups[g].count*groups[g].length)
	}
	// taken[i] counts lengths taken from groups[i].
	taken := make([]int, len(groups))
	stopped := false
	var walk func(g int, sum int64)
	walk = func(g int, sum int64) {
		// Here sum < need and reach[g] can add what is missing.
		length := int64(groups[g].length)
		// The first count of this group that reaches need, if it has that
		// many: with one fewer the set is below need, so it is minimal;
		// more of this group, or any shorter length, would not be.
		k := min(int64(groups[g].count), (need-sum+length-1)/length)
		if next := sum + k*length; next >= need {
			if !b.spend() {
				stopped = true
				return
			}
			if next <= most {
				taken[g] = int(k)
				stopped = !fn(s.apply(groups, taken, next))
			}
			k--
		}
		// Fewer of this group and the rest from shorter lengths, most
		// first: once even every shorter length cannot make up the
		// difference, fewer cannot either.
		for ; k >= 0 && !stopped && g+1 < len(groups); k-- {
			next := sum + k*length
			if need-next > rest[g+1] {
				break
			}
			if ctx.Err() != nil || !b.spend() {
				stopped = true
				break
			}
			if reach[g+1].anyIn(need-next, most-next) {
				taken[g] = int(k)
				walk(g+1, next)
			}
		}
		taken[g] = 0
	}
	walk(0, 0)
}

// apply returns s with the taken pending appends applied as sum
// placeholders.
func (s partitionState) apply(groups []lengthGroup, taken []int, sum int64) partitionState {
	rest := make([]int, 0, len(s.pending))
	for i := len(groups) - 1; i >= 0; i-- {
		for range groups[i].count - taken[i] {
			rest = append(rest, groups[i].length)
		}
	}
	return partitionState{log: s.log.appendPlaceholders(int(sum)), pending: rest, start: s.start}
}

// sumSet is a set of sums in [0, limit], one bit each.
type sumSet struct {
	words []uint64
	limit int64
}

// newSumSet returns an empty set of sums up to limit.
func newSumSet(limit int64) sumSet {
	return sumSet{words: make([]uint64, limit/64+1), limit: limit}
}

// clone returns a copy of the set.
func (s sumSet) clone() sumSet {
	return sumSet{words: append([]uint64(nil), s.words...), limit: s.limit}
}

// add puts x (0 <= x <= limit) into the set.
func (s sumSet) add(x int64) { s.words[x/64] |= 1 << (x % 64) }

// orShifted adds every sum of src plus by (by >= 1), as far as the limit
// goes. src may be s itself: words are written from the top down, and
// each reads only words at or below it that are not yet written.
func (s sumSet) orShifted(src sumSet, by int64) {
	shift, off := int(by/64), uint(by%64)
	for i := len(s.words) - 1; i >= shift; i-- {
		w := src.words[i-shift] << off
		if off > 0 && i-shift-1 >= 0 {
			w |= src.words[i-shift-1] >> (64 - off)
		}
		s.words[i] |= w
	}
	// Bits past the limit in the last word are never asked about (anyIn
	// clamps to the limit), so they may stay.
}

// anyIn reports whether the set holds a sum in [lo, hi].
func (s sumSet) anyIn(lo, hi int64) bool {
	lo, hi = max(lo, 0), min(hi, s.limit)
	for x := lo; x <= hi; {
		w := s.words[x/64] >> (x % 64)
		if w != 0 {
			return x+int64(bits.TrailingZeros64(w)) <= hi
		}
		x = (x/64 + 1) * 64
	}
	return false
}

// firstFrom returns the least offset at or after from in the set, or
// math.MaxInt64 when there is none.
func (c *offsetSet) firstFrom(from int64) int64 {
	if c == nil {
		return math.MaxInt64
	}
	// The first range that ends after from holds the answer.
	i, _ := slices.BinarySearchFunc(c.ranges, from, func(r [2]int64, t int64) int {
		if r[1] <= t {
			return -1
		}
		return 1
	})
	if i == len(c.ranges) {
		return math.MaxInt64
	}
	return max(c.ranges[i][0], from)
}
