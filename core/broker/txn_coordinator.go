package broker

// Transaction coordinators: the requests about a transactional id go to
// the shard (core/txn) of its partition of __transaction_state, run by a
// coordinator runtime (core/coord) like the groups' one. This broker
// takes such a request only while it leads that partition and the shard
// has loaded. Producer ids come from the broker's producer-id blocks
// (22_init_producer_id.go), the same ones idempotent producers get.
// Markers are written by txn_markers.go.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/txn"
)

// newTxnRuntime builds the transaction coordinators' runtime.
func (b *Broker) newTxnRuntime() (*coord.Runtime[*txn.Shard], error) {
	cfg := b.cfg.TxnCoordinator
	return coord.New(coord.DefaultConfig(), coordHost{b: b, topic: txnStateTopic}, &b.codecs, func() *txn.Shard {
		return txn.NewShard(cfg, txnProducerIDs{b}, txnTopics{b})
	})
}

// txnRuntime is the runtime with its shard type.
func (b *Broker) txnRuntime() *coord.Runtime[*txn.Shard] {
	return b.txnRT.(*coord.Runtime[*txn.Shard])
}

// txnProducerIDs hands the shards producer ids from the broker's current
// block.
type txnProducerIDs struct{ b *Broker }

// AllocateProducerID implements txn.ProducerIDs. Without an id at hand it
// starts the request for a block and answers COORDINATOR_LOAD_IN_PROGRESS,
// as Kafka does while a block is on its way; the client retries.
func (a txnProducerIDs) AllocateProducerID() (int64, int16) {
	b := a.b
	if b.nextProducerID < b.producerIDBlockEnd {
		id := b.nextProducerID
		b.nextProducerID++
		return id, kerrNone
	}
	b.producerIDBlockWanted = true
	b.serveProducerIDs(b.nowMs)
	return -1, kerr.CoordinatorLoadInProgress.Code
}

// txnTopics answers the shards' questions about topics from the image.
type txnTopics struct{ b *Broker }

// PartitionExists implements txn.Topics.
func (t txnTopics) PartitionExists(topic string, partition int32) bool {
	ts := t.b.topics[topic]
	return ts != nil && partition >= 0 && partition < int32(len(ts.partitions))
}

// OffsetsPartition implements txn.Topics.
func (t txnTopics) OffsetsPartition(group string) (int32, bool) {
	ts := t.b.topics[offsetsTopic]
	if ts == nil {
		t.b.ensureOffsetsTopic(t.b.nowMs)
		return 0, false
	}
	return coordinatorPartition(group, ts.meta.Partitions), true
}

// txnPartition returns the partition of __transaction_state holding
// transactional id id, or the error to answer with:
// COORDINATOR_NOT_AVAILABLE while the topic does not exist (its creation
// is started).
func (b *Broker) txnPartition(nowMs int64, id string) (int32, int16) {
	ts := b.topics[txnStateTopic]
	if ts == nil {
		b.ensureTxnStateTopic(nowMs)
		return 0, kerrCoordinatorNotAvailable
	}
	return coordinatorPartition(id, ts.meta.Partitions), kerrNone
}

// txnLeader returns the broker that leads the partition of
// __transaction_state holding id (metadata.NoLeader when none), and the
// partition.
func (b *Broker) txnLeader(id string) (int32, int32, bool) {
	ts := b.topics[txnStateTopic]
	if ts == nil {
		return metadata.NoLeader, 0, false
	}
	p := coordinatorPartition(id, ts.meta.Partitions)
	return ts.meta.Assignments[p].Leader, p, true
}

// withTxn hands a request about one transactional id to its shard: call
// runs the shard's handler with the reference its answer must carry, and
// the runtime carries out what it wrote. An id this broker does not
// coordinate, or whose shard is loading, gets txnErrorResponse.
func (b *Broker) withTxn(nowMs int64, req *Request, id string, call func(s *txn.Shard, ref coord.ReplyRef) coord.Write) {
	p, code := b.txnPartition(nowMs, id)
	rt := b.txnRuntime()
	var s *txn.Shard
	if code == kerrNone {
		s, code = rt.Admit(p)
	}
	if code != kerrNone {
		b.reply(req, txnErrorResponse(req.Msg, code))
		return
	}
	ref := b.coordWaitOn(txnStateTopic, req, req.Msg, p, nil)
	rt.Submit(nowMs, p, call(s, ref))
	b.wakeFetches(nowMs)
}

// splitTxns hands a request naming several transactional ids to their
// shards, one part per shard (sub builds the part naming some of the
// ids), and answers once every part has its answer: merge gets them in
// the order of the parts, which follows the ids' first appearance.
func (b *Broker) splitTxns(nowMs int64, req *Request, ids []string,
	sub func(ids []string) kmsg.Request,
	call func(s *txn.Shard, ref coord.ReplyRef, part kmsg.Request) coord.Write,
	merge func(parts []kmsg.Response) kmsg.Response,
) {
	rt := b.txnRuntime()
	partitionOf := func(id string) (int32, int16) { return b.txnPartition(nowMs, id) }
	sent := b.splitByShard(req, ids, partitionOf, sub, func(p int32, code int16, msg kmsg.Request, done func(kmsg.Response)) {
		var s *txn.Shard
		if code == kerrNone {
			s, code = rt.Admit(p)
		}
		if code != kerrNone {
			done(txnErrorResponse(msg, code))
			return
		}
		ref := b.coordWaitOn(txnStateTopic, req, msg, p, done)
		rt.Submit(nowMs, p, call(s, ref, msg))
	}, merge)
	if sent {
		b.wakeFetches(nowMs) // the writes touched the partitions
	}
}

// txnRoleChanged notes a leadership change: the marker pass checks its
// local marker writes and the shards' markers again.
func (b *Broker) txnRoleChanged(p *partition) {
	if p.topic.meta.Name == txnStateTopic || len(b.markerWaits) > 0 {
		b.txnMarkersDirty = true
	}
}
