package partlog

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/record"
)

// txnOracle recomputes the transaction state from the batches a log
// returns, by Kafka's rules written out plainly: a transactional batch
// opens its producer's transaction when none is open; a marker closes it
// and, for an abort, records (producer, first, marker, LSO after it).
type txnOracle struct {
	open    map[int64]int64
	aborted []AbortedTxn
}

func oracleOf(t tb, l *Log) txnOracle {
	t.Helper()
	o := txnOracle{open: map[int64]int64{}}
	for _, b := range readBatches(t, l, l.LogStartOffset(), l.LogEndOffset()) {
		h := headerOf(t, b)
		if !h.HasProducerID() {
			continue
		}
		if h.Control() {
			m, err := record.ParseEndTxnMarker(b)
			if err != nil {
				t.Fatalf("stored marker at %d: %v", h.BaseOffset, err)
			}
			first, ok := o.open[h.ProducerID]
			if !ok {
				first = h.BaseOffset
			}
			delete(o.open, h.ProducerID)
			if !m.Commit {
				lso := h.BaseOffset + 1
				for _, f := range o.open {
					lso = min(lso, f)
				}
				o.aborted = append(o.aborted, AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.BaseOffset, LastStableOffset: lso})
			}
			continue
		}
		if _, ok := o.open[h.ProducerID]; h.Transactional() && !ok {
			o.open[h.ProducerID] = h.BaseOffset
		}
	}
	return o
}

func (o txnOracle) lso(hw int64) int64 {
	for _, f := range o.open {
		hw = min(hw, f)
	}
	return hw
}

// TestTxnProperty drives a log through random transactional traffic
// (three producers, commits, aborts, epoch bumps by markers, rolls,
// truncations above the high watermark, clean reopens and crashes) and
// compares its LSO, open transactions and aborted index with the oracle
// after every step, and after every reopen with the state before it.
func TestTxnProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := smallConfig()
		cfg.SegmentBytes = int64(rapid.IntRange(200, 1500).Draw(t, "segmentBytes"))
		d := memdisk.New()
		l := openLog(t, d, cfg, 0)
		epoch := map[int64]int16{1: 0, 2: 0, 3: 0}
		seq := map[int64]int32{}
		coord := int32(0)
		restartProducers := func() {
			// A cut can remove a producer's last batches: start every
			// producer afresh at a new epoch, sequence 0.
			for p := range epoch {
				epoch[p]++
				seq[p] = 0
			}
		}
		compare := func(step string) {
			o := oracleOf(t, l)
			if got, want := l.LastStableOffset(), o.lso(l.HighWatermark()); got != want {
				t.Fatalf("%s: LSO %d, oracle %d (open %v, HW %d)", step, got, want, o.open, l.HighWatermark())
			}
			if got := aborted(t, l, 0, l.LogEndOffset()); !slices.Equal(got, o.aborted) {
				t.Fatalf("%s: aborted %+v, oracle %+v", step, got, o.aborted)
			}
			for _, ot := range l.OpenTransactions() {
				if o.open[ot.ProducerID] != ot.FirstOffset {
					t.Fatalf("%s: open %+v, oracle %v", step, l.OpenTransactions(), o.open)
				}
			}
			if len(l.OpenTransactions()) != len(o.open) {
				t.Fatalf("%s: open %+v, oracle %v", step, l.OpenTransactions(), o.open)
			}
			// Any window of the log gets exactly the overlapping aborts.
			if leo := l.LogEndOffset(); leo > 0 {
				from := int64(rapid.Int64Range(0, leo-1).Draw(t, "from"))
				upTo := int64(rapid.Int64Range(from+1, leo).Draw(t, "upTo"))
				var want []AbortedTxn
				for _, a := range o.aborted {
					if a.LastOffset >= from && a.FirstOffset < upTo {
						want = append(want, a)
					}
				}
				if got := aborted(t, l, from, upTo); !slices.Equal(got, want) {
					t.Fatalf("%s: aborted in [%d, %d) %+v, want %+v", step, from, upTo, got, want)
				}
			}
		}
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			pid := int64(rapid.IntRange(1, 3).Draw(t, "pid"))
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); op {
			case 0, 1:
				mustAppend(t, l, batchOf(rapid.IntRange(1, 3).Draw(t, "n"), 40, 1, byte(i)), 1, 0)
			case 2, 3, 4:
				n := rapid.IntRange(1, 3).Draw(t, "n")
				mustAppend(t, l, txnBatch(pid, epoch[pid], seq[pid], n), 1, 0)
				seq[pid] += int32(n)
			case 5, 6:
				if rapid.IntRange(0, 4).Draw(t, "bump") == 0 {
					epoch[pid]++ // the coordinator fences the producer
					seq[pid] = 0
				}
				mustMarker(t, l, pid, epoch[pid], rapid.Bool().Draw(t, "commit"), coord)
			case 7:
				l.SetHighWatermark(l.LogEndOffset())
				checkLog(t, l)
			case 8:
				hw, leo := l.HighWatermark(), l.LogEndOffset()
				if leo > hw {
					if err := l.TruncateTo(rapid.Int64Range(hw, leo).Draw(t, "cut")); err != nil {
						t.Fatalf("TruncateTo: %v", err)
					}
					checkLog(t, l)
					restartProducers()
				}
			case 9:
				before := struct {
					lso     int64
					open    []OpenTxn
					aborted []AbortedTxn
				}{l.LastStableOffset(), l.OpenTransactions(), aborted(t, l, 0, l.LogEndOffset())}
				crash := rapid.Bool().Draw(t, "crash")
				if !crash {
					syncNow(t, l)
					if err := l.Checkpoint(); err != nil {
						t.Fatalf("Checkpoint: %v", err)
					}
				}
				l.Close()
				nd := d
				if crash {
					nd = d.Crash(nil)
				}
				d = nd
				l = openLog(t, d, cfg, 0)
				if !crash {
					after := aborted(t, l, 0, l.LogEndOffset())
					if l.LastStableOffset() != before.lso || !slices.Equal(l.OpenTransactions(), before.open) || !slices.Equal(after, before.aborted) {
						t.Fatalf("clean reopen changed the transaction state: LSO %d open %+v aborted %+v; before %+v", l.LastStableOffset(), l.OpenTransactions(), after, before)
					}
				} else {
					restartProducers()
				}
			}
			compare("step")
		}
	})
}

// TestTxnProducerTableFullOfOpenTxns: a producer with an open transaction
// is never evicted, so the LSO holds however many producers come by.
func TestTxnProducerTableFullOfOpenTxns(t *testing.T) {
	cfg := smallConfig()
	cfg.MaxProducerIDs = 2
	l := openLog(t, memdisk.New(), cfg, 0)
	first := mustAppend(t, l, txnBatch(1, 0, 0, 1), 1, 0).BaseOffset
	mustAppend(t, l, txnBatch(2, 0, 0, 1), 1, 0)
	for pid := int64(3); pid < 10; pid++ {
		mustAppend(t, l, idemBatch(pid, 0, 0, 1), 1, 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	if got := l.LastStableOffset(); got != first || len(l.OpenTransactions()) != 2 {
		t.Fatalf("LSO %d, open %+v", got, l.OpenTransactions())
	}
	if len(l.producers.byID) != 3 {
		t.Fatalf("%d producers kept, want the 2 open ones and the newest", len(l.producers.byID))
	}
	mustMarker(t, l, 1, 0, true, 0)
	mustMarker(t, l, 2, 0, false, 0)
	if len(l.producers.byID) > cfg.MaxProducerIDs {
		t.Fatalf("%d producers after the transactions ended, max %d", len(l.producers.byID), cfg.MaxProducerIDs)
	}
	// A stale epoch of an evicted producer is unknown, accepted.
	if _, err := l.Append(bytes.Clone(idemBatch(3, 0, 5, 1)), 1, 0); err != nil && !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatal(err)
	}
}
