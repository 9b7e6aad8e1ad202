package sim

import (
	"fmt"
	"testing"
)

// TestDeterminism runs one seed twice and requires equal traces, and a
// second seed, which must trace differently. (Its name avoids "Sim" so
// that -run Sim selects only the sweep.)
func TestDeterminism(t *testing.T) {
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) { determinism(t, nodes) })
	}
}

func determinism(t *testing.T, nodes int) {
	const seed = 7
	a := Run(seed, Options{Nodes: nodes})
	b := Run(seed, Options{Nodes: nodes})
	if a.Trace != b.Trace {
		t.Fatalf("seed %d traced %s, then %s: the simulation is not deterministic", seed, a.Trace, b.Trace)
	}
	if a.Events == 0 || a.Ops == 0 {
		t.Fatalf("seed %d did nothing: %d events, %d ops", seed, a.Events, a.Ops)
	}
	if a.Settings != b.Settings || a.Events != b.Events || a.Ops != b.Ops {
		t.Fatalf("equal traces but different runs: %q/%q, %d/%d events, %d/%d ops", a.Settings, b.Settings, a.Events, b.Events, a.Ops, b.Ops)
	}
	c := Run(seed+1, Options{Nodes: nodes})
	if c.Trace == a.Trace {
		t.Fatalf("seeds %d and %d gave the same trace %s", seed, seed+1, a.Trace)
	}
	t.Logf("seed %d: %s twice; seed %d: %s", seed, a.Trace, seed+1, c.Trace)
}
