package memdisk

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
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

func TestCleanFastPath(t *testing.T) {
	for _, p := range []string{
		"", ".", "..", "/", "a", "a/b", "a/b.log", "a//b", "a/", "/a", "./a", "a/.", "a/..", "../a",
		"a/./b", "a/../b", ".a", "a.", "..a", "a..", "a/.b/c", "a/b..c", "a\x00b", "topic-0/00000000000000000000.log",
		"a/b/", "//", "a/...", ".../a",
	} {
		if got, want := Clean(p), path.Clean(p); got != want {
			t.Errorf("Clean(%q) = %q, path.Clean gives %q", p, got, want)
		}
		if isClean(p) && (path.Clean(p) != p || strings.ContainsRune(p, 0)) {
			t.Errorf("isClean(%q) but path.Clean gives %q", p, path.Clean(p))
		}
	}
}

// TestCleanExhaustive compares Clean with path.Clean on every name of up
// to 7 bytes over an alphabet that makes every kind of element.
func TestCleanExhaustive(t *testing.T) {
	const alphabet = "a./\x00"
	var walk func(p string)
	walk = func(p string) {
		if got, want := Clean(p), path.Clean(p); got != want {
			t.Fatalf("Clean(%q) = %q, path.Clean gives %q", p, got, want)
		}
		if len(p) == 7 {
			return
		}
		for i := range len(alphabet) {
			walk(p + alphabet[i:i+1])
		}
	}
	walk("")
}

// TestDirOf: dirOf agrees with path.Dir on clean relative names.
func TestDirOf(t *testing.T) {
	for _, k := range []string{".", "a", "ab", "a/b", "a/bc", "ab/c", "a/b/c", "a/b/c.tmp", "abc/d/e"} {
		if got, want := dirOf(k), path.Dir(k); got != want {
			t.Errorf("dirOf(%q) = %q, path.Dir gives %q", k, got, want)
		}
	}
}

// TestNotExistText: the lazily formatted error reads as fmt.Errorf with
// %w would write it, and wraps disk.ErrNotExist.
func TestNotExistText(t *testing.T) {
	err := notExist(OpOpenFile, "a/b.log")
	want := fmt.Errorf("memdisk: %s %s: %w", OpOpenFile, "a/b.log", disk.ErrNotExist)
	if err.Error() != want.Error() || !errors.Is(err, disk.ErrNotExist) {
		t.Fatalf("notExist = %q (is ErrNotExist: %v), want %q", err, errors.Is(err, disk.ErrNotExist), want)
	}
}
