package sim

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"sort"
	"strings"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/partlog"
)

// Injected disk errors. An I/O error wraps nothing of core's: to the
// broker it is a plain I/O failure that may mean a failing medium. A full
// disk wraps disk.ErrNoSpace, as io/osdisk does for ENOSPC, so that the
// broker retries once the window ends.
var (
	errInjectedIO   = errors.New("sim: injected I/O error")
	errInjectedFull = fmt.Errorf("sim: injected: %w", disk.ErrNoSpace)
)

// simDisk is a node's disk: core/disk/memdisk (page-cache semantics,
// crashes with torn tails, Corrupt) composed with seeded fault injection:
// read and write errors, fsync failures, a full disk, and bookkeeping of
// what was synced so that a power loss can leave garbage, not only a
// prefix, in a torn tail.
type simDisk struct {
	w *world
	// root holds the files at the top of the tree; each top-level
	// directory (a partition) is its own memdisk, so that a directory
	// sync, which memdisk implements by walking every name it holds, costs
	// the size of one partition rather than of the whole disk. Inside a
	// mount, directory changes are as memdisk defines them (durable after
	// SyncDir of the parent); the top-level entries themselves are kept
	// here: durableMounts is the set as of the last SyncDir("."), which a
	// power loss restores (a partition directory created since vanishes, a
	// removed one comes back).
	root          *memdisk.Disk
	mounts        map[string]*memdisk.Disk
	durableMounts map[string]*memdisk.Disk
	// mountsChanged: mounts changed since durableMounts was copied from
	// it (syncMounts). Every partition open syncs the root.
	mountsChanged bool
	rng           *Rand
	// failRng draws, for an fsync failed by an injected I/O error, what
	// the kernel did to its pages (its own stream, so that the other
	// draws of a seed stay as they were).
	failRng *Rand
	node    *simNode // whose event loop pays for writes
	// inJob is set while a sync job runs (syncsteps.go): its writes
	// happen off the event loop and cost the job's latency, not loop
	// time.
	inJob bool
	// stepRng draws where a power loss lands inside a sync job
	// (syncsteps.go).
	stepRng *Rand
	// synced is, per current file name, the size covered by its last
	// successful Sync: an fsync of a file grown past it allocates blocks
	// (and may fail on a full disk). Torn tails at a power loss start at
	// memdisk's own synced sizes instead (DurableSyncedSizes).
	synced map[string]int64
	// segs indexes the segment files of each mount (segindex.go).
	segs map[*memdisk.Disk]*segIndex
}

func newSimDisk(w *world, rng, failRng *Rand) *simDisk {
	return &simDisk{w: w, root: memdisk.New(), mounts: map[string]*memdisk.Disk{}, durableMounts: map[string]*memdisk.Disk{}, rng: rng, failRng: failRng, synced: map[string]int64{}}
}

// top splits a cleaned path into its top-level component and whether the
// path lies below it.
func top(c string) (string, bool) {
	if i := strings.IndexByte(c, '/'); i >= 0 {
		return c[:i], true
	}
	return c, false
}

// md returns the memdisk that holds name: the mount of its top-level
// directory, or the root (also for names under a directory that does not
// exist, so that memdisk reports them as absent).
func (d *simDisk) md(name string) *memdisk.Disk { return d.mdClean(memdisk.Clean(name)) }

// mdClean is md for a name cleaned already.
func (d *simDisk) mdClean(c string) *memdisk.Disk {
	t, _ := top(c)
	if m := d.mounts[t]; m != nil {
		return m
	}
	return d.root
}

// sortedMounts lists the top-level directories in order.
func (d *simDisk) sortedMounts() []string {
	names := make([]string, 0, len(d.mounts))
	for n := range d.mounts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
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
		case extends && d.w.s.now < d.w.diskFullUntil && !f.FullOnlySyncFails:
			err = errInjectedFull
		case d.rng.Chance(f.WriteErrProb):
			err = errInjectedIO
		}
	case "sync":
		switch {
		// An fsync that must allocate blocks for unsynced data (delayed
		// allocation, thin provisioning, NFS) fails on a full disk.
		case extends && d.w.s.now < d.w.diskFullUntil && f.FullSyncFailProb > 0 && d.rng.Chance(f.FullSyncFailProb):
			err = errInjectedFull
		case d.rng.Chance(f.SyncErrProb):
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
	// The name is cleaned once here, for the mount lookup, the coverage
	// counters and memdisk (whose own cleaning of a clean name is a scan).
	c := memdisk.Clean(name)
	m := d.mdClean(c)
	if create && strings.HasSuffix(c, ".log") {
		_, exists := m.Current(c)
		d.coverOpen(name, exists)
		d.noteSegmentCreate(m, name, exists)
	}
	f, err := m.OpenFile(c, create)
	if err != nil {
		return nil, err
	}
	return &simFile{d: d, f: f, name: c}, nil
}

func (d *simDisk) ReadFile(name string) ([]byte, error) {
	if err := d.fault("read", name, false); err != nil {
		return nil, err
	}
	c := memdisk.Clean(name)
	return d.mdClean(c).ReadFile(c)
}

func (d *simDisk) WriteFileAtomic(name string, data []byte) error {
	if err := d.fault("write", name, true); err != nil {
		return err
	}
	c := memdisk.Clean(name)
	if err := d.mdClean(c).WriteFileAtomic(c, data); err != nil {
		return err
	}
	if _, below := top(c); !below {
		// Its directory fsync was of the root: the top-level entries
		// (partition directories) became durable with it.
		d.syncMounts()
	}
	// A temporary file, its fsync, a rename and a directory fsync, all on
	// the event loop, unless a sync job writes (its latency covers them).
	if !d.inJob {
		d.node.spend(d.writeLatency() + 2*d.syncLatency())
	}
	d.synced[c] = int64(len(data))
	return nil
}

func (d *simDisk) Remove(name string) error {
	c := memdisk.Clean(name)
	if err := d.mdClean(c).Remove(c); err != nil {
		return err
	}
	if t, below := top(c); !below && d.mounts[t] != nil {
		d.forgetSegIndex(d.mounts[t])
		delete(d.mounts, t) // an empty top-level directory went
		d.mountsChanged = true
	}
	delete(d.synced, c)
	d.noteSegmentRemoved(c)
	return nil
}

func (d *simDisk) RemoveAll(name string) error {
	c := memdisk.Clean(name)
	if c == "." {
		d.mounts = map[string]*memdisk.Disk{}
		d.mountsChanged = true
		d.segs = nil
	}
	if err := d.mdClean(c).RemoveAll(c); err != nil {
		return err
	}
	if t, below := top(c); !below {
		if m := d.mounts[t]; m != nil {
			d.forgetSegIndex(m)
		}
		delete(d.mounts, t)
		d.mountsChanged = true
	}
	for k := range d.synced {
		if k == c || strings.HasPrefix(k, c+"/") {
			delete(d.synced, k)
		}
	}
	return nil
}

func (d *simDisk) Rename(oldName, newName string) error {
	o, n := memdisk.Clean(oldName), memdisk.Clean(newName)
	if t1, _ := top(o); t1 != func() string { t, _ := top(n); return t }() {
		return fmt.Errorf("sim: rename %s to %s across directories is not simulated", oldName, newName)
	}
	if err := d.mdClean(o).Rename(oldName, newName); err != nil {
		return err
	}
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
	c := memdisk.Clean(dir)
	if c == "." {
		return nil
	}
	t, _ := top(c)
	m := d.mounts[t]
	if m == nil {
		if _, err := d.root.ReadFile(t); err == nil {
			return fmt.Errorf("sim: mkdir %s: a file is in the way", t)
		}
		m = memdisk.New()
		// The mount's own entry for t is durable inside it; whether t
		// survives a power loss is durableMounts' business.
		if err := m.MkdirAll(t); err != nil {
			return err
		}
		if err := m.SyncDir("."); err != nil {
			return err
		}
		d.mounts[t] = m
		d.mountsChanged = true
	}
	return m.MkdirAll(c)
}

func (d *simDisk) List(dir string) ([]string, error) {
	if err := d.fault("read", dir, false); err != nil {
		return nil, err
	}
	c := memdisk.Clean(dir)
	if c != "." {
		return d.mdClean(c).List(c)
	}
	names, err := d.root.List(".")
	if err != nil {
		return nil, err
	}
	names = append(names, d.sortedMounts()...)
	sort.Strings(names)
	return names, nil
}

func (d *simDisk) SyncDir(dir string) error {
	if err := d.fault("sync", dir, false); err != nil {
		return err
	}
	c := memdisk.Clean(dir)
	if c == "." {
		if err := d.root.SyncDir("."); err != nil {
			return err
		}
		d.syncMounts()
		return nil
	}
	return d.mdClean(c).SyncDir(c)
}

// syncMounts makes the top-level entries durable (a directory sync of the
// root): durableMounts becomes a copy of mounts, unless it is one already.
func (d *simDisk) syncMounts() {
	if !d.mountsChanged {
		return
	}
	d.durableMounts = maps.Clone(d.mounts)
	d.mountsChanged = false
}

// undurableChanges counts the names a power loss would revert now: files
// and directories created, renamed or removed without a SyncDir of their
// parent, top-level directories included.
func (d *simDisk) undurableChanges() int {
	n := d.root.UndurableChanges()
	for _, t := range d.sortedMounts() {
		if d.durableMounts[t] != d.mounts[t] {
			n++
			continue
		}
		n += d.mounts[t].UndurableChanges()
	}
	for t := range d.durableMounts {
		if d.mounts[t] == nil {
			n++
		}
	}
	return n
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
		// Half the failed writes are short writes: a prefix lands in the
		// page cache before the error.
		if len(p) > 1 && f.d.rng.Chance(0.5) {
			n, _ := f.f.WriteAt(p[:f.d.rng.Intn(len(p))], off)
			return n, err
		}
		return 0, err
	}
	if !f.d.inJob {
		f.d.node.spend(f.d.writeLatency())
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
	if err := f.f.Truncate(size); err != nil {
		return err
	}
	if size < cur && strings.HasSuffix(f.name, ".log") {
		f.d.w.noteTruncate(f.d.node, f.name)
	}
	return nil
}

func (f *simFile) Sync() error {
	size, err := f.f.Size()
	if err != nil {
		return err
	}
	if err := f.d.fault("sync", f.name, size > f.d.synced[f.name]); err != nil {
		// What Linux does to the pages it could not write back
		// (fsyncgate), whatever the cause: drop them (the next read sees
		// the old data), or mark them clean and never write them
		// (memdisk.FailWriteback). The full-disk case is drawn per seed,
		// an I/O error per failure.
		full := errors.Is(err, disk.ErrNoSpace)
		drop := f.d.w.set.Disk.FullSyncDropsPages
		if !full {
			drop = f.d.failRng.Chance(0.5)
		}
		if ferr := f.d.md(f.name).FailWriteback(f.name, drop); ferr == nil {
			if full {
				f.d.w.stats.fsyncFull++
			} else {
				f.d.w.stats.fsyncFailed++
			}
			if drop {
				f.d.w.cover("fsync-failed-dropped")
			} else {
				f.d.w.cover("fsync-failed-kept-clean")
			}
			f.d.w.logf("disk fault: fsync of %s failed (full disk %v, pages dropped %v)", f.name, full, drop)
		}
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

// writeLatency draws the time one write to the page cache takes on the
// event loop, with rare stalls (dirty-page throttling).
func (d *simDisk) writeLatency() Time {
	s := &d.w.set.Disk
	t := d.rng.Exp(s.WriteLatency)
	// Stalls are a fault: a quiet window has none (quiet.go).
	if !d.w.q.on && d.rng.Chance(s.WriteStallProb) {
		t += d.rng.Exp(10 * Millisecond)
	}
	return t
}

// powerLoss replaces the disk with what a reboot after a power failure
// finds: memdisk.Crash with torn tails drawn from the disk's stream when
// torn is set. With garbage > 0, each torn tail (bytes kept past the
// file's last sync) gets that probability of a flipped byte: a write-back
// interrupted mid-sector leaves garbage, which recovery's CRC check must
// cut. It returns how many bytes were flipped.
func (d *simDisk) powerLoss(torn bool, garbage float64) int {
	// What each surviving name held synced: a torn tail starts there.
	// (Not d.synced: a removal a crash reverts brings back files that
	// bookkeeping of current names has forgotten.)
	before := d.root.DurableSyncedSizes()
	for _, m := range d.durableMounts {
		maps.Copy(before, m.DurableSyncedSizes())
	}
	var keep func(int) int
	if torn {
		// Half the time the write-back had finished (everything written is
		// on the platter, unsynced or not); otherwise a random prefix made it.
		keep = func(n int) int {
			if d.rng.Chance(0.5) {
				return n - 1
			}
			return d.rng.Intn(n)
		}
	}
	if d.undurableChanges() > 0 {
		d.w.cover("dir-entry-reverted")
	}
	d.root = d.root.Crash(keep)
	durable := make([]string, 0, len(d.durableMounts))
	for t := range d.durableMounts {
		durable = append(durable, t)
	}
	sort.Strings(durable)
	d.mounts = make(map[string]*memdisk.Disk, len(durable))
	for _, t := range durable {
		d.mounts[t] = d.durableMounts[t].Crash(keep)
	}
	d.durableMounts = maps.Clone(d.mounts)
	d.mountsChanged = false
	d.synced = map[string]int64{}
	d.segs = nil // every mount is a new memdisk
	flipped := 0
	for _, name := range d.durableNames() {
		// Only the size is needed: Current, not ReadFile's copy.
		data, ok := d.md(name).Current(name)
		if !ok {
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
		if err := d.md(name).Corrupt(name, off, mask); err == nil {
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
// checkpoints (CRC-protected; a bad one is treated as absent), and the
// synced-end file (two CRC-protected slots: recovery falls back to the
// other slot, or to the recovery point, FINDINGS.md 42). Segment
// files are media-flip targets (see mediaFlip); metadata.json has no
// checksum and is never flipped. Nor are the partition checkpoint files of a
// partition that was sent a DeleteRecords: they alone hold a log start
// inside the first segment, and recovery without it starts at the
// segment's base, bringing deleted records back (sim seed 2054 with the
// trimmer; Kafka fails the log directory on an unreadable checkpoint).
func (d *simDisk) safeFlipTargets() []string {
	var out []string
	for _, name := range d.durableNames() {
		base := path.Base(name)
		if partlog.IsCheckpointFile(base) && d.w.deletedDirs()[path.Dir(name)] {
			continue
		}
		if strings.HasSuffix(base, ".index") || strings.HasSuffix(base, ".timeindex") ||
			partlog.IsCheckpointFile(base) || partlog.IsEpochCheckpointFile(base) || base == "synced-end" {
			out = append(out, name)
		}
	}
	return out
}

// flipBit flips one random bit of name (current and synced contents).
func (d *simDisk) flipBit(name string) (int64, bool) {
	data, ok := d.md(name).Current(name) // its size alone
	if !ok || len(data) == 0 {
		return 0, false
	}
	off := d.rng.Int63n(int64(len(data)))
	if err := d.md(name).Corrupt(name, off, byte(1<<d.rng.Intn(8))); err != nil {
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
	for _, name := range d.durableNames() {
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

// durableNames lists every durable file, sorted.
func (d *simDisk) durableNames() []string {
	names := d.root.DurableNames()
	for _, t := range d.sortedMounts() {
		if d.durableMounts[t] == d.mounts[t] {
			names = append(names, d.mounts[t].DurableNames()...)
		}
	}
	sort.Strings(names)
	return names
}

// describe lists every file with its size, marking names that are not
// durable, for the event log.
func (d *simDisk) describe() string {
	durable := map[string]bool{}
	for _, n := range d.durableNames() {
		durable[n] = true
	}
	var b strings.Builder
	list := func(md *memdisk.Disk, dir string) {
		names, err := md.List(dir)
		if err != nil {
			return
		}
		for _, n := range names {
			p := path.Join(dir, n)
			data, err := md.ReadFile(p)
			if err != nil {
				continue
			}
			mark := ""
			if !durable[p] {
				mark = "(name not durable)"
			}
			fmt.Fprintf(&b, " %s:%d%s", p, len(data), mark)
		}
	}
	list(d.root, ".")
	for _, t := range d.sortedMounts() {
		list(d.mounts[t], t)
	}
	return b.String()
}

// checkReopened runs at the final restart, a second after the last
// full-disk window closed (heal): no partition may still be offline with
// a reopen planned. The broker retries at most StorageRetryBackoffMaxMs
// apart, so one still waiting has stopped retrying in practice (a lost
// timer, a retry that never runs), which only a restart would have hidden.
func (w *world) checkReopened() {
	for _, n := range w.nodes {
		if !n.up {
			continue
		}
		for _, p := range n.b.OfflinePartitions() {
			if p.Retrying {
				w.fail("storage: partition %s of node %d is still offline a second after the disk stopped being full: %v", p.Dir, n.id, p.Cause)
			}
		}
	}
}

// Broker log lines the storage checker reads (core/broker setOffline and
// openLog).
const (
	logPartitionOffline = "partition offline"
	recoveryFailedPfx   = "recovery failed"
	scrubPfx            = "scrub:"
)

// checkOffline runs when a broker says it took a partition offline (its
// log line, so at the moment it does): a partition is declared corrupt
// (partlog.ErrCorruptSegment: a bad batch below the recovery point, or
// below the durable end on a read) only where the simulator flipped a bit
// of a segment. Anywhere else the broker either trusted as synced bytes
// the disk never received (the ground truth, memdisk's synced contents,
// all that survives a power loss, has just exposed them) or called good
// data corrupt; a single node would keep the partition offline until the
// end, which the liveness phase would report only as an undrained
// partition. Failures found by recovery start with "recovery:", those
// found by a read with "corrupt-read:".
func (n *simNode) checkOffline(msg string, args []any) {
	if msg != logPartitionOffline {
		return
	}
	var dir string
	var cause error
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "partition":
			dir = fmt.Sprint(args[i+1])
		case "err":
			cause, _ = args[i+1].(error)
		}
	}
	if cause == nil || !errors.Is(cause, partlog.ErrCorruptSegment) {
		return
	}
	w := n.w
	if tp, ok := partitionOfPath(dir + "/"); ok {
		if _, q := w.quarantine[tp]; q {
			return
		}
	}
	if strings.HasPrefix(cause.Error(), scrubPfx) {
		w.cover("scrub-found-corrupt")
	}
	if w.noteCorruptOffline(n.id, dir) {
		return // a flipped replica reported (mediaflip.go)
	}
	if strings.HasPrefix(cause.Error(), recoveryFailedPfx) {
		w.fail("recovery: node %d declared synced data of %s corrupt, with no media flip injected there: %v", n.id, dir, cause)
		return
	}
	w.fail("corrupt-read: node %d found synced data of %s corrupt on a read, with no media flip injected there: %v", n.id, dir, cause)
}
