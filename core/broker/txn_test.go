package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/record"
)

// txnTestBroker is a single node with a small __transaction_state,
// created by a FindCoordinator for a transactional id, and a topic "t"
// of two partitions.
func txnTestBroker(t *testing.T, opts ...func(*Config)) *testBroker {
	t.Helper()
	tb := newTestBroker(t, append([]func(*Config){func(c *Config) {
		c.TransactionStateLogNumPartitions = 3
		c.OffsetsTopicPartitions = 3
	}}, opts...)...)
	first := tb.do(findCoordinator(3, 1, "tx")).(*kmsg.FindCoordinatorResponse)
	if first.ErrorCode != kerrCoordinatorNotAvailable {
		t.Fatalf("first FindCoordinator for a transactional id: error %d, want COORDINATOR_NOT_AVAILABLE", first.ErrorCode)
	}
	ts := tb.b.topics[txnStateTopic]
	if ts == nil || ts.meta.Partitions != 3 || ts.logConfig.CleanupPolicy == 0 || ts.meta.Configs["min.insync.replicas"] != "1" {
		t.Fatalf("__transaction_state after the first request: %+v", ts)
	}
	tb.settleGroups()
	if resp := tb.do(findCoordinator(3, 1, "tx")).(*kmsg.FindCoordinatorResponse); resp.ErrorCode != 0 || resp.NodeID != tb.cfg.NodeID {
		t.Fatalf("FindCoordinator after __transaction_state exists: %+v", resp)
	}
	tb.createTopic("t", 2, nil)
	return tb
}

// txnProducer is a transactional producer's identity.
type txnProducer struct {
	id    string
	pid   int64
	epoch int16
	seq   map[int32]int32
}

// initTxn sends InitProducerId for id until it succeeds (the first may
// wait for a producer-id block) and returns the producer.
func (tb *testBroker) initTxn(id string, timeoutMs int32) *txnProducer {
	tb.t.Helper()
	for range 10 {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 4
		req.TransactionalID = kmsg.StringPtr(id)
		req.TransactionTimeoutMillis = timeoutMs
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp := tb.sendGroup(req).(*kmsg.InitProducerIDResponse)
		switch resp.ErrorCode {
		case kerrNone:
			return &txnProducer{id: id, pid: resp.ProducerID, epoch: resp.ProducerEpoch, seq: map[int32]int32{}}
		case kerr.CoordinatorLoadInProgress.Code, kerr.ConcurrentTransactions.Code:
			tb.nowMs += 100
			tb.settleGroups()
			continue
		}
		tb.t.Fatalf("InitProducerId %q: error %d", id, resp.ErrorCode)
	}
	tb.t.Fatalf("InitProducerId %q: no success", id)
	return nil
}

// addPartitions adds partitions of "t" to p's transaction (v3).
func (tb *testBroker) addPartitions(p *txnProducer, parts ...int32) int16 {
	tb.t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 3
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = p.id, p.pid, p.epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic = "t"
	rt.Partitions = parts
	req.Topics = append(req.Topics, rt)
	resp := tb.sendGroup(req).(*kmsg.AddPartitionsToTxnResponse)
	for _, t := range resp.Topics {
		for _, sp := range t.Partitions {
			if sp.ErrorCode != kerrNone {
				return sp.ErrorCode
			}
		}
	}
	return kerrNone
}

// txnProduce sends one transactional batch of p (values prefixed with
// tag) to partition part of "t" and returns the partition's error code.
func (tb *testBroker) txnProduce(p *txnProducer, part int32, version int16, tag string, n int) int16 {
	tb.t.Helper()
	resp := tb.sendGroup(tb.txnProduceRequest(p, part, version, tag, n)).(*kmsg.ProduceResponse)
	code := resp.Topics[0].Partitions[0].ErrorCode
	if code == kerrNone {
		p.seq[part] += int32(n)
	}
	return code
}

// txnProduceRequest is txnProduce's request.
func (tb *testBroker) txnProduceRequest(p *txnProducer, part int32, version int16, tag string, n int) *kmsg.ProduceRequest {
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence, opts.Transactional = p.pid, p.epoch, p.seq[part], true
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Timestamp: tb.nowMs, Value: []byte(fmt.Sprintf("%s-%d", tag, i))}
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = -1
	req.TimeoutMillis = 5000
	req.TransactionID = kmsg.StringPtr(p.id)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = part
	rp.Records = record.MustBuild(opts, recs)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// endTxn ends p's transaction.
func (tb *testBroker) endTxn(p *txnProducer, version int16, commit bool) int16 {
	tb.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = version
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = p.id, p.pid, p.epoch, commit
	return tb.sendGroup(req).(*kmsg.EndTxnResponse).ErrorCode
}

// describeTxn returns id's state as DescribeTransactions shows it.
func (tb *testBroker) describeTxn(id string) kmsg.DescribeTransactionsResponseTransactionState {
	tb.t.Helper()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{id}
	resp := tb.sendGroup(req).(*kmsg.DescribeTransactionsResponse)
	if len(resp.TransactionStates) != 1 || resp.TransactionStates[0].ErrorCode != 0 {
		tb.t.Fatalf("DescribeTransactions %q: %+v", id, resp.TransactionStates)
	}
	return resp.TransactionStates[0]
}

// readCommitted fetches partition part of "t" from 0 with
// read_committed and returns the values a read_committed consumer keeps
// (records of aborted transactions and control batches dropped), and the
// partition's LSO and high watermark.
func (tb *testBroker) readCommitted(part int32) (values []string, lso, hw int64) {
	tb.t.Helper()
	req := fetchRequest("t", part, 0, 0, 0)
	req.IsolationLevel = 1
	resp := tb.do(req).(*kmsg.FetchResponse)
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		tb.t.Fatalf("fetch t-%d: error %d", part, sp.ErrorCode)
	}
	// A consumer drops a producer's records from the first offset of an
	// aborted transaction to its abort marker.
	aborted := map[int64][]int64{}
	for _, a := range sp.AbortedTransactions {
		aborted[a.ProducerID] = append(aborted[a.ProducerID], a.FirstOffset)
	}
	dropping := map[int64]bool{}
	data := sp.RecordBatches
	for len(data) > 0 {
		batch, rest, err := record.Next(data)
		if err != nil {
			tb.t.Fatalf("fetched batches: %v", err)
		}
		data = rest
		h, err := record.ParseHeader(batch)
		if err != nil {
			tb.t.Fatal(err)
		}
		for _, first := range aborted[h.ProducerID] {
			if first <= h.BaseOffset && !h.Control() {
				dropping[h.ProducerID] = true
			}
		}
		if h.Control() {
			if dropping[h.ProducerID] {
				delete(dropping, h.ProducerID)
				list := aborted[h.ProducerID]
				aborted[h.ProducerID] = list[1:]
			}
			continue
		}
		if dropping[h.ProducerID] {
			continue
		}
		recs, err := record.DecodeRecords(batch, 1<<20)
		if err != nil {
			tb.t.Fatal(err)
		}
		for _, r := range recs {
			values = append(values, string(r.Value))
		}
	}
	return values, sp.LastStableOffset, sp.HighWatermark
}

// TestTxnCommitAbortReadCommitted drives a transactional producer on a
// single node: InitProducerId, AddPartitionsToTxn, transactional produce
// to two partitions, EndTxn commit, then a second transaction aborted.
// A read_committed fetch sees the committed records only, with the
// aborted transaction listed; the LSO reaches the high watermark once the
// markers are in; DescribeTransactions, ListTransactions and
// DescribeProducers show the state.
func TestTxnCommitAbortReadCommitted(t *testing.T) {
	tb := txnTestBroker(t)
	p := tb.initTxn("tx", 60000)
	if p.epoch != 0 || p.pid < 0 {
		t.Fatalf("first InitProducerId: pid %d epoch %d", p.pid, p.epoch)
	}
	if code := tb.addPartitions(p, 0, 1); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %d", code)
	}
	producedAt := tb.nowMs // t-0's batch's timestamp
	for _, part := range []int32{0, 1} {
		if code := tb.txnProduce(p, part, 9, "commit", 2); code != 0 {
			t.Fatalf("transactional produce to t-%d: %d", part, code)
		}
	}
	// Open: read_committed sees nothing, the LSO is held at the first
	// transactional offset.
	if vals, lso, hw := tb.readCommitted(0); len(vals) != 0 || lso != 0 || hw != 2 {
		t.Fatalf("open transaction: values %v lso %d hw %d", vals, lso, hw)
	}
	if st := tb.describeTxn("tx"); st.State != "Ongoing" || len(st.Topics) != 1 || len(st.Topics[0].Partitions) != 2 {
		t.Fatalf("DescribeTransactions while open: %+v", st)
	}
	dp := kmsg.NewPtrDescribeProducersRequest()
	dpt := kmsg.NewDescribeProducersRequestTopic()
	dpt.Topic, dpt.Partitions = "t", []int32{0, 5}
	dp.Topics = append(dp.Topics, dpt)
	dpr := tb.do(dp).(*kmsg.DescribeProducersResponse)
	got := dpr.Topics[0].Partitions
	if len(got) != 2 || got[0].ErrorCode != 0 || len(got[0].ActiveProducers) != 1 || got[1].ErrorCode != kerrUnknownTopicOrPartition {
		t.Fatalf("DescribeProducers: %+v", got)
	}
	if ap := got[0].ActiveProducers[0]; ap.ProducerID != p.pid || ap.ProducerEpoch != int32(p.epoch) || ap.LastSequence != 1 || ap.CurrentTxnStartOffset != 0 || ap.LastTimestamp != producedAt {
		t.Fatalf("DescribeProducers active producer: %+v", ap)
	}

	if code := tb.endTxn(p, 3, true); code != 0 {
		t.Fatalf("EndTxn commit: %d", code)
	}
	tb.settleGroups()
	if st := tb.describeTxn("tx"); st.State != "CompleteCommit" {
		t.Fatalf("after commit: state %s", st.State)
	}
	for _, part := range []int32{0, 1} {
		vals, lso, hw := tb.readCommitted(part)
		if len(vals) != 2 || vals[0] != "commit-0" || lso != hw || hw != 3 {
			t.Fatalf("t-%d after commit: values %v lso %d hw %d", part, vals, lso, hw)
		}
	}

	// The second transaction, on t-0 only, is aborted.
	if code := tb.addPartitions(p, 0); code != 0 {
		t.Fatalf("AddPartitionsToTxn 2: %d", code)
	}
	if code := tb.txnProduce(p, 0, 9, "abort", 3); code != 0 {
		t.Fatalf("transactional produce 2: %d", code)
	}
	if code := tb.endTxn(p, 3, false); code != 0 {
		t.Fatalf("EndTxn abort: %d", code)
	}
	tb.settleGroups()
	if st := tb.describeTxn("tx"); st.State != "CompleteAbort" {
		t.Fatalf("after abort: state %s", st.State)
	}
	vals, lso, hw := tb.readCommitted(0)
	if fmt.Sprint(vals) != "[commit-0 commit-1]" || lso != hw || hw != 7 {
		t.Fatalf("t-0 after abort: values %v lso %d hw %d", vals, lso, hw)
	}
	req := fetchRequest("t", 0, 0, 0, 0)
	req.IsolationLevel = 1
	sp := tb.do(req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if len(sp.AbortedTransactions) != 1 || sp.AbortedTransactions[0].ProducerID != p.pid || sp.AbortedTransactions[0].FirstOffset != 3 {
		t.Fatalf("aborted transactions: %+v", sp.AbortedTransactions)
	}

	lt := kmsg.NewPtrListTransactionsRequest()
	lt.Version = 1
	ltr := tb.sendGroup(lt).(*kmsg.ListTransactionsResponse)
	if ltr.ErrorCode != 0 || len(ltr.TransactionStates) != 1 || ltr.TransactionStates[0].TransactionState != "CompleteAbort" {
		t.Fatalf("ListTransactions: %+v", ltr)
	}
	// A retried EndTxn (its answer lost) succeeds; asking for the other
	// outcome is INVALID_TXN_STATE.
	if code := tb.endTxn(p, 3, false); code != 0 {
		t.Fatalf("retried EndTxn abort: %d", code)
	}
	if code := tb.endTxn(p, 3, true); code != kerr.InvalidTxnState.Code {
		t.Fatalf("EndTxn commit after the abort: %d, want INVALID_TXN_STATE", code)
	}
	// The state survives a restart (replayed from __transaction_state).
	tb.restart()
	tb.settleGroups()
	if st := tb.describeTxn("tx"); st.State != "CompleteAbort" && st.State != "CompleteCommit" || st.ProducerID != p.pid {
		t.Fatalf("after restart: %+v", st)
	}
}

// TestTxnProduceVerification: a transactional batch to a partition the
// producer did not add is refused (KIP-890 part 1): INVALID_TXN_STATE up
// to Produce v10, TRANSACTION_ABORTABLE from v11; nothing is appended.
func TestTxnProduceVerification(t *testing.T) {
	tb := txnTestBroker(t)
	p := tb.initTxn("tx", 60000)
	if code := tb.addPartitions(p, 0); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %d", code)
	}
	if code := tb.txnProduce(p, 1, 9, "stray", 1); code != kerr.InvalidTxnState.Code {
		t.Fatalf("produce v9 to a partition not added: %d, want INVALID_TXN_STATE", code)
	}
	if code := tb.txnProduce(p, 1, 11, "stray", 1); code != kerr.TransactionAbortable.Code {
		t.Fatalf("produce v11 to a partition not added: %d, want TRANSACTION_ABORTABLE", code)
	}
	// Transactional records without the request's transactional id are
	// refused whole, as Kafka's authorizer does.
	noID := tb.txnProduceRequest(p, 1, 9, "noid", 1)
	noID.TransactionID = nil
	if code := tb.sendGroup(noID).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerrTransactionalIDAuthorizationFailed {
		t.Fatalf("transactional batch without a transactional id: %d, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", code)
	}
	if leo := tb.b.topics["t"].partitions[1].log.LogEndOffset(); leo != 0 {
		t.Fatalf("t-1 holds %d records after refused batches", leo)
	}
	if code := tb.txnProduce(p, 0, 11, "ok", 1); code != 0 {
		t.Fatalf("produce to the added partition: %d", code)
	}
	// A second batch of the open transaction needs no verification.
	if code := tb.txnProduce(p, 0, 11, "ok2", 1); code != 0 {
		t.Fatalf("second produce to the added partition: %d", code)
	}
}

// TestTxnProduceV12V13NotAdded: v12+ would let the broker add a
// transaction's partitions itself (KIP-890 part 2). With no
// transaction.version 2 finalized, a v12 or v13 (topic by id)
// transactional batch to a partition not added is verified like any and
// refused, writing nothing; v13 to the added partition is appended.
func TestTxnProduceV12V13NotAdded(t *testing.T) {
	tb := txnTestBroker(t)
	p := tb.initTxn("tx", 60000)
	if code := tb.addPartitions(p, 0); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %d", code)
	}
	id := [16]byte(tb.b.topics["t"].meta.ID)
	byID := func(req *kmsg.ProduceRequest) *kmsg.ProduceRequest {
		req.Topics[0].Topic, req.Topics[0].TopicID = "", id
		return req
	}
	for _, v := range []int16{12, 13} {
		req := tb.txnProduceRequest(p, 1, v, "stray", 1)
		if v >= 13 {
			byID(req)
		}
		if code := tb.sendGroup(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.TransactionAbortable.Code {
			t.Fatalf("produce v%d to a partition not added: %d, want TRANSACTION_ABORTABLE", v, code)
		}
	}
	if leo := tb.b.topics["t"].partitions[1].log.LogEndOffset(); leo != 0 {
		t.Fatalf("t-1 holds %d records after refused batches", leo)
	}
	if code := tb.sendGroup(byID(tb.txnProduceRequest(p, 0, 13, "ok", 1))).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce v13 to the added partition: %d", code)
	}
	if leo := tb.b.topics["t"].partitions[0].log.LogEndOffset(); leo != 1 {
		t.Fatalf("t-0 log end %d after the v13 produce, want 1", leo)
	}
}

// TestTxnZombieFencing: a second InitProducerId for the same id bumps the
// epoch (aborting the open transaction); the old epoch's produce and
// EndTxn are refused, with PRODUCER_FENCED or INVALID_PRODUCER_EPOCH per
// version, and its records are aborted.
func TestTxnZombieFencing(t *testing.T) {
	tb := txnTestBroker(t)
	old := tb.initTxn("tx", 60000)
	if code := tb.addPartitions(old, 0); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %d", code)
	}
	if code := tb.txnProduce(old, 0, 9, "zombie", 2); code != 0 {
		t.Fatalf("produce: %d", code)
	}
	cur := tb.initTxn("tx", 60000)
	if cur.pid != old.pid || cur.epoch <= old.epoch {
		t.Fatalf("second InitProducerId: pid %d epoch %d, first pid %d epoch %d", cur.pid, cur.epoch, old.pid, old.epoch)
	}
	tb.settleGroups()
	if code := tb.txnProduce(old, 0, 9, "zombie", 1); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("zombie produce: %d, want INVALID_PRODUCER_EPOCH", code)
	}
	if code := tb.endTxn(old, 1, true); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("zombie EndTxn v1: %d, want INVALID_PRODUCER_EPOCH", code)
	}
	if code := tb.endTxn(old, 3, true); code != kerr.ProducerFenced.Code {
		t.Fatalf("zombie EndTxn v3: %d, want PRODUCER_FENCED", code)
	}
	if vals, lso, hw := tb.readCommitted(0); len(vals) != 0 || lso != hw {
		t.Fatalf("after fencing: values %v lso %d hw %d", vals, lso, hw)
	}
	// The new epoch works.
	if code := tb.addPartitions(cur, 0); code != 0 {
		t.Fatalf("AddPartitionsToTxn, new epoch: %d", code)
	}
	if code := tb.txnProduce(cur, 0, 9, "new", 1); code != 0 {
		t.Fatalf("produce, new epoch: %d", code)
	}
	if code := tb.endTxn(cur, 3, true); code != 0 {
		t.Fatalf("EndTxn, new epoch: %d", code)
	}
	tb.settleGroups()
	if vals, _, _ := tb.readCommitted(0); fmt.Sprint(vals) != "[new-0]" {
		t.Fatalf("read_committed after fencing: %v", vals)
	}
}

// TestTxnTimeoutAborts: a transaction left open past its timeout is
// aborted by the coordinator (epoch bumped), its abort markers written,
// and the LSO released.
func TestTxnTimeoutAborts(t *testing.T) {
	tb := txnTestBroker(t)
	p := tb.initTxn("tx", 1000)
	if code := tb.addPartitions(p, 0, 1); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %d", code)
	}
	if code := tb.txnProduce(p, 1, 9, "late", 2); code != 0 {
		t.Fatalf("produce: %d", code)
	}
	if _, lso, _ := tb.readCommitted(1); lso != 0 {
		t.Fatalf("open transaction: lso %d", lso)
	}
	for range 5 {
		tb.nowMs += tb.cfg.TxnCoordinator.AbortTimedOutIntervalMs
		tb.settleGroups()
	}
	st := tb.describeTxn("tx")
	if st.State != "CompleteAbort" || st.ProducerEpoch <= p.epoch {
		t.Fatalf("after the timeout: %+v", st)
	}
	if vals, lso, hw := tb.readCommitted(1); len(vals) != 0 || lso != hw || hw != 3 {
		t.Fatalf("t-1 after the timeout abort: values %v lso %d hw %d", vals, lso, hw)
	}
	if code := tb.endTxn(p, 3, true); code != kerr.ProducerFenced.Code {
		t.Fatalf("EndTxn after the timeout: %d, want PRODUCER_FENCED", code)
	}
}

// TestTxnOffsetsMarkerAndBatchedAdd: AddOffsetsToTxn adds the group's
// partition of __consumer_offsets, whose commit marker is written there
// (writeOffsetsTxnMarker); AddPartitionsToTxn v4+ batches transactions
// of ids on different shards, verify-only or not, answered in request
// order.
func TestTxnOffsetsMarkerAndBatchedAdd(t *testing.T) {
	tb := txnTestBroker(t)
	tb.do(findCoordinator(3, 0, "g")) // creates __consumer_offsets
	tb.settleGroups()
	// Two ids on different partitions of __transaction_state.
	a, other := "tx", ""
	for i := 0; other == ""; i++ {
		if id := fmt.Sprintf("id%d", i); coordinatorPartition(id, 3) != coordinatorPartition(a, 3) {
			other = id
		}
	}
	pa, pb := tb.initTxn(a, 60000), tb.initTxn(other, 60000)

	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.Version = 3
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = a, pa.pid, pa.epoch, "g"
	if code := tb.sendGroup(ao).(*kmsg.AddOffsetsToTxnResponse).ErrorCode; code != 0 {
		t.Fatalf("AddOffsetsToTxn: %d", code)
	}

	batch := kmsg.NewPtrAddPartitionsToTxnRequest()
	batch.Version = 5
	for _, x := range []struct {
		p      *txnProducer
		part   int32
		verify bool
	}{{pb, 1, false}, {pa, 0, true}, {pa, 1, false}} {
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = x.p.id, x.p.pid, x.p.epoch, x.verify
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = "t", []int32{x.part}
		tx.Topics = append(tx.Topics, tt)
		batch.Transactions = append(batch.Transactions, tx)
	}
	resp := tb.sendGroup(batch).(*kmsg.AddPartitionsToTxnResponse)
	var got []string
	for _, tx := range resp.Transactions {
		got = append(got, fmt.Sprintf("%s:%d=%d", tx.TransactionalID, tx.Topics[0].Partitions[0].Partition, tx.Topics[0].Partitions[0].ErrorCode))
	}
	// pa's verify-only t-0 is not in its transaction: TRANSACTION_ABORTABLE.
	want := fmt.Sprintf("[%s:1=0 %s:0=%d %s:1=0]", other, a, kerr.TransactionAbortable.Code, a)
	if fmt.Sprint(got) != want {
		t.Fatalf("batched AddPartitionsToTxn: %v, want %s", got, want)
	}

	if code := tb.endTxn(pa, 3, true); code != 0 {
		t.Fatalf("EndTxn: %d", code)
	}
	tb.settleGroups()
	if st := tb.describeTxn(a); st.State != "CompleteCommit" {
		t.Fatalf("after commit: %+v", st)
	}
	op := tb.b.lookupPartition(offsetsTopic, coordinatorPartition("g", 3))
	data := readAll(t, op.log, op.log.HighWatermark())
	var markers int
	for len(data) > 0 {
		b, rest, err := record.Next(data)
		if err != nil {
			t.Fatal(err)
		}
		data = rest
		if m, err := record.ParseEndTxnMarker(b); err == nil && m.Commit {
			markers++
		}
	}
	if markers != 1 {
		t.Fatalf("%d commit markers in the group's __consumer_offsets partition, want 1", markers)
	}

	// ListTransactions on this broker lists both ids; DescribeTransactions
	// of both (on two shards) answers in request order.
	lt := tb.sendGroup(kmsg.NewPtrListTransactionsRequest()).(*kmsg.ListTransactionsResponse)
	if len(lt.TransactionStates) != 2 || lt.TransactionStates[0].TransactionalID > lt.TransactionStates[1].TransactionalID {
		t.Fatalf("ListTransactions: %+v", lt.TransactionStates)
	}
	dt := kmsg.NewPtrDescribeTransactionsRequest()
	dt.TransactionalIDs = []string{other, "nope", a}
	dtr := tb.sendGroup(dt).(*kmsg.DescribeTransactionsResponse)
	if len(dtr.TransactionStates) != 3 || dtr.TransactionStates[0].TransactionalID != other || dtr.TransactionStates[0].State != "Ongoing" ||
		dtr.TransactionStates[1].ErrorCode != kerr.TransactionalIDNotFound.Code || dtr.TransactionStates[2].State != "CompleteCommit" {
		t.Fatalf("DescribeTransactions: %+v", dtr.TransactionStates)
	}
}

// TestTxnNotCoordinator: transaction requests to a broker that does not
// lead the id's partition get NOT_COORDINATOR in every version's shape;
// ListTransactions on a broker leading no shard lists nothing.
func TestTxnNotCoordinator(t *testing.T) {
	tb := txnTestBroker(t)
	for _, p := range tb.b.topics[txnStateTopic].partitions {
		tb.b.txnRuntime().Resign(p.index)
	}
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("tx"), 1000
	if r := tb.do(init).(*kmsg.InitProducerIDResponse); r.ErrorCode != kerr.NotCoordinator.Code || r.ProducerID != -1 {
		t.Fatalf("InitProducerId: %+v", r)
	}
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.Version = 2
	add.TransactionalID = "tx"
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "t", []int32{0, 1}
	add.Topics = append(add.Topics, at)
	if r := tb.do(add).(*kmsg.AddPartitionsToTxnResponse); len(r.Topics[0].Partitions) != 2 || r.Topics[0].Partitions[1].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("AddPartitionsToTxn: %+v", r)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 5
	end.TransactionalID = "tx"
	if r := tb.do(end).(*kmsg.EndTxnResponse); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("EndTxn: %+v", r)
	}
	lt := kmsg.NewPtrListTransactionsRequest()
	lt.Version = 2
	lt.StateFilters = []string{"Ongoing", "Bogus"}
	r := tb.do(lt).(*kmsg.ListTransactionsResponse)
	if r.ErrorCode != 0 || len(r.TransactionStates) != 0 || fmt.Sprint(r.UnknownStateFilters) != "[Bogus]" {
		t.Fatalf("ListTransactions: %+v", r)
	}
}
