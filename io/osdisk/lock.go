package osdisk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/chronik-streaming/chronik/core/disk"
)

// LockFile is the name, in the root, of the file whose flock(2) marks the
// directory as in use. It also records the holder's pid and start time so
// that a refused process can name it. The file is never removed: deleting
// it while another process opens it would let two processes lock two
// different files of the same name.
const LockFile = ".lock"

// writeCheckFile is created and removed by CheckWritable.
const writeCheckFile = ".write-check"

var _ disk.Locker = (*Disk)(nil)

// Lock implements disk.Locker with an exclusive, non-blocking flock(2) on
// LockFile. The kernel releases it when the process dies, however it dies,
// so a crashed broker never leaves a stale lock behind. Locks are per open
// file, so a second Lock in the same process is refused as well.
func (d *Disk) Lock() (disk.Lock, error) {
	f, err := d.root.OpenFile(LockFile, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: open lock file: %w", d.dir, err)
	}
	if err := flock(f); err != nil {
		holder := readHolder(f)
		_ = f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &lockedError{msg: fmt.Sprintf("data directory %s is in use by another process: %s (it holds %s); stop it or use another directory",
				d.dir, holder, filepath.Join(d.dir, LockFile))}
		}
		return nil, fmt.Errorf("data directory %s: lock %s: %w", d.dir, LockFile, err)
	}
	// The holder line is informational; a torn or stale line only makes a
	// refusal message less precise, so it is not synced.
	line := fmt.Sprintf("pid %d started %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(line), 0)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("data directory %s: write lock file: %w", d.dir, err)
	}
	return &dirLock{dir: d.dir, f: f}, nil
}

// lockedError is the refusal of Lock: it satisfies errors.Is(err,
// disk.ErrLocked) without repeating the sentinel's text after a message
// that already says it.
type lockedError struct{ msg string }

func (e *lockedError) Error() string { return e.msg }

// Is reports disk.ErrLocked.
func (e *lockedError) Is(target error) bool { return target == disk.ErrLocked }

// maxHolderBytes bounds what is read of a lock file written by someone
// else.
const maxHolderBytes = 256

// readHolder returns the holder line of a lock file, or "holder unknown".
func readHolder(f *os.File) string {
	buf := make([]byte, maxHolderBytes)
	n, _ := f.ReadAt(buf, 0)
	line := strings.TrimSpace(strings.SplitN(string(buf[:n]), "\n", 2)[0])
	if line == "" {
		return "holder unknown"
	}
	// The file may hold anything; keep the message printable.
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, line)
}

// dirLock is a held lock.
type dirLock struct {
	dir string
	f   *os.File
}

// Release implements disk.Lock: closing the file drops the flock.
func (l *dirLock) Release() error {
	if l.f == nil {
		return fmt.Errorf("data directory %s: lock already released", l.dir)
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("data directory %s: release lock: %w", l.dir, err)
	}
	return nil
}

// CheckWritable creates, writes and removes a small file in the root, so
// that a read-only or unwritable data directory is reported at startup in
// those words rather than later, as a failure of whatever write happens to
// come first.
func (d *Disk) CheckWritable() error {
	f, err := d.root.OpenFile(writeCheckFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err == nil {
		_, err = f.Write([]byte("chronik\n"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := d.root.Remove(writeCheckFile); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", d.dir, err)
	}
	return nil
}
