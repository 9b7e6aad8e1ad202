package partlog

import (
	"bytes"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

func TestSmoke(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 0)
	var want [][]byte
	for i := range 30 {
		b := batchOf(1+i%3, 50, int64(1000+i), byte(i))
		res := mustAppend(t, l, b, 1, int64(i))
		if res.BaseOffset != l.LogEndOffset()-int64(1+i%3) {
			t.Fatalf("base offset %d", res.BaseOffset)
		}
		if i%7 == 0 {
			syncNow(t, l)
		}
		want = append(want, b)
	}
	got := readBatches(t, l, 0, l.LogEndOffset())
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i][12:16], []byte{0, 0, 0, 1}) || !bytes.Equal(got[i][17:], want[i][17:]) {
			t.Fatalf("batch %d differs", i)
		}
	}
	if l.Segments() < 3 {
		t.Fatalf("only %d segments", l.Segments())
	}
	syncNow(t, l)
	l.SetHighWatermark(l.LogEndOffset())
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	leo := l.LogEndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, d, smallConfig(), 100)
	if l.LogEndOffset() != leo || l.HighWatermark() != leo || l.DurableEndOffset() != leo {
		t.Fatalf("reopened: LEO %d HW %d durable %d, want %d", l.LogEndOffset(), l.HighWatermark(), l.DurableEndOffset(), leo)
	}
	if r := l.Recovery(); r.SegmentsScanned != 1 || r.TruncatedAt != -1 || r.IndexesRebuilt != 0 {
		t.Fatalf("recovery %+v", r)
	}
	got = readBatches(t, l, 0, leo)
	if len(got) != len(want) {
		t.Fatalf("after reopen %d batches, want %d", len(got), len(want))
	}
	c := d.Crash(nil)
	l2 := openLog(t, c, smallConfig(), 200)
	if l2.LogEndOffset() != leo {
		t.Fatalf("after crash LEO %d", l2.LogEndOffset())
	}
}

// TestReadIntoMatchesRead reads a multi-segment log from every batch
// start with Read and with ReadInto over one reused buffer: the bytes are
// the same, and once the buffer is large enough ReadInto builds its result
// in it instead of allocating.
func TestReadIntoMatchesRead(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	for i := range 30 {
		mustAppend(t, l, batchOf(1+i%3, 50, int64(1000+i), byte(i)), 1, int64(i))
	}
	syncNow(t, l)
	buf := make([]byte, 0, 1<<16)
	for off := l.LogStartOffset(); off < l.LogEndOffset(); off++ {
		for _, maxBytes := range []int{1, 300, 1 << 15} {
			want, err := l.Read(off, maxBytes, l.LogEndOffset())
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.ReadInto(buf, off, maxBytes, l.LogEndOffset())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Records, want.Records) {
				t.Fatalf("offset %d max %d: ReadInto gave %d bytes, Read %d", off, maxBytes, len(got.Records), len(want.Records))
			}
			if got.NextOffset != want.NextOffset || (len(want.Records) > 0 && want.NextOffset != lastNext(t, want.Records)) {
				t.Fatalf("offset %d max %d: next offsets %d and %d, batches end at %d", off, maxBytes, got.NextOffset, want.NextOffset, lastNext(t, want.Records))
			}
			if len(got.Records) > 0 && &got.Records[0] != &buf[:1][0] {
				t.Fatalf("offset %d max %d: ReadInto did not use the buffer", off, maxBytes)
			}
		}
	}
}

// lastNext is the offset after the last whole batch in records.
func lastNext(t *testing.T, records []byte) int64 {
	var next int64
	for len(records) > 0 {
		h := headerOf(t, records)
		next = h.NextOffset()
		records = records[h.Size():]
	}
	return next
}
