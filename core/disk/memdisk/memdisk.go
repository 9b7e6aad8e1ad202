// Package memdisk is an in-memory disk.Disk for tests, with page-cache
// semantics that make crash testing meaningful:
//
//   - Every file keeps two versions: its current contents (what reads see)
//     and its synced contents (what survives a crash). File.Sync copies the
//     first to the second.
//   - The namespace has two versions too: the current names and the durable
//     names. Creating, renaming or removing a file, and creating or
//     removing a directory (MkdirAll, Remove, RemoveAll), changes only the
//     current names; SyncDir of the parent makes the change durable, and
//     WriteFileAtomic does that itself.
//   - Crash returns a new Disk holding only durable names with their synced
//     contents, optionally keeping a torn prefix of unsynced appends. A
//     name is kept only when every directory above it is durable too: a
//     file created in a directory whose own creation was never synced
//     vanishes with it, and a directory removed (RemoveAll) without a sync
//     of its parent comes back with the durable contents it had.
//
// Simplifications, chosen because Chronik never relies on the opposite:
// Rename moves files only; RemoveAll of a directory is all or nothing at a
// crash (a real file system may also keep a part of the removals made
// inside it); names are paths, so a SyncDir inside a directory that was
// removed and created again, before its parent was synced, forgets the
// durable names of the old directory (a crash brings that directory back
// without them). SetDirsDurableAtOnce restores the older model, in which
// directory changes were durable at once, for tests written against it.
//
// A Disk is not safe for concurrent use. The disk contract allows Sync to
// run on another goroutine; tests that use memdisk must run SyncJob.Run on
// the same goroutine as everything else (which deterministic tests do
// anyway).
package memdisk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/chronik-streaming/chronik/core/disk"
)

// TempSuffix names the temporary file WriteFileAtomic writes before the
// rename, the same suffix the real disk (io/osdisk) uses.
const TempSuffix = ".tmp"

// Errors specific to memdisk.
var (
	// ErrInvalidPath: an absolute path or one escaping the root.
	ErrInvalidPath = errors.New("memdisk: invalid path")
	// ErrClosed: an operation on a closed File.
	ErrClosed = errors.New("memdisk: file already closed")
	// ErrIsDir: a file operation on a directory, or the reverse.
	ErrIsDir = errors.New("memdisk: is a directory")
	// ErrNotEmpty: Remove of a directory that still has entries.
	ErrNotEmpty = errors.New("memdisk: directory not empty")
	// ErrExist: creating something where a different kind of entry exists.
	ErrExist = errors.New("memdisk: file exists")
)

// Op names an operation for fault injection (see SetFault).
type Op string

// Operations passed to the fault hook.
const (
	OpOpenFile        Op = "open"
	OpReadFile        Op = "readfile"
	OpWriteFileAtomic Op = "writefileatomic"
	OpRemove          Op = "remove"
	OpRemoveAll       Op = "removeall"
	OpRename          Op = "rename"
	OpMkdirAll        Op = "mkdirall"
	OpList            Op = "list"
	OpSyncDir         Op = "syncdir"
	OpReadAt          Op = "readat"
	OpWriteAt         Op = "writeat"
	OpTruncate        Op = "truncate"
	OpSync            Op = "sync"
)

// inode is one file's contents, shared by every name and handle that
// refers to it.
type inode struct {
	data []byte // current contents
	// synced is what survives a crash. After a Sync it aliases data's
	// backing array (shared=true) to make Sync O(1); the first mutation
	// of a byte below len(synced) copies it first.
	synced []byte
	shared bool
	// lost lists byte ranges whose writeback failed while their pages
	// stayed cached and were marked clean (FailWriteback): reads see the
	// current bytes, but Sync persists the old ones there until the range
	// is written again or truncated away.
	lost []span
}

// span is the byte range [from, to) of a file.
type span struct{ from, to int }

// without returns spans minus [from, to).
func without(spans []span, from, to int) []span {
	if len(spans) == 0 {
		return spans
	}
	var out []span
	for _, s := range spans {
		if s.to <= from || s.from >= to {
			out = append(out, s)
			continue
		}
		if s.from < from {
			out = append(out, span{s.from, from})
		}
		if s.to > to {
			out = append(out, span{to, s.to})
		}
	}
	return out
}

// Disk is the in-memory disk. The zero value is not usable; call New.
type Disk struct {
	files   map[string]*inode // current names
	durable map[string]*inode // names as of the last SyncDir of their parent
	// dirs holds the current directories, each with a generation number
	// that a removal and re-creation changes (a new directory, as a new
	// inode would be); "." is the root, generation 0. durableDirs holds
	// the directory entries as of the last SyncDir of their parent.
	dirs        map[string]uint64
	durableDirs map[string]uint64
	// durableIn and durableDirIn record, per durable file and directory
	// name, the generation of the parent directory whose SyncDir made it
	// durable: an entry survives a crash only while that directory is the
	// one the durable path leads to (a SyncDir of a directory that was
	// removed and created again made entries of the new one durable, not
	// of the old one).
	durableIn    map[string]uint64
	durableDirIn map[string]uint64
	gen          uint64 // last generation handed out
	// dirsAtOnce: directory changes are durable at once (the older model,
	// for tests written against it; see SetDirsDurableAtOnce).
	dirsAtOnce bool
	fault      func(op Op, name string) error
	syncs      int
	dirSyncs   int
	lock       lockState // see lock.go
	// names counts the changes of names, current or durable
	// (NamesVersion); durableNames those of durable names
	// (DurableNamesVersion).
	names, durableNames uint64
	// pending holds, per directory, the names directly inside it whose
	// entry (file or directory, current or durable) changed since its
	// last SyncDir (touch): every other name of the directory is durable
	// as that sync left it, so a sync looks at these alone. A sync walked
	// every name of the disk before, and the broker syncs its partition
	// directory at every segment roll and after every checkpoint it
	// rewrites. scanAlways (tests) walks every name instead.
	pending    map[string]map[string]struct{}
	scanAlways bool
}

// bumpNames notes a change of a name, current or durable.
func (d *Disk) bumpNames() { d.names++ }

// touch notes that name's entry changed (created, replaced, renamed,
// removed, or its durable entry forgotten), for the next SyncDir of its
// parent to look at. Every such change touches the name, so pending
// misses none of the names a sync would change.
func (d *Disk) touch(name string) {
	if name == "." {
		return // the root is no directory's entry
	}
	dir := dirOf(name)
	set := d.pending[dir]
	if set == nil {
		if d.pending == nil {
			d.pending = map[string]map[string]struct{}{}
		}
		set = map[string]struct{}{}
		d.pending[dir] = set
	}
	set[name] = struct{}{}
}

// Compile-time checks that the types satisfy the contract.
var (
	_ disk.Disk = (*Disk)(nil)
	_ disk.File = (*File)(nil)
)

// New returns an empty disk.
func New() *Disk {
	return &Disk{
		files:        make(map[string]*inode),
		durable:      make(map[string]*inode),
		dirs:         map[string]uint64{".": 0},
		durableDirs:  map[string]uint64{".": 0},
		durableIn:    make(map[string]uint64),
		durableDirIn: make(map[string]uint64),
	}
}

// SetDirsDurableAtOnce makes directory creations and removals (MkdirAll,
// Remove of a directory, RemoveAll) durable at once, as memdisk did before
// it modelled directory durability; file names still need SyncDir. For
// tests that crash a disk whose directories nobody synced; the broker must
// not need it.
func (d *Disk) SetDirsDurableAtOnce(on bool) { d.dirsAtOnce = on }

// isDir reports whether c is a current directory.
func (d *Disk) isDir(c string) bool {
	_, ok := d.dirs[c]
	return ok
}

// SetFault installs a hook consulted before every operation; a non-nil
// return fails the operation with that error and changes nothing. Pass
// nil to remove it. Tests use it to fail a sync or a write.
func (d *Disk) SetFault(f func(op Op, name string) error) { d.fault = f }

// NamesVersion changes whenever a name changes: a file or directory
// created, renamed or removed, or a directory sync that made a name
// durable or forgot one (calls that change nothing leave it). Checkers that derive something from the
// names (which segments exist, which survive a crash) keep it while the
// version stays. Contents do not move it: writes, File.Sync, and
// WriteFileAtomic over an existing name whose directory has nothing else
// pending. A Disk returned by Crash counts on from the crashed one's
// version.
func (d *Disk) NamesVersion() uint64 { return d.names }

// DurableNamesVersion changes whenever a durable name changes (what
// DurableNames lists and whether a crash keeps it: a sync that made a name
// durable or forgot one, a durable directory entry written or forgotten),
// and may change at other times too; creations, removals and renames that
// no sync has made durable yet leave it. A Disk returned by Crash counts
// on from the crashed one's version.
func (d *Disk) DurableNamesVersion() uint64 { return d.durableNames }

// bumpDurable notes a change of a durable name (DurableNamesVersion).
func (d *Disk) bumpDurable() { d.durableNames++ }

// SyncCount is the number of successful File.Sync calls so far
// (WriteFileAtomic's internal sync included), for tests that count fsyncs.
func (d *Disk) SyncCount() int { return d.syncs }

// DirSyncCount is the number of successful SyncDir calls so far
// (WriteFileAtomic's own directory sync not included: SyncCount counts
// that write once), for tests that count fsyncs.
func (d *Disk) DirSyncCount() int { return d.dirSyncs }

func (d *Disk) check(op Op, name string) error {
	if d.fault == nil {
		return nil
	}
	if err := d.fault(op, name); err != nil {
		return fmt.Errorf("memdisk: %s %s: %w", op, name, err)
	}
	return nil
}

// Clean is path.Clean with a fast path for a name that is clean already,
// as every name the broker builds is: one scan that finds no empty, "."
// or ".." element (and no NUL byte, which clean rejects) instead of
// path.Clean's rebuild of the name, byte by byte. Memdisk and the
// simulator's disk clean every name of every call.
func Clean(name string) string {
	if isClean(name) {
		return name
	}
	return path.Clean(name)
}

// isClean reports that path.Clean(p) == p for a relative p without NUL
// bytes: p is "." or its elements are neither empty (a leading, doubled or
// trailing slash) nor "." nor "..". Bytes above '/' (digits, letters, '_')
// cannot start any of these, so they cost one comparison each.
func isClean(p string) bool {
	if p == "." {
		return true
	}
	if p == "" || p[len(p)-1] == '/' {
		return false
	}
	atStart := true // p[i] starts an element
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c > '/' {
			atStart = false
			continue
		}
		switch c {
		case 0:
			return false
		case '/':
			if atStart {
				return false // an empty element
			}
			atStart = true
			continue
		case '.':
			// "." or ".." as a whole element.
			if atStart && (i+1 == len(p) || p[i+1] == '/' ||
				(p[i+1] == '.' && (i+2 == len(p) || p[i+2] == '/'))) {
				return false
			}
		}
		atStart = false
	}
	return true
}

// clean normalizes a slash-separated relative path.
func clean(name string) (string, error) {
	c := Clean(name)
	if strings.HasPrefix(c, "/") || c == ".." || strings.HasPrefix(c, "../") || strings.ContainsRune(c, 0) {
		return "", fmt.Errorf("%w: %q", ErrInvalidPath, name)
	}
	return c, nil
}

func notExist(op Op, name string) error { return &notExistError{op: op, name: name} }

// notExistError reads "memdisk: <op> <name>: " and disk.ErrNotExist's text,
// as fmt.Errorf with %w would, and wraps it; the text is built only when
// asked for. partlog looks for files that are mostly absent (the active
// segment's index files at every open) and ignores the error, whose
// formatting cost more than the lookup.
type notExistError struct {
	op   Op
	name string
}

func (e *notExistError) Error() string {
	return "memdisk: " + string(e.op) + " " + e.name + ": " + disk.ErrNotExist.Error()
}

func (e *notExistError) Unwrap() error { return disk.ErrNotExist }

// OpenFile implements disk.Disk.
func (d *Disk) OpenFile(name string, create bool) (disk.File, error) {
	c, err := clean(name)
	if err != nil {
		return nil, err
	}
	if err := d.check(OpOpenFile, c); err != nil {
		return nil, err
	}
	if d.isDir(c) {
		return nil, fmt.Errorf("memdisk: open %s: %w", c, ErrIsDir)
	}
	n := d.files[c]
	if n == nil {
		if !create {
			return nil, notExist(OpOpenFile, c)
		}
		if !d.isDir(dirOf(c)) {
			return nil, notExist(OpOpenFile, dirOf(c))
		}
		n = &inode{}
		d.files[c] = n
		d.touch(c)
		d.bumpNames()
	}
	return &File{d: d, n: n, name: c}, nil
}

// ReadFile implements disk.Disk.
func (d *Disk) ReadFile(name string) ([]byte, error) {
	c, err := clean(name)
	if err != nil {
		return nil, err
	}
	if err := d.check(OpReadFile, c); err != nil {
		return nil, err
	}
	n := d.files[c]
	if n == nil {
		return nil, notExist(OpReadFile, c)
	}
	return bytes.Clone(n.data), nil
}

// WriteFileAtomic implements disk.Disk with the same steps as a real disk
// (temporary file, sync, rename, SyncDir), so a crash can only observe the
// old or the new contents, and other pending names in the directory become
// durable too, as a real directory fsync would make them.
func (d *Disk) WriteFileAtomic(name string, data []byte) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if err := d.check(OpWriteFileAtomic, c); err != nil {
		return err
	}
	dir := dirOf(c)
	if !d.isDir(dir) {
		return notExist(OpWriteFileAtomic, dir)
	}
	if d.isDir(c) {
		return fmt.Errorf("memdisk: write %s: %w", c, ErrIsDir)
	}
	if d.files[c] == nil {
		d.bumpNames() // a new name (an existing one keeps its name, new inode)
	}
	// The temporary file is written, synced and renamed over c: what
	// stays is c naming the new inode and no file of the temporary's name.
	tmp := c + TempSuffix
	if d.files[tmp] != nil {
		d.bumpNames() // a file of the temporary's name goes with the rename
		delete(d.files, tmp)
		d.touch(tmp)
	}
	content := bytes.Clone(data)
	n := &inode{data: content, synced: content[:len(content):len(content)], shared: true}
	d.syncs++
	d.files[c] = n
	d.touch(c)
	d.syncDir(dir)
	return nil
}

// Remove implements disk.Disk.
func (d *Disk) Remove(name string) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if err := d.check(OpRemove, c); err != nil {
		return err
	}
	if d.files[c] != nil {
		d.bumpNames()
		delete(d.files, c)
		d.touch(c)
		return nil
	}
	if !d.isDir(c) || c == "." {
		return notExist(OpRemove, c)
	}
	if len(d.children(c)) > 0 {
		return fmt.Errorf("memdisk: remove %s: %w", c, ErrNotEmpty)
	}
	d.bumpNames()
	d.removeTree(c)
	return nil
}

// RemoveAll implements disk.Disk. Like a removal of a file, it is durable
// only after SyncDir of the parent: a crash before that brings name back
// with everything durable below it.
func (d *Disk) RemoveAll(name string) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	if err := d.check(OpRemoveAll, c); err != nil {
		return err
	}
	if d.files[c] != nil {
		d.bumpNames()
		delete(d.files, c)
		d.touch(c)
		if d.dirsAtOnce {
			delete(d.durable, c)
			d.bumpDurable()
		}
		return nil
	}
	if d.isDir(c) {
		d.bumpNames()
		d.removeTree(c)
	}
	return nil
}

// removeTree deletes dir and everything below it from the current names
// (and from the durable ones too when directories are durable at once).
func (d *Disk) removeTree(dir string) {
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	for k := range d.files {
		if strings.HasPrefix(k, prefix) {
			delete(d.files, k)
			d.touch(k)
		}
	}
	for k := range d.dirs {
		if strings.HasPrefix(k, prefix) && k != "." {
			delete(d.dirs, k)
			d.touch(k)
		}
	}
	if dir != "." {
		delete(d.dirs, dir)
		d.touch(dir)
	}
	if d.dirsAtOnce {
		d.purgeDurable(dir)
	}
}

// purgeDurable forgets every durable name below dir (and dir itself,
// unless it is the root): the directory they lived in is gone for good.
func (d *Disk) purgeDurable(dir string) {
	d.bumpDurable()
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	for k := range d.durable {
		if strings.HasPrefix(k, prefix) {
			delete(d.durable, k)
			delete(d.durableIn, k)
			d.touch(k)
		}
	}
	for k := range d.durableDirs {
		if strings.HasPrefix(k, prefix) && k != "." {
			delete(d.durableDirs, k)
			delete(d.durableDirIn, k)
			d.touch(k)
		}
	}
	if dir != "." {
		delete(d.durableDirs, dir)
		delete(d.durableDirIn, dir)
		d.touch(dir)
	}
}

// Rename implements disk.Disk for files.
func (d *Disk) Rename(oldName, newName string) error {
	o, err := clean(oldName)
	if err != nil {
		return err
	}
	n, err := clean(newName)
	if err != nil {
		return err
	}
	if err := d.check(OpRename, o); err != nil {
		return err
	}
	if d.isDir(o) || d.isDir(n) {
		return fmt.Errorf("memdisk: rename %s to %s: %w", o, n, ErrIsDir)
	}
	in := d.files[o]
	if in == nil {
		return notExist(OpRename, o)
	}
	if !d.isDir(dirOf(n)) {
		return notExist(OpRename, dirOf(n))
	}
	if o == n {
		return nil
	}
	d.bumpNames()
	d.files[n] = in
	delete(d.files, o)
	d.touch(n)
	d.touch(o)
	return nil
}

// MkdirAll implements disk.Disk. A new directory is durable only after
// SyncDir of its parent (unless SetDirsDurableAtOnce).
func (d *Disk) MkdirAll(dir string) error {
	c, err := clean(dir)
	if err != nil {
		return err
	}
	if err := d.check(OpMkdirAll, c); err != nil {
		return err
	}
	for p := c; p != "."; p = dirOf(p) {
		if d.files[p] != nil {
			return fmt.Errorf("memdisk: mkdir %s: %w", p, ErrExist)
		}
	}
	for p := c; p != "."; p = dirOf(p) {
		if d.isDir(p) {
			break
		}
		d.bumpNames()
		d.gen++
		d.dirs[p] = d.gen
		d.touch(p)
	}
	if d.dirsAtOnce {
		// Parents first, so that each records its parent's generation.
		for _, p := range ancestors(c) {
			if d.durableDirs[p] != d.dirs[p] {
				d.bumpNames()
				d.purgeDurable(p) // bumps DurableNamesVersion
				d.durableDirs[p] = d.dirs[p]
				d.durableDirIn[p] = d.dirs[dirOf(p)]
				d.touch(p)
			}
		}
	}
	return nil
}

// children returns the names of the current entries of dir, sorted.
func (d *Disk) children(dir string) []string {
	var out []string
	for k := range d.files {
		if parentIs(k, dir) {
			out = append(out, path.Base(k))
		}
	}
	for k := range d.dirs {
		if k != "." && parentIs(k, dir) {
			out = append(out, path.Base(k))
		}
	}
	sort.Strings(out)
	return out
}

// EachFile calls fn with the name (not the path) of every current file
// directly in dir, in no particular order, without sorting or copying
// them: for checkers that look for one name, where List would sort them
// all. Directories are left out; fn must not change the disk.
func (d *Disk) EachFile(dir string, fn func(name string)) {
	c, err := clean(dir)
	if err != nil {
		return
	}
	for k := range d.files {
		if parentIs(k, c) {
			fn(path.Base(k))
		}
	}
}

// AnyFile reports whether fn accepts the name (not path) of a file
// directly inside dir, stopping at the first it accepts; directories are
// left out, and fn must not change the disk. The names are visited in no
// particular order.
func (d *Disk) AnyFile(dir string, fn func(name string) bool) bool {
	c, err := clean(dir)
	if err != nil {
		return false
	}
	for k := range d.files {
		if parentIs(k, c) && fn(path.Base(k)) {
			return true
		}
	}
	return false
}

// List implements disk.Disk.
func (d *Disk) List(dir string) ([]string, error) {
	c, err := clean(dir)
	if err != nil {
		return nil, err
	}
	if err := d.check(OpList, c); err != nil {
		return nil, err
	}
	if !d.isDir(c) {
		return nil, notExist(OpList, c)
	}
	return d.children(c), nil
}

// SyncDir implements disk.Disk: the current names directly inside dir,
// files and directories, become the durable ones. A subdirectory removed
// (or removed and created again) since the last sync loses its durable
// contents with it.
func (d *Disk) SyncDir(dir string) error {
	c, err := clean(dir)
	if err != nil {
		return err
	}
	if err := d.check(OpSyncDir, c); err != nil {
		return err
	}
	if !d.isDir(c) {
		return notExist(OpSyncDir, c)
	}
	d.syncDir(c)
	d.dirSyncs++
	return nil
}

// syncDir makes the current entries of dir durable. Only the names
// touched since dir's last sync can differ from their durable entries;
// syncName does to each what the walk of every name (syncDirScan) does.
// A sync that makes no name durable or forgets none (the broker's
// checkpoints rewrite the same names) leaves NamesVersion alone.
func (d *Disk) syncDir(dir string) {
	if d.scanAlways {
		d.syncDirScan(dir)
		return
	}
	set := d.pending[dir]
	if len(set) == 0 {
		return
	}
	changed := false
	gen := d.dirs[dir]
	for k := range set {
		// syncName may touch k again (never another name of dir).
		if d.syncName(k, gen) {
			changed = true
		}
	}
	clear(set)
	if changed {
		d.bumpNames()
		d.bumpDurable()
	}
}

// syncName makes the entries named k, a name directly inside a directory
// of generation gen, what a sync of that directory makes them, and
// reports whether a name became durable or was forgotten: the steps of
// syncDirScan, for one name.
func (d *Disk) syncName(k string, gen uint64) bool {
	changed := false
	n := d.files[k]
	if n == nil && d.durable[k] != nil {
		delete(d.durable, k)
		delete(d.durableIn, k)
		changed = true
	}
	if n != nil {
		if in, ok := d.durableIn[k]; !ok || in != gen {
			changed = true
			d.durableIn[k] = gen
		}
		if d.durable[k] != n {
			changed = changed || d.durable[k] == nil
			d.durable[k] = n
		}
	}
	g, isDir := d.dirs[k]
	if _, ok := d.durableDirs[k]; ok && !isDir {
		d.purgeDurable(k) // gone for good
		changed = true
	}
	if isDir {
		if old, ok := d.durableDirs[k]; !ok || old != g || d.durableDirIn[k] != gen {
			changed = true
		}
		d.durableDirs[k] = g
		d.durableDirIn[k] = gen
	}
	return changed
}

// syncDirScan is syncDir walking every name of the disk, as memdisk did
// before it kept the pending names (scanAlways: tests compare the two).
func (d *Disk) syncDirScan(dir string) {
	changed := false
	gen := d.dirs[dir]
	for k := range d.durable {
		if parentIs(k, dir) && d.files[k] == nil {
			delete(d.durable, k)
			delete(d.durableIn, k)
			changed = true
		}
	}
	for k, n := range d.files {
		if parentIs(k, dir) {
			if in, ok := d.durableIn[k]; !ok || in != gen {
				changed = true
				d.durableIn[k] = gen
			}
			if d.durable[k] != n {
				changed = changed || d.durable[k] == nil
				d.durable[k] = n
			}
		}
	}
	for k := range d.durableDirs {
		if k == "." || dirOf(k) != dir {
			continue
		}
		if _, ok := d.dirs[k]; !ok {
			d.purgeDurable(k) // gone for good
			changed = true
		}
	}
	for k, g := range d.dirs {
		if k != "." && dirOf(k) == dir {
			if old, ok := d.durableDirs[k]; !ok || old != g || d.durableDirIn[k] != gen {
				changed = true
			}
			d.durableDirs[k] = g
			d.durableDirIn[k] = gen
		}
	}
	if changed {
		d.bumpNames()
		d.bumpDurable()
	}
	clear(d.pending[dir])
}

// ancestors lists the directories from the top down to c itself ("a",
// "a/b", "a/b/c"), without the root.
func ancestors(c string) []string {
	var out []string
	for p := c; p != "."; p = dirOf(p) {
		out = append(out, p)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// survives reports whether an entry of parent made durable while parent
// had generation in is still reachable from the root through durable
// entries, each made durable in the generation of the directory that
// holds it now: whether a crash keeps it.
func (d *Disk) survives(parent string, in uint64) bool {
	for parent != "." {
		g, ok := d.durableDirs[parent]
		if !ok || g != in {
			return false
		}
		in = d.durableDirIn[parent]
		parent = dirOf(parent)
	}
	return in == 0
}

// fileSurvives and dirSurvives report whether a crash keeps the durable
// file or directory name.
func (d *Disk) fileSurvives(name string) bool {
	return d.durable[name] != nil && d.survives(dirOf(name), d.durableIn[name])
}

func (d *Disk) dirSurvives(name string) bool {
	if name == "." {
		return true
	}
	_, ok := d.durableDirs[name]
	return ok && d.survives(dirOf(name), d.durableDirIn[name])
}

// UndurableChanges counts the names (files and directories) whose
// creation, rename or removal a crash would revert now: those that differ
// between the current and the durable namespace.
func (d *Disk) UndurableChanges() int {
	n := 0
	for k, in := range d.files {
		if d.durable[k] != in || !d.fileSurvives(k) {
			n++
		}
	}
	for k := range d.durable {
		if d.files[k] == nil && d.fileSurvives(k) {
			n++
		}
	}
	for k, g := range d.dirs {
		if dg, ok := d.durableDirs[k]; !ok || dg != g || !d.dirSurvives(k) {
			n++
		}
	}
	for k := range d.durableDirs {
		if _, ok := d.dirs[k]; !ok && d.dirSurvives(k) {
			n++
		}
	}
	return n
}

// dirOf is path.Dir of a clean relative name (every name memdisk keeps),
// without path.Dir's cleaning of the result: the parent of a clean name
// is clean already.
func dirOf(c string) string {
	i := strings.LastIndexByte(c, '/')
	if i < 0 {
		return "."
	}
	return c[:i]
}

// parentIs reports whether path.Dir(k) == dir for a clean name k and a
// clean directory dir, without path.Dir's cleaning: a directory sync
// tests every name on the disk, and every atomic write syncs one.
func parentIs(k, dir string) bool {
	if dir == "." {
		return dirOf(k) == dir
	}
	return len(k) > len(dir)+1 && k[len(dir)] == '/' && k[:len(dir)] == dir && strings.IndexByte(k[len(dir)+1:], '/') < 0
}

// SplitMix64 is a tiny deterministic PRNG (Steele, Lea and Flood's
// splitmix64) so that crash tests can choose torn lengths from a seed
// without math/rand, which core may not import.
type SplitMix64 struct{ state uint64 }

// NewSplitMix64 returns a generator seeded with seed.
func NewSplitMix64(seed uint64) *SplitMix64 { return &SplitMix64{state: seed} }

// Uint64 returns the next value.
func (s *SplitMix64) Uint64() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Intn returns a value in [0, n) (n > 0); its signature fits Crash.
// The modulo bias is irrelevant for choosing crash points.
func (s *SplitMix64) Intn(n int) int { return int(s.Uint64() % uint64(n)) }

// Crash returns the disk as a reboot after a power failure would find it:
// only durable names, each with its synced contents. d itself is left
// untouched (and should no longer be used by the test).
//
// When keep is nil every unsynced change is lost. Otherwise keep(n)
// returns a choice in [0, n) and files (in sorted name order, so the same
// keep sequence gives the same result) lose unsynced data partially:
//
//   - a file that was only appended to since its last sync keeps the
//     synced bytes plus the first keep(u+1) of its u unsynced bytes, the
//     torn tail of an interrupted write-back;
//   - a file overwritten or truncated since its last sync ends up either
//     as synced (keep(2)==0) or with all of its current contents.
func (d *Disk) Crash(keep func(n int) int) *Disk {
	nd := New()
	nd.dirsAtOnce = d.dirsAtOnce
	nd.gen = d.gen
	nd.names = d.names + 1
	nd.durableNames = d.durableNames + 1
	for k, g := range d.durableDirs {
		if k != "." && d.dirSurvives(k) {
			nd.dirs[k] = g
			nd.durableDirs[k] = g
			nd.durableDirIn[k] = d.durableDirIn[k]
		}
	}
	names := make([]string, 0, len(d.durable))
	for k := range d.durable {
		if d.fileSurvives(k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	// A file durable under two names (a renamed file whose old directory
	// was not synced yet) stays one inode.
	fresh := make(map[*inode]*inode, len(names))
	for _, k := range names {
		old := d.durable[k]
		n := fresh[old]
		if n == nil {
			n = &inode{data: crashContents(old, keep)}
			n.synced = n.data[:len(n.data):len(n.data)]
			n.shared = true
			fresh[old] = n
		}
		nd.files[k] = n
		nd.durable[k] = n
		nd.durableIn[k] = d.durableIn[k]
	}
	return nd
}

// crashContents picks what one file holds after a crash.
func crashContents(n *inode, keep func(int) int) []byte {
	s := len(n.synced)
	// Clean-but-unwritten pages (FailWriteback) are never written back,
	// so no torn prefix of them survives.
	if keep == nil || len(n.lost) > 0 {
		return bytes.Clone(n.synced)
	}
	if len(n.data) >= s && bytes.Equal(n.data[:s], n.synced) {
		k := keep(len(n.data) - s + 1)
		return bytes.Clone(n.data[:s+k])
	}
	if keep(2) == 0 {
		return bytes.Clone(n.synced)
	}
	return bytes.Clone(n.data)
}

// Corrupt XORs mask into the byte at off of name, in both the current and
// the synced contents: silent media corruption that a CRC must catch.
func (d *Disk) Corrupt(name string, off int64, mask byte) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	n := d.files[c]
	if n == nil {
		return notExist("corrupt", c)
	}
	if off < 0 || off >= int64(len(n.data)) {
		return fmt.Errorf("memdisk: corrupt %s at %d: outside %d bytes", c, off, len(n.data))
	}
	n.unshare()
	n.data[off] ^= mask
	if off < int64(len(n.synced)) {
		n.synced[off] ^= mask
	}
	return nil
}

// DurableSyncedSizes maps every file name a crash would keep to the size
// of its synced contents: what survives of it for sure (a torn tail may
// add to it).
func (d *Disk) DurableSyncedSizes() map[string]int64 {
	out := make(map[string]int64, len(d.durable))
	for k, n := range d.durable {
		if d.fileSurvives(k) {
			out[k] = int64(len(n.synced))
		}
	}
	return out
}

// DurableNames lists every durable file name, sorted: what a crash would
// keep.
func (d *Disk) DurableNames() []string { return d.DurableNamesFunc(nil) }

// DurableNamesFunc lists the durable file names that keep accepts (every
// one when keep is nil), sorted. keep runs before the durability check, so
// a checker looking for a few files spares the check of all the others.
func (d *Disk) DurableNamesFunc(keep func(name string) bool) []string {
	var out []string
	d.EachDurableName(keep, func(name string) { out = append(out, name) })
	sort.Strings(out)
	return out
}

// EachDurableName calls fn with every durable file name that keep accepts
// (every one when keep is nil), in no particular order: DurableNamesFunc
// without its list and sort, for a caller that orders the names its own
// way. fn must not change the disk.
func (d *Disk) EachDurableName(keep func(name string) bool, fn func(name string)) {
	// Names of one directory share its survival (fileSurvives walks the
	// directories up to the root): it is looked up once per run of names
	// with the same parent and generation.
	var parent string
	var in uint64
	survives, known := false, false
	for k, n := range d.durable {
		if n == nil || (keep != nil && !keep(k)) {
			continue
		}
		if p, i := dirOf(k), d.durableIn[k]; !known || p != parent || i != in {
			parent, in, survives, known = p, i, d.survives(p, i), true
		}
		if survives {
			fn(k)
		}
	}
}

// Synced returns the contents of name that a power loss would keep for
// certain (its durable name and synced bytes, no torn tail), for checkers
// that judge durability from ground truth; false when the name is not
// durable. The slice aliases the disk's memory: read it at once, never
// write it. No fault hook is consulted.
func (d *Disk) Synced(name string) ([]byte, bool) {
	c, err := clean(name)
	if err != nil {
		return nil, false
	}
	n := d.durable[c]
	if n == nil {
		return nil, false
	}
	return n.synced, true
}

// Current returns the current contents of name (the page cache's view,
// what ReadFile reads) without copying them and without consulting the
// fault hook, for checkers; false when the file does not exist. The
// slice aliases the disk's memory: read it at once, never write it.
func (d *Disk) Current(name string) ([]byte, bool) {
	c, err := clean(name)
	if err != nil {
		return nil, false
	}
	n := d.files[c]
	if n == nil {
		return nil, false
	}
	return n.data, true
}

// unshare gives synced its own copy before data is mutated below
// len(synced).
func (n *inode) unshare() {
	if n.shared {
		n.synced = bytes.Clone(n.synced)
		n.shared = false
	}
}

// mutating is called before bytes at position from and above change.
func (n *inode) mutating(from int) {
	if from < len(n.synced) {
		n.unshare()
	}
}

// File is an open memdisk file.
type File struct {
	d      *Disk
	n      *inode
	name   string
	closed bool
}

func (f *File) checkOp(op Op) error {
	if f.closed {
		return fmt.Errorf("memdisk: %s %s: %w", op, f.name, ErrClosed)
	}
	return f.d.check(op, f.name)
}

// ReadAt implements disk.File.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if err := f.checkOp(OpReadAt); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("memdisk: read %s: negative offset %d", f.name, off)
	}
	if off >= int64(len(f.n.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements disk.File.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if err := f.checkOp(OpWriteAt); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("memdisk: write %s: negative offset %d", f.name, off)
	}
	n := f.n
	o := int(off)
	n.mutating(min(o, len(n.data)))
	if o > len(n.data) {
		n.data = append(n.data, make([]byte, o-len(n.data))...)
	}
	if o == len(n.data) {
		if need := len(n.data) + len(p); need > cap(n.data) {
			// Grow by doubling: append's 1.25x growth for large slices
			// makes appending to a big segment copy it over and over.
			// No floor: a file written whole once (a sealed segment's
			// index, a checkpoint) gets its size, not 4 KiB; a growing
			// one pays a few more small copies.
			grown := make([]byte, len(n.data), max(2*cap(n.data), need))
			copy(grown, n.data)
			n.data = grown
		}
		n.data = append(n.data, p...)
		n.lost = without(n.lost, o, o+len(p))
		return len(p), nil
	}
	end := o + len(p)
	if end > len(n.data) {
		n.data = append(n.data, make([]byte, end-len(n.data))...)
	}
	copy(n.data[o:end], p)
	n.lost = without(n.lost, o, end)
	return len(p), nil
}

// Size implements disk.File.
func (f *File) Size() (int64, error) {
	if f.closed {
		return 0, fmt.Errorf("memdisk: size %s: %w", f.name, ErrClosed)
	}
	return int64(len(f.n.data)), nil
}

// Truncate implements disk.File.
func (f *File) Truncate(size int64) error {
	if err := f.checkOp(OpTruncate); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("memdisk: truncate %s: negative size %d", f.name, size)
	}
	n := f.n
	s := int(size)
	n.mutating(min(s, len(n.data)))
	n.lost = without(n.lost, s, int(^uint(0)>>1))
	if s <= len(n.data) {
		n.data = n.data[:s]
	} else {
		n.data = append(n.data, make([]byte, s-len(n.data))...)
	}
	return nil
}

// Sync implements disk.File. It must run on the same goroutine as every
// other call (see the package comment).
func (f *File) Sync() error {
	if err := f.checkOp(OpSync); err != nil {
		return err
	}
	n := f.n
	if len(n.lost) > 0 {
		// Clean-but-unwritten pages are not written back: the synced
		// contents keep their old bytes (zeros past the old end) there.
		synced := bytes.Clone(n.data)
		for _, s := range n.lost {
			for i := s.from; i < min(s.to, len(synced)); i++ {
				synced[i] = 0
				if i < len(n.synced) {
					synced[i] = n.synced[i]
				}
			}
		}
		n.synced, n.shared = synced, false
		f.d.syncs++
		return nil
	}
	n.synced = n.data[:len(n.data):len(n.data)]
	n.shared = true
	f.d.syncs++
	return nil
}

// FailWriteback models what Linux does to a file whose fsync failed (the
// "fsyncgate" behaviour): the error is reported once and the unsynced
// bytes are not retried. With dropPages their pages are evicted, so the
// current contents revert to the synced ones. Without it the pages stay
// cached and clean: reads still see the unsynced bytes, but no later Sync
// writes them (the synced contents keep the old bytes there) until they
// are written again or truncated away. The simulator calls it when it
// fails a Sync.
func (d *Disk) FailWriteback(name string, dropPages bool) error {
	c, err := clean(name)
	if err != nil {
		return err
	}
	n := d.files[c]
	if n == nil {
		return notExist(OpSync, name)
	}
	if dropPages {
		n.data = bytes.Clone(n.synced)
		n.shared, n.lost = false, nil
		return nil
	}
	first := 0
	for first < min(len(n.data), len(n.synced)) && n.data[first] == n.synced[first] {
		first++
	}
	if first < len(n.data) {
		n.lost = without(n.lost, first, len(n.data))
		n.lost = append(n.lost, span{first, len(n.data)})
	}
	return nil
}

// Close implements disk.File. Unsynced data stays unsynced.
func (f *File) Close() error {
	if f.closed {
		return fmt.Errorf("memdisk: close %s: %w", f.name, ErrClosed)
	}
	f.closed = true
	return nil
}
