package coord

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-streaming/chronik/core/record"
)

// markerDone records the outcomes WriteTxnMarker reports.
type markerDone struct{ codes []int16 }

func (d *markerDone) done(code int16) { d.codes = append(d.codes, code) }

// loadedRuntime returns a runtime leading partition 0 at epoch 1 over h,
// loaded, with its shard.
func loadedRuntime(t *testing.T, h *fakeLog) (*Runtime[*kvShard], *kvShard) {
	t.Helper()
	rt, _ := newRuntime(t, h, DefaultConfig())
	rt.Lead(0, 0, 1, 0, h.end, h.end)
	rt.Advance(0, 0, 0, h.end, h.end)
	s, c := rt.Admit(0)
	if c != 0 {
		t.Fatalf("admit: %d", c)
	}
	return rt, s
}

// TestTxnWriteIsTransactionalBatch: a transactional write goes out as
// one transactional batch carrying the producer's id and epoch.
func TestTxnWriteIsTransactionalBatch(t *testing.T) {
	h := &fakeLog{}
	rt, s := loadedRuntime(t, h)
	w := s.setTxn(1, 42, "k", "v")
	w.ProducerEpoch = 3
	rt.Submit(0, 0, w)
	hd, err := record.ParseHeader(h.batches[0])
	if err != nil {
		t.Fatal(err)
	}
	if !hd.Transactional() || hd.Control() || hd.ProducerID != 42 || hd.ProducerEpoch != 3 || hd.BaseSequence != 0 {
		t.Fatalf("header %+v: want a transactional batch of producer 42 epoch 3", hd)
	}
}

// TestTxnMarkerCompletesOnlyWhenCommitted: the marker's done and the
// shard's ReplayEndTxn wait for the high watermark to pass the marker,
// and come after the writes before it.
func TestTxnMarkerCompletesOnlyWhenCommitted(t *testing.T) {
	h := &fakeLog{}
	rt, s := loadedRuntime(t, h)
	rt.Submit(0, 0, s.setTxn(1, 42, "k", "v"))
	var d markerDone
	rt.WriteTxnMarker(0, 0, TxnMarker{ProducerID: 42, Commit: true, CoordinatorEpoch: 5}, d.done)
	checkRT(t, rt)
	if len(h.batches) != 2 {
		t.Fatalf("%d batches, want the write and the marker", len(h.batches))
	}
	m, err := record.ParseEndTxnMarker(h.batches[1])
	if err != nil || !m.Commit || m.CoordinatorEpoch != 5 {
		t.Fatalf("marker %+v err %v", m, err)
	}
	rt.Advance(0, 0, 0, h.end, h.end-1) // the write, not the marker
	if len(d.codes) != 0 || len(s.markers) != 0 || s.committed["k"] != "" || s.staged[42]["k"] != "v" {
		t.Fatalf("before the marker committed: done %v markers %v committed %q staged %v", d.codes, s.markers, s.committed["k"], s.staged)
	}
	rt.Advance(0, 0, 0, h.end, h.end)
	if len(d.codes) != 1 || d.codes[0] != 0 || s.committed["k"] != "v" || len(s.markers) != 1 {
		t.Fatalf("after the marker committed: done %v committed %q markers %v", d.codes, s.committed["k"], s.markers)
	}
	checkRT(t, rt)
}

// TestTxnMarkerLeadershipLossNeverSucceeds is KAFKA-20634 for markers: a
// marker pending when the leadership moves gets NOT_COORDINATOR, once,
// and never success even when the high watermark later passes its
// offset; the shard never applies it.
func TestTxnMarkerLeadershipLossNeverSucceeds(t *testing.T) {
	for _, how := range []string{"resign", "new epoch"} {
		t.Run(how, func(t *testing.T) {
			h := &fakeLog{}
			rt, s := loadedRuntime(t, h)
			rt.Submit(0, 0, s.setTxn(1, 42, "k", "v"))
			rt.Advance(0, 0, 0, h.end, h.end)
			var d markerDone
			rt.WriteTxnMarker(0, 0, TxnMarker{ProducerID: 42, Commit: true}, d.done)
			if how == "resign" {
				rt.Resign(0)
			} else {
				rt.Lead(0, 0, 2, 0, h.end, h.end-1)
			}
			if len(d.codes) != 1 || d.codes[0] != kerr.NotCoordinator.Code {
				t.Fatalf("after the move: done %v, want one NOT_COORDINATOR", d.codes)
			}
			rt.Lead(0, 0, 3, 0, h.end, h.end)
			rt.Advance(0, 0, 0, h.end, h.end)
			if len(d.codes) != 1 || len(s.markers) != 0 {
				t.Fatalf("the old marker completed later: done %v markers %v", d.codes, s.markers)
			}
			checkRT(t, rt)
		})
	}
}

// TestTxnMarkerRefusals: no leadership, a load in progress, the log's
// refusal and a failed write all answer an error and apply nothing; only
// the failed write reloads the shard.
func TestTxnMarkerRefusals(t *testing.T) {
	h := &fakeLog{}
	rt, _ := newRuntime(t, h, DefaultConfig())
	var d markerDone
	rt.WriteTxnMarker(0, 0, TxnMarker{ProducerID: 1, Commit: true}, d.done)
	rt.Lead(0, 0, 1, 0, 1, 0) // a log end the high watermark has not reached
	rt.WriteTxnMarker(0, 0, TxnMarker{ProducerID: 1, Commit: true}, d.done)
	want := []int16{kerr.NotCoordinator.Code, kerr.CoordinatorLoadInProgress.Code}
	if len(d.codes) != 2 || d.codes[0] != want[0] || d.codes[1] != want[1] {
		t.Fatalf("codes %v, want %v", d.codes, want)
	}

	h = &fakeLog{}
	rt, s := loadedRuntime(t, h)
	h.refuseMarker = kerr.InvalidProducerEpoch.Code
	d = markerDone{}
	rt.WriteTxnMarker(0, 0, TxnMarker{ProducerID: 1, Commit: true}, d.done)
	if len(d.codes) != 1 || d.codes[0] != kerr.InvalidProducerEpoch.Code || len(h.batches) != 0 {
		t.Fatalf("refused marker: codes %v batches %d", d.codes, len(h.batches))
	}
	if got, c := rt.Admit(0); c != 0 || got != s {
		t.Fatalf("a refused marker replaced the shard (code %d)", c)
	}
	h.refuseMarker = 0
	h.failNext = errors.New("disk full")
	rt.WriteTxnMarker(0, 0, TxnMarker{ProducerID: 1, Commit: true}, d.done)
	if len(d.codes) != 2 || d.codes[1] != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("failed marker write: codes %v", d.codes)
	}
	if _, c := rt.Admit(0); c != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("no reload after a failed marker write: code %d", c)
	}
	checkRT(t, rt)
}

// TestLoadReplaysTransactions: a load hands the shard transactional
// records through ReplayTxn and markers through ReplayEndTxn, in log
// order: a committed transaction's keys apply, an aborted one's do not.
func TestLoadReplaysTransactions(t *testing.T) {
	h := &fakeLog{}
	old, s := loadedRuntime(t, h)
	var d markerDone
	old.Submit(0, 0, s.setTxn(1, 7, "a", "committed"))
	old.Submit(0, 0, s.setTxn(2, 8, "b", "aborted"))
	old.Submit(0, 0, s.set(3, "c", "plain"))
	old.WriteTxnMarker(0, 0, TxnMarker{ProducerID: 7, Commit: true}, d.done)
	old.WriteTxnMarker(0, 0, TxnMarker{ProducerID: 8, Commit: false}, d.done)
	old.Submit(0, 0, s.setTxn(4, 9, "d", "open"))
	old.Advance(0, 0, 0, h.end, h.end)
	if len(d.codes) != 2 || d.codes[0] != 0 || d.codes[1] != 0 {
		t.Fatalf("markers: %v", d.codes)
	}

	rt, shards := newRuntime(t, h, DefaultConfig())
	rt.Lead(0, 0, 2, 0, h.end, h.end)
	got := (*shards)[0]
	if !got.loaded {
		t.Fatal("not loaded")
	}
	want := map[string]string{"a": "committed", "c": "plain"}
	if len(got.committed) != len(want) || got.committed["a"] != want["a"] || got.committed["c"] != want["c"] {
		t.Fatalf("replayed committed %v, want %v", got.committed, want)
	}
	if got.staged[9]["d"] != "open" || len(got.staged) != 1 {
		t.Fatalf("replayed staged %v, want producer 9's open d", got.staged)
	}
	if len(got.markers) != 2 || got.markers[0] != "commit 7" || got.markers[1] != "abort 8" {
		t.Fatalf("replayed markers %v", got.markers)
	}
	for k, v := range s.committed {
		if got.committed[k] != v {
			t.Fatalf("live %s=%q, replayed %q", k, v, got.committed[k])
		}
	}
}
