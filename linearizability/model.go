package linearizability

import (
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
	StaleHighWatermark bool
}

// PartitionLogModel returns the porcupine model of committed partition logs.
// Its inputs are Op values (as built by Operations); outputs are ignored. It
// partitions histories by TopicPartition, so one model checks every
// partition of a history.
//
// The state is the sequence of committed values. The rules, at an
// operation's linearization point, with log the state and o, n, hw the read's
// offset, number of values and high watermark:
//
//   - ok append of k values acknowledged at base b: legal iff b == len(log);
//     the values are appended.
//   - unknown append: two successor states, the values appended and the log
//     unchanged (porcupine.NondeterministicModel). Operations gives unknown
//     appends an open-ended return time, so "applied late" is covered too.
//   - failed append: no change (Operations leaves them out).
//   - ok read: legal iff o+n <= len(log) and log[o:o+n] equals the values,
//     and hw == len(log). A read may return a prefix of what is committed
//     (fetch size limits), including nothing; reading at o == len(log)
//     returns nothing, which is Kafka's fetch at the high watermark.
//     An ok read at o > len(log) is illegal: the broker would have answered
//     OFFSET_OUT_OF_RANGE (o > log end) or returned nothing below a high
//     watermark that is at most len(log), and in both cases the reader's
//     position came from somewhere the committed log has not reached.
//   - out-of-range read: legal iff o > len(log). Kafka answers
//     OFFSET_OUT_OF_RANGE only past the leader's log end, which is at or
//     beyond the committed length; an out-of-range answer at a committed
//     offset means committed data vanished.
//   - ok end offset e: legal iff e == len(log).
//
// With StaleHighWatermark, hw <= len(log) replaces hw == len(log) (and a
// non-empty read must also end at or below hw), e <= len(log) replaces
// e == len(log), and out-of-range reads are always legal.
func PartitionLogModel(opts ModelOptions) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: partitionOperations,
		Init: func() []any {
			return []any{logState{}}
		},
		Step: func(state, input, _ any) []any {
			return step(opts, state.(logState), input.(Op))
		},
		Equal: func(a, b any) bool {
			return a.(logState).equal(b.(logState))
		},
		Hash: func(s any) uint64 {
			return s.(logState).hash()
		},
		DescribeOperation: func(input, _ any) string {
			return input.(Op).String()
		},
		DescribeState: func(s any) string {
			return s.(logState).String()
		},
		DescribeOperationMetadata: func(meta any) string {
			if i, ok := meta.(int); ok {
				return fmt.Sprintf("op #%d", i)
			}
			return ""
		},
	}
	return nm.ToModel()
}

// step is the nondeterministic step function: it returns every log the
// operation can leave behind, or nothing if the operation cannot have
// happened on log.
func step(opts ModelOptions, log logState, op Op) []any {
	switch op.Kind {
	case OpAppend:
		switch op.Outcome {
		case OutcomeOK:
			if op.Offset != int64(log.length) {
				return nil
			}
			return []any{log.append(op.Values)}
		case OutcomeUnknown:
			// Not applied, or applied here. Applied later is a later
			// linearization point of the same never-returning op.
			return []any{log, log.append(op.Values)}
		default:
			return []any{log}
		}
	case OpRead:
		switch op.Outcome {
		case OutcomeOK:
			if readLegal(opts, log, op) {
				return []any{log}
			}
			return nil
		case OutcomeOutOfRange:
			if opts.StaleHighWatermark || op.Offset > int64(log.length) {
				return []any{log}
			}
			return nil
		default:
			return []any{log}
		}
	case OpEndOffset:
		if op.Outcome != OutcomeOK {
			return []any{log}
		}
		length := int64(log.length)
		if op.Offset == length || (opts.StaleHighWatermark && op.Offset <= length) {
			return []any{log}
		}
		return nil
	}
	return nil
}

// readLegal applies the ok-read rule documented on PartitionLogModel.
func readLegal(opts ModelOptions, log logState, op Op) bool {
	length := int64(log.length)
	end := op.end()
	if end > length {
		return false
	}
	if opts.StaleHighWatermark {
		if op.HighWatermark > length || (len(op.Values) > 0 && end > op.HighWatermark) {
			return false
		}
	} else if op.HighWatermark != length {
		return false
	}
	return slices.Equal(log.values()[op.Offset:end], op.Values)
}

// Operations converts a history into porcupine operations for
// PartitionLogModel: failed appends, failed reads and failed end-offset
// queries are dropped (they cannot change or observe the log; a failed
// append's value showing up in a read is caught because no remaining op
// writes it), and an unknown append gets Return = math.MaxInt64 because
// Kafka may apply a timed-out produce long after the client gave up on it.
// Each operation's Metadata is its index in history.
func Operations(history []Op) []porcupine.Operation {
	ops := make([]porcupine.Operation, 0, len(history))
	for i, op := range history {
		ret := op.Return
		switch {
		case op.Kind == OpAppend && op.Outcome == OutcomeUnknown:
			ret = math.MaxInt64
		case op.Outcome == OutcomeFailed:
			continue
		}
		ops = append(ops, porcupine.Operation{
			ClientId: op.Client,
			Input:    op,
			Call:     op.Call,
			Return:   ret,
			Metadata: i,
		})
	}
	return ops
}

// partitionOperations splits porcupine operations by topic-partition, in
// sorted partition order so that results indexed by partition are
// reproducible. Operations keep their history order within a partition.
func partitionOperations(ops []porcupine.Operation) [][]porcupine.Operation {
	byTP := make(map[TopicPartition][]porcupine.Operation)
	for _, op := range ops {
		tp := op.Input.(Op).Partition
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

// logBacking is the storage shared by the states of one exploration. Entries
// below any state's length are never rewritten, so once a caller has read the
// slice header under mu it may read those entries without the lock. The lock
// exists because nothing in porcupine's contract promises that two goroutines
// never step states derived from one Init; today each partition is checked on
// one goroutine from its own Init.
type logBacking struct {
	mu     sync.Mutex
	values []string
	// hashes[i] is the hash of values[:i+1], so that hashing a state is O(1).
	hashes []uint64
}

// emptyLogHash is the hash of the empty log; any constant works.
const emptyLogHash uint64 = 0x9e3779b97f4a7c15

// values returns the state's log. The caller must not modify it.
func (s logState) values() []string {
	if s.length == 0 {
		return nil
	}
	s.backing.mu.Lock()
	defer s.backing.mu.Unlock()
	return s.backing.values[:s.length:s.length]
}

// hash returns a hash of the state's log, equal for equal logs.
func (s logState) hash() uint64 {
	if s.length == 0 {
		return emptyLogHash
	}
	s.backing.mu.Lock()
	defer s.backing.mu.Unlock()
	return s.backing.hashes[s.length-1]
}

// append returns the state with values appended, leaving s unchanged.
func (s logState) append(values []string) logState {
	if s.backing != nil {
		b := s.backing
		b.mu.Lock()
		if len(b.values) == s.length {
			b.values, b.hashes = appendHashed(b.values, b.hashes, values)
			b.mu.Unlock()
			return logState{backing: b, length: s.length + len(values)}
		}
		b.mu.Unlock()
	}
	prefix, prefixHashes := s.snapshot()
	nb := &logBacking{
		values: make([]string, len(prefix), len(prefix)+len(values)+8),
		hashes: make([]uint64, len(prefix), len(prefix)+len(values)+8),
	}
	copy(nb.values, prefix)
	copy(nb.hashes, prefixHashes)
	nb.values, nb.hashes = appendHashed(nb.values, nb.hashes, values)
	return logState{backing: nb, length: len(nb.values)}
}

// snapshot returns the state's values and prefix hashes.
func (s logState) snapshot() ([]string, []uint64) {
	if s.length == 0 {
		return nil, nil
	}
	s.backing.mu.Lock()
	defer s.backing.mu.Unlock()
	return s.backing.values[:s.length:s.length], s.backing.hashes[:s.length:s.length]
}

// appendHashed appends values and their prefix hashes.
func appendHashed(values []string, hashes []uint64, add []string) ([]string, []uint64) {
	h := emptyLogHash
	if len(hashes) > 0 {
		h = hashes[len(hashes)-1]
	}
	for _, v := range add {
		f := fnv.New64a()
		f.Write([]byte(v)) // fnv's Write never fails
		h = mix64(h ^ f.Sum64())
		values = append(values, v)
		hashes = append(hashes, h)
	}
	return values, hashes
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
	return slices.Equal(s.values(), o.values())
}

// stateTailMax bounds how many values DescribeState prints, so that the HTML
// visualization of a long history stays readable and small.
const stateTailMax = 8

// String renders the log as its length and its last few values with offsets.
func (s logState) String() string {
	values := s.values()
	var b strings.Builder
	fmt.Fprintf(&b, "len %d [", len(values))
	start := max(0, len(values)-stateTailMax)
	if start > 0 {
		b.WriteString("… ")
	}
	for i := start; i < len(values); i++ {
		if i > start {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%s", i, quoteValue(values[i]))
	}
	b.WriteByte(']')
	return b.String()
}
