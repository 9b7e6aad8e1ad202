package osdisk

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/io/osdisk/osdisktest"
)

// TestLockExcludesSecondHolder: a second Lock on the same directory, even
// through another Disk value of the same process, is refused with
// disk.ErrLocked and a message naming the directory and the holder's pid;
// after Release it succeeds.
func TestLockExcludesSecondHolder(t *testing.T) {
	d, dir := newDisk(t)
	lock, err := d.Lock()
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	other, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.Lock()
	if !errors.Is(err, disk.ErrLocked) {
		t.Fatalf("second Lock: err = %v, want disk.ErrLocked", err)
	}
	for _, want := range []string{dir, fmt.Sprintf("pid %d", os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second Lock's error %q does not name %q", err, want)
		}
	}
	if err := lock.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := lock.Release(); err == nil {
		t.Error("a second Release succeeded")
	}
	again, err := other.Lock()
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}
	_ = again.Release()
}

// TestLockReleasedWhenHolderDies: another process holds the lock (this
// test binary, re-run as a helper); Lock names its pid; once it is killed
// with SIGKILL the kernel drops its flock and Lock succeeds without any
// cleanup of the lock file.
func TestLockReleasedWhenHolderDies(t *testing.T) {
	if os.Getenv("OSDISK_LOCK_HELPER_DIR") != "" {
		t.Skip("helper process")
	}
	d, dir := newDisk(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "OSDISK_LOCK_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper did not take the lock: %q, %v", line, err)
	}
	_, err = d.Lock()
	if !errors.Is(err, disk.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d ", cmd.Process.Pid)) {
		t.Fatalf("Lock while the helper holds it: err = %v, want disk.ErrLocked naming pid %d", err, cmd.Process.Pid)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	lock, err := d.Lock()
	if err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	defer lock.Release()
	data, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil || !strings.HasPrefix(string(data), fmt.Sprintf("pid %d started ", os.Getpid())) {
		t.Fatalf("lock file after taking over = %q, %v; want this process's pid", data, err)
	}
}

// TestLockHelperProcess is the holder for TestLockReleasedWhenHolderDies:
// it locks the directory, says so, and waits to be killed.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("OSDISK_LOCK_HELPER_DIR")
	if dir == "" {
		t.Skip("only run as a helper process")
	}
	d, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lock(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute) // the parent kills it long before
}

// TestCheckWritable: a writable root passes and leaves nothing behind; a
// read-only one fails with a message saying so.
func TestCheckWritable(t *testing.T) {
	d, dir := newDisk(t)
	if err := d.CheckWritable(); err != nil {
		t.Fatalf("CheckWritable on a writable root: %v", err)
	}
	if names, _ := d.List("."); len(names) != 0 {
		t.Fatalf("CheckWritable left %v behind", names)
	}
	osdisktest.MakeReadOnly(t, dir)
	err := d.CheckWritable()
	if err == nil || !strings.Contains(err.Error(), "data directory "+dir+" is not writable") {
		t.Fatalf("CheckWritable on a read-only root: err = %v", err)
	}
}
