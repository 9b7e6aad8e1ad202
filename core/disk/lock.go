package disk

import "errors"

// ErrLocked is returned (wrapped) by Locker.Lock while another holder has
// the disk. The wrapping error names the holder when the disk knows it.
var ErrLocked = errors.New("disk: in use by another process")

// Locker is implemented by a Disk that one process at a time may use. Two
// brokers writing one data directory would overwrite each other's segments
// and checkpoints and lose acknowledged records, so a broker takes the lock
// before it reads or writes anything and keeps it for its whole life.
//
// The lock belongs to the process, not to the Disk value: a crash or kill
// of the process releases it (as the kernel releases flock(2) when a process
// dies), and Release releases it on a graceful stop. Readers that never
// write (chronik dump) do not take it.
type Locker interface {
	// Lock takes the disk for the caller. It fails at once (it never
	// waits) with an error wrapping ErrLocked while another holder is
	// alive, and with another error when the lock cannot be taken at all
	// (an unwritable directory, say).
	Lock() (Lock, error)
}

// Lock is a held Locker lock.
type Lock interface {
	// Release gives the disk back. Releasing twice is an error; a lock
	// whose disk was lost to a crash releases nothing.
	Release() error
}
