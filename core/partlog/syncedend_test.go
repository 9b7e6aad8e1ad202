package partlog

import (
	"bytes"
	"errors"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

func openCluster(t *testing.T, d *memdisk.Disk, cfg Config) *Log {
	t.Helper()
	l, err := Reopen(d, testDir, cfg, 0, clusterBounds)
	if err != nil {
		t.Fatalf("cluster open: %v", err)
	}
	checkLog(t, l)
	return l
}

// appendBatches appends n batches of two records each (a single segment
// with the default config).
func appendBatches(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		mustAppend(t, l, batchOf(2, 50, 1000, byte(i)), 0, 0)
	}
}

// twoRecordBatchSize is the size of batchOf(2, 50, ...).
var twoRecordBatchSize = int64(len(batchOf(2, 50, 0, 0)))

// flipBatch flips a payload byte of the two-record batch at offset in the
// first segment of d.
func flipBatch(t *testing.T, d *memdisk.Disk, offset int64) {
	t.Helper()
	if err := d.Corrupt(testDir+"/"+segmentName(0, logSuffix), offset/2*twoRecordBatchSize+70, 0x01); err != nil {
		t.Fatal(err)
	}
}

// syncedPastCheckpoint leaves a crashed disk whose log holds 10 synced
// records, of which the checkpoint's recovery point covers 6: the
// checkpoint trails the fsyncs.
func syncedPastCheckpoint(t *testing.T) (*memdisk.Disk, Config) {
	t.Helper()
	d := memdisk.New()
	cfg := DefaultConfig()
	l := openCluster(t, d, cfg)
	appendBatches(t, l, 3)
	syncNow(t, l)
	l.SetHighWatermark(6)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	appendBatches(t, l, 2)
	syncNow(t, l)
	return d.Crash(nil), cfg
}

// A media flip in a synced batch above the checkpointed recovery point but
// below the synced end is damage, not a torn tail: a cluster copy marks
// itself uncertain before the cut (it may lack synced records, so it does
// not lead before it has caught up: FINDINGS.md 42). Without
// TrackSyncedEnd, or without MarkUncertainCut (a single node), recovery
// cuts it as a torn tail, certain.
func TestSyncedEndMarksDamageCutUncertain(t *testing.T) {
	d, cfg := syncedPastCheckpoint(t)
	flipBatch(t, d, 8)
	l := openCluster(t, d.Crash(nil), cfg)
	if r := l.Recovery(); l.LogEndOffset() != 8 || r.TruncatedAt != 8 || r.SyncedEnd != 10 || !r.LostDurableData || !r.Uncertain || !l.Uncertain() {
		t.Fatalf("cluster open of a flipped synced batch above the recovery point: LEO %d, recovery %+v; want the cut at 8 marked uncertain", l.LogEndOffset(), r)
	}
	for _, b := range []OpenBounds{
		{DurableEnd: -1, MaxLeaderEpoch: -1, KeepSyncedDamage: true, MarkUncertainCut: true},
		{DurableEnd: -1, MaxLeaderEpoch: -1, TrackSyncedEnd: true},
	} {
		l, err := Reopen(d.Crash(nil), testDir, cfg, 0, b)
		if err != nil {
			t.Fatalf("open with %+v: %v", b, err)
		}
		if r := l.Recovery(); l.LogEndOffset() != 8 || r.TruncatedAt != 8 || r.RecoveryPoint != 6 || l.Uncertain() {
			t.Fatalf("open with %+v: LEO %d, recovery %+v, uncertain %v; want a certain torn-tail cut at 8", b, l.LogEndOffset(), r, l.Uncertain())
		}
		l.Close()
	}
	// Damage below the recovery point is still kept as corrupt
	// (KeepSyncedDamage, FINDINGS.md 22).
	d2, _ := syncedPastCheckpoint(t)
	flipBatch(t, d2, 2)
	if _, err := Reopen(d2, testDir, cfg, 0, clusterBounds); !errors.Is(err, ErrCorruptSegment) {
		t.Fatalf("flip below the recovery point: %v, want ErrCorruptSegment", err)
	}
}

// A log whose files end below its synced end (a segment's synced tail
// gone) lost synced records: marked uncertain though nothing is cut.
func TestSyncedEndShortLogUncertain(t *testing.T) {
	d, cfg := syncedPastCheckpoint(t)
	f, err := d.OpenFile(testDir+"/"+segmentName(0, logSuffix), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4 * twoRecordBatchSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l := openCluster(t, d, cfg)
	if r := l.Recovery(); l.LogEndOffset() != 8 || !r.LostDurableData || !l.Uncertain() {
		t.Fatalf("LEO %d, recovery %+v, uncertain %v; want the short log marked uncertain", l.LogEndOffset(), r, l.Uncertain())
	}
}

// A torn write above the synced end is still a torn tail: cut, with no
// false report of corruption, whether a prefix of the batch survived or
// all of it with a bad CRC (torn pages).
func TestSyncedEndTornTailStillCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep func(n int) int
		flip bool
	}{
		{"short prefix", func(n int) int { return n / 2 }, false},
		{"whole length, bad crc", func(n int) int { return n - 1 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d0, cfg := syncedPastCheckpoint(t)
			l := openCluster(t, d0, cfg)
			appendBatches(t, l, 1) // offsets 10-11, never synced
			d := d0.Crash(tc.keep)
			if tc.flip {
				flipBatch(t, d, 10)
			}
			l2 := openCluster(t, d, cfg)
			if r := l2.Recovery(); l2.LogEndOffset() != 10 || r.TruncatedAt != 10 || r.SyncedEnd != 10 || l2.Uncertain() {
				t.Fatalf("LEO %d, recovery %+v, uncertain %v; want the torn tail cut at the synced end 10", l2.LogEndOffset(), r, l2.Uncertain())
			}
		})
	}
}

// A slot written before a truncation, by a job that was in flight during
// it or had finished before it, claims records the truncation removed. A
// torn write of new records in their place is a torn tail, not synced data
// lost: the truncation's new generation makes recovery ignore the slot.
// A job started after the truncation writes a slot recovery trusts again.
func TestSyncedEndStaleGenerationIgnored(t *testing.T) {
	for _, inflight := range []bool{false, true} {
		name := "job done before the truncation"
		if inflight {
			name = "job in flight across the truncation"
		}
		t.Run(name, func(t *testing.T) {
			d := memdisk.New()
			cfg := DefaultConfig()
			l := openCluster(t, d, cfg)
			appendBatches(t, l, 5) // 0-9
			var job *SyncJob
			if inflight {
				var ok bool
				if job, ok = l.StartSync(); !ok {
					t.Fatal("no sync job")
				}
			} else {
				syncNow(t, l)
			}
			if err := l.TruncateTo(4); err != nil {
				t.Fatal(err)
			}
			if inflight {
				// The job ran off the loop after the cut, writing the
				// synced end 10 into its slot.
				l.FinishSync(job, job.Run())
			}
			appendBatches(t, l, 1) // 4-5, never synced
			crashed := d.Crash(func(n int) int { return n / 2 })
			l2 := openCluster(t, crashed, cfg)
			if r := l2.Recovery(); l2.LogEndOffset() != 4 || r.TruncatedAt != 4 || r.SyncedEnd != -1 || l2.Uncertain() {
				t.Fatalf("LEO %d, recovery %+v, uncertain %v; want the torn batch cut at 4, certain, and the stale synced end ignored", l2.LogEndOffset(), r, l2.Uncertain())
			}
			appendBatches(t, l2, 2) // 4-7
			syncNow(t, l2)
			l3 := openCluster(t, crashed.Crash(nil), cfg)
			if r := l3.Recovery(); r.SyncedEnd != 8 {
				t.Fatalf("after a sync of the new generation: recovery %+v, want synced end 8", r)
			}
		})
	}
}

// A torn write of the newest slot leaves the other one, which recovery
// uses; the next job overwrites the torn slot, not the valid one.
func TestSyncedEndTornSlotUsesOther(t *testing.T) {
	d := memdisk.New()
	cfg := DefaultConfig()
	l := openCluster(t, d, cfg)
	appendBatches(t, l, 2)
	syncNow(t, l) // sequence 1, slot 1: 4
	appendBatches(t, l, 2)
	syncNow(t, l) // sequence 2, slot 0: 8
	crashed := d.Crash(nil)
	slotsName := testDir + "/" + syncedEndFile
	if err := crashed.Corrupt(slotsName, 13, 0x10); err != nil { // slot 0's offset field
		t.Fatal(err)
	}
	l2 := openCluster(t, crashed, cfg)
	if r := l2.Recovery(); r.SyncedEnd != 4 || l2.Uncertain() {
		t.Fatalf("recovery %+v, uncertain %v; want the synced end 4 of the intact slot", r, l2.Uncertain())
	}
	valid, _ := crashed.ReadFile(slotsName)
	appendBatches(t, l2, 1)
	syncNow(t, l2)
	now, _ := crashed.ReadFile(slotsName)
	if !bytes.Equal(valid[slotStride:slotStride+slotSize], now[slotStride:slotStride+slotSize]) {
		t.Fatal("the job after the reopen overwrote the only valid slot")
	}
	if l3 := openCluster(t, crashed.Crash(nil), cfg); l3.Recovery().SyncedEnd != 10 {
		t.Fatalf("recovery %+v, want synced end 10", l3.Recovery())
	}
	// Both slots damaged: nothing to trust, and the open still works.
	for _, off := range []int64{13, slotStride + 13} {
		if err := crashed.Corrupt(slotsName, off, 0x10); err != nil {
			t.Fatal(err)
		}
	}
	if l4 := openCluster(t, crashed.Crash(nil), cfg); l4.Recovery().SyncedEnd != -1 || l4.LogEndOffset() != 10 {
		t.Fatalf("both slots damaged: LEO %d, recovery %+v", l4.LogEndOffset(), l4.Recovery())
	}
}

// A checkpoint written before the truncation generation existed (no such
// line) opens, with generation 0, so a synced end of generation 0 counts;
// a checkpoint of generation 0 is still written in the old format.
func TestSyncedEndOldCheckpointOpens(t *testing.T) {
	d := memdisk.New()
	cfg := DefaultConfig()
	l := openCluster(t, d, cfg)
	appendBatches(t, l, 3)
	syncNow(t, l)
	old := sealCheckpoint(checkpointMagic + "\nrecovery-point 2\nhigh-watermark 2\nlog-start-offset 0\n")
	if err := d.WriteFileAtomic(testDir+"/"+checkpointFile, old); err != nil {
		t.Fatal(err)
	}
	l2 := openCluster(t, d.Crash(nil), cfg)
	if r := l2.Recovery(); !r.CheckpointFound || r.RecoveryPoint != 2 || r.SyncedEnd != 6 || l2.LogEndOffset() != 6 {
		t.Fatalf("LEO %d, recovery %+v; want the old checkpoint read and the synced end 6 trusted", l2.LogEndOffset(), r)
	}
	if got := encodePartitionCheckpoint(partitionCheckpoint{recoveryPoint: 2, highWatermark: 2}); !bytes.Equal(got, old) {
		t.Fatalf("generation 0 encodes as\n%s\nwant the old format\n%s", got, old)
	}
	c := partitionCheckpoint{recoveryPoint: 5, highWatermark: 4, logStartOffset: 1, truncGen: 3}
	if back, err := decodePartitionCheckpoint(encodePartitionCheckpoint(c)); err != nil || back != c {
		t.Fatalf("round trip of %+v: %+v, %v", c, back, err)
	}
}

// The synced end is written only after the segment fsyncs; a failed fsync
// of the slot fails the job, and the log with it.
func TestSyncedEndSlotSyncFailureFailsJob(t *testing.T) {
	d := memdisk.New()
	cfg := DefaultConfig()
	l := openCluster(t, d, cfg)
	appendBatches(t, l, 1)
	job, ok := l.StartSync()
	if !ok {
		t.Fatal("no sync job")
	}
	boom := errors.New("boom")
	var synced []string
	d.SetFault(func(op memdisk.Op, name string) error {
		if op == memdisk.OpSync {
			synced = append(synced, name)
			if name == testDir+"/"+syncedEndFile {
				return boom
			}
		}
		return nil
	})
	err := job.Run()
	d.SetFault(nil)
	if !errors.Is(err, boom) {
		t.Fatalf("Run: %v, want the slot's fsync error", err)
	}
	if len(synced) != 2 || synced[1] != testDir+"/"+syncedEndFile {
		t.Fatalf("fsyncs %v: want the segment first, then the synced end", synced)
	}
	l.FinishSync(job, err)
	if !errors.Is(l.Failed(), ErrLogFailed) {
		t.Fatalf("log after a failed slot fsync: %v", l.Failed())
	}
}

// A log opened without TrackSyncedEnd creates no synced-end file and its
// jobs write none (a single node pays no extra fsync).
func TestSyncedEndOnlyWhenAsked(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, DefaultConfig(), 0)
	appendBatches(t, l, 1)
	syncNow(t, l) // the first job also writes the leader-epoch checkpoint
	appendBatches(t, l, 1)
	before := d.SyncCount()
	syncNow(t, l)
	if n := d.SyncCount() - before; n != 1 {
		t.Fatalf("%d fsyncs for one job, want 1", n)
	}
	if _, err := d.ReadFile(testDir + "/" + syncedEndFile); !errors.Is(err, disk.ErrNotExist) {
		t.Fatalf("synced-end file of a log that did not ask for one: %v", err)
	}
}
