package partlog

import (
	"errors"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

// TestAppendCoordinatorSkipsSequences: a coordinator's transactional
// batches all carry base sequence 0 (Kafka's group coordinator writes
// them so): AppendCoordinator appends each (Append would take the second
// for a retry of the first), opens the producer's transaction, and still
// refuses an older producer epoch.
func TestAppendCoordinatorSkipsSequences(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	first, err := l.AppendCoordinator(txnBatch(7, 1, 0, 2), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	second, err := l.AppendCoordinator(txnBatch(7, 1, 0, 2), 1, 0)
	if err != nil || second.Duplicate || second.BaseOffset != first.LastOffset+1 {
		t.Fatalf("second batch at sequence 0: %+v %v, want appended after %d", second, err, first.LastOffset)
	}
	checkLog(t, l)
	if open := l.OpenTransactions(); len(open) != 1 || open[0].ProducerID != 7 || open[0].FirstOffset != first.BaseOffset {
		t.Fatalf("open transactions %+v", open)
	}
	if _, err := l.AppendCoordinator(txnBatch(7, 0, 0, 1), 1, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("older epoch: %v, want ErrInvalidProducerEpoch", err)
	}
	if dup, err := l.Append(txnBatch(7, 1, 0, 2), 1, 0); err != nil || !dup.Duplicate {
		t.Fatalf("Append of the same batch: %+v %v, want a duplicate (sequences checked)", dup, err)
	}
	mustMarker(t, l, 7, 1, true, 0)
	if open := l.OpenTransactions(); len(open) != 0 {
		t.Fatalf("open after the marker: %+v", open)
	}
}
