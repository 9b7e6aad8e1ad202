package partlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/record"
)

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func reCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[record.OffsetCRC:], record.ComputeCRC(b))
	return b
}

func TestAppendValidation(t *testing.T) {
	good := batchOf(2, 10, 1000, 1)
	oldMagic := func(m byte) []byte {
		b := bytes.Clone(good)
		b[record.OffsetMagic] = m
		// v0/v1 messages are shorter than a v2 header.
		binary.BigEndian.PutUint32(b[record.OffsetBatchLength:], 40-record.LogOverhead)
		return b[:40]
	}
	cases := []struct {
		name  string
		in    []byte
		epoch int32
		want  error
	}{
		{"empty", nil, 2, ErrCorruptBatch},
		{"magic 0", oldMagic(0), 2, ErrUnsupportedMagic},
		{"magic 1", oldMagic(1), 2, ErrUnsupportedMagic},
		{"magic 1 full length", func() []byte { b := bytes.Clone(good); b[record.OffsetMagic] = 1; return b }(), 2, ErrUnsupportedMagic},
		{"magic 3", func() []byte { b := bytes.Clone(good); b[record.OffsetMagic] = 3; return b }(), 2, ErrCorruptBatch},
		{"crc", func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 1; return b }(), 2, ErrCorruptBatch},
		{"truncated", good[:len(good)-1], 2, ErrCorruptBatch},
		{"trailing garbage", concat(good, []byte{1, 2, 3}), 2, ErrCorruptBatch},
		{"second batch bad", concat(good, good[:70]), 2, ErrCorruptBatch},
		{"zero records", func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[record.OffsetRecordCount:], 0)
			return reCRC(b)
		}(), 2, ErrCorruptBatch},
		{"offset delta mismatch", func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[record.OffsetLastOffsetDelta:], 7)
			return reCRC(b)
		}(), 2, ErrCorruptBatch},
		{"control batch", func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint16(b[record.OffsetAttributes:], record.AttrControl)
			return reCRC(b)
		}(), 2, ErrCorruptBatch},
		{"too large", batchOf(1, 600, 1, 1), 2, ErrBatchTooLarge},
		{"idempotent without sequence", func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint64(b[record.OffsetProducerID:], 5)
			return reCRC(b)
		}(), 2, ErrCorruptBatch},
		{"negative leader epoch", good, -1, ErrInvalidLeaderEpoch},
		{"stale leader epoch", good, 1, ErrInvalidLeaderEpoch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig()
			cfg.MaxMessageBytes = 500
			l := openLog(t, memdisk.New(), cfg, 0)
			mustAppend(t, l, good, 2, 0)
			leo := l.LogEndOffset()
			_, err := l.Append(bytes.Clone(tc.in), tc.epoch, 0)
			wantErr(t, err, tc.want)
			if l.LogEndOffset() != leo {
				t.Fatalf("a rejected append changed the log end: %d -> %d", leo, l.LogEndOffset())
			}
			checkLog(t, l)
			if _, err := l.Append(bytes.Clone(good), 2, 0); err != nil {
				t.Fatalf("log unusable after a rejected append: %v", err)
			}
		})
	}
}

func TestAppendMultipleBatches(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	mustAppend(t, l, batchOf(3, 10, 1, 1), 0, 0)
	in := concat(batchOf(2, 10, 2, 2), batchOf(4, 10, 3, 3), batchOf(1, 10, 4, 4))
	res, err := l.Append(in, 7, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseOffset != 3 || res.LastOffset != 9 || res.Duplicate || res.LogStartOffset != 0 {
		t.Fatalf("result %+v", res)
	}
	// The caller's slice was stamped in place.
	bs, _ := record.Split(in)
	for i, want := range []int64{3, 5, 9} {
		if h := headerOf(t, bs[i]); h.BaseOffset != want || h.PartitionLeaderEpoch != 7 {
			t.Fatalf("batch %d stamped %d/%d", i, h.BaseOffset, h.PartitionLeaderEpoch)
		}
	}
	got := readBatches(t, l, 3, 100)
	if len(got) != 3 || !bytes.Equal(concat(got...), in) {
		t.Fatalf("read back differs")
	}
	if e, end, ok := l.EndOffsetForEpoch(0); !ok || e != 0 || end != 3 {
		t.Fatalf("EndOffsetForEpoch(0) = %d %d %v", e, end, ok)
	}
}

func TestAppendCompressed(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	for codec := record.CodecNone; codec <= record.CodecZstd; codec++ {
		opts := record.DefaultBatchOptions()
		opts.Codec = codec
		recs := []record.Record{{Timestamp: 5, Value: []byte("a")}, {Timestamp: 6, Value: []byte("b")}}
		b := record.MustBuild(opts, recs)
		res := mustAppend(t, l, b, 0, 0)
		out, err := l.Read(res.BaseOffset, 10, 100)
		if err != nil {
			t.Fatal(err)
		}
		got, err := record.DecodeRecords(out.Records, 1<<10)
		if err != nil || len(got) != 2 || got[1].Offset != res.BaseOffset+1 || string(got[1].Value) != "b" {
			t.Fatalf("codec %v: %+v %v", codec, got, err)
		}
	}
}

func TestRoll(t *testing.T) {
	cases := []struct {
		name     string
		segBytes int64
		segMs    int64
		appends  []struct{ size, ms int }
		segments int
	}{
		{"fits", 1024, 1000, []struct{ size, ms int }{{100, 0}, {100, 0}, {100, 0}}, 1},
		{"by size", 400, 1000, []struct{ size, ms int }{{100, 0}, {100, 0}, {100, 0}}, 2},
		{"oversized batch gets its own segment", 100, 1000, []struct{ size, ms int }{{10, 0}, {400, 0}, {10, 0}}, 3},
		{"by time", 1 << 20, 1000, []struct{ size, ms int }{{10, 0}, {10, 1000}, {10, 1001}, {10, 1500}, {10, 2002}}, 3},
		{"empty segment does not roll by time", 1 << 20, 10, []struct{ size, ms int }{{10, 5000}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig()
			cfg.SegmentBytes, cfg.SegmentMs = tc.segBytes, tc.segMs
			d := memdisk.New()
			l := openLog(t, d, cfg, 0)
			for i, a := range tc.appends {
				mustAppend(t, l, batchOf(1, a.size, 1, byte(i)), 0, int64(a.ms))
			}
			if l.Segments() != tc.segments {
				t.Fatalf("%d segments, want %d", l.Segments(), tc.segments)
			}
			names, _ := d.List(testDir)
			logs := 0
			for _, n := range names {
				if _, suffix, ok := parseSegmentName(n); ok && suffix == logSuffix {
					logs++
				}
			}
			if logs != tc.segments {
				t.Fatalf("%d segment files (%v), want %d", logs, names, tc.segments)
			}
		})
	}
}

// TestIndexLookups reads from every offset of a log whose segments carry
// several index entries, while the segment is active, sealed, and after a
// reopen (indexes from files) and with the index files deleted (rebuilt).
func TestIndexLookups(t *testing.T) {
	d := memdisk.New()
	cfg := smallConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 150
	l := openLog(t, d, cfg, 0)
	type span struct{ base, last int64 }
	var spans []span
	for i := range 40 {
		res := mustAppend(t, l, batchOf(1+i%4, 20+i, int64(i), byte(i)), 0, 0)
		spans = append(spans, span{res.BaseOffset, res.LastOffset})
	}
	verify := func(stage string) {
		t.Helper()
		for _, sp := range spans {
			for off := sp.base; off <= sp.last; off++ {
				res, err := l.Read(off, 1, l.LogEndOffset())
				if err != nil {
					t.Fatalf("%s: Read(%d): %v", stage, off, err)
				}
				if h := headerOf(t, res.Records); h.BaseOffset != sp.base || h.LastOffset() != sp.last {
					t.Fatalf("%s: Read(%d) starts with [%d, %d], want [%d, %d]", stage, off, h.BaseOffset, h.LastOffset(), sp.base, sp.last)
				}
			}
		}
	}
	verify("live")
	if l.Segments() < 4 {
		t.Fatalf("want several segments, have %d", l.Segments())
	}
	entries := 0
	for _, s := range l.segs {
		entries += s.indexCount + len(s.index)
	}
	if entries < 10 {
		t.Fatalf("only %d index entries", entries)
	}
	syncNow(t, l)
	l.Checkpoint()
	l.Close()
	l = openLog(t, d, cfg, 0)
	if r := l.Recovery(); r.IndexesRebuilt != 0 {
		t.Fatalf("valid indexes were rebuilt: %+v", r)
	}
	verify("reopened")
	l.Close()

	// Damage the index files in several ways; each must be rebuilt.
	names, _ := d.List(testDir)
	damaged := 0
	for _, n := range names {
		base, suffix, ok := parseSegmentName(n)
		if !ok || suffix == logSuffix {
			continue
		}
		p := testDir + "/" + n
		data, _ := d.ReadFile(p)
		switch damaged % 4 {
		case 0:
			d.Remove(p)
		case 1:
			d.WriteFileAtomic(p, append(data, 1, 2, 3)) // size not a multiple
		case 2:
			if len(data) >= 8 {
				data[len(data)-1] ^= 0x40 // points inside a batch / wrong timestamp
			}
			d.WriteFileAtomic(p, data)
		case 3:
			d.WriteFileAtomic(p, append(data, data...)) // not increasing
		}
		_ = base
		damaged++
	}
	l = openLog(t, d, cfg, 0)
	if r := l.Recovery(); r.IndexesRebuilt == 0 {
		t.Fatalf("damaged indexes were not rebuilt: %+v", r)
	}
	verify("rebuilt")
	l.Close()
	l = openLog(t, d, cfg, 0)
	if r := l.Recovery(); r.IndexesRebuilt != 0 {
		t.Fatalf("rebuilt indexes rejected again: %+v", r)
	}

	// An index entry damaged after Open is survived by scanning from the
	// start of the segment.
	s := l.segs[0]
	if s.indexCount == 0 {
		t.Fatal("first segment has no index entries")
	}
	d.Corrupt(testDir+"/"+segmentName(s.base, indexSuffix), int64(s.indexCount-1)*indexEntrySize+7, 0x01)
	verify("index damaged after open")
}

func TestReadLimits(t *testing.T) {
	cfg := smallConfig()
	cfg.SegmentBytes = 400
	l := openLog(t, memdisk.New(), cfg, 0)
	var sizes []int
	for i := range 10 {
		b := batchOf(2, 50+10*i, int64(i), byte(i)) // offsets 2i, 2i+1
		sizes = append(sizes, len(b))
		mustAppend(t, l, b, 0, 0)
	}
	l.SetHighWatermark(14)
	cases := []struct {
		name     string
		offset   int64
		maxBytes int
		limit    int64
		want     []int64 // base offsets of the returned batches
		err      error
	}{
		{"below start", -1, 100, 20, nil, ErrOffsetOutOfRange},
		{"above end", 21, 100, 20, nil, ErrOffsetOutOfRange},
		{"at end", 20, 100, 21, nil, nil},
		{"first batch whole despite maxBytes", 4, 1, 20, []int64{4}, nil},
		{"maxBytes exact", 0, sizes[0] + sizes[1], 20, []int64{0, 2}, nil},
		{"maxBytes one short", 0, sizes[0] + sizes[1] - 1, 20, []int64{0}, nil},
		{"mid batch", 3, sizes[1] + sizes[2], 20, []int64{2, 4}, nil},
		{"limit stops", 0, 1 << 20, 6, []int64{0, 2, 4}, nil},
		{"limit inside batch stops before it", 0, 1 << 20, 5, []int64{0, 2}, nil},
		{"limit at offset", 14, 1 << 20, 14, nil, nil},
		{"limit below first batch's end", 14, 1 << 20, 15, nil, nil},
		{"across segments", 0, 1 << 20, 20, []int64{0, 2, 4, 6, 8, 10, 12, 14, 16, 18}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := l.Read(tc.offset, tc.maxBytes, tc.limit)
			if tc.err != nil {
				wantErr(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			bs, err := record.Split(res.Records)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, b := range bs {
				got = append(got, headerOf(t, b).BaseOffset)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("bases %v, want %v", got, tc.want)
			}
		})
	}
	if l.Segments() < 3 {
		t.Fatalf("want several segments, got %d", l.Segments())
	}
}

func TestIdempotence(t *testing.T) {
	const pid = 42
	type step struct {
		epoch   int16
		seq     int32
		n       int
		want    error
		dupOf   int // index of the step whose offsets a duplicate returns, -1 when not a duplicate
		comment string
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"unknown producer at any sequence, then in order", []step{
			{0, 17, 2, nil, -1, ""}, {0, 19, 1, nil, -1, ""}, {0, 20, 3, nil, -1, ""},
		}},
		{"retry of the last batch", []step{
			{0, 0, 2, nil, -1, ""}, {0, 0, 2, nil, 0, "retry"},
		}},
		{"retry of one of the last five", []step{
			{0, 0, 1, nil, -1, ""}, {0, 1, 1, nil, -1, ""}, {0, 2, 1, nil, -1, ""}, {0, 3, 1, nil, -1, ""}, {0, 4, 1, nil, -1, ""},
			{0, 0, 1, nil, 0, "oldest remembered"}, {0, 2, 1, nil, 2, ""},
		}},
		{"retry older than five", []step{
			{0, 0, 1, nil, -1, ""}, {0, 1, 1, nil, -1, ""}, {0, 2, 1, nil, -1, ""}, {0, 3, 1, nil, -1, ""}, {0, 4, 1, nil, -1, ""},
			{0, 5, 1, nil, -1, ""}, {0, 0, 1, ErrOutOfOrderSequence, -1, "forgotten"},
		}},
		{"gap", []step{{0, 0, 2, nil, -1, ""}, {0, 3, 1, ErrOutOfOrderSequence, -1, ""}}},
		{"overlap that is no retry", []step{{0, 0, 2, nil, -1, ""}, {0, 1, 2, ErrOutOfOrderSequence, -1, ""}}},
		{"fenced epoch", []step{{3, 0, 1, nil, -1, ""}, {2, 1, 1, ErrInvalidProducerEpoch, -1, ""}}},
		{"new epoch starts at zero", []step{{0, 0, 1, nil, -1, ""}, {1, 0, 1, nil, -1, ""}, {1, 1, 1, nil, -1, ""}}},
		{"new epoch not at zero", []step{{0, 0, 1, nil, -1, ""}, {1, 5, 1, ErrOutOfOrderSequence, -1, ""}}},
		{"retry from an old epoch is fenced", []step{{0, 0, 1, nil, -1, ""}, {1, 0, 1, nil, -1, ""}, {0, 0, 1, ErrInvalidProducerEpoch, -1, ""}}},
		{"sequence wraps", []step{{0, 1<<31 - 3, 3, nil, -1, ""}, {0, 0, 2, nil, -1, "after MaxInt32"}, {0, 2, 1, nil, -1, ""}}},
		{"batch spanning the wrap", []step{{0, 1<<31 - 2, 4, nil, -1, ""}, {0, 2, 1, nil, -1, ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := memdisk.New()
			l := openLog(t, d, smallConfig(), 0)
			var results []AppendResult
			run := func(l *Log, i int, st step) {
				t.Helper()
				leo := l.LogEndOffset()
				res, err := l.Append(idemBatch(pid, st.epoch, st.seq, st.n), 0, 0)
				results = append(results, res)
				if st.want != nil {
					wantErr(t, err, st.want)
					if l.LogEndOffset() != leo {
						t.Fatalf("step %d: rejected batch was written", i)
					}
					return
				}
				if err != nil {
					t.Fatalf("step %d (%s): %v", i, st.comment, err)
				}
				if st.dupOf >= 0 {
					orig := results[st.dupOf]
					if !res.Duplicate || res.BaseOffset != orig.BaseOffset || res.LastOffset != orig.LastOffset || l.LogEndOffset() != leo {
						t.Fatalf("step %d: %+v, want duplicate of %+v", i, res, orig)
					}
				} else if res.Duplicate || res.BaseOffset != leo || res.LastOffset != leo+int64(st.n)-1 {
					t.Fatalf("step %d: %+v at LEO %d", i, res, leo)
				}
				checkLog(t, l)
			}
			for i, st := range tc.steps {
				run(l, i, st)
			}
			// The state is rebuilt identically from the batches on reopen:
			// replaying the last step gives the same answer.
			syncNow(t, l)
			l.Checkpoint()
			l.Close()
			l = openLog(t, d, smallConfig(), 0)
			last := tc.steps[len(tc.steps)-1]
			if last.want == nil && last.dupOf < 0 {
				last.dupOf = len(tc.steps) - 1
			}
			run(l, len(tc.steps), last)
		})
	}
}

func TestIdempotentMixedAppend(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	a := idemBatch(1, 0, 0, 2)
	mustAppend(t, l, a, 0, 0)
	// Two new batches of one producer in one append: both checked in order.
	res := mustAppend(t, l, concat(idemBatch(1, 0, 2, 1), idemBatch(1, 0, 3, 2), idemBatch(2, 0, 9, 1)), 0, 0)
	if res.BaseOffset != 2 || res.LastOffset != 5 {
		t.Fatalf("%+v", res)
	}
	// A retry of both is a duplicate as a whole.
	res, err := l.Append(concat(idemBatch(1, 0, 2, 1), idemBatch(1, 0, 3, 2)), 0, 0)
	if err != nil || !res.Duplicate || res.BaseOffset != 2 || res.LastOffset != 4 {
		t.Fatalf("whole retry: %+v %v", res, err)
	}
	// A retry mixed with a new batch is rejected and writes nothing.
	_, err = l.Append(concat(idemBatch(1, 0, 3, 2), idemBatch(1, 0, 5, 1)), 0, 0)
	wantErr(t, err, ErrOutOfOrderSequence)
	if l.LogEndOffset() != 6 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
	// A bad second batch rejects the first too, leaving the state alone.
	_, err = l.Append(concat(idemBatch(1, 0, 5, 1), idemBatch(1, 0, 9, 1)), 0, 0)
	wantErr(t, err, ErrOutOfOrderSequence)
	mustAppend(t, l, idemBatch(1, 0, 5, 1), 0, 0)
}

func TestProducerEviction(t *testing.T) {
	cfg := smallConfig()
	cfg.MaxProducerIDs = 2
	l := openLog(t, memdisk.New(), cfg, 0)
	mustAppend(t, l, idemBatch(1, 0, 0, 1), 0, 0)
	mustAppend(t, l, idemBatch(2, 0, 0, 1), 0, 0)
	mustAppend(t, l, idemBatch(1, 0, 1, 1), 0, 0) // 1 is now the most recent
	mustAppend(t, l, idemBatch(3, 0, 0, 1), 0, 0) // evicts 2, the oldest
	if len(l.producers.byID) != 2 || l.producers.byID[2] != nil {
		t.Fatalf("producers %v", l.producers.byID)
	}
	// 2 is unknown again: any sequence is accepted.
	mustAppend(t, l, idemBatch(2, 0, 50, 1), 0, 0)
	// 1 was evicted by that; 3 is known and still checked.
	if _, err := l.Append(idemBatch(3, 0, 7, 1), 0, 0); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("producer 3: %v", err)
	}
}

func TestAppendAsFollower(t *testing.T) {
	leader := openLog(t, memdisk.New(), smallConfig(), 0)
	mustAppend(t, leader, batchOf(2, 10, 1, 1), 1, 0)
	mustAppend(t, leader, idemBatch(9, 0, 0, 3), 1, 0)
	mustAppend(t, leader, batchOf(1, 10, 1, 2), 4, 0)
	fetched, err := leader.Read(0, 1<<20, leader.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	f := openLog(t, memdisk.New(), smallConfig(), 0)
	res, err := f.AppendAsFollower(bytes.Clone(fetched.Records), 0)
	if err != nil || res.BaseOffset != 0 || res.LastOffset != 5 {
		t.Fatalf("%+v %v", res, err)
	}
	checkLog(t, f)
	got, _ := f.Read(0, 1<<20, 100)
	if !bytes.Equal(got.Records, fetched.Records) {
		t.Fatal("follower holds different bytes")
	}
	if e, end, ok := f.EndOffsetForEpoch(1); !ok || e != 1 || end != 5 {
		t.Fatalf("follower epochs: %d %d %v", e, end, ok)
	}
	if f.producers.byID[9] == nil {
		t.Fatal("follower did not track the producer")
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"gap", func() []byte {
			b := batchOf(1, 1, 1, 1)
			record.SetBaseOffset(b, 7)
			record.SetPartitionLeaderEpoch(b, 4)
			return b
		}(), ErrUnexpectedAppendOffset},
		{"old epoch", func() []byte {
			b := batchOf(1, 1, 1, 1)
			record.SetBaseOffset(b, 6)
			record.SetPartitionLeaderEpoch(b, 3)
			return b
		}(), ErrInvalidLeaderEpoch},
		{"crc", func() []byte {
			b := batchOf(1, 1, 1, 1)
			record.SetBaseOffset(b, 6)
			record.SetPartitionLeaderEpoch(b, 4)
			b[len(b)-1] ^= 1
			return b
		}(), ErrCorruptBatch},
	}
	for _, tc := range cases {
		if _, err := f.AppendAsFollower(tc.in, 0); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
