package sim

import (
	"testing"

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
