package sim

import (
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	lin "github.com/chronik-streaming/chronik/linearizability"
)

// testBatch builds the 61-byte framing of a record batch (no records):
// what the checkers read of a batch.
func testBatch(base int64, lastDelta, epoch int32, crc uint32) []byte {
	b := make([]byte, 61)
	put64 := func(at int, v uint64) {
		for i := 0; i < 8; i++ {
			b[at+i] = byte(v >> (56 - 8*i))
		}
	}
	put32 := func(at int, v uint32) {
		for i := 0; i < 4; i++ {
			b[at+i] = byte(v >> (24 - 8*i))
		}
	}
	put64(0, uint64(base))
	put32(8, 49)
	put32(12, uint32(epoch))
	b[16] = 2
	put32(17, crc)
	put32(23, uint32(lastDelta))
	return b
}

func wantVerdict(t *testing.T, what, got, want string) {
	t.Helper()
	switch {
	case want == "" && got != "":
		t.Errorf("%s: unexpected failure %q", what, got)
	case want != "" && !strings.Contains(got, want):
		t.Errorf("%s: verdict %q, want one saying %q", what, got, want)
	}
}

// TestAdmissionVerdict: an ISR admission below the leader's epoch start
// or high watermark, or of a joiner that lacks the records durably or
// holds other ones, is rejected.
func TestAdmissionVerdict(t *testing.T) {
	ref := testBatch(40, 3, 2, 0xabc)
	other := testBatch(40, 3, 1, 0xdef)
	wantVerdict(t, "sound", admissionVerdict(44, 42, 44, ref, ref), "")
	wantVerdict(t, "empty log", admissionVerdict(0, 0, 0, nil, nil), "")
	wantVerdict(t, "reached the HW, not the epoch start", admissionVerdict(43, 43, 44, ref, ref), "below the leader's high watermark 43 or epoch start 44")
	wantVerdict(t, "below the HW", admissionVerdict(10, 43, 20, ref, ref), "below")
	wantVerdict(t, "no fetch seen", admissionVerdict(-1, 5, 5, ref, ref), "below")
	wantVerdict(t, "not durable", admissionVerdict(44, 44, 44, ref, nil), "does not hold offset 43 durably")
	wantVerdict(t, "divergent", admissionVerdict(44, 44, 44, ref, other), "differs from the leader's")
}

// TestMinInsyncVerdict: acks=all answers judged against the ISR the
// leader had applied at the append and at the answer.
func TestMinInsyncVerdict(t *testing.T) {
	two, one := []int32{1, 2}, []int32{1}
	wantVerdict(t, "sound success", minInsyncVerdict(0, two, two, 2), "")
	wantVerdict(t, "success below min at the append", minInsyncVerdict(0, one, two, 2), "appended with ISR [1]")
	wantVerdict(t, "success below min at the answer", minInsyncVerdict(0, two, one, 2), "acknowledged with ISR [1]")
	wantVerdict(t, "sound refusal", minInsyncVerdict(errCodeNotEnoughReplicas, one, one, 2), "")
	wantVerdict(t, "refusal with enough", minInsyncVerdict(errCodeNotEnoughReplicas, two, two, 2), "NOT_ENOUGH_REPLICAS (refused before the append)")
	wantVerdict(t, "sound after-append refusal", minInsyncVerdict(errCodeNotEnoughAfter, two, one, 2), "")
	wantVerdict(t, "after-append refusal that belongs before", minInsyncVerdict(errCodeNotEnoughAfter, one, one, 2), "should have been refused before it")
	wantVerdict(t, "other errors", minInsyncVerdict(errCodeNotLeader, one, one, 2), "")
}

// TestShrinkVerdict: a follower behind for longer than the lag limit
// plus the slack fails the rule.
func TestShrinkVerdict(t *testing.T) {
	lag := 3 * Second
	wantVerdict(t, "within the bound", shrinkVerdict(10*Second, 10*Second-lag-isrShrinkSlack, lag), "")
	wantVerdict(t, "past the bound", shrinkVerdict(10*Second, 10*Second-lag-isrShrinkSlack-Millisecond, lag), "last caught up")
}

// TestHWDurableVerdict: a served high watermark above what a replica
// holds durably, or above a different batch, is rejected.
func TestHWDurableVerdict(t *testing.T) {
	ref := testBatch(10, 1, 3, 7)
	wantVerdict(t, "sound", hwDurableVerdict(12, ref, testBatch(10, 1, 3, 7)), "")
	wantVerdict(t, "missing", hwDurableVerdict(12, ref, nil), "does not hold offset 11 durably")
	wantVerdict(t, "different", hwDurableVerdict(12, ref, testBatch(10, 1, 2, 7)), "holds a different batch at offset 11")
}

// TestBatchAtDurable: the checkers read a replica's durable log from
// memdisk's synced contents: a batch written but not synced is found in
// the current contents only.
func TestBatchAtDurable(t *testing.T) {
	md := memdisk.New()
	d := &simDisk{root: memdisk.New(), mounts: map[string]*memdisk.Disk{"t-0": md}}
	tp := lin.TopicPartition{Topic: "t", Partition: 0}
	if err := md.MkdirAll("t-0"); err != nil {
		t.Fatal(err)
	}
	if err := md.SyncDir("."); err != nil { // the directory's own name durable
		t.Fatal(err)
	}
	f, err := md.OpenFile("t-0/00000000000000000000.log", true)
	if err != nil {
		t.Fatal(err)
	}
	first := testBatch(0, 4, 0, 1)
	if _, err := f.WriteAt(first, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := md.SyncDir("t-0"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(testBatch(5, 2, 0, 2), 61); err != nil {
		t.Fatal(err)
	}
	if b, ok := batchAt(d, tp, 3, true); !ok || !sameBatch(b, first) {
		t.Fatalf("durable batch at 3: %v %v", ok, b)
	}
	if _, ok := batchAt(d, tp, 6, true); ok {
		t.Fatal("an unsynced batch is reported durable")
	}
	if b, ok := batchAt(d, tp, 6, false); !ok || be64(b) != 5 {
		t.Fatalf("current batch at 6: %v %v", ok, b)
	}
	if _, ok := batchAt(d, tp, 8, false); ok {
		t.Fatal("a batch past the log end is reported")
	}
	// A rolled segment: the cached segment lists follow the names.
	g, err := md.OpenFile("t-0/00000000000000000007.log", true)
	if err != nil {
		t.Fatal(err)
	}
	rolled := testBatch(7, 1, 0, 3)
	if _, err := g.WriteAt(rolled, 0); err != nil {
		t.Fatal(err)
	}
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	if b, ok := batchAt(d, tp, 7, false); !ok || !sameBatch(b, rolled) {
		t.Fatalf("current batch at 7 in the new segment: %v %v", ok, b)
	}
	if _, ok := batchAt(d, tp, 7, true); ok {
		t.Fatal("a batch in a segment whose name is not durable is reported durable")
	}
	if err := md.SyncDir("t-0"); err != nil {
		t.Fatal(err)
	}
	if b, ok := batchAt(d, tp, 7, true); !ok || !sameBatch(b, rolled) {
		t.Fatalf("durable batch at 7 after the directory sync: %v %v", ok, b)
	}
	if err := md.Remove("t-0/00000000000000000007.log"); err != nil {
		t.Fatal(err)
	}
	// Offset 7 is also in the first segment's unsynced batch 5-7.
	if b, ok := batchAt(d, tp, 7, false); !ok || be64(b) != 5 {
		t.Fatalf("after the new segment's removal, offset 7 is read from %v %v, not the first segment", ok, b)
	}
}

// TestSegmentBase: only .log files under the directory are segments, and
// their base offset is their name's number.
func TestSegmentBase(t *testing.T) {
	for _, c := range []struct {
		name string
		base int64
		ok   bool
	}{
		{"t-0/00000000000000000042.log", 42, true},
		{"t-0/00000000000000000042.index", 0, false},
		{"t-0/.log", 0, false},
		{"t-0/x.log", 0, false},
		{"t-00/5.log", 0, false},
		{"t-0", 0, false},
		{"t-0/", 0, false},
		{"u-0/5.log", 0, false},
	} {
		if base, ok := segmentBase("t-0", c.name); base != c.base || ok != c.ok {
			t.Errorf("segmentBase(t-0, %s) = %d, %v; want %d, %v", c.name, base, ok, c.base, c.ok)
		}
	}
}
