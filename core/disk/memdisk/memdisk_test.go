package memdisk

import (
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
)

func mustOpen(t *testing.T, d *Disk, name string) disk.File {
	t.Helper()
	f, err := d.OpenFile(name, true)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func write(t *testing.T, f disk.File, s string, off int64) {
	t.Helper()
	if _, err := f.WriteAt([]byte(s), off); err != nil {
		t.Fatal(err)
	}
}

func contents(t *testing.T, d *Disk, name string) string {
	t.Helper()
	b, err := d.ReadFile(name)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func TestFileOps(t *testing.T) {
	d := New()
	f := mustOpen(t, d, "a")
	write(t, f, "hello", 0)
	write(t, f, "XY", 1)
	write(t, f, "!", 7) // gap is zero-filled
	if got := contents(t, d, "a"); got != "hXYlo\x00\x00!" {
		t.Fatalf("contents %q", got)
	}
	p := make([]byte, 4)
	if n, err := f.ReadAt(p, 6); n != 2 || err != io.EOF {
		t.Fatalf("short read: %d %v", n, err)
	}
	if n, err := f.ReadAt(p, 100); n != 0 || err != io.EOF {
		t.Fatalf("read past end: %d %v", n, err)
	}
	if err := f.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, d, "a"); got != "hXY\x00\x00" {
		t.Fatalf("after truncates %q", got)
	}
	if sz, _ := f.Size(); sz != 5 {
		t.Fatalf("size %d", sz)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestNamespaceErrors(t *testing.T) {
	d := New()
	cases := []struct {
		name string
		do   func() error
		want error
	}{
		{"open missing", func() error { _, err := d.OpenFile("nope", false); return err }, disk.ErrNotExist},
		{"create in missing dir", func() error { _, err := d.OpenFile("x/y", true); return err }, disk.ErrNotExist},
		{"readfile missing", func() error { _, err := d.ReadFile("nope"); return err }, disk.ErrNotExist},
		{"remove missing", func() error { return d.Remove("nope") }, disk.ErrNotExist},
		{"list missing", func() error { _, err := d.List("nope"); return err }, disk.ErrNotExist},
		{"rename missing", func() error { return d.Rename("nope", "b") }, disk.ErrNotExist},
		{"escape", func() error { _, err := d.OpenFile("../x", true); return err }, ErrInvalidPath},
		{"absolute", func() error { _, err := d.OpenFile("/x", true); return err }, ErrInvalidPath},
		{"removeall missing", func() error { return d.RemoveAll("nope") }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestListAndRemove(t *testing.T) {
	d := New()
	if err := d.MkdirAll("p/q"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"p/b", "p/a", "p/q/z"} {
		mustOpen(t, d, n)
	}
	got, err := d.List("p")
	if err != nil || !reflect.DeepEqual(got, []string{"a", "b", "q"}) {
		t.Fatalf("List = %v, %v", got, err)
	}
	if err := d.Remove("p/q"); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("remove non-empty dir: %v", err)
	}
	if err := d.RemoveAll("p"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.List("p"); !errors.Is(err, disk.ErrNotExist) {
		t.Fatalf("after RemoveAll: %v", err)
	}
}

// TestCrash walks through the durability rules one case at a time. Each
// case prepares a fresh disk, crashes it without torn tails and compares
// the surviving files.
func TestCrash(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, d *Disk)
		want  map[string]string // surviving file → contents
	}{
		{"unsynced name lost", func(t *testing.T, d *Disk) {
			f := mustOpen(t, d, "a")
			write(t, f, "data", 0)
			f.Sync()
		}, map[string]string{}},
		{"synced name and data kept", func(t *testing.T, d *Disk) {
			f := mustOpen(t, d, "a")
			write(t, f, "data", 0)
			f.Sync()
			d.SyncDir(".")
			write(t, f, "more", 4)
		}, map[string]string{"a": "data"}},
		{"name without data sync is empty", func(t *testing.T, d *Disk) {
			f := mustOpen(t, d, "a")
			write(t, f, "data", 0)
			d.SyncDir(".")
		}, map[string]string{"a": ""}},
		{"overwrite after sync lost", func(t *testing.T, d *Disk) {
			f := mustOpen(t, d, "a")
			write(t, f, "data", 0)
			f.Sync()
			d.SyncDir(".")
			write(t, f, "XX", 1) // must not leak into the aliased synced copy
			f.Truncate(1)
		}, map[string]string{"a": "data"}},
		{"remove needs syncdir", func(t *testing.T, d *Disk) {
			f := mustOpen(t, d, "a")
			f.Sync()
			d.SyncDir(".")
			d.Remove("a")
		}, map[string]string{"a": ""}},
		{"remove with syncdir", func(t *testing.T, d *Disk) {
			mustOpen(t, d, "a")
			d.SyncDir(".")
			d.Remove("a")
			d.SyncDir(".")
		}, map[string]string{}},
		{"rename needs syncdir", func(t *testing.T, d *Disk) {
			f := mustOpen(t, d, "a")
			write(t, f, "x", 0)
			f.Sync()
			d.SyncDir(".")
			d.Rename("a", "b")
		}, map[string]string{"a": "x"}},
		{"rename with syncdir", func(t *testing.T, d *Disk) {
			f := mustOpen(t, d, "a")
			write(t, f, "x", 0)
			f.Sync()
			d.Rename("a", "b")
			d.SyncDir(".")
		}, map[string]string{"b": "x"}},
		{"write atomic", func(t *testing.T, d *Disk) {
			d.MkdirAll("dir")
			d.SyncDir(".")
			d.WriteFileAtomic("dir/ck", []byte("v1"))
			d.WriteFileAtomic("dir/ck", []byte("v2"))
			mustOpen(t, d, "dir/other") // becomes durable with the dir sync
			d.WriteFileAtomic("dir/ck2", []byte("w"))
		}, map[string]string{"dir/ck": "v2", "dir/ck2": "w", "dir/other": ""}},
		{"syncdir is per directory", func(t *testing.T, d *Disk) {
			d.MkdirAll("x")
			d.SyncDir(".")
			mustOpen(t, d, "x/f")
			mustOpen(t, d, "g")
			d.SyncDir("x")
		}, map[string]string{"x/f": ""}},
		{"new directory needs parent syncdir", func(t *testing.T, d *Disk) {
			d.MkdirAll("x")
			d.WriteFileAtomic("x/ck", []byte("v"))
		}, map[string]string{}},
		{"nested directories need every parent synced", func(t *testing.T, d *Disk) {
			d.MkdirAll("x/y")
			d.SyncDir("x")
			d.WriteFileAtomic("x/y/ck", []byte("v"))
		}, map[string]string{}},
		{"nested directories synced", func(t *testing.T, d *Disk) {
			d.MkdirAll("x/y")
			d.SyncDir("x")
			d.SyncDir(".")
			d.WriteFileAtomic("x/y/ck", []byte("v"))
		}, map[string]string{"x/y/ck": "v"}},
		{"removeall needs parent syncdir", func(t *testing.T, d *Disk) {
			d.MkdirAll("x")
			d.SyncDir(".")
			d.WriteFileAtomic("x/ck", []byte("v"))
			d.RemoveAll("x")
		}, map[string]string{"x/ck": "v"}},
		{"removeall with parent syncdir", func(t *testing.T, d *Disk) {
			d.MkdirAll("x")
			d.SyncDir(".")
			d.WriteFileAtomic("x/ck", []byte("v"))
			d.RemoveAll("x")
			d.SyncDir(".")
		}, map[string]string{}},
		{"remove of a directory needs parent syncdir", func(t *testing.T, d *Disk) {
			d.MkdirAll("x")
			d.SyncDir(".")
			d.Remove("x")
			d.WriteFileAtomic("ck", []byte("v")) // syncs the root: x is gone
		}, map[string]string{"ck": "v"}},
		{"recreated directory is a new one", func(t *testing.T, d *Disk) {
			d.MkdirAll("x")
			d.SyncDir(".")
			d.WriteFileAtomic("x/old", []byte("o"))
			d.RemoveAll("x")
			d.MkdirAll("x")
			d.WriteFileAtomic("x/new", []byte("n"))
			d.SyncDir(".")
		}, map[string]string{"x/new": "n"}},
		{"recreated directory not synced keeps the old one", func(t *testing.T, d *Disk) {
			d.MkdirAll("x")
			d.SyncDir(".")
			d.WriteFileAtomic("x/old", []byte("o"))
			d.RemoveAll("x")
			d.MkdirAll("x")
			mustOpen(t, d, "x/new")
		}, map[string]string{"x/old": "o"}},
		{"directories durable at once (compat)", func(t *testing.T, d *Disk) {
			d.SetDirsDurableAtOnce(true)
			d.MkdirAll("x/y")
			d.WriteFileAtomic("x/y/ck", []byte("v"))
			d.MkdirAll("z")
			d.WriteFileAtomic("z/ck", []byte("w"))
			d.RemoveAll("z")
		}, map[string]string{"x/y/ck": "v"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := New()
			tc.setup(t, d)
			c := d.Crash(nil)
			if d.UndurableChanges() == 0 && !reflect.DeepEqual(listAll(t, d), listAll(t, c)) {
				t.Fatalf("UndurableChanges is 0 but the crash changed the names: %v, then %v", listAll(t, d), listAll(t, c))
			}
			got := map[string]string{}
			for _, n := range c.DurableNames() {
				got[n] = contents(t, c, n)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("after crash %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCrashTorn(t *testing.T) {
	d := New()
	f := mustOpen(t, d, "a")
	write(t, f, "base", 0)
	f.Sync()
	d.SyncDir(".")
	write(t, f, "0123456789", 4)
	seen := map[string]bool{}
	for seed := range uint64(200) {
		c := d.Crash(NewSplitMix64(seed).Intn)
		got := contents(t, c, "a")
		if len(got) < 4 || got != "base0123456789"[:len(got)] {
			t.Fatalf("seed %d: torn contents %q are not a prefix extension", seed, got)
		}
		seen[got] = true
	}
	if len(seen) < 8 {
		t.Fatalf("only %d distinct torn lengths over 200 seeds", len(seen))
	}
	// Overwrites are all-or-nothing.
	write(t, f, "B", 0)
	outcomes := map[string]bool{}
	for seed := range uint64(50) {
		outcomes[contents(t, d.Crash(NewSplitMix64(seed).Intn), "a")] = true
	}
	if !reflect.DeepEqual(outcomes, map[string]bool{"base": true, "Base0123456789": true}) {
		t.Fatalf("overwrite outcomes %v", outcomes)
	}
	// The crashed disk is independent of the original.
	c := d.Crash(nil)
	cf, _ := c.OpenFile("a", false)
	write(t, cf, "zzzz", 0)
	if got := contents(t, d, "a"); got != "Base0123456789" {
		t.Fatalf("original changed: %q", got)
	}
}

func TestFaultAndCorrupt(t *testing.T) {
	d := New()
	f := mustOpen(t, d, "a")
	boom := errors.New("boom")
	d.SetFault(func(op Op, name string) error {
		if op == OpSync && name == "a" {
			return boom
		}
		return nil
	})
	write(t, f, "abc", 0)
	if err := f.Sync(); !errors.Is(err, boom) {
		t.Fatalf("sync: %v", err)
	}
	d.SetFault(nil)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	d.SyncDir(".")
	if err := d.Corrupt("a", 1, 0xff); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, d.Crash(nil), "a"); got != "a\x9dc" {
		t.Fatalf("corrupted durable contents %q", got)
	}
	if d.SyncCount() != 1 {
		t.Fatalf("sync count %d", d.SyncCount())
	}
}

// TestFailWriteback checks both fsyncgate models: evicted pages revert to
// the synced contents; clean-but-unwritten pages keep serving reads but a
// later Sync does not persist them until they are rewritten or cut.
func TestFailWriteback(t *testing.T) {
	synced := func(d *Disk, name string) string {
		t.Helper()
		return contents(t, d.Crash(nil), name)
	}
	t.Run("drop pages", func(t *testing.T) {
		d := New()
		f := mustOpen(t, d, "a")
		write(t, f, "abc", 0)
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		write(t, f, "def", 3)
		if err := d.FailWriteback("a", true); err != nil {
			t.Fatal(err)
		}
		if got := contents(t, d, "a"); got != "abc" {
			t.Fatalf("after dropped writeback reads see %q, want %q", got, "abc")
		}
	})
	t.Run("clean but unwritten", func(t *testing.T) {
		d := New()
		f := mustOpen(t, d, "a")
		if err := d.SyncDir("."); err != nil {
			t.Fatal(err)
		}
		write(t, f, "abc", 0)
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		write(t, f, "defgh", 3)
		if err := d.FailWriteback("a", false); err != nil {
			t.Fatal(err)
		}
		if got := contents(t, d, "a"); got != "abcdefgh" {
			t.Fatalf("reads see %q, want the cached %q", got, "abcdefgh")
		}
		write(t, f, "X", 8)
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if got := synced(d, "a"); got != "abc\x00\x00\x00\x00\x00X" {
			t.Fatalf("synced %q: the lost range must stay unwritten, the new byte written", got)
		}
		write(t, f, "EF", 4) // rewriting part of the range makes it dirty again
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if got := synced(d, "a"); got != "abc\x00EF\x00\x00X" {
			t.Fatalf("synced %q after a partial rewrite", got)
		}
		if err := f.Truncate(3); err != nil {
			t.Fatal(err)
		}
		write(t, f, "zz", 3)
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if got := synced(d, "a"); got != "abczz" {
			t.Fatalf("synced %q after truncating the lost range away and appending", got)
		}
	})
}

// listAll lists every file and directory path of d, sorted.
func listAll(t *testing.T, d *Disk) []string {
	t.Helper()
	var out []string
	var walk func(dir string)
	walk = func(dir string) {
		names, err := d.List(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := path.Join(dir, n)
			out = append(out, p)
			if d.isDir(p) {
				walk(p)
			}
		}
	}
	walk(".")
	return out
}

func TestUndurableChanges(t *testing.T) {
	d := New()
	if n := d.UndurableChanges(); n != 0 {
		t.Fatalf("empty disk: %d", n)
	}
	d.MkdirAll("x")
	mustOpen(t, d, "x/f")
	if n := d.UndurableChanges(); n != 2 {
		t.Fatalf("new dir and file: %d, want 2", n)
	}
	d.SyncDir(".")
	if n := d.UndurableChanges(); n != 1 {
		t.Fatalf("dir synced: %d, want 1", n)
	}
	d.SyncDir("x")
	if n := d.UndurableChanges(); n != 0 {
		t.Fatalf("all synced: %d, want 0", n)
	}
	d.Rename("x/f", "x/g")
	if n := d.UndurableChanges(); n != 2 {
		t.Fatalf("rename: %d, want 2 (new name, old name)", n)
	}
	c := d.Crash(nil)
	if got := listAll(t, c); !reflect.DeepEqual(got, []string{"x", "x/f"}) {
		t.Fatalf("after crash: %v, want the rename reverted", got)
	}
}

// TestSyncedAndCurrent: Synced shows what a crash keeps for certain (a
// durable name's synced bytes), Current what reads see.
func TestSyncedAndCurrent(t *testing.T) {
	d := New()
	f := mustOpen(t, d, "a")
	write(t, f, "data", 0)
	if _, ok := d.Synced("a"); ok {
		t.Fatal("Synced: a name never made durable is reported")
	}
	if cur, ok := d.Current("a"); !ok || string(cur) != "data" {
		t.Fatalf("Current = %q, %v; want data", cur, ok)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	write(t, f, "more", 4)
	if s, ok := d.Synced("a"); !ok || string(s) != "data" {
		t.Fatalf("Synced = %q, %v; want data (the unsynced append excluded)", s, ok)
	}
	if cur, _ := d.Current("a"); string(cur) != "datamore" {
		t.Fatalf("Current = %q; want datamore", cur)
	}
	if _, ok := d.Current("missing"); ok {
		t.Fatal("Current reports a missing file")
	}
}

// TestNamesVersion: every change of a name, current or durable, moves the
// version (checkers cache what they derive from the names on it), and
// contents do not.
func TestNamesVersion(t *testing.T) {
	d := New()
	changes := []struct {
		what string
		do   func() error
	}{
		{"mkdir", func() error { return d.MkdirAll("p") }},
		{"create", func() error { _, err := d.OpenFile("p/a", true); return err }},
		{"sync dir", func() error { return d.SyncDir("p") }},
		{"rename", func() error { return d.Rename("p/a", "p/b") }},
		{"atomic write", func() error { return d.WriteFileAtomic("p/c", []byte("x")) }},
		{"remove", func() error { return d.Remove("p/b") }},
		{"remove all", func() error { return d.RemoveAll("p") }},
	}
	for _, c := range changes {
		before := d.NamesVersion()
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if d.NamesVersion() == before {
			t.Errorf("%s left the names version at %d", c.what, before)
		}
	}
	if err := d.MkdirAll("q"); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, d, "q/a")
	before := d.NamesVersion()
	write(t, f, "data", 0)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.OpenFile("q/a", true); err != nil { // exists: an open
		t.Fatal(err)
	}
	if err := d.MkdirAll("q"); err != nil { // exists
		t.Fatal(err)
	}
	if err := d.Remove("q/missing"); err == nil {
		t.Fatal("removed a missing file")
	}
	if err := d.RemoveAll("q/missing"); err != nil {
		t.Fatal(err)
	}
	if err := d.Rename("q/a", "q/a"); err != nil {
		t.Fatal(err)
	}
	if d.NamesVersion() != before {
		t.Errorf("writes, syncs, opens of an existing file and changes that changed nothing moved the names version from %d to %d", before, d.NamesVersion())
	}
	if err := d.SyncDir("q"); err != nil { // makes q/a durable
		t.Fatal(err)
	}
	if d.NamesVersion() == before {
		t.Errorf("a sync that made q/a durable left the names version at %d", before)
	}
	if err := d.WriteFileAtomic("q/cp", []byte("1")); err != nil {
		t.Fatal(err)
	}
	before = d.NamesVersion()
	if err := d.WriteFileAtomic("q/cp", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncDir("q"); err != nil {
		t.Fatal(err)
	}
	if d.NamesVersion() != before {
		t.Errorf("rewriting a durable name and a sync with nothing pending moved the names version from %d to %d", before, d.NamesVersion())
	}
	if _, err := d.OpenFile("q/b", true); err != nil {
		t.Fatal(err)
	}
	before = d.NamesVersion()
	if err := d.WriteFileAtomic("q/cp", []byte("3")); err != nil { // also syncs q/b's name
		t.Fatal(err)
	}
	if d.NamesVersion() == before {
		t.Errorf("an atomic write whose directory sync made q/b durable left the names version at %d", before)
	}
	if got := d.DurableNames(); !reflect.DeepEqual(got, []string{"q/a", "q/b", "q/cp"}) {
		t.Errorf("durable names %v", got)
	}
	before = d.NamesVersion()
	if nd := d.Crash(nil); nd.NamesVersion() == before {
		t.Errorf("a crashed disk kept the names version %d", before)
	}
}

// TestEachFile: the files directly in a directory, without its
// subdirectories or what lies below them.
func TestEachFile(t *testing.T) {
	d := New()
	if err := d.MkdirAll("p/sub"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"p/b", "p/a", "p/sub/c", "top"} {
		mustOpen(t, d, name)
	}
	seen := map[string]bool{}
	d.EachFile("p/", func(name string) { seen[name] = true })
	if want := map[string]bool{"a": true, "b": true}; !reflect.DeepEqual(seen, want) {
		t.Errorf("EachFile(p) saw %v, want %v", seen, want)
	}
	seen = map[string]bool{}
	d.EachFile(".", func(name string) { seen[name] = true })
	if want := map[string]bool{"top": true}; !reflect.DeepEqual(seen, want) {
		t.Errorf("EachFile(.) saw %v, want %v", seen, want)
	}
}

// TestSyncDirShortcutMatchesScan: a disk whose syncs look only at the
// names touched since (pending) ends every step of random namespace
// changes with the same durable state, and crashes into the same disk, as
// one that walks every name at every sync; also across crashes and
// switches of SetDirsDurableAtOnce in the middle of a run.
func TestSyncDirShortcutMatchesScan(t *testing.T) {
	dirs := []string{".", "a", "a/b", "c"}
	names := []string{"x", "y", "z.log", "cp", "cp" + TempSuffix, "b"}
	for seed := uint64(1); seed <= 2000; seed++ {
		fast, scan := New(), New()
		scan.scanAlways = true
		if seed%4 == 0 {
			fast.SetDirsDurableAtOnce(true)
			scan.SetDirsDurableAtOnce(true)
		}
		rng := NewSplitMix64(seed)
		pick := func(of []string) string { return of[rng.Intn(len(of))] }
		file := func() string { return path.Join(pick(dirs), pick(names)) }
		for step := 0; step < 60; step++ {
			var op func(d *Disk) error
			switch rng.Intn(10) {
			case 8:
				fast, scan = fast.Crash(nil), scan.Crash(nil)
				scan.scanAlways = true
				op = func(*Disk) error { return nil }
			case 9:
				on := rng.Intn(2) == 0
				op = func(d *Disk) error { d.SetDirsDurableAtOnce(on); return nil }
			case 0:
				dir := pick(dirs)
				op = func(d *Disk) error { return d.MkdirAll(dir) }
			case 1:
				name := file()
				op = func(d *Disk) error { _, err := d.OpenFile(name, true); return err }
			case 2:
				name, data := file(), []byte{byte(step)}
				op = func(d *Disk) error {
					f, err := d.OpenFile(name, false)
					if err != nil {
						return err
					}
					if _, err := f.WriteAt(data, 0); err != nil {
						return err
					}
					return f.Sync()
				}
			case 3:
				name := file()
				op = func(d *Disk) error { return d.Remove(name) }
			case 4:
				dir := pick(dirs)
				op = func(d *Disk) error { return d.RemoveAll(dir) }
			case 5:
				from, to := file(), file()
				op = func(d *Disk) error { return d.Rename(from, to) }
			case 6:
				dir := pick(dirs)
				op = func(d *Disk) error { return d.SyncDir(dir) }
			default:
				name, data := file(), []byte{byte(step), 1}
				op = func(d *Disk) error { return d.WriteFileAtomic(name, data) }
			}
			durableBefore, versionBefore := fast.DurableNames(), fast.DurableNamesVersion()
			errFast, errScan := op(fast), op(scan)
			if (errFast == nil) != (errScan == nil) {
				t.Fatalf("seed %d step %d: errors differ: %v vs %v", seed, step, errFast, errScan)
			}
			if got, want := durableState(fast), durableState(scan); got != want {
				t.Fatalf("seed %d step %d: durable state\n%s\nwith the shortcut, and\n%s\nwalking every name", seed, step, got, want)
			}
			var naive []string
			for k := range fast.durable {
				if fast.fileSurvives(k) {
					naive = append(naive, k)
				}
			}
			sort.Strings(naive)
			if got := fast.DurableNames(); !slices.Equal(got, naive) {
				t.Fatalf("seed %d step %d: DurableNames %v, fileSurvives keeps %v", seed, step, got, naive)
			}
			if fast.DurableNamesVersion() == versionBefore && !slices.Equal(naive, durableBefore) {
				t.Fatalf("seed %d step %d: durable names went from %v to %v, DurableNamesVersion stayed", seed, step, durableBefore, naive)
			}
			if fast.NamesVersion() != scan.NamesVersion() {
				t.Fatalf("seed %d step %d: names versions %d and %d", seed, step, fast.NamesVersion(), scan.NamesVersion())
			}
		}
		if got, want := durableState(fast.Crash(nil)), durableState(scan.Crash(nil)); got != want {
			t.Fatalf("seed %d: crashed into\n%s\nwith the shortcut, and\n%s\nwalking every name", seed, got, want)
		}
	}
}

// durableState renders what a crash would keep and how: every durable
// name with its synced contents and the generation it was made durable
// in, every durable directory with its generations.
func durableState(d *Disk) string {
	var out []string
	for k, n := range d.durable {
		out = append(out, fmt.Sprintf("file %s %q in %d survives %v", k, n.synced, d.durableIn[k], d.fileSurvives(k)))
	}
	for k, g := range d.durableDirs {
		out = append(out, fmt.Sprintf("dir %s gen %d in %d", k, g, d.durableDirIn[k]))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
