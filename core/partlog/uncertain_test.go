package partlog

import (
	"bytes"
	"errors"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

// clusterBounds is what a cluster broker passes to Reopen at a start.
var clusterBounds = OpenBounds{DurableEnd: -1, MaxLeaderEpoch: -1, KeepSyncedDamage: true, MarkUncertainCut: true, TrackSyncedEnd: true}

// damageSecondBatchOf8 flips a bit in the records of offsets 10-11 (the
// second batch of segment 8), below the checkpointed recovery point 20.
func damageSecondBatchOf8(t *testing.T, d *memdisk.Disk) {
	t.Helper()
	batchSize := int64(len(batchOf(2, 50, 0, 0)))
	if err := d.Corrupt(testDir+"/"+segmentName(8, logSuffix), batchSize+70, 0x01); err != nil {
		t.Fatal(err)
	}
}

func corruptCheckpoint(t *testing.T, d *memdisk.Disk) {
	t.Helper()
	if err := d.Corrupt(testDir+"/"+checkpointFile, 3, 0x01); err != nil {
		t.Fatal(err)
	}
}

func reopenCluster(t *testing.T, d *memdisk.Disk, cfg Config) *Log {
	t.Helper()
	l, err := Reopen(d, testDir, cfg, 0, clusterBounds)
	if err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	checkLog(t, l)
	return l
}

func markerPresent(d *memdisk.Disk) bool {
	_, err := d.ReadFile(testDir + "/" + uncertainFile)
	return err == nil
}

// A cut made while the checkpoint is unreadable may have dropped synced
// records: it is marked before it is made, the mark survives the next
// checkpoint and restart (which no longer sees any damage), and only
// ClearUncertain removes it.
func TestRecoveryMarksUncertainCut(t *testing.T) {
	d, cfg := corruptSetup(t)
	corruptCheckpoint(t, d)
	damageSecondBatchOf8(t, d)

	l := reopenCluster(t, d, cfg)
	r := l.Recovery()
	if !r.CheckpointCorrupt || r.TruncatedAt != 10 || l.LogEndOffset() != 10 {
		t.Fatalf("recovery %+v, LEO %d; want the cut at 10 with a corrupt checkpoint", r, l.LogEndOffset())
	}
	if !r.Uncertain || !l.Uncertain() || !markerPresent(d) {
		t.Fatalf("uncertain: recovery %v, log %v, marker %v; want all three", r.Uncertain, l.Uncertain(), markerPresent(d))
	}
	// The next checkpoint holds a good recovery point (10): a restart sees
	// an intact log, and only the marker remembers the cut.
	syncNow(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = reopenCluster(t, d, cfg)
	if r := l.Recovery(); r.TruncatedAt != -1 || r.CheckpointCorrupt || !r.Uncertain || !l.Uncertain() {
		t.Fatalf("after a clean restart: recovery %+v, uncertain %v; want no repair and still uncertain", r, l.Uncertain())
	}
	if err := l.ClearUncertain(); err != nil {
		t.Fatal(err)
	}
	if l.Uncertain() || markerPresent(d) {
		t.Fatalf("after ClearUncertain: uncertain %v, marker %v", l.Uncertain(), markerPresent(d))
	}
	l.Close()
	l = reopenCluster(t, d, cfg)
	if l.Uncertain() || l.Recovery().Uncertain {
		t.Fatal("a cleared log is uncertain again after a restart")
	}
	l.Close()
}

// Only a cut made without the recovery point is uncertain: not one above a
// readable checkpoint's recovery point, not one where the checkpoint was
// never written (nothing was declared synced: a new partition whose last
// write tore), not one by a caller that did not ask (a single node), and
// a corrupt checkpoint alone cuts nothing.
func TestRecoveryCertainCuts(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, d *memdisk.Disk, cfg Config)
		bounds  OpenBounds
		wantCut int64
	}{
		{"torn tail above the recovery point", func(t *testing.T, d *memdisk.Disk, cfg Config) {
			l := openLog(t, d, cfg, 0)
			mustAppend(t, l, batchOf(2, 50, 10000, 10), 0, 0) // offsets 20-21, never synced
			l.Close()
			name := testDir + "/" + segmentName(20, logSuffix)
			if err := d.Corrupt(name, 70, 0x01); err != nil {
				t.Fatal(err)
			}
		}, clusterBounds, 20},
		{"checkpoint never written", func(t *testing.T, d *memdisk.Disk, _ Config) {
			if err := d.Remove(testDir + "/" + checkpointFile); err != nil {
				t.Fatal(err)
			}
			damageSecondBatchOf8(t, d)
		}, clusterBounds, 10},
		{"single node", func(t *testing.T, d *memdisk.Disk, _ Config) {
			corruptCheckpoint(t, d)
			damageSecondBatchOf8(t, d)
		}, OpenBounds{DurableEnd: -1, MaxLeaderEpoch: -1}, 10},
		{"corrupt checkpoint, intact log", func(t *testing.T, d *memdisk.Disk, _ Config) { corruptCheckpoint(t, d) }, clusterBounds, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, cfg := corruptSetup(t)
			tc.prepare(t, d, cfg)
			l, err := Reopen(d, testDir, cfg, 0, tc.bounds)
			if err != nil {
				t.Fatalf("Reopen: %v", err)
			}
			defer l.Close()
			if r := l.Recovery(); r.TruncatedAt != tc.wantCut {
				t.Fatalf("cut at %d, want %d (recovery %+v)", r.TruncatedAt, tc.wantCut, r)
			}
			if l.Uncertain() || l.Recovery().Uncertain || markerPresent(d) {
				t.Fatalf("uncertain %v, recovery %+v, marker %v; want a certain log", l.Uncertain(), l.Recovery(), markerPresent(d))
			}
		})
	}
}

// When the marker cannot be written, recovery fails without cutting: the
// next open finds the same damage and tries again, instead of finding a
// clean, shortened log.
func TestRecoveryUncertainMarkFails(t *testing.T) {
	d, cfg := corruptSetup(t)
	corruptCheckpoint(t, d)
	damageSecondBatchOf8(t, d)
	seg := testDir + "/" + segmentName(8, logSuffix)
	before, err := d.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	injected := errors.New("injected write failure")
	d.SetFault(func(op memdisk.Op, name string) error {
		if op == memdisk.OpWriteFileAtomic && name == testDir+"/"+uncertainFile {
			return injected
		}
		return nil
	})
	if _, err := Reopen(d, testDir, cfg, 0, clusterBounds); !errors.Is(err, injected) {
		t.Fatalf("Reopen: %v, want the marker's write error", err)
	}
	after, err := d.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the failed open cut the damaged segment")
	}
	if _, err := d.ReadFile(testDir + "/" + segmentName(12, logSuffix)); errors.Is(err, disk.ErrNotExist) {
		t.Fatal("the failed open deleted the segments after the damage")
	}
	d.SetFault(nil)
	l := reopenCluster(t, d, cfg)
	defer l.Close()
	if !l.Uncertain() || l.LogEndOffset() != 10 {
		t.Fatalf("retry: uncertain %v, LEO %d; want the marked cut at 10", l.Uncertain(), l.LogEndOffset())
	}
}

// A caller that found synced data damaged marks the log before closing
// it: the damaged batch lies above the checkpointed recovery point (20),
// so the next open cuts it as a torn tail, and only the mark says the cut
// may have dropped synced records (simulator seed 731000057). A mark that
// cannot be written leaves the log certain and says so. The log runs
// without TrackSyncedEnd, whose synced end would mark the cut by itself
// (TestSyncedEndMarksDamageCutUncertain): the caller's mark is what
// remains when no synced end can be trusted.
func TestMarkUncertainBeforeACut(t *testing.T) {
	d, cfg := corruptSetup(t)
	untracked := clusterBounds
	untracked.TrackSyncedEnd = false
	l, err := Reopen(d, testDir, cfg, 0, untracked)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, batchOf(2, 50, 10000, 10), 0, 0) // offsets 20-21
	syncNow(t, l)
	if l.DurableEndOffset() != 22 {
		t.Fatalf("durable end %d, want 22", l.DurableEndOffset())
	}
	if err := d.Corrupt(testDir+"/"+segmentName(20, logSuffix), 70, 0x01); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(20, 1<<20, 22); !errors.Is(err, ErrCorruptSegment) {
		t.Fatalf("read of the damaged synced batch: %v, want ErrCorruptSegment", err)
	}
	injected := errors.New("injected write failure")
	d.SetFault(func(op memdisk.Op, name string) error {
		if op == memdisk.OpWriteFileAtomic && name == testDir+"/"+uncertainFile {
			return injected
		}
		return nil
	})
	if err := l.MarkUncertain("test"); !errors.Is(err, injected) || l.Uncertain() || markerPresent(d) {
		t.Fatalf("failed mark: err %v, uncertain %v, marker %v; want the error and a certain log", err, l.Uncertain(), markerPresent(d))
	}
	d.SetFault(nil)
	if err := l.MarkUncertain("test"); err != nil || !l.Uncertain() || !markerPresent(d) {
		t.Fatalf("mark: err %v, uncertain %v, marker %v", err, l.Uncertain(), markerPresent(d))
	}
	l.Close()

	l, err = Reopen(d, testDir, cfg, 0, untracked)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := l.Recovery()
	if r.TruncatedAt != 20 || r.CheckpointCorrupt || r.LostDurableData || l.LogEndOffset() != 20 {
		t.Fatalf("recovery %+v, LEO %d; want the torn-tail cut at 20 above the recovery point", r, l.LogEndOffset())
	}
	if !r.Uncertain || !l.Uncertain() {
		t.Fatalf("after the cut: recovery uncertain %v, log uncertain %v; want both", r.Uncertain, l.Uncertain())
	}
	if err := l.ClearUncertain(); err != nil || markerPresent(d) {
		t.Fatalf("ClearUncertain: %v, marker %v", err, markerPresent(d))
	}
}
