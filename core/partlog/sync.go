package partlog

import (
	"slices"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/disk"
)

// startSync implements StartSync. The job lists sealed files first and the
// active segment last, so that when a crash interrupts Run, whatever made
// it to disk is a prefix of the log rather than a later segment without
// its predecessor (recovery would cut such a gap anyway).
func (l *Log) startSync() (*SyncJob, bool) {
	if l.closed || l.failed != nil || l.inflight != nil {
		return nil, false
	}
	a := l.active()
	if len(l.pendingSync) == 0 && !a.dirty && !l.epochsUnsynced && !l.ckptDue && !l.namesUnsynced {
		return nil, false
	}
	// The job takes over the pending list; the log starts a new one.
	files := l.pendingSync
	if a.dirty {
		files = append(files, a.log)
		a.dirty = false
	}
	l.pendingSync = nil
	if l.ownerFile != nil {
		// First: no data is synced before the file naming its owner.
		files = append([]disk.File{l.ownerFile}, files...)
	}
	job := &SyncJob{UpTo: l.LogEndOffset(), files: files, d: l.d, owner: l.owner, ownerFile: l.ownerFile}
	l.ownerFile = nil
	switch {
	case !l.dirsDurable:
		job.dirs = l.dirAndParents()
	case l.namesUnsynced:
		job.dirs = []string{l.dir}
	}
	l.namesUnsynced = false
	if l.epochsUnsynced {
		// A copy: the loop goes on changing the cache while Run writes.
		job.epochs = epochCache{entries: slices.Clone(l.epochs.entries)}
		l.epochSeq++
		job.epochsSeq = l.epochSeq
		job.epochsPath = l.path(jobEpochCheckpointFile)
		l.epochsUnsynced = false
	}
	l.claimSyncedEnd(job)
	l.claimCheckpoint(job)
	l.inflight = job
	l.inflightCap = job.UpTo
	return job, true
}

// finishSync implements FinishSync.
func (l *Log) finishSync(job *SyncJob, err error) {
	if job == nil || job != l.inflight {
		panic("partlog: invariant broken: FinishSync called with a job that is not in flight")
	}
	l.inflight = nil
	if job.ownerFile != nil {
		job.ownerFile.Close()
	}
	for _, f := range l.deferredClose {
		f.Close()
	}
	l.deferredClose = nil
	if l.closed {
		return
	}
	if err != nil {
		l.fail("fsync", err)
		return
	}
	if l.failed != nil {
		return
	}
	upTo := min(job.UpTo, l.inflightCap, l.LogEndOffset())
	if bugs.SyncCoversLaterAppends { // deliberate bug (core/bugs): trust appends made during the fsync
		upTo = l.LogEndOffset()
	}
	l.durableEnd = max(l.durableEnd, upTo)
	if len(job.dirs) > 0 {
		l.dirsDurable = true
	}
}
