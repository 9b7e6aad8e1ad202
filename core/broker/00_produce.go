package broker

// Produce, versions 0-11.
//
// Only record batches (magic 2) are stored. v0-v2 requests carry message
// sets (magic 0/1) and get UNSUPPORTED_FOR_MESSAGE_FORMAT; a magic 0/1 batch
// in v3+ gets INVALID_RECORD, as Kafka's validation gives. zstd needs v7+
// (UNSUPPORTED_COMPRESSION_TYPE below it). v8 adds error messages; v9 is
// flexible. v12 (transactions v2) and v13 (topic ids) are not offered.
//
// Durability: with SyncWrites on, acks=1 and acks=all are answered only
// once every batch of the request is fsynced; the fsync is group-committed
// per partition (Flush). acks=0 gets no response at all.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
)

func init() { registerAPI(0, 0, 11, handleProduce) }

// compressionZstd is the codec number in a batch's attributes.
const compressionZstd = 4

// pendingProduce is a produce request waiting for its batches' syncs.
type pendingProduce struct {
	req       *Request
	resp      *kmsg.ProduceResponse
	remaining int // partitions still waiting
}

// produceWaiter is one partition's share of a pendingProduce.
type produceWaiter struct {
	target  int64 // the high watermark that covers the batch
	pending *pendingProduce
	topic   int // index into resp.Topics
	part    int // index into resp.Topics[topic].Partitions
}

func handleProduce(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.ProduceRequest)
	resp := kmsg.NewPtrProduceResponse()
	pending := &pendingProduce{req: req, resp: resp}
	var waiters []produceWaiter
	requestCode := kerrNone
	switch {
	case r.Acks != 0 && r.Acks != 1 && r.Acks != -1:
		requestCode = kerrInvalidRequiredAcks
	case r.TransactionID != nil:
		// No transaction coordinator yet: refuse transactional produce.
		requestCode = kerrTransactionalIDAuthorizationFailed
	case b.cfg.SyncWrites && r.Acks != 0 && b.pendingProduces >= b.cfg.MaxPendingProduces:
		requestCode = kerrRequestTimedOut
	}
	for ti, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		ts := b.topics[rt.Topic]
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
			code := requestCode
			var p *partition
			if code == kerrNone {
				code, p = b.producePartition(nowMs, r, ts, &rp, &sp)
			}
			sp.ErrorCode = code
			// !bugs.AckBeforeSync: deliberate bug (core/bugs), answer at once.
			if code == kerrNone && r.Acks != 0 && p.highWatermark() < p.lastAppendEnd && !bugs.AckBeforeSync {
				// Not yet covered by the high watermark: wait for the sync.
				waiters = append(waiters, produceWaiter{pending: pending, topic: ti, part: len(st.Partitions), target: p.lastAppendEnd})
				p.waiters = append(p.waiters, waiters[len(waiters)-1])
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if r.Acks == 0 {
		b.reply(req, nil)
		return nil
	}
	if len(waiters) == 0 {
		b.reply(req, resp)
		return nil
	}
	pending.remaining = len(waiters)
	b.pendingProduces++
	return nil
}

// producePartition appends one partition's records and fills sp.
func (b *Broker) producePartition(nowMs int64, r *kmsg.ProduceRequest, ts *topicState, rp *kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition) (int16, *partition) {
	if ts == nil || rp.Partition < 0 || rp.Partition >= int32(len(ts.partitions)) {
		return kerrUnknownTopicOrPartition, nil
	}
	p := ts.partitions[rp.Partition]
	if p.log == nil {
		return kerrKafkaStorageError, nil
	}
	if code := checkProduceFormat(r.Version, rp.Records); code != kerrNone {
		return code, nil
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
	if !b.cfg.SyncWrites {
		// Kafka's default durability: acknowledged from the page cache.
		b.advanceHighWatermark(nowMs, p, p.log.LogEndOffset())
	}
	return kerrNone, p
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
	if version < 7 {
		// Walk the batches: any zstd batch is refused.
		for rest := records; len(rest) >= 23; {
			length := int64(uint32(rest[8])<<24 | uint32(rest[9])<<16 | uint32(rest[10])<<8 | uint32(rest[11]))
			if rest[22]&0x07 == compressionZstd {
				return kerrUnsupportedCompressionType
			}
			if length <= 0 || length+12 > int64(len(rest)) {
				break // the log's validation reports the corruption
			}
			rest = rest[length+12:]
		}
	}
	return kerrNone
}

// completeProduceWaiters answers the produce requests the partition's high
// watermark now covers.
func (b *Broker) completeProduceWaiters(p *partition) {
	hw := p.highWatermark()
	n := 0
	for n < len(p.waiters) && p.waiters[n].target <= hw {
		b.finishWaiter(p.waiters[n], kerrNone)
		n++
	}
	p.waiters = p.waiters[:copy(p.waiters, p.waiters[n:])]
}

// failProduceWaiters answers every waiting produce on p with code.
func (b *Broker) failProduceWaiters(p *partition, code int16) {
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
	}
	w.pending.remaining--
	if w.pending.remaining == 0 {
		b.pendingProduces--
		b.reply(w.pending.req, w.pending.resp)
	}
}
