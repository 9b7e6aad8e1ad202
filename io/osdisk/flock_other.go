//go:build !unix

package osdisk

import (
	"errors"
	"os"
)

// errWouldBlock is never returned where flock(2) does not exist.
var errWouldBlock = errors.New("osdisk: lock held")

// flock is a no-op where flock(2) does not exist: the lock file still
// records its holder, but nothing stops a second process.
func flock(*os.File) error { return nil }
