// Package osdisk implements Chronik's storage contract (core/disk) on real
// files of the operating system.
//
// Every path is resolved through an os.Root opened on the disk's root
// directory, so no name (not even one that passes through a symbolic link)
// can reach a file outside the root. Names are checked lexically first as
// well, so that an absolute path or a ".." escape fails with a clear
// ErrInvalidPath instead of an OS-specific message.
//
// Durability follows POSIX: File.Sync is fsync of the file, SyncDir is fsync
// of the directory, and WriteFileAtomic combines both with a rename.
package osdisk

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/chronik-streaming/chronik/core/disk"
)

// ErrInvalidPath is returned (wrapped) for a name that is empty, absolute,
// contains a NUL byte, or escapes the root with "..".
var ErrInvalidPath = errors.New("osdisk: invalid path")

// TempSuffix is appended to a name to form the temporary file that
// WriteFileAtomic writes before renaming it over the name. A crash between
// the write and the rename can leave such a file behind; the next
// WriteFileAtomic of the same name truncates and reuses it, so at most one
// leftover exists per name. Callers that list directories should ignore
// names ending in TempSuffix.
const TempSuffix = ".tmp"

// Permissions for new files and directories. The broker's data is not meant
// for other users to write, but reading it (for example with chronik dump run
// as another user) is harmless.
const (
	filePerm = 0o644
	dirPerm  = 0o755
)

// Compile-time checks that the types satisfy the contract.
var (
	_ disk.Disk = (*Disk)(nil)
	_ disk.File = (*file)(nil)
)

// Disk is a disk.Disk backed by the directory tree under one root directory.
// It is safe for concurrent use, although the contract only requires Sync to
// run concurrently with the other methods.
type Disk struct {
	dir  string
	root *os.Root
}

// New creates root (and its parents) if needed and returns a Disk whose
// paths are relative to it. Close releases the directory handle.
//
// The directories it creates are made durable (an fsync of each one's
// parent): every name below root is only as durable as root's own entry,
// and the broker syncs names from root down, never above it.
func New(root string) (*Disk, error) {
	var created []string
	for p := filepath.Clean(root); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		created = append(created, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return nil, fmt.Errorf("osdisk: create root %q: %w", root, err)
	}
	for _, p := range created {
		if err := fsyncDir(filepath.Dir(p)); err != nil {
			return nil, fmt.Errorf("osdisk: create root %q: sync %q: %w", root, filepath.Dir(p), err)
		}
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("osdisk: open root %q: %w", root, err)
	}
	return &Disk{dir: root, root: r}, nil
}

// Dir returns the root directory the Disk was created with.
func (d *Disk) Dir() string { return d.dir }

// Close releases the handle on the root directory. Files already opened
// stay usable; new operations on d fail.
func (d *Disk) Close() error {
	if err := d.root.Close(); err != nil {
		return fmt.Errorf("osdisk: close root %q: %w", d.dir, err)
	}
	return nil
}

// OpenFile opens name for reading and writing, creating it empty when create
// is true and it does not exist.
func (d *Disk) OpenFile(name string, create bool) (disk.File, error) {
	clean, err := cleanPath(name)
	if err != nil {
		return nil, wrapErr("open", name, err)
	}
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := d.root.OpenFile(clean, flag, filePerm)
	if err != nil {
		return nil, wrapErr("open", name, err)
	}
	return &file{name: clean, f: f}, nil
}

// ReadFile returns the whole contents of name.
func (d *Disk) ReadFile(name string) ([]byte, error) {
	clean, err := cleanPath(name)
	if err != nil {
		return nil, wrapErr("read", name, err)
	}
	data, err := d.root.ReadFile(clean)
	if err != nil {
		return nil, wrapErr("read", name, err)
	}
	return data, nil
}

// WriteFileAtomic replaces name with data so that after a crash name holds
// either its old contents or data. Steps, and why each is needed:
//
//  1. Write data to name+TempSuffix in the same directory (a rename is only
//     atomic within one file system, and the same directory guarantees that).
//  2. Sync the temporary file: without it the rename could become durable
//     before the data, and a crash would leave name empty or torn.
//  3. Rename it over name: the atomic switch.
//  4. Sync the directory: makes the rename itself durable.
//
// A fixed temporary name (rather than a random one) is safe because the
// contract calls every method but Sync from a single goroutine, and it bounds
// crash leftovers to one file per name.
func (d *Disk) WriteFileAtomic(name string, data []byte) (err error) {
	clean, err := cleanPath(name)
	if err != nil {
		return wrapErr("write atomic", name, err)
	}
	if clean == "." {
		return wrapErr("write atomic", name, fmt.Errorf("%w: is the root directory", ErrInvalidPath))
	}
	tmp := clean + TempSuffix
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return wrapErr("write atomic: create temp", name, err)
	}
	defer func() {
		if err != nil {
			// Best effort: the temp file is garbage either way, and a later
			// WriteFileAtomic would truncate it.
			_ = d.root.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return wrapErr("write atomic: write temp", name, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return wrapErr("write atomic: sync temp", name, err)
	}
	if err := f.Close(); err != nil {
		return wrapErr("write atomic: close temp", name, err)
	}
	if err := d.root.Rename(tmp, clean); err != nil {
		return wrapErr("write atomic: rename", name, err)
	}
	if err := d.syncDir(path.Dir(clean)); err != nil {
		return wrapErr("write atomic: sync dir", name, err)
	}
	return nil
}

// Remove deletes a file or an empty directory.
func (d *Disk) Remove(name string) error {
	clean, err := cleanNonRoot(name)
	if err != nil {
		return wrapErr("remove", name, err)
	}
	if err := d.root.Remove(clean); err != nil {
		return wrapErr("remove", name, err)
	}
	return nil
}

// RemoveAll deletes name and everything below it; an absent name is not an
// error. The root itself cannot be removed.
func (d *Disk) RemoveAll(name string) error {
	clean, err := cleanNonRoot(name)
	if err != nil {
		return wrapErr("remove all", name, err)
	}
	if err := d.root.RemoveAll(clean); err != nil {
		return wrapErr("remove all", name, err)
	}
	return nil
}

// Rename atomically moves oldName to newName, replacing newName.
func (d *Disk) Rename(oldName, newName string) error {
	oldClean, err := cleanNonRoot(oldName)
	if err != nil {
		return wrapErr("rename", oldName, err)
	}
	newClean, err := cleanNonRoot(newName)
	if err != nil {
		return wrapErr("rename", newName, err)
	}
	if err := d.root.Rename(oldClean, newClean); err != nil {
		return wrapErr("rename", oldName+" -> "+newName, err)
	}
	return nil
}

// MkdirAll creates dir and its parents; an existing directory is not an
// error.
func (d *Disk) MkdirAll(dir string) error {
	clean, err := cleanPath(dir)
	if err != nil {
		return wrapErr("mkdir", dir, err)
	}
	if err := d.root.MkdirAll(clean, dirPerm); err != nil {
		return wrapErr("mkdir", dir, err)
	}
	return nil
}

// List returns the sorted names (not paths) of the entries of dir. "."
// lists the root.
func (d *Disk) List(dir string) ([]string, error) {
	clean, err := cleanPath(dir)
	if err != nil {
		return nil, wrapErr("list", dir, err)
	}
	f, err := d.root.Open(clean)
	if err != nil {
		return nil, wrapErr("list", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, wrapErr("list", dir, err)
	}
	slices.Sort(names)
	return names, nil
}

// SyncDir makes creations, renames and removals inside dir durable by
// fsyncing the directory itself.
func (d *Disk) SyncDir(dir string) error {
	clean, err := cleanPath(dir)
	if err != nil {
		return wrapErr("sync dir", dir, err)
	}
	if err := d.syncDir(clean); err != nil {
		return wrapErr("sync dir", dir, err)
	}
	return nil
}

// fsyncDir fsyncs the directory at the host path dir (outside the root).
func fsyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return syncAndClose(f)
}

// syncAndClose fsyncs f and closes it, reporting the first error.
func syncAndClose(f *os.File) error {
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs an already cleaned directory path. Linux accepts fsync on a
// directory opened read-only, which is the only way to open one.
func (d *Disk) syncDir(clean string) error {
	f, err := d.root.Open(clean)
	if err != nil {
		return err
	}
	return syncAndClose(f)
}

// file is a disk.File on an *os.File. ReadAt, WriteAt, Truncate and Sync are
// positional or whole-file operations, so *os.File allows Sync to run on
// another goroutine while the event loop writes.
type file struct {
	name string
	f    *os.File
}

// ReadAt reads len(p) bytes at off. A short read at the end of the file
// returns io.EOF unwrapped, as io.ReaderAt callers compare it directly.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		return n, wrapErr("read at", f.name, err)
	}
	return n, err
}

// WriteAt writes p at off, extending the file if needed.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.f.WriteAt(p, off)
	if err != nil {
		return n, wrapErr("write at", f.name, err)
	}
	return n, nil
}

// Size returns the current length of the file.
func (f *file) Size() (int64, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return 0, wrapErr("stat", f.name, err)
	}
	return fi.Size(), nil
}

// Truncate cuts or extends the file to size bytes.
func (f *file) Truncate(size int64) error {
	if err := f.f.Truncate(size); err != nil {
		return wrapErr("truncate", f.name, err)
	}
	return nil
}

// Sync makes every write and truncate issued before the call durable (fsync).
func (f *file) Sync() error {
	if err := f.f.Sync(); err != nil {
		return wrapErr("sync", f.name, err)
	}
	return nil
}

// Close releases the file without syncing it.
func (f *file) Close() error {
	if err := f.f.Close(); err != nil {
		return wrapErr("close", f.name, err)
	}
	return nil
}

// cleanPath validates a slash-separated relative name and returns its clean
// form. "." names the root. Names like "a/../b" that stay inside the root are
// accepted; os.Root additionally rejects escapes through symbolic links.
func cleanPath(name string) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidPath)
	case strings.IndexByte(name, 0) >= 0:
		return "", fmt.Errorf("%w: contains NUL", ErrInvalidPath)
	case path.IsAbs(name):
		return "", fmt.Errorf("%w: absolute", ErrInvalidPath)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w: escapes the root", ErrInvalidPath)
	}
	return clean, nil
}

// cleanNonRoot is cleanPath for operations that must not act on the root
// itself (removing or renaming it would break the Disk).
func cleanNonRoot(name string) (string, error) {
	clean, err := cleanPath(name)
	if err != nil {
		return "", err
	}
	if clean == "." {
		return "", fmt.Errorf("%w: is the root directory", ErrInvalidPath)
	}
	return clean, nil
}

// pathError carries the operation and name and makes errors.Is(err,
// disk.ErrNotExist) hold whenever the OS error means "does not exist",
// while errors.Is(err, fs.ErrNotExist) and errors.As to *fs.PathError keep
// working through Unwrap.
type pathError struct {
	op   string
	name string
	err  error
}

func (e *pathError) Error() string { return "osdisk: " + e.op + " " + e.name + ": " + e.err.Error() }

func (e *pathError) Unwrap() error { return e.err }

// Is reports disk.ErrNotExist for OS not-exist errors and disk.ErrNoSpace
// for a full device or quota (ENOSPC, EDQUOT), so core can tell a disk
// that will have room again from a failing one.
func (e *pathError) Is(target error) bool {
	switch target {
	case disk.ErrNotExist:
		return errors.Is(e.err, fs.ErrNotExist)
	case disk.ErrNoSpace:
		return errors.Is(e.err, syscall.ENOSPC) || errors.Is(e.err, syscall.EDQUOT)
	}
	return false
}

func wrapErr(op, name string, err error) error {
	return &pathError{op: op, name: name, err: err}
}
