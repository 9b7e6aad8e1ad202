package partlog

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/record"
)

// fiveSegments builds a log whose segments each hold two 2-record batches:
// segment bases 0, 4, 8, 12, 16 (active), batch timestamps 1000*batch.
func fiveSegments(t *testing.T, d *memdisk.Disk, cfg Config) *Log {
	t.Helper()
	cfg.SegmentBytes = 2 * int64(len(batchOf(2, 50, 0, 0)))
	l := openLog(t, d, cfg, 0)
	for i := range 10 {
		mustAppend(t, l, batchOf(2, 50, int64(1000*i), byte(i)), 0, 0)
	}
	if l.Segments() != 5 || l.LogEndOffset() != 20 {
		t.Fatalf("setup: %d segments, LEO %d", l.Segments(), l.LogEndOffset())
	}
	return l
}

func TestRetention(t *testing.T) {
	segSize := 2 * int64(len(batchOf(2, 50, 0, 0)))
	cases := []struct {
		name      string
		retMs     int64
		retBytes  int64
		nowMs     int64
		hw        int64
		deleted   int
		wantStart int64
	}{
		{"nothing configured", -1, -1, 1e9, 20, 0, 0},
		{"time: two segments old", 5000, -1, 8500, 20, 2, 8},       // segment max ts 1000, 3000, 5000...; 8500-3000 > 5000
		{"time: boundary is kept", 5500, -1, 8500, 20, 1, 4},       // 8500-3000 = 5500 is not > 5500
		{"time: all but active", 0, -1, 1e9, 20, 4, 16},            // never the active segment
		{"time: stops at the high watermark", 0, -1, 1e9, 9, 2, 8}, // segment [8,12) reaches past HW 9
		{"bytes: keep at least retention.bytes", -1, 3 * segSize, 0, 20, 2, 8},
		{"bytes: exact fit", -1, 5 * segSize, 0, 20, 0, 0},
		{"bytes: zero", -1, 0, 0, 20, 4, 16},
		{"both passes", 3000, 3 * segSize, 6000, 20, 2, 8}, // time deletes [0,4), then size [4,8)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := memdisk.New()
			cfg := smallConfig()
			cfg.RetentionMs, cfg.RetentionBytes = tc.retMs, tc.retBytes
			l := fiveSegments(t, d, cfg)
			l.SetHighWatermark(tc.hw)
			n, err := l.ApplyRetention(tc.nowMs)
			if err != nil {
				t.Fatal(err)
			}
			checkLog(t, l)
			if n != tc.deleted || l.LogStartOffset() != tc.wantStart {
				t.Fatalf("deleted %d (start %d), want %d (start %d)", n, l.LogStartOffset(), tc.deleted, tc.wantStart)
			}
			if _, err := l.Read(tc.wantStart-1, 100, 20); tc.wantStart > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("read below start: %v", err)
			}
			names, _ := d.List(testDir)
			if got := strings.Count(strings.Join(names, " "), ".log"); got != 5-n {
				t.Fatalf("%d segment files left: %v", got, names)
			}
			// The checkpoint carried the new start: a crash right now (even
			// one that undoes the file removals) keeps it.
			c := d.Crash(nil)
			l2 := openLog(t, c, cfg, 0)
			if l2.LogStartOffset() != tc.wantStart {
				t.Fatalf("after crash log start %d, want %d", l2.LogStartOffset(), tc.wantStart)
			}
		})
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	cases := []struct {
		name      string
		offset    int64
		hw        int64
		err       error
		segments  int
		wantStart int64
	}{
		{"below start", -1, 20, ErrOffsetOutOfRange, 5, 0},
		{"above high watermark", 11, 10, ErrOffsetOutOfRange, 5, 0},
		{"no-op", 0, 20, nil, 6, 0},
		{"inside first segment", 3, 20, nil, 6, 3},
		{"segment boundary", 8, 20, nil, 4, 8},
		{"inside later segment", 13, 20, nil, 3, 13},
		{"everything", 20, 20, nil, 1, 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := memdisk.New()
			l := fiveSegments(t, d, smallConfig())
			// Epoch 3 at offset 20 rolls a sixth segment; truncating it
			// leaves that segment empty and epoch 0 the latest again.
			mustAppend(t, l, batchOf(1, 1, 1, 1), 3, 0)
			l.TruncateTo(20)
			syncNow(t, l)
			l.SetHighWatermark(tc.hw)
			err := l.DeleteRecordsBefore(tc.offset)
			if tc.err != nil {
				wantErr(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkLog(t, l)
			if l.LogStartOffset() != tc.wantStart || l.Segments() != tc.segments {
				t.Fatalf("start %d, %d segments; want %d, %d", l.LogStartOffset(), l.Segments(), tc.wantStart, tc.segments)
			}
			if tc.wantStart < 20 {
				res, err := l.Read(tc.wantStart, 1, 20)
				if err != nil || headerOf(t, res.Records).LastOffset() < tc.wantStart {
					t.Fatalf("read at start: %v", err)
				}
			}
			if l.LatestEpoch() != 0 {
				t.Fatalf("latest epoch %d", l.LatestEpoch())
			}
			// Checkpointed before returning: survives a crash.
			l2 := openLog(t, d.Crash(nil), smallConfig(), 0)
			if l2.LogStartOffset() != tc.wantStart || l2.LatestEpoch() != 0 {
				t.Fatalf("after crash start %d epoch %d", l2.LogStartOffset(), l2.LatestEpoch())
			}
			// Offsets continue after a full deletion.
			res := mustAppend(t, l, batchOf(1, 1, 1, 1), 1, 0)
			if res.BaseOffset != 20 || res.LogStartOffset != tc.wantStart {
				t.Fatalf("append after delete: %+v", res)
			}
		})
	}
}

func TestTruncateTo(t *testing.T) {
	cases := []struct {
		name    string
		offset  int64
		wantLEO int64
		segs    int
	}{
		{"at end is a no-op", 20, 20, 5},
		{"batch boundary in active segment", 18, 18, 5},
		{"inside a batch removes it whole", 15, 14, 4},
		{"segment boundary", 12, 12, 4},
		{"inside sealed segment", 6, 6, 2},
		{"to start", 0, 0, 1},
		{"below start is clamped", -5, 0, 1},
		{"above end is clamped", 99, 20, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := memdisk.New()
			l := fiveSegments(t, d, smallConfig())
			syncNow(t, l)
			l.SetHighWatermark(17)
			l.Checkpoint()
			if err := l.TruncateTo(tc.offset); err != nil {
				t.Fatal(err)
			}
			checkLog(t, l)
			if l.LogEndOffset() != tc.wantLEO || l.Segments() != tc.segs {
				t.Fatalf("LEO %d, %d segments; want %d, %d", l.LogEndOffset(), l.Segments(), tc.wantLEO, tc.segs)
			}
			if l.HighWatermark() != min(17, tc.wantLEO) || l.DurableEndOffset() != tc.wantLEO {
				t.Fatalf("HW %d durable %d", l.HighWatermark(), l.DurableEndOffset())
			}
			// Appending continues densely, also across a crash.
			res := mustAppend(t, l, batchOf(3, 30, 1, 9), 5, 0)
			if res.BaseOffset != tc.wantLEO {
				t.Fatalf("append after truncate at %d", res.BaseOffset)
			}
			if e, end, ok := l.EndOffsetForEpoch(0); tc.wantLEO > 0 && (!ok || e != 0 || end != tc.wantLEO) {
				t.Fatalf("epoch 0 ends at %d (%v), want %d", end, ok, tc.wantLEO)
			}
			syncNow(t, l)
			l2 := openLog(t, d.Crash(nil), smallConfig(), 0)
			if l2.LogEndOffset() != tc.wantLEO+3 {
				t.Fatalf("after crash LEO %d", l2.LogEndOffset())
			}
		})
	}
}

// TestTruncateBelowStartBatch: truncating inside the batch that holds the
// log start would end the log below its start; it restarts empty there.
func TestTruncateBelowStartBatch(t *testing.T) {
	d := memdisk.New()
	l := fiveSegments(t, d, smallConfig())
	l.SetHighWatermark(20)
	if err := l.DeleteRecordsBefore(9); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(9); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l)
	if l.LogStartOffset() != 9 || l.LogEndOffset() != 9 || l.Segments() != 1 {
		t.Fatalf("start %d LEO %d segments %d", l.LogStartOffset(), l.LogEndOffset(), l.Segments())
	}
	mustAppend(t, l, batchOf(1, 1, 1, 1), 1, 0)
	syncNow(t, l)
	l2 := openLog(t, d.Crash(nil), smallConfig(), 0)
	if l2.LogStartOffset() != 9 || l2.LogEndOffset() != 10 {
		t.Fatalf("after crash start %d LEO %d", l2.LogStartOffset(), l2.LogEndOffset())
	}
}

func TestTruncateRebuildsProducers(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	mustAppend(t, l, idemBatch(5, 0, 0, 2), 0, 0)
	mustAppend(t, l, idemBatch(5, 0, 2, 2), 0, 0)
	if err := l.TruncateTo(2); err != nil {
		t.Fatal(err)
	}
	// The second batch is gone: its retry is new data, not a duplicate.
	res := mustAppend(t, l, idemBatch(5, 0, 2, 2), 0, 0)
	if res.Duplicate || res.BaseOffset != 2 {
		t.Fatalf("%+v", res)
	}
	res = mustAppend(t, l, idemBatch(5, 0, 2, 2), 0, 0)
	if !res.Duplicate {
		t.Fatalf("%+v", res)
	}
}

func TestEpochs(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 0)
	if e, end, ok := l.EndOffsetForEpoch(0); ok || l.LatestEpoch() != -1 {
		t.Fatalf("empty log: %d %d %v latest %d", e, end, ok, l.LatestEpoch())
	}
	for _, a := range []struct {
		epoch int32
		n     int
	}{{2, 3}, {2, 2}, {5, 1}, {7, 4}} { // epoch 2 at 0, 5 at 5, 7 at 6, LEO 10
		mustAppend(t, l, batchOf(a.n, 5, 1, 1), a.epoch, 0)
	}
	cases := []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
		ok        bool
	}{
		{1, -1, -1, false},
		{2, 2, 5, true},
		{3, 2, 5, true},
		{5, 5, 6, true},
		{6, 5, 6, true},
		{7, 7, 10, true},
		{9, 7, 10, true},
	}
	check := func(stage string, l *Log) {
		t.Helper()
		for _, tc := range cases {
			e, end, ok := l.EndOffsetForEpoch(tc.epoch)
			if e != tc.wantEpoch || end != tc.wantEnd || ok != tc.ok {
				t.Fatalf("%s: EndOffsetForEpoch(%d) = %d, %d, %v; want %d, %d, %v", stage, tc.epoch, e, end, ok, tc.wantEpoch, tc.wantEnd, tc.ok)
			}
		}
	}
	check("live", l)
	syncNow(t, l)
	// The sync job wrote the checkpoint file with every epoch.
	data, err := d.ReadFile(testDir + "/" + jobEpochCheckpointFile)
	if err != nil || !strings.Contains(string(data), "entries 3\n2 0\n5 5\n7 6\n") {
		t.Fatalf("epoch checkpoint %q %v", data, err)
	}
	l.Close()
	check("reopened", openLog(t, d, smallConfig(), 0))
	check("crashed", openLog(t, d.Crash(nil), smallConfig(), 0))

	if err := l.TruncateTo(5); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed log: %v", err)
	}
	l = openLog(t, d, smallConfig(), 0)
	if err := l.TruncateTo(6); err != nil {
		t.Fatal(err)
	}
	if e, end, ok := l.EndOffsetForEpoch(7); e != 5 || end != 6 || !ok || l.LatestEpoch() != 5 {
		t.Fatalf("after truncation: %d %d %v latest %d", e, end, ok, l.LatestEpoch())
	}
	if _, err := l.Append(batchOf(1, 1, 1, 1), 4, 0); !errors.Is(err, ErrInvalidLeaderEpoch) {
		t.Fatalf("stale epoch append: %v", err)
	}
}

// corruptSetup makes a log of four sealed segments plus the active one,
// all synced and checkpointed.
func corruptSetup(t *testing.T) (*memdisk.Disk, Config) {
	t.Helper()
	d := memdisk.New()
	cfg := smallConfig()
	l := fiveSegments(t, d, cfg)
	cfg.SegmentBytes = l.cfg.SegmentBytes
	syncNow(t, l)
	l.SetHighWatermark(20)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	return d, cfg
}

func TestRecoveryCorruptTail(t *testing.T) {
	batchSize := int64(len(batchOf(2, 50, 0, 0)))
	cases := []struct {
		name     string
		noCkpt   bool // remove the checkpoint: everything is scanned
		file     int64
		pos      int64
		mask     byte
		wantLEO  int64
		wantSegs int
	}{
		{"flip in active segment payload", false, 16, batchSize + 70, 0x01, 18, 5},
		{"flip in active segment length", false, 16, batchSize + 9, 0x40, 18, 5},
		// The emptied active segment is removed; the previous one is active.
		{"flip in first batch of active segment", false, 16, 30, 0x01, 16, 4},
		{"no checkpoint: flip in first segment", true, 0, batchSize + 80, 0x80, 2, 1},
		{"no checkpoint: bad magic in third segment", true, 8, 16, 0x01, 8, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, cfg := corruptSetup(t)
			if tc.noCkpt {
				d.Remove(testDir + "/" + checkpointFile)
			}
			if err := d.Corrupt(testDir+"/"+segmentName(tc.file, logSuffix), tc.pos, tc.mask); err != nil {
				t.Fatal(err)
			}
			l := openLog(t, d, cfg, 0)
			r := l.Recovery()
			if l.LogEndOffset() != tc.wantLEO || l.Segments() != tc.wantSegs || r.TruncatedAt != tc.wantLEO || r.Cause == nil {
				t.Fatalf("LEO %d, %d segments, recovery %+v; want LEO %d, %d segments", l.LogEndOffset(), l.Segments(), r, tc.wantLEO, tc.wantSegs)
			}
			if l.HighWatermark() > tc.wantLEO {
				t.Fatalf("HW %d above LEO", l.HighWatermark())
			}
			// The cut is durable: a crash now gives the same log.
			l2 := openLog(t, d.Crash(nil), cfg, 0)
			if l2.LogEndOffset() != tc.wantLEO || l2.Recovery().TruncatedAt != -1 {
				t.Fatalf("after crash LEO %d recovery %+v", l2.LogEndOffset(), l2.Recovery())
			}
			res := mustAppend(t, l2, batchOf(1, 1, 1, 1), 1, 0)
			if res.BaseOffset != tc.wantLEO {
				t.Fatalf("append at %d", res.BaseOffset)
			}
		})
	}
}

func TestRecoveryCorruptMiddleSegment(t *testing.T) {
	cases := []struct {
		name   string
		file   int64
		damage func(d *memdisk.Disk, name string)
		offset int64 // offset named in the error
	}{
		{"bad magic", 4, func(d *memdisk.Disk, name string) { d.Corrupt(name, 16, 0x01) }, 4},
		{"bad length", 8, func(d *memdisk.Disk, name string) { d.Corrupt(name, 8, 0x10) }, 8},
		{"bad base offset", 4, func(d *memdisk.Disk, name string) { d.Corrupt(name, 7, 0x01) }, 4},
		{"missing tail", 0, func(d *memdisk.Disk, name string) {
			f, _ := d.OpenFile(name, false)
			sz, _ := f.Size()
			f.Truncate(sz - 10)
			f.Sync()
		}, 2},
		{"segment file missing", 8, func(d *memdisk.Disk, name string) { d.Remove(name); d.SyncDir(testDir) }, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, cfg := corruptSetup(t)
			name := testDir + "/" + segmentName(tc.file, logSuffix)
			tc.damage(d, name)
			_, err := Open(d, testDir, cfg, 0)
			wantErr(t, err, ErrCorruptSegment)
			if !strings.Contains(err.Error(), fmt.Sprintf("offset %d", tc.offset)) {
				t.Fatalf("error does not name offset %d: %v", tc.offset, err)
			}
			if tc.name != "segment file missing" && !strings.Contains(err.Error(), segmentName(tc.file, logSuffix)) {
				t.Fatalf("error does not name the file: %v", err)
			}
		})
	}
}

// TestReadCorruptTrustedSegment: a payload bit flip below the recovery
// point is not seen by Open's header scan but never served.
func TestReadCorruptTrustedSegment(t *testing.T) {
	d, cfg := corruptSetup(t)
	d.Corrupt(testDir+"/"+segmentName(4, logSuffix), 100, 0x01)
	l, err := Open(d, testDir, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Read(4, 1<<20, 20)
	wantErr(t, err, ErrCorruptSegment)
	l.checkInvariants()
	if len(res.Records) != 0 {
		t.Fatal("served records with an error")
	}
	if !strings.Contains(err.Error(), segmentName(4, logSuffix)) {
		t.Fatalf("error does not name the file: %v", err)
	}
	// Other segments are still readable.
	if _, err := l.Read(8, 1<<20, 20); err != nil {
		t.Fatal(err)
	}
	// The unprotected epoch field is checked against the epoch cache.
	d.Corrupt(testDir+"/"+segmentName(12, logSuffix), 15, 0x01)
	if _, err := l.Read(12, 1<<20, 20); !errors.Is(err, ErrCorruptSegment) {
		t.Fatalf("epoch flip served: %v", err)
	}
}

func TestRecoveryTornTail(t *testing.T) {
	for seed := range uint64(50) {
		d := memdisk.New()
		cfg := smallConfig()
		l := openLog(t, d, cfg, 0)
		var want [][]byte
		for i := range 12 {
			b := batchOf(1+i%3, 40, int64(i), byte(i))
			mustAppend(t, l, b, 0, 0)
			want = append(want, b)
			if i == 5 {
				syncNow(t, l)
				l.Checkpoint()
			}
		}
		durable := l.DurableEndOffset()
		c := d.Crash(memdisk.NewSplitMix64(seed).Intn)
		l2 := openLog(t, c, cfg, 0)
		if l2.LogEndOffset() < durable {
			t.Fatalf("seed %d: LEO %d below durable %d", seed, l2.LogEndOffset(), durable)
		}
		got := readBatches(t, l2, 0, l2.LogEndOffset())
		for i, b := range got {
			if !bytes.Equal(b[record.OffsetMagic:], want[i][record.OffsetMagic:]) {
				t.Fatalf("seed %d: batch %d differs", seed, i)
			}
		}
	}
}

func TestRecoveryOddFiles(t *testing.T) {
	d, cfg := corruptSetup(t)
	// A WriteFileAtomic temporary, a foreign file, an orphan index, a
	// corrupt checkpoint.
	d.WriteFileAtomic(testDir+"/"+checkpointFile+".tmp", []byte("junk"))
	d.WriteFileAtomic(testDir+"/README", []byte("hello"))
	d.WriteFileAtomic(testDir+"/"+segmentName(99, indexSuffix), []byte{1, 2})
	ck, _ := d.ReadFile(testDir + "/" + checkpointFile)
	ck[len(ck)/2] ^= 1
	d.WriteFileAtomic(testDir+"/"+checkpointFile, ck)
	l := openLog(t, d, cfg, 0)
	r := l.Recovery()
	if !r.CheckpointCorrupt || r.CheckpointFound || r.SegmentsScanned != 5 || l.LogEndOffset() != 20 || l.HighWatermark() != 0 {
		t.Fatalf("recovery %+v LEO %d HW %d", r, l.LogEndOffset(), l.HighWatermark())
	}
	if _, err := d.ReadFile(testDir + "/" + segmentName(99, indexSuffix)); !errors.Is(err, disk.ErrNotExist) {
		t.Fatalf("orphan index kept: %v", err)
	}
}

func TestCheckpointCodec(t *testing.T) {
	c := partitionCheckpoint{recoveryPoint: 12, highWatermark: 10, logStartOffset: 3}
	data := encodePartitionCheckpoint(c)
	got, err := decodePartitionCheckpoint(data)
	if err != nil || got != c {
		t.Fatalf("%+v %v", got, err)
	}
	for _, c := range []partitionCheckpoint{{seq: 4, owner: "ab12"}, {owner: "ab12"}, {truncGen: 2, seq: 9, owner: "x"}} {
		if got, err := decodePartitionCheckpoint(encodePartitionCheckpoint(c)); err != nil || got != c {
			t.Fatalf("%+v: got %+v %v", c, got, err)
		}
	}
	ec := epochCache{entries: []epochEntry{{1, 0}, {4, 100}}}
	for _, seq := range []uint64{0, 7} {
		for _, owner := range []string{"", "ab12"} {
			eg, gotSeq, gotOwner, err := decodeEpochCheckpoint(encodeEpochCheckpoint(&ec, seq, owner))
			if err != nil || !eg.equal(&ec) || gotSeq != seq || gotOwner != owner {
				t.Fatalf("sequence %d owner %q: %+v %d %q %v", seq, owner, eg, gotSeq, gotOwner, err)
			}
		}
	}
	bad := [][]byte{
		nil,
		[]byte("x\n"),
		data[:len(data)-1],
		bytes.Replace(data, []byte("12"), []byte("13"), 1),
		sealCheckpoint("chronik-partition-checkpoint 1\nrecovery-point 1\n"),
		sealCheckpoint("chronik-partition-checkpoint 2\nrecovery-point 1\nhigh-watermark 1\nlog-start-offset 0\n"),
		sealCheckpoint("chronik-partition-checkpoint 1\nrecovery-point -1\nhigh-watermark 1\nlog-start-offset 0\n"),
		sealCheckpoint("chronik-leader-epoch-checkpoint 1\nentries 2\n1 0\n"),
		sealCheckpoint("chronik-leader-epoch-checkpoint 1\nentries 2\n3 0\n1 5\n"),
		sealCheckpoint("chronik-leader-epoch-checkpoint 1\nentries 1\n3 0\nsequence -2\n"),
		sealCheckpoint("chronik-partition-checkpoint 1\nrecovery-point 1\nhigh-watermark 1\nlog-start-offset 0\nowner \n"),
		sealCheckpoint("chronik-partition-checkpoint 1\nrecovery-point 1\nhigh-watermark 1\nlog-start-offset 0\nowner a\nsequence 3\n"),
	}
	for i, b := range bad {
		_, err1 := decodePartitionCheckpoint(b)
		_, _, _, err2 := decodeEpochCheckpoint(b)
		if !errors.Is(err1, errBadCheckpoint) || !errors.Is(err2, errBadCheckpoint) {
			t.Fatalf("case %d accepted: %v %v", i, err1, err2)
		}
	}
}

func TestSyncJob(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 0)
	if _, ok := l.StartSync(); ok {
		t.Fatal("job on a clean log")
	}
	mustAppend(t, l, batchOf(3, 10, 1, 1), 0, 0)
	job, ok := l.StartSync()
	if !ok || job.UpTo != 3 || job.Files() != 1 {
		t.Fatalf("job %+v %v", job, ok)
	}
	if _, again := l.StartSync(); again {
		t.Fatal("two jobs in flight")
	}
	mustAppend(t, l, batchOf(2, 10, 1, 1), 0, 0)
	if err := job.Run(); err != nil {
		t.Fatal(err)
	}
	l.FinishSync(job, nil)
	if l.DurableEndOffset() != 3 {
		t.Fatalf("durable %d, want the job's 3", l.DurableEndOffset())
	}
	// A truncation while a job is in flight caps what it may claim.
	job, _ = l.StartSync()
	l.TruncateTo(3)
	mustAppend(t, l, batchOf(4, 10, 1, 1), 0, 0)
	l.FinishSync(job, job.Run())
	if l.DurableEndOffset() != 3 {
		t.Fatalf("durable %d after truncation during sync, want 3", l.DurableEndOffset())
	}
	syncNow(t, l)
	if l.DurableEndOffset() != 7 {
		t.Fatalf("durable %d", l.DurableEndOffset())
	}
	// Segments deleted while their sync is in flight stay open until it ends.
	cfg := smallConfig()
	cfg.SegmentBytes = 100
	l2 := openLog(t, memdisk.New(), cfg, 0)
	for i := range 4 {
		mustAppend(t, l2, batchOf(1, 60, 1, byte(i)), 0, 0)
	}
	job, _ = l2.StartSync()
	l2.SetHighWatermark(4)
	if n, err := l2.ApplyRetention(0); err == nil && n == 0 {
		cfg.RetentionBytes = 0
	}
	l2.DeleteRecordsBefore(3)
	if err := job.Run(); err != nil {
		t.Fatalf("job over deleted segments: %v", err)
	}
	l2.FinishSync(job, nil)
	checkLog(t, l2)

	// A failed fsync fails the log for good.
	boom := errors.New("EIO")
	mustAppend(t, l, batchOf(1, 10, 1, 1), 0, 0)
	d.SetFault(func(op memdisk.Op, _ string) error {
		if op == memdisk.OpSync {
			return boom
		}
		return nil
	})
	job, _ = l.StartSync()
	l.FinishSync(job, job.Run())
	d.SetFault(nil)
	if !errors.Is(l.Failed(), boom) || !errors.Is(l.Failed(), ErrLogFailed) {
		t.Fatalf("failure cause lost: %v", l.Failed())
	}
	for name, err := range map[string]error{
		"append":     func() error { _, err := l.Append(batchOf(1, 1, 1, 1), 0, 0); return err }(),
		"read":       func() error { _, err := l.Read(0, 10, 10); return err }(),
		"checkpoint": l.Checkpoint(),
		"truncate":   l.TruncateTo(0),
		"retention":  func() error { _, err := l.ApplyRetention(0); return err }(),
		"delete":     l.DeleteRecordsBefore(0),
		"timestamp":  func() error { _, _, _, err := l.OffsetForTimestamp(0, 10); return err }(),
	} {
		if !errors.Is(err, ErrLogFailed) {
			t.Fatalf("%s after failed sync: %v", name, err)
		}
	}
	if _, ok := l.StartSync(); ok {
		t.Fatal("sync job on a failed log")
	}
	// Reopening recovers.
	l.Close()
	l = openLog(t, d, smallConfig(), 0)
	mustAppend(t, l, batchOf(1, 1, 1, 1), 0, 0)

	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "invariant") {
			t.Fatalf("FinishSync with a foreign job: %v", r)
		}
	}()
	l.FinishSync(&SyncJob{}, nil)
}

func TestWriteFailureFailsLog(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 0)
	d.SetFault(func(op memdisk.Op, _ string) error {
		if op == memdisk.OpWriteAt {
			return errors.New("ENOSPC")
		}
		return nil
	})
	_, err := l.Append(batchOf(1, 1, 1, 1), 0, 0)
	wantErr(t, err, ErrLogFailed)
	d.SetFault(nil)
	_, err = l.Append(batchOf(1, 1, 1, 1), 0, 0)
	wantErr(t, err, ErrLogFailed)
}

func TestTimestamps(t *testing.T) {
	d := memdisk.New()
	cfg := smallConfig()
	cfg.SegmentBytes = 600
	cfg.IndexIntervalBytes = 0
	l := openLog(t, d, cfg, 0)
	// Batch timestamps (per record) chosen to be non-monotonic across
	// batches and inside them; some batches compressed.
	batches := [][]int64{{100, 90}, {80}, {300, 200, 250}, {150}, {400}, {400, 120}, {50}, {500, 600, 550}, {10}}
	for i, tss := range batches {
		opts := record.DefaultBatchOptions()
		opts.Codec = record.Codec(i % 5)
		var recs []record.Record
		for _, ts := range tss {
			recs = append(recs, record.Record{Timestamp: ts, Value: bytes.Repeat([]byte{byte(i)}, 100)})
		}
		mustAppend(t, l, record.MustBuild(opts, recs), 0, 0)
	}
	// offsets: 0:100 1:90 2:80 3:300 4:200 5:250 6:150 7:400 8:400 9:120 10:50 11:500 12:600 13:550 14:10
	if l.Segments() < 3 {
		t.Fatalf("%d segments", l.Segments())
	}
	cases := []struct {
		ts, limit int64
		off, got  int64
		found     bool
	}{
		{0, 15, 0, 100, true},
		{95, 15, 0, 100, true},
		{101, 15, 3, 300, true},
		{260, 15, 3, 300, true},
		{301, 15, 7, 400, true},
		{401, 15, 11, 500, true},
		{501, 15, 12, 600, true},
		{601, 15, 0, 0, false},
		{501, 12, 0, 0, false},
		{301, 8, 7, 400, true},
		{301, 7, 0, 0, false},
	}
	check := func(stage string) {
		t.Helper()
		for _, tc := range cases {
			off, got, found, err := l.OffsetForTimestamp(tc.ts, tc.limit)
			if err != nil || off != tc.off || got != tc.got || found != tc.found {
				t.Fatalf("%s: OffsetForTimestamp(%d, %d) = %d, %d, %v, %v; want %d, %d, %v", stage, tc.ts, tc.limit, off, got, found, err, tc.off, tc.got, tc.found)
			}
		}
		maxCases := []struct{ limit, off, ts int64 }{{15, 12, 600}, {12, 11, 500}, {11, 7, 400}, {7, 3, 300}, {1, 0, 100}}
		for _, tc := range maxCases {
			off, ts, found, err := l.MaxTimestamp(tc.limit)
			if err != nil || !found || off != tc.off || ts != tc.ts {
				t.Fatalf("%s: MaxTimestamp(%d) = %d, %d, %v, %v; want %d, %d", stage, tc.limit, off, ts, found, err, tc.off, tc.ts)
			}
		}
	}
	check("live")
	syncNow(t, l)
	l.Close()
	l = openLog(t, d, cfg, 0)
	check("reopened")
	// The log start hides earlier records, even inside a batch.
	l.SetHighWatermark(15)
	if err := l.DeleteRecordsBefore(4); err != nil {
		t.Fatal(err)
	}
	if off, ts, found, _ := l.OffsetForTimestamp(0, 15); !found || off != 4 || ts != 200 {
		t.Fatalf("after DeleteRecords: %d %d %v", off, ts, found)
	}
	if off, ts, found, _ := l.MaxTimestamp(7); !found || off != 5 || ts != 250 {
		t.Fatalf("max after DeleteRecords: %d %d %v", off, ts, found)
	}
	if _, _, found, _ := l.MaxTimestamp(4); found {
		t.Fatal("max timestamp in an empty range")
	}
}

// TestReopenCutsAboveDurableEnd: after an fsync failed with its pages
// marked clean (fsyncgate), the page cache still shows the unsynced
// batches; Reopen must cut them at the durable end the failed log had
// reached, so that the next append rewrites that range instead of an
// fsync that would skip it.
func TestReopenCutsAboveDurableEnd(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, smallConfig(), 0)
	mustAppend(t, l, batchOf(3, 10, 0, 1), 0, 0)
	syncNow(t, l)
	mustAppend(t, l, batchOf(2, 10, 0, 2), 0, 0)
	job, ok := l.StartSync()
	if !ok {
		t.Fatal("no sync job for the unsynced batch")
	}
	seg := testDir + "/" + segmentName(0, logSuffix)
	if err := d.FailWriteback(seg, false); err != nil {
		t.Fatal(err)
	}
	l.FinishSync(job, fmt.Errorf("injected: %w", disk.ErrNoSpace))
	wantErr(t, l.Checkpoint(), ErrLogFailed)
	if !errors.Is(l.Failed(), disk.ErrNoSpace) {
		t.Fatalf("failure %v does not carry disk.ErrNoSpace", l.Failed())
	}
	durable := l.DurableEndOffset()
	if durable != 3 {
		t.Fatalf("durable end %d, want 3", durable)
	}
	l.Close()

	plain, err := Open(d, testDir, smallConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if plain.LogEndOffset() != 5 {
		t.Fatalf("Open sees log end %d; the test needs the cached unsynced batch (5)", plain.LogEndOffset())
	}
	plain.Close()

	r, err := Reopen(d, testDir, smallConfig(), 0, OpenBounds{DurableEnd: durable, MaxLeaderEpoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	checkLog(t, r)
	if r.LogEndOffset() != 3 {
		t.Fatalf("Reopen log end %d, want the durable end 3", r.LogEndOffset())
	}
	mustAppend(t, r, batchOf(1, 10, 0, 3), 0, 0)
	syncNow(t, r)
	r.Close()
	after, err := Open(d.Crash(nil), testDir, smallConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if after.LogEndOffset() != 4 {
		t.Fatalf("after a power loss the log ends at %d, want 4 (3 synced + 1 appended after the reopen)", after.LogEndOffset())
	}
}

// TestRewriteUnsyncedPersistsCleanPages: a process killed after an fsync
// failed leaves clean-but-unwritten pages; the next Open reads them back
// intact and a sync alone would not write them. RewriteUnsynced makes the
// sync persist them.
func TestRewriteUnsyncedPersistsCleanPages(t *testing.T) {
	for _, rewrite := range []bool{false, true} {
		t.Run(fmt.Sprintf("rewrite=%v", rewrite), func(t *testing.T) {
			d := memdisk.New()
			l := openLog(t, d, smallConfig(), 0)
			mustAppend(t, l, batchOf(3, 10, 0, 1), 0, 0)
			syncNow(t, l)
			// The recovery point (3) lies inside the segment: the rewrite
			// starts at the batch holding it.
			if err := l.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			mustAppend(t, l, batchOf(2, 10, 0, 2), 0, 0)
			if err := d.FailWriteback(testDir+"/"+segmentName(0, logSuffix), false); err != nil {
				t.Fatal(err)
			}
			l.Close() // killed: the page cache stays
			r := openLog(t, d, smallConfig(), 0)
			if r.LogEndOffset() != 5 {
				t.Fatalf("reopened log ends at %d, want 5 (the cached batch)", r.LogEndOffset())
			}
			if rewrite {
				if err := r.RewriteUnsynced(); err != nil {
					t.Fatal(err)
				}
			}
			syncNow(t, r)
			r.Close()
			after, err := Open(d.Crash(nil), testDir, smallConfig(), 0)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(3)
			if rewrite {
				want = 5
			}
			if got := after.LogEndOffset(); got != want {
				t.Fatalf("after a power loss the log ends at %d, want %d", got, want)
			}
		})
	}
}

// TestReadUpToLimitAfterFailedWriteback: a sync job fails and the pages of
// the unsynced batch are lost (fsyncgate) before FinishSync reaches the
// log, so reads go on meanwhile. A read bounded by the durable end (a
// consumer's high watermark) must return the synced batches: its read
// ahead reaches the unsynced bytes, which now read back short (the pages
// were dropped: the file reverts to its synced length) or as the old
// contents (zeros), and checking them reported a corrupt segment, which
// takes a partition offline for good (simulator seed 40700). A read that
// does reach them reports ErrUnsyncedLost.
func TestReadUpToLimitAfterFailedWriteback(t *testing.T) {
	for _, how := range []string{"dropped", "zeroed"} {
		t.Run(how, func(t *testing.T) {
			d := memdisk.New()
			l := openLog(t, d, smallConfig(), 0)
			synced := mustAppend(t, l, batchOf(3, 10, 0, 1), 0, 0)
			syncNow(t, l)
			mustAppend(t, l, batchOf(2, 10, 0, 2), 0, 0)
			job, ok := l.StartSync()
			if !ok {
				t.Fatal("no sync job for the unsynced batch")
			}
			seg := testDir + "/" + segmentName(0, logSuffix)
			switch how {
			case "dropped":
				if err := d.FailWriteback(seg, true); err != nil {
					t.Fatal(err)
				}
			case "zeroed":
				f, err := d.OpenFile(seg, false)
				if err != nil {
					t.Fatal(err)
				}
				size, err := f.Size()
				if err != nil {
					t.Fatal(err)
				}
				pos := int64(len(batchOf(3, 10, 0, 1)))
				if _, err := f.WriteAt(make([]byte, size-pos), pos); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			durable := l.DurableEndOffset()
			if durable != synced.LastOffset+1 {
				t.Fatalf("durable end %d, want %d", durable, synced.LastOffset+1)
			}
			got := readBatches(t, l, 0, durable)
			if len(got) != 1 || headerOf(t, got[0]).NextOffset() != durable {
				t.Fatalf("read %d batches up to the durable end %d, want the one synced batch", len(got), durable)
			}
			if err := l.Failed(); err != nil {
				t.Fatalf("the read failed the log: %v", err)
			}
			// A read up to the log end (a leader serving a follower) does
			// reach the lost batch: that is unsynced data lost, not a
			// corrupt segment (which would keep the partition offline).
			_, err := l.Read(durable, 1<<20, l.LogEndOffset())
			if !errors.Is(err, ErrUnsyncedLost) || errors.Is(err, ErrCorruptSegment) {
				t.Fatalf("read of the lost batch: %v, want ErrUnsyncedLost only", err)
			}
			// The sync's failure still arrives, and the reopen cuts the
			// lost batch.
			l.FinishSync(job, fmt.Errorf("injected: %w", disk.ErrNoSpace))
			wantErr(t, l.Failed(), disk.ErrNoSpace)
			l.Close()
			r, err := Reopen(d, testDir, smallConfig(), 0, OpenBounds{DurableEnd: durable, MaxLeaderEpoch: -1})
			if err != nil {
				t.Fatal(err)
			}
			checkLog(t, r)
			if r.LogEndOffset() != durable {
				t.Fatalf("reopened log ends at %d, want the durable end %d", r.LogEndOffset(), durable)
			}
		})
	}
}

// TestTruncateFullyAndStartAt: a follower whose log ends below its
// leader's log start empties its log and continues from that start; the
// start survives a crash. A start below the current one (a divergence
// below it) empties the log too and moves the start back.
func TestTruncateFullyAndStartAt(t *testing.T) {
	d := memdisk.New()
	l := fiveSegments(t, d, smallConfig())
	end := l.LogEndOffset()
	if err := l.TruncateFullyAndStartAt(-1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("restart at -1: %v, want ErrOffsetOutOfRange", err)
	}
	start := end + 100
	if err := l.TruncateFullyAndStartAt(start); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l)
	if l.LogStartOffset() != start || l.LogEndOffset() != start || l.HighWatermark() != start || l.Segments() != 1 {
		t.Fatalf("start %d LEO %d HW %d segments %d, want all at %d in one segment", l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark(), l.Segments(), start)
	}
	if e := l.LatestEpoch(); e != -1 {
		t.Fatalf("latest epoch %d after the restart, want none (-1)", e)
	}
	if _, err := l.Read(end-1, 1<<20, start); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the new start: %v, want ErrOffsetOutOfRange", err)
	}
	if res := mustAppend(t, l, batchOf(2, 10, 1, 1), 7, 0); res.BaseOffset != start {
		t.Fatalf("append at %d, want %d", res.BaseOffset, start)
	}
	syncNow(t, l)
	d2 := d.Crash(nil)
	l2 := openLog(t, d2, smallConfig(), 0)
	if l2.LogStartOffset() != start || l2.LogEndOffset() != start+2 {
		t.Fatalf("after crash start %d LEO %d, want %d and %d", l2.LogStartOffset(), l2.LogEndOffset(), start, start+2)
	}
	if err := l2.TruncateFullyAndStartAt(start - 3); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l2)
	if l2.LogStartOffset() != start-3 || l2.LogEndOffset() != start-3 {
		t.Fatalf("restart below the start: start %d LEO %d, want both %d", l2.LogStartOffset(), l2.LogEndOffset(), start-3)
	}
	l3 := openLog(t, d2.Crash(nil), smallConfig(), 0)
	if l3.LogStartOffset() != start-3 || l3.LogEndOffset() != start-3 {
		t.Fatalf("after crash start %d LEO %d, want both %d", l3.LogStartOffset(), l3.LogEndOffset(), start-3)
	}
}

// TestRecoveryKeepSyncedDamage: with OpenBounds.KeepSyncedDamage a damaged
// batch below the recovery point fails the open with ErrCorruptSegment
// and leaves the file as it was, where a plain Open cuts it (Kafka's
// recovery).
func TestRecoveryKeepSyncedDamage(t *testing.T) {
	d, cfg := corruptSetup(t)
	batchSize := int64(len(batchOf(2, 50, 0, 0)))
	name := testDir + "/" + segmentName(16, logSuffix)
	if err := d.Corrupt(name, batchSize+70, 0x01); err != nil {
		t.Fatal(err)
	}
	before, err := d.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Reopen(d, testDir, cfg, 0, OpenBounds{DurableEnd: -1, MaxLeaderEpoch: -1, KeepSyncedDamage: true})
	if !errors.Is(err, ErrCorruptSegment) {
		t.Fatalf("open with synced damage kept: %v, want ErrCorruptSegment", err)
	}
	after, err := d.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the failed open changed the damaged segment")
	}
	l := openLog(t, d, cfg, 0)
	if r := l.Recovery(); !r.LostDurableData || l.LogEndOffset() != 18 {
		t.Fatalf("plain open: LEO %d, recovery %+v; want the cut at 18 with lost durable data", l.LogEndOffset(), r)
	}
}
