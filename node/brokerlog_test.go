package node

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestBrokerLoggerThrottlesRegistration: a restarting broker retries its
// registration every 250 ms while the controller has no address for it;
// over 70 s that is one info line, then a summary per 30 s with the count,
// while other messages pass through untouched.
func TestBrokerLoggerThrottlesRegistration(t *testing.T) {
	var buf syncBuffer
	now := time.Unix(1_700_000_000, 0)
	l := newBrokerLogger(slog.New(slog.NewTextHandler(&buf, nil)), func() time.Time { return now })
	for i := 0; i < 280; i++ {
		l.Info("broker registration failed", "controller", 1, "err", errors.New("broker 1 has no known address"))
		l.Info("controller changed", "from", -1, "to", 1)
		now = now.Add(250 * time.Millisecond)
	}
	lines := logLines(&buf, "broker registration failed")
	if len(lines) != 3 {
		t.Fatalf("%d registration lines over 70 s, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[0], "level=INFO") || strings.Contains(lines[0], "suppressed") {
		t.Errorf("first line %q: want a plain info line", lines[0])
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, "suppressed=119") || !strings.Contains(l, "level=INFO") {
			t.Errorf("summary %q: want info with suppressed=119", l)
		}
	}
	if n := len(logLines(&buf, "controller changed")); n != 280 {
		t.Errorf("%d unthrottled lines, want 280", n)
	}
	// Another controller is another run.
	l.Info("broker registration failed", "controller", 2, "err", errors.New("connection refused"))
	if n := len(logLines(&buf, "controller=2")); n != 1 {
		t.Errorf("%d lines for controller 2, want 1", n)
	}
}
