package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/record"
)

// TestClusterTxnRemoteVerificationAndMarkers: on three nodes, with the
// transaction coordinator on one broker and the transaction's partitions
// led by all three, produce verification crosses brokers (AddPartitionsToTxn
// v5 VerifyOnly through the peer path: a partition not added is refused,
// one added is accepted) and the commit's markers reach every partition
// (WriteTxnMarkers to the other leaders, a local append on the
// coordinator's own), after which every partition's last stable offset is
// its high watermark and the coordinator shows CompleteCommit.
func TestClusterTxnRemoteVerificationAndMarkers(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.TransactionStateLogNumPartitions = 1 })
	c.createTopic("t", 3, 1, nil)
	leaders := map[int32]bool{}
	for p := int32(0); p < 3; p++ {
		leaders[c.assignment("t", p).Leader] = true
	}
	if len(leaders) != 3 {
		t.Fatalf("partitions of t led by %v, want three brokers", leaders)
	}
	var coordinator int32 = -1
	c.runUntil("a transaction coordinator", func() bool {
		resp := c.do(c.controller, findCoordinator(3, 1, "tx")).(*kmsg.FindCoordinatorResponse)
		coordinator = resp.NodeID
		return resp.ErrorCode == 0
	})

	var pid int64
	var epoch int16
	c.runUntil("InitProducerId", func() bool {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 4
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr("tx"), 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp := c.do(coordinator, req).(*kmsg.InitProducerIDResponse)
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return resp.ErrorCode == 0
	})
	add := func(parts ...int32) {
		t.Helper()
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = 3
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = "tx", pid, epoch
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = "t", parts
		req.Topics = append(req.Topics, rt)
		resp := c.do(coordinator, req).(*kmsg.AddPartitionsToTxnResponse)
		for _, sp := range resp.Topics[0].Partitions {
			if sp.ErrorCode != 0 {
				t.Fatalf("AddPartitionsToTxn %v: partition %d error %d", parts, sp.Partition, sp.ErrorCode)
			}
		}
	}
	produce := func(p int32) int16 {
		t.Helper()
		opts := record.DefaultBatchOptions()
		opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence, opts.Transactional = pid, epoch, 0, true
		req := kmsg.NewPtrProduceRequest()
		req.Version = 9
		req.Acks = -1
		req.TimeoutMillis = 5000
		req.TransactionID = kmsg.StringPtr("tx")
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = record.MustBuild(opts, []record.Record{{Timestamp: c.nowMs, Value: []byte("v")}})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.do(c.assignment("t", p).Leader, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}

	add(0, 1)
	for p := int32(0); p < 3; p++ {
		if p == 2 {
			if code := produce(p); code != kerr.InvalidTxnState.Code {
				t.Fatalf("produce to t-2, not added, on broker %d (coordinator %d): error %d, want INVALID_TXN_STATE", c.assignment("t", p).Leader, coordinator, code)
			}
			add(2)
		}
		if code := produce(p); code != 0 {
			t.Fatalf("produce to t-%d on broker %d (coordinator %d): error %d", p, c.assignment("t", p).Leader, coordinator, code)
		}
	}
	for p := int32(0); p < 3; p++ {
		l := c.partitionLog(c.assignment("t", p).Leader, "t", p)
		if l.LastStableOffset() != 0 {
			t.Fatalf("t-%d: LSO %d while the transaction is open", p, l.LastStableOffset())
		}
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 3
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "tx", pid, epoch, true
	if code := c.do(coordinator, end).(*kmsg.EndTxnResponse).ErrorCode; code != 0 {
		t.Fatalf("EndTxn: %d", code)
	}
	c.runUntil("every marker written and the transaction complete", func() bool {
		for p := int32(0); p < 3; p++ {
			l := c.partitionLog(c.assignment("t", p).Leader, "t", p)
			if l.LogEndOffset() != 2 || l.LastStableOffset() != 2 {
				return false
			}
		}
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{"tx"}
		st := c.do(coordinator, req).(*kmsg.DescribeTransactionsResponse).TransactionStates[0]
		return st.State == "CompleteCommit"
	})
	for p := int32(0); p < 3; p++ {
		l := c.partitionLog(c.assignment("t", p).Leader, "t", p)
		data := readAll(t, l, l.HighWatermark())
		_, rest, err := record.Next(data)
		if err != nil {
			t.Fatal(err)
		}
		m, err := record.ParseEndTxnMarker(rest)
		if err != nil || !m.Commit {
			t.Fatalf("t-%d: second batch is not a commit marker: %+v %v", p, m, err)
		}
	}
}

// TestClusterTxnMarkerRetriedAcrossFailover: the leader of a
// transaction's partition is killed before the commit; the coordinator's
// WriteTxnMarkers to it fails, and the marker goes again, after the
// backoff, to the leader the image names then, until it is written. The
// transaction completes and the new leader's log ends with the commit
// marker, its last stable offset at its high watermark.
func TestClusterTxnMarkerRetriedAcrossFailover(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.TransactionStateLogNumPartitions = 1 })
	var coordinator int32 = -1
	c.runUntil("a transaction coordinator", func() bool {
		resp := c.do(c.controller, findCoordinator(3, 1, "tx")).(*kmsg.FindCoordinatorResponse)
		coordinator = resp.NodeID
		return resp.ErrorCode == 0
	})
	c.createTopic("t", 3, 3, nil)
	p := int32(-1)
	for i := int32(0); i < 3; i++ {
		if l := c.assignment("t", i).Leader; l != c.controller && l != coordinator {
			p = i
		}
	}
	if p < 0 {
		t.Fatalf("no partition of t led outside the controller %d and the coordinator %d", c.controller, coordinator)
	}
	var pid int64
	var epoch int16
	c.runUntil("InitProducerId", func() bool {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 4
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr("tx"), 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp := c.do(coordinator, req).(*kmsg.InitProducerIDResponse)
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return resp.ErrorCode == 0
	})
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.Version = 3
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "tx", pid, epoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "t", []int32{p}
	add.Topics = append(add.Topics, at)
	if code := c.do(coordinator, add).(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("AddPartitionsToTxn: %d", code)
	}
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence, opts.Transactional = pid, epoch, 0, true
	prod := kmsg.NewPtrProduceRequest()
	prod.Version = 9
	prod.Acks = -1
	prod.TimeoutMillis = 5000
	prod.TransactionID = kmsg.StringPtr("tx")
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = p
	rp.Records = record.MustBuild(opts, []record.Record{{Timestamp: c.nowMs, Value: []byte("v")}})
	rt.Partitions = append(rt.Partitions, rp)
	prod.Topics = append(prod.Topics, rt)
	old := c.assignment("t", p)
	if code := c.do(old.Leader, prod).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce: %d", code)
	}

	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 3
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "tx", pid, epoch, true
	if code := c.do(coordinator, end).(*kmsg.EndTxnResponse).ErrorCode; code != 0 {
		t.Fatalf("EndTxn: %d", code)
	}
	// The PrepareCommit is committed and the marker on its way: the
	// leader dies before it arrives.
	c.nodes[old.Leader-1].kill()
	retriesBefore := c.nodes[coordinator-1].b.markerRetries
	c.runUntil("the transaction complete after the failover", func() bool {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{"tx"}
		st := c.do(coordinator, req).(*kmsg.DescribeTransactionsResponse).TransactionStates[0]
		return st.State == "CompleteCommit"
	})
	a := c.assignment("t", p)
	if a.Leader == old.Leader || a.Leader == metadata.NoLeader {
		t.Fatalf("t-%d: leader %d after the kill of %d", p, a.Leader, old.Leader)
	}
	l := c.partitionLog(a.Leader, "t", p)
	c.runUntil("the marker below the high watermark", func() bool { return l.HighWatermark() == l.LogEndOffset() })
	data := readAll(t, l, l.HighWatermark())
	var last []byte
	for len(data) > 0 {
		batch, rest, err := record.Next(data)
		if err != nil {
			t.Fatal(err)
		}
		last, data = batch, rest
	}
	if m, err := record.ParseEndTxnMarker(last); err != nil || !m.Commit {
		t.Fatalf("t-%d on the new leader %d: last batch is not a commit marker: %+v %v", p, a.Leader, m, err)
	}
	if c.nodes[coordinator-1].b.markerRetries == retriesBefore {
		t.Fatal("no marker was sent again: the test did not reach the retry")
	}
	if l.LastStableOffset() != l.HighWatermark() {
		t.Fatalf("t-%d: LSO %d, high watermark %d", p, l.LastStableOffset(), l.HighWatermark())
	}
}

// TestClusterTxnCoordinatorKilledAfterPrepare: the coordinator's broker
// dies right after answering EndTxn (its PrepareCommit committed, the
// markers perhaps not yet written). The new leader of its
// __transaction_state partition loads the PrepareCommit, writes every
// marker again and completes the transaction: each partition ends with a
// commit marker and its last stable offset reaches its high watermark.
func TestClusterTxnCoordinatorKilledAfterPrepare(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.TransactionStateLogNumPartitions = 3 })
	c.createTopic("t", 3, 3, nil)
	find := func(id string) int32 {
		var node int32 = -1
		c.runUntil("a transaction coordinator", func() bool {
			resp := c.do(c.controller, findCoordinator(3, 1, id)).(*kmsg.FindCoordinatorResponse)
			node = resp.NodeID
			return resp.ErrorCode == 0
		})
		return node
	}
	// An id whose coordinator is not the controller (the test cluster's
	// controller does not move).
	id := ""
	var coordinator int32
	for i := 0; id == ""; i++ {
		cand := fmt.Sprintf("tx%d", i)
		if n := find(cand); n != c.controller {
			id, coordinator = cand, n
		}
	}
	var pid int64
	var epoch int16
	c.runUntil("InitProducerId", func() bool {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 4
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp := c.do(coordinator, req).(*kmsg.InitProducerIDResponse)
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return resp.ErrorCode == 0
	})
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.Version = 3
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = id, pid, epoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "t", []int32{0, 1, 2}
	add.Topics = append(add.Topics, at)
	for _, sp := range c.do(coordinator, add).(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions {
		if sp.ErrorCode != 0 {
			t.Fatalf("AddPartitionsToTxn: partition %d error %d", sp.Partition, sp.ErrorCode)
		}
	}
	for p := int32(0); p < 3; p++ {
		opts := record.DefaultBatchOptions()
		opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence, opts.Transactional = pid, epoch, 0, true
		req := kmsg.NewPtrProduceRequest()
		req.Version = 9
		req.Acks = -1
		req.TimeoutMillis = 5000
		req.TransactionID = kmsg.StringPtr(id)
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = record.MustBuild(opts, []record.Record{{Timestamp: c.nowMs, Value: []byte("v")}})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		if code := c.do(c.assignment("t", p).Leader, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("produce to t-%d: %d", p, code)
		}
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 3
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = id, pid, epoch, true
	if code := c.do(coordinator, end).(*kmsg.EndTxnResponse).ErrorCode; code != 0 {
		t.Fatalf("EndTxn: %d", code)
	}
	c.nodes[coordinator-1].kill()

	var next int32
	c.runUntil("a new coordinator", func() bool {
		resp := c.do(c.controller, findCoordinator(3, 1, id)).(*kmsg.FindCoordinatorResponse)
		next = resp.NodeID
		return resp.ErrorCode == 0 && next != coordinator
	})
	c.runUntil("the new coordinator completes the transaction", func() bool {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{id}
		st := c.do(next, req).(*kmsg.DescribeTransactionsResponse).TransactionStates[0]
		return st.ErrorCode == 0 && st.State == "CompleteCommit"
	})
	for p := int32(0); p < 3; p++ {
		leader := c.assignment("t", p).Leader
		l := c.partitionLog(leader, "t", p)
		c.runUntil("the markers below the high watermark", func() bool { return l.HighWatermark() == l.LogEndOffset() })
		if l.LastStableOffset() != l.HighWatermark() {
			t.Fatalf("t-%d on %d: LSO %d, high watermark %d", p, leader, l.LastStableOffset(), l.HighWatermark())
		}
		data := readAll(t, l, l.HighWatermark())
		commits := 0
		for len(data) > 0 {
			batch, rest, err := record.Next(data)
			if err != nil {
				t.Fatal(err)
			}
			data = rest
			if m, err := record.ParseEndTxnMarker(batch); err == nil {
				if !m.Commit {
					t.Fatalf("t-%d: an abort marker", p)
				}
				commits++
			}
		}
		if commits == 0 {
			t.Fatalf("t-%d on %d: no commit marker", p, leader)
		}
	}
}
