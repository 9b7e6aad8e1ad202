package sim

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestMain lets the heap grow to a fixed budget before the collector
// runs, instead of in proportion to the live heap: a run allocates a lot
// of short-lived frames, requests and pages over a live heap of a few
// megabytes, so each collection finds almost everything dead, and fewer
// of them leave the allocator reusing swept spans less often. Measured on
// 100 seeds (user CPU): the default target spent a fifth of the time in
// the collector; GOGC 800 with a 256 MiB soft limit (what this was until
// the fifth speed round) about 7% more than no proportional target and a
// 1 GiB limit, and a 2 GiB limit gained nothing more. Peak RSS of a
// sweep is then about 1 GiB, which the machines this runs on (24 GiB)
// afford; GOGC or GOMEMLIMIT in the environment still win, so a smaller
// machine can ask for less.
func TestMain(m *testing.M) {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(1 << 30)
	}
	os.Exit(m.Run())
}
