package partlog

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/record"
)

const testDir = "topic-0"

// tb is what the helpers need from *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// smallConfig rolls and indexes often, so that small tests exercise
// several segments and index entries.
func smallConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 1024
	c.IndexIntervalBytes = 100
	c.RetentionMs = -1
	return c
}

func openLog(t tb, d *memdisk.Disk, cfg Config, nowMs int64) *Log {
	t.Helper()
	l, err := Open(d, testDir, cfg, nowMs)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	checkLog(t, l)
	return l
}

// checkLog runs every invariant check, the I/O ones included.
func checkLog(t tb, l *Log) {
	t.Helper()
	l.checkInvariants()
	if err := l.checkInvariantsDeep(); err != nil {
		t.Fatalf("deep invariants: %v", err)
	}
}

// batchOf builds an uncompressed batch of n records of size bytes each,
// with the given timestamp, distinguishable by seed.
func batchOf(n, size int, ts int64, seed byte) []byte {
	return record.SimpleBatch(n, size, ts, seed)
}

// idemBatch builds an idempotent batch.
func idemBatch(pid int64, epoch int16, seq int32, n int) []byte {
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = pid, epoch, seq
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Timestamp: 1000, Value: []byte(fmt.Sprintf("p%d-e%d-s%d", pid, epoch, int(seq)+i))}
	}
	return record.MustBuild(opts, recs)
}

func mustAppend(t tb, l *Log, b []byte, epoch int32, nowMs int64) AppendResult {
	t.Helper()
	res, err := l.Append(bytes.Clone(b), epoch, nowMs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	checkLog(t, l)
	return res
}

// syncNow runs one whole sync job on the test goroutine.
func syncNow(t tb, l *Log) {
	t.Helper()
	job, ok := l.StartSync()
	if !ok {
		return
	}
	l.FinishSync(job, job.Run())
	if l.Failed() != nil {
		t.Fatalf("sync failed: %v", l.Failed())
	}
	checkLog(t, l)
}

// readBatches reads every batch from offset to limit and splits them.
func readBatches(t tb, l *Log, offset, limit int64) [][]byte {
	t.Helper()
	var out [][]byte
	for offset < l.LogEndOffset() {
		res, err := l.Read(offset, 1<<20, limit)
		if err != nil {
			t.Fatalf("Read(%d): %v", offset, err)
		}
		if len(res.Records) == 0 {
			break
		}
		bs, err := record.Split(res.Records)
		if err != nil {
			t.Fatalf("Read(%d) returned unframed bytes: %v", offset, err)
		}
		for _, b := range bs {
			h, err := record.Check(b)
			if err != nil {
				t.Fatalf("Read(%d) returned a bad batch: %v", offset, err)
			}
			out = append(out, b)
			offset = h.NextOffset()
		}
	}
	return out
}

func headerOf(t tb, b []byte) record.Header {
	t.Helper()
	h, err := record.ParseHeader(b)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return h
}

func wantErr(t tb, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}
