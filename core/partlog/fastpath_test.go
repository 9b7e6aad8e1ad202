package partlog

import (
	"path"
	"sort"
	"testing"
)

// TestLogPaths: the paths a log builds from its cached prefix are
// path.Join's, for plain directories and others.
func TestLogPaths(t *testing.T) {
	for _, dir := range []string{"t-0", "a/b-1", ".", "", "/", "a//b", "a/", "./a", "/abs/t-2"} {
		l := &Log{dir: dir, prefix: pathPrefix(dir)}
		for _, base := range []int64{0, 7, 1234567890123, -5} {
			for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
				if got, want := l.segFilePath(base, suffix), path.Join(dir, segmentName(base, suffix)); got != want {
					t.Errorf("dir %q: segFilePath(%d, %q) = %q, want %q", dir, base, suffix, got, want)
				}
			}
		}
		for _, name := range []string{checkpointFile, "x", "..", ".", "a/b", ""} {
			if got, want := l.path(name), path.Join(dir, name); got != want {
				t.Errorf("dir %q: path(%q) = %q, want %q", dir, name, got, want)
			}
		}
	}
}

// TestEpochAtBisection: epochAt answers as sort.Search over the entries
// did, for every offset around every entry.
func TestEpochAtBisection(t *testing.T) {
	for n := range 9 {
		var c epochCache
		for i := range n {
			c.entries = append(c.entries, epochEntry{epoch: int32(i * 2), start: int64(i * 10)})
		}
		for off := int64(-2); off <= int64(n*10+2); off++ {
			i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].start > off })
			wantEpoch, wantOK := int32(-1), i > 0
			if wantOK {
				wantEpoch = c.entries[i-1].epoch
			}
			if e, ok := c.epochAt(off); e != wantEpoch || ok != wantOK {
				t.Fatalf("%d entries, offset %d: epochAt = %d, %v; want %d, %v", n, off, e, ok, wantEpoch, wantOK)
			}
		}
	}
}
