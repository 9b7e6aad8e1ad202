package partlog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/record"
	"pgregory.net/rapid"
)

// kv is one keyed record for a test batch; tomb makes its value null.
type kv struct {
	key, value string
	tomb       bool
}

// keyedBatch builds a batch of kvs stamped ts (a nil key for key "").
func keyedBatch(ts int64, codec record.Codec, kvs ...kv) []byte {
	opts := record.DefaultBatchOptions()
	opts.Codec = codec
	recs := make([]record.Record, len(kvs))
	for i, r := range kvs {
		recs[i] = record.Record{Timestamp: ts}
		if r.key != "" {
			recs[i].Key = []byte(r.key)
		}
		if !r.tomb {
			recs[i].Value = []byte(r.value)
		}
	}
	return record.MustBuild(opts, recs)
}

// compactConfig: compaction only, small segments, every dirty byte
// worth a clean, tombstones kept for 1000 ms.
func compactConfig() Config {
	c := smallConfig()
	c.SegmentBytes = 600
	c.CleanupPolicy = CleanupCompact
	c.MinCleanableDirtyRatio = 0
	c.DeleteRetentionMs = 1000
	return c
}

// stored is what one offset held when it was appended.
type stored struct {
	key, value string
	tomb       bool
}

// compactModel remembers every appended record by offset, and so knows
// what a cleaned log may and must hold.
type compactModel struct {
	at map[int64]stored
}

func newCompactModel() *compactModel { return &compactModel{at: map[int64]stored{}} }

// appendKV appends one batch and records its offsets.
func (m *compactModel) appendKV(t tb, l *Log, epoch int32, ts int64, codec record.Codec, kvs ...kv) {
	t.Helper()
	res := mustAppend(t, l, keyedBatch(ts, codec, kvs...), epoch, ts)
	for i, r := range kvs {
		if r.tomb {
			r.value = ""
		}
		m.at[res.BaseOffset+int64(i)] = stored{r.key, r.value, r.tomb}
	}
}

// latest is each key's latest record, and its offset.
func (m *compactModel) latest() (map[string]stored, map[string]int64) {
	offs := make([]int64, 0, len(m.at))
	for o := range m.at {
		offs = append(offs, o)
	}
	slices.Sort(offs)
	last, lastOff := map[string]stored{}, map[string]int64{}
	for _, o := range offs {
		if r := m.at[o]; r.key != "" {
			last[r.key], lastOff[r.key] = r, o
		}
	}
	return last, lastOff
}

// readRecords reads the whole log (to the log end) and decodes every
// record, failing on offsets that do not increase.
func readRecords(t tb, l *Log) ([]int64, []stored) {
	t.Helper()
	var offs []int64
	var recs []stored
	prev := int64(-1)
	for _, b := range readBatches(t, l, l.LogStartOffset(), l.LogEndOffset()) {
		rs, err := record.DecodeRecords(b, 1<<24)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		for _, r := range rs {
			if r.Offset <= prev {
				t.Fatalf("offset %d after %d: offsets must only increase", r.Offset, prev)
			}
			prev = r.Offset
			offs = append(offs, r.Offset)
			recs = append(recs, stored{key: string(r.Key), value: string(r.Value), tomb: r.Value == nil})
		}
	}
	return offs, recs
}

// verify checks the log against the model: every record read is the one
// appended at its offset (so no offset was reused and none duplicated),
// every key's latest record is there (a tombstone may be gone only when
// tombstonesMayGo), and no record of a key follows its latest.
func (m *compactModel) verify(t tb, l *Log, leo int64, tombstonesMayGo bool) {
	t.Helper()
	if l.LogEndOffset() != leo {
		t.Fatalf("log end %d, want %d", l.LogEndOffset(), leo)
	}
	offs, recs := readRecords(t, l)
	last, lastOff := m.latest()
	lastRead := map[string]int64{}
	for i, o := range offs {
		want, ok := m.at[o]
		if !ok || want != recs[i] {
			t.Fatalf("offset %d holds %+v, appended there: %+v (present %v)", o, recs[i], want, ok)
		}
		lastRead[want.key] = o
	}
	for k, r := range last {
		got, ok := lastRead[k]
		switch {
		case ok && got != lastOff[k]:
			t.Fatalf("key %q: last record read at offset %d, its latest is at %d", k, got, lastOff[k])
		case !ok && !(r.tomb && tombstonesMayGo):
			t.Fatalf("key %q lost its latest record %+v at offset %d", k, r, lastOff[k])
		}
	}
}

// prepare makes everything appended durable and committed, so that the
// sealed segments are cleanable.
func prepare(t tb, l *Log) {
	t.Helper()
	syncNow(t, l)
	l.SetHighWatermark(l.LogEndOffset())
}

// cleanNow runs a whole clean job on the test goroutine; ran=false when
// StartClean had nothing to do.
func cleanNow(t tb, l *Log, nowMs int64) (ran bool, job *CleanJob) {
	t.Helper()
	job, ok := l.StartClean(nowMs)
	if !ok {
		return false, nil
	}
	if _, err := l.FinishClean(job, job.Run()); err != nil {
		t.Fatalf("clean: %v", err)
	}
	checkLog(t, l)
	return true, job
}

// cleanedLeftovers lists the .cleaned files in the log's directory.
func cleanedLeftovers(t tb, d disk.Disk) []string {
	t.Helper()
	names, err := d.List(testDir)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return slices.DeleteFunc(names, func(n string) bool { return !strings.HasSuffix(n, cleanedSuffix) })
}

// fillKeys appends n batches of 1-3 records over keys k0..k(keys-1),
// a value naming its batch.
func fillKeys(t tb, l *Log, m *compactModel, n, keys int, ts int64, codec record.Codec) {
	t.Helper()
	fillKeysEpoch(t, l, m, n, keys, 1, ts, codec)
}

// fillKeysEpoch is fillKeys at a leader epoch.
func fillKeysEpoch(t tb, l *Log, m *compactModel, n, keys int, epoch int32, ts int64, codec record.Codec) {
	t.Helper()
	for i := range n {
		var kvs []kv
		for j := range 1 + i%3 {
			kvs = append(kvs, kv{key: fmt.Sprintf("k%d", (i*7+j*3)%keys), value: fmt.Sprintf("v%d-%d", i, j)})
		}
		m.appendKV(t, l, epoch, ts, codec, kvs...)
	}
}

func TestCleanKeepsLatestPerKeyWithOffsets(t *testing.T) {
	for _, codec := range []record.Codec{record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			d := memdisk.New()
			l := openLog(t, d, compactConfig(), 0)
			m := newCompactModel()
			fillKeys(t, l, m, 120, 10, 100, codec)
			prepare(t, l)
			leo, size, segs := l.LogEndOffset(), l.SizeBytes(), l.Segments()
			ran, job := cleanNow(t, l, 200)
			if !ran {
				t.Fatal("no clean job for a dirty log")
			}
			if job.Stats().Segments != segs-1 {
				t.Fatalf("cleaned %d segments, want every sealed one (%d)", job.Stats().Segments, segs-1)
			}
			if l.SizeBytes() >= size {
				t.Fatalf("size %d after cleaning, %d before", l.SizeBytes(), size)
			}
			m.verify(t, l, leo, false)
			// Each key has one record at most in the cleaned range.
			_, to := job.Range()
			offs, recs := readRecords(t, l)
			count := map[string]int{}
			for i, o := range offs {
				if o < to {
					count[recs[i].key]++
				}
			}
			for k, n := range count {
				if n != 1 {
					t.Fatalf("key %s has %d records in the cleaned range", k, n)
				}
			}
			if len(cleanedLeftovers(t, d)) != 0 {
				t.Fatal("cleaned copies left behind")
			}
			// The cleaned log survives a clean restart.
			syncNow(t, l)
			if err := l.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			l.Close()
			l = openLog(t, d, compactConfig(), 300)
			m.verify(t, l, leo, false)
		})
	}
}

func TestCleanTombstoneRetention(t *testing.T) {
	d := memdisk.New()
	cfg := compactConfig()
	l := openLog(t, d, cfg, 0)
	m := newCompactModel()
	m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "gone", value: "old"}, kv{key: "stay", value: "1"})
	m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "gone", tomb: true})
	fillKeys(t, l, m, 40, 5, 100, record.CodecNone)
	prepare(t, l)
	hasTombstone := func() bool {
		_, recs := readRecords(t, l)
		for _, r := range recs {
			if r.key == "gone" {
				if !r.tomb {
					t.Fatal("the value under the tombstone came back")
				}
				return true
			}
		}
		return false
	}
	if ran, _ := cleanNow(t, l, 200); !ran || !hasTombstone() {
		t.Fatal("first clean: the tombstone must stay (it was never cleaned before)")
	}
	// More dirty data, so that another job runs; the tombstone is
	// younger than delete.retention.ms.
	fillKeys(t, l, m, 40, 5, 150, record.CodecNone)
	prepare(t, l)
	if ran, _ := cleanNow(t, l, 1100); !ran || !hasTombstone() {
		t.Fatal("a tombstone younger than delete.retention.ms was removed")
	}
	fillKeys(t, l, m, 40, 5, 1200, record.CodecNone)
	prepare(t, l)
	ran, job := cleanNow(t, l, 1101+100)
	if !ran || hasTombstone() {
		t.Fatalf("a tombstone older than delete.retention.ms stayed (ran %v)", ran)
	}
	if job.Stats().TombstonesCut != 1 {
		t.Fatalf("stats count %d tombstones cut", job.Stats().TombstonesCut)
	}
	m.verify(t, l, l.LogEndOffset(), true)
}

func TestCleanDirtyRatio(t *testing.T) {
	cfg := compactConfig()
	cfg.MinCleanableDirtyRatio = 0.5
	l := openLog(t, memdisk.New(), cfg, 0)
	m := newCompactModel()
	fillKeys(t, l, m, 60, 3, 100, record.CodecNone)
	prepare(t, l)
	if ran, _ := cleanNow(t, l, 200); !ran {
		t.Fatal("an all-dirty log was not cleaned")
	}
	cleanBytes := l.SizeBytes() - l.active().size
	// Dirty bytes up to the clean bytes: ratio <= 0.5, no job.
	for {
		before := l.Segments()
		m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "x", value: strings.Repeat("v", 150)})
		if l.Segments() == before {
			continue
		}
		prepare(t, l)
		dirty := l.SizeBytes() - l.active().size - cleanBytes
		_, ok := l.StartClean(300)
		if ratio := float64(dirty) / float64(dirty+cleanBytes); ok != (ratio > 0.5) {
			t.Fatalf("dirty ratio %.3f: StartClean %v, threshold 0.5", ratio, ok)
		}
		if ok {
			return
		}
	}
}

// TestCleanCompactionLags: min.compaction.lag.ms holds young segments
// back; max.compaction.lag.ms forces a clean that the ratio (1: never)
// would not start. Records are stamped 1000; the boundary is 6000.
func TestCleanCompactionLags(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		// starts at 5999/6000 (min lag) or 6000/6001 (max lag)
		before, at int64
	}{
		{"min", func(c *Config) { c.MinCompactionLagMs = 5000 }, 5999, 6000},
		{"max", func(c *Config) { c.MinCleanableDirtyRatio, c.MaxCompactionLagMs = 1, 5000 }, 6000, 6001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := compactConfig()
			tc.set(&cfg)
			l := openLog(t, memdisk.New(), cfg, 0)
			fillKeys(t, l, newCompactModel(), 30, 3, 1000, record.CodecNone)
			prepare(t, l)
			if _, ok := l.StartClean(tc.before); ok {
				t.Fatalf("a job at %d", tc.before)
			}
			if _, ok := l.StartClean(tc.at); !ok {
				t.Fatalf("no job at %d", tc.at)
			}
		})
	}
}

func TestCleanNeedsCompactPolicyAndCommittedData(t *testing.T) {
	cfg := compactConfig()
	cfg.CleanupPolicy = CleanupDelete
	l := openLog(t, memdisk.New(), cfg, 0)
	fillKeys(t, l, newCompactModel(), 30, 3, 100, record.CodecNone)
	prepare(t, l)
	if _, ok := l.StartClean(200); ok {
		t.Fatal("a delete-only log was cleaned")
	}
	cfg.CleanupPolicy = CleanupCompact
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(0)
	if _, ok := l.StartClean(200); ok {
		t.Fatal("data above the high watermark was cleaned")
	}
	l.SetHighWatermark(l.LogEndOffset())
	if _, ok := l.StartClean(200); !ok {
		t.Fatal("no job once committed")
	}
	if _, ok := l.StartClean(200); ok {
		t.Fatal("two jobs at once")
	}
}

// TestCleanReadsAcrossHoles reads from every offset of a cleaned log and
// checks the answer starts with the batch covering it; timestamp and
// epoch lookups agree with the log before cleaning.
func TestCleanReadsAcrossHoles(t *testing.T) {
	l := openLog(t, memdisk.New(), compactConfig(), 0)
	m := newCompactModel()
	for e := int32(1); e <= 3; e++ {
		for i := range 30 {
			ts := int64(e)*1000 + int64(i)
			m.appendKV(t, l, e, ts, record.CodecNone, kv{key: fmt.Sprintf("k%d", i%4), value: fmt.Sprintf("v%d-%d", e, i)})
		}
	}
	prepare(t, l)
	type tsAnswer struct {
		off, ts int64
		found   bool
	}
	lookups := func() (out []tsAnswer) {
		for _, ts := range []int64{0, 1005, 2000, 2029, 3015, 9999} {
			o, x, f, err := l.OffsetForTimestamp(ts, l.HighWatermark())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tsAnswer{o, x, f})
		}
		return out
	}
	epochsBefore := []int64{}
	for e := int32(0); e <= 4; e++ {
		_, end, _ := l.EndOffsetForEpoch(e)
		epochsBefore = append(epochsBefore, end)
	}
	before := lookups()
	if ran, _ := cleanNow(t, l, 9000); !ran {
		t.Fatal("no clean")
	}
	for e := int32(0); e <= 4; e++ {
		if _, end, _ := l.EndOffsetForEpoch(e); end != epochsBefore[e] {
			t.Fatalf("EndOffsetForEpoch(%d) = %d after cleaning, %d before", e, end, epochsBefore[e])
		}
	}
	after := lookups()
	offs, _ := readRecords(t, l)
	for i, a := range after {
		b := before[i]
		// The answer may move forward to the next surviving record, never back.
		if a.found != b.found || (a.found && (a.off < b.off || !slices.Contains(offs, a.off))) {
			t.Fatalf("OffsetForTimestamp lookup %d: %+v after cleaning, %+v before", i, a, b)
		}
	}
	for o := int64(0); o < l.LogEndOffset(); o++ {
		res, err := l.Read(o, 1, l.HighWatermark())
		if err != nil {
			t.Fatalf("Read(%d): %v", o, err)
		}
		h := headerOf(t, res.Records)
		if h.BaseOffset > o || h.NextOffset() <= o {
			t.Fatalf("Read(%d) starts with the batch [%d, %d)", o, h.BaseOffset, h.NextOffset())
		}
	}
	m.verify(t, l, l.LogEndOffset(), false)
}

// TestCleanMergesEmptyBatches: a key overwritten batch after batch (a
// group's offset commits) leaves a bounded log.
func TestCleanMergesEmptyBatches(t *testing.T) {
	l := openLog(t, memdisk.New(), compactConfig(), 0)
	m := newCompactModel()
	for i := range 400 {
		m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "group", value: fmt.Sprintf("commit-%03d", i)})
	}
	prepare(t, l)
	cleanNow(t, l, 200)
	sealed := l.SizeBytes() - l.active().size
	if perSeg := sealed / int64(l.Segments()-1); perSeg > 2*record.HeaderSize+100 {
		t.Fatalf("cleaned segments hold %d bytes each: empty batches were not merged", perSeg)
	}
	m.verify(t, l, l.LogEndOffset(), false)
}

func TestCleanKeepsTransactionalAndIdempotentState(t *testing.T) {
	l := openLog(t, memdisk.New(), compactConfig(), 0)
	m := newCompactModel()
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = 7, 0, 0
	b := record.MustBuild(opts, []record.Record{{Timestamp: 100, Key: []byte("a"), Value: []byte("idem")}})
	res := mustAppend(t, l, b, 1, 100)
	m.at[res.BaseOffset] = stored{"a", "idem", false}
	opts.ProducerID, opts.BaseSequence, opts.Transactional = 8, 0, true
	b = record.MustBuild(opts, []record.Record{{Timestamp: 100, Key: []byte("a"), Value: []byte("txn")}})
	res = mustAppend(t, l, b, 1, 100)
	txnOffset := res.BaseOffset
	m.at[txnOffset] = stored{"a", "txn", false}
	fillKeys(t, l, m, 40, 3, 100, record.CodecNone)
	m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "a", value: "last"})
	fillKeys(t, l, m, 20, 3, 100, record.CodecNone)
	prepare(t, l)
	if ran, _ := cleanNow(t, l, 200); !ran {
		t.Fatal("no clean")
	}
	offs, _ := readRecords(t, l)
	if !slices.Contains(offs, txnOffset) {
		t.Fatal("a transactional batch was compacted")
	}
	// The idempotent producer's batch is empty now, but its sequence
	// state is kept: a retry is still a duplicate.
	opts.ProducerID, opts.BaseSequence, opts.Transactional = 7, 0, false
	b = record.MustBuild(opts, []record.Record{{Timestamp: 100, Key: []byte("a"), Value: []byte("idem")}})
	dup, err := l.Append(b, 1, 300)
	if err != nil || !dup.Duplicate || dup.BaseOffset != 0 {
		t.Fatalf("retry after cleaning: %+v, %v", dup, err)
	}
	m.verify(t, l, l.LogEndOffset(), false)
}

// TestCleanTombstoneOverTransactionalRecord: a transactional record is
// copied as stored, so a later tombstone of its key must stay, or the
// transactional value would come back as the key's latest.
func TestCleanTombstoneOverTransactionalRecord(t *testing.T) {
	l := openLog(t, memdisk.New(), compactConfig(), 0)
	m := newCompactModel()
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence, opts.Transactional = 9, 0, 0, true
	b := record.MustBuild(opts, []record.Record{{Timestamp: 100, Key: []byte("t"), Value: []byte("txn")}})
	res := mustAppend(t, l, b, 1, 100)
	m.at[res.BaseOffset] = stored{"t", "txn", false}
	m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "t", tomb: true})
	m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "gone", value: "x"})
	m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "gone", tomb: true})
	for i := range 3 {
		fillKeys(t, l, m, 30, 3, 100, record.CodecNone)
		prepare(t, l)
		if ran, _ := cleanNow(t, l, 5000+int64(i)); !ran {
			t.Fatalf("no clean %d", i)
		}
	}
	m.verify(t, l, l.LogEndOffset(), true)
	_, recs := readRecords(t, l)
	if !slices.Contains(recs, stored{"t", "", true}) {
		t.Fatal("the tombstone over a transactional record went")
	}
}

func TestCleanDiscardedWhenTheLogChanges(t *testing.T) {
	for _, change := range []string{"truncate", "retention", "delete-records", "close"} {
		t.Run(change, func(t *testing.T) {
			d := memdisk.New()
			cfg := compactConfig()
			cfg.CleanupPolicy = CleanupCompact | CleanupDelete
			cfg.RetentionMs = 1000
			l := openLog(t, d, cfg, 0)
			m := newCompactModel()
			fillKeys(t, l, m, 60, 4, 100, record.CodecNone)
			prepare(t, l)
			job, ok := l.StartClean(200)
			if !ok {
				t.Fatal("no job")
			}
			runErr := job.Run()
			if runErr != nil {
				t.Fatal(runErr)
			}
			if len(cleanedLeftovers(t, d)) == 0 {
				t.Fatal("Run wrote no cleaned copy")
			}
			switch change {
			case "truncate":
				// Above the range: still a change to a sealed segment's
				// neighbourhood the job cannot vouch for.
				if err := l.TruncateTo(job.srcs[1].base + 1); err != nil {
					t.Fatal(err)
				}
			case "retention":
				if n, err := l.ApplyRetention(5000); err != nil || n == 0 {
					t.Fatalf("retention deleted %d: %v", n, err)
				}
			case "delete-records":
				if err := l.DeleteRecordsBefore(job.srcs[1].next); err != nil {
					t.Fatal(err)
				}
			case "close":
				l.Close()
			}
			n, err := l.FinishClean(job, nil)
			wantErr(t, err, ErrCleanDiscarded)
			if n != 0 || len(cleanedLeftovers(t, d)) != 0 {
				t.Fatalf("%d installed, leftovers %v", n, cleanedLeftovers(t, d))
			}
			if change == "close" {
				return
			}
			checkLog(t, l)
			readRecords(t, l)
			if _, ok := l.StartClean(6000); !ok && change != "retention" {
				t.Fatal("no new job after a discarded one")
			}
		})
	}
}

func TestCleanFailedRunLeavesLogAsItWas(t *testing.T) {
	d := memdisk.New()
	l := openLog(t, d, compactConfig(), 0)
	m := newCompactModel()
	fillKeys(t, l, m, 60, 4, 100, record.CodecNone)
	prepare(t, l)
	leo, size := l.LogEndOffset(), l.SizeBytes()
	job, _ := l.StartClean(200)
	boom := errors.New("boom")
	writes := 0
	d.SetFault(func(op memdisk.Op, name string) error {
		if op == memdisk.OpWriteAt && strings.HasSuffix(name, cleanedSuffix) {
			if writes++; writes == 2 {
				return boom
			}
		}
		return nil
	})
	err := job.Run()
	d.SetFault(nil)
	n, ferr := l.FinishClean(job, err)
	if !errors.Is(ferr, boom) || n != 0 || l.Failed() != nil {
		t.Fatalf("FinishClean: %d, %v; failed %v", n, ferr, l.Failed())
	}
	if l.SizeBytes() != size || len(cleanedLeftovers(t, d)) != 0 {
		t.Fatal("a failed job changed the log")
	}
	checkLog(t, l)
	m.verify(t, l, leo, false)
}

// crashScenario builds a log with two cleans' worth of data (the second
// removes an expired tombstone), and returns it with its model.
func crashScenario(t tb, d *memdisk.Disk) (*Log, *compactModel) {
	l := openLog(t, d, compactConfig(), 0)
	m := newCompactModel()
	m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "gone", value: "old"})
	fillKeys(t, l, m, 20, 4, 100, record.CodecNone)
	m.appendKV(t, l, 1, 100, record.CodecNone, kv{key: "gone", tomb: true})
	fillKeys(t, l, m, 30, 4, 100, record.CodecNone)
	prepare(t, l)
	if ran, _ := cleanNow(t, l, 200); !ran {
		t.Fatalf("no first clean")
	}
	fillKeys(t, l, m, 30, 4, 3000, record.CodecNone)
	m.appendKV(t, l, 2, 3000, record.CodecNone, kv{key: "k1", value: "new epoch"})
	fillKeysEpoch(t, l, m, 10, 4, 2, 3000, record.CodecNone)
	prepare(t, l)
	return l, m
}

// TestCleanPowerLossAtEveryStep cuts the power before each disk operation
// of the second clean's Run and FinishClean (the operation fails, nothing
// after it happens), with every unsynced change lost or a random part of
// it kept, and reopens: every key's latest record, every offset, the log
// end, and no duplicates.
func TestCleanPowerLossAtEveryStep(t *testing.T) {
	for _, finish := range []bool{false, true} {
		for step := 0; ; step++ {
			d := memdisk.New()
			l, m := crashScenario(t, d)
			leo := l.LogEndOffset()
			job, ok := l.StartClean(5000)
			if !ok {
				t.Fatal("no second clean")
			}
			ops := 0
			cut := errors.New("power cut")
			d.SetFault(func(op memdisk.Op, name string) error {
				if ops++; ops > step {
					return cut
				}
				return nil
			})
			err := job.Run()
			if err == nil || finish {
				l.FinishClean(job, err)
			}
			reached := ops <= step
			d.SetFault(nil)
			// Without the power cut, the log goes on whole (a failed
			// index write after a rename is the one failure that fails
			// it, as a failed roll does).
			if l.Failed() == nil && !l.CleanInFlight() {
				checkLog(t, l)
				m.verify(t, l, leo, true)
			}
			for _, keepAll := range []bool{false, true} {
				var keep func(int) int
				if keepAll {
					r := memdisk.NewSplitMix64(uint64(step))
					keep = r.Intn
				}
				d2 := d.Crash(keep)
				l2 := openLog(t, d2, compactConfig(), 6000)
				m.verify(t, l2, leo, true)
				if left := cleanedLeftovers(t, d2); len(left) != 0 {
					t.Fatalf("Open left cleaned copies: %v", left)
				}
				l2.Close()
			}
			if reached {
				t.Logf("finish=%v: %d steps", finish, step)
				if step < 5 {
					t.Fatalf("the job took only %d steps", step)
				}
				break
			}
		}
	}
}

// TestCleanPowerLossAfterInstall: after FinishClean and before any
// directory sync, a power loss may keep or undo each rename; either way
// the log is whole. Then the next job's first step makes them durable.
func TestCleanPowerLossAfterInstall(t *testing.T) {
	d := memdisk.New()
	l, m := crashScenario(t, d)
	leo := l.LogEndOffset()
	if ran, _ := cleanNow(t, l, 5000); !ran {
		t.Fatal("no clean")
	}
	l2 := openLog(t, d.Crash(nil), compactConfig(), 6000)
	m.verify(t, l2, leo, true)
	syncNow(t, l)
	l3 := openLog(t, d.Crash(nil), compactConfig(), 6000)
	m.verify(t, l3, leo, true)
	if l3.SizeBytes() != l.SizeBytes() {
		t.Fatalf("after the sync job the cleaned log (%d bytes) is durable, found %d", l.SizeBytes(), l3.SizeBytes())
	}
}

// TestCleanMapBoundCleansAPrefix: a key map too small for the dirty range
// cleans a prefix, and the next job goes on from there.
func TestCleanMapBoundCleansAPrefix(t *testing.T) {
	cfg := compactConfig()
	cfg.CleanerMapBytes = 20 * (cleanerKeyOverhead + 4)
	l := openLog(t, memdisk.New(), cfg, 0)
	m := newCompactModel()
	fillKeys(t, l, m, 200, 60, 100, record.CodecNone)
	prepare(t, l)
	leo := l.LogEndOffset()
	jobs := 0
	for {
		ran, job := cleanNow(t, l, 200)
		if !ran {
			break
		}
		if job.Stats().Keys > 20+3 {
			t.Fatalf("map held %d keys, bound 20 (+ one batch)", job.Stats().Keys)
		}
		jobs++
		m.verify(t, l, leo, false)
	}
	if jobs < 2 {
		t.Fatalf("%d jobs: the bound did not split the work", jobs)
	}
}

// TestCleanedLogReplicates: a follower catching up from a cleaned log
// accepts its batches as they are and ends up with the same records at
// the same offsets and the same epochs.
func TestCleanedLogReplicates(t *testing.T) {
	l := openLog(t, memdisk.New(), compactConfig(), 0)
	m := newCompactModel()
	fillKeys(t, l, m, 40, 5, 100, record.CodecZstd)
	fillKeysEpoch(t, l, m, 40, 5, 3, 100, record.CodecNone)
	prepare(t, l)
	if ran, _ := cleanNow(t, l, 200); !ran {
		t.Fatal("no clean")
	}
	f := openLog(t, memdisk.New(), compactConfig(), 0)
	for f.LogEndOffset() < l.LogEndOffset() {
		res, err := l.Read(f.LogEndOffset(), 500, l.LogEndOffset())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.AppendAsFollower(res.Records, 300); err != nil {
			t.Fatalf("follower append at %d: %v", f.LogEndOffset(), err)
		}
	}
	checkLog(t, f)
	m.verify(t, f, l.LogEndOffset(), false)
	for e := int32(0); e <= 4; e++ {
		_, a, _ := l.EndOffsetForEpoch(e)
		_, b, _ := f.EndOffsetForEpoch(e)
		if a != b {
			t.Fatalf("EndOffsetForEpoch(%d): leader %d, follower %d", e, a, b)
		}
	}
}

func TestCheckKeyed(t *testing.T) {
	if err := CheckKeyed(keyedBatch(1, record.CodecGzip, kv{key: "a", value: "1"}, kv{key: "b", tomb: true}), nil); err != nil {
		t.Fatal(err)
	}
	wantErr(t, CheckKeyed(keyedBatch(1, record.CodecNone, kv{key: "a", value: "1"}, kv{value: "x"}), nil), ErrKeylessRecord)
}

func TestParseCleanupPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want CleanupPolicy
		ok   bool
	}{
		{"delete", CleanupDelete, true},
		{"compact", CleanupCompact, true},
		{"compact,delete", CleanupCompact | CleanupDelete, true},
		{"delete, compact", CleanupCompact | CleanupDelete, true},
		{"", 0, false},
		{"compact,", 0, false},
		{"Compact", 0, false},
	} {
		got, err := ParseCleanupPolicy(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Fatalf("ParseCleanupPolicy(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok {
			if back, _ := ParseCleanupPolicy(got.String()); back != got {
				t.Fatalf("%q does not read back as %v", got.String(), got)
			}
		}
	}
}

func TestCleanConfigValidate(t *testing.T) {
	for _, bad := range []func(*Config){
		func(c *Config) { c.CleanupPolicy = 4 },
		func(c *Config) { c.DeleteRetentionMs = -1 },
		func(c *Config) { c.MinCleanableDirtyRatio = 1.5 },
		func(c *Config) { c.MinCleanableDirtyRatio = -0.1 },
		func(c *Config) { c.MinCompactionLagMs = -1 },
		func(c *Config) { c.MaxCompactionLagMs = -1 },
		func(c *Config) { c.CleanerMapBytes = -1 },
	} {
		c := DefaultConfig()
		bad(&c)
		if c.Validate() == nil {
			t.Fatalf("%+v validated", c)
		}
	}
	if err := compactConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestCleanProperty: random keyed appends (tombstones, several epochs and
// codecs), cleans (some failing at a random disk operation), and power
// losses with reopen, against the model of every appended record.
func TestCleanProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cfg := compactConfig()
		cfg.CleanerMapBytes = int64(rapid.IntRange(3, 40).Draw(rt, "mapKeys")) * (cleanerKeyOverhead + 2)
		d := memdisk.New()
		l := openLog(rt, d, cfg, 0)
		m := newCompactModel()
		now, epoch := int64(100), int32(1)
		for range rapid.IntRange(1, 40).Draw(rt, "steps") {
			switch rapid.IntRange(0, 6).Draw(rt, "op") {
			case 0, 1, 2:
				var kvs []kv
				for range rapid.IntRange(1, 4).Draw(rt, "records") {
					kvs = append(kvs, kv{
						key:   fmt.Sprintf("k%d", rapid.IntRange(0, 12).Draw(rt, "key")),
						value: strings.Repeat("v", rapid.IntRange(0, 60).Draw(rt, "valueSize")),
						tomb:  rapid.IntRange(0, 5).Draw(rt, "tomb") == 0,
					})
				}
				if rapid.IntRange(0, 9).Draw(rt, "newEpoch") == 0 {
					epoch++
				}
				codec := []record.Codec{record.CodecNone, record.CodecZstd}[rapid.IntRange(0, 1).Draw(rt, "codec")]
				m.appendKV(rt, l, epoch, now, codec, kvs...)
				syncNow(rt, l)
				// The high watermark moves to a batch boundary, now and
				// then, as a follower's fetch moves it.
				if rapid.Bool().Draw(rt, "commit") {
					l.SetHighWatermark(l.LogEndOffset())
				}
			case 3:
				now += int64(rapid.IntRange(0, 1500).Draw(rt, "elapse"))
				job, ok := l.StartClean(now)
				if !ok {
					continue
				}
				failAt := rapid.IntRange(0, 60).Draw(rt, "failAt")
				ops := 0
				d.SetFault(func(memdisk.Op, string) error {
					if ops++; failAt > 0 && ops == failAt {
						return errors.New("injected")
					}
					return nil
				})
				err := job.Run()
				d.SetFault(nil)
				if rapid.IntRange(0, 3).Draw(rt, "truncateMid") == 0 {
					truncate(rt, l, m)
				}
				l.FinishClean(job, err)
				checkLog(rt, l)
			case 6:
				truncate(rt, l, m)
			case 4, 5:
				var keep func(int) int
				if rapid.Bool().Draw(rt, "torn") {
					keep = memdisk.NewSplitMix64(uint64(now)).Intn
				}
				if rapid.Bool().Draw(rt, "midClean") {
					if job, ok := l.StartClean(now); ok && rapid.Bool().Draw(rt, "run") {
						job.Run()
					}
				}
				hw := l.HighWatermark()
				d = d.Crash(keep)
				l = openLog(rt, d, cfg, now)
				l.SetHighWatermark(hw)
			}
			m.verify(rt, l, l.LogEndOffset(), true)
			if len(m.at) > 0 {
				maxOff := int64(0)
				for o := range m.at {
					maxOff = max(maxOff, o)
				}
				if l.LogEndOffset() != maxOff+1 {
					rt.Fatalf("log end %d, model holds offsets up to %d", l.LogEndOffset(), maxOff)
				}
			}
		}
	})
}

// truncate cuts the log at a random offset at or above the high
// watermark (whole batches, as a follower's truncation by epoch does:
// Kafka never truncates committed records, and the cleaner relies on it)
// and drops what went from the model.
func truncate(rt *rapid.T, l *Log, m *compactModel) {
	if err := l.TruncateTo(rapid.Int64Range(l.HighWatermark(), l.LogEndOffset()).Draw(rt, "truncateTo")); err != nil {
		rt.Fatalf("TruncateTo: %v", err)
	}
	for o := range m.at {
		if o >= l.LogEndOffset() {
			delete(m.at, o)
		}
	}
	checkLog(rt, l)
}

// BenchmarkClean100kRecords10kKeys: one job over 100k records (10
// per batch) of 10k keys, already synced and committed.
func BenchmarkClean100kRecords10kKeys(b *testing.B) {
	cfg := compactConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.IndexIntervalBytes = 4096
	d := memdisk.New()
	l := openLog(b, d, cfg, 0)
	for i := range 10000 {
		var kvs []kv
		for j := range 10 {
			kvs = append(kvs, kv{key: fmt.Sprintf("key-%05d", (i*10+j)*7919%10000), value: fmt.Sprintf("value-%08d", i*10+j)})
		}
		if _, err := l.Append(keyedBatch(100, record.CodecNone, kvs...), 1, 100); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.roll(); err != nil {
		b.Fatal(err)
	}
	prepare(b, l)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		job, ok := l.StartClean(200)
		if !ok {
			b.Fatal("no job")
		}
		if err := job.Run(); err != nil {
			b.Fatal(err)
		}
		// Throw the output away so that every iteration cleans the
		// same 100k records.
		b.StopTimer()
		if _, err := l.FinishClean(job, ErrCleanDiscarded); !errors.Is(err, ErrCleanDiscarded) {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
}
