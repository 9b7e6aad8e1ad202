package sim

import (
	"slices"
	"testing"
)

// TestSimDiskDirectoryDurability: partition directories (simDisk's
// top-level mounts) are durable only after a SyncDir of the root, done
// explicitly or by WriteFileAtomic of a top-level file; a power loss
// reverts the rest, creations and removals alike.
func TestSimDiskDirectoryDurability(t *testing.T) {
	w := newWorld(1, Options{Nodes: 1})
	d := w.nodes[0].disk
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	top := func() []string {
		t.Helper()
		names, err := d.List(".")
		must(err)
		return names
	}

	must(d.MkdirAll("b-0"))
	must(d.SyncDir("."))
	must(d.WriteFileAtomic("b-0/ck", []byte("w")))
	must(d.MkdirAll("c-0"))
	must(d.WriteFileAtomic("meta", []byte("m"))) // syncs the root: c-0 too
	must(d.MkdirAll("a-0"))
	must(d.WriteFileAtomic("a-0/ck", []byte("v"))) // syncs a-0 only
	must(d.MkdirAll("d-0"))
	if d.undurableChanges() == 0 {
		t.Fatal("undurableChanges is 0 with a-0 and d-0 never synced")
	}
	d.powerLoss(false, 0)
	if got := top(); !slices.Equal(got, []string{"b-0", "c-0", "meta"}) {
		t.Fatalf("after a power loss the root holds %v, want b-0, c-0 and meta (a-0 and d-0 never synced)", got)
	}

	must(d.RemoveAll("b-0"))
	d.powerLoss(false, 0)
	if data, err := d.ReadFile("b-0/ck"); err != nil || string(data) != "w" {
		t.Fatalf("a removal never synced was reverted: b-0/ck = %q, %v; want w", data, err)
	}
	must(d.RemoveAll("b-0"))
	must(d.SyncDir("."))
	d.powerLoss(false, 0)
	if got := top(); !slices.Equal(got, []string{"c-0", "meta"}) {
		t.Fatalf("after a synced removal the root holds %v", got)
	}
}
