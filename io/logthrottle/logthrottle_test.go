package logthrottle

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

func newThrottle(t *testing.T, keysMax int) (*Throttle, *fakeClock) {
	t.Helper()
	c := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	th, err := New(Config{Interval: 30 * time.Second, KeysMax: keysMax, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return th, c
}

// TestAllowSequence: a key repeating every 300 ms (raft's retry pace) is
// logged once, then once per interval with the count of the rest; after a
// quiet interval it starts a new run.
func TestAllowSequence(t *testing.T) {
	th, c := newThrottle(t, 10)
	if d := th.Allow("peer 2"); d != (Decision{Log: true, First: true}) {
		t.Fatalf("first occurrence: %+v", d)
	}
	logged := 0
	var summaries []Decision
	for i := 0; i < 200; i++ { // 60 s at 300 ms
		c.advance(300 * time.Millisecond)
		if d := th.Allow("peer 2"); d.Log {
			logged++
			summaries = append(summaries, d)
		}
	}
	if logged != 2 {
		t.Fatalf("200 repeats over 60 s logged %d lines, want 2 (one per 30 s): %+v", logged, summaries)
	}
	for _, d := range summaries {
		if d.First || d.Suppressed != 99 {
			t.Errorf("summary %+v, want not First and 99 suppressed", d)
		}
	}
	// Another key is independent.
	if d := th.Allow("peer 3"); !d.Log || !d.First {
		t.Fatalf("first occurrence of another key: %+v", d)
	}
	// Quiet for a whole interval: the next occurrence is a new run, still
	// carrying the count left over from the last one.
	c.advance(10 * time.Second)
	if d := th.Allow("peer 2"); d.Log {
		t.Fatalf("repeat within the interval logged: %+v", d)
	}
	c.advance(45 * time.Second)
	if d := th.Allow("peer 2"); d != (Decision{Log: true, First: true, Suppressed: 1}) {
		t.Fatalf("occurrence after a quiet interval: %+v", d)
	}
}

// TestKeysMaxEvictsLeastRecent: at the limit, the key seen least recently
// is forgotten, so it counts as new again; the others are kept.
func TestKeysMaxEvictsLeastRecent(t *testing.T) {
	th, c := newThrottle(t, 2)
	th.Allow("a")
	c.advance(time.Second)
	th.Allow("b")
	c.advance(time.Second)
	th.Allow("a") // a is now the most recent
	c.advance(time.Second)
	th.Allow("c") // evicts b
	if len(th.keys) != 2 {
		t.Fatalf("%d keys remembered, limit 2", len(th.keys))
	}
	if d := th.Allow("a"); d.Log {
		t.Fatalf("a was evicted instead of b: %+v", d)
	}
	if d := th.Allow("b"); !d.First {
		t.Fatalf("b was kept: %+v", d)
	}
}

// TestLogLevelsAndSummary: the first line at the first level, summaries at
// the repeat level with the suppressed count.
func TestLogLevelsAndSummary(t *testing.T) {
	th, c := newThrottle(t, 10)
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime}))
	for i := 0; i < 101; i++ {
		th.Log(l, "k", slog.LevelWarn, slog.LevelInfo, "peer unreachable", "peer", 2)
		c.advance(time.Second)
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=WARN msg="peer unreachable" peer=2`,
		`level=INFO msg="peer unreachable" peer=2 suppressed=29 interval=30s`,
		`level=INFO msg="peer unreachable" peer=2 suppressed=29 interval=30s`,
		`level=INFO msg="peer unreachable" peer=2 suppressed=29 interval=30s`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{{Interval: 0, KeysMax: 1}, {Interval: time.Second, KeysMax: 0}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", cfg)
		}
	}
}
