package sim

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

// Injected disk errors. They wrap nothing of core's: to the broker they are
// plain I/O failures.
var (
	errInjectedIO   = errors.New("sim: injected I/O error")
	errInjectedFull = errors.New("sim: injected no space left on device")
)

// simDisk is a node's disk: core/disk/memdisk (page-cache semantics,
// crashes with torn tails, Corrupt) composed with seeded fault injection:
// read and write errors, fsync failures, a full disk, and bookkeeping of
// what was synced so that a power loss can leave garbage, not only a
// prefix, in a torn tail.
type simDisk struct {
	w   *world
	md  *memdisk.Disk
	rng *Rand
	// synced is, per file, the size covered by its last successful Sync:
	// bytes past it are torn-tail candidates at a power loss.
	synced map[string]int64
}

func newSimDisk(w *world, rng *Rand) *simDisk {
	return &simDisk{w: w, md: memdisk.New(), rng: rng, synced: map[string]int64{}}
}

var _ disk.Disk = (*simDisk)(nil)

// fault decides whether an operation fails, from the disk's stream.
func (d *simDisk) fault(op, name string, extends bool) error {
	f := &d.w.set.Disk
	if !d.w.faultsOn {
		return nil
	}
	var err error
	switch op {
	case "read":
		if d.rng.Chance(f.ReadErrProb) {
			err = errInjectedIO
		}
	case "write":
		switch {
		case extends && d.w.s.now < d.w.diskFullUntil:
			err = errInjectedFull
		case d.rng.Chance(f.WriteErrProb):
			err = errInjectedIO
		}
	case "sync":
		if d.rng.Chance(f.SyncErrProb) {
			err = errInjectedIO
		}
	}
	if err != nil {
		d.w.tr.str("disk-fault")
		d.w.tr.str(op)
		d.w.tr.str(name)
		d.w.logf("disk fault: %s %s: %v", op, name, err)
		d.w.stats.diskFaults++
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	return nil
}

func (d *simDisk) OpenFile(name string, create bool) (disk.File, error) {
	if err := d.fault("read", name, false); err != nil {
		return nil, err
	}
	f, err := d.md.OpenFile(name, create)
	if err != nil {
		return nil, err
	}
	return &simFile{d: d, f: f, name: path.Clean(name)}, nil
}

func (d *simDisk) ReadFile(name string) ([]byte, error) {
	if err := d.fault("read", name, false); err != nil {
		return nil, err
	}
	return d.md.ReadFile(name)
}

func (d *simDisk) WriteFileAtomic(name string, data []byte) error {
	if err := d.fault("write", name, true); err != nil {
		return err
	}
	if err := d.md.WriteFileAtomic(name, data); err != nil {
		return err
	}
	d.synced[path.Clean(name)] = int64(len(data))
	return nil
}

func (d *simDisk) Remove(name string) error {
	if err := d.md.Remove(name); err != nil {
		return err
	}
	delete(d.synced, path.Clean(name))
	return nil
}

func (d *simDisk) RemoveAll(name string) error {
	if err := d.md.RemoveAll(name); err != nil {
		return err
	}
	c := path.Clean(name)
	for k := range d.synced {
		if k == c || strings.HasPrefix(k, c+"/") {
			delete(d.synced, k)
		}
	}
	return nil
}

func (d *simDisk) Rename(oldName, newName string) error {
	if err := d.md.Rename(oldName, newName); err != nil {
		return err
	}
	o, n := path.Clean(oldName), path.Clean(newName)
	if s, ok := d.synced[o]; ok {
		d.synced[n] = s
		delete(d.synced, o)
	}
	return nil
}

func (d *simDisk) MkdirAll(dir string) error {
	if err := d.fault("write", dir, true); err != nil {
		return err
	}
	return d.md.MkdirAll(dir)
}

func (d *simDisk) List(dir string) ([]string, error) {
	if err := d.fault("read", dir, false); err != nil {
		return nil, err
	}
	return d.md.List(dir)
}

func (d *simDisk) SyncDir(dir string) error {
	if err := d.fault("sync", dir, false); err != nil {
		return err
	}
	return d.md.SyncDir(dir)
}

// simFile is an open file of a simDisk.
type simFile struct {
	d    *simDisk
	f    disk.File
	name string
}

func (f *simFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.d.fault("read", f.name, false); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *simFile) WriteAt(p []byte, off int64) (int, error) {
	size, err := f.f.Size()
	if err != nil {
		return 0, err
	}
	if err := f.d.fault("write", f.name, off+int64(len(p)) > size); err != nil {
		return 0, err
	}
	return f.f.WriteAt(p, off)
}

func (f *simFile) Size() (int64, error) { return f.f.Size() }

func (f *simFile) Truncate(size int64) error {
	cur, err := f.f.Size()
	if err != nil {
		return err
	}
	if err := f.d.fault("write", f.name, size > cur); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *simFile) Sync() error {
	if err := f.d.fault("sync", f.name, false); err != nil {
		return err
	}
	if err := f.f.Sync(); err != nil {
		return err
	}
	if size, err := f.f.Size(); err == nil {
		f.d.synced[f.name] = size
	}
	return nil
}

func (f *simFile) Close() error { return f.f.Close() }

// powerLoss replaces the disk with what a reboot after a power failure
// finds: memdisk.Crash with torn tails drawn from the disk's stream when
// torn is set. With garbage > 0, each torn tail (bytes kept past the
// file's last sync) gets that probability of a flipped byte: a write-back
// interrupted mid-sector leaves garbage, which recovery's CRC check must
// cut. It returns how many bytes were flipped.
func (d *simDisk) powerLoss(torn bool, garbage float64) int {
	before := d.synced
	var keep func(int) int
	if torn {
		keep = d.rng.keep
	}
	d.md = d.md.Crash(keep)
	d.synced = map[string]int64{}
	flipped := 0
	for _, name := range d.md.DurableNames() {
		data, err := d.md.ReadFile(name)
		if err != nil {
			continue
		}
		size := int64(len(data))
		d.synced[name] = size
		from := before[name]
		if garbage <= 0 || size <= from || !d.rng.Chance(garbage) {
			continue
		}
		off := from + d.rng.Int63n(size-from)
		mask := byte(1 << d.rng.Intn(8))
		if err := d.md.Corrupt(name, off, mask); err == nil {
			flipped++
			d.w.tr.str("torn-garbage")
			d.w.tr.str(name)
			d.w.tr.i64(off)
			d.w.logf("power loss: garbage in torn tail of %s at %d", name, off)
		}
	}
	return flipped
}

// safeFlipTargets lists durable files whose corruption must never lose
// acknowledged data: sparse indexes (validated against the batches at
// recovery, rescanned around on reads) and the partition and leader-epoch
// checkpoints (CRC-protected; a bad one is treated as absent). Segment
// files are media-flip targets (see mediaFlip); metadata.json has no
// checksum and is never flipped.
func (d *simDisk) safeFlipTargets() []string {
	var out []string
	for _, name := range d.md.DurableNames() {
		base := path.Base(name)
		if strings.HasSuffix(base, ".index") || strings.HasSuffix(base, ".timeindex") ||
			base == "partition-checkpoint" || base == "leader-epoch-checkpoint" {
			out = append(out, name)
		}
	}
	return out
}

// flipBit flips one random bit of name (current and synced contents).
func (d *simDisk) flipBit(name string) (int64, bool) {
	data, err := d.md.ReadFile(name)
	if err != nil || len(data) == 0 {
		return 0, false
	}
	off := d.rng.Int63n(int64(len(data)))
	if err := d.md.Corrupt(name, off, byte(1<<d.rng.Intn(8))); err != nil {
		return 0, false
	}
	return off, true
}

// segmentBatch describes one record batch found in a segment file.
type segmentBatch struct {
	pos, size        int64
	baseOffset, last int64
}

// segmentBatches parses the batch framing of a segment file (enough to aim
// a media flip inside a batch's records).
func segmentBatches(data []byte) []segmentBatch {
	var out []segmentBatch
	pos := int64(0)
	for pos+61 <= int64(len(data)) {
		b := data[pos:]
		base := int64(be64(b[0:]))
		length := int64(be32(b[8:]))
		size := 12 + length
		if length < 49 || pos+size > int64(len(data)) {
			break
		}
		lastDelta := int64(be32(b[23:]))
		out = append(out, segmentBatch{pos: pos, size: size, baseOffset: base, last: base + lastDelta})
		pos += size
	}
	return out
}

// segmentFiles lists the durable, non-empty segment files, sorted.
func (d *simDisk) segmentFiles() []string {
	var out []string
	for _, name := range d.md.DurableNames() {
		if strings.HasSuffix(name, ".log") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func be64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
