package broker

// Storage errors and a full disk.
//
// A partition whose write or fsync fails goes offline (takeOffline): its
// waiting produces and long polls get KAFKA_STORAGE_ERROR at once, and so
// does every later request for it. What happens next depends on the
// cause:
//
//   - A full disk (disk.ErrNoSpace: ENOSPC, EDQUOT) passes once space is
//     freed or the file system grows. The partition is reopened from disk
//     after StorageRetryBackoffMs, doubling up to StorageRetryBackoffMaxMs
//     while attempts fail, without a restart; a small probe write must
//     succeed first (retryOffline). The reopen is a recovery of
//     that one partition (partlog.Reopen): the in-memory log is discarded,
//     the files are scanned and CRC-checked as after a crash, and the tail
//     above the durable end the failed log had reached is cut, because
//     after a failed fsync Linux may have dropped or "cleaned" the pages
//     it could not write (fsyncgate). Acknowledged records were fsynced
//     below that end, so they survive, at the same offsets; appends that
//     were not acknowledged got KAFKA_STORAGE_ERROR, an unknown outcome
//     for the client (they may or may not be kept).
//
//     In a cluster, a leader whose log failed with records above its
//     durable end resigns (resignOffline), and the reopen may come first.
//     Its followers may hold the cut records: leading again at the same
//     leader epoch would put other records at those offsets in that
//     epoch, a divergence the followers' epoch checks (KIP-101) cannot
//     see. So the reopened copy does not lead at that epoch (cutEpoch)
//     and resigns it; it leads again only at a later epoch, as Kafka's
//     broker does after a log directory failure (the controller elects
//     another leader; simulator seed 700096). The last ISR member cannot
//     resign: its partition stays without a working leader until a
//     restart, after which it is elected at a new epoch.
//   - A read that finds the records above the durable end short or
//     damaged (partlog.ErrUnsyncedLost) is treated the same way: a failed
//     writeback can drop their pages before its fsync reports the failure,
//     which reaches a log already closed. Reading them is legitimate only
//     for a follower's fetch (consumers stop at the high watermark).
//   - Anything else (EIO, a corrupt segment) may be the medium failing: the
//     partition stays offline until an operator restarts the broker. The
//     background scrubber (scrub.go) finds corrupt segments nobody reads.
//     A cluster copy found corrupt is marked uncertain first, so that a
//     restart that cuts the damage does not let it lead before it has
//     caught up again (markSyncedDamage).
//
// Freeing space must work on a full disk. Deleting files needs no space,
// but the writes that must precede a deletion for crash safety do: the
// metadata image of a DeleteTopics (written before the files go, so that a
// crash never resurrects half a topic) and the partition checkpoint of
// DeleteRecords and retention (written before segments go). A single node
// therefore keeps a reserve file of SpaceReserveBytes in its data
// directory: when such a write finds the disk full, the reserve is
// removed and the write retried, and the reserve is recreated once a write
// of it succeeds again (right after the deletion, then with every
// checkpoint pass). The order of writes, and so crash safety, is the same
// as without the reserve.

import (
	"errors"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
)

// reserveFile names the space reserve in the data directory; probeFile
// the small file written (and removed) before partitions are reopened.
const (
	reserveFile = "space.reserve"
	probeFile   = "space.probe"
	probeBytes  = 4096
)

// setOffline records why p has no log and plans a reopen when the cause
// is a full disk.
func (b *Broker) setOffline(p *partition, cause error) {
	p.offlineErr = cause
	p.retryAtMs = 0
	b.recheck(p)
	b.noteResignCandidate(p) // no log: mustLeaveISR may hold (retryResigns)
	if p.deleted || !reopenable(cause) {
		b.env.Logger.Error("partition offline", "partition", p.dir, "err", cause)
		return
	}
	b.planRetry(p)
	b.env.Logger.Warn("partition offline: disk full, reopening later", "partition", p.dir, "err", cause, "retry_in_ms", p.retryBackoffMs)
}

// reopenable says a partition that went offline for cause is reopened by
// itself: a full disk, or unsynced data found lost by a read
// (partlog.ErrUnsyncedLost: a failed writeback dropped its pages before the
// sync job reported the failure, which is then ignored as the log is
// closed; the reopen cuts that data, and its own fsync fails if the disk
// does not work).
func reopenable(cause error) bool {
	return errors.Is(cause, disk.ErrNoSpace) || errors.Is(cause, partlog.ErrUnsyncedLost)
}

// planRetry plans p's next reopen after a pause twice the last one.
func (b *Broker) planRetry(p *partition) {
	switch {
	case p.retryBackoffMs == 0:
		p.retryBackoffMs = b.cfg.StorageRetryBackoffMs
	default:
		p.retryBackoffMs = min(2*p.retryBackoffMs, b.cfg.StorageRetryBackoffMaxMs)
	}
	p.retryFromMs = b.nowMs
	p.retryAtMs = b.nowMs + p.retryBackoffMs
	b.offlineRetries++
}

// retryDue reports whether p's planned reopen is due. A clock that went
// back since it was planned makes it due at once rather than late.
func (p *partition) retryDue(nowMs int64) bool {
	return p.retryAtMs != 0 && (nowMs >= p.retryAtMs || nowMs < p.retryFromMs)
}

// retryOffline reopens the partitions whose retry is due. A partition
// whose last sync job is still running waits for its SyncDone: the job
// belongs to the closed log.
//
// A small probe write goes first, once per pass: while it fails for lack
// of space, the partitions are not reopened (and their pause doubles).
// Reopening a partition scans what lies past its last checkpoint on the
// event loop, and on a disk that stays full for hours it would only fail
// at the next append; so an offline partition waits for room instead of
// flapping.
func (b *Broker) retryOffline(nowMs int64) {
	if b.offlineRetries == 0 {
		return
	}
	planned := 0
	var probeErr error
	probed := false
	b.forEachPartition(func(p *partition) {
		if p.retryAtMs == 0 || p.log != nil || p.deleted {
			return
		}
		if p.syncing || p.cleaning || !p.retryDue(nowMs) {
			planned++
			return
		}
		if !probed {
			probed, probeErr = true, b.probeSpace()
		}
		if errors.Is(probeErr, disk.ErrNoSpace) {
			b.planRetry(p)
			planned++
			return
		}
		if !b.openLog(nowMs, p) {
			if p.retryAtMs != 0 {
				planned++
			}
			return
		}
		b.reopened++
		b.env.Logger.Info("partition back online after a full disk", "partition", p.dir,
			"log_end_offset", p.log.LogEndOffset(), "high_watermark", p.log.HighWatermark())
		b.reconcilePartition(nowMs, p, &p.topic.meta.Assignments[p.index])
		b.hwRaised = append(b.hwRaised, p)
	})
	b.offlineRetries = planned
	b.settle(nowMs)
	b.runFetchers(nowMs)
}

// probeSpace writes and removes a small file: it fails with
// disk.ErrNoSpace while the disk is still full.
func (b *Broker) probeSpace() error {
	if err := b.env.Disk.WriteFileAtomic(probeFile, make([]byte, probeBytes)); err != nil {
		return err
	}
	if err := b.env.Disk.Remove(probeFile); err != nil && !errors.Is(err, disk.ErrNotExist) {
		b.env.Logger.Warn("remove space probe", "err", err)
	}
	return nil
}

// retryNextWakeMs lowers next to the earliest planned reopen.
func (b *Broker) retryNextWakeMs(nowMs, next int64) int64 {
	if b.offlineRetries == 0 {
		return next
	}
	b.forEachPartition(func(p *partition) {
		if p.retryAtMs == 0 || p.log != nil || p.syncing || p.cleaning {
			return
		}
		at := p.retryAtMs
		if p.retryDue(nowMs) {
			at = nowMs
		}
		next = min(next, at)
	})
	return next
}

// Reopened is how many times a partition taken offline by a full disk
// came back by itself (for the simulator's coverage and for tests).
func (b *Broker) Reopened() int { return b.reopened }

// OfflinePartition describes a partition this broker hosts whose log is
// offline.
type OfflinePartition struct {
	Dir   string
	Cause error
	// Retrying says a reopen is planned (the cause was a full disk).
	Retrying bool
}

// OfflinePartitions lists the hosted partitions that are offline, in
// topic order.
func (b *Broker) OfflinePartitions() []OfflinePartition {
	var out []OfflinePartition
	b.forEachPartition(func(p *partition) {
		if p.hosted && p.log == nil {
			out = append(out, OfflinePartition{Dir: p.dir, Cause: p.offlineErr, Retrying: p.retryAtMs != 0})
		}
	})
	return out
}

// reserveEnabled says this broker keeps a space reserve: a single node
// (a cluster's metadata lives in the raft log, outside core's disk).
func (b *Broker) reserveEnabled() bool { return !b.clustered() && b.cfg.SpaceReserveBytes > 0 }

// findReserve notes whether a whole reserve file is in place (at start).
func (b *Broker) findReserve() {
	if !b.reserveEnabled() {
		return
	}
	f, err := b.env.Disk.OpenFile(reserveFile, false)
	if err != nil {
		return
	}
	size, err := f.Size()
	_ = f.Close()
	b.reserveHeld = err == nil && size == b.cfg.SpaceReserveBytes
}

// keepReserve writes the reserve file when it is missing. On a full disk
// the write fails and is tried again later; the failed write leaves no
// partial file behind (disk.WriteFileAtomic writes a temporary file).
func (b *Broker) keepReserve() {
	if !b.reserveEnabled() || b.reserveHeld || b.closed {
		return
	}
	if err := b.env.Disk.WriteFileAtomic(reserveFile, make([]byte, b.cfg.SpaceReserveBytes)); err != nil {
		b.env.Logger.Warn("space reserve not restored yet", "err", err)
		return
	}
	b.reserveHeld = true
	b.env.Logger.Info("space reserve restored", "bytes", b.cfg.SpaceReserveBytes)
}

// withSpace runs write, a write that must precede freeing space; when it
// fails for lack of space and the reserve is held, the reserve is removed
// and write runs once more.
func (b *Broker) withSpace(what string, write func() error) error {
	err := write()
	if !errors.Is(err, disk.ErrNoSpace) || !b.reserveHeld {
		return err
	}
	if !b.releaseReserve(what) {
		return err
	}
	return write()
}

// releaseReserve removes the space reserve, if held, so that a write that
// must precede freeing space (what) can be retried on a full disk, and
// reports whether it did. keepReserve takes it again later.
func (b *Broker) releaseReserve(what string) bool {
	if !b.reserveHeld {
		return false
	}
	if err := b.env.Disk.Remove(reserveFile); err != nil && !errors.Is(err, disk.ErrNotExist) {
		b.env.Logger.Error("remove space reserve", "err", err)
		return false
	}
	b.reserveHeld = false
	b.env.Logger.Warn("disk full: released the space reserve", "for", what)
	return true
}

// entryFreesSpace says a metadata entry deletes topics.
func entryFreesSpace(e *metadata.Entry) bool {
	for _, r := range e.Records {
		if r.DeleteTopic != nil {
			return true
		}
	}
	return false
}
