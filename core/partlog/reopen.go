package partlog

import (
	"fmt"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/disk"
)

// OpenBounds is what the caller of Reopen knows about a partition that
// its files cannot prove.
type OpenBounds struct {
	// DurableEnd is the DurableEndOffset that a Log which failed in this
	// process had reached: the tail above it is cut (see Reopen). -1 when
	// unknown (a first open after a start).
	DurableEnd int64
	// MaxLeaderEpoch is the largest leader epoch that any batch of the
	// partition can carry, -1 when unknown. A batch's leader epoch lies
	// outside its CRC (the broker stamps it after the producer computed
	// the CRC), so a torn write can leave a batch that checks out with a
	// garbage epoch; learnt by the epoch cache, it would make every later
	// append fail as an epoch regression. Recovery already bounds such
	// batches by the latest epoch of the leader-epoch checkpoint, but that
	// file can itself be unreadable (simulator seed 20225, FINDINGS.md
	// 16). With this bound, a batch above it at or after the recovery
	// point is cut as torn; one below the recovery point is synced data
	// that is damaged, and Open fails with ErrCorruptSegment rather than
	// cut what may have been acknowledged.
	//
	// The value must be a true bound: the caller must know that no leader
	// ever wrote, and no follower ever stored, a batch at a higher epoch.
	// A stale view (a metadata image older than the data) would cut good
	// records, so pass -1 unless the view is authoritative.
	MaxLeaderEpoch int32
	// KeepSyncedDamage makes recovery fail with ErrCorruptSegment when it
	// finds a damaged batch below the checkpointed recovery point in the
	// segment it scans, instead of cutting the log there as Kafka's
	// recovery does. Everything below the recovery point was synced, so
	// such damage is the medium failing, and the cut drops records that
	// may have been acknowledged. A single node has no other copy and
	// keeps what it can (Kafka's behaviour); a cluster replica must not:
	// shortened, it could still be in the ISR and be elected (simulator
	// seed 512417421), so it goes offline as corrupt, is reported and
	// leaves the ISR, and the other replicas serve.
	KeepSyncedDamage bool
	// MarkUncertainCut makes recovery that must cut a damaged batch
	// while the partition checkpoint is unreadable (so the recovery point
	// it held is unknown) first write a marker file, durably, and only
	// then cut. Without the recovery point nobody can tell a torn tail
	// (never synced, never acknowledged) from damaged synced data (a
	// media flip), so the cut may have dropped acknowledged records, and
	// the checkpoint written afterwards would hide that for good. The
	// marker outlives restarts until ClearUncertain, and Uncertain reports
	// it. A cluster broker sets it: such a copy must not lead before it
	// has caught up with another in-sync replica (simulator seed
	// 689151038; Kafka's KIP-966 keeps a replica that shut down uncleanly
	// from being elected likewise). A single node has no other copy.
	//
	// A checkpoint that is absent was never written (a new partition):
	// nothing was declared synced, exactly as with a recovery point of 0,
	// and a cut there is a torn tail like any cut above the recovery
	// point. Marking those too kept new partitions offline for good after
	// a full disk tore their last write and a crash followed (simulator
	// seed 167).
	MarkUncertainCut bool
	// TrackSyncedEnd makes every sync job that advances the durable end
	// write it, after its fsyncs, into the partition's synced-end file
	// (two checksummed slots written in turn, see syncedend.go), created
	// durably at the first open that asks for it. Recovery then knows how
	// far the log was synced, not only the checkpointed recovery point,
	// which trails the fsyncs by up to a checkpoint interval: a damaged
	// synced batch above the recovery point is otherwise indistinguishable
	// from a torn tail and cut silently (simulator seed 818001154,
	// FINDINGS.md 42). A cut below the synced end, or a log whose files
	// end below it, lost synced records: with MarkUncertainCut the log is
	// marked uncertain before the cut, as for a cut without the
	// checkpoint. (Keeping such damage as corrupt, as KeepSyncedDamage does
	// below the recovery point, would keep a copy offline until an
	// operator acts even when another replica could give it the batch
	// again, which an uncertain copy does by itself: FINDINGS.md 40.) A
	// cluster broker sets it: every batch it acknowledged lies below a
	// durable synced end. The price is one small write and fsync per sync
	// job; a single node keeps Kafka's cut and has no use for it.
	//
	// A synced end is trusted only when its slot carries the truncation
	// generation of a readable (or never written) partition checkpoint: a
	// truncation below what a slot may hold (a job still in flight can
	// write its slot after the cut) first checkpoints a new generation.
	// The flag must stay the same for a directory's whole life.
	TrackSyncedEnd bool
	// Owner names whose log this is (the broker passes the topic id).
	// Checkpoint files carry it, and Open ignores and removes checkpoint
	// files of another owner: a sync job of a deleted topic's log may
	// still write its checkpoint files, off the event loop, after a
	// topic of the same name took the directory over, and they must not
	// count for the new log (their log start and epochs are the old
	// topic's). Files without an owner (older versions, or an empty
	// Owner) count for any log.
	Owner string
	// OwnerFile, when set, names a file that Open makes hold
	// OwnerFileData: the broker's partition.metadata, which names the
	// topic a directory belongs to. Open writes it without a sync in a
	// directory it creates, and atomically at once in an existing one
	// that lacks it or holds other content; either way the next sync job
	// fsyncs it ahead of its data (after StepDirs has made its name
	// durable), so no record is synced in a directory before it is, and
	// the event loop pays no fsync for a new partition.
	OwnerFile     string
	OwnerFileData []byte
}

// Reopen recovers a log that failed in this process (ErrLogFailed after a
// write or fsync error) so that it can serve again without a restart, or
// opens one with what the caller knows (b). It is Open, bounded by
// b.MaxLeaderEpoch, followed by a cut at b.DurableEnd, the
// DurableEndOffset the failed Log had reached.
//
// Why the cut: after a failed fsync, Linux reports the error once and
// marks the unwritten pages clean ("fsyncgate"). Reads may still return
// them, Open would find them intact, and the next fsync would succeed
// without writing them, so records past durableEnd could be served and
// acknowledged while the disk holds zeros or old bytes in their place.
// Nothing past durableEnd was acknowledged (acks wait for the sync), so
// truncating it loses nothing a client was promised, and the truncation
// makes the next appends write fresh, dirty pages. Everything below
// durableEnd was fsynced successfully and is kept. What lies between the
// recovery point and durableEnd was synced too; RewriteUnsynced covers the
// case where nobody knows (see there).
func Reopen(d disk.Disk, dir string, cfg Config, nowMs int64, b OpenBounds) (*Log, error) {
	l, err := open(d, dir, cfg, nowMs, b)
	if err != nil {
		return nil, err
	}
	durableEnd := b.DurableEnd
	// !bugs.ReopenKeepsUnsynced: deliberate bug (core/bugs), keep the tail.
	if durableEnd >= 0 && l.LogEndOffset() > durableEnd && !bugs.ReopenKeepsUnsynced {
		if err := l.TruncateTo(durableEnd); err != nil {
			l.closeFiles()
			return nil, fmt.Errorf("partlog: reopen %s: cut the unsynced tail at %d: %w", dir, durableEnd, err)
		}
	}
	return l, nil
}

// RewriteUnsynced writes back, unchanged, the bytes from the batch holding
// DurableEndOffset to the log end, before the sync job that Open queued
// for them runs. Call it right after Open or Reopen.
//
// Data past the recovery point is not known to be durable: it may be in
// the page cache only, as clean-but-unwritten pages left by an fsync that
// failed (fsyncgate) before a process was killed, or before a failure that
// Reopen could not place (the durable end was unknown). Such pages read
// back intact and an fsync "succeeds" without writing them, so syncing
// alone would trust bytes the disk never received. Writing them again
// marks them dirty, so the sync either writes them or fails. The cost is
// one rewrite of what was appended since the last checkpoint, only after
// an unclean stop or a failure.
func (l *Log) RewriteUnsynced() error {
	l.changes++
	if err := l.usable(); err != nil {
		return err
	}
	if bugs.ReopenKeepsUnsynced { // deliberate bug (core/bugs): trust the cached tail
		return nil
	}
	// The buffer grows to what a segment needs, up to 1 MiB: most opens
	// find little or nothing unsynced, and partitions open often enough
	// (every restart, every reopen) that allocating and clearing a
	// megabyte each time dominated the simulator's profile.
	var buf []byte
	for _, s := range l.segs {
		if s.next <= l.durableEnd {
			continue
		}
		// Only from the batch holding the durable end: a large segment
		// whose tail alone is unsynced costs its tail.
		start := int64(0)
		if s.base < l.durableEnd {
			pos, _, found, err := l.locate(s, l.durableEnd)
			if err != nil {
				return l.fail("rewrite unsynced", err)
			}
			if found {
				start = pos
			}
		}
		if need := min(int64(1<<20), s.size-start); int64(len(buf)) < need {
			buf = make([]byte, need)
		}
		for pos := start; pos < s.size; {
			n := min(int64(len(buf)), s.size-pos)
			chunk := buf[:n]
			if _, err := s.log.ReadAt(chunk, pos); err != nil {
				return l.fail("rewrite unsynced", fmt.Errorf("read segment %d at %d: %w", s.base, pos, err))
			}
			if _, err := s.log.WriteAt(chunk, pos); err != nil {
				return l.fail("rewrite unsynced", fmt.Errorf("write segment %d at %d: %w", s.base, pos, err))
			}
			pos += n
		}
	}
	return nil
}
