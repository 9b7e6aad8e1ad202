package sim

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestMain raises the GC target: a run allocates a lot of short-lived
// frames and pages over a live heap of a few megabytes, and the default
// target spends a fifth of the time in the collector. 800 took 7% less
// CPU than 400 in a 30-seed sweep; 1600 saved little more for twice the
// memory. The soft memory limit holds the heavy seeds, whose live heap
// times nine would take hundreds of megabytes of a shared machine (peak
// RSS of a 300-seed sweep: 580 MB without it, 283 MB at GOGC 400).
func TestMain(m *testing.M) {
	debug.SetGCPercent(800)
	debug.SetMemoryLimit(256 << 20)
	os.Exit(m.Run())
}
