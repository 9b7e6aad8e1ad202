package linearizability

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// FindingKind classifies an offset-check finding.
type FindingKind uint8

const (
	// LostWrite: a write known to be committed is missing from the final
	// drain. Known committed means acknowledged ok, or (for an unknown
	// outcome) seen by some read, since reads only return committed records.
	LostWrite FindingKind = iota + 1
	// Duplicate: reads saw one value at two or more offsets.
	Duplicate
	// InconsistentOffset: reads saw two or more values at one offset.
	InconsistentOffset
	// UnexpectedValue: a read returned a value that no append sent, or that
	// only a definitely-failed append sent.
	UnexpectedValue
	// WrongAckOffset: an append was acknowledged at an offset where reads
	// never saw its value, but saw another value there or its value
	// elsewhere.
	WrongAckOffset
	// NonMonotonicSend: a producer's append, invoked after its earlier
	// append on the partition returned ok, was acknowledged at an offset
	// that is not after the earlier batch.
	NonMonotonicSend
	// NonMonotonicPoll: a consumer read from an offset before its position
	// (the end of its previous read on the partition) without a seek.
	NonMonotonicPoll
	// PollSkip: a consumer read from an offset beyond its position without a
	// seek, jumping over offsets that reads show hold values.
	PollSkip
	// DeletedWrite: a write known to be committed lies below the log start
	// where the final drain began, but no DeleteRecords (not known to have
	// failed) asked for it to go, and no retention rule was in force.
	DeletedWrite
)

// String names the kind the way Jepsen's Kafka checker does.
func (k FindingKind) String() string {
	switch k {
	case LostWrite:
		return "lost-write"
	case Duplicate:
		return "duplicate"
	case InconsistentOffset:
		return "inconsistent-offset"
	case UnexpectedValue:
		return "unexpected-value"
	case WrongAckOffset:
		return "wrong-ack-offset"
	case NonMonotonicSend:
		return "nonmonotonic-send"
	case NonMonotonicPoll:
		return "nonmonotonic-poll"
	case PollSkip:
		return "poll-skip"
	case DeletedWrite:
		return "deleted-write"
	}
	return "FindingKind(" + strconv.Itoa(int(k)) + ")"
}

// Finding is one offset-check violation. The meaning of Offsets, Values and
// Ops depends on Kind:
//
//   - LostWrite and DeletedWrite: Values are the missing values of one
//     append, Offsets where
//     each was expected (acknowledged offset, or where a read saw it). Ops
//     are the append, then for an unknown-outcome append the read that saw
//     the first missing value.
//   - Duplicate: Values is the value, Offsets the distinct offsets it was
//     seen at, Ops the first read that saw it at each.
//   - InconsistentOffset: Offsets is the offset, Values the distinct values
//     seen there, Ops the first read that saw each.
//   - UnexpectedValue: Values is the value, Offsets where it was first
//     seen, Ops that read, then the failed append that sent it if any.
//   - WrongAckOffset: Ops are the append and the contradicting read; Values
//     start with the sent value and Offsets with its acknowledged offset.
//     Either the read saw the value at another offset (Offsets has a second
//     entry) or another value at the acknowledged offset (Values has a
//     second entry).
//   - NonMonotonicSend: Ops are the earlier and the later append, Offsets
//     the offset just past the earlier batch and the later base offset,
//     Values the first value of each.
//   - NonMonotonicPoll and PollSkip: Ops are the previous and the offending
//     read, Offsets the consumer's position and the offending fetch offset;
//     for PollSkip, Values are the values reads saw at the skipped offsets.
type Finding struct {
	// Kind classifies the finding.
	Kind FindingKind
	// Partition is where it happened.
	Partition TopicPartition
	// Client is the producer or consumer for per-client kinds
	// (NonMonotonicSend, NonMonotonicPoll, PollSkip) and the appending
	// client for LostWrite and WrongAckOffset; -1 otherwise.
	Client int
	// Offsets are the offsets involved; see Finding.
	Offsets []int64
	// Values are the values involved; see Finding.
	Values []string
	// Ops are indexes into the checked history; see Finding.
	Ops []int
}

// pollSkipValuesShown bounds how many skipped values String prints.
const pollSkipValuesShown = 8

// String renders the finding as one line that names offsets, values and ops.
func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", f.Kind, f.Partition)
	op := func(i int) string {
		if i < len(f.Ops) {
			return "op #" + strconv.Itoa(f.Ops[i])
		}
		return "op #?"
	}
	off := func(i int) int64 {
		if i < len(f.Offsets) {
			return f.Offsets[i]
		}
		return -1
	}
	val := func(i int) string {
		if i < len(f.Values) {
			return quoteValue(f.Values[i])
		}
		return "?"
	}
	switch f.Kind {
	case LostWrite, DeletedWrite:
		fmt.Fprintf(&b, "%s (client %d) wrote ", op(0), f.Client)
		for i := range f.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s @%d", val(i), off(i))
		}
		if len(f.Ops) > 1 {
			fmt.Fprintf(&b, " (outcome unknown, but %s read it)", op(1))
		} else {
			b.WriteString(" (acknowledged)")
		}
		if f.Kind == DeletedWrite {
			b.WriteString(", below the final drain's log start, but nothing was allowed to delete it")
		} else {
			b.WriteString(", missing from the final drain")
		}
	case Duplicate:
		fmt.Fprintf(&b, "value %s at offsets", val(0))
		for i := range f.Offsets {
			fmt.Fprintf(&b, " %d (%s)", off(i), op(i))
		}
	case InconsistentOffset:
		fmt.Fprintf(&b, "offset %d holds", off(0))
		for i := range f.Values {
			if i > 0 {
				b.WriteString(" and")
			}
			fmt.Fprintf(&b, " %s (%s)", val(i), op(i))
		}
	case UnexpectedValue:
		fmt.Fprintf(&b, "%s read %s at offset %d, ", op(0), val(0), off(0))
		if len(f.Ops) > 1 {
			fmt.Fprintf(&b, "which only %s sent, and it failed definitely", op(1))
		} else {
			b.WriteString("which no append sent")
		}
	case WrongAckOffset:
		fmt.Fprintf(&b, "%s (client %d) was acknowledged %s at offset %d, but ", op(0), f.Client, val(0), off(0))
		if len(f.Offsets) > 1 {
			fmt.Fprintf(&b, "%s saw it at offset %d", op(1), off(1))
		} else {
			fmt.Fprintf(&b, "%s saw %s there", op(1), val(1))
		}
	case NonMonotonicSend:
		fmt.Fprintf(&b, "client %d's %s (%s) was acknowledged at offset %d, not after %s (%s) which ends at %d and returned before it was sent",
			f.Client, op(1), val(1), off(1), op(0), val(0), off(0))
	case NonMonotonicPoll:
		fmt.Fprintf(&b, "client %d was at offset %d after %s, then %s read from offset %d without a seek",
			f.Client, off(0), op(0), op(1), off(1))
	case PollSkip:
		fmt.Fprintf(&b, "client %d was at offset %d after %s, then %s read from offset %d without a seek, skipping ",
			f.Client, off(0), op(0), op(1), off(1))
		shown := min(len(f.Values), pollSkipValuesShown)
		writeValues(&b, f.Values[:shown])
		if len(f.Values) > shown {
			fmt.Fprintf(&b, " and %d more", len(f.Values)-shown)
		}
	default:
		fmt.Fprintf(&b, "offsets %v values %v ops %v", f.Offsets, f.Values, f.Ops)
	}
	return b.String()
}

// observation is one (offset, value) pair returned by one ok read.
type observation struct {
	offset int64
	value  string
	op     int
	final  bool
}

// sentValue locates a value in the append that sent it.
type sentValue struct {
	op    int
	index int // position in the batch
}

// partitionView holds one partition's slice of the history, indexed for the
// checks.
type partitionView struct {
	tp      TopicPartition
	history []Op
	// ops are history indexes of this partition's ops, in history order.
	ops  []int
	sent map[string]sentValue
	// byOffset is every observation sorted by (offset, value, op); byValue
	// the same sorted by (value, offset, op).
	byOffset []observation
	byValue  []observation
	// trims are the history's trim bounds (model.go), shared by every
	// partition's view.
	trims trimIndex
}

// CheckOffsets validates history and runs the offset checks on every
// partition. Findings come out in partition order, then in the order of the
// FindingKind constants, then by offset or op. It returns an error wrapping
// ErrInvalidHistory for a malformed history, including a final drain that
// does not cover its partition from where it began (the log start) to its
// high watermark (which would report every write past the hole as lost).
func CheckOffsets(history []Op) ([]Finding, error) {
	h, err := NewValidHistory(history)
	if err != nil {
		return nil, err
	}
	return h.CheckOffsets()
}

// CheckOffsets is the package's CheckOffsets on a validated history.
func (h ValidHistory) CheckOffsets() ([]Finding, error) {
	history := h.ops
	byTP := make(map[TopicPartition][]int)
	for i, op := range history {
		byTP[op.Partition] = append(byTP[op.Partition], i)
	}
	var findings []Finding
	trims := collectTrims(history)
	for _, tp := range sortedPartitions(byTP) {
		v := newPartitionView(tp, history, byTP[tp])
		v.trims = trims
		lost, err := v.lostWrites()
		if err != nil {
			return nil, err
		}
		findings = append(findings, lost...)
		findings = append(findings, v.duplicates()...)
		findings = append(findings, v.inconsistentOffsets()...)
		findings = append(findings, v.unexpectedValues()...)
		findings = append(findings, v.wrongAckOffsets()...)
		findings = append(findings, v.nonMonotonicSends()...)
		findings = append(findings, v.polls()...)
	}
	// Each check emits in offset or op order; one stable sort by partition
	// and kind puts the kinds in their documented order too.
	slices.SortStableFunc(findings, func(a, b Finding) int {
		return cmp.Or(a.Partition.compare(b.Partition), cmp.Compare(a.Kind, b.Kind))
	})
	return findings, nil
}

// newPartitionView indexes one partition's ops.
func newPartitionView(tp TopicPartition, history []Op, ops []int) *partitionView {
	sent, read := 0, 0
	for _, i := range ops {
		switch op := &history[i]; {
		case op.Kind == OpAppend:
			sent += len(op.Values)
		case op.Kind == OpRead && op.Outcome == OutcomeOK:
			read += len(op.Values)
		}
	}
	v := &partitionView{tp: tp, history: history, ops: ops, sent: make(map[string]sentValue, sent), byOffset: make([]observation, 0, read)}
	for _, i := range ops {
		op := history[i]
		switch {
		case op.Kind == OpAppend:
			for j, val := range op.Values {
				v.sent[val] = sentValue{op: i, index: j}
			}
		case op.Kind == OpRead && op.Outcome == OutcomeOK:
			for j, val := range op.Values {
				v.byOffset = append(v.byOffset, observation{offset: op.Offset + int64(j), value: val, op: i, final: op.Final})
			}
		}
	}
	v.byOffset = sortByOffset(v.byOffset)
	v.byValue = sortByValue(v.byOffset)
	return v
}

// compareByOffset orders observations by (offset, value, op). The order
// is total (an op reads each offset once), so any algorithm that sorts by
// it gives the same slice. The comparisons return at the first key that
// differs: cmp.Or would compute every key.
func compareByOffset(a, b observation) int {
	if a.offset != b.offset {
		return cmp.Compare(a.offset, b.offset)
	}
	if c := strings.Compare(a.value, b.value); c != 0 {
		return c
	}
	return cmp.Compare(a.op, b.op)
}

// sortByOffset sorts obs, in place or into a new slice that it returns,
// by compareByOffset. Offsets are dense (a partition's reads cover a
// range of its log), so when their span is not much larger than len(obs)
// it places each observation in its offset's bucket (a counting sort,
// stable) and sorts only the buckets that are not in order already: obs
// comes in history order, so a bucket's ops ascend, and its values are
// one value unless reads disagree. Comparison sorts of these slices were
// the largest cost of checking a history.
func sortByOffset(obs []observation) []observation {
	if len(obs) < 2 {
		return obs
	}
	lo, hi := obs[0].offset, obs[0].offset
	for _, o := range obs[1:] {
		lo, hi = min(lo, o.offset), max(hi, o.offset)
	}
	span := uint64(hi) - uint64(lo) // exact: hi >= lo
	if span >= uint64(4*len(obs)+1024) {
		slices.SortFunc(obs, compareByOffset)
		return obs
	}
	// starts[k] is where offset lo+k's bucket begins, then its next free slot.
	starts := make([]int, span+2)
	for _, o := range obs {
		starts[uint64(o.offset)-uint64(lo)+1]++
	}
	for k := 1; k < len(starts); k++ {
		starts[k] += starts[k-1]
	}
	out := make([]observation, len(obs))
	for _, o := range obs {
		k := uint64(o.offset) - uint64(lo)
		out[starts[k]] = o
		starts[k]++
	}
	for start := 0; start < len(out); {
		end := start + 1
		for end < len(out) && out[end].offset == out[start].offset {
			end++
		}
		if run := out[start:end]; !inOffsetOrder(run) {
			slices.SortFunc(run, compareByOffset)
		}
		start = end
	}
	return out
}

// inOffsetOrder reports whether run, one offset's observations, is sorted
// by compareByOffset, looking at the common case (one value, ops
// ascending) first.
func inOffsetOrder(run []observation) bool {
	for i := 1; i < len(run); i++ {
		a, b := &run[i-1], &run[i]
		if a.value == b.value {
			if a.op > b.op {
				return false
			}
		} else if compareByOffset(*a, *b) > 0 {
			return false
		}
	}
	return true
}

// sortByValue returns byOffset (sorted by compareByOffset) sorted by
// (value, offset, op): it sorts the distinct values only and places each
// observation in its value's bucket in byOffset's order (stable), which
// within one value is (offset, op) order already.
func sortByValue(byOffset []observation) []observation {
	if len(byOffset) < 2 {
		return slices.Clone(byOffset)
	}
	ids := make(map[string]int, len(byOffset)/2)
	var values []string
	idOf := make([]int, len(byOffset))
	for i, o := range byOffset {
		id, ok := ids[o.value]
		if !ok {
			id = len(values)
			ids[o.value] = id
			values = append(values, o.value)
		}
		idOf[i] = id
	}
	// order lists the value ids by value; starts[id] becomes where id's
	// bucket begins, then its next free slot.
	order := make([]int, len(values))
	for id := range order {
		order[id] = id
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(values[a], values[b]) })
	counts := make([]int, len(values))
	for _, id := range idOf {
		counts[id]++
	}
	starts := make([]int, len(values))
	next := 0
	for _, id := range order {
		starts[id] = next
		next += counts[id]
	}
	out := make([]observation, len(byOffset))
	for i, o := range byOffset {
		id := idOf[i]
		out[starts[id]] = o
		starts[id]++
	}
	return out
}

// finding starts a finding for this partition.
func (v *partitionView) finding(kind FindingKind, client int) Finding {
	return Finding{Kind: kind, Partition: v.tp, Client: client}
}

// groups calls fn for each run of obs whose key is equal; obs must be sorted
// by key first.
func groups[K comparable](obs []observation, key func(observation) K, fn func([]observation)) {
	for start := 0; start < len(obs); {
		end := start + 1
		for end < len(obs) && key(obs[end]) == key(obs[start]) {
			end++
		}
		fn(obs[start:end])
		start = end
	}
}

// firstOf returns the first observation of a run and those where the
// secondary key changes: one per distinct secondary key, each the one with
// the lowest op index thanks to the sort order.
func firstOf[K comparable](run []observation, key func(observation) K) []observation {
	var out []observation
	for i, o := range run {
		if i == 0 || key(o) != key(run[i-1]) {
			out = append(out, o)
		}
	}
	return out
}

func obsOffset(o observation) int64 { return o.offset }
func obsValue(o observation) string { return o.value }

// duplicates reports values seen at more than one offset.
func (v *partitionView) duplicates() []Finding {
	var out []Finding
	groups(v.byValue, obsValue, func(run []observation) {
		distinct := firstOf(run, obsOffset)
		if len(distinct) < 2 {
			return
		}
		f := v.finding(Duplicate, -1)
		f.Values = []string{run[0].value}
		for _, o := range distinct {
			f.Offsets = append(f.Offsets, o.offset)
			f.Ops = append(f.Ops, o.op)
		}
		out = append(out, f)
	})
	return out
}

// inconsistentOffsets reports offsets seen holding more than one value.
func (v *partitionView) inconsistentOffsets() []Finding {
	var out []Finding
	groups(v.byOffset, obsOffset, func(run []observation) {
		distinct := firstOf(run, obsValue)
		if len(distinct) < 2 {
			return
		}
		f := v.finding(InconsistentOffset, -1)
		f.Offsets = []int64{run[0].offset}
		for _, o := range distinct {
			f.Values = append(f.Values, o.value)
			f.Ops = append(f.Ops, o.op)
		}
		out = append(out, f)
	})
	return out
}

// unexpectedValues reports values read that no append could have written.
func (v *partitionView) unexpectedValues() []Finding {
	var out []Finding
	groups(v.byValue, obsValue, func(run []observation) {
		s, ok := v.sent[run[0].value]
		if ok && v.history[s.op].Outcome != OutcomeFailed {
			return
		}
		// Report where the value was first seen, in offset order.
		first := run[0]
		f := v.finding(UnexpectedValue, -1)
		f.Offsets = []int64{first.offset}
		f.Values = []string{first.value}
		f.Ops = []int{first.op}
		if ok {
			f.Ops = append(f.Ops, s.op)
		}
		out = append(out, f)
	})
	// byValue order is by value; offset order reads better.
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Offsets[0], b.Offsets[0]), cmp.Compare(a.Ops[0], b.Ops[0]))
	})
	return out
}

// observedAt returns the observations at offset.
func (v *partitionView) observedAt(offset int64) []observation {
	lo, _ := slices.BinarySearchFunc(v.byOffset, offset, func(o observation, t int64) int { return cmp.Compare(o.offset, t) })
	hi := lo
	for hi < len(v.byOffset) && v.byOffset[hi].offset == offset {
		hi++
	}
	return v.byOffset[lo:hi]
}

// observedValue returns the observations of value.
func (v *partitionView) observedValue(value string) []observation {
	lo, _ := slices.BinarySearchFunc(v.byValue, value, func(o observation, t string) int { return strings.Compare(o.value, t) })
	hi := lo
	for hi < len(v.byValue) && v.byValue[hi].value == value {
		hi++
	}
	return v.byValue[lo:hi]
}

// wrongAckOffsets reports ok appends whose acknowledged offsets reads
// contradict. A value seen at its acknowledged offset is confirmed even if
// it was also seen elsewhere: that extra copy is a Duplicate, not a wrong
// acknowledgement.
func (v *partitionView) wrongAckOffsets() []Finding {
	var out []Finding
	for _, i := range v.ops {
		op := v.history[i]
		if op.Kind != OpAppend || op.Outcome != OutcomeOK {
			continue
		}
		for j, val := range op.Values {
			acked := op.Offset + int64(j)
			seen := v.observedValue(val)
			if slices.ContainsFunc(seen, func(o observation) bool { return o.offset == acked }) {
				continue
			}
			f := v.finding(WrongAckOffset, op.Client)
			f.Values = []string{val}
			f.Offsets = []int64{acked}
			if len(seen) > 0 {
				f.Offsets = append(f.Offsets, seen[0].offset)
				f.Ops = []int{i, seen[0].op}
			} else if there := v.observedAt(acked); len(there) > 0 {
				f.Values = append(f.Values, there[0].value)
				f.Ops = []int{i, there[0].op}
			} else {
				// Never read at all: nothing contradicts the ack.
				continue
			}
			out = append(out, f)
			break // one finding per append; the rest usually follow
		}
	}
	return out
}

// lostWrites reports committed writes missing from the final drain, if the
// partition has one.
func (v *partitionView) lostWrites() ([]Finding, error) {
	var finals []Op
	for _, i := range v.ops {
		if op := v.history[i]; op.Kind == OpRead && op.Final {
			finals = append(finals, op)
		}
	}
	if len(finals) == 0 {
		return nil, nil
	}
	// The drain must cover [start, target) where target is the highest
	// high watermark (or read end) any final read reported and start is
	// where the drain's last run began (the log start then): a drain that
	// found its offset deleted under it (retention) starts over, with a
	// seek, from the new log start, so a run of final reads that begins
	// with a seek may leave a gap below it. Any other gap is a hole.
	var target int64
	for _, op := range finals {
		target = max(target, op.HighWatermark, op.end())
	}
	slices.SortFunc(finals, func(a, b Op) int { return cmp.Compare(a.Offset, b.Offset) })
	start, covered := finals[0].Offset, finals[0].Offset
	for _, op := range finals {
		if op.Offset > covered {
			if !op.Seek {
				break
			}
			start = op.Offset // a new run
		}
		covered = max(covered, op.end())
	}
	if covered < target {
		return nil, fmt.Errorf("%w: final drain of %s does not cover offsets %d to %d (high watermark %d)", ErrInvalidHistory, v.tp, covered, target-1, target)
	}
	inDrain := make(map[string]bool)
	for _, o := range v.byOffset {
		if o.final {
			inDrain[o.value] = true
		}
	}

	// Below the start, a write is gone legitimately when a trim could
	// reach past it: retention, or a DeleteRecords not known to have failed
	// (invoked at any time before the drain) whose bound is above it.
	trimTo := v.trims.bound(v.tp, math.MaxInt64)

	var out []Finding
	for _, i := range v.ops {
		op := v.history[i]
		if op.Kind != OpAppend {
			continue
		}
		lost := v.finding(LostWrite, op.Client)
		lost.Ops = []int{i}
		deleted := v.finding(DeletedWrite, op.Client)
		deleted.Ops = []int{i}
		for j, val := range op.Values {
			if inDrain[val] {
				continue
			}
			var at int64
			reader := -1
			switch op.Outcome {
			case OutcomeOK:
				at = op.Offset + int64(j)
			case OutcomeUnknown:
				seen := v.observedValue(val)
				if len(seen) == 0 {
					continue // maybe never applied
				}
				at, reader = seen[0].offset, seen[0].op
			default:
				continue
			}
			f := &lost
			if at < start {
				if at < trimTo {
					continue
				}
				f = &deleted
			}
			if reader >= 0 && len(f.Ops) == 1 {
				f.Ops = append(f.Ops, reader)
			}
			f.Values = append(f.Values, val)
			f.Offsets = append(f.Offsets, at)
		}
		for _, f := range []Finding{lost, deleted} {
			if len(f.Values) > 0 {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// nonMonotonicSends reports, per producer, an ok append acknowledged at an
// offset not after an ok append of the same producer that returned before it
// was invoked. Concurrent (pipelined) sends are not compared: without
// idempotence Kafka may reorder them on retry.
func (v *partitionView) nonMonotonicSends() []Finding {
	byClient := make(map[int][]int)
	for _, i := range v.ops {
		if op := v.history[i]; op.Kind == OpAppend && op.Outcome == OutcomeOK {
			byClient[op.Client] = append(byClient[op.Client], i)
		}
	}
	var out []Finding
	for _, client := range sortedKeys(byClient) {
		ops := byClient[client]
		byCall := slices.Clone(ops)
		slices.SortStableFunc(byCall, func(a, b int) int { return cmp.Compare(v.history[a].Call, v.history[b].Call) })
		byReturn := slices.Clone(ops)
		slices.SortStableFunc(byReturn, func(a, b int) int { return cmp.Compare(v.history[a].Return, v.history[b].Return) })
		// Sweep: before looking at append b, fold in every append that
		// returned strictly before b was invoked, keeping the one whose
		// batch ends furthest; b must start at or after that end.
		next, best := 0, -1
		var bestEnd int64
		for _, b := range byCall {
			for next < len(byReturn) && v.history[byReturn[next]].Return < v.history[b].Call {
				a := byReturn[next]
				if end := v.history[a].end(); best < 0 || end > bestEnd {
					best, bestEnd = a, end
				}
				next++
			}
			if best >= 0 && v.history[b].Offset < bestEnd {
				f := v.finding(NonMonotonicSend, client)
				f.Ops = []int{best, b}
				f.Offsets = []int64{bestEnd, v.history[b].Offset}
				f.Values = []string{v.history[best].Values[0], v.history[b].Values[0]}
				out = append(out, f)
			}
		}
	}
	return out
}

// polls reports, per consumer, reads that step back (NonMonotonicPoll) or
// jump over existing offsets (PollSkip) relative to the consumer's previous
// ok read, unless the read is marked Seek. A consumer's reads of one
// partition are taken in call order.
func (v *partitionView) polls() []Finding {
	byClient := make(map[int][]int)
	for _, i := range v.ops {
		if op := v.history[i]; op.Kind == OpRead && op.Outcome == OutcomeOK {
			byClient[op.Client] = append(byClient[op.Client], i)
		}
	}
	var out []Finding
	for _, client := range sortedKeys(byClient) {
		reads := byClient[client]
		slices.SortStableFunc(reads, func(a, b int) int { return cmp.Compare(v.history[a].Call, v.history[b].Call) })
		for k := 1; k < len(reads); k++ {
			prev, cur := v.history[reads[k-1]], v.history[reads[k]]
			if cur.Seek {
				continue
			}
			pos := prev.end()
			switch {
			case cur.Offset < pos:
				f := v.finding(NonMonotonicPoll, client)
				f.Ops = []int{reads[k-1], reads[k]}
				f.Offsets = []int64{pos, cur.Offset}
				out = append(out, f)
			case cur.Offset > pos:
				skipped := v.valuesIn(pos, cur.Offset)
				if len(skipped) == 0 {
					// No read shows anything there: maybe a gap the
					// broker legitimately skipped; nothing to prove.
					continue
				}
				f := v.finding(PollSkip, client)
				f.Ops = []int{reads[k-1], reads[k]}
				f.Offsets = []int64{pos, cur.Offset}
				f.Values = skipped
				out = append(out, f)
			}
		}
	}
	return out
}

// valuesIn returns the first value seen at each observed offset in
// [from, to).
func (v *partitionView) valuesIn(from, to int64) []string {
	lo, _ := slices.BinarySearchFunc(v.byOffset, from, func(o observation, t int64) int { return cmp.Compare(o.offset, t) })
	var out []string
	for i := lo; i < len(v.byOffset) && v.byOffset[i].offset < to; i++ {
		if i == lo || v.byOffset[i].offset != v.byOffset[i-1].offset {
			out = append(out, v.byOffset[i].value)
		}
	}
	return out
}

// sortedKeys returns the keys of m in increasing order.
func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
