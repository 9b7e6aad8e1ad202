package linearizability

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidHistory is wrapped by every error that reports a malformed
// history (a recording bug, not a broker bug).
var ErrInvalidHistory = errors.New("linearizability: invalid history")

// TopicPartition names one Kafka partition. Histories are checked one
// partition at a time because Kafka orders records only within a partition.
type TopicPartition struct {
	// Topic is the topic name.
	Topic string
	// Partition is the partition index within the topic.
	Partition int32
}

// String renders the partition the way Kafka tools do: "topic-3".
func (tp TopicPartition) String() string {
	return tp.Topic + "-" + strconv.FormatInt(int64(tp.Partition), 10)
}

// compare orders partitions by topic, then index, so that every output that
// lists partitions is independent of map iteration order.
func (tp TopicPartition) compare(other TopicPartition) int {
	if c := strings.Compare(tp.Topic, other.Topic); c != 0 {
		return c
	}
	switch {
	case tp.Partition < other.Partition:
		return -1
	case tp.Partition > other.Partition:
		return 1
	}
	return 0
}

// OpKind says what a client did.
type OpKind uint8

const (
	// OpAppend is a producer send of one batch of values to a partition.
	OpAppend OpKind = iota + 1
	// OpRead is a consumer fetch from an offset.
	OpRead
	// OpEndOffset is a ListOffsets query for the latest offset (the high
	// watermark under read_uncommitted).
	OpEndOffset
	// OpStartOffset is a ListOffsets query for the earliest offset (the log
	// start offset). Offset is the answer.
	OpStartOffset
	// OpDeleteRecords is a DeleteRecords request for one partition: Offset
	// is the requested offset (-1 stands for the high watermark) and, when
	// ok, LogStart the low watermark the broker answered.
	OpDeleteRecords
	// OpRetention marks that from Call on, a retention rule (retention.ms or
	// retention.bytes small enough to matter) may delete the partition's
	// oldest records at any time. Outcome is OK and Return equals Call.
	OpRetention
)

// String names the kind for messages.
func (k OpKind) String() string {
	switch k {
	case OpAppend:
		return "append"
	case OpRead:
		return "read"
	case OpEndOffset:
		return "end-offset"
	case OpStartOffset:
		return "start-offset"
	case OpDeleteRecords:
		return "delete-records"
	case OpRetention:
		return "retention"
	}
	return "OpKind(" + strconv.Itoa(int(k)) + ")"
}

// Outcome is what the client learned about its operation.
type Outcome uint8

const (
	// OutcomeOK means the operation succeeded and its results are known.
	OutcomeOK Outcome = iota + 1
	// OutcomeFailed means the operation definitely had no effect: an append
	// the broker rejected before writing it, or a read or end-offset query
	// that returned an error. Failed operations constrain nothing except
	// that a failed append's values must never be read.
	OutcomeFailed
	// OutcomeUnknown (appends only) means the client cannot tell whether the
	// append was applied: a timeout or a broken connection. The broker may
	// apply it at any time after the call, even after the client gave up, so
	// the checker treats it as never returning.
	OutcomeUnknown
	// OutcomeOutOfRange (reads only) means the broker answered
	// OFFSET_OUT_OF_RANGE. It carries information (the offset was past the
	// log end), so unlike other read errors it is checked.
	OutcomeOutOfRange
)

// String names the outcome for messages.
func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomeFailed:
		return "failed"
	case OutcomeUnknown:
		return "unknown"
	case OutcomeOutOfRange:
		return "out-of-range"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Op is one client operation on one partition, from invocation to response.
// Which fields matter depends on Kind and Outcome; the rest stay zero.
type Op struct {
	// Kind is what the client did.
	Kind OpKind
	// Client identifies the client (a producer or consumer session). One
	// client's operations on one partition are checked for monotonicity.
	// Porcupine's visualization draws one row per id from 0 up, so keep ids
	// small and non-negative.
	Client int
	// Partition is the topic-partition the operation addressed.
	Partition TopicPartition
	// Call is when the client invoked the operation.
	Call int64
	// Return is when the client saw the response, or gave up on it. For an
	// append with OutcomeUnknown it is only used to order the client's own
	// operations; the linearizability checker treats such an append as
	// never returning.
	Return int64
	// Outcome is what the client learned.
	Outcome Outcome
	// Values are, for an append, the values sent in batch order; for an ok
	// read, the values returned, Values[i] at offset Offset+i.
	Values []string
	// Offset is, for an ok append, the acknowledged base offset; for a read
	// (any outcome), the fetch offset; for an ok end-offset query, the
	// offset returned.
	Offset int64
	// HighWatermark is, for an ok read, the high watermark in the fetch
	// response.
	HighWatermark int64
	// LogStart is, for an ok delete-records, the low watermark (log start
	// offset) in the answer.
	LogStart int64
	// Seek marks a read whose fetch offset was set by the consumer (seek,
	// reset after OFFSET_OUT_OF_RANGE, new assignment) rather than by
	// consuming its previous read. The poll checks skip the gap or step back
	// before such a read.
	Seek bool
	// MayBeStale marks a read or end-offset query whose answer may lag the
	// committed log: it came from a broker that was not the leader at the
	// partition's current leader epoch, had not yet heard of that epoch, or
	// led it with a high watermark still below the epoch's start (a new
	// leader's lags until its followers fetch). The model then applies the
	// stale rules of ModelOptions.StaleHighWatermark to this operation
	// alone; an answer from the current, caught-up leader must be exact.
	MayBeStale bool
	// Final marks an ok read that is part of the final drain of the
	// partition: after the faults healed and every append settled, a reader
	// fetched from the log start offset up to the high watermark. The
	// lost-write check runs only on partitions with a final drain.
	Final bool
}

// String renders the operation for messages and the visualization, without
// its times and client (both are shown elsewhere).
func (op Op) String() string {
	var b strings.Builder
	switch op.Kind {
	case OpAppend:
		b.WriteString("append ")
		writeValues(&b, op.Values)
		switch op.Outcome {
		case OutcomeOK:
			fmt.Fprintf(&b, " -> ok @%d", op.Offset)
		default:
			b.WriteString(" -> " + op.Outcome.String())
		}
	case OpRead:
		fmt.Fprintf(&b, "read @%d", op.Offset)
		switch op.Outcome {
		case OutcomeOK:
			b.WriteString(" -> ")
			writeValues(&b, op.Values)
			fmt.Fprintf(&b, " hw %d", op.HighWatermark)
		default:
			b.WriteString(" -> " + op.Outcome.String())
		}
		if op.Seek {
			b.WriteString(" (seek)")
		}
		if op.Final {
			b.WriteString(" (final)")
		}
		if op.MayBeStale {
			b.WriteString(" (may be stale)")
		}
	case OpEndOffset, OpStartOffset:
		if op.Kind == OpEndOffset {
			b.WriteString("end offset")
		} else {
			b.WriteString("start offset")
		}
		if op.Outcome == OutcomeOK {
			fmt.Fprintf(&b, " -> %d", op.Offset)
		} else {
			b.WriteString(" -> " + op.Outcome.String())
		}
		if op.MayBeStale {
			b.WriteString(" (may be stale)")
		}
	case OpDeleteRecords:
		fmt.Fprintf(&b, "delete records before %d", op.Offset)
		if op.Outcome == OutcomeOK {
			fmt.Fprintf(&b, " -> ok, log start %d", op.LogStart)
		} else {
			b.WriteString(" -> " + op.Outcome.String())
		}
	default:
		b.WriteString(op.Kind.String())
	}
	return b.String()
}

// end is the offset just past the values an ok read returned, which is
// where the consumer's position is after the read.
func (op Op) end() int64 { return op.Offset + int64(len(op.Values)) }

// writeValues renders values as [a b c], quoting only values that would be
// ambiguous in that form.
func writeValues(b *strings.Builder, values []string) {
	b.WriteByte('[')
	for i, v := range values {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quoteValue(v))
	}
	b.WriteByte(']')
}

// quoteValue quotes a value only when needed, so typical workload values
// ("p3-17") stay readable.
func quoteValue(v string) string {
	if v == "" || strings.ContainsAny(v, " []\"\t\n") || strconv.Quote(v) != `"`+v+`"` {
		return strconv.Quote(v)
	}
	return v
}

// ValidHistory is a history that Validate accepted: a caller that runs
// both checks on one history (the simulator, after every run) validates
// it once.
type ValidHistory struct{ ops []Op }

// NewValidHistory validates history (Validate) and wraps it. The caller
// must not change history afterwards.
func NewValidHistory(history []Op) (ValidHistory, error) {
	if err := Validate(history); err != nil {
		return ValidHistory{}, err
	}
	return ValidHistory{ops: history}, nil
}

// Validate reports the first malformed operation in history, wrapping
// ErrInvalidHistory. A malformed history is a bug in the recorder; checking
// it anyway would produce findings that blame the broker.
func Validate(history []Op) error {
	type sentKey struct {
		tp    TopicPartition
		value string
	}
	values := 0
	for i := range history {
		if history[i].Kind == OpAppend {
			values += len(history[i].Values)
		}
	}
	sentBy := make(map[sentKey]int, values)
	for i, op := range history {
		if err := validateOp(op); err != nil {
			return fmt.Errorf("%w: op #%d (client %d, %s, %s): %w", ErrInvalidHistory, i, op.Client, op.Partition, op, err)
		}
		if op.Kind != OpAppend {
			continue
		}
		for _, v := range op.Values {
			k := sentKey{op.Partition, v}
			if j, dup := sentBy[k]; dup {
				// The checkers identify a write by its value; two sends of
				// one value would make every finding about it ambiguous.
				return fmt.Errorf("%w: op #%d (client %d, %s): value %s was already sent by op #%d", ErrInvalidHistory, i, op.Client, op.Partition, quoteValue(v), j)
			}
			sentBy[k] = i
		}
	}
	return nil
}

// validateOp checks one operation in isolation.
func validateOp(op Op) error {
	if op.Client < 0 {
		return errors.New("negative client id")
	}
	if op.Return < op.Call {
		return fmt.Errorf("returned at %d before its call at %d", op.Return, op.Call)
	}
	switch op.Kind {
	case OpAppend:
		if !slices.Contains([]Outcome{OutcomeOK, OutcomeFailed, OutcomeUnknown}, op.Outcome) {
			return fmt.Errorf("outcome %s is not valid for an append", op.Outcome)
		}
		if len(op.Values) == 0 {
			return errors.New("append of no values")
		}
		if op.Outcome == OutcomeOK && op.Offset < 0 {
			return fmt.Errorf("negative acknowledged offset %d", op.Offset)
		}
	case OpRead:
		if !slices.Contains([]Outcome{OutcomeOK, OutcomeFailed, OutcomeOutOfRange}, op.Outcome) {
			return fmt.Errorf("outcome %s is not valid for a read", op.Outcome)
		}
		if op.Offset < 0 {
			return fmt.Errorf("negative fetch offset %d", op.Offset)
		}
		if op.Outcome != OutcomeOK && len(op.Values) > 0 {
			return fmt.Errorf("%s read carries values", op.Outcome)
		}
		if op.Outcome == OutcomeOK && op.HighWatermark < 0 {
			return fmt.Errorf("negative high watermark %d", op.HighWatermark)
		}
		if op.Final && op.Outcome != OutcomeOK {
			return fmt.Errorf("final read with outcome %s", op.Outcome)
		}
	case OpEndOffset:
		if !slices.Contains([]Outcome{OutcomeOK, OutcomeFailed}, op.Outcome) {
			return fmt.Errorf("outcome %s is not valid for an end-offset query", op.Outcome)
		}
		if op.Outcome == OutcomeOK && op.Offset < 0 {
			return fmt.Errorf("negative end offset %d", op.Offset)
		}
	case OpStartOffset:
		if !slices.Contains([]Outcome{OutcomeOK, OutcomeFailed}, op.Outcome) {
			return fmt.Errorf("outcome %s is not valid for a start-offset query", op.Outcome)
		}
		if op.Outcome == OutcomeOK && op.Offset < 0 {
			return fmt.Errorf("negative start offset %d", op.Offset)
		}
	case OpDeleteRecords:
		if !slices.Contains([]Outcome{OutcomeOK, OutcomeFailed, OutcomeUnknown}, op.Outcome) {
			return fmt.Errorf("outcome %s is not valid for a delete-records", op.Outcome)
		}
		if op.Offset < -1 {
			return fmt.Errorf("delete-records offset %d below -1", op.Offset)
		}
	case OpRetention:
		if op.Outcome != OutcomeOK || op.Return != op.Call {
			return errors.New("a retention marker is ok and returns at its call")
		}
	default:
		return fmt.Errorf("unknown op kind %d", op.Kind)
	}
	return nil
}
