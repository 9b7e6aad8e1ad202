package partlog

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/record"
)

// txnBatch builds a transactional batch of n records.
func txnBatch(pid int64, epoch int16, seq int32, n int) []byte {
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = pid, epoch, seq
	opts.Transactional = true
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Timestamp: 1000, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("txn-p%d-e%d-s%d", pid, epoch, int(seq)+i))}
	}
	return record.MustBuild(opts, recs)
}

func mustMarker(t tb, l *Log, pid int64, epoch int16, commit bool, coordEpoch int32) int64 {
	t.Helper()
	res, err := l.AppendTxnMarker(TxnMarker{ProducerID: pid, ProducerEpoch: epoch, Commit: commit, CoordinatorEpoch: coordEpoch}, 1, 0)
	if err != nil {
		t.Fatalf("AppendTxnMarker(pid %d epoch %d commit %v): %v", pid, epoch, commit, err)
	}
	if res.BaseOffset != res.LastOffset {
		t.Fatalf("marker spans [%d, %d]", res.BaseOffset, res.LastOffset)
	}
	checkLog(t, l)
	return res.BaseOffset
}

func aborted(t tb, l *Log, from, upTo int64) []AbortedTxn {
	t.Helper()
	a, err := l.AbortedTransactions(from, upTo)
	if err != nil {
		t.Fatalf("AbortedTransactions(%d, %d): %v", from, upTo, err)
	}
	return a
}

// TestTxnOpenHoldsLSO: an open transaction holds the last stable offset at
// its first offset while the high watermark passes it; its commit marker
// releases it; a read capped at the LSO returns nothing of it.
func TestTxnOpenHoldsLSO(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	mustAppend(t, l, batchOf(3, 10, 1, 1), 1, 0)                   // 0-2
	txn := mustAppend(t, l, txnBatch(7, 0, 0, 2), 1, 0).BaseOffset // 3-4
	mustAppend(t, l, batchOf(3, 10, 1, 2), 1, 0)                   // 5-7
	mustAppend(t, l, txnBatch(7, 0, 2, 2), 1, 0)                   // 8-9, same transaction
	l.SetHighWatermark(l.LogEndOffset())
	if got := l.LastStableOffset(); got != txn {
		t.Fatalf("LSO %d with a transaction open at %d (HW %d)", got, txn, l.HighWatermark())
	}
	if open := l.OpenTransactions(); len(open) != 1 || open[0] != (OpenTxn{ProducerID: 7, ProducerEpoch: 0, FirstOffset: txn}) {
		t.Fatalf("open transactions %+v", open)
	}
	res, err := l.Read(0, 1<<20, l.LastStableOffset())
	if err != nil || res.NextOffset != txn {
		t.Fatalf("read_committed read ends at %d (%v), want %d", res.NextOffset, err, txn)
	}
	m := mustMarker(t, l, 7, 0, true, 0)
	if got := l.LastStableOffset(); got != m {
		t.Fatalf("LSO %d after the commit with HW %d, want the HW", got, l.HighWatermark())
	}
	l.SetHighWatermark(l.LogEndOffset())
	if got := l.LastStableOffset(); got != l.LogEndOffset() || len(l.OpenTransactions()) != 0 {
		t.Fatalf("LSO %d after the commit, want LEO %d; open %v", got, l.LogEndOffset(), l.OpenTransactions())
	}
	if a := aborted(t, l, 0, l.LogEndOffset()); len(a) != 0 {
		t.Fatalf("a commit indexed aborts %+v", a)
	}
	// The LSO never passes the high watermark.
	mustAppend(t, l, batchOf(1, 10, 1, 3), 1, 0)
	if got := l.LastStableOffset(); got != l.HighWatermark() {
		t.Fatalf("LSO %d above HW %d", got, l.HighWatermark())
	}
}

// TestTxnAbortIndexed: an aborted transaction's range is returned to a
// read that overlaps it, and only to such a read; two producers' open
// transactions hold the LSO at the earlier one.
func TestTxnAbortIndexed(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	a1 := mustAppend(t, l, txnBatch(1, 0, 0, 2), 1, 0).BaseOffset // 0-1
	b1 := mustAppend(t, l, txnBatch(2, 0, 0, 2), 1, 0).BaseOffset // 2-3
	mustAppend(t, l, txnBatch(1, 0, 2, 1), 1, 0)                  // 4
	l.SetHighWatermark(l.LogEndOffset())
	if got := l.LastStableOffset(); got != a1 {
		t.Fatalf("LSO %d, want %d", got, a1)
	}
	ma := mustMarker(t, l, 1, 0, false, 3) // abort producer 1: 5
	l.SetHighWatermark(l.LogEndOffset())
	if got := l.LastStableOffset(); got != b1 {
		t.Fatalf("LSO %d after the abort, want producer 2's %d", got, b1)
	}
	mb := mustMarker(t, l, 2, 0, true, 3) // commit producer 2: 6
	l.SetHighWatermark(l.LogEndOffset())
	want := []AbortedTxn{{ProducerID: 1, FirstOffset: a1, LastOffset: ma, LastStableOffset: b1}}
	if got := aborted(t, l, 0, l.LastStableOffset()); !slices.Equal(got, want) {
		t.Fatalf("aborted %+v, want %+v", got, want)
	}
	if got := aborted(t, l, ma+1, l.LogEndOffset()); len(got) != 0 {
		t.Fatalf("a read after the marker got %+v", got)
	}
	if got := aborted(t, l, mb, mb+1); len(got) != 0 {
		t.Fatalf("a read of the commit marker got %+v", got)
	}
	if got := aborted(t, l, ma, ma+1); !slices.Equal(got, want) {
		t.Fatalf("a read of the abort marker got %+v, want %+v", got, want)
	}
}

// TestTxnFencing: stale producer epochs are refused for transactional
// batches and markers; a marker at a bumped epoch is accepted and fences
// the old epoch; a marker from an older coordinator is fenced.
func TestTxnFencing(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	first := mustAppend(t, l, txnBatch(5, 3, 0, 2), 1, 0).BaseOffset
	if _, err := l.Append(txnBatch(5, 2, 2, 1), 1, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("transactional batch at an older epoch: %v", err)
	}
	if _, err := l.AppendTxnMarker(TxnMarker{ProducerID: 5, ProducerEpoch: 2, CoordinatorEpoch: 1}, 1, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("marker at an older epoch: %v", err)
	}
	// The coordinator fences the producer: abort at the bumped epoch.
	m := mustMarker(t, l, 5, 4, false, 1)
	l.SetHighWatermark(l.LogEndOffset())
	if got := aborted(t, l, 0, l.LogEndOffset()); len(got) != 1 || got[0].FirstOffset != first || got[0].LastOffset != m {
		t.Fatalf("aborted %+v", got)
	}
	for _, b := range [][]byte{txnBatch(5, 3, 2, 1), idemBatch(5, 3, 2, 1)} {
		if _, err := l.Append(b, 1, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
			t.Fatalf("the fenced epoch's batch after the bump: %v", err)
		}
	}
	if _, err := l.AppendTxnMarker(TxnMarker{ProducerID: 5, ProducerEpoch: 4, CoordinatorEpoch: 0}, 1, 0); !errors.Is(err, ErrCoordinatorFenced) {
		t.Fatalf("marker from an older coordinator: %v", err)
	}
	mustAppend(t, l, txnBatch(5, 4, 0, 1), 1, 0)
	if _, err := l.Append(txnBatch(5, 4, 2, 1), 1, 0); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("the new epoch's sequence gap: %v", err)
	}
	checkLog(t, l)
	// A client may not write markers itself, nor a transactional batch
	// without a producer id.
	if _, err := l.Append(record.BuildEndTxnMarker(5, 4, record.EndTxnMarker{Commit: true}, 0), 1, 0); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("client-produced marker: %v", err)
	}
	opts := record.DefaultBatchOptions()
	opts.Transactional = true
	if _, err := l.Append(record.MustBuild(opts, []record.Record{{Value: []byte("x")}}), 1, 0); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("transactional batch without producer id: %v", err)
	}
}

// buildTxnLog writes a log with aborts spread over several segments and
// one transaction still open, synced and checkpointed. It returns the
// aborted entries and the LSO.
func buildTxnLog(t tb, d *memdisk.Disk) (*Log, []AbortedTxn, int64) {
	t.Helper()
	l := openLog(t, d, smallConfig(), 0)
	seqs := map[int64]int32{}
	for i := 0; i < 12; i++ {
		pid := int64(i%3 + 1)
		mustAppend(t, l, txnBatch(pid, 0, seqs[pid], 3), 1, 0)
		seqs[pid] += 3
		mustAppend(t, l, batchOf(2, 60, 1, byte(i)), 1, 0)
		if i < 11 {
			mustMarker(t, l, pid, 0, i%2 == 0, 0)
		}
	}
	l.SetHighWatermark(l.LogEndOffset())
	syncNow(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if l.Segments() < 3 {
		t.Fatalf("only %d segments", l.Segments())
	}
	all := aborted(t, l, 0, l.LogEndOffset())
	if len(all) != 5 {
		t.Fatalf("%d aborts indexed, want 5: %+v", len(all), all)
	}
	return l, all, l.LastStableOffset()
}

func txnIndexFiles(d *memdisk.Disk) []string {
	var out []string
	d.EachFile(testDir, func(name string) {
		if strings.HasSuffix(name, txnIndexSuffix) {
			out = append(out, testDir+"/"+name)
		}
	})
	slices.Sort(out)
	return out
}

// TestTxnIndexDurable: the index files survive a clean reopen unchanged,
// are rebuilt with the same entries after being deleted or damaged, and
// the open transaction comes back from the log.
func TestTxnIndexDurable(t *testing.T) {
	d := memdisk.New()
	l, want, lso := buildTxnLog(t, d)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := txnIndexFiles(d)
	if len(files) == 0 {
		t.Fatal("no .txnindex file written for sealed segments")
	}
	check := func(name string, l *Log, rebuilt bool) {
		t.Helper()
		if got := aborted(t, l, 0, l.LogEndOffset()); !slices.Equal(got, want) {
			t.Fatalf("%s: aborted %+v, want %+v", name, got, want)
		}
		if got := l.LastStableOffset(); got != lso {
			t.Fatalf("%s: LSO %d, want %d (open %+v)", name, got, lso, l.OpenTransactions())
		}
		if r := l.Recovery().TxnIndexesRebuilt; (r > 0) != rebuilt {
			t.Fatalf("%s: %d transaction indexes rebuilt", name, r)
		}
	}
	l = openLog(t, d, smallConfig(), 0)
	check("reopened", l, false)
	l.Close()

	for _, f := range files {
		if err := d.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	l = openLog(t, d, smallConfig(), 0)
	check("index deleted", l, true)
	if got := txnIndexFiles(d); !slices.Equal(got, files) {
		t.Fatalf("rebuilt files %v, want %v", got, files)
	}
	syncNow(t, l)
	l.Close()

	// Damage: a torn file and a file with a wrong entry.
	data, err := d.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFileAtomic(files[0], data[:len(data)-1]); err != nil {
		t.Fatal(err)
	}
	if len(files) > 1 {
		bad := bytes.Clone(mustRead(t, d, files[1]))
		bad[12] ^= 0xff // first offset of the first entry
		if err := d.WriteFileAtomic(files[1], bad); err != nil {
			t.Fatal(err)
		}
	}
	l = openLog(t, d, smallConfig(), 0)
	check("index damaged", l, true)
	syncNow(t, l)
	l.Close()

	// A crash that loses everything unsynced: the synced log rebuilds
	// the same state.
	l = openLog(t, d.Crash(nil), smallConfig(), 0)
	check("crashed", l, false)
}

func mustRead(t tb, d *memdisk.Disk, name string) []byte {
	t.Helper()
	b, err := d.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// TestTxnFollowerReplicates: a follower that copies the leader's batches
// (markers included) has the same open transactions, LSO and aborts, and
// refuses a control batch whose marker does not decode.
func TestTxnFollowerReplicates(t *testing.T) {
	leader, want, lso := buildTxnLog(t, memdisk.New())
	f := openLog(t, memdisk.New(), smallConfig(), 0)
	for _, b := range readBatches(t, leader, 0, leader.LogEndOffset()) {
		if _, err := f.AppendAsFollower(bytes.Clone(b), 0); err != nil {
			t.Fatalf("AppendAsFollower: %v", err)
		}
	}
	checkLog(t, f)
	f.SetHighWatermark(leader.HighWatermark())
	if got := aborted(t, f, 0, f.LogEndOffset()); !slices.Equal(got, want) {
		t.Fatalf("follower aborted %+v, want %+v", got, want)
	}
	if got := f.LastStableOffset(); got != lso {
		t.Fatalf("follower LSO %d, want %d", got, lso)
	}
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.Control, opts.Transactional = 1, 0, true, true
	bad := record.MustBuild(opts, []record.Record{{Key: []byte{0, 0, 0, 0}, Value: []byte{0}}})
	record.SetBaseOffset(bad, f.LogEndOffset())
	record.SetPartitionLeaderEpoch(bad, 1)
	if _, err := f.AppendAsFollower(bad, 0); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("undecodable marker: %v", err)
	}
}

// TestTxnTruncation: truncating below an abort marker removes its entry
// and reopens its transaction; the state equals a fresh open's.
func TestTxnTruncation(t *testing.T) {
	d := memdisk.New()
	l, want, _ := buildTxnLog(t, d)
	last := want[len(want)-1]
	if err := l.TruncateTo(last.LastOffset); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l)
	if got := aborted(t, l, 0, l.LogEndOffset()); !slices.Equal(got, want[:len(want)-1]) {
		t.Fatalf("after truncation aborted %+v, want %+v", got, want[:len(want)-1])
	}
	open := l.OpenTransactions()
	if !slices.ContainsFunc(open, func(o OpenTxn) bool { return o.ProducerID == last.ProducerID && o.FirstOffset == last.FirstOffset }) {
		t.Fatalf("the truncated abort's transaction is not open again: %+v", open)
	}
	syncNow(t, l)
	l.Close()
	l2 := openLog(t, d, smallConfig(), 0)
	if got := l2.OpenTransactions(); !slices.Equal(got, open) {
		t.Fatalf("reopened open transactions %+v, want %+v", got, open)
	}
}

// TestTxnRetention: retention never deletes a segment holding records at
// or past the LSO (an undecided transaction), and DeleteRecords past an
// open transaction's start leaves it starting at the log start at the
// earliest, as a reopen finds it.
func TestTxnRetention(t *testing.T) {
	d := memdisk.New()
	cfg := smallConfig()
	cfg.RetentionBytes = 0
	l := openLog(t, d, cfg, 0)
	first := mustAppend(t, l, txnBatch(9, 0, 0, 2), 1, 0).BaseOffset
	for i := 0; i < 20; i++ {
		mustAppend(t, l, batchOf(2, 100, 1, byte(i)), 1, 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if n, err := l.ApplyRetention(0); err != nil || n != 0 {
		t.Fatalf("retention deleted %d segments (%v) behind an open transaction", n, err)
	}
	mustMarker(t, l, 9, 0, false, 0)
	l.SetHighWatermark(l.LogEndOffset())
	if n, err := l.ApplyRetention(0); err != nil || n == 0 {
		t.Fatalf("retention after the abort deleted %d segments (%v)", n, err)
	}
	checkLog(t, l)

	// DeleteRecords into the middle of an open transaction.
	start := l.LogEndOffset()
	mustAppend(t, l, txnBatch(9, 0, 2, 2), 1, 0)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, batchOf(2, 100, 1, byte(i)), 1, 0)
	}
	mustAppend(t, l, txnBatch(9, 0, 4, 2), 1, 0)
	l.SetHighWatermark(l.LogEndOffset())
	if got := l.LastStableOffset(); got != start {
		t.Fatalf("LSO %d, want %d", got, start)
	}
	cut := start + 5
	if err := l.DeleteRecordsBefore(cut); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l)
	open := l.OpenTransactions()
	if len(open) != 1 || open[0].FirstOffset < l.LogStartOffset() {
		t.Fatalf("open %+v with log start %d", open, l.LogStartOffset())
	}
	syncNow(t, l)
	l.Close()
	l2 := openLog(t, d, cfg, 0)
	if got := l2.OpenTransactions(); !slices.Equal(got, open) {
		t.Fatalf("reopened open transactions %+v, want %+v", got, open)
	}
	_ = first
}

// TestTxnCleanerKeepsIndex: compaction copies transactional batches and
// markers unchanged, so the cleaned segments' index files stay valid: the
// same entries live and after a reopen, with nothing to rebuild.
func TestTxnCleanerKeepsIndex(t *testing.T) {
	d := memdisk.New()
	cfg := smallConfig()
	cfg.CleanupPolicy = CleanupCompact
	cfg.MinCleanableDirtyRatio = 0
	l := openLog(t, d, cfg, 0)
	seq := int32(0)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, keyedBatch(1, record.CodecNone, kv{key: fmt.Sprintf("k%d", i%2), value: fmt.Sprintf("v%d", i)}), 1, 0)
		mustAppend(t, l, txnBatch(4, 0, seq, 2), 1, 0)
		seq += 2
		mustMarker(t, l, 4, 0, i%3 == 0, 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	syncNow(t, l)
	want := aborted(t, l, 0, l.LogEndOffset())
	if len(want) == 0 {
		t.Fatal("no aborts")
	}
	ran, _ := cleanNow(t, l, 10_000)
	if !ran {
		t.Fatal("the cleaner did not run")
	}
	checkLog(t, l)
	if got := aborted(t, l, 0, l.LogEndOffset()); !slices.Equal(got, want) {
		t.Fatalf("after cleaning aborted %+v, want %+v", got, want)
	}
	syncNow(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2 := openLog(t, d, cfg, 0)
	if got := aborted(t, l2, 0, l2.LogEndOffset()); !slices.Equal(got, want) || l2.Recovery().TxnIndexesRebuilt != 0 {
		t.Fatalf("reopened after cleaning: aborted %+v (%d rebuilt), want %+v", got, l2.Recovery().TxnIndexesRebuilt, want)
	}
}

// TestTxnDeleteRecordsPastWholeTxn: DeleteRecords inside a segment past
// every record of an open transaction holds the LSO at the new log start
// until the marker, live and after a reopen.
func TestTxnDeleteRecordsPastWholeTxn(t *testing.T) {
	d := memdisk.New()
	cfg := DefaultConfig() // one segment
	l := openLog(t, d, cfg, 0)
	mustAppend(t, l, txnBatch(3, 0, 0, 2), 1, 0) // 0-1
	for i := 0; i < 5; i++ {
		mustAppend(t, l, batchOf(2, 10, 1, byte(i)), 1, 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if err := l.DeleteRecordsBefore(6); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l)
	if got := l.LastStableOffset(); got != 6 {
		t.Fatalf("LSO %d, want the log start 6", got)
	}
	syncNow(t, l)
	l.Close()
	l = openLog(t, d, cfg, 0)
	l.SetHighWatermark(l.LogEndOffset())
	if got := l.LastStableOffset(); got != 6 {
		t.Fatalf("reopened LSO %d, want 6", got)
	}
	m := mustMarker(t, l, 3, 0, false, 0)
	l.SetHighWatermark(l.LogEndOffset())
	if got := l.LastStableOffset(); got != m+1 {
		t.Fatalf("LSO %d after the abort, want %d", got, m+1)
	}
	if got := aborted(t, l, 6, m+1); len(got) != 1 || got[0].FirstOffset != 6 {
		t.Fatalf("aborted %+v", got)
	}
}
