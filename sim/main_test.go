package sim

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestMain raises the GC target: a run allocates a lot of short-lived
// frames and pages, and the default target spends a fifth of the time in
// the collector.
func TestMain(m *testing.M) {
	debug.SetGCPercent(400)
	os.Exit(m.Run())
}
