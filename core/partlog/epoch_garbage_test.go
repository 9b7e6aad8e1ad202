package partlog

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

// TestRecoveryCutsGarbageEpoch: a batch's leader epoch lies outside its
// CRC, so a torn write can leave a CRC-valid batch claiming an epoch that
// never existed. Recovery must cut such an unsynced batch rather than let
// it poison the epoch cache (every later append at the real epoch would
// then be refused as a regression).
func TestRecoveryCutsGarbageEpoch(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 1000)
	mustAppend(t, l, batchOf(2, 10, 1000, 1), 0, 1000)
	syncNow(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	res := mustAppend(t, l, batchOf(2, 10, 1000, 2), 0, 1000) // unsynced
	if res.BaseOffset != 2 {
		t.Fatalf("second batch at %d", res.BaseOffset)
	}
	segment := fmt.Sprintf("%s/%020d.log", testDir, 0)
	size := int64(len(batchOf(2, 10, 1000, 1)))
	// Bytes 12-15 of a batch are its partition leader epoch: overwrite the
	// second batch's (unsynced, so only in the page cache) with 4096.
	f, err := d.OpenFile(segment, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0, 0, 0x10, 0}, size+12); err != nil {
		t.Fatal(err)
	}
	d = d.Crash(func(n int) int { return n - 1 }) // keep every unsynced byte: a process kill leaves the page cache
	l = openLog(t, d, smallConfig(), 2000)
	if got := l.LogEndOffset(); got != 2 {
		t.Fatalf("log end %d after recovery, want 2 (the garbage-epoch batch cut)", got)
	}
	if info := l.Recovery(); info.TruncatedAt != 2 {
		t.Fatalf("recovery cut at %d, want 2: %+v", info.TruncatedAt, info)
	}
	if got := mustAppend(t, l, batchOf(1, 10, 2000, 3), 0, 2000); got.BaseOffset != 2 {
		t.Fatalf("append after recovery at %d, want 2", got.BaseOffset)
	}
}

// garbageEpochAfterLostCheckpoint builds the disk of simulator seed 20225
// (FINDINGS.md 16): two batches at leader epoch 3, synced and below the
// checkpointed recovery point; a third, unsynced, whose epoch field a torn
// write turned into 3 | 1<<27 (the field lies outside the CRC, so the
// batch checks out); and a leader-epoch checkpoint that a latent bit flip
// made unreadable, so recovery has no bound of its own. It returns the
// disk after a crash that kept every unsynced byte, the synced prefix of
// the segment file and the two synced batches as Read served them.
func garbageEpochAfterLostCheckpoint(t *testing.T) (d *memdisk.Disk, syncedBytes []byte, synced [][]byte) {
	t.Helper()
	d = memdisk.New()
	l := openLog(t, d, smallConfig(), 1000)
	mustAppend(t, l, batchOf(2, 10, 1000, 1), 3, 1000)
	mustAppend(t, l, batchOf(2, 10, 1000, 2), 3, 1000)
	syncNow(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	synced = readBatches(t, l, 0, 4)
	if len(synced) != 2 {
		t.Fatalf("%d synced batches, want 2", len(synced))
	}
	if res := mustAppend(t, l, batchOf(2, 10, 1000, 3), 3, 1000); res.BaseOffset != 4 {
		t.Fatalf("third batch at %d, want 4", res.BaseOffset)
	}
	segment := fmt.Sprintf("%s/%020d.log", testDir, 0)
	syncedSize := int64(len(synced[0]) + len(synced[1]))
	f, err := d.OpenFile(segment, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0x08, 0, 0, 3}, syncedSize+12); err != nil { // bytes 12-15: the leader epoch
		t.Fatal(err)
	}
	if err := d.Corrupt(testDir+"/"+jobEpochCheckpointFile, 0, 0x40); err != nil { // the sync job wrote it
		t.Fatal(err)
	}
	all, err := d.ReadFile(segment)
	if err != nil {
		t.Fatal(err)
	}
	syncedBytes = bytes.Clone(all[:syncedSize])
	return d.Crash(func(n int) int { return n - 1 }), syncedBytes, synced
}

// TestRecoveryWithoutEpochBoundKeepsGarbageEpoch shows the failure that
// OpenBounds.MaxLeaderEpoch exists for: with the epoch checkpoint
// unreadable and no bound from the caller, recovery learns the garbage
// epoch and every later append at the real epoch is refused.
func TestRecoveryWithoutEpochBoundKeepsGarbageEpoch(t *testing.T) {
	d, _, _ := garbageEpochAfterLostCheckpoint(t)
	l := openLog(t, d, smallConfig(), 2000)
	if got := l.LatestEpoch(); got != 3|1<<27 {
		t.Fatalf("latest epoch %d; the scenario no longer poisons an unbounded recovery (want %d)", got, 3|1<<27)
	}
	_, err := l.Append(batchOf(1, 10, 2000, 4), 3, 2000)
	wantErr(t, err, ErrInvalidLeaderEpoch)
}

// TestRecoveryCutsGarbageEpochBeyondBound: with the partition's leader
// epoch as the bound, recovery cuts the unsynced batch with the garbage
// epoch although the epoch checkpoint is unreadable, keeps the synced
// batches byte for byte, and the log takes appends at the real epoch.
func TestRecoveryCutsGarbageEpochBeyondBound(t *testing.T) {
	d, syncedBytes, synced := garbageEpochAfterLostCheckpoint(t)
	l, err := Reopen(d, testDir, smallConfig(), 2000, OpenBounds{DurableEnd: -1, MaxLeaderEpoch: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkLog(t, l)
	info := l.Recovery()
	if info.TruncatedAt != 4 || info.LostDurableData || !errors.Is(info.Cause, errStructure) {
		t.Fatalf("recovery %+v, want a cut of the torn batch at 4 without lost durable data", info)
	}
	if got := l.LogEndOffset(); got != 4 {
		t.Fatalf("log end %d, want 4", got)
	}
	if got := l.LatestEpoch(); got != 3 {
		t.Fatalf("latest epoch %d, want 3", got)
	}
	all, err := d.ReadFile(fmt.Sprintf("%s/%020d.log", testDir, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(all, syncedBytes) {
		t.Fatalf("segment holds %d bytes after recovery, want the %d synced bytes unchanged", len(all), len(syncedBytes))
	}
	got := readBatches(t, l, 0, l.LogEndOffset())
	if len(got) != len(synced) {
		t.Fatalf("%d batches read, want %d", len(got), len(synced))
	}
	for i := range got {
		if !bytes.Equal(got[i], synced[i]) {
			t.Fatalf("batch %d differs from the one served before the crash", i)
		}
	}
	if res := mustAppend(t, l, batchOf(1, 10, 2000, 4), 3, 2000); res.BaseOffset != 4 {
		t.Fatalf("append after recovery at %d, want 4", res.BaseOffset)
	}
	syncNow(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The repaired epoch checkpoint bounds the next recovery on its own.
	l = openLog(t, d.Crash(nil), smallConfig(), 3000)
	if got, epoch := l.LogEndOffset(), l.LatestEpoch(); got != 5 || epoch != 3 {
		t.Fatalf("after a second crash: log end %d, latest epoch %d; want 5 and 3", got, epoch)
	}
}

// TestRecoveryRefusesSyncedBatchBeyondEpochBound: a batch below the
// recovery point whose epoch exceeds the bound was synced and may have
// been acknowledged; recovery must report the damage (ErrCorruptSegment)
// and leave the file as it is rather than cut it.
func TestRecoveryRefusesSyncedBatchBeyondEpochBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch int // which synced batch the latent flip hits
	}{{"first", 0}, {"last", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			d, syncedBytes, synced := garbageEpochAfterLostCheckpoint(t)
			segment := fmt.Sprintf("%s/%020d.log", testDir, 0)
			pos := int64(12)
			if tc.batch == 1 {
				pos += int64(len(synced[0]))
			}
			if err := d.Corrupt(segment, pos, 0x08); err != nil {
				t.Fatal(err)
			}
			before, err := d.ReadFile(segment)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Reopen(d, testDir, smallConfig(), 2000, OpenBounds{DurableEnd: -1, MaxLeaderEpoch: 3})
			wantErr(t, err, ErrCorruptSegment)
			after, err := d.ReadFile(segment)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, before) || len(after) <= len(syncedBytes) {
				t.Fatalf("segment changed by a refused recovery: %d bytes, was %d", len(after), len(before))
			}
		})
	}
}
