// Package osdisktest holds test helpers for data directories on real file
// systems.
package osdisktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// MakeReadOnly makes dir unwritable for the rest of test t and undoes it
// in cleanup, for tests of read-only data directories: mode 0555, and for
// root, whom modes do not stop, the immutable attribute (chattr +i). It
// skips t when neither works.
func MakeReadOnly(t testing.TB, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	if !writable(dir) {
		return
	}
	if err := exec.Command("chattr", "+i", dir).Run(); err != nil {
		t.Skipf("cannot make %s read-only as this user: chattr +i: %v", dir, err)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
	if writable(dir) {
		t.Skipf("cannot make %s read-only as this user", dir)
	}
}

// writable reports whether a file can be created in dir.
func writable(dir string) bool {
	probe := filepath.Join(dir, ".probe")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		return false
	}
	_ = os.Remove(probe)
	return true
}
