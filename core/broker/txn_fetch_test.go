package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
)

// appendTxnBatch writes a transactional batch of n records straight into
// the partition's log (the produce path refuses transactional produce
// until the coordinator exists).
func appendTxnBatch(t *testing.T, p *partition, pid int64, seq int32, n int, nowMs int64) int64 {
	t.Helper()
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence, opts.Transactional = pid, 0, seq, true
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Timestamp: nowMs, Value: []byte(fmt.Sprintf("txn-%d-%d", pid, int(seq)+i))}
	}
	res, err := p.log.Append(record.MustBuild(opts, recs), p.leaderEpoch, nowMs)
	if err != nil {
		t.Fatalf("append transactional batch: %v", err)
	}
	return res.BaseOffset
}

func fetchIsolated(tb *testBroker, topic string, offset int64, isolation int8) kmsg.FetchResponseTopicPartition {
	tb.t.Helper()
	req := fetchRequest(topic, 0, offset, 0, 0)
	req.IsolationLevel = isolation
	resp := tb.do(req).(*kmsg.FetchResponse)
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		tb.t.Fatalf("fetch %s at %d isolation %d: error %d", topic, offset, isolation, sp.ErrorCode)
	}
	return sp
}

func fetchedEnd(t *testing.T, sp kmsg.FetchResponseTopicPartition) int64 {
	t.Helper()
	end, err := batchesEnd(sp.RecordBatches)
	if err != nil {
		t.Fatalf("fetched records: %v", err)
	}
	return end
}

func latestOffset(tb *testBroker, topic string, isolation int8) int64 {
	tb.t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	req.ReplicaID = -1
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := tb.do(req).(*kmsg.ListOffsetsResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		tb.t.Fatalf("ListOffsets: error %d", code)
	}
	return resp.Topics[0].Partitions[0].Offset
}

// TestFetchReadCommitted: a read_committed fetch stops at the last stable
// offset while a transaction is open and gets the aborted transactions of
// the range it reads; read_uncommitted reads to the high watermark; both
// report the LSO; ListOffsets latest follows the isolation level.
func TestFetchReadCommitted(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("tx", 1, nil)
	p := tb.b.topics["tx"].partitions[0]
	tb.produce("tx", 0, 2)                             // 0-1
	first := appendTxnBatch(t, p, 100, 0, 2, tb.nowMs) // 2-3
	tb.produce("tx", 0, 1)                             // 4: syncs the log, HW 5
	if hw := p.log.HighWatermark(); hw != 5 {
		t.Fatalf("HW %d, want 5", hw)
	}

	rc := fetchIsolated(tb, "tx", 0, 1)
	if rc.HighWatermark != 5 || rc.LastStableOffset != first || fetchedEnd(t, rc) != first {
		t.Fatalf("read_committed: HW %d LSO %d records to %d; want 5, %d, %d", rc.HighWatermark, rc.LastStableOffset, fetchedEnd(t, rc), first, first)
	}
	if rc.AbortedTransactions == nil || len(rc.AbortedTransactions) != 0 {
		t.Fatalf("read_committed aborted %v, want empty", rc.AbortedTransactions)
	}
	ru := fetchIsolated(tb, "tx", 0, 0)
	if ru.HighWatermark != 5 || ru.LastStableOffset != first || fetchedEnd(t, ru) != 5 || ru.AbortedTransactions != nil {
		t.Fatalf("read_uncommitted: HW %d LSO %d records to %d aborted %v", ru.HighWatermark, ru.LastStableOffset, fetchedEnd(t, ru), ru.AbortedTransactions)
	}
	if got := latestOffset(tb, "tx", 1); got != first {
		t.Fatalf("ListOffsets latest read_committed %d, want the LSO %d", got, first)
	}
	if got := latestOffset(tb, "tx", 0); got != 5 {
		t.Fatalf("ListOffsets latest read_uncommitted %d, want the HW 5", got)
	}

	if _, err := p.log.AppendTxnMarker(partlog.TxnMarker{ProducerID: 100, ProducerEpoch: 0, Commit: false}, p.leaderEpoch, tb.nowMs); err != nil { // 5
		t.Fatal(err)
	}
	tb.produce("tx", 0, 1) // 6, HW 7
	rc = fetchIsolated(tb, "tx", 0, 1)
	if rc.LastStableOffset != 7 || fetchedEnd(t, rc) != 7 {
		t.Fatalf("after the abort: LSO %d records to %d, want 7", rc.LastStableOffset, fetchedEnd(t, rc))
	}
	if len(rc.AbortedTransactions) != 1 || rc.AbortedTransactions[0].ProducerID != 100 || rc.AbortedTransactions[0].FirstOffset != first {
		t.Fatalf("aborted %+v, want producer 100 from %d", rc.AbortedTransactions, first)
	}
	if rc = fetchIsolated(tb, "tx", 6, 1); len(rc.AbortedTransactions) != 0 {
		t.Fatalf("a fetch after the marker got aborted %+v", rc.AbortedTransactions)
	}
	if got := latestOffset(tb, "tx", 1); got != 7 {
		t.Fatalf("ListOffsets latest read_committed %d after the abort, want 7", got)
	}
	// The index survives a restart of the broker.
	tb.restart()
	rc = fetchIsolated(tb, "tx", 0, 1)
	if len(rc.AbortedTransactions) != 1 || rc.AbortedTransactions[0].FirstOffset != first {
		t.Fatalf("after a restart aborted %+v", rc.AbortedTransactions)
	}
}
