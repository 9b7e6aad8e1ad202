// Package logthrottle rate-limits log lines that repeat: the first
// occurrence of a key is logged in full, later ones within an interval are
// counted, and the first occurrence after the interval is logged with the
// count of those it stood for. A broker whose peer is down, or a client
// that retries an unsupported request several times a second, then writes
// one line per interval instead of hundreds, and the count keeps the
// information that it was still happening.
//
// No timer runs: a summary is written when the next occurrence comes, so
// an error that stops repeating costs nothing, and the count it left is
// reported the next time its key shows up.
package logthrottle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Config configures a Throttle.
type Config struct {
	// Interval is the least time between two lines of one key.
	Interval time.Duration
	// KeysMax bounds the keys remembered; beyond it the key seen least
	// recently is forgotten (its next occurrence counts as a first one).
	KeysMax int
	// Now is the clock; nil means time.Now. Tests pass a fake one.
	Now func() time.Time
}

// DefaultKeysMax is a KeysMax for throttles whose keys are peers, error
// kinds or client versions: far more than a broker meets.
const DefaultKeysMax = 1024

// Validate checks the limits.
func (c Config) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("logthrottle: interval %v must be > 0", c.Interval))
	}
	if c.KeysMax <= 0 {
		errs = append(errs, fmt.Errorf("logthrottle: keys max %d must be > 0", c.KeysMax))
	}
	return errors.Join(errs...)
}

// Throttle decides which occurrences of a repeated event are logged. It is
// safe for concurrent use.
type Throttle struct {
	cfg  Config
	mu   sync.Mutex
	keys map[string]*entry
}

// entry is what is remembered of one key.
type entry struct {
	lastLogged time.Time
	lastSeen   time.Time
	suppressed int // occurrences since lastLogged that were not logged
}

// New returns a Throttle, or an error when cfg is invalid.
func New(cfg Config) (*Throttle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Throttle{cfg: cfg, keys: make(map[string]*entry)}, nil
}

// MustNew is New for configurations fixed in code, which cannot be
// invalid unless the code is wrong.
func MustNew(cfg Config) *Throttle {
	t, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return t
}

// Decision is the verdict on one occurrence.
type Decision struct {
	// Log says to write this occurrence.
	Log bool
	// First says it starts a new run of the key: never seen, or quiet for
	// a whole interval. A line that is not First is a summary.
	First bool
	// Suppressed is how many occurrences since the key's last line were
	// not written (only when Log is set).
	Suppressed int
}

// Allow records one occurrence of key and decides whether to log it.
func (t *Throttle) Allow(key string) Decision {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil {
		if len(t.keys) >= t.cfg.KeysMax {
			t.evictOldest()
		}
		t.keys[key] = &entry{lastLogged: now, lastSeen: now}
		return Decision{Log: true, First: true}
	}
	quiet := now.Sub(e.lastSeen) >= t.cfg.Interval
	e.lastSeen = now
	if now.Sub(e.lastLogged) < t.cfg.Interval {
		e.suppressed++
		return Decision{}
	}
	d := Decision{Log: true, First: quiet, Suppressed: e.suppressed}
	e.lastLogged, e.suppressed = now, 0
	return d
}

// evictOldest forgets the key seen least recently. It scans every key,
// which is cheap next to writing a log line, and happens only when a new
// key arrives at the limit.
func (t *Throttle) evictOldest() {
	var oldest string
	var at time.Time
	first := true
	for k, e := range t.keys {
		if first || e.lastSeen.Before(at) || (e.lastSeen.Equal(at) && k < oldest) {
			oldest, at, first = k, e.lastSeen, false
		}
	}
	delete(t.keys, oldest)
}

// Log writes msg with args to l at level when Allow(key) says so. A
// summary line carries two more attributes: "suppressed", the number of
// occurrences not written since the key's previous line, and "interval".
// Lines that start a new run are written at first, summaries at repeat
// (a peer that went down is a warning once; that it is still down may be
// worth less).
func (t *Throttle) Log(l *slog.Logger, key string, first, repeat slog.Level, msg string, args ...any) {
	d := t.Allow(key)
	if !d.Log {
		return
	}
	if d.First && d.Suppressed == 0 {
		l.Log(context.Background(), first, msg, args...)
		return
	}
	args = append(args[:len(args):len(args)], "suppressed", d.Suppressed, "interval", t.cfg.Interval.String())
	if d.First {
		l.Log(context.Background(), first, msg, args...)
		return
	}
	l.Log(context.Background(), repeat, msg, args...)
}
