package partlog

import (
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
