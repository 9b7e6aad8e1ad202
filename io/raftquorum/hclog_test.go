package raftquorum

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// Raft's routine errors while a voter is down become warnings; other
// errors stay errors.
func TestSlogAdapterDowngradesRoutineErrors(t *testing.T) {
	var buf bytes.Buffer
	a := newSlogAdapter(slog.New(slog.NewTextHandler(&buf, nil)), hclog.Warn)
	a.Error("failed to appendEntries to", "peer", "2")
	a.Error("failed to heartbeat to", "peer", "2")
	a.Error("snapshot failed", "err", "disk full")
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got:\n%s", out)
	}
	for i, want := range []string{"level=WARN", "level=WARN", "level=ERROR"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d %q lacks %s", i, lines[i], want)
		}
	}
}
