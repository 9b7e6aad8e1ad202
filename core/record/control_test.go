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
