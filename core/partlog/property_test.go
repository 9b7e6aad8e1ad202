package partlog

import (
	"bytes"
	"fmt"
	"sort"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/record"
	"pgregory.net/rapid"
)

// modelBatch is a batch the model expects in the log.
type modelBatch struct {
	base, last int64
	data       []byte
}

// logModel drives a Log through random operations and checks it against
// a simple model: the list of batches it must hold.
type logModel struct {
	t      *rapid.T
	d      *memdisk.Disk
	cfg    Config
	l      *Log
	nowMs  int64
	epoch  int32
	cur    []modelBatch       // batches from the one holding LogStartOffset to LEO
	ever   map[int64][][]byte // every version ever written at a base offset
	job    *SyncJob           // a sync job started but not finished
	jobRan bool               // job.Run already executed
	pid    int64              // the idempotent producer's id
	pepoch int16              // its epoch
	pseq   int32              // its next sequence
	plast  *modelBatch        // its last appended batch, for retries
	trace  []string
}

func (m *logModel) logf(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf(format, args...))
}

func (m *logModel) fatalf(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("%s\ntrace:\n  %s", fmt.Sprintf(format, args...), joinLines(m.trace))
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// check compares the whole log with the model and runs the invariants.
func (m *logModel) check() {
	m.t.Helper()
	func() {
		defer func() {
			if r := recover(); r != nil {
				m.fatalf("%v", r)
			}
		}()
		m.l.checkInvariants()
	}()
	if err := m.l.checkInvariantsDeep(); err != nil {
		m.fatalf("deep invariants: %v", err)
	}
	l := m.l
	if got, want := l.LogEndOffset(), m.leo(); got != want {
		m.fatalf("LEO %d, model %d", got, want)
	}
	got := m.readAll()
	if len(got) != len(m.cur) {
		m.fatalf("log holds %d batches from %d, model %d", len(got), l.LogStartOffset(), len(m.cur))
	}
	for i := range got {
		if !bytes.Equal(got[i], m.cur[i].data) {
			m.fatalf("batch %d (offset %d) differs from the model", i, m.cur[i].base)
		}
	}
}

func (m *logModel) leo() int64 {
	if len(m.cur) == 0 {
		return m.l.LogStartOffset()
	}
	return m.cur[len(m.cur)-1].last + 1
}

// readAll reads every batch from the log start with random-ish sizes.
func (m *logModel) readAll() [][]byte {
	m.t.Helper()
	l := m.l
	var out [][]byte
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		res, err := l.Read(off, 700, l.LogEndOffset())
		if err != nil {
			m.fatalf("Read(%d): %v", off, err)
		}
		bs, err := record.Split(res.Records)
		if err != nil || len(bs) == 0 {
			m.fatalf("Read(%d) gave %d batches, err %v", off, len(bs), err)
		}
		for _, b := range bs {
			h, err := record.Check(b)
			if err != nil {
				m.fatalf("Read(%d) served a bad batch: %v", off, err)
			}
			if h.LastOffset() < off || (len(out) > 0 && h.BaseOffset != off) {
				m.fatalf("Read(%d) served batch [%d, %d]", off, h.BaseOffset, h.LastOffset())
			}
			out = append(out, b)
			off = h.NextOffset()
		}
	}
	return out
}

func (m *logModel) open() {
	m.t.Helper()
	l, err := Open(m.d, testDir, m.cfg, m.nowMs)
	if err != nil {
		m.fatalf("Open: %v", err)
	}
	m.l = l
}

func (m *logModel) append(t *rapid.T) {
	n := rapid.IntRange(1, 3).Draw(t, "batches")
	var in []byte
	var hs []int
	idem := rapid.IntRange(0, 3).Draw(t, "idempotent") == 0 && n == 1
	for i := range n {
		recs := make([]record.Record, rapid.IntRange(1, 5).Draw(t, "records"))
		for j := range recs {
			recs[j] = record.Record{
				Timestamp: m.nowMs + int64(rapid.IntRange(-500, 500).Draw(t, "tsDelta")),
				Key:       []byte(fmt.Sprintf("k%d", j)),
				Value:     bytes.Repeat([]byte{byte(i + j)}, rapid.IntRange(0, 200).Draw(t, "valueSize")),
			}
		}
		opts := record.DefaultBatchOptions()
		opts.Codec = record.Codec(rapid.SampledFrom([]int{0, 0, 0, 1, 2, 3, 4}).Draw(t, "codec"))
		if idem {
			opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = m.pid, m.pepoch, m.pseq
		}
		b := record.MustBuild(opts, recs)
		hs = append(hs, len(recs))
		in = append(in, b...)
	}
	if rapid.IntRange(0, 10).Draw(t, "bumpEpoch") == 0 {
		m.epoch++
	}
	res, err := m.l.Append(in, m.epoch, m.nowMs)
	if err != nil {
		m.fatalf("Append: %v", err)
	}
	m.logf("append %d batches -> [%d, %d] epoch %d idem %v", n, res.BaseOffset, res.LastOffset, m.epoch, idem)
	if res.Duplicate || res.BaseOffset != m.leo() {
		m.fatalf("Append result %+v, model LEO %d", res, m.leo())
	}
	bs, _ := record.Split(in)
	for i, b := range bs {
		h := headerOf(t, b)
		if h.PartitionLeaderEpoch != m.epoch {
			m.fatalf("epoch not stamped in place")
		}
		mb := modelBatch{base: h.BaseOffset, last: h.LastOffset(), data: bytes.Clone(b)}
		if h.LastOffset()-h.BaseOffset+1 != int64(hs[i]) {
			m.fatalf("batch %d offsets [%d, %d] for %d records", i, h.BaseOffset, h.LastOffset(), hs[i])
		}
		m.cur = append(m.cur, mb)
		m.ever[mb.base] = append(m.ever[mb.base], mb.data)
		if idem {
			m.plast = &m.cur[len(m.cur)-1]
			m.pseq += int32(hs[i])
		}
	}
}

// retry re-sends the producer's last batch while it is the log's last
// batch: the log must answer with the original offsets and write nothing.
func (m *logModel) retry(t *rapid.T) {
	if m.plast == nil || len(m.cur) == 0 || m.cur[len(m.cur)-1].base != m.plast.base || !bytes.Equal(m.cur[len(m.cur)-1].data, m.plast.data) {
		return
	}
	leo := m.l.LogEndOffset()
	res, err := m.l.Append(bytes.Clone(m.plast.data), m.epoch, m.nowMs)
	m.logf("retry [%d, %d] -> %+v %v", m.plast.base, m.plast.last, res, err)
	if err != nil || !res.Duplicate || res.BaseOffset != m.plast.base || res.LastOffset != m.plast.last || m.l.LogEndOffset() != leo {
		m.fatalf("retry: %+v, %v", res, err)
	}
}

func (m *logModel) startSync(t *rapid.T) {
	if m.job != nil {
		return
	}
	job, ok := m.l.StartSync()
	m.logf("startSync -> %v", ok)
	if !ok {
		return
	}
	if job.UpTo != m.l.LogEndOffset() {
		m.fatalf("job up to %d, LEO %d", job.UpTo, m.l.LogEndOffset())
	}
	if _, again := m.l.StartSync(); again {
		m.fatalf("second job while one is in flight")
	}
	m.job = job
	m.jobRan = false
	if rapid.Bool().Draw(t, "runNow") {
		if err := job.Run(); err != nil {
			m.fatalf("Run: %v", err)
		}
		m.jobRan = true
	}
}

func (m *logModel) finishSync(t *rapid.T) {
	if m.job == nil {
		return
	}
	var err error
	if !m.jobRan {
		err = m.job.Run()
	}
	before := m.l.DurableEndOffset()
	m.l.FinishSync(m.job, err)
	m.logf("finishSync up to %d: durable %d -> %d", m.job.UpTo, before, m.l.DurableEndOffset())
	if err != nil || m.l.Failed() != nil {
		m.fatalf("sync failed: %v %v", err, m.l.Failed())
	}
	m.job = nil
}

func (m *logModel) setHW(t *rapid.T) {
	hw := rapid.Int64Range(m.l.LogStartOffset(), m.l.LogEndOffset()).Draw(t, "hw")
	m.l.SetHighWatermark(hw)
	m.logf("hw %d", hw)
	if m.l.HighWatermark() != hw {
		m.fatalf("HW %d after setting %d", m.l.HighWatermark(), hw)
	}
}

// dropBelow removes model batches wholly below the log start.
func (m *logModel) dropBelow(start int64) {
	i := 0
	for i < len(m.cur) && m.cur[i].last < start {
		i++
	}
	m.cur = m.cur[i:]
}

func (m *logModel) retention(t *rapid.T) {
	before := m.l.LogStartOffset()
	n, err := m.l.ApplyRetention(m.nowMs)
	if err != nil {
		m.fatalf("ApplyRetention: %v", err)
	}
	m.logf("retention at %d: %d segments, log start %d -> %d", m.nowMs, n, before, m.l.LogStartOffset())
	if m.l.LogStartOffset() > m.l.HighWatermark() {
		m.fatalf("retention passed the high watermark")
	}
	m.dropBelow(m.l.LogStartOffset())
}

func (m *logModel) deleteRecords(t *rapid.T) {
	off := rapid.Int64Range(m.l.LogStartOffset(), m.l.HighWatermark()).Draw(t, "deleteBefore")
	if err := m.l.DeleteRecordsBefore(off); err != nil {
		m.fatalf("DeleteRecordsBefore(%d): %v", off, err)
	}
	m.logf("deleteRecordsBefore %d", off)
	if m.l.LogStartOffset() != off {
		m.fatalf("log start %d after DeleteRecordsBefore(%d)", m.l.LogStartOffset(), off)
	}
	m.dropBelow(off)
}

func (m *logModel) truncate(t *rapid.T) {
	off := rapid.Int64Range(m.l.LogStartOffset(), m.l.LogEndOffset()).Draw(t, "truncateTo")
	if err := m.l.TruncateTo(off); err != nil {
		m.fatalf("TruncateTo(%d): %v", off, err)
	}
	m.logf("truncateTo %d -> LEO %d", off, m.l.LogEndOffset())
	i := 0
	for i < len(m.cur) && m.cur[i].last < off {
		i++
	}
	m.cur = m.cur[:i]
	if m.leo() < m.l.LogStartOffset() {
		m.cur = nil
	}
	if m.l.HighWatermark() > m.l.LogEndOffset() || m.l.DurableEndOffset() > m.l.LogEndOffset() {
		m.fatalf("HW or durable above LEO after truncation")
	}
	m.newProducerEpoch()
}

func (m *logModel) newProducerEpoch() {
	m.pepoch++
	m.pseq = 0
	m.plast = nil
}

func (m *logModel) checkpoint(t *rapid.T) {
	if err := m.l.Checkpoint(); err != nil {
		m.fatalf("Checkpoint: %v", err)
	}
	m.logf("checkpoint durable %d hw %d start %d", m.l.DurableEndOffset(), m.l.HighWatermark(), m.l.LogStartOffset())
}

func (m *logModel) read(t *rapid.T) {
	l := m.l
	off := rapid.Int64Range(l.LogStartOffset(), l.LogEndOffset()).Draw(t, "readOffset")
	maxBytes := rapid.IntRange(1, 2000).Draw(t, "maxBytes")
	limit := rapid.Int64Range(l.LogStartOffset(), l.LogEndOffset()+1).Draw(t, "limit")
	res, err := l.Read(off, maxBytes, limit)
	if err != nil {
		m.fatalf("Read(%d, %d, %d): %v", off, maxBytes, limit, err)
	}
	bs, err := record.Split(res.Records)
	if err != nil {
		m.fatalf("Read: %v", err)
	}
	// Expected: model batches from the one holding off, all below limit,
	// within maxBytes except the first.
	i := 0
	for i < len(m.cur) && m.cur[i].last < off {
		i++
	}
	var want [][]byte
	total := 0
	for ; i < len(m.cur) && m.cur[i].last < limit; i++ {
		if len(want) > 0 && total+len(m.cur[i].data) > maxBytes {
			break
		}
		want = append(want, m.cur[i].data)
		total += len(m.cur[i].data)
	}
	if len(bs) != len(want) {
		m.fatalf("Read(%d, %d, %d) gave %d batches, want %d", off, maxBytes, limit, len(bs), len(want))
	}
	for j := range bs {
		if !bytes.Equal(bs[j], want[j]) {
			m.fatalf("Read(%d, %d, %d): batch %d differs", off, maxBytes, limit, j)
		}
	}
}

// timestamps checks OffsetForTimestamp and MaxTimestamp against the
// model's decoded records.
func (m *logModel) timestamps(t *rapid.T) {
	l := m.l
	limit := rapid.Int64Range(l.LogStartOffset(), l.LogEndOffset()+1).Draw(t, "tsLimit")
	ts := m.nowMs + int64(rapid.IntRange(-20000, 1000).Draw(t, "ts"))
	var wantOff, wantTs, maxOff, maxTs int64
	found, maxFound := false, false
	for _, mb := range m.cur {
		recs, err := record.DecodeRecords(mb.data, 1<<20)
		if err != nil {
			m.fatalf("model batch: %v", err)
		}
		for _, r := range recs {
			if r.Offset < l.LogStartOffset() || r.Offset >= limit {
				continue
			}
			if !found && r.Timestamp >= ts {
				wantOff, wantTs, found = r.Offset, r.Timestamp, true
			}
			if !maxFound || r.Timestamp > maxTs {
				maxOff, maxTs, maxFound = r.Offset, r.Timestamp, true
			}
		}
	}
	off, gotTs, ok, err := l.OffsetForTimestamp(ts, limit)
	if err != nil || ok != found || (ok && (off != wantOff || gotTs != wantTs)) {
		m.fatalf("OffsetForTimestamp(%d, %d) = %d, %d, %v, %v; want %d, %d, %v", ts, limit, off, gotTs, ok, err, wantOff, wantTs, found)
	}
	off, gotTs, ok, err = l.MaxTimestamp(limit)
	if err != nil || ok != maxFound || (ok && (off != maxOff || gotTs != maxTs)) {
		m.fatalf("MaxTimestamp(%d) = %d, %d, %v, %v; want %d, %d, %v", limit, off, gotTs, ok, err, maxOff, maxTs, maxFound)
	}
}

// epochs checks EndOffsetForEpoch against the epochs of the model's
// batches.
func (m *logModel) epochs(t *rapid.T) {
	if len(m.cur) == 0 {
		return
	}
	e := int32(rapid.IntRange(0, int(m.epoch)+1).Draw(t, "epoch"))
	first := headerOf(t, m.cur[0].data).PartitionLeaderEpoch
	gotEpoch, gotEnd, ok := m.l.EndOffsetForEpoch(e)
	if e < first {
		if ok {
			m.fatalf("EndOffsetForEpoch(%d) = %d, %d below the first epoch %d", e, gotEpoch, gotEnd, first)
		}
		return
	}
	wantEpoch, wantEnd := int32(-1), m.leo()
	for _, mb := range m.cur {
		be := headerOf(t, mb.data).PartitionLeaderEpoch
		if be <= e {
			wantEpoch = be
		} else {
			wantEnd = mb.base
			break
		}
	}
	if !ok || gotEpoch != wantEpoch || gotEnd != wantEnd {
		m.fatalf("EndOffsetForEpoch(%d) = %d, %d, %v; want %d, %d", e, gotEpoch, gotEnd, ok, wantEpoch, wantEnd)
	}
	if m.l.LatestEpoch() != headerOf(t, m.cur[len(m.cur)-1].data).PartitionLeaderEpoch {
		m.fatalf("LatestEpoch %d, last batch has %d", m.l.LatestEpoch(), headerOf(t, m.cur[len(m.cur)-1].data).PartitionLeaderEpoch)
	}
}

func (m *logModel) advanceTime(t *rapid.T) {
	m.nowMs += int64(rapid.IntRange(0, 3000).Draw(t, "advanceMs"))
}

// crash drops unsynced data (keeping a seeded torn prefix of unsynced
// appends), reopens, and checks that everything synced survived
// byte-for-byte and that everything else is something once written.
func (m *logModel) crash(t *rapid.T) {
	durable := m.l.DurableEndOffset()
	start := m.l.LogStartOffset()
	var keep func(int) int
	if rapid.Bool().Draw(t, "torn") {
		keep = memdisk.NewSplitMix64(rapid.Uint64().Draw(t, "tornSeed")).Intn
	}
	m.d = m.d.Crash(keep)
	m.job = nil
	m.nowMs += 10
	m.open()
	r := m.l.Recovery()
	m.logf("crash (durable %d, start %d) -> LEO %d start %d recovery %+v", durable, start, m.l.LogEndOffset(), m.l.LogStartOffset(), r)
	if r.LostDurableData {
		m.fatalf("recovery lost durable data: %+v", r)
	}
	if m.l.LogStartOffset() != start {
		m.fatalf("log start %d after crash, was %d", m.l.LogStartOffset(), start)
	}
	if m.l.LogEndOffset() < durable {
		m.fatalf("LEO %d after crash below the durable end %d", m.l.LogEndOffset(), durable)
	}
	got := m.readAll()
	j := 0
	for _, mb := range m.cur {
		if mb.last >= durable {
			break
		}
		if j >= len(got) || !bytes.Equal(got[j], mb.data) {
			m.fatalf("synced batch [%d, %d] not readable byte-for-byte after crash", mb.base, mb.last)
		}
		j++
	}
	// Beyond the durable end, every surviving batch must be one that was
	// written at that offset at some point.
	var cur []modelBatch
	for _, b := range got {
		h := headerOf(t, b)
		found := false
		for _, v := range m.ever[h.BaseOffset] {
			if bytes.Equal(v, b) {
				found = true
			}
		}
		if !found {
			m.fatalf("batch at %d after crash was never written", h.BaseOffset)
		}
		cur = append(cur, modelBatch{base: h.BaseOffset, last: h.LastOffset(), data: b})
	}
	m.cur = cur
	if m.l.LatestEpoch() > m.epoch {
		m.fatalf("latest epoch %d above any appended %d", m.l.LatestEpoch(), m.epoch)
	}
	m.epoch = max(m.epoch, m.l.LatestEpoch())
	m.newProducerEpoch()
}

// reopen is a clean restart: sync, checkpoint, close, open. Nothing may
// change and the recovery must trust everything below the log end.
func (m *logModel) reopen(t *rapid.T) {
	if m.job != nil {
		m.finishSync(t)
	}
	syncNow(t, m.l)
	if err := m.l.Checkpoint(); err != nil {
		m.fatalf("Checkpoint: %v", err)
	}
	hw, leo := m.l.HighWatermark(), m.l.LogEndOffset()
	if err := m.l.Close(); err != nil {
		m.fatalf("Close: %v", err)
	}
	m.open()
	r := m.l.Recovery()
	m.logf("reopen -> %+v", r)
	if r.TruncatedAt != -1 || m.l.HighWatermark() != hw || m.l.LogEndOffset() != leo || m.l.DurableEndOffset() != leo {
		m.fatalf("clean reopen changed the log: %+v, HW %d/%d LEO %d/%d durable %d", r, m.l.HighWatermark(), hw, m.l.LogEndOffset(), leo, m.l.DurableEndOffset())
	}
}

// TestPropertyLog runs random operation sequences against the model in
// three regimes of configs (each rapid.Check runs -rapid.checks cases,
// 100 by default; -rapid.checks=40000 was used while developing).
func TestPropertyLog(t *testing.T) {
	regimes := []struct {
		name          string
		segmentBytes  [2]int
		indexInterval [2]int
	}{
		{"small-segments", [2]int{200, 3000}, [2]int{0, 500}},
		{"tiny-segments", [2]int{14, 300}, [2]int{0, 50}},
		{"large-segments", [2]int{3000, 20000}, [2]int{50, 4096}},
	}
	// Each rapid.Check draws a fresh seed; repeating it buys more cases
	// per run (about 2,400 in total, a few seconds) without a flag.
	reps := 8
	if testing.Short() {
		reps = 1
	}
	for _, r := range regimes {
		t.Run(r.name, func(t *testing.T) {
			for range reps {
				propertyLog(t, r.segmentBytes, r.indexInterval)
			}
		})
	}
}

func propertyLog(t *testing.T, segmentBytes, indexInterval [2]int) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := DefaultConfig()
		cfg.SegmentBytes = int64(rapid.IntRange(segmentBytes[0], segmentBytes[1]).Draw(t, "segmentBytes"))
		cfg.IndexIntervalBytes = int64(rapid.IntRange(indexInterval[0], indexInterval[1]).Draw(t, "indexInterval"))
		cfg.SegmentMs = int64(rapid.IntRange(1000, 20000).Draw(t, "segmentMs"))
		cfg.RetentionMs = rapid.SampledFrom([]int64{-1, 5000, 30000}).Draw(t, "retentionMs")
		cfg.RetentionBytes = rapid.SampledFrom([]int64{-1, 0, 2000, 6000}).Draw(t, "retentionBytes")
		cfg.MaxProducerIDs = rapid.SampledFrom([]int{0, 1}).Draw(t, "maxProducerIDs")
		m := &logModel{t: t, d: memdisk.New(), cfg: cfg, ever: map[int64][][]byte{}, pid: 77, nowMs: 100000}
		m.open()
		actions := map[string]func(*rapid.T){
			"append":        m.append,
			"append2":       m.append,
			"append3":       m.append,
			"retry":         m.retry,
			"startSync":     m.startSync,
			"finishSync":    m.finishSync,
			"setHW":         m.setHW,
			"retention":     m.retention,
			"deleteRecords": m.deleteRecords,
			"truncate":      m.truncate,
			"checkpoint":    m.checkpoint,
			"read":          m.read,
			"advanceTime":   m.advanceTime,
			"timestamps":    m.timestamps,
			"epochs":        m.epochs,
			"crash":         m.crash,
			"reopen":        m.reopen,
		}
		names := make([]string, 0, len(actions))
		for k := range actions {
			names = append(names, k)
		}
		sort.Strings(names)
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for range steps {
			name := rapid.SampledFrom(names).Draw(t, "action")
			actions[name](t)
			m.check()
		}
	})
}
