package linearizability

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/anishathalye/porcupine"
)

// ModelOptions tune what the partition-log model accepts.
type ModelOptions struct {
	// StaleHighWatermark accepts a high watermark (in a fetch response or an
	// end-offset answer) that lags the committed log, as long as it never
	// runs ahead of it. Real Kafka reports such watermarks: a newly elected
	// leader's high watermark lags until its followers catch up, and a
	// deposed leader that has not yet heard of the new epoch keeps serving.
	// With it false (the default, for Chronik in the simulator) a reported
	// high watermark must equal the committed length at the read's
	// linearization point, which is what a linearizable log promises.
	//
	// It also accepts OFFSET_OUT_OF_RANGE at any offset, since a stale leader
	// can be shorter than the committed log.
	//
	// It applies to every read; Op.MayBeStale applies the same rules to one
	// read only, for a recorder that knows which answers may be stale.
	StaleHighWatermark bool

	// PerReplicaLogStart says that the log start offset is each replica's
	// own (a cluster): retention runs on every replica by itself, and a
	// follower takes a new start from its leader only when it fetches, so
	// a new leader may answer an earlier start than its predecessor did.
	// The model then never raises its start: an earliest offset must still
	// be within the committed log and explained by a trim (trimTo), and an
	// out-of-range read at a committed offset still needs a trim that
	// could have reached past it; what goes is only "the start never moves
	// back".
	PerReplicaLogStart bool
}

// raisesStart reports whether op's answer moves the model's log start.
func (o ModelOptions) raisesStart(op Op) bool { return !o.staleOK(op) && !o.PerReplicaLogStart }

// staleOK reports whether op's answer may lag the committed log.
func (o ModelOptions) staleOK(op Op) bool { return o.StaleHighWatermark || op.MayBeStale }

// PartitionLogModel returns the porcupine model of committed partition logs.
// Its operations must come from Operations (inputs are opaque; outputs are
// ignored). It partitions histories by TopicPartition, so one model checks
// every partition of a history.
//
// The state is the committed log plus the unknown-outcome appends that may
// still apply. The rules, at an operation's linearization point, with log the
// committed log and o, n, hw a read's offset, number of values and high
// watermark:
//
//   - ok append of k values acknowledged at base b: legal iff b == len(log);
//     the values are appended.
//   - unknown append: it may be applied at any moment after its call, or
//     never, so the state branches into applied and not applied. See
//     "Unknown outcomes" below for how that is done without the search
//     blowing up.
//   - failed append: no change (Operations leaves them out).
//   - ok read: legal iff o+n <= len(log), log[o:o+n] equals the values, and
//     hw == len(log). A read may return a prefix of what is committed (fetch
//     size limits), including nothing; reading at o == len(log) returns
//     nothing, which is Kafka's fetch at the high watermark. An ok read at
//     o > len(log) is illegal: Kafka answers OFFSET_OUT_OF_RANGE past the
//     log end, and below it reports a high watermark of at most len(log),
//     so the reader's position came from data the committed log never had.
//   - out-of-range read: legal iff o > len(log). Kafka answers
//     OFFSET_OUT_OF_RANGE only past the leader's log end, which is at or
//     beyond the committed length; the answer at a committed offset means
//     committed data vanished.
//   - ok end offset e: legal iff e == len(log).
//
// The log start offset: the state also holds start, the least log start
// every linearization so far implies (0 at first). It only moves forward
// and never past len(log) (the high watermark). A trim (a retention marker,
// or a DeleteRecords not known to have failed) invoked before an
// operation returned lets the start have moved, unseen, up to its bound
// (its answer, the offset it asked for, or anywhere for -1 and for
// retention): the operation's trimTo.
//
//   - ok read at o: also needs o >= start.
//   - out-of-range read at o <= len(log): legal iff o < start, or o <
//     trimTo (the start then moves past o, growing the log if o == len(log)).
//   - ok start offset (earliest) e: legal iff start <= e <= len(log) and e
//     == start unless e <= trimTo; start becomes e.
//   - ok DeleteRecords answered with low watermark l for offset x: legal iff
//     l >= x, l >= start and l <= len(log); start becomes l.
//
// With StaleHighWatermark, or for an op marked MayBeStale, hw <= len(log)
// replaces hw == len(log) (and a
// non-empty read must also end at or below hw), e <= len(log) replaces
// e == len(log), and out-of-range reads are always legal. The start rules
// then keep only "never past len(log)" (earliest answers and low
// watermarks): a deposed leader may still serve below a start its
// successor moved.
//
// # Unknown outcomes
//
// The direct encoding, an unknown append whose step returns both the log
// with and without its values, and whose return time is infinite because
// Kafka may apply a timed-out produce long after the client gave up, is
// correct but makes porcupine's search exponential in the number of such
// appends: each can be linearized, as a no-op, at every later point, and
// every choice is a distinct cache entry. Seven timeouts were enough to make
// a 40-op illegal history time out instead of failing. So Operations sorts
// unknown appends into two kinds, and the branching happens in the state:
//
//   - Observed by a read (any of its values): it was applied, at the base
//     the read implies (offset of the value minus its index in the batch),
//     before that read returned. It becomes an append at that base, with
//     the read's return as its return. If reads disagree on where its values
//     are, the model rejects the reads that disagree.
//   - Not observed: its values are never read, so only its length matters.
//     Its step, placed at its call (registering earlier is never worse),
//     adds that length to the state's pending set. A later step that needs
//     the log to be longer than it is (an append at a higher base, a higher
//     high watermark or end offset) branches over the sub-multisets of
//     pending lengths that make up the difference and appends that many
//     placeholder entries, which no read matches. Applying pending appends
//     only when a step needs them loses nothing: moving an application later
//     can only break a step that needs a longer log, and that step applies
//     it itself. What stays pending at the end was not applied.
//
// Choices of which unread appends fill a gap multiply, so past
// maxGrowthChoices successors of one step, or maxStates states at once,
// the model keeps a state that dominates them (choose, stateSet.collapse):
// it never rejects a legal history, but may then let one unread append's
// length fill two gaps. Every step and state is charged to the partition's
// step budget (Options.StepBudget).
//
// Placeholders may not go at an offset where a read saw a value or where an
// ok (or observed) append put one: in every legal linearization those
// offsets hold that value. Without this rule the search could fill a gap
// with a placeholder early and only find out much later that a real value
// belongs there.
func PartitionLogModel(opts ModelOptions) porcupine.Model {
	return powersetModel(opts)
}

// inputKind is how the model treats an operation.
type inputKind uint8

const (
	// inputAppend appends at a known base: an ok append, or an unknown one a
	// read observed.
	inputAppend inputKind = iota + 1
	// inputPending registers an unobserved unknown append as may-apply.
	inputPending
	// inputRead is an ok read.
	inputRead
	// inputOutOfRange is a read answered OFFSET_OUT_OF_RANGE.
	inputOutOfRange
	// inputEndOffset is an ok end-offset query.
	inputEndOffset
	// inputStartOffset is an ok start-offset (earliest) query.
	inputStartOffset
	// inputDeleteRecords is an ok DeleteRecords.
	inputDeleteRecords
)

// modelInput is the Input, by pointer, of the porcupine operations that
// Operations builds; PartitionLogModel accepts nothing else.
type modelInput struct {
	kind inputKind
	op   Op
	// base is where an inputAppend's values go.
	base int64
	// claimed holds the offsets of this op's partition that must hold a
	// known value; placeholders may not go there.
	claimed *offsetSet
	// budget is this op's partition's work budget (CheckLinearizability
	// sets it; nil: unbounded).
	budget *budget
	// trimTo is how far the log start may have moved by the time this op
	// returned without the model seeing it: the highest offset that a
	// retention marker (no bound) or a DeleteRecords not known to have
	// failed, invoked before this op returned, could have moved it to.
	trimTo int64
}

// String describes the operation for the visualization.
func (in modelInput) String() string {
	switch {
	case in.kind == inputPending:
		return in.op.String() + " (never read: may apply later)"
	case in.kind == inputAppend && in.op.Outcome == OutcomeUnknown:
		return fmt.Sprintf("%s (read, so applied @%d)", in.op, in.base)
	}
	return in.op.String()
}

// step is the nondeterministic step function: it returns every state the
// operation can leave behind, or nothing if it cannot have happened in s.
func step(ctx context.Context, opts ModelOptions, s partitionState, in *modelInput) []any {
	op := in.op
	length := int64(s.log.length)
	if !in.budget.spend() {
		// Out of budget: no successor, so porcupine unwinds at once and
		// the partition is reported undecided, not illegal.
		return nil
	}
	var out []any
	switch in.kind {
	case inputPending:
		return []any{s.withPending(len(op.Values))}
	case inputAppend:
		s.growExactly(ctx, in.budget, in.claimed, in.base-length, func(g partitionState) {
			g.log = g.log.append(op.Values)
			out = append(out, g)
		})
	case inputRead:
		keep := func(g partitionState) {
			if (opts.staleOK(op) || op.Offset >= g.start) && readLegal(opts, g.log, op) {
				out = append(out, g)
			}
		}
		if opts.staleOK(op) {
			s.growAtLeast(ctx, in.budget, in.claimed, max(op.HighWatermark, op.Offset)-length, keep)
		} else {
			s.growExactly(ctx, in.budget, in.claimed, op.HighWatermark-length, keep)
		}
	case inputOutOfRange:
		// Past the log end or below a start the model knows of. Growing
		// the log cannot help those.
		if opts.staleOK(op) || op.Offset > length || op.Offset < s.start {
			return []any{s}
		}
		// Below a start moved by something the model has not seen
		// (retention, a DeleteRecords in flight or not answered): the
		// start is past the offset from now on, and never past the high
		// watermark (the committed length).
		if op.Offset < in.trimTo {
			s.growAtLeast(ctx, in.budget, in.claimed, op.Offset+1-length, func(g partitionState) {
				if opts.raisesStart(op) {
					g.start = max(g.start, op.Offset+1)
				}
				out = append(out, g)
			})
		}
	case inputStartOffset:
		e := op.Offset
		if !opts.staleOK(op) && (e < s.start || (e > s.start && e > in.trimTo)) {
			return nil
		}
		s.growAtLeast(ctx, in.budget, in.claimed, e-length, func(g partitionState) {
			if opts.raisesStart(op) {
				g.start = e
			}
			out = append(out, g)
		})
	case inputDeleteRecords:
		ls := op.LogStart
		if ls < op.Offset || (!opts.staleOK(op) && ls < s.start) {
			return nil
		}
		s.growAtLeast(ctx, in.budget, in.claimed, ls-length, func(g partitionState) {
			if opts.raisesStart(op) {
				g.start = max(g.start, ls)
			}
			out = append(out, g)
		})
	case inputEndOffset:
		keep := func(g partitionState) { out = append(out, g) }
		if opts.staleOK(op) {
			s.growAtLeast(ctx, in.budget, in.claimed, op.Offset-length, keep)
		} else {
			s.growExactly(ctx, in.budget, in.claimed, op.Offset-length, keep)
		}
	}
	return out
}

// readLegal applies the ok-read rule documented on PartitionLogModel.
func readLegal(opts ModelOptions, log logState, op Op) bool {
	length := int64(log.length)
	end := op.end()
	if end > length {
		return false
	}
	if opts.staleOK(op) {
		if op.HighWatermark > length || (len(op.Values) > 0 && end > op.HighWatermark) {
			return false
		}
	} else if op.HighWatermark != length {
		return false
	}
	return log.holds(op.Offset, op.Values)
}

// Operations converts a history into porcupine operations for
// PartitionLogModel, each with its history index as Metadata. It leaves out
// operations that cannot change or contradict the log: failed appends (a
// failed append's value showing up in a read is still caught, since no
// remaining operation writes it), failed reads and end-offset queries, and,
// out-of-range reads that may be stale (the model accepts them everywhere). It sorts unknown-outcome appends into observed and pending
// ones as described on PartitionLogModel.
func Operations(history []Op, opts ModelOptions) []porcupine.Operation {
	return operations(history, opts, nil)
}

// operations is Operations; budgetFor, when not nil, gives each op's
// input its partition's budget. Inputs are *modelInput pointing into one
// slice, set when complete: an input holds its whole Op, and boxing one
// by value for each field set was a large share of a check's allocation.
func operations(history []Op, opts ModelOptions, budgetFor func(TopicPartition) *budget) []porcupine.Operation {
	type valueKey struct {
		tp    TopicPartition
		value string
	}
	type sighting struct {
		offset int64
		ret    int64
	}
	// firstSeen[v] is where the earliest-returning ok read saw v.
	firstSeen := make(map[valueKey]sighting)
	claimed := make(map[TopicPartition]*offsetSet)
	claim := func(tp TopicPartition, from, to int64) {
		c := claimed[tp]
		if c == nil {
			c = &offsetSet{}
			claimed[tp] = c
		}
		c.addRange(from, to)
	}
	for _, op := range history {
		switch {
		case op.Kind == OpRead && op.Outcome == OutcomeOK:
			claim(op.Partition, op.Offset, op.end())
			for j, v := range op.Values {
				k := valueKey{op.Partition, v}
				if t, ok := firstSeen[k]; !ok || op.Return < t.ret {
					firstSeen[k] = sighting{offset: op.Offset + int64(j), ret: op.Return}
				}
			}
		case op.Kind == OpAppend && op.Outcome == OutcomeOK:
			claim(op.Partition, op.Offset, op.Offset+int64(len(op.Values)))
		}
	}

	trims := collectTrims(history)
	ops := make([]porcupine.Operation, 0, len(history))
	ins := make([]modelInput, 0, len(history)) // ops[i]'s input
	for i, op := range history {
		in := modelInput{op: op}
		ret := op.Return
		switch {
		case op.Outcome == OutcomeFailed:
			continue
		case op.Kind == OpAppend && op.Outcome == OutcomeOK:
			in.kind, in.base = inputAppend, op.Offset
		case op.Kind == OpAppend:
			var seen sighting
			observed := false
			for j, v := range op.Values {
				if t, ok := firstSeen[valueKey{op.Partition, v}]; ok && (!observed || t.ret < seen.ret) {
					seen, observed = sighting{offset: t.offset - int64(j), ret: t.ret}, true
				}
			}
			switch {
			case observed:
				// A read that returned before the append was invoked is a
				// violation; max keeps the interval well formed and the
				// model then rejects that read.
				in.kind, in.base, ret = inputAppend, seen.offset, max(op.Call, seen.ret)
				claim(op.Partition, in.base, in.base+int64(len(op.Values)))
			default:
				// Registering at the call is never worse than later: a
				// pending append can apply at any later step.
				in.kind, ret = inputPending, op.Call
			}
		case op.Kind == OpRead && op.Outcome == OutcomeOK:
			in.kind = inputRead
		case op.Kind == OpRead && op.Outcome == OutcomeOutOfRange:
			if opts.staleOK(op) {
				continue
			}
			in.kind = inputOutOfRange
		case op.Kind == OpEndOffset:
			in.kind = inputEndOffset
		case op.Kind == OpStartOffset && op.Outcome == OutcomeOK:
			in.kind = inputStartOffset
		case op.Kind == OpDeleteRecords && op.Outcome == OutcomeOK:
			in.kind = inputDeleteRecords
		default:
			continue
		}
		in.trimTo = trims.bound(op.Partition, op.Return)
		ins = append(ins, in)
		ops = append(ops, porcupine.Operation{
			ClientId: op.Client,
			Metadata: i,
			Call:     op.Call,
			Return:   ret,
		})
	}
	// Claims are complete only now (observed unknown appends add theirs in
	// the loop above); inputs share their partition's set by pointer, read
	// only from here on. (Normalizing in map order is fine: sets are
	// independent.)
	for _, c := range claimed {
		c.normalize()
	}
	for i := range ops {
		in := &ins[i]
		in.claimed = claimed[in.op.Partition]
		if budgetFor != nil {
			in.budget = budgetFor(in.op.Partition)
		}
		ops[i].Input = in
	}
	return ops
}

// offsetSet is a set of offsets kept as sorted, disjoint, non-adjacent
// half-open ranges. It is built once by Operations and then only read.
type offsetSet struct {
	ranges [][2]int64
}

// addRange adds [from, to); call normalize before anyIn.
func (c *offsetSet) addRange(from, to int64) {
	if from < to {
		c.ranges = append(c.ranges, [2]int64{from, to})
	}
}

// normalize sorts and merges the ranges.
func (c *offsetSet) normalize() {
	slices.SortFunc(c.ranges, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	merged := c.ranges[:0]
	for _, r := range c.ranges {
		if n := len(merged); n > 0 && r[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	c.ranges = merged
}

// anyIn reports whether any offset in [from, to) is in the set. A nil set
// is empty.
func (c *offsetSet) anyIn(from, to int64) bool {
	if c == nil || from >= to {
		return false
	}
	// The first range that ends after from is the only candidate.
	i, _ := slices.BinarySearchFunc(c.ranges, from, func(r [2]int64, t int64) int {
		if r[1] <= t {
			return -1
		}
		return 1
	})
	return i < len(c.ranges) && c.ranges[i][0] < to
}

// partitionState is the model state: the committed log and the lengths of
// unobserved unknown-outcome appends that may still apply.
type partitionState struct {
	log logState
	// start is the least log start offset every linearization so far
	// implies (acknowledged DeleteRecords, earliest answers, reads answered
	// OFFSET_OUT_OF_RANGE below the high watermark). The start only moves
	// forward and never past the committed length.
	start int64
	// pending is sorted ascending and never modified in place: states share
	// it.
	pending []int
}

// withPending returns s with one more pending append of length k.
func (s partitionState) withPending(k int) partitionState {
	i, _ := slices.BinarySearch(s.pending, k)
	s.pending = slices.Insert(slices.Clip(s.pending), i, k)
	return s
}

// equal reports whether two states are the same.
func (s partitionState) equal(o partitionState) bool {
	return s.start == o.start && slices.Equal(s.pending, o.pending) && s.log.equal(o.log)
}

// hash returns a hash of the state, equal for equal states.
func (s partitionState) hash() uint64 {
	h := s.log.hash()
	if s.start > 0 {
		h = mix64(h ^ uint64(s.start) ^ 0x5bd1e995)
	}
	for _, k := range s.pending {
		h = mix64(h ^ uint64(k))
	}
	return h
}

// String renders the log and the pending lengths.
func (s partitionState) String() string {
	out := s.log.String()
	if s.start > 0 {
		out = fmt.Sprintf("start %d %s", s.start, out)
	}
	if len(s.pending) == 0 {
		return out
	}
	return fmt.Sprintf("%s pending %v", out, s.pending)
}

// partitionOperations splits porcupine operations by topic-partition, in
// sorted partition order so that results indexed by partition are
// reproducible. Operations keep their history order within a partition.
func partitionOperations(ops []porcupine.Operation) [][]porcupine.Operation {
	// Counted first, so that each partition's slice is made at its size.
	counts := make(map[TopicPartition]int)
	for _, op := range ops {
		counts[op.Input.(*modelInput).op.Partition]++
	}
	byTP := make(map[TopicPartition][]porcupine.Operation, len(counts))
	for _, op := range ops {
		tp := op.Input.(*modelInput).op.Partition
		if byTP[tp] == nil {
			byTP[tp] = make([]porcupine.Operation, 0, counts[tp])
		}
		byTP[tp] = append(byTP[tp], op)
	}
	tps := sortedPartitions(byTP)
	out := make([][]porcupine.Operation, len(tps))
	for i, tp := range tps {
		out[i] = byTP[tp]
	}
	return out
}

// sortedPartitions returns the keys of m in TopicPartition order.
func sortedPartitions[V any](m map[TopicPartition]V) []TopicPartition {
	tps := make([]TopicPartition, 0, len(m))
	for tp := range m {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, TopicPartition.compare)
	return tps
}

// logState is one partition's committed log as a prefix of a shared,
// append-only backing array. Porcupine explores many linearizations whose
// logs share long prefixes; copying the whole log on every append would make
// each step O(len). Instead, an append to a state that ends where its backing
// ends extends the backing in place (no other state can see beyond its own
// length, so this is invisible to them), and only an append to a shorter
// prefix (a branch after backtracking) copies.
//
// The zero value is the empty log.
type logState struct {
	backing *logBacking
	length  int
}

// logEntry is one offset of the log: a value, or a placeholder for a value
// of an unknown-outcome append that no read returned.
type logEntry struct {
	value       string
	placeholder bool
}

// logBacking is the storage shared by the states of one exploration. Entries
// below any state's length are never rewritten, so once a caller has read the
// slice header under mu it may read those entries without the lock. The lock
// exists because nothing in porcupine's contract promises that two goroutines
// never step states derived from one Init; today each partition is checked on
// one goroutine from its own Init.
type logBacking struct {
	mu      sync.Mutex
	entries []logEntry
	// hashes[i] is the hash of entries[:i+1], so that hashing a state is
	// O(1).
	hashes []uint64
}

// emptyLogHash is the hash of the empty log; any constant works.
const emptyLogHash uint64 = 0x9e3779b97f4a7c15

// placeholderHash stands for a placeholder in the chained hash.
const placeholderHash uint64 = 0x2545f4914f6cdd1d

// snapshot returns the state's entries and prefix hashes. The caller must
// not modify them.
func (s logState) snapshot() ([]logEntry, []uint64) {
	if s.length == 0 {
		return nil, nil
	}
	s.backing.mu.Lock()
	defer s.backing.mu.Unlock()
	return s.backing.entries[:s.length:s.length], s.backing.hashes[:s.length:s.length]
}

// holds reports whether the log holds values from offset on; placeholders
// match nothing.
func (s logState) holds(offset int64, values []string) bool {
	entries, _ := s.snapshot()
	if offset < 0 || offset+int64(len(values)) > int64(len(entries)) {
		return false
	}
	for i, v := range values {
		if e := entries[offset+int64(i)]; e.placeholder || e.value != v {
			return false
		}
	}
	return true
}

// hash returns a hash of the state's log, equal for equal logs.
func (s logState) hash() uint64 {
	if s.length == 0 {
		return emptyLogHash
	}
	_, hashes := s.snapshot()
	return hashes[len(hashes)-1]
}

// append returns the state with values appended, leaving s unchanged.
func (s logState) append(values []string) logState {
	add := make([]logEntry, len(values))
	for i, v := range values {
		add[i] = logEntry{value: v}
	}
	return s.appendEntries(add)
}

// appendPlaceholders returns the state with n placeholders appended.
func (s logState) appendPlaceholders(n int) logState {
	add := make([]logEntry, n)
	for i := range add {
		add[i].placeholder = true
	}
	return s.appendEntries(add)
}

// appendEntries returns the state with add appended, leaving s unchanged.
func (s logState) appendEntries(add []logEntry) logState {
	if s.backing != nil {
		b := s.backing
		b.mu.Lock()
		switch {
		case len(b.entries) == s.length:
			b.entries, b.hashes = appendHashed(b.entries, b.hashes, add)
			b.mu.Unlock()
			return logState{backing: b, length: s.length + len(add)}
		case len(b.entries) >= s.length+len(add) && slices.Equal(b.entries[s.length:s.length+len(add)], add):
			// Porcupine backtracks and replays the same step on the same
			// state all the time; values are unique, so finding the same
			// entries next means this is that replay, and it can share.
			b.mu.Unlock()
			return logState{backing: b, length: s.length + len(add)}
		}
		b.mu.Unlock()
	}
	prefix, prefixHashes := s.snapshot()
	nb := &logBacking{
		entries: make([]logEntry, len(prefix), len(prefix)+len(add)+8),
		hashes:  make([]uint64, len(prefix), len(prefix)+len(add)+8),
	}
	copy(nb.entries, prefix)
	copy(nb.hashes, prefixHashes)
	nb.entries, nb.hashes = appendHashed(nb.entries, nb.hashes, add)
	return logState{backing: nb, length: len(nb.entries)}
}

// appendHashed appends entries and their prefix hashes.
func appendHashed(entries []logEntry, hashes []uint64, add []logEntry) ([]logEntry, []uint64) {
	h := emptyLogHash
	if len(hashes) > 0 {
		h = hashes[len(hashes)-1]
	}
	for _, e := range add {
		eh := placeholderHash
		if !e.placeholder {
			f := fnv.New64a()
			f.Write([]byte(e.value)) // fnv's Write never fails
			eh = f.Sum64()
		}
		h = mix64(h ^ eh)
		entries = append(entries, e)
		hashes = append(hashes, h)
	}
	return entries, hashes
}

// mix64 is the splitmix64 finalizer: it makes the chained hash depend on
// order (an xor of value hashes alone would not).
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// equal reports whether two states hold the same log.
func (s logState) equal(o logState) bool {
	if s.length != o.length {
		return false
	}
	if s.length == 0 || s.backing == o.backing {
		return true
	}
	if s.hash() != o.hash() {
		return false
	}
	a, _ := s.snapshot()
	b, _ := o.snapshot()
	return slices.Equal(a, b)
}

// stateTailMax bounds how many entries String prints, so that the HTML
// visualization of a long history stays readable and small.
const stateTailMax = 8

// String renders the log as its length and its last few entries with
// offsets; a placeholder prints as "?".
func (s logState) String() string {
	entries, _ := s.snapshot()
	var b strings.Builder
	fmt.Fprintf(&b, "len %d [", len(entries))
	start := max(0, len(entries)-stateTailMax)
	if start > 0 {
		b.WriteString("… ")
	}
	for i := start; i < len(entries); i++ {
		if i > start {
			b.WriteByte(' ')
		}
		v := "?"
		if !entries[i].placeholder {
			v = quoteValue(entries[i].value)
		}
		fmt.Fprintf(&b, "%d:%s", i, v)
	}
	b.WriteByte(']')
	return b.String()
}

// trimBound is one event that may move a partition's log start without the
// model seeing when: a retention marker or a DeleteRecords whose effect is
// not (only) its own step.
type trimBound struct {
	call int64
	to   int64 // how far it may move the start; math.MaxInt64 for no bound
}

// trimIndex holds each partition's trim bounds.
type trimIndex map[TopicPartition][]trimBound

// collectTrims gathers the trim bounds of a history: retention markers,
// and DeleteRecords that did not fail definitely (an ok one moves the start
// at its own step, but an overlapping read may linearize before that step
// and still be answered after the broker applied it).
func collectTrims(history []Op) trimIndex {
	t := trimIndex{}
	for _, op := range history {
		var to int64
		switch {
		case op.Kind == OpRetention:
			to = math.MaxInt64
		case op.Kind == OpDeleteRecords && op.Outcome == OutcomeOK:
			to = op.LogStart
		case op.Kind == OpDeleteRecords && op.Outcome == OutcomeUnknown && op.Offset >= 0:
			to = op.Offset
		case op.Kind == OpDeleteRecords && op.Outcome == OutcomeUnknown:
			to = math.MaxInt64 // the high watermark, whatever it was
		default:
			continue
		}
		t[op.Partition] = append(t[op.Partition], trimBound{call: op.Call, to: to})
	}
	return t
}

// bound is the furthest the start of tp may have moved by trims invoked at
// or before ret; 0 when none was.
func (t trimIndex) bound(tp TopicPartition, ret int64) int64 {
	var b int64
	for _, x := range t[tp] {
		if x.call <= ret {
			b = max(b, x.to)
		}
	}
	return b
}
