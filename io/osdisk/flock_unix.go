//go:build unix

package osdisk

import (
	"errors"
	"os"
	"syscall"
)

// errWouldBlock is what flock returns when another open file holds the
// lock.
var errWouldBlock = syscall.EWOULDBLOCK

// flock takes an exclusive flock(2) on f without waiting, retrying when a
// signal interrupts the call.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
