package partlog

import (
	"errors"
	"fmt"

	"github.com/chronik-streaming/chronik/core/record"
)

// applyRetention implements ApplyRetention with Kafka's passes: after
// dropping segments wholly below the log start, first
// delete the oldest segments whose largest timestamp is more than
// retention.ms old, then, from where that stopped, the oldest segments
// while the log stays at or above retention.bytes without them. Each pass
// stops at the first segment it may not delete, and neither touches the
// active segment or a segment reaching the high watermark. Without the
// delete bit in cleanup.policy (compact alone) only the first pass runs,
// as in Kafka, where retention.ms and retention.bytes then do nothing.
//
// A segment whose timestamps are all negative (no timestamps) counts as
// infinitely old for retention.ms; Kafka falls back to the file's mtime,
// which a pure core does not have.
func (l *Log) applyRetention(nowMs int64) (int, error) {
	if err := l.usable(); err != nil {
		return 0, err
	}
	l.observeTime(nowMs)
	// Bounded by the last stable offset (at most the high watermark): an
	// undecided transaction's records stay until its marker is written,
	// so its first offset, and so the LSO, survive a restart (recovery
	// rebuilds open transactions from the batches it finds).
	lso := l.LastStableOffset()
	deletable := func(s *segment) bool { return s != l.active() && s.next <= lso }
	// Pass 0, Kafka's log-start-offset retention: segments wholly below
	// the log start. DeleteRecordsBefore removes them at once, but one can
	// appear when the active segment ends at the log start and then rolls
	// (after a crash truncated the log back to it).
	n := 0
	for n < len(l.segs) && deletable(l.segs[n]) && l.segs[n].next <= l.logStart {
		n++
	}
	if l.cfg.CleanupPolicy.Deletes() && l.cfg.RetentionMs >= 0 {
		for n < len(l.segs) && deletable(l.segs[n]) {
			s := l.segs[n]
			if s.hasTs && s.maxTs >= 0 && nowMs-s.maxTs <= l.cfg.RetentionMs {
				break
			}
			n++
		}
	}
	if l.cfg.CleanupPolicy.Deletes() && l.cfg.RetentionBytes >= 0 {
		total := int64(0)
		for _, s := range l.segs[n:] {
			total += s.size
		}
		for n < len(l.segs) && deletable(l.segs[n]) && total-l.segs[n].size >= l.cfg.RetentionBytes {
			total -= l.segs[n].size
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	if err := l.deleteSegments(n, max(l.logStart, l.segs[n].base)); err != nil {
		return 0, err
	}
	return n, nil
}

// deleteSegments removes the first n segments and moves the log start to
// newStart. The checkpoint with the new start is written before any file
// goes, so that a crash that undoes some removals is repaired by Open
// (which deletes segments wholly below the checkpointed start) and never
// resurrects deleted records.
func (l *Log) deleteSegments(n int, newStart int64) error {
	if err := l.writeCheckpoint(min(l.durableEnd, l.LogEndOffset()), max(l.hw, newStart), newStart); err != nil {
		return err
	}
	l.logStart = newStart
	l.hw = max(l.hw, newStart)
	gone := l.segs[:n:n]
	l.segs = append(l.segs[:0:0], l.segs[n:]...)
	var errs []error
	for _, s := range gone {
		l.release(s)
		if err := l.removeSegmentFiles(s.base); err != nil {
			errs = append(errs, err)
		}
	}
	// Offsets below the first remaining segment no longer exist, so they
	// are vacuously durable; without this a log emptied by DeleteRecords
	// would wait forever for a sync of files that are gone.
	l.durableEnd = max(l.durableEnd, l.segs[0].base)
	if l.producers.trimBelow(l.segs[0].base) {
		// DeleteRecords went past an open transaction's start: its first
		// offset is now what a replay of the remaining segments finds,
		// as after a restart (rare: replay every segment).
		if err := l.rebuildProducers(); err != nil {
			return l.fail("rebuild producer state", err)
		}
	} else {
		l.producers.raiseFloor(l.logStart)
	}
	if l.epochs.truncateFromStart(l.logStart) {
		if err := l.writeEpochCheckpoint(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		// The log is consistent in memory; leftover files are deleted by
		// the next Open.
		return fmt.Errorf("partlog: delete segments of %s: %w", l.dir, err)
	}
	return nil
}

// deleteRecordsBefore implements DeleteRecordsBefore. When every record
// goes (offset == log end), the active segment is rolled first so that it
// can be deleted too, as Kafka does.
func (l *Log) deleteRecordsBefore(offset int64) error {
	if err := l.usable(); err != nil {
		return err
	}
	if offset < l.logStart || offset > l.hw {
		return fmt.Errorf("%w: delete records before %d, allowed [%d, %d]", ErrOffsetOutOfRange, offset, l.logStart, l.hw)
	}
	if a := l.active(); !a.empty() && a.next <= offset {
		if err := l.roll(); err != nil {
			return l.fail("roll segment", err)
		}
	}
	n := 0
	for n < len(l.segs)-1 && l.segs[n].next <= offset {
		n++
	}
	return l.deleteSegments(n, offset)
}

// truncateTo implements TruncateTo. Walkthrough:
//
//  1. Find the batch holding offset; the cut goes at its start (c).
//  2. If the checkpoint on disk has a recovery point above c, write a
//     lower one first: after a crash, Open must not trust segments that no
//     longer match it (the truncation itself is not durable until the next
//     sync, and a crash may bring the old tail back, which is harmless:
//     it is valid data a follower truncates again by epoch). Likewise when
//     a synced end above c may be in the synced-end file or on its way
//     there: the checkpoint then carries a new truncation generation
//     (checkpointBeforeCut).
//  3. Delete later segments, cut the segment's file and sync the cut (see
//     trimFile: a later roll could otherwise make a checkpoint trust a
//     segment whose old tail comes back after a crash), rebuild its in-memory
//     index (it is the active one now), cap the in-flight sync job, and
//     rebuild the producer state and epoch cache.
func (l *Log) truncateTo(offset int64) error {
	if err := l.usable(); err != nil {
		return err
	}
	offset = min(max(offset, l.logStart), l.LogEndOffset())
	if offset == l.LogEndOffset() {
		return nil
	}
	i := l.segmentIndex(offset)
	s := l.segs[i]
	pos, h, found, err := l.locate(s, offset)
	if err != nil {
		return err
	}
	if !found {
		panic(fmt.Sprintf("partlog: invariant broken: offset %d below the log end has no batch in segment %d", offset, s.base))
	}
	cut := h.BaseOffset
	if cut < l.logStart {
		if err := l.checkpointBeforeCut(l.logStart, min(l.durableEnd, l.logStart), l.logStart, l.logStart); err != nil {
			return err
		}
		l.capInflight(l.logStart)
		if err := l.restartAt(l.logStart); err != nil {
			return l.fail("truncate", err)
		}
		if err := l.writeEpochCheckpoint(); err != nil {
			return l.fail("truncate", err)
		}
		return nil
	}
	if l.ckptRecoveryPoint > cut || l.needsNewGeneration(cut) {
		if err := l.checkpointBeforeCut(cut, min(l.durableEnd, cut), min(l.hw, cut), l.logStart); err != nil {
			return err
		}
	}
	l.capInflight(cut)
	removed := len(l.segs) > i+1
	for _, t := range l.segs[i+1:] {
		l.release(t)
		if err := l.removeSegmentFiles(t.base); err != nil {
			return l.fail("truncate", err)
		}
	}
	l.segs = l.segs[:i+1]
	if removed {
		if err := l.syncRemovals(); err != nil {
			return l.fail("truncate", err)
		}
	}
	if err := l.trimFile(s, pos); err != nil {
		return l.fail("truncate", err)
	}
	s.dirty = true
	if s.sealed {
		l.releaseFile(s.indexFile)
		l.releaseFile(s.timeIndexFile)
		l.releaseFile(s.txnIndexFile)
		s.indexFile, s.timeIndexFile, s.txnIndexFile = nil, nil, nil
		s.indexCount, s.timeIndexCount, s.txnCount = 0, 0, 0
		s.sealed = false
		if err := l.removeIndexFiles(s.base); err != nil {
			return l.fail("truncate", err)
		}
	}
	s.resetContents()
	if err := l.forEachHeader(s, pos, func(h record.Header, p int64) { s.noteBatch(h, p, l.cfg.IndexIntervalBytes) }); err != nil {
		return l.fail("truncate", err)
	}
	s.firstBatchMs = l.lastNowMs
	l.hw = min(l.hw, cut)
	l.durableEnd = min(l.durableEnd, cut)
	if err := l.rebuildProducers(); err != nil {
		return l.fail("truncate", err)
	}
	if l.epochs.truncateFromEnd(cut) {
		if err := l.writeEpochCheckpoint(); err != nil {
			return l.fail("truncate", err)
		}
	}
	return nil
}

// truncateFullyAndStartAt implements TruncateFullyAndStartAt, in the order
// of truncateTo's cut below the log start: checkpoint, restart, directory
// sync, epoch checkpoint. A sync in flight claims nothing past start's
// durable end: restartAt set the durable end to start.
func (l *Log) truncateFullyAndStartAt(start int64) error {
	if err := l.usable(); err != nil {
		return err
	}
	if start < 0 {
		return fmt.Errorf("%w: restart at %d", ErrOffsetOutOfRange, start)
	}
	if err := l.checkpointBeforeCut(start, min(l.durableEnd, start), start, start); err != nil {
		return err
	}
	if err := l.restartAt(start); err != nil {
		return l.fail("restart log", err)
	}
	// No epoch survives either (Kafka clears the cache): an entry kept for
	// the deleted batches would make the follower claim an epoch whose
	// end on the leader lies below its new start, and bounce between
	// diverging and out of range forever (sim seed 2080 with the trimmer).
	l.epochs.entries = nil
	// When start is below the old segments' bases, the checkpoint alone
	// does not make Open delete them: their removal must be durable, or a
	// crash brings back data the leader said diverges.
	if err := l.syncRemovals(); err != nil {
		return l.fail("restart log", err)
	}
	if err := l.writeEpochCheckpoint(); err != nil {
		return l.fail("restart log", err)
	}
	return nil
}

// checkpointBeforeCut writes the checkpoint a truncation to cut needs
// before any file is cut: with a new truncation generation when a synced
// end that a slot holds, or that the job in flight may still write, lies
// above cut (needsNewGeneration), so that recovery does not take the
// records cut for synced ones lost.
func (l *Log) checkpointBeforeCut(cut, recoveryPoint, hw, logStart int64) error {
	if l.needsNewGeneration(cut) {
		return l.writeCheckpointBumped(recoveryPoint, hw, logStart)
	}
	return l.writeCheckpoint(recoveryPoint, hw, logStart)
}

// capInflight lowers what the in-flight sync job may claim durable.
func (l *Log) capInflight(offset int64) {
	if l.inflight != nil {
		l.inflightCap = min(l.inflightCap, offset)
	}
}
