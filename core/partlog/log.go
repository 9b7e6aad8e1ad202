package partlog

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/record"
)

// RecoveryInfo describes what Open found and repaired, for the broker's
// log and for tests.
type RecoveryInfo struct {
	// CheckpointFound: a valid partition checkpoint was read.
	CheckpointFound bool
	// CheckpointCorrupt: a checkpoint file existed but failed its CRC or
	// did not parse; it was ignored and every segment was scanned.
	CheckpointCorrupt bool
	// ForeignCheckpoints counts checkpoint files of another log
	// (OpenBounds.Owner) that Open removed without reading them.
	ForeignCheckpoints int
	// RecoveryPoint is the recovery point Open started from (0 without a
	// checkpoint).
	RecoveryPoint int64
	// SegmentsTrusted counts segments wholly below the recovery point,
	// header-scanned only; SegmentsScanned counts those CRC-checked.
	SegmentsTrusted int
	SegmentsScanned int
	// TruncatedAt is the offset at which a torn or corrupt tail was cut,
	// -1 when the log was intact; TruncatedBytes is how many bytes of that
	// segment went, and Cause the validation error found there.
	TruncatedAt    int64
	TruncatedBytes int64
	Cause          error
	// LostDurableData: the cut lies below the recovery point or the
	// trusted synced end (or the files end below that synced end), so data
	// that had been synced was lost (a lying disk or media corruption).
	LostDurableData bool
	// SyncedEnd is the synced end recovery trusted (OpenBounds.TrackSyncedEnd:
	// the last sync job's slot, of the checkpoint's truncation generation),
	// -1 when none.
	SyncedEnd int64
	// SegmentsDeleted counts segment files removed: wholly below the log
	// start offset, or after a torn tail.
	SegmentsDeleted int
	// Uncertain: the log may lack records that were synced, because a
	// tail was cut while the checkpoint was unreadable or below the synced
	// end, at this open or at an earlier one, or because a caller found
	// synced data damaged
	// (MarkUncertain), and no ClearUncertain has removed the mark since
	// (OpenBounds.MarkUncertainCut).
	Uncertain bool
	// IndexesRebuilt counts index and time-index files rewritten because
	// they were missing or invalid.
	IndexesRebuilt int
	// TxnIndexesRebuilt counts sealed segments whose aborted-transaction
	// index (.txnindex) was missing, damaged or stale, and rewritten from
	// the markers the scan found.
	TxnIndexesRebuilt int
}

// Recovery reports what Open found and repaired.
func (l *Log) Recovery() RecoveryInfo { return l.recovery }

// Uncertain reports whether the log may lack records that were synced:
// recovery cut it without knowing its recovery point
// (OpenBounds.MarkUncertainCut), at this open or an earlier one, or
// MarkUncertain ran before a restart, and ClearUncertain has not run
// since.
func (l *Log) Uncertain() bool { return l.uncertain }

// MarkUncertain writes the mark that Uncertain reports, durably, for a
// caller that found damage in synced data (a read or a scrub failing with
// ErrCorruptSegment) and is about to close the log. The damaged batch was
// synced, but the checkpointed recovery point may still lie below it
// (checkpoints trail the durable end), and then the next Open takes it for
// a torn tail and cuts it, and the checkpoint written after that hides
// the cut: the mark keeps the fact that the log may lack synced records
// across restarts until ClearUncertain, as for a cut made without the
// checkpoint (OpenBounds.MarkUncertainCut). why is stored as the mark's
// text.
func (l *Log) MarkUncertain(why string) error {
	l.changes++
	if err := l.usable(); err != nil {
		return err
	}
	if l.uncertain {
		return nil
	}
	if err := l.writeUncertainMark(why); err != nil {
		return fmt.Errorf("partlog: write the uncertain-recovery mark of %s: %w", l.dir, err)
	}
	return nil
}

// writeUncertainMark writes the uncertain mark with text why, durably,
// and sets what Uncertain reports.
func (l *Log) writeUncertainMark(why string) error {
	if err := l.syncNewDirs(); err != nil {
		return err
	}
	if err := l.d.WriteFileAtomic(l.path(uncertainFile), []byte(why+"\n")); err != nil {
		return err
	}
	l.uncertain = true
	return nil
}

// ClearUncertain removes the mark of an uncertain cut, once the caller
// knows from elsewhere that the log holds what it must (a cluster replica
// that its leader admitted to the ISR again). The removal is made durable
// before Uncertain turns false; a failure leaves the mark in place.
func (l *Log) ClearUncertain() error {
	l.changes++
	if !l.uncertain {
		return nil
	}
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.d.Remove(l.path(uncertainFile)); err != nil && !errors.Is(err, disk.ErrNotExist) {
		return fmt.Errorf("partlog: remove the uncertain-recovery mark of %s: %w", l.dir, err)
	}
	if err := l.d.SyncDir(l.dir); err != nil {
		return fmt.Errorf("partlog: sync %s after removing the uncertain-recovery mark: %w", l.dir, err)
	}
	l.uncertain = false
	return nil
}

// Dir is the partition directory the log lives in.
func (l *Log) Dir() string { return l.dir }

// Segments is the number of segment files, the active one included.
func (l *Log) Segments() int { return len(l.segs) }

// SizeBytes is the total size of the segment files' valid data.
func (l *Log) SizeBytes() int64 {
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// Failed reports the error that put the log in the failed state, nil while
// it is healthy.
func (l *Log) Failed() error { return l.failed }

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// usable is checked first by every operation that can fail.
func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// fail puts the log in the failed state: a write or fsync went wrong, so
// what the page cache holds can no longer be trusted, and only a reopen
// (which recovers from what is on disk) clears it.
func (l *Log) fail(op string, err error) error {
	if l.failed == nil {
		l.failed = fmt.Errorf("%w: %s: %w", ErrLogFailed, op, err)
	}
	return l.failed
}

// path returns the disk path of a file in the partition directory.
func (l *Log) path(name string) string {
	if l.prefix != "" && plainName(name) {
		return l.prefix + name
	}
	return path.Join(l.dir, name)
}

// segFilePath returns the disk path of segment base's file with suffix:
// l.path(segmentName(base, suffix)) in one allocation, for the names
// built at every roll, open and removal.
func (l *Log) segFilePath(base int64, suffix string) string {
	if l.prefix == "" || base < 0 {
		return l.path(segmentName(base, suffix))
	}
	b := make([]byte, 0, len(l.prefix)+20+len(suffix))
	return string(appendSegmentName(append(b, l.prefix...), base, suffix))
}

// segmentIndex returns the index of the segment holding offset: the last
// one whose base is <= offset.
func (l *Log) segmentIndex(offset int64) int {
	i, _ := slices.BinarySearchFunc(l.segs, offset, func(s *segment, o int64) int {
		switch {
		case s.base > o:
			return 1
		case s.base < o:
			return -1
		}
		return 0
	})
	if i < len(l.segs) && l.segs[i].base == offset {
		return i
	}
	return max(i-1, 0)
}

// writeCheckpoint persists the partition checkpoint.
func (l *Log) writeCheckpoint(recoveryPoint, hw, logStart int64) error {
	return l.writeCheckpointGen(recoveryPoint, hw, logStart, l.truncGen)
}

// writeCheckpointGen persists the partition checkpoint with the truncation
// generation gen, on the event loop (checkpointFile). Its sequence is
// above that of any checkpoint a job in flight may still write
// (jobCheckpointFile), so recovery takes this one whichever lands last.
func (l *Log) writeCheckpointGen(recoveryPoint, hw, logStart, gen int64) error {
	if err := l.syncNewDirs(); err != nil {
		return fmt.Errorf("partlog: write checkpoint of %s: %w", l.dir, err)
	}
	if err := l.removeIfDamaged(jobCheckpointFile, func(b []byte) error { _, err := decodePartitionCheckpoint(b); return err }); err != nil {
		return fmt.Errorf("partlog: write checkpoint of %s: %w", l.dir, err)
	}
	l.ckptSeq++
	data := encodePartitionCheckpoint(partitionCheckpoint{recoveryPoint: recoveryPoint, highWatermark: hw, logStartOffset: logStart, truncGen: gen, seq: l.ckptSeq, owner: l.owner})
	if err := l.d.WriteFileAtomic(l.path(checkpointFile), data); err != nil {
		return fmt.Errorf("partlog: write checkpoint of %s: %w", l.dir, err)
	}
	l.ckptRecoveryPoint = recoveryPoint
	l.ckptHW, l.ckptLogStart, l.ckptWritten = hw, logStart, true
	l.ckptDamaged, l.loopCkptExists = false, true
	return nil
}

// loopCheckpointDamaged reports whether checkpointFile, written on the
// loop at some point, no longer decodes (a latent flip). The periodic
// checkpoint goes to the job's file and would leave it so, while every
// open would take the log for one without a checkpoint: RequestCheckpoint
// then writes it on the loop instead, as the periodic checkpoint did when
// there was one file. A read error is not damage (the next pass reads
// again).
func (l *Log) loopCheckpointDamaged() bool {
	if !l.loopCkptExists {
		return false
	}
	data, err := l.d.ReadFile(l.path(checkpointFile))
	if errors.Is(err, disk.ErrNotExist) {
		l.loopCkptExists = false
		return false
	}
	if err != nil {
		return false
	}
	_, derr := decodePartitionCheckpoint(data)
	return derr != nil
}

// removeIfDamaged removes a job's checkpoint file (name) that no longer
// decodes, before the loop writes the other one, whose directory sync
// then makes the removal durable. The loop's write is newer than anything
// a job wrote, so a job's file that decodes is harmless (its sequence is
// lower); but one that a latent flip damaged has no readable sequence and
// would make every later open ignore both files (sim seed 103980 lost a
// DeleteRecords' log start so). A file that decodes is left alone: removed
// before a write that then fails, it would leave the loop's older file
// alone, which may lack what the job's held (sim seeds 20183, 689150508,
// for the epoch file). If the write fails after a damaged one went, the
// loop's older checkpoint counts: the job's held the same log start (it
// changes only with a loop write) and a higher recovery point and high
// watermark, so the older one makes recovery scan more. Its truncation
// generation is the job's too, except after an open that raised it for
// want of a readable checkpoint (openSyncedEnd) and wrote none since:
// then the synced-end slots written since do not count, as after that
// open. A job in flight may write the file again later, with a lower
// sequence. A read error is left for the next write.
func (l *Log) removeIfDamaged(name string, decode func([]byte) error) error {
	data, err := l.d.ReadFile(l.path(name))
	if err != nil || decode(data) == nil {
		return nil
	}
	if err := l.d.Remove(l.path(name)); err != nil && !errors.Is(err, disk.ErrNotExist) {
		return fmt.Errorf("remove damaged %s: %w", name, err)
	}
	return nil
}

// checkpointUnchanged reports whether a checkpoint of recoveryPoint and
// the current high watermark and log start would repeat the last one
// written or handed to a job.
func (l *Log) checkpointUnchanged(recoveryPoint int64) bool {
	return l.ckptWritten && l.ckptRecoveryPoint == recoveryPoint && l.ckptHW == l.hw && l.ckptLogStart == l.logStart
}

// claimCheckpoint gives job the partition checkpoint it writes after its
// fsyncs (StepCheckpoint), when one was asked for (RequestCheckpoint):
// the recovery point is the job's UpTo, durable by then. From now on the
// file may hold it, so a truncation below it writes a lower one first
// (truncateTo compares with ckptRecoveryPoint), with a later sequence.
func (l *Log) claimCheckpoint(job *SyncJob) {
	if !l.ckptDue {
		return
	}
	l.ckptDue = false
	if l.checkpointUnchanged(job.UpTo) {
		return
	}
	l.ckptSeq++
	job.ckpt = partitionCheckpoint{recoveryPoint: job.UpTo, highWatermark: l.hw, logStartOffset: l.logStart, truncGen: l.truncGen, seq: l.ckptSeq, owner: l.owner}
	job.ckptPath = l.path(jobCheckpointFile)
	l.ckptRecoveryPoint = max(l.ckptRecoveryPoint, job.UpTo)
	l.ckptHW, l.ckptLogStart, l.ckptWritten = l.hw, l.logStart, true
}

// writeEpochCheckpoint persists the leader-epoch cache now, on the event
// loop (epochCheckpointFile): for the changes that must be durable before
// the caller goes on (truncation, retention, recovery). Appends leave the
// write to the next sync job instead (epochsUnsynced,
// jobEpochCheckpointFile). A job in flight that carries an older copy
// may still land after this write, in its own file (so the two writes
// never share a temporary file) and with a lower sequence, so recovery
// takes this one; and nothing older is left for a job to write.
func (l *Log) writeEpochCheckpoint() error {
	if err := l.syncNewDirs(); err != nil {
		return fmt.Errorf("partlog: write leader-epoch checkpoint of %s: %w", l.dir, err)
	}
	// A damaged job's file is left alone: the next open removes it and
	// rewrites the cache (recoverEpochs), and removed before a write that
	// then failed it could take the only record of a synced epoch along.
	l.epochSeq++
	if err := l.d.WriteFileAtomic(l.path(epochCheckpointFile), encodeEpochCheckpoint(&l.epochs, l.epochSeq, l.owner)); err != nil {
		return fmt.Errorf("partlog: write leader-epoch checkpoint of %s: %w", l.dir, err)
	}
	l.epochsUnsynced = false
	return nil
}

// writeOwnerFile makes sure OpenBounds.OwnerFile holds data, and leaves
// its fsync to the next sync job, which runs it ahead of any data: so no
// record is synced in a directory before the file naming its owner is.
//
//   - In a directory Open has just created it is written without a sync.
//     A power loss that tears it finds nothing synced beside it.
//   - In an existing directory that holds it already it is written again
//     unchanged (see below) and queued:
//     the process that wrote it may have died before any job synced it
//     (an empty partition runs none), and a power loss would then tear it
//     under records this process syncs and acknowledges, making the next
//     open take the directory for another topic's and clear it.
//   - In an existing directory without it (from before the file existed,
//     or left by a write that never landed) it is written atomically,
//     now: synced data may already lie beside it.
func (l *Log) writeOwnerFile(name string, data []byte) error {
	fileName := l.path(name)
	if l.dirsDurable {
		if old, err := l.d.ReadFile(fileName); err != nil || !bytes.Equal(old, data) {
			if err := l.d.WriteFileAtomic(fileName, data); err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
			return nil
		}
		if bugs.OwnerFileUnsynced { // deliberate bug (core/bugs): take the file for durable
			return nil
		}
		f, err := l.d.OpenFile(fileName, false)
		if err == nil {
			// Written again, unchanged, as RewriteUnsynced does for data:
			// an fsync that failed before (a full disk) can have left its
			// pages clean but unwritten, and the job's fsync would then
			// "succeed" without writing them.
			_, err = f.WriteAt(data, 0)
			if err != nil {
				f.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", name, err)
		}
		l.ownerFile = f
		return nil
	}
	f, err := l.d.OpenFile(fileName, true)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if err = f.Truncate(0); err == nil {
		_, err = f.WriteAt(data, 0)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	l.ownerFile = f
	return nil
}

// createSegment creates an empty segment file at base and makes its name
// (and any index names created just before) durable now, on the caller's
// goroutine: for the restart of a truncation, which relies on the name
// before it goes on.
func (l *Log) createSegment(base int64) (*segment, error) {
	return l.createSegmentSynced(base, true)
}

// createSegmentSynced is createSegment with the directory fsync left to
// the next sync job when syncDir is false: a roll (namesUnsynced, so the
// job's StepDirs precedes the data written under the new names), or a
// new directory's first segment (Log.dirsDurable false, StepDirs syncs
// the whole path).
func (l *Log) createSegmentSynced(base int64, syncDir bool) (*segment, error) {
	name := l.segFilePath(base, logSuffix)
	f, err := l.d.OpenFile(name, true)
	if err != nil {
		return nil, fmt.Errorf("create segment %s: %w", name, err)
	}
	// A leftover file with this name (from before a crash) is stale.
	if size, err := f.Size(); err != nil || size > 0 {
		if err == nil {
			err = f.Truncate(0)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("create segment %s: %w", name, err)
		}
	}
	switch {
	case bugs.SegmentNameUnsynced: // deliberate bug (core/bugs): no directory fsync, now or in a job
	case !syncDir:
		l.namesUnsynced = l.dirsDurable
	default:
		if err := l.d.SyncDir(l.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("create segment %s: sync dir: %w", name, err)
		}
	}
	return &segment{base: base, next: base, log: f}, nil
}

// seal turns the active segment into a sealed one: it writes its indexes
// to their files and queues every written file for the next sync job.
func (l *Log) seal(s *segment) error {
	var err error
	if s.indexFile, err = l.d.OpenFile(l.segFilePath(s.base, indexSuffix), true); err != nil {
		return fmt.Errorf("seal segment %d: %w", s.base, err)
	}
	if s.timeIndexFile, err = l.d.OpenFile(l.segFilePath(s.base, timeIndexSuffix), true); err != nil {
		return fmt.Errorf("seal segment %d: %w", s.base, err)
	}
	if err := writeWhole(s.indexFile, encodeIndex(s.index)); err != nil {
		return fmt.Errorf("seal segment %d: write index: %w", s.base, err)
	}
	if err := writeWhole(s.timeIndexFile, encodeTimeIndex(s.timeIndex)); err != nil {
		return fmt.Errorf("seal segment %d: write time index: %w", s.base, err)
	}
	s.indexCount, s.timeIndexCount = len(s.index), len(s.timeIndex)
	s.index, s.timeIndex = nil, nil
	if len(s.aborted) > 0 {
		if err := l.writeTxnIndex(s, s.aborted); err != nil {
			return fmt.Errorf("seal segment %d: %w", s.base, err)
		}
	}
	s.aborted = nil
	s.sealed = true
	if s.dirty {
		l.pendingSync = append(l.pendingSync, s.log)
		s.dirty = false
	}
	l.pendingSync = append(l.pendingSync, s.indexFile, s.timeIndexFile)
	return nil
}

// roll seals the active segment and starts a new one at the log end.
func (l *Log) roll() error {
	a := l.active()
	if err := l.seal(a); err != nil {
		return err
	}
	s, err := l.createSegmentSynced(a.next, false)
	if err != nil {
		return err
	}
	l.segs = append(l.segs, s)
	return nil
}

// release closes a segment's files, or defers closing those the in-flight
// sync job still holds, and drops them from the pending sync list.
func (l *Log) release(s *segment) {
	for _, f := range []disk.File{s.log, s.indexFile, s.timeIndexFile, s.txnIndexFile} {
		l.releaseFile(f)
	}
	s.log, s.indexFile, s.timeIndexFile, s.txnIndexFile = nil, nil, nil, nil
}

func (l *Log) releaseFile(f disk.File) {
	if f == nil {
		return
	}
	l.pendingSync = slices.DeleteFunc(l.pendingSync, func(p disk.File) bool { return p == f })
	if l.inflight != nil && slices.Contains(l.inflight.files, f) {
		l.deferredClose = append(l.deferredClose, f)
		return
	}
	f.Close()
}

// removeSegmentFiles deletes a segment's three files; absent ones are fine.
func (l *Log) removeSegmentFiles(base int64) error {
	var errs []error
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := l.d.Remove(l.segFilePath(base, suffix)); err != nil && !errors.Is(err, disk.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeIndexFiles deletes a segment's index files (when it becomes active
// again their contents are stale).
func (l *Log) removeIndexFiles(base int64) error {
	var errs []error
	for _, suffix := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := l.d.Remove(l.segFilePath(base, suffix)); err != nil && !errors.Is(err, disk.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// closeFiles closes every open file (Close, Delete, a failed Open).
func (l *Log) closeFiles() error {
	var errs []error
	for _, s := range l.segs {
		for _, f := range []disk.File{s.log, s.indexFile, s.timeIndexFile, s.txnIndexFile} {
			if f != nil {
				if err := f.Close(); err != nil {
					errs = append(errs, err)
				}
			}
		}
		s.log, s.indexFile, s.timeIndexFile, s.txnIndexFile = nil, nil, nil, nil
	}
	for _, f := range l.deferredClose {
		f.Close()
	}
	l.deferredClose = nil
	l.pendingSync = nil
	if l.ownerFile != nil {
		l.ownerFile.Close()
		l.ownerFile = nil
	}
	if l.syncedEndFile != nil {
		if err := l.syncedEndFile.Close(); err != nil {
			errs = append(errs, err)
		}
		l.syncedEndFile = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("partlog: close %s: %w", l.dir, err)
	}
	return nil
}

// observeTime remembers the latest nowMs seen, for segment.ms of a segment
// that becomes active again after a truncation.
func (l *Log) observeTime(nowMs int64) { l.lastNowMs = max(l.lastNowMs, nowMs) }

// forEachHeader walks the batch headers of s in [0, limit), checking only
// framing and offset contiguity (the data was validated when written or
// recovered).
func (l *Log) forEachHeader(s *segment, limit int64, fn func(h record.Header, pos int64)) error {
	sc := scanner{f: s.log, limit: limit}
	expect := s.base
	for pos := int64(0); pos < limit; {
		hdr, err := sc.bytes(pos, record.HeaderSize)
		if err != nil {
			return l.corruptAt(s, expect, pos, err)
		}
		h, err := structuralCheck(hdr, pos, limit, expect)
		if err != nil {
			return l.corruptAt(s, expect, pos, err)
		}
		fn(h, pos)
		pos += int64(h.Size())
		expect = h.NextOffset()
	}
	return nil
}

// corruptAt wraps a validation failure as ErrCorruptSegment naming the file
// and offset; I/O errors pass through unchanged in meaning.
func (l *Log) corruptAt(s *segment, offset, pos int64, err error) error {
	name := l.segFilePath(s.base, logSuffix)
	if !errors.Is(err, errStructure) && !errors.Is(err, record.ErrCorrupt) && !errors.Is(err, record.ErrOldMagic) {
		return fmt.Errorf("partlog: read %s at position %d: %w", name, pos, err)
	}
	return fmt.Errorf("%w: %s at offset %d (position %d): %w", ErrCorruptSegment, name, offset, pos, err)
}

// rebuildProducers replays every stored batch into a fresh producer
// table (after TruncateTo, or DeleteRecords past an open transaction's
// start), markers included, and rebuilds the active segment's
// aborted-transaction entries on the way (the sealed segments' files do
// not change).
func (l *Log) rebuildProducers() error {
	l.producers.reset(l.cfg.MaxProducerIDs)
	l.producers.floor = l.logStart
	a := l.active()
	a.aborted = nil
	for _, s := range l.segs {
		err := l.replaySegment(s, func(e AbortedTxn) {
			if s == a {
				a.aborted = append(a.aborted, e)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// replaySegment walks the batches of s, checking only framing and offset
// contiguity (the data was validated when written or recovered), into
// the producer table: data batches by header, markers read whole. Each
// abort is handed to aborted.
func (l *Log) replaySegment(s *segment, aborted func(AbortedTxn)) error {
	sc := scanner{f: s.log, limit: s.size}
	expect := s.base
	for pos := int64(0); pos < s.size; {
		hdr, err := sc.bytes(pos, record.HeaderSize)
		if err != nil {
			return l.corruptAt(s, expect, pos, err)
		}
		h, err := structuralCheck(hdr, pos, s.size, expect)
		if err != nil {
			return l.corruptAt(s, expect, pos, err)
		}
		if h.Control() && h.HasProducerID() {
			whole, err := sc.bytes(pos, h.Size())
			if err != nil {
				return l.corruptAt(s, expect, pos, err)
			}
			if e, abort := l.producers.replayMarker(h, whole); abort {
				aborted(e)
			}
		} else {
			l.producers.apply(h)
		}
		pos += int64(h.Size())
		expect = h.NextOffset()
	}
	return nil
}
