package partlog

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/record"
)

// recover rebuilds the in-memory state from the directory. Walkthrough:
//
//  1. List the directory; create it when absent (and sync its parent so
//     the new directory survives a crash). Index files without a segment
//     file are leftovers of a deletion and are removed.
//  2. Read the partition checkpoint: recovery point, high watermark, log
//     start. A corrupt checkpoint is treated as absent (scan everything),
//     never as fatal: the data itself is verifiable. With
//     OpenBounds.TrackSyncedEnd, open the synced-end file (creating it
//     durably) and read the synced end the last sync job wrote; it counts
//     when its truncation generation is the checkpoint's.
//  3. Delete segments wholly below the log start. Retention writes the
//     checkpoint before deleting files, so segments it deleted whose
//     removal a crash undid reappear here and go again.
//  4. Scan segments in order. One wholly below the recovery point (its
//     successor starts at or below it) was synced and sealed: scan its
//     headers only (framing, magic, contiguous offsets, non-decreasing
//     leader epochs); a failure there means data we promised is damaged,
//     so Open fails with ErrCorruptSegment. From the segment holding the
//     recovery point on, every batch is also CRC-checked, and the first
//     failure (or a gap between segments) is a torn tail: cut the file
//     there and delete every later segment. With KeepSyncedDamage, a
//     failure below the recovery point is synced data damaged: Open fails
//     with ErrCorruptSegment instead. A cut below the trusted synced end,
//     or a log ending below it, lost synced records: with
//     MarkUncertainCut the log is marked uncertain first.
//  5. While scanning, rebuild what derives from batch headers: sparse
//     indexes (validating the sealed segments' index files against them),
//     the producer table and the leader-epoch cache.
//  6. If the log now ends below the checkpointed log start (data after
//     it was lost), restart it empty at the log start so that no offset is
//     ever handed out twice.
//  7. Data above the recovery point was read from the page cache or the
//     disk but not necessarily synced: queue those files for the next sync
//     job, and let DurableEndOffset start at the recovery point.
func (l *Log) recover(nowMs int64) error {
	l.recovery = RecoveryInfo{TruncatedAt: -1, SyncedEnd: -1}
	names, err := l.d.List(l.dir)
	if errors.Is(err, disk.ErrNotExist) {
		if err := l.d.MkdirAll(l.dir); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
		// The new directory, and the names created in it below, become
		// durable in the first sync job, before any data (StepDirs), or
		// before the first write on the loop that must be durable
		// (syncNewDirs): a power loss before either loses an empty log,
		// which nothing was promised about, and the event loop is spared
		// the fsyncs of a partition creation.
		names = nil
	} else if err != nil {
		return fmt.Errorf("list directory: %w", err)
	} else {
		// The names listed may not be durable: the previous run can have
		// created a segment (or this directory) and died before its
		// directory sync. Recovery is about to rely on them, and appends
		// synced into such a file would vanish with its name in a power
		// loss (the simulator caught exactly that: a segment created by a
		// roll whose directory sync failed, then reused after a kill).
		if err := l.d.SyncDir(l.dir); err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
		if err := l.syncParents(); err != nil {
			return err
		}
		l.dirsDurable = true
	}

	// Step 1: classify names.
	// bases collects the segments' base offsets (sorted and deduplicated
	// below): a slice rather than a set, as the names are few and parsed
	// at every open.
	var bases []int64
	syncedEndPresent := false
	var indexNames []struct {
		base int64
		name string
	}
	for _, name := range names {
		if name == uncertainFile {
			// An earlier open cut this log without a recovery point, or
			// a caller found its synced data damaged (MarkUncertain), and
			// nobody has since confirmed it holds what it must.
			l.uncertain = true
			l.recovery.Uncertain = true
		}
		if name == syncedEndFile {
			syncedEndPresent = true
		}
		if strings.HasSuffix(name, cleanedSuffix) {
			// A clean job's copy that FinishClean never renamed over its
			// segment: the segment itself is intact (DESIGN.md,
			// "Compaction").
			if err := l.d.Remove(l.path(name)); err != nil && !errors.Is(err, disk.ErrNotExist) {
				return fmt.Errorf("remove leftover cleaned copy %s: %w", name, err)
			}
			continue
		}
		base, suffix, ok := parseSegmentName(name)
		if !ok {
			continue // checkpoints, WriteFileAtomic temporaries, foreign files
		}
		if suffix == logSuffix {
			bases = append(bases, base)
		} else {
			indexNames = append(indexNames, struct {
				base int64
				name string
			}{base, name})
		}
	}
	slices.Sort(bases)
	bases = slices.Compact(bases)
	for _, in := range indexNames {
		if _, found := slices.BinarySearch(bases, in.base); !found {
			if err := l.d.Remove(l.path(in.name)); err != nil && !errors.Is(err, disk.ErrNotExist) {
				return fmt.Errorf("remove orphan index %s: %w", in.name, err)
			}
		}
	}

	// Step 2: the checkpoint.
	ck, err := l.readCheckpoints()
	if err != nil {
		return err
	}
	l.recovery.RecoveryPoint = ck.recoveryPoint
	l.ckptRecoveryPoint = ck.recoveryPoint
	l.recoveryEpochBound = -1
	if c, found, damaged, err := l.readEpochCheckpoints(); err == nil && found && !damaged && len(c.entries) > 0 {
		l.recoveryEpochBound = c.latest()
	}
	// The synced end the last sync job wrote, when trusted
	// (OpenBounds.TrackSyncedEnd): a cut below it drops synced records,
	// which cutTail marks uncertain (OpenBounds.MarkUncertainCut).
	if l.trackSynced {
		if err := l.openSyncedEnd(syncedEndPresent, ck); err != nil {
			return err
		}
	}
	logStart := ck.logStartOffset
	if bugs.LogStartNotPersisted { // deliberate bug (core/bugs)
		logStart = 0 // the start falls back to the first segment's base
	}

	// Step 3: drop segments wholly below the log start, open the rest.
	for i, base := range bases {
		if i+1 < len(bases) && bases[i+1] <= logStart {
			if err := l.removeSegmentFiles(base); err != nil {
				return fmt.Errorf("remove segment %d below log start %d: %w", base, logStart, err)
			}
			l.recovery.SegmentsDeleted++
			continue
		}
		f, err := l.d.OpenFile(l.segFilePath(base, logSuffix), false)
		if err != nil {
			return fmt.Errorf("open segment %d: %w", base, err)
		}
		l.segs = append(l.segs, &segment{base: base, next: base, log: f})
	}
	if len(l.segs) == 0 {
		s, err := l.createSegmentSynced(logStart, l.dirsDurable)
		if err != nil {
			return err
		}
		l.segs = []*segment{s}
	}
	logStart = max(logStart, l.segs[0].base)
	// Open transactions start at the log start at the earliest.
	l.producers.floor = logStart

	// Steps 4 and 5: scan.
	indexBad := make([]bool, len(l.segs))
	wasTrusted := make([]bool, len(l.segs))
	for i := 0; i < len(l.segs); i++ {
		s := l.segs[i]
		if i > 0 && s.base != l.segs[i-1].next {
			// segs[i-1] was not trusted (a trusted one is checked against
			// its successor below), so this is a torn tail.
			cause := fmt.Errorf("%w: segment %d follows a segment ending at %d", errStructure, s.base, l.segs[i-1].next)
			if err := l.cutTail(i-1, l.segs[i-1].size, cause); err != nil {
				return err
			}
			break
		}
		trusted := i+1 < len(l.segs) && l.segs[i+1].base <= ck.recoveryPoint
		bad, cutPos, cause, err := l.scanSegment(s, trusted, i+1 < len(l.segs))
		if err != nil {
			return err
		}
		indexBad[i] = bad
		wasTrusted[i] = trusted
		if trusted {
			l.recovery.SegmentsTrusted++
			if cause != nil {
				if s.next != l.segs[i+1].base {
					return l.corruptAt(s, s.next, cutPos, cause)
				}
				// Every offset up to the next segment is intact; the bytes
				// after them are the remains of a write or truncation that
				// never became durable. Trim them, durably, so that the
				// segment stays valid after the next crash too.
				if err := l.trimFile(s, cutPos); err != nil {
					return err
				}
			}
			if s.next != l.segs[i+1].base {
				return l.corruptAt(s, s.next, s.size, fmt.Errorf("%w: segment ends at offset %d but the next one starts at %d", errStructure, s.next, l.segs[i+1].base))
			}
			continue
		}
		l.recovery.SegmentsScanned++
		if cause != nil && s.next < ck.recoveryPoint && l.keepSynced {
			// Synced data is damaged (OpenBounds.KeepSyncedDamage).
			return l.corruptAt(s, s.next, cutPos, cause)
		}
		if cause != nil {
			if err := l.cutTail(i, cutPos, cause); err != nil {
				return err
			}
			break
		}
	}

	// Files that end below the synced end (and below the log start, which
	// may have moved past it) lost synced records without any cut.
	if last := l.active(); last.next < l.recovery.SyncedEnd && logStart < l.recovery.SyncedEnd {
		l.recovery.LostDurableData = true
		if err := l.markCutUncertain(fmt.Sprintf("the log ends at offset %d below its synced end %d", last.next, l.recovery.SyncedEnd)); err != nil {
			return err
		}
	}

	// A torn tail can delete every segment after a trusted one, which then
	// becomes the active segment having had only its headers checked. The
	// next Open would CRC-check it as the active segment and cut at the
	// first damaged batch, silently dropping data synced since: check it
	// now, where damage below the recovery point is reported instead
	// (found by FuzzLogCrash).
	if last := len(l.segs) - 1; wasTrusted[last] {
		if err := l.verifyCRCs(l.segs[last]); err != nil {
			return err
		}
	}

	// Seal every segment but the last; the last is active.
	for i, s := range l.segs[:len(l.segs)-1] {
		if err := l.openSealed(s, indexBad[i]); err != nil {
			return err
		}
		if indexBad[i] {
			l.recovery.IndexesRebuilt += 2
		}
		rewrote, err := l.openTxnIndex(s, s.aborted)
		if err != nil {
			return err
		}
		s.aborted = nil
		if rewrote {
			l.recovery.TxnIndexesRebuilt++
		}
	}
	a := l.active()
	if err := l.removeIndexFiles(a.base); err != nil {
		return fmt.Errorf("remove stale index files of the active segment: %w", err)
	}
	a.firstBatchMs = nowMs

	// Step 6.
	l.logStart = logStart
	if logStart > a.next {
		if err := l.restartAt(logStart); err != nil {
			return err
		}
	}
	leo := l.LogEndOffset()

	// Step 7.
	l.durableEnd = max(min(ck.recoveryPoint, leo), l.segs[0].base)
	for _, s := range l.segs {
		if s.next > l.durableEnd || s.dirty {
			if s == l.active() {
				s.dirty = true
			} else if !slices.Contains(l.pendingSync, s.log) {
				l.pendingSync = append(l.pendingSync, s.log)
			}
		}
	}
	l.hw = l.logStart
	if l.recovery.CheckpointFound {
		l.hw = min(max(ck.highWatermark, l.logStart), leo)
	}
	if ck.recoveryPoint > leo {
		// Synced data was lost (or the log restarted above it): the old
		// recovery point would make the next Open trust segments that
		// are written after it.
		if err := l.writeCheckpoint(l.durableEnd, l.hw, l.logStart); err != nil {
			return err
		}
	}
	return l.recoverEpochs()
}

// readCheckpoints reads both checkpoint files and returns the current
// checkpoint (pickCheckpoint), setting RecoveryInfo.CheckpointFound or
// CheckpointCorrupt, and the sequence the next write continues from. A
// file that cannot be read for an I/O error fails the open.
func (l *Log) readCheckpoints() (partitionCheckpoint, error) {
	var files [2][]byte
	for i, name := range CheckpointFileNames {
		data, err := l.d.ReadFile(l.path(name))
		switch {
		case err == nil:
			if data == nil {
				data = []byte{} // present but empty: damaged, not absent
			}
			files[i] = data
			if name == checkpointFile {
				l.loopCkptExists = true
			}
		case !errors.Is(err, disk.ErrNotExist):
			return partitionCheckpoint{}, fmt.Errorf("read checkpoint %s: %w", name, err)
		}
	}
	for i, data := range files {
		if c, err := decodePartitionCheckpoint(data); data != nil && err == nil && l.foreign(c.owner) {
			if err := l.removeForeign(CheckpointFileNames[i]); err != nil {
				return partitionCheckpoint{}, err
			}
			files[i] = nil
			if CheckpointFileNames[i] == checkpointFile {
				l.loopCkptExists = false
			}
		}
	}
	// Later writes continue above every readable sequence, a damaged
	// file's neighbour's included: the next write (on the loop, after
	// damage) must outrank it.
	for _, data := range files {
		if c, err := decodePartitionCheckpoint(data); data != nil && err == nil {
			l.ckptSeq = max(l.ckptSeq, c.seq)
		}
	}
	ck, found, err := pickCheckpoint(files)
	if err != nil {
		l.recovery.CheckpointCorrupt = true
		l.ckptDamaged = true
		return partitionCheckpoint{}, nil
	}
	l.recovery.CheckpointFound = found
	return ck, nil
}

// foreign reports whether a checkpoint file of owner belongs to another
// log than this one (OpenBounds.Owner): a deleted topic's, whose sync job
// wrote it after a topic of the same name took the directory over.
func (l *Log) foreign(owner string) bool {
	return owner != "" && l.owner != "" && owner != l.owner
}

// removeForeign removes another log's checkpoint file (foreign), so that
// it neither counts nor lingers. Its content never counts, so its removal
// need not be durable.
func (l *Log) removeForeign(name string) error {
	l.recovery.ForeignCheckpoints++
	if err := l.d.Remove(l.path(name)); err != nil && !errors.Is(err, disk.ErrNotExist) {
		return fmt.Errorf("remove another log's checkpoint %s: %w", name, err)
	}
	return nil
}

// syncParents makes the log's directory and every directory above it
// durable: SyncDir of each parent, deepest first. MkdirAll may have
// created several levels, and a name is only as durable as its path: a
// file in a directory whose own entry was never synced vanishes with it in
// a power loss.
func (l *Log) syncParents() error {
	for dir := l.dir; dir != "." && dir != "/" && dir != ""; dir = path.Dir(dir) {
		if err := l.d.SyncDir(path.Dir(dir)); err != nil {
			return fmt.Errorf("sync parent directory of %s: %w", dir, err)
		}
	}
	return nil
}

// syncNewDirs makes a new log's directory and its parents durable now,
// on the loop, unless a sync job did already: before a write there that
// must be durable when it returns (a checkpoint, the epoch file, the
// uncertain mark), which a lost directory would take with it.
func (l *Log) syncNewDirs() error {
	if l.dirsDurable {
		return nil
	}
	for _, dir := range l.dirAndParents() {
		if err := l.d.SyncDir(dir); err != nil {
			return fmt.Errorf("sync new directory %s: %w", dir, err)
		}
	}
	l.dirsDurable = true
	return nil
}

// dirAndParents lists the log's directory and every directory above it,
// deepest first: what a new log's first sync job fsyncs (StepDirs), as
// Open does for an existing one (SyncDir of the directory, syncParents).
func (l *Log) dirAndParents() []string {
	dirs := []string{l.dir}
	for dir := l.dir; dir != "." && dir != "/" && dir != ""; dir = path.Dir(dir) {
		dirs = append(dirs, path.Dir(dir))
	}
	return dirs
}

// recoverEpochs settles the leader-epoch cache. The scan derived it from
// the batches, which is authoritative for the data present; the file only
// matters when no batch is left (its latest epoch must survive). The file
// is rewritten when it disagrees.
//
// Of the two files the one with the higher sequence counts. One that exists
// but does not decode may have been the current one, so then neither
// counts (as a damaged single file did not): both are removed, and the
// cache is written afresh when it has entries.
func (l *Log) recoverEpochs() error {
	leo := l.LogEndOffset()
	onDisk, haveFile, damaged, err := l.readEpochCheckpoints()
	if err != nil {
		return err
	}
	if damaged {
		for _, name := range epochFileNames {
			if err := l.d.Remove(l.path(name)); err != nil && !errors.Is(err, disk.ErrNotExist) {
				return fmt.Errorf("remove damaged leader-epoch checkpoint %s: %w", name, err)
			}
		}
		haveFile = false
	}
	if len(l.epochs.entries) == 0 && haveFile {
		l.epochs = epochCache{entries: append([]epochEntry(nil), onDisk.entries...)}
		l.epochs.truncateFromEnd(leo)
	}
	l.epochs.truncateFromStart(l.logStart)
	if haveFile && slices.Equal(onDisk.entries, l.epochs.entries) {
		return nil
	}
	if !haveFile && len(l.epochs.entries) == 0 {
		return nil
	}
	return l.writeEpochCheckpoint()
}

// readEpochCheckpoints reads both leader-epoch checkpoint files and
// returns the current one's cache (the higher sequence; found=false when
// neither exists), damaged=true when a file exists that does not decode,
// and sets the sequence the next write continues from.
func (l *Log) readEpochCheckpoints() (c epochCache, found, damaged bool, err error) {
	var seq uint64
	for _, name := range epochFileNames {
		data, err := l.d.ReadFile(l.path(name))
		if errors.Is(err, disk.ErrNotExist) {
			continue
		}
		if err != nil {
			return epochCache{}, false, false, fmt.Errorf("read leader-epoch checkpoint %s: %w", name, err)
		}
		d, s, owner, derr := decodeEpochCheckpoint(data)
		if derr != nil {
			damaged = true
			continue
		}
		if l.foreign(owner) {
			if err := l.removeForeign(name); err != nil {
				return epochCache{}, false, false, err
			}
			continue
		}
		if !found || s > seq {
			c, seq = d, s
		}
		found = true
	}
	l.epochSeq = max(l.epochSeq, seq)
	return c, found, damaged, nil
}

// scanSegment rebuilds a segment's in-memory state from its file. trusted
// selects header-only checks; otherwise batches are also CRC-checked. The
// first failure is returned as cause with its position, for the caller to
// cut or to report; err is for I/O errors. checkIndex loads the
// segment's index files and reports whether they disagree with the
// batches (bad=true also when they are missing).
func (l *Log) scanSegment(s *segment, trusted, checkIndex bool) (bad bool, cutPos int64, cause error, err error) {
	size, err := s.log.Size()
	if err != nil {
		return false, 0, nil, fmt.Errorf("size of segment %d: %w", s.base, err)
	}
	s.resetContents()
	var ic *indexCheck
	if checkIndex {
		ic, err = l.loadIndexCheck(s.base)
		if err != nil {
			return false, 0, nil, err
		}
	}
	sc := scanner{f: s.log, limit: size, reuse: &l.scanBuf}
	expect := s.base
	pos := int64(0)
	limit := size
	if bugs.RecoveryDeclaresCorrupt && trusted { // deliberate bug (core/bugs): off by one
		limit = size - 1
	}
	for pos < size {
		h, err := l.scanBatch(&sc, pos, limit, expect, trusted)
		if err != nil {
			if !errors.Is(err, errStructure) && !errors.Is(err, record.ErrCorrupt) && !errors.Is(err, record.ErrOldMagic) {
				return false, 0, nil, fmt.Errorf("read segment %d: %w", s.base, err)
			}
			return true, pos, err, nil
		}
		if bugs.ReuseOffsetAfterCrash && !trusted && h.BaseOffset >= l.ckptRecoveryPoint {
			// Deliberate bug (core/bugs): trust nothing past the checkpointed
			// recovery point, so synced batches after it are cut and reused.
			return true, pos, fmt.Errorf("%w: deliberate bug: batch past the recovery point", errStructure), nil
		}
		if ic != nil {
			ic.visit(s, h, pos)
		}
		s.noteBatch(h, pos, l.cfg.IndexIntervalBytes)
		if h.Control() && h.HasProducerID() {
			// scanBatch checked its CRC, trusted or not: the marker's
			// type decides what read_committed readers see.
			whole, err := sc.bytes(pos, h.Size())
			if err != nil {
				return false, 0, nil, fmt.Errorf("read segment %d: %w", s.base, err)
			}
			if e, abort := l.producers.replayMarker(h, whole); abort {
				s.aborted = append(s.aborted, e)
			}
		} else {
			l.producers.apply(h)
		}
		l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		pos += int64(h.Size())
		expect = h.NextOffset()
	}
	if ic == nil {
		return true, 0, nil, nil
	}
	return ic.finish(), 0, nil, nil
}

// scanBatch validates the batch at pos during recovery.
func (l *Log) scanBatch(sc *scanner, pos, size, expect int64, trusted bool) (record.Header, error) {
	hdr, err := sc.bytes(pos, record.HeaderSize)
	if err != nil {
		return record.Header{}, err
	}
	h, err := structuralCheck(hdr, pos, size, expect)
	if err != nil {
		return record.Header{}, err
	}
	if h.PartitionLeaderEpoch < 0 || h.PartitionLeaderEpoch < l.epochs.latest() {
		return record.Header{}, fmt.Errorf("%w: at position %d: leader epoch %d after epoch %d", errStructure, pos, h.PartitionLeaderEpoch, l.epochs.latest())
	}
	// The epoch field is outside the CRC, so a torn write can leave a
	// batch that checks out with a garbage epoch; a later epoch than the
	// checkpoint ever recorded cannot be real (simulator seed 10236: such
	// a batch made every later append fail as an epoch regression).
	if !trusted && l.recoveryEpochBound >= 0 && h.PartitionLeaderEpoch > l.recoveryEpochBound {
		return record.Header{}, fmt.Errorf("%w: at position %d: leader epoch %d beyond the checkpointed latest epoch %d", errStructure, pos, h.PartitionLeaderEpoch, l.recoveryEpochBound)
	}
	// The caller's bound (OpenBounds.MaxLeaderEpoch) needs no file, so it
	// holds when the epoch checkpoint is unreadable too (seed 20225). A
	// batch past the recovery point is torn: cut. One below it was synced
	// and may have been acknowledged: cutting it would lose it silently,
	// so the damage is reported instead.
	if l.maxLeaderEpoch >= 0 && h.PartitionLeaderEpoch > l.maxLeaderEpoch {
		if trusted || h.BaseOffset < l.ckptRecoveryPoint {
			return record.Header{}, fmt.Errorf("%w: synced batch at offset %d (position %d) has leader epoch %d beyond the partition's leader epoch %d", ErrCorruptSegment, h.BaseOffset, pos, h.PartitionLeaderEpoch, l.maxLeaderEpoch)
		}
		return record.Header{}, fmt.Errorf("%w: at position %d: leader epoch %d beyond the partition's leader epoch %d", errStructure, pos, h.PartitionLeaderEpoch, l.maxLeaderEpoch)
	}
	// A control batch is CRC-checked in a trusted segment too: it is
	// small, and a flipped bit could turn an abort into a commit.
	if (!trusted || h.Control()) && !bugs.SkipCRCCheck { // !bugs.SkipCRCCheck: deliberate bug (core/bugs)
		whole, err := sc.bytes(pos, h.Size())
		if err != nil {
			return record.Header{}, err
		}
		if _, err := record.Check(whole); err != nil {
			return record.Header{}, fmt.Errorf("at position %d: %w", pos, err)
		}
	}
	return h, nil
}

// cutTail truncates segment i at pos (a torn or corrupt tail) and deletes
// every later segment. A later segment left empty at position 0 is deleted
// too, so that only the active segment can be empty.
func (l *Log) cutTail(i int, pos int64, cause error) error {
	s := l.segs[i]
	size, err := s.log.Size()
	if err != nil {
		return fmt.Errorf("size of segment %d: %w", s.base, err)
	}
	// A cut below the trusted synced end drops records a sync job
	// declared durable: damage of synced data above the checkpointed
	// recovery point, which trails the fsyncs (FINDINGS.md 42), or below
	// it when KeepSyncedDamage is off.
	belowSynced := s.next < l.recovery.SyncedEnd
	switch {
	case belowSynced:
		// Synced records go: say so durably before the cut, which the
		// checkpoint written next would hide. The copy then does not lead
		// before it caught up with another replica, and one that can
		// fetch the batch again is repaired without an operator (keeping
		// it offline as corrupt, as below the recovery point, would need
		// one every time).
		if err := l.markCutUncertain(fmt.Sprintf("cut at offset %d of segment %d below the synced end %d: %v", s.next, s.base, l.recovery.SyncedEnd, cause)); err != nil {
			return err
		}
	case l.recovery.CheckpointCorrupt:
		// Without the recovery point this may be damaged synced data
		// rather than a torn tail: say so durably before the cut, which
		// the next open could no longer see.
		if err := l.markCutUncertain(fmt.Sprintf("cut at offset %d of segment %d without a recovery point: %v", s.next, s.base, cause)); err != nil {
			return err
		}
	}
	l.recovery.TruncatedAt = s.next
	l.recovery.TruncatedBytes = size - pos
	l.recovery.Cause = cause
	if s.next < l.recovery.RecoveryPoint || belowSynced {
		l.recovery.LostDurableData = true
	}
	if size != pos {
		if err := l.trimFile(s, pos); err != nil {
			return err
		}
	}
	removed := len(l.segs) > i+1
	for _, t := range l.segs[i+1:] {
		t.log.Close()
		t.log = nil
		if err := l.removeSegmentFiles(t.base); err != nil {
			return fmt.Errorf("remove segment %d after torn tail: %w", t.base, err)
		}
		l.recovery.SegmentsDeleted++
	}
	l.segs = l.segs[:i+1]
	if s.empty() && i > 0 {
		s.log.Close()
		s.log = nil
		if err := l.removeSegmentFiles(s.base); err != nil {
			return fmt.Errorf("remove empty segment %d after torn tail: %w", s.base, err)
		}
		l.recovery.SegmentsDeleted++
		l.segs = l.segs[:i]
		removed = true
	}
	if removed {
		return l.syncRemovals()
	}
	return nil
}

// markCutUncertain writes the uncertain mark before recovery drops records
// that may have been synced (OpenBounds.MarkUncertainCut); without that
// flag, or when the mark is already there, it does nothing.
func (l *Log) markCutUncertain(note string) error {
	if !l.markUncertain || l.uncertain {
		return nil
	}
	if err := l.writeUncertainMark(note); err != nil {
		return fmt.Errorf("mark as uncertain (%s): %w", note, err)
	}
	l.recovery.Uncertain = true
	return nil
}

// syncRemovals makes segment deletions after a cut durable. A removed
// segment that came back after a crash could otherwise sit right after the
// cut, at a base offset the recovery point already covers, and make the
// segment before it look trusted although its new tail was never synced
// (or splice stale data after new data).
func (l *Log) syncRemovals() error {
	if err := l.d.SyncDir(l.dir); err != nil {
		return fmt.Errorf("sync directory after removing segments: %w", err)
	}
	return nil
}

// trimFile cuts a segment file at pos and syncs it at once. The cut must
// be durable before anything is appended after it: otherwise a crash could
// bring the old bytes back inside a segment that a later checkpoint's
// recovery point declares trusted.
func (l *Log) trimFile(s *segment, pos int64) error {
	if err := s.log.Truncate(pos); err != nil {
		return fmt.Errorf("truncate segment %d at %d: %w", s.base, pos, err)
	}
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("sync segment %d after truncating it: %w", s.base, err)
	}
	return nil
}

// openSealed turns a scanned segment into a sealed one: it keeps valid
// index files and rewrites invalid or missing ones from the entries the
// scan rebuilt.
func (l *Log) openSealed(s *segment, rewrite bool) error {
	var err error
	if s.indexFile, err = l.d.OpenFile(l.segFilePath(s.base, indexSuffix), true); err != nil {
		return fmt.Errorf("open index of segment %d: %w", s.base, err)
	}
	if s.timeIndexFile, err = l.d.OpenFile(l.segFilePath(s.base, timeIndexSuffix), true); err != nil {
		return fmt.Errorf("open time index of segment %d: %w", s.base, err)
	}
	if rewrite {
		if err := writeWhole(s.indexFile, encodeIndex(s.index)); err != nil {
			return fmt.Errorf("rewrite index of segment %d: %w", s.base, err)
		}
		if err := writeWhole(s.timeIndexFile, encodeTimeIndex(s.timeIndex)); err != nil {
			return fmt.Errorf("rewrite time index of segment %d: %w", s.base, err)
		}
		l.pendingSync = append(l.pendingSync, s.indexFile, s.timeIndexFile)
	}
	isz, err := s.indexFile.Size()
	if err != nil {
		return fmt.Errorf("size of index of segment %d: %w", s.base, err)
	}
	tsz, err := s.timeIndexFile.Size()
	if err != nil {
		return fmt.Errorf("size of time index of segment %d: %w", s.base, err)
	}
	s.indexCount, s.timeIndexCount = int(isz/indexEntrySize), int(tsz/timeIndexEntrySize)
	s.index, s.timeIndex = nil, nil
	s.sealed = true
	return nil
}

// restartAt deletes every segment and starts an empty log at offset
// start (Kafka's truncateFullyAndStartAt).
func (l *Log) restartAt(start int64) error {
	for _, s := range l.segs {
		l.release(s)
		if err := l.removeSegmentFiles(s.base); err != nil {
			return fmt.Errorf("remove segment %d: %w", s.base, err)
		}
	}
	l.segs = nil
	s, err := l.createSegment(start)
	if err != nil {
		return err
	}
	s.firstBatchMs = l.lastNowMs
	l.segs = []*segment{s}
	l.logStart = start
	l.hw = start
	// Nothing below start exists any more: vacuously durable.
	l.durableEnd = start
	l.producers.reset(l.cfg.MaxProducerIDs)
	l.producers.floor = start
	l.epochs.truncateFromEnd(start)
	l.epochs.truncateFromStart(start)
	return nil
}

// indexCheck validates a sealed segment's index files against the batches
// as the scan visits them: every offset-index entry must name a batch's
// base offset and exact position, every time-index entry a batch's base
// offset and the largest timestamp before it, both in increasing order
// and inside the segment. Entries written with another
// index.interval.bytes stay valid.
type indexCheck struct {
	index []indexEntry
	times []timeEntry
	i, j  int
	bad   bool
}

func (l *Log) loadIndexCheck(base int64) (*indexCheck, error) {
	ic := &indexCheck{}
	for _, f := range []struct {
		suffix string
		decode func([]byte) error
	}{
		{indexSuffix, func(b []byte) (err error) { ic.index, err = decodeIndex(b); return }},
		{timeIndexSuffix, func(b []byte) (err error) { ic.times, err = decodeTimeIndex(b); return }},
	} {
		data, err := l.d.ReadFile(l.segFilePath(base, f.suffix))
		if errors.Is(err, disk.ErrNotExist) {
			ic.bad = true
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", segmentName(base, f.suffix), err)
		}
		if err := f.decode(data); err != nil {
			ic.bad = true
		}
	}
	return ic, nil
}

// visit checks the entries that point at the batch h at pos; it must run
// before s.noteBatch(h) so that s.maxTs is the maximum before h.
func (ic *indexCheck) visit(s *segment, h record.Header, pos int64) {
	if ic.bad {
		return
	}
	rel := h.BaseOffset - s.base
	if ic.i < len(ic.index) {
		e := ic.index[ic.i]
		switch {
		case int64(e.rel) < rel:
			ic.bad = true // points inside a batch or goes backwards
		case int64(e.rel) == rel:
			if int64(e.pos) != pos {
				ic.bad = true
			}
			ic.i++
		}
	}
	if ic.j < len(ic.times) {
		e := ic.times[ic.j]
		switch {
		case int64(e.rel) < rel:
			ic.bad = true
		case int64(e.rel) == rel:
			if !s.hasTs || e.ts != s.maxTs {
				ic.bad = true
			}
			ic.j++
		}
	}
}

// finish reports whether the files must be rewritten: some entry was
// wrong, or some lie past the last batch.
func (ic *indexCheck) finish() bool {
	return ic.bad || ic.i != len(ic.index) || ic.j != len(ic.times)
}

// verifyCRCs checks the CRC of every batch of a segment whose headers
// were already validated by the recovery scan; a failure is corruption of
// synced data, reported with ErrCorruptSegment.
func (l *Log) verifyCRCs(s *segment) error {
	expect := s.base
	for pos := int64(0); pos < s.size; {
		h, err := s.headerAt(pos, s.size, expect)
		if err != nil {
			return l.corruptAt(s, expect, pos, err)
		}
		if _, err := l.readBatch(s, pos, h); err != nil {
			return err
		}
		pos += int64(h.Size())
		expect = h.NextOffset()
	}
	return nil
}
