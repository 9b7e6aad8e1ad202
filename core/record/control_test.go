package record

import (
	"errors"
	"testing"
)

func TestEndTxnMarkerRoundTrip(t *testing.T) {
	for _, m := range []EndTxnMarker{{Commit: true, CoordinatorEpoch: 7}, {Commit: false, CoordinatorEpoch: 0}, {Commit: true, CoordinatorEpoch: -1}} {
		b := BuildEndTxnMarker(42, 3, m, 1000)
		h, err := Check(b)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if !h.Control() || !h.Transactional() || h.ProducerID != 42 || h.ProducerEpoch != 3 || h.BaseSequence != -1 || h.LastOffsetDelta != 0 {
			t.Fatalf("header %+v", h)
		}
		got, err := ParseEndTxnMarker(b)
		if err != nil || got != m {
			t.Fatalf("ParseEndTxnMarker = %+v, %v; want %+v", got, err, m)
		}
		if _, err := CheckProduce(b); !errors.Is(err, ErrControlBatch) {
			t.Fatalf("CheckProduce of a marker: %v, want ErrControlBatch", err)
		}
	}
}

func TestParseEndTxnMarkerRejects(t *testing.T) {
	if _, err := ParseEndTxnMarker(SimpleBatch(1, 3, 0, 1)); !errors.Is(err, ErrNotEndTxnMarker) {
		t.Fatalf("data batch: %v", err)
	}
	opts := DefaultBatchOptions()
	opts.Control = true
	other := MustBuild(opts, []Record{{Key: ControlKey(3), Value: []byte{0, 0, 0, 0, 0, 0}}})
	if _, err := ParseEndTxnMarker(other); !errors.Is(err, ErrNotEndTxnMarker) {
		t.Fatalf("control type 3: %v", err)
	}
	short := MustBuild(opts, []Record{{Key: []byte{0}, Value: nil}})
	if _, err := ParseEndTxnMarker(short); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short key: %v", err)
	}
}

// FuzzParseEndTxnMarker: any bytes decode to a marker or an error, never a
// panic, and a built marker round-trips.
func FuzzParseEndTxnMarker(f *testing.F) {
	f.Add(BuildEndTxnMarker(1, 2, EndTxnMarker{Commit: true, CoordinatorEpoch: 3}, 4), int64(1), int16(2), true, int32(3))
	f.Add(SimpleBatch(1, 4, 0, 1), int64(-1), int16(0), false, int32(0))
	f.Fuzz(func(t *testing.T, b []byte, pid int64, epoch int16, commit bool, coord int32) {
		ParseEndTxnMarker(b)
		m := EndTxnMarker{Commit: commit, CoordinatorEpoch: coord}
		if got, err := ParseEndTxnMarker(BuildEndTxnMarker(pid, epoch, m, 0)); err != nil || got != m {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, m)
		}
	})
}
