package broker

// Log compaction (cleanup.policy compact): every CleanerBackoffMs the
// broker asks the partitions of compacted topics, in turn, whether one is
// worth cleaning (partlog.Log.StartClean: enough dirty records past the
// compaction lag). One clean job runs at a time, broker-wide, off the
// event loop like a sync job (partlog.NewCleanSyncJob through the
// Syncer); its end is an event, and only the log that started it
// installs the result (a log reopened meanwhile discards it).
// __consumer_offsets is compacted, so the groups' log stays bounded.

import (
	"errors"

	"github.com/chronik-streaming/chronik/core/partlog"
)

// startClean starts the next clean job when one is due.
func (b *Broker) startClean(nowMs int64) {
	if !b.anyCompacted || b.cleanInFlight || b.closed || nowMs-b.lastCleanMs < b.cfg.CleanerBackoffMs {
		return
	}
	b.lastCleanMs = nowMs
	var candidates []*partition
	b.forEachPartition(func(p *partition) {
		if p.log != nil && !p.cleaning && !p.deleted && p.topic.logConfig.CleanupPolicy&partlog.CleanupCompact != 0 {
			candidates = append(candidates, p)
		}
	})
	for i := range candidates {
		p := candidates[(b.cleanCursor+i)%len(candidates)]
		job, ok := p.log.StartClean(nowMs)
		if !ok {
			continue
		}
		b.cleanCursor = (b.cleanCursor + i + 1) % len(candidates)
		p.cleaning, b.cleanInFlight = true, true
		b.recheck(p)
		b.env.Syncer.StartSync(SyncToken{p: p, cleanOf: p.log}, partlog.NewCleanSyncJob(job))
		return
	}
}

// cleanDone lands a clean job: the log that started it installs the
// cleaned segments (or discards them when it changed meanwhile); only an
// install that failed the log takes the partition offline.
func (b *Broker) cleanDone(nowMs int64, token SyncToken, job *partlog.SyncJob, err error) {
	p := token.p
	p.cleaning, b.cleanInFlight = false, false
	b.recheck(p)
	n, err := token.cleanOf.FinishClean(job.Clean(), err)
	if p.removeDirAtSyncDone && !p.syncing {
		b.removeDeletedDir(p)
	}
	if p.log != token.cleanOf || p.deleted || b.closed {
		return
	}
	switch {
	case err == nil:
		if n > 0 {
			b.env.Logger.Info("compacted partition", "partition", p.dir, "segments", n)
		}
	case errors.Is(err, partlog.ErrCleanDiscarded):
	case p.log.Failed() != nil:
		b.takeOffline(p, err)
	default:
		// Cleaning is optional work: a read error or a damaged source
		// segment leaves the log as it was; reads and the scrubber
		// judge the data itself.
		b.env.Logger.Warn("compaction failed", "partition", p.dir, "err", err)
	}
	b.settle(nowMs)
}
