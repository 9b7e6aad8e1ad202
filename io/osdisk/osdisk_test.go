package osdisk

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
)

func newDisk(t *testing.T) (*Disk, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data", "root") // New must create parents
	d, err := New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, dir
}

func TestNewCreatesRoot(t *testing.T) {
	_, dir := newDisk(t)
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		t.Fatalf("root not created: %v", err)
	}
}

// TestNewCreatesNestedRoot covers New creating several missing levels
// (each synced into its parent) and opening an existing root again.
func TestNewCreatesNestedRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "b", "data")
	for range 2 {
		d, err := New(root)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.WriteFileAtomic("x", []byte("1")); err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
	}
	if b, err := os.ReadFile(filepath.Join(root, "x")); err != nil || string(b) != "1" {
		t.Fatalf("read back %q, %v", b, err)
	}
}

func TestFileRoundTrip(t *testing.T) {
	d, dir := newDisk(t)
	if err := d.MkdirAll("topic-0"); err != nil {
		t.Fatal(err)
	}
	f, err := d.OpenFile("topic-0/00000000000000000000.log", true)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.WriteAt([]byte("hello"), 0); err != nil || n != 5 {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	// Writing past the end extends the file with zeros.
	if _, err := f.WriteAt([]byte("world"), 10); err != nil {
		t.Fatal(err)
	}
	if size, err := f.Size(); err != nil || size != 15 {
		t.Fatalf("Size = %d, %v; want 15", size, err)
	}
	buf := make([]byte, 15)
	if n, err := f.ReadAt(buf, 0); err != nil || n != 15 {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if want := []byte("hello\x00\x00\x00\x00\x00world"); !bytes.Equal(buf, want) {
		t.Fatalf("ReadAt got %q want %q", buf, want)
	}
	// Short read at the end returns io.EOF itself.
	n, err := f.ReadAt(make([]byte, 10), 10)
	if n != 5 || err != io.EOF {
		t.Fatalf("short ReadAt = %d, %v; want 5, io.EOF", n, err)
	}
	if err := f.Truncate(5); err != nil {
		t.Fatal(err)
	}
	if size, _ := f.Size(); size != 5 {
		t.Fatalf("Size after Truncate = %d", size)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// The bytes are on the real file system under root.
	got, err := os.ReadFile(filepath.Join(dir, "topic-0", "00000000000000000000.log"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("os.ReadFile = %q, %v", got, err)
	}
	// Reopen without create keeps the contents.
	f, err = d.OpenFile("topic-0/00000000000000000000.log", false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size, _ := f.Size(); size != 5 {
		t.Fatalf("Size after reopen = %d", size)
	}
}

func TestOpenMissing(t *testing.T) {
	d, _ := newDisk(t)
	_, err := d.OpenFile("nope", false)
	if !errors.Is(err, disk.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenFile missing: %v; want disk.ErrNotExist and fs.ErrNotExist", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("OpenFile missing: %v does not unwrap to *fs.PathError", err)
	}
	// A missing parent directory is also ErrNotExist, even with create.
	if _, err := d.OpenFile("nodir/x", true); !errors.Is(err, disk.ErrNotExist) {
		t.Fatalf("OpenFile in missing dir: %v", err)
	}
}

func TestNotExistErrors(t *testing.T) {
	d, _ := newDisk(t)
	checks := map[string]error{}
	_, checks["ReadFile"] = d.ReadFile("missing")
	checks["Remove"] = d.Remove("missing")
	checks["Rename"] = d.Rename("missing", "other")
	_, checks["List"] = d.List("missing")
	checks["SyncDir"] = d.SyncDir("missing")
	for op, err := range checks {
		if !errors.Is(err, disk.ErrNotExist) {
			t.Errorf("%s: %v; want disk.ErrNotExist", op, err)
		}
	}
	// Other errors are not ErrNotExist.
	if err := d.MkdirAll("full/sub"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("full"); err == nil || errors.Is(err, disk.ErrNotExist) {
		t.Fatalf("Remove non-empty dir: %v; want an error other than ErrNotExist", err)
	}
}

func TestReadFileAndWriteFileAtomic(t *testing.T) {
	d, _ := newDisk(t)
	if err := d.MkdirAll("p"); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFileAtomic("p/hw.checkpoint", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if got, err := d.ReadFile("p/hw.checkpoint"); err != nil || string(got) != "v1" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	// A stale temp file from a "crash" is overwritten, not appended to.
	f, err := d.OpenFile("p/hw.checkpoint"+TempSuffix, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("garbage garbage garbage"), 0); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := d.WriteFileAtomic("p/hw.checkpoint", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.ReadFile("p/hw.checkpoint"); string(got) != "v2" {
		t.Fatalf("after replace ReadFile = %q", got)
	}
	names, err := d.List("p")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"hw.checkpoint"}) {
		t.Fatalf("List after WriteFileAtomic = %v; temp file left behind?", names)
	}
	// Into the root directory too.
	if err := d.WriteFileAtomic("meta", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := d.ReadFile("meta"); err != nil || len(got) != 0 {
		t.Fatalf("ReadFile(meta) = %q, %v", got, err)
	}
	// Missing directory fails with ErrNotExist.
	if err := d.WriteFileAtomic("nodir/x", []byte("x")); !errors.Is(err, disk.ErrNotExist) {
		t.Fatalf("WriteFileAtomic in missing dir: %v", err)
	}
}

func TestListSortedAndRoot(t *testing.T) {
	d, _ := newDisk(t)
	for _, n := range []string{"c", "a", "b10", "b2"} {
		if err := d.WriteFileAtomic(n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.MkdirAll("dir"); err != nil {
		t.Fatal(err)
	}
	names, err := d.List(".")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b10", "b2", "c", "dir"}; !slices.Equal(names, want) {
		t.Fatalf("List = %v want %v", names, want)
	}
	empty, err := d.List("dir")
	if err != nil || len(empty) != 0 {
		t.Fatalf("List(empty dir) = %v, %v", empty, err)
	}
	if err := d.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncDir("dir"); err != nil {
		t.Fatal(err)
	}
}

func TestRenameRemove(t *testing.T) {
	d, _ := newDisk(t)
	if err := d.MkdirAll("a/b/c"); err != nil {
		t.Fatal(err)
	}
	if err := d.MkdirAll("a/b/c"); err != nil { // existing is fine
		t.Fatal(err)
	}
	if err := d.WriteFileAtomic("a/b/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFileAtomic("a/y", []byte("y")); err != nil {
		t.Fatal(err)
	}
	// Rename replaces the target.
	if err := d.Rename("a/b/x", "a/y"); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.ReadFile("a/y"); string(got) != "x" {
		t.Fatalf("after Rename a/y = %q", got)
	}
	if _, err := d.ReadFile("a/b/x"); !errors.Is(err, disk.ErrNotExist) {
		t.Fatalf("old name still present: %v", err)
	}
	if err := d.Remove("a/y"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("a/y"); !errors.Is(err, disk.ErrNotExist) {
		t.Fatalf("second Remove: %v", err)
	}
	if err := d.Remove("a/b/c"); err != nil { // empty directory
		t.Fatal(err)
	}
	if err := d.RemoveAll("a"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveAll("a"); err != nil { // absent is fine
		t.Fatalf("RemoveAll absent: %v", err)
	}
	names, _ := d.List(".")
	if len(names) != 0 {
		t.Fatalf("List after RemoveAll = %v", names)
	}
}

func TestInvalidPaths(t *testing.T) {
	d, dir := newDisk(t)
	// A file just outside the root that an escape would reach.
	outside := filepath.Join(filepath.Dir(dir), "outside")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []string{"", "/etc/passwd", outside, "..", "../outside", "a/../../outside", "a\x00b"}
	for _, name := range bad {
		if _, err := d.OpenFile(name, true); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("OpenFile(%q): %v; want ErrInvalidPath", name, err)
		}
		if _, err := d.ReadFile(name); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("ReadFile(%q): %v; want ErrInvalidPath", name, err)
		}
		if err := d.WriteFileAtomic(name, nil); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("WriteFileAtomic(%q): %v; want ErrInvalidPath", name, err)
		}
		if err := d.Remove(name); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Remove(%q): %v", name, err)
		}
		if err := d.RemoveAll(name); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("RemoveAll(%q): %v", name, err)
		}
		if err := d.Rename("x", name); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Rename(x, %q): %v", name, err)
		}
		if err := d.MkdirAll(name); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("MkdirAll(%q): %v", name, err)
		}
		if _, err := d.List(name); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("List(%q): %v", name, err)
		}
		if err := d.SyncDir(name); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("SyncDir(%q): %v", name, err)
		}
	}
	// The root itself cannot be removed or renamed.
	for _, name := range []string{".", "a/.."} {
		if err := d.RemoveAll(name); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("RemoveAll(%q): %v", name, err)
		}
		if err := d.Rename(name, "z"); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Rename(%q, z): %v", name, err)
		}
	}
	// A symbolic link pointing outside is refused by os.Root.
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if got, err := d.ReadFile("link"); err == nil {
		t.Fatalf("ReadFile through escaping symlink succeeded: %q", got)
	}
	// Paths that stay inside after cleaning are fine.
	if err := d.MkdirAll("a/b"); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFileAtomic("a/b/../c", []byte("c")); err != nil {
		t.Fatal(err)
	}
	if got, err := d.ReadFile("a/c"); err != nil || string(got) != "c" {
		t.Fatalf("ReadFile(a/c) = %q, %v", got, err)
	}
}

// TestSyncConcurrentWithWrites exercises the one cross-goroutine use the
// contract allows: Sync on one goroutine while the event loop writes. Run
// with -race.
func TestSyncConcurrentWithWrites(t *testing.T) {
	d, _ := newDisk(t)
	f, err := d.OpenFile("seg", true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := f.Sync(); err != nil {
				t.Errorf("Sync: %v", err)
				return
			}
		}
	}()
	rec := bytes.Repeat([]byte("r"), 100)
	for i := range 200 {
		if _, err := f.WriteAt(rec, int64(i*len(rec))); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if size, _ := f.Size(); size != 200*100 {
		t.Fatalf("Size = %d", size)
	}
}

func TestClosedDisk(t *testing.T) {
	d, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.List("."); err == nil {
		t.Fatal("List on closed Disk succeeded")
	}
}

// TestNoSpaceClassified: a full device or quota is disk.ErrNoSpace (the
// broker retries it), other I/O errors are not (the partition stays
// offline). TestE2EDiskFull hits a real ENOSPC on a tmpfs.
func TestNoSpaceClassified(t *testing.T) {
	for _, c := range []struct {
		err     error
		noSpace bool
	}{
		{syscall.ENOSPC, true},
		{syscall.EDQUOT, true},
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, true},
		{syscall.EIO, false},
		{fs.ErrNotExist, false},
	} {
		err := wrapErr("write at", "seg.log", c.err)
		if got := errors.Is(err, disk.ErrNoSpace); got != c.noSpace {
			t.Errorf("%v: errors.Is(disk.ErrNoSpace) = %v, want %v", c.err, got, c.noSpace)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%v: the OS error is no longer reachable through the wrapper", c.err)
		}
	}
}
