package broker

import (
	"errors"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

// TestSecondBrokerOnOneDiskRefused: while one broker lives on a disk, a
// second broker.New on it fails with disk.ErrLocked (two writers of one
// log would lose acknowledged records); a graceful Shutdown, a kill
// (ReleaseDisk) and a power loss (memdisk.Crash) each free the disk.
func TestSecondBrokerOnOneDiskRefused(t *testing.T) {
	tb := newTestBroker(t)
	env := Env{Disk: tb.disk, Replier: tb.replier, Syncer: tb.syncer, Logger: testLogger{t}, Random: tb.random}
	if _, err := New(tb.cfg, env, tb.nowMs); !errors.Is(err, disk.ErrLocked) {
		t.Fatalf("second broker on a live broker's disk: err = %v, want disk.ErrLocked", err)
	}
	if !tb.disk.Locked() {
		t.Fatal("the refused broker released the first broker's lock")
	}

	tb.restart() // Shutdown releases, so the next New gets the disk
	if _, err := New(tb.cfg, env, tb.nowMs); !errors.Is(err, disk.ErrLocked) {
		t.Fatalf("second broker after a restart: err = %v, want disk.ErrLocked", err)
	}

	// kill -9: the process's death releases the lock.
	if err := tb.b.ReleaseDisk(); err != nil {
		t.Fatal(err)
	}
	second, err := New(tb.cfg, env, tb.nowMs)
	if err != nil {
		t.Fatalf("broker after the first was killed: %v", err)
	}

	// A power loss: the crashed disk comes back unlocked, while the old
	// disk stays locked by the broker that was on it.
	crashed := tb.disk.Crash(nil)
	if crashed.Locked() {
		t.Fatal("a disk after a power loss is still locked")
	}
	env.Disk = crashed
	third, err := New(tb.cfg, env, tb.nowMs)
	if err != nil {
		t.Fatalf("broker after a power loss: %v", err)
	}
	if err := second.ReleaseDisk(); err != nil {
		t.Fatal(err)
	}
	if !crashed.Locked() {
		t.Fatal("releasing the lock on the old disk freed the crashed one")
	}
	third.Shutdown(tb.nowMs)
	if crashed.Locked() {
		t.Fatal("Shutdown kept the disk locked")
	}
}

// TestBrokerWithDriverLock: a broker whose driver holds the lock
// (Env.DiskLock) takes none of its own and leaves the driver's alone.
func TestBrokerWithDriverLock(t *testing.T) {
	d := memdisk.New()
	lock, err := d.Lock()
	if err != nil {
		t.Fatal(err)
	}
	tb := newTestBroker(t)
	env := Env{Disk: d, Replier: tb.replier, Syncer: tb.syncer, Logger: testLogger{t}, Random: tb.random, DiskLock: lock}
	b, err := New(tb.cfg, env, tb.nowMs)
	if err != nil {
		t.Fatal(err)
	}
	b.Shutdown(tb.nowMs)
	if !d.Locked() {
		t.Fatal("the broker released its driver's lock")
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	if err := lock.Release(); !errors.Is(err, memdisk.ErrReleased) {
		t.Fatalf("second release: err = %v, want memdisk.ErrReleased", err)
	}
}
