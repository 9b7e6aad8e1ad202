package sim

import (
	"testing"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// TestBeforeFlip checks which operations of a quarantined partition stay
// in the history checks: appends called before the flip, whatever their
// answer's time, and reads answered before it.
func TestBeforeFlip(t *testing.T) {
	const at = Time(100)
	for _, c := range []struct {
		op   lin.Op
		keep bool
	}{
		{lin.Op{Kind: lin.OpAppend, Call: 10, Return: 20}, true},
		{lin.Op{Kind: lin.OpAppend, Call: 90, Return: 150}, true},
		{lin.Op{Kind: lin.OpAppend, Call: 100, Return: 150}, false},
		{lin.Op{Kind: lin.OpRead, Call: 10, Return: 99}, true},
		{lin.Op{Kind: lin.OpRead, Call: 90, Return: 100}, false},
		{lin.Op{Kind: lin.OpEndOffset, Call: 90, Return: 120}, false},
	} {
		if got := beforeFlip(c.op, at); got != c.keep {
			t.Errorf("%s call %d return %d: kept %v, want %v", c.op.Kind, c.op.Call, c.op.Return, got, c.keep)
		}
	}
}
