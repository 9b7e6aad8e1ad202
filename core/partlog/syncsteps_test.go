package partlog

import (
	"errors"
	"slices"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

// epochsOnDisk decodes the current leader-epoch checkpoint of the test
// log: of its two files, the one with the higher sequence.
func epochsOnDisk(t *testing.T, d *memdisk.Disk) []epochEntry {
	t.Helper()
	var best epochCache
	var bestSeq uint64
	found := false
	for _, name := range epochFileNames {
		data, err := d.ReadFile(testDir + "/" + name)
		if errors.Is(err, disk.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		c, seq, _, err := decodeEpochCheckpoint(data)
		if err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}
		if !found || seq > bestSeq {
			best, bestSeq, found = c, seq, true
		}
	}
	if !found {
		t.Fatal("no leader-epoch checkpoint")
	}
	return best.entries
}

// twoEpochLog returns a log holding two synced batches of epoch 0 (offsets
// 0-3) and one unsynced batch of epoch 1 (offsets 4-5), and the job that
// would sync it.
func twoEpochLog(t *testing.T, d *memdisk.Disk) (*Log, *SyncJob) {
	t.Helper()
	l := openLog(t, d, DefaultConfig(), 0)
	mustAppend(t, l, batchOf(2, 50, 1000, 1), 0, 0)
	mustAppend(t, l, batchOf(2, 50, 1000, 2), 0, 0)
	syncNow(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	mustAppend(t, l, batchOf(2, 50, 1000, 3), 1, 0)
	job, ok := l.StartSync()
	if !ok {
		t.Fatal("no sync job for an unsynced append")
	}
	return l, job
}

// An append at a new leader epoch writes no file on the event loop: the
// next sync job writes the leader-epoch checkpoint, as its first step,
// before the fsyncs of the batches it covers; a job without an epoch
// change has no such step.
func TestEpochCheckpointRidesSyncJob(t *testing.T) {
	d := memdisk.New()
	l, job := twoEpochLog(t, d)
	if got := epochsOnDisk(t, d); len(got) != 1 || got[0].epoch != 0 {
		t.Fatalf("epoch checkpoint before the job ran: %v, want only epoch 0", got)
	}
	if got, want := job.SyncSteps(), []SyncStep{StepEpochCheckpoint, StepData}; !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	if err := job.RunStep(StepEpochCheckpoint); err != nil {
		t.Fatalf("epoch step: %v", err)
	}
	if got := epochsOnDisk(t, d); len(got) != 2 || got[1] != (epochEntry{epoch: 1, start: 4}) {
		t.Fatalf("epoch checkpoint after the epoch step: %v, want 1@4 last", got)
	}
	if err := job.RunStep(StepData); err != nil {
		t.Fatalf("data step: %v", err)
	}
	l.FinishSync(job, nil)
	if l.DurableEndOffset() != 6 {
		t.Fatalf("durable end %d, want 6", l.DurableEndOffset())
	}
	mustAppend(t, l, batchOf(2, 50, 1000, 4), 1, 0)
	job, _ = l.StartSync()
	if got, want := job.SyncSteps(), []SyncStep{StepData}; !slices.Equal(got, want) {
		t.Fatalf("steps of a job without an epoch change %v, want %v", got, want)
	}
	l.FinishSync(job, job.Run())
	checkLog(t, l)
}

// A power loss after the epoch step and before the data step: the new
// epoch's batch was never acknowledged (the job did not finish); recovery
// keeps the synced prefix, and the log takes appends at the new epoch.
// Whether the batch's unsynced bytes survive or not, the log opens.
func TestPowerLossBetweenEpochCheckpointAndData(t *testing.T) {
	for _, keepAll := range []bool{false, true} {
		d := memdisk.New()
		_, job := twoEpochLog(t, d)
		if err := job.RunStep(StepEpochCheckpoint); err != nil {
			t.Fatalf("epoch step: %v", err)
		}
		var keep func(int) int
		if keepAll {
			keep = func(n int) int { return n - 1 }
		}
		l := openLog(t, d.Crash(keep), DefaultConfig(), 0)
		wantEnd := int64(4)
		if keepAll {
			wantEnd = 6
		}
		if l.LogEndOffset() != wantEnd {
			t.Fatalf("keep all %v: log end %d after the power loss, want %d", keepAll, l.LogEndOffset(), wantEnd)
		}
		mustAppend(t, l, batchOf(1, 50, 1000, 9), 1, 0)
		syncNow(t, l)
	}
}

// The other order: the batch of the new epoch reached the disk (a page
// writeback, or an earlier job's fsync covering later appends) and the
// checkpoint did not. The batch was not acknowledged, and recovery cuts
// it: its epoch is beyond the checkpointed latest epoch, which is what
// the bound exists to catch (a garbage epoch in a torn write).
func TestPowerLossBetweenDataAndEpochCheckpoint(t *testing.T) {
	d := memdisk.New()
	_, job := twoEpochLog(t, d)
	if err := job.RunStep(StepData); err != nil {
		t.Fatalf("data step: %v", err)
	}
	l := openLog(t, d.Crash(nil), DefaultConfig(), 0)
	if l.LogEndOffset() != 4 || l.Recovery().TruncatedAt != 4 {
		t.Fatalf("log end %d, cut at %d: want the unacknowledged epoch-1 batch cut at 4", l.LogEndOffset(), l.Recovery().TruncatedAt)
	}
	if l.LatestEpoch() != 0 {
		t.Fatalf("latest epoch %d, want 0", l.LatestEpoch())
	}
}

// A job in flight carries a copy of the epoch cache; a truncation writes
// a newer checkpoint on the loop meanwhile, and the job's write lands
// after it, in its own file with a lower sequence: the truncation's
// counts, on the loop and after a power loss.
func TestStaleEpochCopyLosesToTruncation(t *testing.T) {
	d := memdisk.New()
	l, job := twoEpochLog(t, d)
	if err := l.TruncateTo(4); err != nil {
		t.Fatalf("TruncateTo: %v", err)
	}
	if got := epochsOnDisk(t, d); len(got) != 1 {
		t.Fatalf("epoch checkpoint after the truncation: %v, want epoch 0 only", got)
	}
	l.FinishSync(job, job.Run()) // lands after the truncation's write
	stale, err := d.ReadFile(testDir + "/" + jobEpochCheckpointFile)
	if c, _, _, derr := decodeEpochCheckpoint(stale); err != nil || derr != nil || len(c.entries) != 2 {
		t.Fatalf("the stale copy did not land (%v, %v): the test needs it to", err, derr)
	}
	if got := epochsOnDisk(t, d); !slices.Equal(got, l.epochs.entries) {
		t.Fatalf("current epoch checkpoint %v, cache %v", got, l.epochs.entries)
	}
	re := openLog(t, d.Crash(nil), DefaultConfig(), 0)
	if re.recovery.TruncatedAt >= 0 || re.LogEndOffset() != 4 || re.LatestEpoch() != 0 {
		t.Fatalf("after a power loss: log end %d, latest epoch %d, recovery %+v", re.LogEndOffset(), re.LatestEpoch(), re.Recovery())
	}
	// The log takes the next epoch, and the file follows.
	mustAppend(t, re, batchOf(1, 50, 1000, 5), 2, 0)
	syncNow(t, re)
	checkLog(t, re)
}

// readCkpt decodes one checkpoint file of the test log; ok=false when it
// is absent.
func readCkpt(t *testing.T, d *memdisk.Disk, name string) (partitionCheckpoint, bool) {
	t.Helper()
	data, err := d.ReadFile(testDir + "/" + name)
	if errors.Is(err, disk.ErrNotExist) {
		return partitionCheckpoint{}, false
	}
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	c, err := decodePartitionCheckpoint(data)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return c, true
}

// The periodic checkpoint is written by the next sync job, after its
// fsyncs, into its own file, with the job's end as the recovery point;
// an unchanged log asks for none.
func TestPeriodicCheckpointRidesSyncJob(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, DefaultConfig(), 0)
	appendBatches(t, l, 3)
	l.SetHighWatermark(4)
	if due, err := l.RequestCheckpoint(); !due || err != nil {
		t.Fatalf("RequestCheckpoint: %v, %v after appends, want due", due, err)
	}
	job, ok := l.StartSync()
	if !ok {
		t.Fatal("no job")
	}
	if got, want := job.SyncSteps(), []SyncStep{StepDirs, StepEpochCheckpoint, StepData, StepCheckpoint}; !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	if _, ok := readCkpt(t, d, jobCheckpointFile); ok {
		t.Fatal("checkpoint written before the job ran")
	}
	l.FinishSync(job, job.Run())
	c, ok := readCkpt(t, d, jobCheckpointFile)
	if !ok || c.recoveryPoint != 6 || c.highWatermark != 4 || c.seq == 0 {
		t.Fatalf("job checkpoint %+v (present %v), want recovery point 6, high watermark 4, a sequence", c, ok)
	}
	if due, _ := l.RequestCheckpoint(); due {
		t.Fatal("RequestCheckpoint: due again with nothing changed")
	}
	if _, ok := l.StartSync(); ok {
		t.Fatal("a job for an idle log")
	}
	l.Close()
	l = openLog(t, d, DefaultConfig(), 0)
	if info := l.Recovery(); !info.CheckpointFound || info.RecoveryPoint != 6 {
		t.Fatalf("recovery %+v: want the job's checkpoint", info)
	}
}

// A job in flight carries a checkpoint; a truncation below its recovery
// point writes a lower one on the loop meanwhile, and the job's write
// lands after it. Recovery takes the truncation's, which has the later
// sequence: trusting the job's would take the cut records for synced ones.
func TestStaleJobCheckpointLosesToTruncation(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, DefaultConfig(), 0)
	appendBatches(t, l, 3)
	syncNow(t, l)
	appendBatches(t, l, 1)
	mustRequestCheckpoint(t, l)
	job, _ := l.StartSync()
	if !slices.Contains(job.SyncSteps(), StepCheckpoint) {
		t.Fatal("job without the checkpoint step")
	}
	if err := l.TruncateTo(2); err != nil {
		t.Fatalf("TruncateTo: %v", err)
	}
	loop, ok := readCkpt(t, d, checkpointFile)
	if !ok || loop.recoveryPoint > 2 {
		t.Fatalf("truncation checkpoint %+v (present %v), want a recovery point at most 2", loop, ok)
	}
	l.FinishSync(job, job.Run())
	if stale, _ := readCkpt(t, d, jobCheckpointFile); stale.recoveryPoint != 8 || stale.seq >= loop.seq {
		t.Fatalf("job checkpoint %+v, truncation's sequence %d: the test needs the stale one to land", stale, loop.seq)
	}
	re := openLog(t, d.Crash(nil), DefaultConfig(), 0)
	if info := re.Recovery(); info.RecoveryPoint != loop.recoveryPoint || info.LostDurableData {
		t.Fatalf("recovery %+v: want the truncation's checkpoint (recovery point %d)", info, loop.recoveryPoint)
	}
	if re.LogEndOffset() != 2 {
		t.Fatalf("log end %d after the power loss, want 2", re.LogEndOffset())
	}
}

// A power loss after the data step and before the checkpoint step: the
// data is durable, the checkpoint on disk is the previous one, whose
// recovery point is lower; recovery scans from there and keeps the data.
func TestPowerLossBetweenDataAndCheckpoint(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, DefaultConfig(), 0)
	appendBatches(t, l, 2)
	syncNow(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	appendBatches(t, l, 2)
	mustRequestCheckpoint(t, l)
	job, _ := l.StartSync()
	if err := job.RunStep(StepData); err != nil {
		t.Fatal(err)
	}
	re := openLog(t, d.Crash(nil), DefaultConfig(), 0)
	if info := re.Recovery(); info.RecoveryPoint != 4 || re.LogEndOffset() != 8 || info.TruncatedAt >= 0 {
		t.Fatalf("recovery %+v, log end %d: want recovery point 4 and all 8 offsets kept", info, re.LogEndOffset())
	}
}

// A damaged checkpoint file may be the current one, whichever it is: the
// open treats the log as one without a checkpoint, and the next
// checkpoint is written on the loop, replacing the loop's file (and
// removing the job's when that is the damaged one), so the open after it
// finds a checkpoint again.
func TestDamagedCheckpointReplacedByNextCheckpoint(t *testing.T) {
	for _, damaged := range CheckpointFileNames {
		d := memdisk.New()
		l := openLog(t, d, DefaultConfig(), 0)
		appendBatches(t, l, 2)
		syncNow(t, l)
		if err := l.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		appendBatches(t, l, 1)
		if due, err := l.RequestCheckpoint(); !due || err != nil {
			t.Fatalf("RequestCheckpoint: %v, %v", due, err)
		}
		syncNow(t, l)
		l.Close()
		if err := d.Corrupt(testDir+"/"+damaged, 3, 0x01); err != nil {
			t.Fatal(err)
		}
		l = openLog(t, d, DefaultConfig(), 0)
		if info := l.Recovery(); !info.CheckpointCorrupt || info.CheckpointFound {
			t.Fatalf("%s damaged: recovery %+v, want the checkpoint taken as damaged", damaged, info)
		}
		syncNow(t, l)
		if due, err := l.RequestCheckpoint(); due || err != nil {
			t.Fatalf("%s damaged: RequestCheckpoint %v, %v: want it written at once", damaged, due, err)
		}
		if _, err := d.ReadFile(testDir + "/" + jobCheckpointFile); damaged == jobCheckpointFile && err == nil {
			t.Fatalf("%s damaged: still there", damaged)
		}
		l.Close()
		l = openLog(t, d, DefaultConfig(), 0)
		if info := l.Recovery(); !info.CheckpointFound || info.CheckpointCorrupt || info.RecoveryPoint != 6 || l.LogEndOffset() != 6 {
			t.Fatalf("%s damaged: second open %+v, log end %d: want the new checkpoint at 6", damaged, info, l.LogEndOffset())
		}
	}
}

// Checkpoints without the sequence line (older versions) and with it both
// decode; the sequence survives a round trip.
func TestCheckpointSequenceLine(t *testing.T) {
	for _, c := range []partitionCheckpoint{
		{recoveryPoint: 5, highWatermark: 4, logStartOffset: 1},
		{recoveryPoint: 5, highWatermark: 4, logStartOffset: 1, truncGen: 2},
		{recoveryPoint: 5, highWatermark: 4, logStartOffset: 1, seq: 9},
		{recoveryPoint: 5, highWatermark: 4, logStartOffset: 1, truncGen: 2, seq: 9},
	} {
		got, err := decodePartitionCheckpoint(encodePartitionCheckpoint(c))
		if err != nil || got != c {
			t.Fatalf("round trip of %+v: %+v, %v", c, got, err)
		}
	}
	bad := sealCheckpoint(checkpointMagic + "\nrecovery-point 1\nhigh-watermark 1\nlog-start-offset 0\nsequence 2\ntruncation-generation 1\n")
	if _, err := decodePartitionCheckpoint(bad); err == nil {
		t.Fatal("lines out of order decoded")
	}
}

func mustRequestCheckpoint(t *testing.T, l *Log) {
	t.Helper()
	if due, err := l.RequestCheckpoint(); !due || err != nil {
		t.Fatalf("RequestCheckpoint: %v, %v", due, err)
	}
}

// A latent flip damages the job's checkpoint file; a DeleteRecords then
// writes the loop's file. The open after a power loss must find the
// DeleteRecords' log start: the loop's write removed the damaged file,
// whose unreadable sequence would otherwise make neither count (sim seed
// 103980 brought deleted records back so).
func TestLoopCheckpointRemovesDamagedJobFile(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 0)
	appendBatches(t, l, 3)
	mustRequestCheckpoint(t, l)
	syncNow(t, l)
	if err := d.Corrupt(testDir+"/"+jobCheckpointFile, 3, 0x01); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(6)
	if err := l.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	re := openLog(t, d.Crash(nil), smallConfig(), 0)
	if info := re.Recovery(); info.CheckpointCorrupt || re.LogStartOffset() != 3 {
		t.Fatalf("recovery %+v, log start %d: want the DeleteRecords' checkpoint and start 3", info, re.LogStartOffset())
	}
}

// A latent flip damages the loop's checkpoint file while the log runs:
// the next periodic checkpoint rewrites it on the loop (a job's write
// would leave it damaged, and every open would take the log for one
// without a checkpoint).
func TestPeriodicCheckpointHealsDamagedLoopFile(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 0)
	appendBatches(t, l, 2)
	syncNow(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	appendBatches(t, l, 1)
	syncNow(t, l)
	if err := d.Corrupt(testDir+"/"+checkpointFile, 3, 0x01); err != nil {
		t.Fatal(err)
	}
	if due, err := l.RequestCheckpoint(); due || err != nil {
		t.Fatalf("RequestCheckpoint %v, %v: want the damaged file rewritten at once", due, err)
	}
	re := openLog(t, d.Crash(nil), smallConfig(), 0)
	if info := re.Recovery(); !info.CheckpointFound || info.CheckpointCorrupt || info.RecoveryPoint != 6 {
		t.Fatalf("recovery %+v: want the rewritten checkpoint at 6", info)
	}
}

// After an open that found the loop's checkpoint file damaged, the
// rewrite of it must outrank the job's file that stayed readable: its
// sequence continues above every readable one.
func TestHealedCheckpointOutranksJobFile(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, DefaultConfig(), 0)
	appendBatches(t, l, 3)
	syncNow(t, l)
	l.SetHighWatermark(2)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	appendBatches(t, l, 1)
	l.SetHighWatermark(4)
	mustRequestCheckpoint(t, l)
	syncNow(t, l)
	l.Close()
	if err := d.Corrupt(testDir+"/"+checkpointFile, 3, 0x01); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, d, DefaultConfig(), 0)
	syncNow(t, l)
	l.SetHighWatermark(6)
	if due, err := l.RequestCheckpoint(); due || err != nil {
		t.Fatalf("RequestCheckpoint %v, %v: want the damaged file rewritten at once", due, err)
	}
	l.Close()
	l = openLog(t, d, DefaultConfig(), 0)
	if hw := l.HighWatermark(); hw != 6 {
		t.Fatalf("high watermark %d after reopening, want the rewritten checkpoint's 6 (the job's file has 4)", hw)
	}
}

// TestForeignCheckpointIgnored: a job of a closed log (its topic
// deleted) writes its checkpoints after a log of another owner took the
// directory over; the new log's next open ignores and removes them.
func TestForeignCheckpointIgnored(t *testing.T) {
	d := memdisk.New()
	open := func(owner string) *Log {
		l, err := Reopen(d, testDir, DefaultConfig(), 0, OpenBounds{DurableEnd: -1, MaxLeaderEpoch: -1, Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := open("old")
	for i := 0; i < 5; i++ {
		mustAppend(t, a, batchOf(2, 50, 1000, byte(i)), 3, 0)
		syncNow(t, a)
	}
	a.SetHighWatermark(a.LogEndOffset())
	if err := a.DeleteRecordsBefore(6); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, a, batchOf(2, 50, 1000, 9), 4, 0)
	a.SetHighWatermark(a.LogEndOffset())
	if due, err := a.RequestCheckpoint(); err != nil || !due {
		t.Fatal(due, err)
	}
	job, ok := a.StartSync() // carries the new epoch 4 and the checkpoint
	if !ok {
		t.Fatal("no job")
	}
	_ = a.Close()
	if err := d.RemoveAll(testDir); err != nil {
		t.Fatal(err)
	}
	b := open("new")
	mustAppend(t, b, batchOf(3, 50, 1000, 1), 0, 0)
	syncNow(t, b)
	b.SetHighWatermark(3)
	if err := b.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	// The old job lands late: each step as far as it goes (its data
	// fsyncs fail on the closed files; its checkpoint files land).
	for _, s := range job.SyncSteps() {
		_ = job.RunStep(s)
	}
	_ = b.Close()
	c := open("new")
	if c.LogStartOffset() != 0 || c.LogEndOffset() != 3 || c.LatestEpoch() != 0 {
		t.Fatalf("recreated log: start %d end %d latest epoch %d, want 0, 3, 0", c.LogStartOffset(), c.LogEndOffset(), c.LatestEpoch())
	}
	if c.Recovery().ForeignCheckpoints != 2 {
		t.Fatalf("%d foreign checkpoint files removed, want the job's two", c.Recovery().ForeignCheckpoints)
	}
}

// A file job has one step, writes its file atomically when run, reports
// a failed write, and leaves the previous file whole when the power goes
// before it runs.
func TestFileJob(t *testing.T) {
	d := memdisk.New()
	if err := d.WriteFileAtomic("image", []byte("old")); err != nil {
		t.Fatal(err)
	}
	job := NewFileJob(d, "image", []byte("new"))
	if got := job.SyncSteps(); !slices.Equal(got, []SyncStep{StepFile}) {
		t.Fatalf("steps %v, want [file]", got)
	}
	if got, _ := d.Crash(nil).ReadFile("image"); string(got) != "old" {
		t.Fatalf("after a power loss before the job: %q, want the old file", got)
	}
	if err := job.Run(); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Crash(nil).ReadFile("image"); string(got) != "new" {
		t.Fatalf("after the job and a power loss: %q, want the new file", got)
	}
	d.SetFault(func(op memdisk.Op, name string) error {
		if op == memdisk.OpWriteFileAtomic {
			return disk.ErrNoSpace
		}
		return nil
	})
	if err := NewFileJob(d, "image", []byte("newer")).Run(); !errors.Is(err, disk.ErrNoSpace) {
		t.Fatalf("failed write: %v, want ErrNoSpace", err)
	}
	d.SetFault(nil)
	if got, _ := d.ReadFile("image"); string(got) != "new" {
		t.Fatalf("after a failed job: %q, want the file as it was", got)
	}
}

// TestRollLeavesDirectorySyncToJob: a roll creates names (the new segment,
// the sealed one's indexes) without an fsync on the caller's goroutine;
// the next job fsyncs the directory first (StepDirs), so a power loss
// before it loses only unsynced data, and one after it keeps every synced
// batch under its name.
func TestRollLeavesDirectorySyncToJob(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 0)
	mustAppend(t, l, batchOf(1, 10, 0, 1), 0, 0)
	syncNow(t, l) // the new directory's StepDirs
	syncs, dirSyncs := d.SyncCount(), d.DirSyncCount()
	for i := 0; l.Segments() < 3; i++ {
		if i > 100 {
			t.Fatal("no roll after 100 appends")
		}
		mustAppend(t, l, batchOf(4, 60, 0, byte(i)), 0, 0)
	}
	if n, m := d.SyncCount()-syncs, d.DirSyncCount()-dirSyncs; n != 0 || m != 0 {
		t.Fatalf("rolls ran %d fsyncs and %d directory fsyncs on the caller's goroutine; want none", n, m)
	}
	job, ok := l.StartSync()
	if !ok {
		t.Fatal("no sync job after a roll")
	}
	if steps := job.SyncSteps(); steps[0] != StepDirs || !slices.Equal(job.dirs, []string{testDir}) {
		t.Fatalf("job steps %v dirs %v: want the log's directory synced first", steps, job.dirs)
	}
	end := l.LogEndOffset()
	l.FinishSync(job, job.Run())
	if l.DurableEndOffset() != end {
		t.Fatalf("durable end %d, want %d", l.DurableEndOffset(), end)
	}
	if next, ok := l.StartSync(); ok {
		t.Fatalf("a second job with nothing to sync: steps %v", next.SyncSteps())
	}
	crashed := d.Crash(nil)
	r := openLog(t, crashed, smallConfig(), 0)
	if r.LogEndOffset() != end || r.Segments() != l.Segments() {
		t.Fatalf("after a power loss: log end %d in %d segments; want %d in %d", r.LogEndOffset(), r.Segments(), end, l.Segments())
	}
}

// TestOwnerFileSyncedByFirstJob: OpenBounds.OwnerFile is written at Open
// without an fsync and synced by the next job ahead of its data, so a
// power loss keeps it whenever any synced batch survives.
func TestOwnerFileSyncedByFirstJob(t *testing.T) {
	d := memdisk.New()
	b := OpenBounds{DurableEnd: -1, MaxLeaderEpoch: -1, OwnerFile: "owner", OwnerFileData: []byte("topic_id: x\n")}
	l, err := Reopen(d, testDir, smallConfig(), 0, b)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.ReadFile(testDir + "/owner"); err != nil || string(got) != "topic_id: x\n" {
		t.Fatalf("owner file after Open: %q, %v", got, err)
	}
	if n := d.SyncCount() + d.DirSyncCount(); n != 0 {
		t.Fatalf("Open ran %d fsyncs; want none", n)
	}
	if _, err := openLog(t, d.Crash(nil), smallConfig(), 0).d.ReadFile(testDir + "/owner"); err == nil {
		t.Fatal("the owner file survived a power loss before any sync: the test's disk keeps unsynced files")
	}
	mustAppend(t, l, batchOf(1, 10, 0, 1), 0, 0)
	job, ok := l.StartSync()
	if !ok || job.files[0] != job.ownerFile || job.ownerFile == nil {
		t.Fatalf("first job: ok %v, owner file first %v", ok, ok && job.ownerFile != nil && job.files[0] == job.ownerFile)
	}
	l.FinishSync(job, job.Run())
	crashed := d.Crash(nil)
	if got, err := crashed.ReadFile(testDir + "/owner"); err != nil || string(got) != "topic_id: x\n" {
		t.Fatalf("owner file after the first job and a power loss: %q, %v", got, err)
	}
	if r := openLog(t, crashed, smallConfig(), 0); r.LogEndOffset() != 1 {
		t.Fatalf("log end after the power loss %d, want 1", r.LogEndOffset())
	}
	if next, ok := l.StartSync(); ok {
		t.Fatalf("a second job with nothing to sync: steps %v", next.SyncSteps())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
