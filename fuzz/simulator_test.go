package fuzz

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/sim"
)

// simFaultPhase maps the fuzzer's knob onto a faulty phase of 1 s to 120 s
// of virtual time (the simulator's default is 60 s): short runs execute
// quickly and still interleave a few faults, long ones let crashes,
// partitions and disk faults pile up. A 60 s run takes about 0.2 s of wall
// time here.
func simFaultPhase(knob uint16) sim.Time {
	return sim.Time(1_000+int64(knob)*2) * sim.Millisecond
}

// FuzzSimulator runs the deterministic simulator with a fuzzer-chosen seed
// and length of the faulty phase. The seed draws every fault and workload
// setting of the run (swarm testing: one node or a three-node cluster with
// its metadata quorum model and fault scenario, network delay, loss,
// resets and partitions, crashes with torn writes, disk errors and bit
// flips, clock drift and jumps, producers, consumers, admin operations,
// log settings),
// so the fuzzer's mutations of it explore setting combinations, guided by
// the coverage of core that each run reaches. The fuzzer also picks the
// length of the faulty phase (1 s to about 132 s of virtual time). The
// nightly sweep (go test ./sim -run Sim -seeds=N) complements it with
// consecutive seeds at the default length.
//
// Invariant: sim.Run's checkers pass: no panic and no broken invariant in
// any state machine, the Jepsen-style offset checks (no lost, duplicated
// or inconsistently ordered acknowledged write, no poll skip), porcupine
// linearizability of every partition's history, and convergence within
// the liveness bound once faults heal. A failure reports the seed, the
// settings, the findings, porcupine's visualization (in
// $TMPDIR/chronik-sim) and the command that replays the run.
func FuzzSimulator(f *testing.F) {
	f.Add(uint64(1), uint16(2_000))   // 5 s of faults
	f.Add(uint64(21), uint16(14_500)) // 30 s
	f.Add(uint64(7), uint16(29_500))  // 60 s, the default length
	f.Fuzz(func(t *testing.T, seed uint64, faultPhaseKnob uint16) {
		phase := simFaultPhase(faultPhaseKnob)
		res := sim.Run(seed, sim.Options{
			VisualizationDir: filepath.Join(os.TempDir(), "chronik-sim"),
			FaultPhase:       phase,
		})
		if res.OK() {
			return
		}
		var b strings.Builder
		b.WriteString(res.Line())
		b.WriteString("\n  findings:\n")
		for _, f := range res.Failures {
			b.WriteString("    " + f + "\n")
		}
		for _, n := range res.Notes {
			b.WriteString("    note: " + n + "\n")
		}
		if res.VisualizationPath != "" {
			b.WriteString("  porcupine visualization: " + res.VisualizationPath + "\n")
		}
		b.WriteString("  faults injected: " + res.Stats + "\n")
		b.WriteString("  reproduce: go test ./sim -run Sim -seed=" + strconv.FormatUint(seed, 10) + " -fault-phase=" + (time.Duration(phase) * time.Microsecond).String() + "\n")
		t.Fatal(b.String())
	})
}
