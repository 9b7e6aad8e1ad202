package sim

import (
	"errors"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/driver"
)

// TestSecondBrokerOnSimDiskRefused: once a simulated node is up, a second
// broker on its disk is refused with disk.ErrLocked, while the first keeps
// the disk; after the node is killed (the process's death releases the
// lock) a broker opens it again, and the node's own restart works the
// same way, through the release in stop.
func TestSecondBrokerOnSimDiskRefused(t *testing.T) {
	w := newWorld(1, Options{Nodes: 1})
	n := w.nodes[0]
	for !n.up {
		ev := w.s.pop()
		if ev == nil {
			t.Fatal("ran out of events before the node started")
		}
		ev.fn()
	}
	if _, err := driver.New(driver.Config{Broker: n.cfg}, n.env(), (*nodeHost)(n)); !errors.Is(err, disk.ErrLocked) {
		t.Fatalf("second broker on a live node's disk: err = %v, want disk.ErrLocked", err)
	}
	if !n.disk.root.Locked() {
		t.Fatal("the refused broker released the node's lock")
	}

	for _, kind := range []string{"kill", "power", "graceful"} {
		w.stopNode(n, kind)
		if n.disk.root.Locked() {
			t.Fatalf("disk still locked after a %s stop", kind)
		}
		n.start()
		if !n.up {
			t.Fatalf("node did not restart after a %s stop", kind)
		}
		if _, err := driver.New(driver.Config{Broker: n.cfg}, n.env(), (*nodeHost)(n)); !errors.Is(err, disk.ErrLocked) {
			t.Fatalf("second broker after a %s restart: err = %v, want disk.ErrLocked", kind, err)
		}
	}
}
