package partlog

import (
	"path"
	"testing"
)

// TestLogPaths: the paths a log builds from its cached prefix are
// path.Join's, for plain directories and others.
func TestLogPaths(t *testing.T) {
	for _, dir := range []string{"t-0", "a/b-1", ".", "", "/", "a//b", "a/", "./a", "/abs/t-2"} {
		l := &Log{dir: dir, prefix: pathPrefix(dir)}
		for _, base := range []int64{0, 7, 1234567890123, -5} {
			for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
				if got, want := l.segPath(base, suffix), path.Join(dir, segmentName(base, suffix)); got != want {
					t.Errorf("dir %q: segPath(%d, %q) = %q, want %q", dir, base, suffix, got, want)
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
