package memdisk

import (
	"errors"
	"fmt"

	"github.com/chronik-streaming/chronik/core/disk"
)

// ErrReleased: Release of a lock that was already released.
var ErrReleased = errors.New("memdisk: lock already released")

// lockState is the disk.Locker state of a Disk. A Disk returned by Crash
// starts unlocked: the process that held the lock died with the power.
type lockState struct {
	// holder is the number of the live holder, 0 when the disk is free.
	holder uint64
	// taken counts the locks ever granted, to number the holders.
	taken uint64
}

var _ disk.Locker = (*Disk)(nil)

// Lock implements disk.Locker: it refuses while another lock on d is held
// and not released.
func (d *Disk) Lock() (disk.Lock, error) {
	if d.lock.holder != 0 {
		return nil, fmt.Errorf("memdisk: lock: held by holder %d: %w", d.lock.holder, disk.ErrLocked)
	}
	d.lock.taken++
	d.lock.holder = d.lock.taken
	return &heldLock{d: d, holder: d.lock.holder}, nil
}

// Locked reports whether a lock on d is held, for tests.
func (d *Disk) Locked() bool { return d.lock.holder != 0 }

// heldLock is one granted lock.
type heldLock struct {
	d        *Disk
	holder   uint64
	released bool
}

// Release implements disk.Lock.
func (l *heldLock) Release() error {
	if l.released {
		return fmt.Errorf("memdisk: release holder %d: %w", l.holder, ErrReleased)
	}
	l.released = true
	if l.d.lock.holder == l.holder {
		l.d.lock.holder = 0
	}
	return nil
}
