package sim

// The checker "txn:", judged from ground truth: which transactions the
// producers of txn.go began, which produces were acknowledged at which
// offsets, and when each EndTxn was sent and how it was answered. Only
// certain facts are judged: a commit that was sent may have taken effect
// whatever its answer, an abort that was never acknowledged may have
// been overtaken by nothing (a commit is never sent after it), and a
// produce of unknown outcome is never required.
//
//   - Every record a read_committed read returns (after dropping, as a
//     Kafka consumer does, the batches of a producer inside an aborted
//     range of the response's AbortedTransactions) belongs to a
//     transaction whose EndTxn commit had been sent when the answer came
//     (no read of an open or never committed transaction), never to one
//     whose abort was acknowledged (no aborted read), lies below the
//     response's last stable offset, and sits at the offset its produce was
//     acknowledged at (and at the one any earlier read found it at).
//   - The last stable offset of an answer from a broker that is not stale
//     never passes the first acknowledged offset on that partition of a
//     transaction that was certainly open while the fetch was in flight:
//     its produce acknowledged before the fetch was sent, no EndTxn or
//     InitProducerId of its producer sent yet, and younger than its
//     transaction timeout by every broker's clock (the coordinator aborts
//     it after that).
//   - After the final drain (read_committed, from offset 0 until the
//     last stable offset reaches the high watermark), every acknowledged
//     produce of a transaction whose commit was acknowledged was read,
//     and (above) none of one whose abort was.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// txnFinalLimit bounds the final reads of the transactional partitions: a
// transaction left open at the end is aborted by its coordinator after its
// timeout (at most 8 s).
const txnFinalLimit = 14 * Second

// txnScan is one read_committed read of a partition from offset 0 to its
// last stable offset.
type txnScan struct {
	x     *txnWorld
	c     *client
	tp    lin.TopicPartition
	final bool
	pos   int64
	lso   int64
	hw    int64
	stale bool
	// read holds the ids of the writes read, with the offset of each
	// record (final scans).
	read map[string]int64
	done func(complete bool)
}

// readStep reads a random partition now and then (one read at a time).
func (x *txnWorld) readStep() {
	w := x.w
	if w.workloadStopped {
		return
	}
	defer w.s.after(x.reader.rng.Exp(x.set.ReadEvery), "txn-read", x.readStep)
	parts := x.livePartitions()
	if x.reading || len(parts) == 0 {
		return
	}
	x.reading = true
	s := &txnScan{x: x, c: x.reader, tp: pick(x.reader.rng, parts), done: func(bool) { x.reading = false }}
	s.begin()
}

func (s *txnScan) begin() {
	s.pos, s.lso, s.hw, s.stale = 0, -1, -1, false
	s.read = map[string]int64{}
	s.fetch()
}

func (s *txnScan) fetch() {
	x, w := s.x, s.x.w
	if w.done {
		return
	}
	req := (&consumer{c: s.c, tp: s.tp, pos: s.pos, partMax: 1 << 20}).fetchRequest()
	req.IsolationLevel = 1
	r := s.c.route
	sent := w.s.now
	r.ready(func() {
		node, _ := r.leader(s.tp)
		pos := s.pos
		s.c.do(node, req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
			stale := w.answerMayBeStale(s.tp)
			s.stale = s.stale || stale
			if err != nil {
				r.invalidate()
				s.done(false)
				return
			}
			fr := resp.(*kmsg.FetchResponse)
			if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
				s.done(false)
				return
			}
			sp := fr.Topics[0].Partitions[0]
			if sp.ErrorCode != 0 {
				if routingError(sp.ErrorCode) {
					r.invalidate()
				}
				s.done(false)
				return
			}
			if req.Version < 4 {
				w.fail("txn: %s: a read_committed fetch went out at v%d", s.tp, req.Version)
				s.done(true)
				return
			}
			s.lso, s.hw = sp.LastStableOffset, sp.HighWatermark
			if s.lso > s.hw || s.lso < 0 {
				w.fail("txn: %s: a read_committed fetch @%d answered last stable offset %d with high watermark %d", s.tp, pos, s.lso, s.hw)
				s.done(true)
				return
			}
			if !stale {
				x.judgeLSO(s.tp, sent, s.lso)
			}
			end, ok := s.took(pos, sp)
			if !ok {
				s.done(true)
				return
			}
			s.pos = max(pos, end)
			switch {
			case s.pos >= s.lso && (!s.final || s.lso == s.hw):
				s.done(true)
			case s.pos >= s.lso || s.pos == pos:
				s.done(false) // (final: an open transaction holds the LSO; retried)
			default:
				s.fetch()
			}
		})
	})
}

// txnBatch is one batch of a read_committed answer.
type txnBatch struct {
	base, last int64
	pid        int64
	txnl       bool
	control    bool
	abort      bool // a control batch holding an abort marker
	values     []string
}

// decodeTxnBatches decodes a fetched partition's batches (CRC checked, a
// trailing partial batch ignored).
func decodeTxnBatches(data []byte) ([]txnBatch, error) {
	var out []txnBatch
	for len(data) >= 61 {
		size := 12 + int(int32(binary.BigEndian.Uint32(data[8:])))
		if size < 61 {
			return nil, fmt.Errorf("batch length %d is below the v2 header size", size-12)
		}
		if size > len(data) {
			break
		}
		batch := data[:size]
		data = data[size:]
		if want, got := binary.BigEndian.Uint32(batch[17:]), crc32.Checksum(batch[21:], castagnoli); want != got {
			return nil, fmt.Errorf("corrupt batch served: CRC %08x, computed %08x", want, got)
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(batch); err != nil {
			return nil, fmt.Errorf("decode batch: %v", err)
		}
		b := txnBatch{base: rb.FirstOffset, last: rb.FirstOffset + int64(rb.LastOffsetDelta), pid: rb.ProducerID, txnl: rb.Attributes&0x10 != 0, control: rb.Attributes&0x20 != 0}
		recs := rb.Records
		for i := int32(0); i < rb.NumRecords; i++ {
			length, n := binary.Varint(recs)
			if n <= 0 || length < 0 || int(length) > len(recs)-n {
				return nil, fmt.Errorf("batch at %d: record %d overruns the batch", rb.FirstOffset, i)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(length)]); err != nil {
				return nil, fmt.Errorf("batch at %d: record %d: %v", rb.FirstOffset, i, err)
			}
			recs = recs[n+int(length):]
			if b.control {
				b.abort = len(r.Key) >= 4 && binary.BigEndian.Uint16(r.Key[2:]) == 0
				continue
			}
			b.values = append(b.values, string(r.Value))
			if r.OffsetDelta != i {
				return nil, fmt.Errorf("batch at %d: record %d has offset delta %d", rb.FirstOffset, i, r.OffsetDelta)
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// took filters one answer's batches as a Kafka read_committed consumer
// does and judges the records kept; it returns the offset after the last
// whole batch, false after a failure.
func (s *txnScan) took(pos int64, sp kmsg.FetchResponseTopicPartition) (int64, bool) {
	x, w := s.x, s.x.w
	batches, err := decodeTxnBatches(sp.RecordBatches)
	if err != nil {
		w.fail("txn: %s: read_committed fetch @%d: %v", s.tp, pos, err)
		return 0, false
	}
	aborted := slices.Clone(sp.AbortedTransactions)
	slices.SortStableFunc(aborted, func(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) int {
		return int(min(max(a.FirstOffset-b.FirstOffset, -1), 1))
	})
	abortedPIDs := map[int64]bool{}
	end := pos
	for _, b := range batches {
		end = max(end, b.last+1)
		for len(aborted) > 0 && aborted[0].FirstOffset <= b.last {
			abortedPIDs[aborted[0].ProducerID] = true
			aborted = aborted[1:]
		}
		if b.control {
			if b.abort {
				delete(abortedPIDs, b.pid)
			}
			continue
		}
		if b.txnl && abortedPIDs[b.pid] {
			w.cover("txn-aborted-filtered")
			continue
		}
		for i, v := range b.values {
			off := b.base + int64(i)
			if off < pos {
				continue
			}
			if msg := x.judgeRead(s.tp, off, v, s.lso); msg != "" {
				what := "a read_committed read"
				if s.final {
					what = "the final read_committed read"
				}
				w.fail("txn: %s: %s from %d (last stable offset %d, high watermark %d): %s", s.tp, what, pos, s.lso, s.hw, msg)
				return 0, false
			}
			id, _, _ := parseTxnValue(v)
			if i == 0 || s.read[id] == 0 {
				s.read[id] = off + 1
			}
		}
	}
	return end, true
}

// judgeRead checks one record a read_committed read returned: "" when
// legal.
func (x *txnWorld) judgeRead(tp lin.TopicPartition, off int64, v string, lso int64) string {
	w := x.w
	id, i, ok := parseTxnValue(v)
	tw := x.writes[id]
	switch {
	case !ok || tw == nil || i >= tw.n:
		return fmt.Sprintf("offset %d holds %q, which no transactional producer wrote", off, v)
	case tw.tp != tp:
		return fmt.Sprintf("offset %d holds %s, written to %s", off, v, tw.tp)
	case off >= lso:
		return fmt.Sprintf("offset %d (%s) is at or past the last stable offset", off, v)
	case tw.t.aborted:
		return fmt.Sprintf("offset %d holds %s of transaction %s, whose EndTxn abort was acknowledged (aborted read)", off, v, tw.t.name)
	case tw.t.commitSent < 0:
		return fmt.Sprintf("offset %d holds %s of transaction %s, whose commit was never sent (read of an open or aborted transaction)", off, v, tw.t.name)
	case tw.outcome == lin.OutcomeFailed:
		return fmt.Sprintf("offset %d holds %s, whose produce was refused", off, v)
	case tw.outcome == lin.OutcomeOK && off != tw.offset+int64(i):
		return fmt.Sprintf("%s is at offset %d, acknowledged at offset %d", v, off, tw.offset+int64(i))
	case tw.seen >= 0 && off != tw.seen+int64(i):
		return fmt.Sprintf("%s is at offset %d, read at offset %d before", v, off, tw.seen+int64(i))
	}
	tw.seen = off - int64(i)
	w.cover("txn-read-committed-judged")
	return ""
}

// judgeLSO checks a fresh answer's last stable offset against the
// transactions certainly open while the fetch (sent at sent) was in
// flight.
func (x *txnWorld) judgeLSO(tp lin.TopicPartition, sent Time, lso int64) {
	w := x.w
	// A coordinator times a transaction out once its clock is the
	// timeout past the transaction's start by its (or a previous
	// coordinator's) clock: clocks start up to 2 s apart and lead by the
	// forward jumps; drift and rounding get a second more.
	margin := x.maxLead + 3*Second
	for _, tw := range x.byTP[tp] {
		t := tw.t
		if tw.outcome != lin.OutcomeOK || tw.ret > sent || t.endSent >= 0 || t.began < 0 {
			continue
		}
		if w.s.now >= t.began+Time(x.set.TimeoutMs)*Millisecond-margin {
			continue
		}
		w.cover("txn-lso-judged")
		if lso > tw.offset {
			w.fail("txn: %s: a read_committed fetch sent at %s answered last stable offset %d, past offset %d of the open transaction %s (%s, acknowledged at %s; no EndTxn sent)",
				tp, sent, lso, tw.offset, t.name, tw.id, tw.ret)
		}
	}
}

// finalRead reads every transactional partition with the final client
// once the workload's producers are gone, and judges that every
// acknowledged produce of an acknowledged commit is there.
func (x *txnWorld) finalRead(c *client, done func()) {
	if x == nil {
		done()
		return
	}
	w := x.w
	readInTurn(w, x.livePartitions(), txnFinalLimit, "txn-final-retry",
		func(tp lin.TopicPartition, attempt func(bool)) *txnScan {
			return &txnScan{x: x, c: c, tp: tp, final: true, done: attempt}
		},
		func(s *txnScan, complete bool) bool {
			if complete && !s.stale && s.lso == s.hw && s.pos >= s.hw {
				x.judgeFinal(s)
				return true
			}
			return false
		},
		func(s *txnScan) {
			w.logf("txn: the final read of %s did not complete within %s (last stable offset %d, high watermark %d); left unjudged", s.tp, fmtTime(txnFinalLimit), s.lso, s.hw)
			w.cover("txn-final-unjudged")
		}, done)
}

// judgeFinal checks a complete final read of one partition.
func (x *txnWorld) judgeFinal(s *txnScan) {
	w := x.w
	w.cover("txn-final-read")
	for _, tw := range x.byTP[s.tp] {
		if !tw.t.committed || tw.outcome != lin.OutcomeOK {
			continue
		}
		w.cover("txn-final-judged")
		if _, ok := s.read[tw.id]; !ok {
			w.fail("txn: %s: the final read_committed read (high watermark %d) lacks %s at offset %d, acknowledged, of transaction %s whose commit was acknowledged (torn transaction)",
				s.tp, s.hw, tw.id, tw.offset, tw.t.name)
		}
	}
}
