package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"path"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
)

// Partition directory layout, as documented in core/partlog (segment.go,
// checkpoint.go). The fuzz targets write these files themselves, so the
// names are spelled out here rather than taken from partlog internals.
const (
	logDir               = "fuzz-0"
	checkpointName       = "partition-checkpoint"
	epochCheckpointName  = "leader-epoch-checkpoint"
	checkpointMagicLine  = "chronik-partition-checkpoint 1"
	epochCheckpointMagic = "chronik-leader-epoch-checkpoint 1"
	logStartMs           = 5_000_000
)

func segmentFile(base int64, suffix string) string {
	return path.Join(logDir, fmt.Sprintf("%020d%s", base, suffix))
}

// sealCheckpoint appends the CRC-32C line partlog's checkpoint files end
// with, so that the fuzzer's bodies get past the CRC check.
func sealCheckpoint(body string) []byte {
	return []byte(fmt.Sprintf("%scrc32c %08x\n", body, crc32.Checksum([]byte(body), castagnoli)))
}

// writeSynced writes a file and makes it durable.
func writeSynced(t *testing.T, d *memdisk.Disk, name string, data []byte) {
	t.Helper()
	f, err := d.OpenFile(name, true)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if err := f.Truncate(0); err != nil {
		t.Fatalf("truncate %s: %v", name, err)
	}
	if len(data) > 0 {
		if _, err := f.WriteAt(data, 0); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("sync %s: %v", name, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", name, err)
	}
}

// nonNegative maps an int64 onto [0, MaxInt64] one to one.
func nonNegative(x int64) int64 {
	if x < 0 {
		return ^x
	}
	return x
}

// recoveryConfigs are the log configurations FuzzLogRecovery picks from.
func recoveryConfig(sel uint16) partlog.Config {
	cfg := partlog.DefaultConfig()
	cfg.RetentionMs = -1
	switch sel % 4 {
	case 0:
		cfg.SegmentBytes, cfg.IndexIntervalBytes = 1<<20, 4096
	case 1:
		cfg.SegmentBytes, cfg.IndexIntervalBytes = 256, 0
	case 2:
		cfg.SegmentBytes, cfg.IndexIntervalBytes = 14, 64 // every batch rolls
	case 3:
		cfg.SegmentBytes, cfg.IndexIntervalBytes = 1024, 100
	}
	return cfg
}

// readAllChecked reads [from, limit) with Read in steps of maxBytes and
// checks what it serves: whole batches that pass record.Check, the first
// containing from, each starting where the previous ended, none reaching
// limit, and progress on every call until limit. It returns the batches
// and the first Read error (after which it stops).
func readAllChecked(t *testing.T, l *partlog.Log, from, limit int64, maxBytes int) ([][]byte, error) {
	t.Helper()
	var out [][]byte
	offset := from
	for offset < limit {
		res, err := l.Read(offset, maxBytes, limit)
		if err != nil {
			return out, err
		}
		if len(res.Records) == 0 {
			t.Fatalf("Read(%d, %d, %d) returned nothing below the limit (log [%d, %d))", offset, maxBytes, limit, l.LogStartOffset(), l.LogEndOffset())
		}
		batches, err := record.Split(res.Records)
		if err != nil {
			t.Fatalf("Read(%d) returned bytes that do not frame: %v", offset, err)
		}
		for i, b := range batches {
			h, err := record.Check(b)
			if err != nil {
				t.Fatalf("Read(%d) served batch %d that fails record.Check: %v", offset, i, err)
			}
			switch {
			case i == 0 && len(out) == 0 && (h.BaseOffset > offset || h.NextOffset() <= offset):
				t.Fatalf("Read(%d): first batch [%d, %d) does not contain the offset", offset, h.BaseOffset, h.NextOffset())
			case (i > 0 || len(out) > 0) && h.BaseOffset != offset:
				t.Fatalf("offsets not dense: batch at %d where %d was next", h.BaseOffset, offset)
			case h.LastOffset() >= limit:
				t.Fatalf("Read(..., limit %d) served a batch ending at %d", limit, h.LastOffset())
			}
			out = append(out, b)
			offset = h.NextOffset()
		}
	}
	if offset != limit {
		t.Fatalf("reading [%d, %d) ended at %d", from, limit, offset)
	}
	return out, nil
}

// checkLogState checks the offsets a recovered log reports.
func checkLogState(t *testing.T, l *partlog.Log) {
	t.Helper()
	l.CheckInvariants()
	ls, hw, leo, de := l.LogStartOffset(), l.HighWatermark(), l.LogEndOffset(), l.DurableEndOffset()
	if !(0 <= ls && ls <= hw && hw <= leo && de <= leo) {
		t.Fatalf("offsets out of order: log start %d, high watermark %d, durable end %d, log end %d", ls, hw, de, leo)
	}
}

// appendAndSync appends a small batch after recovery and checks that it
// reads back, syncs and becomes durable; it returns false when the log's
// offsets are too close to overflow for an append to make sense.
func appendAndSync(t *testing.T, l *partlog.Log, nowMs int64) bool {
	t.Helper()
	leo := l.LogEndOffset()
	b := record.SimpleBatch(3, 8, nowMs, 42)
	epoch := max(l.LatestEpoch(), 0)
	res, err := l.Append(bytes.Clone(b), epoch, nowMs)
	if leo > math.MaxInt64-(1<<32) {
		// Offsets this close to the end of int64 may legitimately be
		// refused; they must not wrap.
		if err == nil && (res.BaseOffset != leo || res.LastOffset < res.BaseOffset) {
			t.Fatalf("append at log end %d gave offsets [%d, %d]", leo, res.BaseOffset, res.LastOffset)
		}
		return false
	}
	if err != nil {
		t.Fatalf("append after recovery (log end %d, epoch %d): %v", leo, epoch, err)
	}
	if res.BaseOffset != leo || res.LastOffset != leo+2 || l.LogEndOffset() != leo+3 || res.Duplicate {
		t.Fatalf("append after recovery at %d: result %+v, log end now %d", leo, res, l.LogEndOffset())
	}
	checkLogState(t, l)
	got, err := readAllChecked(t, l, leo, l.LogEndOffset(), 1<<20)
	if err != nil {
		t.Fatalf("reading back the appended batch: %v", err)
	}
	if len(got) != 1 || !bytes.Equal(got[0][record.OffsetMagic:], b[record.OffsetMagic:]) {
		t.Fatalf("appended batch reads back as %d batches / different bytes", len(got))
	}
	if h, _ := record.ParseHeader(got[0]); h.BaseOffset != leo || h.PartitionLeaderEpoch != epoch {
		t.Fatalf("appended batch stored with base %d epoch %d, want %d and %d", h.BaseOffset, h.PartitionLeaderEpoch, leo, epoch)
	}
	syncLog(t, l)
	if l.DurableEndOffset() != l.LogEndOffset() {
		t.Fatalf("after a full sync the durable end is %d, log end %d", l.DurableEndOffset(), l.LogEndOffset())
	}
	return true
}

// syncLog runs sync jobs until nothing is left to sync.
func syncLog(t *testing.T, l *partlog.Log) {
	t.Helper()
	for range 10 {
		job, ok := l.StartSync()
		if !ok {
			return
		}
		l.FinishSync(job, job.Run())
		if err := l.Failed(); err != nil {
			t.Fatalf("sync failed on memdisk: %v", err)
		}
		l.CheckInvariants()
	}
	t.Fatalf("sync jobs keep coming")
}

// sameBatches compares two reads of the same log.
func sameBatches(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// FuzzLogRecovery opens partlog on a partition directory whose contents
// the fuzzer chooses: seg1 as the segment file at base offset base1, seg2
// (when flags bit 1 is set) as a second segment at base2, a partition
// checkpoint (flags bits 2-3: none, a well-formed one holding rp/hw/ls,
// aux verbatim, or aux sealed with a valid CRC line), a leader-epoch
// checkpoint (bits 4-5: none, aux verbatim, aux sealed after the magic
// line, a well-formed one), seg1's index and time index as aux (bits 6-7),
// stray files (bit 8), and the log configuration (bits 9-10). With bit 11
// the CRC of every batch in the segments is recomputed first, so that the
// fuzzer's changes to CRC-covered header fields reach recovery's other
// checks. Every file is durable before Open.
//
// Invariants:
//   - Open never panics. Without a checkpoint it always succeeds (every
//     batch is CRC-checked, so a bad one is a torn tail to cut); with one
//     it may only fail with ErrCorruptSegment;
//   - the recovered log passes CheckInvariants, with log start <= high
//     watermark <= log end and durable end <= log end;
//   - Read from LogStartOffset to LogEndOffset serves dense offsets and
//     only whole batches that pass record.Check (never a batch whose CRC
//     fails), each of them byte for byte a batch of the input segments:
//     recovery never invents data. A Read may fail, with ErrCorruptSegment,
//     only when recovery trusted a segment below the checkpoint's recovery
//     point without CRC-checking it;
//   - recovery is idempotent: closing, crashing (every file was synced, so
//     nothing recovery made durable may be lost) and opening again gives
//     the same log start, log end, high watermark and batches;
//   - appending after recovery works (offsets continue at the log end, the
//     batch reads back with its epoch), a sync makes the durable end reach
//     the log end, and after a checkpoint and a crash the reopened log
//     holds exactly what it held before.
func FuzzLogRecovery(f *testing.F) {
	for _, s := range logRecoverySeeds() {
		f.Add(s.seg1, s.seg2, s.aux, s.base1, s.base2, s.rp, s.hw, s.ls, s.flags)
	}
	f.Fuzz(func(t *testing.T, seg1, seg2, aux []byte, base1, base2, rp, hw, ls int64, flags uint16) {
		d := memdisk.New()
		if err := d.MkdirAll(logDir); err != nil {
			t.Fatal(err)
		}
		base1, base2 = nonNegative(base1), nonNegative(base2)
		if flags&(1<<11) != 0 {
			seg1, seg2 = fixCRCs(seg1), fixCRCs(seg2)
		}
		writeSynced(t, d, segmentFile(base1, ".log"), seg1)
		if flags&2 != 0 && base2 != base1 {
			writeSynced(t, d, segmentFile(base2, ".log"), seg2)
		}
		checkpointed := false
		switch (flags >> 2) & 3 {
		case 1:
			checkpointed = true
			writeSynced(t, d, path.Join(logDir, checkpointName), sealCheckpoint(fmt.Sprintf("%s\nrecovery-point %d\nhigh-watermark %d\nlog-start-offset %d\n",
				checkpointMagicLine, nonNegative(rp), nonNegative(hw), nonNegative(ls))))
		case 2:
			checkpointed = true
			writeSynced(t, d, path.Join(logDir, checkpointName), aux)
		case 3:
			checkpointed = true
			writeSynced(t, d, path.Join(logDir, checkpointName), sealCheckpoint(checkpointMagicLine+"\n"+string(aux)))
		}
		switch (flags >> 4) & 3 {
		case 1:
			writeSynced(t, d, path.Join(logDir, epochCheckpointName), aux)
		case 2:
			writeSynced(t, d, path.Join(logDir, epochCheckpointName), sealCheckpoint(epochCheckpointMagic+"\n"+string(aux)))
		case 3:
			writeSynced(t, d, path.Join(logDir, epochCheckpointName), sealCheckpoint(fmt.Sprintf("%s\nentries 2\n0 0\n%d %d\n",
				epochCheckpointMagic, 1+nonNegative(hw)%1000, 1+nonNegative(rp))))
		}
		if flags&(1<<6) != 0 {
			writeSynced(t, d, segmentFile(base1, ".index"), aux)
		}
		if flags&(1<<7) != 0 {
			writeSynced(t, d, segmentFile(base1, ".timeindex"), aux)
		}
		if flags&(1<<8) != 0 {
			writeSynced(t, d, segmentFile(base1+base2%1000+1, ".index"), []byte{0, 0, 0, 0, 0, 0, 0, 0})
			writeSynced(t, d, path.Join(logDir, checkpointName+".tmp"), []byte("torn"))
			writeSynced(t, d, path.Join(logDir, "unrelated"), aux)
		}
		if err := d.SyncDir(logDir); err != nil {
			t.Fatal(err)
		}
		cfg := recoveryConfig(flags >> 9)
		maxBytes := 1 + int(nonNegative(rp^hw)%5000)

		l, err := partlog.Open(d, logDir, cfg, logStartMs)
		if err != nil {
			if !checkpointed || !errors.Is(err, partlog.ErrCorruptSegment) {
				t.Fatalf("Open failed (checkpoint written: %v): %v", checkpointed, err)
			}
			return
		}
		checkLogState(t, l)
		info := l.Recovery()
		batches, rerr := readAllChecked(t, l, l.LogStartOffset(), l.LogEndOffset(), maxBytes)
		if rerr != nil && (info.SegmentsTrusted == 0 || !errors.Is(rerr, partlog.ErrCorruptSegment)) {
			t.Fatalf("Read failed after recovery (%d segments trusted): %v", info.SegmentsTrusted, rerr)
		}
		for _, b := range batches {
			if !bytes.Contains(seg1, b) && !(flags&2 != 0 && bytes.Contains(seg2, b)) {
				h, _ := record.ParseHeader(b)
				t.Fatalf("recovered log serves a batch at offset %d that is in neither input segment", h.BaseOffset)
			}
		}

		// Recovery is idempotent, also across a crash.
		start, end, hwm := l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark()
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		d = d.Crash(nil)
		l, err = partlog.Open(d, logDir, cfg, logStartMs+1)
		if err != nil {
			t.Fatalf("second Open after a crash fails although the first succeeded: %v", err)
		}
		checkLogState(t, l)
		if l.LogStartOffset() != start || l.LogEndOffset() != end || l.HighWatermark() != hwm {
			t.Fatalf("second recovery gives log [%d, %d) hw %d, first gave [%d, %d) hw %d",
				l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark(), start, end, hwm)
		}
		again, rerr2 := readAllChecked(t, l, start, end, maxBytes)
		if rerr == nil && (rerr2 != nil || !sameBatches(batches, again)) {
			t.Fatalf("second recovery serves different batches (%d vs %d, err %v)", len(again), len(batches), rerr2)
		}

		// Appending works, and a synced, checkpointed log survives a crash.
		if !appendAndSync(t, l, logStartMs+2) {
			return
		}
		l.SetHighWatermark(l.LogEndOffset())
		if err := l.Checkpoint(); err != nil {
			t.Fatalf("Checkpoint: %v", err)
		}
		start, end = l.LogStartOffset(), l.LogEndOffset()
		before, rerr := readAllChecked(t, l, start, end, 1<<20)
		l2, err := partlog.Open(d.Crash(nil), logDir, cfg, logStartMs+3)
		if err != nil {
			t.Fatalf("Open after sync, checkpoint and crash: %v", err)
		}
		checkLogState(t, l2)
		if l2.LogStartOffset() != start || l2.LogEndOffset() != end || l2.HighWatermark() != end {
			t.Fatalf("after a crash of a synced, checkpointed log: [%d, %d) hw %d, want [%d, %d) hw %d",
				l2.LogStartOffset(), l2.LogEndOffset(), l2.HighWatermark(), start, end, end)
		}
		after, rerr2 := readAllChecked(t, l2, start, end, 1<<20)
		if rerr == nil && (rerr2 != nil || !sameBatches(before, after)) {
			t.Fatalf("synced data changed across a crash (%d batches before, %d after, err %v)", len(before), len(after), rerr2)
		}
	})
}

type logRecoverySeed struct {
	seg1, seg2, aux      []byte
	base1, base2, rp, hw int64
	ls                   int64
	flags                uint16
}

// builtLog is a real partition directory made by partlog, for seeds.
type builtLog struct {
	files map[string][]byte // by name inside logDir
	bases []int64           // segment base offsets, ascending
}

// buildLog appends the given batches (syncing and checkpointing at the
// end) with cfg and returns the directory's files.
func buildLog(cfg partlog.Config, batches [][]byte, epochs []int32) builtLog {
	d := memdisk.New()
	l, err := partlog.Open(d, logDir, cfg, logStartMs)
	if err != nil {
		panic(err)
	}
	for i, b := range batches {
		if _, err := l.Append(bytes.Clone(b), epochs[i], logStartMs+int64(i)); err != nil {
			panic(err)
		}
	}
	job, ok := l.StartSync()
	if ok {
		l.FinishSync(job, job.Run())
	}
	l.SetHighWatermark(l.LogEndOffset())
	if err := l.Checkpoint(); err != nil {
		panic(err)
	}
	names, _ := d.List(logDir)
	out := builtLog{files: map[string][]byte{}}
	for _, n := range names {
		data, _ := d.ReadFile(path.Join(logDir, n))
		out.files[n] = data
		if base, ok := strings.CutSuffix(n, ".log"); ok {
			var b int64
			fmt.Sscanf(base, "%d", &b)
			out.bases = append(out.bases, b)
		}
	}
	return out
}

func (b builtLog) segment(i int) []byte {
	return b.files[fmt.Sprintf("%020d.log", b.bases[i])]
}

func codecBatches() ([][]byte, []int32) {
	var batches [][]byte
	var epochs []int32
	for i, c := range rebuildCodecs {
		opts := record.DefaultBatchOptions()
		opts.Codec, opts.SnappyXerial = c.codec, c.xerial
		batches = append(batches, record.MustBuild(opts, sampleRecords(logStartMs+int64(i), i)))
		epochs = append(epochs, int32(i/2))
	}
	batches = append(batches, idempotentBatch(5, 0, 0, 4), idempotentBatch(5, 0, 4, 2))
	epochs = append(epochs, 3, 3)
	return batches, epochs
}

func logRecoverySeeds() []logRecoverySeed {
	batches, epochs := codecBatches()
	one := buildLog(recoveryConfig(0), batches, epochs)
	twoCfg := recoveryConfig(3)
	twoCfg.SegmentBytes = 600
	two := buildLog(twoCfg, batches, epochs)
	if len(two.bases) < 2 {
		panic(fmt.Sprintf("seed log has %d segments, want 2 or more", len(two.bases)))
	}
	ck := one.files[checkpointName]
	var seeds []logRecoverySeed
	s1 := one.segment(0)
	// One intact segment: without and with its checkpoint and epoch file.
	seeds = append(seeds,
		logRecoverySeed{seg1: s1, flags: 0},
		logRecoverySeed{seg1: s1, aux: ck, flags: 2 << 2},
		logRecoverySeed{seg1: s1, aux: one.files[epochCheckpointName], flags: 1 << 4},
		logRecoverySeed{seg1: s1, rp: 8, hw: 8, ls: 2, flags: 1<<2 | 3<<4 | 1<<8},
	)
	// Torn and damaged tails.
	seeds = append(seeds,
		logRecoverySeed{seg1: s1[:len(s1)-7]},
		logRecoverySeed{seg1: append(bytes.Clone(s1), make([]byte, 100)...)},
		logRecoverySeed{seg1: flip(s1, len(s1)/2)},
		logRecoverySeed{seg1: flip(s1, 9), rp: 1 << 40, flags: 1 << 2}, // batch length of the first batch
	)
	// Two segments, with the real checkpoint (the first is trusted) and
	// with its index files; then with a corrupt trusted segment.
	{
		a, b := two.segment(0), two.segment(1)
		ck2 := two.files[checkpointName]
		idx := two.files[fmt.Sprintf("%020d.index", two.bases[0])]
		seeds = append(seeds,
			logRecoverySeed{seg1: a, seg2: b, base2: two.bases[1], aux: ck2, flags: 2 | 2<<2 | 1<<9},
			logRecoverySeed{seg1: a, seg2: b, base2: two.bases[1], aux: idx, flags: 2 | 1<<6 | 3<<9},
			logRecoverySeed{seg1: flip(a, len(a)-3), seg2: b, base2: two.bases[1], rp: two.bases[1] + 1, hw: 1, flags: 2 | 1<<2 | 3<<9},
			logRecoverySeed{seg1: a, seg2: b, base2: two.bases[1] + 1, flags: 2 | 3<<9},        // gap
			logRecoverySeed{seg1: a, seg2: b[:len(b)/2], base2: two.bases[1], flags: 2 | 2<<9}, // torn second
			logRecoverySeed{seg1: b, seg2: a, base1: two.bases[1], base2: 0, flags: 2 | 1<<9},  // swapped
		)
	}
	// A log that starts at a high offset, and a log start beyond the data.
	hi := record.MustBuild(record.BatchOptions{BaseOffset: 1 << 33, PartitionLeaderEpoch: 2, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, sampleRecords(logStartMs, 1))
	// Offsets at the end of int64; a batch whose lastOffsetDelta runs past
	// it; an epoch that goes backwards; a record count that disagrees.
	top := record.MustBuild(record.BatchOptions{BaseOffset: math.MaxInt64 - 1<<40, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, sampleRecords(logStartMs, 1))
	long := setField(s1, record.OffsetLastOffsetDelta, math.MaxInt32)
	back := append(bytes.Clone(batches[0]), batches[1]...)
	record.SetPartitionLeaderEpoch(back, 5)
	record.SetBaseOffset(back[len(batches[0]):], 3)
	seeds = append(seeds,
		logRecoverySeed{seg1: top, base1: math.MaxInt64 - 1<<40},
		logRecoverySeed{seg1: long, base1: 0, flags: 1 << 11},
		logRecoverySeed{seg1: back, flags: 1 << 11},
		logRecoverySeed{seg1: setField(s1, record.OffsetRecordCount, 1000), flags: 1 << 11},
		logRecoverySeed{seg1: hi, base1: 1 << 33},
		logRecoverySeed{seg1: s1, rp: 100, hw: 100, ls: 100, flags: 1 << 2},
		logRecoverySeed{seg1: []byte{}, aux: []byte("recovery-point 5\nhigh-watermark 5\nlog-start-offset 5\n"), flags: 3 << 2},
	)
	return seeds
}

// fixCRCs returns b with the CRC of every v2 batch it frames recomputed,
// so that the fuzzer's changes to CRC-covered fields (counts, deltas,
// attributes, producer state) reach the checks behind the CRC.
func fixCRCs(b []byte) []byte {
	b = bytes.Clone(b)
	for pos := 0; len(b)-pos >= record.HeaderSize; {
		batch, _, err := record.Next(b[pos:])
		if err != nil || len(batch) < record.HeaderSize {
			break
		}
		if batch[record.OffsetMagic] == record.MagicV2 {
			binary.BigEndian.PutUint32(batch[record.OffsetCRC:], crc32.Checksum(batch[record.OffsetAttributes:], castagnoli))
		}
		pos += len(batch)
	}
	return b
}

// setField returns b with the big-endian int32 at off set to v.
func setField(b []byte, off int, v int32) []byte {
	c := bytes.Clone(b)
	binary.BigEndian.PutUint32(c[off:], uint32(v))
	return c
}

// flip returns b with one bit changed at i.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x10
	return c
}
