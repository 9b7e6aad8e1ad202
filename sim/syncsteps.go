package sim

import "github.com/chronik-streaming/chronik/core/partlog"

// Sync jobs in steps. A partlog.SyncJob makes its writes durable in a fixed
// order (partlog.SyncStep): the leader-epoch checkpoint, the data fsyncs,
// the synced-end slot, the partition checkpoint. The node runs a whole job at its start or at its
// completion (node.go); a power loss armed for the node's next fsync
// strikes half the time between two steps of a job that has several,
// after running the steps before that point, so that recovery meets a
// disk holding a checkpoint without the data it announces, or data
// without the checkpoint that vouches for it. The draws come from the
// disk's own sync-steps stream, so that every other stream of a seed
// draws as before.

// runJob runs job whole, with the disk's writes charged to the job (off
// the event loop) rather than to the loop.
func (n *simNode) runJob(job *partlog.SyncJob) error {
	n.disk.inJob = true
	defer func() { n.disk.inJob = false }()
	return job.Run()
}

// powerLossPrefix draws, for a job that an armed power loss will strike,
// the steps that run before the power goes: nil (the job runs whole or
// not at all, as the node draws) or a proper non-empty prefix of the
// job's steps.
func (d *simDisk) powerLossPrefix(job *partlog.SyncJob) []partlog.SyncStep {
	steps := job.SyncSteps()
	if len(steps) < 2 || !d.stepRng.Chance(0.5) {
		return nil
	}
	return steps[:1+d.stepRng.Intn(len(steps)-1)]
}

// runPrefix runs the steps of prefix in order, stopping at the first
// failure (the power is about to go, so the job's result is never
// reported), and counts where the power loss lands: after a checkpoint
// and before the data it covers, or after the data and before the
// checkpoint that follows it (the synced end or the partition checkpoint),
// after a roll's directory entries and before the data under them, or
// before partition.metadata and the data beside it.
func (n *simNode) runPrefix(job *partlog.SyncJob, prefix []partlog.SyncStep) {
	w := n.w
	w.tr.str("sync-prefix")
	n.disk.inJob = true
	for _, s := range prefix {
		w.tr.str(s.String())
		if err := job.RunStep(s); err != nil {
			w.tr.str(err.Error())
			break
		}
	}
	n.disk.inJob = false
	steps := job.SyncSteps()
	last, next := prefix[len(prefix)-1], steps[len(prefix)]
	switch {
	case last == partlog.StepEpochCheckpoint && next == partlog.StepData:
		w.cover("power-loss-between-checkpoint-and-data")
	case last == partlog.StepData && (next == partlog.StepSyncedEnd || next == partlog.StepCheckpoint):
		w.cover("power-loss-between-data-and-checkpoint")
	}
	if last == partlog.StepDirs && job.Dirs() == 1 {
		// A roll's names durable, the data under them not.
		w.cover("power-loss-after-roll-names")
	}
	if job.SyncsOwnerFile() && next <= partlog.StepData {
		// partition.metadata not synced yet; neither is any data.
		w.cover("power-loss-before-owner-file")
	}
}

// fileJob reports whether job is a file job (partlog.NewFileJob): the
// single node's metadata image, written off the loop and installed and
// answered only when the job lands (coverage power-loss-mid-image-write,
// image-write-failed).
func fileJob(job *partlog.SyncJob) bool {
	steps := job.SyncSteps()
	return len(steps) == 1 && steps[0] == partlog.StepFile
}
