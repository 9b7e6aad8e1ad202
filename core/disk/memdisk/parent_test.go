package memdisk

import (
	"path"
	"testing"
)

// TestParentIs: parentIs agrees with path.Dir on clean names.
func TestParentIs(t *testing.T) {
	names := []string{"a", "b", "ab", "a/b", "a/bc", "ab/c", "a/b/c", "a/b/c.tmp", "abc/d/e", "x/a/b"}
	dirs := []string{".", "a", "ab", "a/b", "a/b/c", "abc/d", "x"}
	for _, k := range names {
		for _, dir := range dirs {
			if got, want := parentIs(k, dir), path.Dir(k) == dir; got != want {
				t.Errorf("parentIs(%q, %q) = %v, path.Dir says %v", k, dir, got, want)
			}
		}
	}
}
