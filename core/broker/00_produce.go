package broker

// Produce, versions 0-13 (Kafka 4.1's highest).
//
// Only record batches (magic 2) are stored. v0-v2 requests carry message
// sets (magic 0/1) and get UNSUPPORTED_FOR_MESSAGE_FORMAT; a magic 0/1 batch
// in v3+ gets INVALID_RECORD, as Kafka's validation gives. zstd needs v7+
// (UNSUPPORTED_COMPRESSION_TYPE below it). v8 adds error messages; v9 is
// flexible. v10 adds leader hints (KIP-951, leader_hints.go) to partitions
// answered NOT_LEADER_OR_FOLLOWER; v11 is the same.
//
// v12 changes nothing for a producer without a transactional id: it
// tells the broker that the client may leave adding a partition to its
// transaction to the broker (KIP-890 part 2, transaction version 2).
// Chronik finalizes no transaction.version 2, so a v12+ transactional
// batch gets no implicit add: it is verified with its coordinator like
// any (KIP-890 part 1, txn_verify.go) and refused unless its partition
// was added. Clients only send v12+ for a transaction when the broker's
// finalized transaction.version is 2 or more (Kafka's producer and kgo
// both cap transactional produce at v11 otherwise).
//
// v13 names topics by id in the request and the response (topic_ids.go:
// UNKNOWN_TOPIC_ID for an id no topic has, such as a deleted topic's).
//
// Transactional produce: the batches of a transactional producer are
// appended like any (the partition log tracks the open transaction, the
// last stable offset and aborts); the first batch of a transaction on a
// partition is first verified with the transaction's coordinator
// (txn_verify.go, KIP-890 part 1).
//
// Durability: with SyncWrites on, acks=1 and acks=all are answered only
// once every batch of the request is fsynced; the fsync is group-committed
// per partition (Flush). acks=0 gets no response at all.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
)

func init() { registerAPI(0, 0, 13, handleProduce) }

// compressionZstd is the codec number in a batch's attributes.
const compressionZstd = 4

// pendingProduce is a produce request waiting for its batches' syncs.
type pendingProduce struct {
	req       *Request
	resp      *kmsg.ProduceResponse
	remaining int // partitions still waiting
	// checkWaiters is CheckInvariants' count of this request's waiters in
	// the partitions' snapshots (invariants.go), and checkLiveIndex its
	// place in Broker.checkLive while that count is above zero.
	checkWaiters   int
	checkLiveIndex int
}

// produceWaiter is one partition's share of a pendingProduce.
type produceWaiter struct {
	target  int64 // the offset the batch ends at
	acksAll bool  // wait for the high watermark; else for the leader's own sync
	// deadlineMs is when the request times out (REQUEST_TIMED_OUT).
	deadlineMs int64
	pending    *pendingProduce
	topic      int // index into resp.Topics
	part       int // index into resp.Topics[topic].Partitions
}

// covered reports whether the waiter's batch is acknowledged.
func (w *produceWaiter) covered(b *Broker, p *partition) bool {
	if w.acksAll {
		return p.highWatermark() >= w.target
	}
	return !b.cfg.SyncWrites || p.log.DurableEndOffset() >= w.target
}

func handleProduce(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.ProduceRequest)
	if r.Acks >= -1 && r.Acks <= 1 && b.verifyTxnProduce(nowMs, req, r) {
		return nil // goes on once the coordinator answered (txn_verify.go)
	}
	b.produce(nowMs, req, nil)
	return nil
}

// produce appends a produce request's batches and answers it (at once or
// once acknowledged). verdicts holds the partitions whose transactional
// batches were verified with their coordinator (txn_verify.go).
func (b *Broker) produce(nowMs int64, req *Request, verdicts map[produceTP]txnVerdict) {
	r := req.Msg.(*kmsg.ProduceRequest)
	resp := kmsg.NewPtrProduceResponse()
	pending := &pendingProduce{req: req, resp: resp}
	var waiters []produceWaiter
	requestCode := kerrNone
	switch {
	case r.Acks != 0 && r.Acks != 1 && r.Acks != -1:
		requestCode = kerrInvalidRequiredAcks
	case r.TransactionID == nil && hasTransactionalBatch(r):
		// Kafka: transactional records need the request's transactional
		// id (which its authorizer checks).
		requestCode = kerrTransactionalIDAuthorizationFailed
	case b.cfg.SyncWrites && r.Acks != 0 && b.pendingProduces >= b.cfg.MaxPendingProduces:
		requestCode = kerrRequestTimedOut
	}
	timeoutMs := min(max(int64(r.TimeoutMillis), 0), b.cfg.MaxProduceTimeoutMs)
	// Fetches long-polling on the appended partitions are woken only
	// once every partition is appended and its waiter registered: a wake
	// serves replica fetches, whose read errors take partitions offline
	// and fail their waiters, which must exist by then (sim seeds 15 and
	// 24 of the three-node sweep: a read error during the wake left a
	// waiter on an offline partition, or a nil log dereferenced).
	defer b.wakeFetches(nowMs)
	var leaders hintedLeaders
	for ti, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		ts, unknownCode := b.requestTopic(r.Version >= topicIDsFromVersion, rt.Topic, rt.TopicID)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
			code := requestCode
			var p *partition
			if code == kerrNone {
				if ts == nil {
					code = unknownCode
				} else {
					v, verified := verdicts[produceTP{ts.meta.Name, rp.Partition}]
					code, p = b.producePartition(nowMs, r, ts, &rp, &sp, v, verified)
				}
			}
			sp.ErrorCode = code
			if r.Version >= 10 && wantsLeaderHint(code) {
				b.hintProduceLeader(&sp, ts, &leaders)
			}
			// !bugs.AckBeforeSync: deliberate bug (core/bugs), answer at once.
			if code == kerrNone && r.Acks != 0 && !bugs.AckBeforeSync {
				w := produceWaiter{pending: pending, topic: ti, part: len(st.Partitions), target: p.lastAppendEnd,
					acksAll: r.Acks == -1, deadlineMs: nowMs + timeoutMs}
				if !w.acksAll {
					// acks=1 waits for the local fsync only, which always
					// ends (in success or a storage error): no timeout.
					w.deadlineMs = 1 << 62
				}
				if !w.covered(b, p) {
					// Not yet covered: wait for the sync (and the followers).
					waiters = append(waiters, w)
					p.waiters = append(p.waiters, w)
					b.recheck(p)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	b.addProduceEndpoints(resp, leaders)
	if r.Acks == 0 {
		b.reply(req, nil)
		return
	}
	if len(waiters) == 0 {
		b.reply(req, resp)
		return
	}
	pending.remaining = len(waiters)
	b.pendingProduces++
}

// producePartition appends one partition's records and fills sp.
//
// A partition with a verdict (verified) had its transactional batch
// checked with the coordinator; it is appended only when the verdict
// still holds (verifiedAppend).
func (b *Broker) producePartition(nowMs int64, r *kmsg.ProduceRequest, ts *topicState, rp *kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, v txnVerdict, verified bool) (int16, *partition) {
	if ts == nil || rp.Partition < 0 || rp.Partition >= int32(len(ts.partitions)) {
		return kerrUnknownTopicOrPartition, nil
	}
	if isInternalTopic(ts.meta.Name) {
		// Only the coordinators write there (Kafka's "Cannot append to
		// internal topic").
		msg := "Cannot append to internal topic " + ts.meta.Name
		sp.ErrorMessage = &msg
		return kerrInvalidTopicException, nil
	}
	p := ts.partitions[rp.Partition]
	if p.hosted && p.log == nil {
		return kerrKafkaStorageError, nil
	}
	if !p.isLeader() {
		return kerrNotLeaderOrFollower, nil
	}
	// Whatever the append does (records, a failure that takes p offline),
	// long polls on p see it at the wake that ends the request.
	b.touchFetches(p)
	b.markUnsynced(p)
	if code := checkProduceFormat(r.Version, rp.Records); code != kerrNone {
		return code, nil
	}
	if ts.logConfig.CleanupPolicy&partlog.CleanupCompact != 0 {
		// The cleaner keeps the latest record per key: one without a key
		// has no place in a compacted log (Kafka refuses it too).
		if err := partlog.CheckKeyed(rp.Records, &b.codecs); err != nil {
			msg := "Compacted topic cannot accept message without key in topic partition " + p.dir + ": " + err.Error()
			sp.ErrorMessage = &msg
			return kerr.InvalidRecord.Code, nil
		}
	}
	if r.Acks == -1 && int32(len(p.isr)) < b.minISR(p) && !bugs.IgnoreMinInsync { // deliberate bug (core/bugs): min.insync.replicas ignored
		msg := "The ISR holds fewer than min.insync.replicas replicas."
		sp.ErrorMessage = &msg
		return kerrNotEnoughReplicas, nil
	}
	if verified {
		if code := verifiedAppend(p, v); code != kerrNone {
			if code == kerr.InvalidTxnState.Code || code == kerr.TransactionAbortable.Code {
				msg := "Partition was not added to the transaction"
				sp.ErrorMessage = &msg
			}
			return code, nil
		}
	}
	res, err := p.log.Append(rp.Records, p.leaderEpoch, nowMs)
	if err != nil {
		code := kerrForLogError(err)
		msg := err.Error()
		sp.ErrorMessage = &msg
		sp.LogStartOffset = p.log.LogStartOffset()
		if code == kerrKafkaStorageError {
			b.takeOffline(p, err) // after the last use of p.log: this closes it
		}
		return code, nil
	}
	sp.BaseOffset = res.BaseOffset
	sp.LogStartOffset = res.LogStartOffset
	p.lastAppendEnd = res.LastOffset + 1
	// Without sync writes the leader counts from the page cache (Kafka's
	// default durability); either way followers long-polling for this
	// partition have new data (handleProduce wakes them).
	b.updateLeaderHW(p)
	return kerrNone, p
}

// hasTransactionalBatch reports whether a partition of r carries a
// transactional batch (attributes bit 4).
func hasTransactionalBatch(r *kmsg.ProduceRequest) bool {
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			if h, err := record.ParseHeader(rp.Records); err == nil && h.Transactional() {
				return true
			}
		}
	}
	return false
}

// checkProduceFormat applies the version rules on the batch format before
// the log sees the bytes: message sets need the magic byte at offset 16,
// and zstd needs Produce v7+.
func checkProduceFormat(version int16, records []byte) int16 {
	if len(records) < 17 {
		return kerrCorruptMessage
	}
	magic := records[16]
	if magic < 2 {
		if version < 3 {
			return kerrUnsupportedForMessageFormat
		}
		return kerrInvalidRecord
	}
	// Walk the batches: Kafka takes exactly one record batch per
	// partition from Produce v3 on (INVALID_RECORD otherwise), and refuses
	// zstd below v7.
	batches := 0
	for rest := records; len(rest) >= 23; {
		batches++
		length := int64(uint32(rest[8])<<24 | uint32(rest[9])<<16 | uint32(rest[10])<<8 | uint32(rest[11]))
		if version < 7 && rest[22]&0x07 == compressionZstd {
			return kerrUnsupportedCompressionType
		}
		if length <= 0 || length+12 > int64(len(rest)) {
			break // the log's validation reports the corruption
		}
		rest = rest[length+12:]
	}
	if batches > 1 {
		return kerrInvalidRecord
	}
	return kerrNone
}

// completeProduceWaiters answers the produce requests that are now
// acknowledged: acks=all ones once the high watermark covers them (with
// NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR has meanwhile shrunk below
// min.insync.replicas), acks=1 ones once the leader synced them.
func (b *Broker) completeProduceWaiters(p *partition) {
	if len(p.waiters) == 0 {
		return
	}
	b.recheck(p)
	enoughISR := int32(len(p.isr)) >= b.minISR(p) || bugs.IgnoreMinInsync // deliberate bug (core/bugs): min.insync.replicas ignored
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		switch {
		case !w.covered(b, p):
			kept = append(kept, w)
		case w.acksAll && !enoughISR:
			b.finishWaiter(w, kerrNotEnoughReplicasAfterAppend)
		default:
			b.finishWaiter(w, kerrNone)
		}
	}
	clear(p.waiters[len(kept):])
	p.waiters = kept
}

// expireProduces answers REQUEST_TIMED_OUT to produces whose timeout
// passed (acks=all waiting for followers that do not come).
func (b *Broker) expireProduces(nowMs int64) {
	if b.pendingProduces == 0 {
		return // every waiter belongs to a pending produce
	}
	// Only leaders have waiters (CheckInvariants).
	leading, _ := b.roleLists()
	for _, p := range leading {
		if len(p.waiters) == 0 {
			continue
		}
		b.recheck(p)
		kept := p.waiters[:0]
		for _, w := range p.waiters {
			if w.deadlineMs <= nowMs {
				b.finishWaiter(w, kerrRequestTimedOut)
				continue
			}
			kept = append(kept, w)
		}
		clear(p.waiters[len(kept):])
		p.waiters = kept
	}
}

// failProduceWaiters answers every waiting produce on p with code.
func (b *Broker) failProduceWaiters(p *partition, code int16) {
	b.recheck(p)
	for _, w := range p.waiters {
		b.finishWaiter(w, code)
	}
	p.waiters = nil
}

func (b *Broker) finishWaiter(w produceWaiter, code int16) {
	if code != kerrNone {
		sp := &w.pending.resp.Topics[w.topic].Partitions[w.part]
		sp.ErrorCode = code
		sp.BaseOffset = -1
		// Leadership lost while waiting: hint at the new leader too.
		if r := w.pending.req.Msg.(*kmsg.ProduceRequest); r.Version >= 10 && wantsLeaderHint(code) {
			rt := &r.Topics[w.topic]
			ts, _ := b.requestTopic(r.Version >= topicIDsFromVersion, rt.Topic, rt.TopicID)
			var leaders hintedLeaders
			b.hintProduceLeader(sp, ts, &leaders)
			b.addProduceEndpoints(w.pending.resp, leaders)
		}
	}
	w.pending.remaining--
	if w.pending.remaining == 0 {
		b.pendingProduces--
		b.reply(w.pending.req, w.pending.resp)
	}
}

// hintProduceLeader sets sp's leader hint (KIP-951) from ts's partition
// and notes the leader in leaders, when a leader is known.
func (b *Broker) hintProduceLeader(sp *kmsg.ProduceResponseTopicPartition, ts *topicState, leaders *hintedLeaders) {
	if h, ok := b.partitionLeaderHint(ts, sp.Partition); ok {
		sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = h.leaderID, h.leaderEpoch
		leaders.add(h.leaderID)
	}
}

// addProduceEndpoints lists in resp the endpoints of leaders not listed
// yet.
func (b *Broker) addProduceEndpoints(resp *kmsg.ProduceResponse, leaders hintedLeaders) {
next:
	for _, id := range leaders {
		for _, listed := range resp.Brokers {
			if listed.NodeID == id {
				continue next
			}
		}
		host, port, _ := b.brokerEndpoint(id) // known: partitionLeaderHint checked
		nb := kmsg.NewProduceResponseBroker()
		nb.NodeID, nb.Host, nb.Port = id, host, port
		resp.Brokers = append(resp.Brokers, nb)
	}
}
