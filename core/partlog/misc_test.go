package partlog

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"default", func(*Config) {}, true},
		{"minimum segment", func(c *Config) { c.SegmentBytes = 14 }, true},
		{"segment too small", func(c *Config) { c.SegmentBytes = 13 }, false},
		{"segment above 2 GiB is clamped", func(c *Config) { c.SegmentBytes = 1 << 40 }, true},
		{"segment.ms zero", func(c *Config) { c.SegmentMs = 0 }, false},
		{"retention forever", func(c *Config) { c.RetentionMs, c.RetentionBytes = -1, -1 }, true},
		{"retention.ms below -1", func(c *Config) { c.RetentionMs = -2 }, false},
		{"retention.bytes below -1", func(c *Config) { c.RetentionBytes = -2 }, false},
		{"index interval negative", func(c *Config) { c.IndexIntervalBytes = -1 }, false},
		{"index interval zero", func(c *Config) { c.IndexIntervalBytes = 0 }, true},
		{"max message negative", func(c *Config) { c.MaxMessageBytes = -1 }, false},
		{"producer ids negative", func(c *Config) { c.MaxProducerIDs = -1 }, false},
		{"producer ids default", func(c *Config) { c.MaxProducerIDs = 0 }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			_, oerr := Open(memdisk.New(), testDir, c, 0)
			if (oerr == nil) != tc.ok {
				t.Fatalf("Open = %v, want ok=%v", oerr, tc.ok)
			}
		})
	}
	if n := DefaultConfig().normalized().MaxProducerIDs; n != DefaultMaxProducerIDs {
		t.Fatalf("default producer bound %d", n)
	}
}

// TestInvariantsPanic checks that checkInvariants names what is broken.
func TestInvariantsPanic(t *testing.T) {
	cases := []struct {
		name   string
		damage func(l *Log)
		want   string
	}{
		{"hw above leo", func(l *Log) { l.hw = l.LogEndOffset() + 1 }, "HW <= LEO"},
		{"start above hw", func(l *Log) { l.logStart = l.hw + 1 }, "logStart <= HW"},
		{"durable above leo", func(l *Log) { l.durableEnd = l.LogEndOffset() + 1 }, "durable <= LEO"},
		{"segment gap", func(l *Log) { l.segs[1].base++ }, "segments contiguous"},
		{"epoch order", func(l *Log) { l.epochs.entries = append(l.epochs.entries, epochEntry{0, 1}) }, "epoch cache increasing"},
		{"producer bound", func(l *Log) { l.producers.max = 0 }, "producer table bounded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig()
			cfg.SegmentBytes = 200
			l := openLog(t, memdisk.New(), cfg, 0)
			mustAppend(t, l, idemBatch(1, 0, 0, 3), 1, 0)
			mustAppend(t, l, batchOf(3, 100, 1, 1), 1, 0)
			mustAppend(t, l, batchOf(3, 100, 1, 1), 1, 0)
			l.SetHighWatermark(3)
			tc.damage(l)
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), tc.want) {
					t.Fatalf("panic %v, want one naming %q", r, tc.want)
				}
			}()
			l.checkInvariants()
		})
	}
}

// TestCheckInvariantsSealedSegments: CheckInvariants looks at the sealed
// segments again when the segment list changed since it last looked at
// all of them, and at least every fullSegCheckEvery checks in any case
// (a damaged sealed segment in an unchanged list, which no method of the
// log makes, is still reported, later).
func TestCheckInvariantsSealedSegments(t *testing.T) {
	setup := func(t *testing.T) *Log {
		cfg := smallConfig()
		cfg.SegmentBytes = 200
		l := openLog(t, memdisk.New(), cfg, 0)
		for range 4 {
			mustAppend(t, l, batchOf(3, 100, 1, 1), 1, 0)
		}
		if len(l.segs) < 4 {
			t.Fatalf("%d segments, want at least 4", len(l.segs))
		}
		l.CheckInvariants()
		return l
	}
	expectPanic := func(t *testing.T, what string, f func()) {
		t.Helper()
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "segments contiguous") {
				t.Fatalf("%s: panic %v, want one naming %q", what, r, "segments contiguous")
			}
		}()
		f()
	}
	t.Run("list changed", func(t *testing.T) {
		l := setup(t)
		l.segs[0].next-- // damage that no method makes
		l.segs = l.segs[:len(l.segs):len(l.segs)]
		l.segs = append(l.segs, &segment{base: l.active().next, next: l.active().next, log: l.active().log})
		l.segs[len(l.segs)-2].sealed = true
		l.changes++
		expectPanic(t, "after a change of the list", l.CheckInvariants)
	})
	t.Run("periodic", func(t *testing.T) {
		l := setup(t)
		l.segs[0].next--
		expectPanic(t, "within fullSegCheckEvery checks", func() {
			for range fullSegCheckEvery {
				l.changes++
				l.CheckInvariants()
			}
		})
	})
}

// TestCheckInvariantsActiveIndex: CheckInvariants resumes the walk of
// the active segment's index at the last entry it checked, so a bad new
// entry, or the end moved below a checked one, is reported at once, and a
// damaged old entry (which no method of the log makes) is reported within
// fullSegCheckEvery checks.
func TestCheckInvariantsActiveIndex(t *testing.T) {
	setup := func(t *testing.T) *Log {
		cfg := smallConfig()
		cfg.SegmentBytes, cfg.IndexIntervalBytes = 1<<20, 1
		l := openLog(t, memdisk.New(), cfg, 0)
		for range 6 {
			mustAppend(t, l, batchOf(3, 100, 1, 1), 1, 0)
			l.CheckInvariants()
		}
		if n := len(l.active().index); n < 4 {
			t.Fatalf("%d index entries, want at least 4", n)
		}
		if l.indexSinceFull == 0 {
			t.Fatal("every check walked the whole index")
		}
		return l
	}
	expectPanic := func(t *testing.T, what string, f func()) {
		t.Helper()
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "index of segment") {
				t.Fatalf("%s: panic %v, want one naming the index", what, r)
			}
		}()
		f()
	}
	t.Run("new entry", func(t *testing.T) {
		l := setup(t)
		s := l.active()
		s.index = append(s.index, s.index[len(s.index)-1])
		l.changes++
		expectPanic(t, "a repeated new entry", l.CheckInvariants)
	})
	t.Run("end below a checked entry", func(t *testing.T) {
		l := setup(t)
		s := l.active()
		s.size = int64(s.index[len(s.index)-1].pos)
		l.changes++
		expectPanic(t, "size at the last entry", l.CheckInvariants)
	})
	t.Run("periodic", func(t *testing.T) {
		l := setup(t)
		l.active().index[1].rel = l.active().index[0].rel
		expectPanic(t, "within fullSegCheckEvery checks", func() {
			for range fullSegCheckEvery {
				l.changes++
				l.CheckInvariants()
			}
		})
	})
}

func TestCloseAndDelete(t *testing.T) {
	d := memdisk.New()
	d.MkdirAll("other")
	l := openLog(t, d, smallConfig(), 0)
	mustAppend(t, l, batchOf(2, 10, 1, 1), 0, 0)
	if l.Dir() != testDir || l.SizeBytes() == 0 {
		t.Fatalf("dir %q size %d", l.Dir(), l.SizeBytes())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	if _, err := l.Read(0, 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	l = openLog(t, d, smallConfig(), 0)
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	names, _ := d.List(".")
	if strings.Join(names, ",") != "other" {
		t.Fatalf("left behind: %v", names)
	}
	// Opening again starts from scratch.
	l = openLog(t, d, smallConfig(), 0)
	if l.LogEndOffset() != 0 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
}

// TestOpenCreatesDir covers a nested directory whose names, the first
// segment's included, become durable with the first sync job (StepDirs,
// before its data), not at Open: a partition creation costs the event
// loop no fsync.
func TestOpenCreatesDir(t *testing.T) {
	d := memdisk.New()
	l, err := Open(d, "data/topic-3", smallConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	checkLog(t, l)
	if syncs := d.SyncCount(); syncs != 0 || len(d.DurableNames()) != 0 {
		t.Fatalf("after Open: %d fsyncs, durable names %v; want none", syncs, d.DurableNames())
	}
	mustAppend(t, l, batchOf(1, 10, 0, 1), 0, 0)
	job, _ := l.StartSync()
	if steps := job.SyncSteps(); steps[0] != StepDirs {
		t.Fatalf("first job's steps %v: want the directories first", steps)
	}
	l.FinishSync(job, job.Run())
	if got := strings.Join(d.DurableNames(), ","); got != "data/topic-3/00000000000000000000.log,data/topic-3/leader-epoch-checkpoint.job" {
		t.Fatalf("durable names %s", got)
	}
	mustAppend(t, l, batchOf(1, 10, 0, 2), 0, 0)
	job, _ = l.StartSync()
	if steps := job.SyncSteps(); slices.Contains(steps, StepDirs) {
		t.Fatalf("second job's steps %v: the directories were synced already", steps)
	}
	l.FinishSync(job, job.Run())
}

// A write on the loop that must be durable when it returns, in a new
// directory no job has synced yet, syncs the directories first:
// DeleteRecords' checkpoint must not vanish with its directory.
func TestNewDirSyncedBeforeLoopCheckpoint(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 0)
	mustAppend(t, l, batchOf(1, 10, 0, 1), 0, 0)
	mustAppend(t, l, batchOf(1, 10, 0, 2), 0, 0)
	l.SetHighWatermark(1)
	if err := l.DeleteRecordsBefore(1); err != nil {
		t.Fatal(err)
	}
	re := openLog(t, d.Crash(nil), smallConfig(), 0)
	if re.LogStartOffset() != 1 {
		t.Fatalf("log start %d after a power loss, want DeleteRecords' 1", re.LogStartOffset())
	}
}

// TestSegmentNameFormat: segmentName writes what fmt's %020d writes.
func TestSegmentNameFormat(t *testing.T) {
	for _, base := range []int64{0, 1, 9, 10, 12345, 1 << 40, math.MaxInt64, -1, math.MinInt64} {
		for _, suffix := range []string{"", ".log", ".index"} {
			if got, want := segmentName(base, suffix), fmt.Sprintf("%020d%s", base, suffix); got != want {
				t.Errorf("segmentName(%d, %q) = %q, want %q", base, suffix, got, want)
			}
		}
	}
}

// TestSegPathMatchesJoin checks Log.path's concatenation fast path (the
// prefix of a plain directory) against path.Join, including the
// directories and names it must leave to Join.
func TestSegPathMatchesJoin(t *testing.T) {
	dirs := []string{"data/t-0", "/var/chronik/t-0", "../x", "", ".", "/", "a/", "a//b", "a/./b", "a/../b"}
	names := []string{"00000000000000000000.log", "leader-epoch-checkpoint", "", ".", "..", "a/b", "/abs"}
	for _, d := range dirs {
		for _, n := range names {
			l := &Log{dir: d, prefix: pathPrefix(d)}
			if got, want := l.path(n), path.Join(d, n); got != want {
				t.Errorf("path of %q in %q = %q, path.Join gives %q", n, d, got, want)
			}
		}
	}
}

// TestParseSegmentNameMatchesParseInt pins the hand-written digit parse to
// what strconv.ParseInt gave: the largest base parses, one past it and
// signs or other characters do not.
func TestParseSegmentNameMatchesParseInt(t *testing.T) {
	for _, c := range []struct {
		name string
		base int64
		ok   bool
	}{
		{"00000000000000000000.log", 0, true},
		{"00000000000000001234.index", 1234, true},
		{"09223372036854775807.timeindex", math.MaxInt64, true},
		{"09223372036854775808.log", 0, false},
		{"99999999999999999999.log", 0, false},
		{"+0000000000000000001.log", 0, false},
		{"-0000000000000000001.log", 0, false},
		{"0000000000000000000a.log", 0, false},
		{"00000000000000000001.txt", 0, false},
		{"0000000000000000001.log", 0, false},
	} {
		base, _, ok := parseSegmentName(c.name)
		if ok != c.ok || base != c.base {
			t.Errorf("parseSegmentName(%q) = %d, %v; want %d, %v", c.name, base, ok, c.base, c.ok)
		}
	}
}
