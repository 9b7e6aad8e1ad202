package sim

import (
	"testing"

	"github.com/chronik-streaming/chronik/core/partlog"
	lin "github.com/chronik-streaming/chronik/linearizability"
)

// TestBeforeFlip checks how the history of a quarantined partition is cut
// at the flip: what was called before it stays, appends acknowledged after
// it become unknown, and reads answered after it are left out.
func TestBeforeFlip(t *testing.T) {
	const at = Time(100)
	ok := lin.OutcomeOK
	for _, c := range []struct {
		op   lin.Op
		keep bool
		want lin.Outcome
	}{
		{lin.Op{Kind: lin.OpAppend, Call: 10, Return: 20, Outcome: ok, Offset: 3}, true, ok},
		{lin.Op{Kind: lin.OpAppend, Call: 90, Return: 150, Outcome: ok, Offset: 3}, true, lin.OutcomeUnknown},
		{lin.Op{Kind: lin.OpAppend, Call: 90, Return: 150, Outcome: lin.OutcomeFailed}, true, lin.OutcomeFailed},
		{lin.Op{Kind: lin.OpAppend, Call: 100, Return: 150, Outcome: ok}, false, ok},
		{lin.Op{Kind: lin.OpRead, Call: 10, Return: 99, Outcome: ok}, true, ok},
		{lin.Op{Kind: lin.OpRead, Call: 90, Return: 100, Outcome: ok}, false, ok},
		{lin.Op{Kind: lin.OpEndOffset, Call: 90, Return: 120, Outcome: ok}, false, ok},
	} {
		got, keep := beforeFlip(c.op, at)
		if keep != c.keep || (keep && got.Outcome != c.want) {
			t.Errorf("%s %s call %d return %d: kept %v as %s, want %v as %s", c.op.Kind, c.op.Outcome, c.op.Call, c.op.Return, keep, got.Outcome, c.keep, c.want)
		}
	}
}

// TestFlipBelowLogStart: a flip is moot only when its whole batch lies
// below the log start in the replica's partition checkpoint; a flip in
// the batch holding the start (readable from the start on) or on a copy
// without a checkpoint must still be repaired or reported.
func TestFlipBelowLogStart(t *testing.T) {
	w := newWorld(1, Options{Nodes: 1})
	tp := lin.TopicPartition{Topic: "t", Partition: 0}
	l, err := partlog.Open(w.nodes[0].disk, tp.String(), partlog.DefaultConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(base, last int64) *mediaFlip { return &mediaFlip{node: 1, tp: tp, base: base, last: last} }
	if w.flipBelowLogStart(flip(0, 2)) {
		t.Fatal("a flip on a copy without a partition checkpoint counted as below its log start")
	}
	for i := range 3 { // batches 0-2, 3-5, 6-8
		if _, err := l.Append(buildBatch([]string{"a", "b", "c"}, int64(i), nil), 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	job, ok := l.StartSync()
	if !ok {
		t.Fatal("nothing to sync after three appends")
	}
	l.FinishSync(job, job.Run())
	l.SetHighWatermark(9)
	if err := l.DeleteRecordsBefore(4); err != nil {
		t.Fatal(err)
	}
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		base, last int64
		want       bool
	}{{0, 2, true}, {3, 5, false}, {6, 8, false}} {
		if got := w.flipBelowLogStart(flip(c.base, c.last)); got != c.want {
			t.Errorf("flip in batch %d-%d with the log start at 4: below it %v, want %v", c.base, c.last, got, c.want)
		}
	}
}
