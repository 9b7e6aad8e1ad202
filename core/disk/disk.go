// Package disk defines the storage contract between Chronik's deterministic
// core and whatever environment drives it: real files (io/osdisk), an
// in-memory disk for tests (core/disk/memdisk), or the simulator's faulty
// disk.
//
// The contract mirrors a POSIX file system with a page cache:
//
//   - Writes are visible to reads at once but are durable only after a
//     successful Sync of that file. A crash may lose any unsynced write, or
//     keep a torn prefix of it.
//   - Creating, renaming and removing names is durable only after SyncDir of
//     the parent directory.
//   - Sync may be called from a goroutine other than the one that writes
//     (the real environment runs fsync off the event loop); every other
//     method is called from the single event-loop goroutine.
//
// Paths are slash-separated and relative to the disk's root.
package disk

import "errors"

// ErrNotExist is returned (possibly wrapped) when a named file or directory
// does not exist. Implementations wrap their native error so that
// errors.Is(err, ErrNotExist) holds.
var ErrNotExist = errors.New("disk: file does not exist")

// ErrNoSpace is returned (possibly wrapped) when a write, truncate-extend,
// file creation or fsync failed because the device or the user's quota is
// full (ENOSPC, EDQUOT). Unlike other I/O errors it is expected to pass:
// deleting data or growing the file system cures it, so the broker retries
// the failed partition instead of keeping it offline until a restart.
// Implementations wrap their native error so that errors.Is(err,
// ErrNoSpace) holds.
var ErrNoSpace = errors.New("disk: no space left on device")

// Disk is a directory tree of files.
type Disk interface {
	// OpenFile opens name for reading and writing, creating it empty when
	// create is true and it does not exist. It fails with ErrNotExist when
	// create is false and name is absent.
	OpenFile(name string, create bool) (File, error)
	// ReadFile returns the whole contents of name.
	ReadFile(name string) ([]byte, error)
	// WriteFileAtomic replaces name with data such that after a crash the
	// name holds either its old contents or data, never a mix: it writes a
	// temporary file, syncs it, renames it over name and syncs the
	// directory. It is slow (two fsyncs) and meant for small, rare
	// checkpoint files.
	WriteFileAtomic(name string, data []byte) error
	// Remove deletes a file or an empty directory. Removing an absent name
	// returns an error satisfying errors.Is(err, ErrNotExist).
	Remove(name string) error
	// RemoveAll deletes name and everything below it; absent is not an error.
	RemoveAll(name string) error
	// Rename atomically moves oldName to newName, replacing newName.
	Rename(oldName, newName string) error
	// MkdirAll creates a directory and its parents; existing is not an error.
	MkdirAll(dir string) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	// SyncDir makes creations, renames and removals inside dir durable.
	SyncDir(dir string) error
}

// File is an open file. Offsets are absolute byte positions.
type File interface {
	// ReadAt reads len(p) bytes at off. Like io.ReaderAt it returns a
	// non-nil error (io.EOF at the end) when fewer bytes were read.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt writes p at off, extending the file if needed. The bytes are
	// visible to ReadAt at once and durable only after Sync.
	WriteAt(p []byte, off int64) (int, error)
	// Size returns the current length of the file, synced or not.
	Size() (int64, error)
	// Truncate cuts or extends the file to size bytes. Like writes, it is
	// durable only after Sync.
	Truncate(size int64) error
	// Sync makes every write and truncate issued before the call durable.
	// It may run on a goroutine other than the event loop.
	Sync() error
	// Close releases the file. Unsynced writes are not synced by Close.
	Close() error
}
