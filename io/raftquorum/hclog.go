package raftquorum

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/chronik-streaming/chronik/io/logthrottle"
)

// slogAdapter is the hclog.Logger that raft, its transport, its snapshot
// store and raft-wal write to. It forwards to a *slog.Logger, but only at or
// above a floor level (warn by default): raft logs every election,
// heartbeat failure and snapshot at info or debug, which would drown a
// broker's own log and every test run.
type slogAdapter struct {
	logger *slog.Logger
	// name is the hclog name ("raft", "raft-net", "wal", ...), sent as the
	// "component" attribute so that the slog output says who spoke.
	name string
	// implied are the key/value pairs added with With.
	implied []any
	// floor is shared by every logger derived from the same root, so that
	// SetLevel on one of them changes all of them, as in hclog itself.
	floor *atomic.Int32
	// throttle, shared like floor, limits warnings and errors that repeat
	// (see Log).
	throttle *logthrottle.Throttle
}

// repeatInterval is the least time between two lines of one raft warning
// for one peer.
const repeatInterval = 30 * time.Second

// peerKeys are the attributes by which raft names the other voter a
// message is about; a message repeats per peer.
var peerKeys = map[string]bool{"peer": true, "server-id": true, "target": true, "from": true, "candidate": true}

// newSlogAdapter returns an hclog.Logger writing to logger at floor and
// above.
func newSlogAdapter(logger *slog.Logger, floor hclog.Level) *slogAdapter {
	a := &slogAdapter{logger: logger, floor: new(atomic.Int32),
		throttle: logthrottle.MustNew(logthrottle.Config{Interval: repeatInterval, KeysMax: logthrottle.DefaultKeysMax})}
	a.floor.Store(int32(floor))
	return a
}

// slogLevel maps an hclog level onto slog's scale. hclog's Trace sits one
// step (4) below slog's Debug, following slog's spacing.
func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// enabled reports whether a message at level would be written: it must pass
// the floor and the slog handler's own level.
func (a *slogAdapter) enabled(level hclog.Level) bool {
	floor := hclog.Level(a.floor.Load())
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	if floor == hclog.Off || level < floor {
		return false
	}
	return a.logger.Enabled(context.Background(), slogLevel(level))
}

// routineErrors are messages raft logs at ERROR that are routine while a
// voter is down or the node is stopping: they are logged as warnings so
// that an operator's ERROR lines mean something.
var routineErrors = []string{
	"failed to appendEntries to",
	"failed to heartbeat to",
	"failed to make requestVote RPC",
	"failed to decode incoming command",
}

// Log implements hclog.Logger.
func (a *slogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Error {
		for _, prefix := range routineErrors {
			if strings.HasPrefix(msg, prefix) {
				level = hclog.Warn
				break
			}
		}
	}
	if !a.enabled(level) {
		return
	}
	attrs := make([]any, 0, 2+len(a.implied)+len(args))
	if a.name != "" {
		attrs = append(attrs, "component", a.name)
	}
	attrs = append(attrs, a.implied...)
	attrs = append(attrs, args...)
	if level < hclog.Warn {
		a.logger.Log(context.Background(), slogLevel(level), msg, attrs...)
		return
	}
	// While a voter is down, raft repeats its warnings every few hundred
	// milliseconds per peer (heartbeats, appendEntries, votes): the first
	// is written, then one line per repeatInterval with the count.
	a.throttle.Log(a.logger, a.repeatKey(msg, args), slogLevel(level), slogLevel(level), msg, attrs...)
}

// repeatKey identifies a message for throttling: the logger's name, the
// message and the peer it is about, if any.
func (a *slogAdapter) repeatKey(msg string, args []any) string {
	var b strings.Builder
	b.WriteString(a.name)
	b.WriteByte(0)
	b.WriteString(msg)
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && peerKeys[k] {
			fmt.Fprintf(&b, "\x00%s=%v", k, args[i+1])
		}
	}
	return b.String()
}

// Trace implements hclog.Logger.
func (a *slogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (a *slogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (a *slogAdapter) Info(msg string, args ...any) { a.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (a *slogAdapter) Warn(msg string, args ...any) { a.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (a *slogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

// IsTrace implements hclog.Logger.
func (a *slogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }

// IsDebug implements hclog.Logger.
func (a *slogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }

// IsInfo implements hclog.Logger.
func (a *slogAdapter) IsInfo() bool { return a.enabled(hclog.Info) }

// IsWarn implements hclog.Logger.
func (a *slogAdapter) IsWarn() bool { return a.enabled(hclog.Warn) }

// IsError implements hclog.Logger.
func (a *slogAdapter) IsError() bool { return a.enabled(hclog.Error) }

// ImpliedArgs implements hclog.Logger.
func (a *slogAdapter) ImpliedArgs() []any { return a.implied }

// With implements hclog.Logger.
func (a *slogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.implied = append(append([]any(nil), a.implied...), args...)
	return &c
}

// Name implements hclog.Logger.
func (a *slogAdapter) Name() string { return a.name }

// Named implements hclog.Logger: names nest with a dot, as in hclog.
func (a *slogAdapter) Named(name string) hclog.Logger {
	c := *a
	if a.name != "" {
		c.name = a.name + "." + name
	} else {
		c.name = name
	}
	return &c
}

// ResetNamed implements hclog.Logger.
func (a *slogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

// SetLevel implements hclog.Logger; it moves the floor.
func (a *slogAdapter) SetLevel(level hclog.Level) { a.floor.Store(int32(level)) }

// GetLevel implements hclog.Logger; it returns the floor.
func (a *slogAdapter) GetLevel() hclog.Level { return hclog.Level(a.floor.Load()) }

// StandardLogger implements hclog.Logger.
func (a *slogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter implements hclog.Logger: every line written becomes one
// message, at opts.ForceLevel if set and at info otherwise.
func (a *slogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return &lineWriter{adapter: a, level: level}
}

// lineWriter turns writes of a standard library logger into messages.
type lineWriter struct {
	adapter *slogAdapter
	level   hclog.Level
}

// Write logs each line of p. The standard library's log.Logger writes one
// whole line per call, so no partial line is carried between calls.
func (w *lineWriter) Write(p []byte) (int, error) {
	s := bufio.NewScanner(bytes.NewReader(p))
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" {
			w.adapter.Log(w.level, line)
		}
	}
	return len(p), nil
}
