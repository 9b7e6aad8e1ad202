package linearizability

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// genOp is a recorded op plus when it took effect on the simulated log.
type genOp struct {
	index  int // position in the history
	effect int64
	// readSeek: for reads, whether the consumer repositions before it.
	readSeek bool
}

// genConfig sizes generated histories.
type genConfig struct {
	partitions, producers, consumers int
	horizon                          int64
}

// genCleanHistory simulates a correct broker: every partition is a single
// committed log, each op takes effect at one instant inside its interval
// (an unknown append maybe never, maybe after its client gave up), reads
// return a prefix of the committed log from the consumer's position with the
// log length as the high watermark, and a final drain reads every partition
// from 0. The history it records must pass every check.
func genCleanHistory(r *rand.Rand, cfg genConfig) []Op {
	tps := make([]TopicPartition, cfg.partitions)
	for i := range tps {
		tps[i] = TopicPartition{Topic: "t", Partition: int32(i)}
	}
	var history []Op
	var effects []genOp
	add := func(op Op, effect int64, applied bool, seekFirst bool) {
		history = append(history, op)
		if applied {
			effects = append(effects, genOp{index: len(history) - 1, effect: effect, readSeek: seekFirst})
		}
	}
	within := func(call, ret int64) int64 { return call + r.Int64N(ret-call+1) }

	for p := range cfg.producers {
		seq := 0
		for t := r.Int64N(20); t < cfg.horizon; {
			call, ret := t, t+1+r.Int64N(40)
			values := make([]string, 1+r.IntN(3))
			for i := range values {
				values[i] = fmt.Sprintf("p%d-%d", p, seq)
				seq++
			}
			op := Op{Kind: OpAppend, Client: p, Partition: tps[r.IntN(len(tps))], Call: call, Return: ret, Values: values}
			switch x := r.IntN(10); {
			case x < 7:
				op.Outcome = OutcomeOK
				add(op, within(call, ret), true, false)
			case x < 9:
				// Unknown: applied half the time, possibly long after the
				// client gave up.
				op.Outcome = OutcomeUnknown
				add(op, within(call, cfg.horizon+50), r.IntN(2) == 0, false)
			default:
				op.Outcome = OutcomeFailed
				add(op, 0, false, false)
			}
			t = ret + 1 + r.Int64N(20)
		}
	}
	for c := range cfg.consumers {
		client := cfg.producers + c
		for t := r.Int64N(20); t < cfg.horizon; {
			call, ret := t, t+1+r.Int64N(30)
			op := Op{Client: client, Partition: tps[r.IntN(len(tps))], Call: call, Return: ret, Outcome: OutcomeOK}
			switch x := r.IntN(20); {
			case x == 0:
				// A failed fetch: constrains nothing.
				op.Kind, op.Outcome = OpRead, OutcomeFailed
				add(op, 0, false, false)
			case x < 4:
				op.Kind = OpEndOffset
				add(op, within(call, ret), true, false)
			default:
				op.Kind = OpRead
				add(op, within(call, ret), true, r.IntN(10) == 0)
			}
			t = ret + 1 + r.Int64N(20)
		}
	}

	// Apply effects in time order. A consumer's read offset depends only on
	// its own earlier reads, which took effect before its call.
	slices.SortFunc(effects, func(a, b genOp) int { return cmp.Or(cmp.Compare(a.effect, b.effect), cmp.Compare(a.index, b.index)) })
	logs := make(map[TopicPartition][]string)
	type consumerKey struct {
		client int
		tp     TopicPartition
	}
	positions := make(map[consumerKey]int64)
	mustSeek := make(map[consumerKey]bool)
	for _, e := range effects {
		op := &history[e.index]
		log := logs[op.Partition]
		switch op.Kind {
		case OpAppend:
			op.Offset = int64(len(log))
			logs[op.Partition] = append(log, op.Values...)
		case OpEndOffset:
			op.Offset = int64(len(log))
		case OpRead:
			k := consumerKey{op.Client, op.Partition}
			pos := positions[k]
			if e.readSeek || mustSeek[k] {
				// Sometimes past the end, to get OFFSET_OUT_OF_RANGE.
				pos = r.Int64N(int64(len(log)) + 3)
				op.Seek = true
				mustSeek[k] = false
			}
			op.Offset = pos
			positions[k] = pos
			if pos > int64(len(log)) {
				op.Outcome = OutcomeOutOfRange
				mustSeek[k] = true
				continue
			}
			n := min(int64(len(log))-pos, r.Int64N(5))
			op.Values = slices.Clone(log[pos : pos+n])
			op.HighWatermark = int64(len(log))
			positions[k] = pos + n
		}
	}

	// The final drain, after every append settled.
	drainer := cfg.producers + cfg.consumers
	t := cfg.horizon + 100
	for _, tp := range tps {
		log := logs[tp]
		for pos := int64(0); ; {
			n := min(int64(len(log))-pos, 1+r.Int64N(6))
			history = append(history, Op{
				Kind: OpRead, Client: drainer, Partition: tp, Call: t, Return: t + 5, Outcome: OutcomeOK,
				Offset: pos, Values: slices.Clone(log[pos : pos+n]), HighWatermark: int64(len(log)), Final: true,
			})
			t += 10
			pos += n
			if pos == int64(len(log)) {
				break
			}
		}
	}
	return history
}

// TestRandomCleanHistories checks that histories of a correct log are
// accepted (no false positives), and that simple corruptions of them are
// caught (the checkers are not vacuous).
func TestRandomCleanHistories(t *testing.T) {
	const histories = 200
	r := rand.New(rand.NewPCG(20261101, 7))
	var ops, checks, unknownVerdicts int
	for i := range histories {
		cfg := genConfig{partitions: 1 + r.IntN(2), producers: 2 + r.IntN(3), consumers: 1 + r.IntN(3), horizon: 300}
		history := genCleanHistory(r, cfg)
		ops += len(history)
		// Without the drain, unknown appends nobody read stay open-ended:
		// the model's applied-or-not branching does the work.
		undrained := slices.DeleteFunc(slices.Clone(history), func(op Op) bool { return op.Final })
		for _, h := range []struct {
			name    string
			history []Op
		}{{"drained", history}, {"undrained", undrained}} {
			for _, stale := range []bool{false, true} {
				checks++
				report, err := Check(h.history, Options{Model: ModelOptions{StaleHighWatermark: stale}, Timeout: 10 * time.Second})
				if err != nil {
					t.Fatalf("history %d (%s): %v", i, h.name, err)
				}
				if report.Linearizability.Verdict == VerdictUnknown {
					unknownVerdicts++
					continue
				}
				if !report.OK() {
					t.Fatalf("history %d (%s, stale=%v): false positive:\n%s\n%s", i, h.name, stale, report, dump(h.history))
				}
			}
		}

		// Corrupt one value of one non-final read: the drain saw the true
		// value at that offset, so both checkers must object.
		if j, ok := pick(r, history, func(op Op) bool {
			return op.Kind == OpRead && op.Outcome == OutcomeOK && !op.Final && len(op.Values) > 0
		}); ok {
			bad := slices.Clone(history)
			bad[j].Values = slices.Clone(bad[j].Values)
			bad[j].Values[r.IntN(len(bad[j].Values))] = "corrupt"
			expectCaught(t, i, "corrupted read", bad, InconsistentOffset)
		}
		// A value nobody sent, with no drain to lean on.
		if j, ok := pick(r, undrained, func(op Op) bool { return op.Kind == OpRead && op.Outcome == OutcomeOK && len(op.Values) > 0 }); ok {
			bad := slices.Clone(undrained)
			bad[j].Values = slices.Clone(bad[j].Values)
			bad[j].Values[r.IntN(len(bad[j].Values))] = "corrupt"
			expectCaught(t, i, "corrupted undrained read", bad, UnexpectedValue)
		}
		// Acknowledge one ok append one offset too late: the drain saw its
		// values where they really are.
		if j, ok := pick(r, history, func(op Op) bool { return op.Kind == OpAppend && op.Outcome == OutcomeOK }); ok {
			bad := slices.Clone(history)
			bad[j].Offset++
			expectCaught(t, i, "shifted ack", bad, WrongAckOffset)
		}
	}
	if unknownVerdicts > 0 {
		t.Errorf("%d of %d checks of clean histories timed out", unknownVerdicts, checks)
	}
	t.Logf("%d histories, %d ops", histories, ops)
}

// pick returns the index of a random op satisfying keep.
func pick(r *rand.Rand, history []Op, keep func(Op) bool) (int, bool) {
	var idx []int
	for i, op := range history {
		if keep(op) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return 0, false
	}
	return idx[r.IntN(len(idx))], true
}

// expectCaught checks that a corrupted history is illegal and yields a
// finding of kind want.
func expectCaught(t *testing.T, i int, what string, history []Op, want FindingKind) {
	t.Helper()
	report, err := Check(history, Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("history %d, %s: %v", i, what, err)
	}
	if report.Linearizability.Verdict != VerdictIllegal || !slices.Contains(kinds(report.Findings), want) {
		t.Fatalf("history %d, %s: want illegal with %s, got:\n%s\n%s", i, what, want, report, dump(history))
	}
}

// dump renders a history for a failure message.
func dump(history []Op) string {
	s := ""
	for i, op := range history {
		s += fmt.Sprintf("#%d c%d %s [%d,%d] %s\n", i, op.Client, op.Partition, op.Call, op.Return, op)
	}
	return s
}
