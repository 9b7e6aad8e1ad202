package raftquorum

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/chronik-streaming/chronik/io/logthrottle"
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

// TestSlogAdapterThrottlesRepeatsPerPeer: raft's warning about a down
// peer, repeated every 300 ms for 60 s, is written once and then once
// per 30 s with the count; another peer's warnings and other messages are
// counted apart; info lines are never throttled.
func TestSlogAdapterThrottlesRepeatsPerPeer(t *testing.T) {
	var buf bytes.Buffer
	a := newSlogAdapter(slog.New(slog.NewTextHandler(&buf, nil)), hclog.Info)
	now := time.Unix(1_700_000_000, 0)
	a.throttle = logthrottle.MustNew(logthrottle.Config{Interval: repeatInterval, KeysMax: 8, Now: func() time.Time { return now }})
	l := a.Named("raft")
	for i := 0; i < 200; i++ {
		l.Error("failed to heartbeat to", "peer", "127.0.0.1:7002", "error", "connection refused")
		l.Error("failed to heartbeat to", "peer", "127.0.0.1:7003", "error", "connection refused")
		l.Warn("Election timeout reached, restarting election")
		l.Info("entering candidate state")
		now = now.Add(300 * time.Millisecond)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		switch {
		case strings.Contains(line, "7002") && strings.Contains(line, "suppressed=99"):
			counts["7002 summary"]++
		case strings.Contains(line, "7002"):
			counts["7002"]++
		case strings.Contains(line, "7003"):
			counts["7003"]++
		case strings.Contains(line, "Election timeout"):
			counts["election"]++
		case strings.Contains(line, "candidate state"):
			counts["info"]++
		}
		if strings.Contains(line, "heartbeat") && !strings.Contains(line, "level=WARN") {
			t.Errorf("heartbeat failure not a warning: %s", line)
		}
	}
	want := map[string]int{"7002": 1, "7002 summary": 1, "7003": 2, "election": 2, "info": 200}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d lines, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
}
