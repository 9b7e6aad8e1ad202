package sim

import "github.com/chronik-streaming/chronik/core/disk"

var _ disk.Locker = (*simDisk)(nil)

// Lock implements disk.Locker with the lock of the root memdisk: one
// broker at a time per node's disk. A power loss replaces the root with
// an unlocked one, as a reboot finds no process holding anything.
func (d *simDisk) Lock() (disk.Lock, error) { return d.root.Lock() }
