package broker

// InitProducerId, versions 0-5.
//
// A request with a transactional id goes to that id's transaction
// coordinator (txn_coordinator.go, core/txn): NOT_COORDINATOR on a broker
// that does not lead its partition of __transaction_state, which the
// first such request creates (COORDINATOR_NOT_AVAILABLE meanwhile). An
// idempotent producer (no transactional id) is served here; v3+ may carry
// the producer's current id and epoch (KIP-360); like Kafka, a producer
// without a transactional id gets a fresh id with epoch 0 whatever it
// carried.
//
// Ids are reserved in blocks recorded in the metadata log before any id of
// the block is handed out, so a crash never leads to an id being reused.
// A broker without a block asks the controller for one (AllocateProducerIds)
// and answers when it arrives; without a reachable controller the answer
// is COORDINATOR_NOT_AVAILABLE, which clients retry.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/controller"
	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/txn"
)

func init() { registerAPI(22, 0, 5, handleInitProducerID) }

// maxProducerIDWaiters bounds InitProducerId requests waiting for a block.
const maxProducerIDWaiters = 10000

func handleInitProducerID(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.InitProducerIDRequest)
	if r.TransactionalID != nil {
		// The transaction coordinator of the id answers (core/txn).
		// An empty id is INVALID_REQUEST there, as in Kafka.
		b.withTxn(nowMs, req, *r.TransactionalID, func(s *txn.Shard, ref coord.ReplyRef) coord.Write {
			return s.InitProducerID(nowMs, ref, r)
		})
		return nil
	}
	if len(b.producerIDWaiters) >= maxProducerIDWaiters {
		b.answerInitProducerID(req, kerrRequestTimedOut)
		return nil
	}
	b.producerIDWaiters = append(b.producerIDWaiters, req)
	b.serveProducerIDs(nowMs)
	return nil
}

// answerInitProducerID answers one request: with the next id of the
// current block when code is 0.
func (b *Broker) answerInitProducerID(req *Request, code int16) {
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	resp.ErrorCode = code
	if code == kerrNone {
		resp.ProducerID, resp.ProducerEpoch = b.nextProducerID, 0
		b.nextProducerID++
	}
	b.reply(req, resp)
}

// serveProducerIDs answers waiting requests from the current block and
// asks the controller for a new block when it runs out. The block is in
// the metadata log before any of its ids is handed out, so no id is ever
// given twice, even across crashes and controller changes.
func (b *Broker) serveProducerIDs(nowMs int64) {
	for len(b.producerIDWaiters) > 0 && b.nextProducerID < b.producerIDBlockEnd {
		req := b.producerIDWaiters[0]
		b.producerIDWaiters = b.producerIDWaiters[1:]
		b.answerInitProducerID(req, kerrNone)
	}
	if (len(b.producerIDWaiters) == 0 && !b.producerIDBlockWanted) || b.producerIDBlockAsked {
		return
	}
	b.producerIDBlockAsked = true
	got := func(nowMs int64, start int64, code int16) {
		b.producerIDBlockAsked = false
		// A coordinator that wanted an id asks again when its client
		// retries, whatever the outcome.
		b.producerIDBlockWanted = false
		if code != kerrNone {
			b.env.Logger.Warn("producer id block not allocated", "code", code)
			b.failProducerIDWaiters(code)
			return
		}
		b.nextProducerID, b.producerIDBlockEnd = start, start+controller.ProducerIDBlockSize
		b.serveProducerIDs(nowMs)
	}
	if !b.clustered() {
		rec := metadata.Record{AllocateProducerIDs: &metadata.AllocateProducerIDs{Broker: b.cfg.NodeID, Count: controller.ProducerIDBlockSize}}
		b.propose(nowMs, []metadata.Record{rec}, func(nowMs int64, results []metadata.Result, code int16) {
			if code == kerrNone && results[0].Err != nil {
				code = kerrKafkaStorageError
			}
			start := int64(-1)
			if code == kerrNone {
				start = results[0].ProducerIDStart
			}
			got(nowMs, start, code)
		})
		return
	}
	if b.controllerID < 0 {
		got(nowMs, -1, kerrCoordinatorNotAvailable)
		return
	}
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID = b.cfg.NodeID
	req.BrokerEpoch = int64(b.member.Incarnation())
	b.sendPeer(nowMs, b.controllerID, req, func(nowMs int64, resp kmsg.Response, err error) {
		if err != nil {
			got(nowMs, -1, kerrCoordinatorNotAvailable)
			return
		}
		r := resp.(*kmsg.AllocateProducerIDsResponse)
		if r.ErrorCode != kerrNone {
			got(nowMs, -1, kerrCoordinatorNotAvailable)
			return
		}
		got(nowMs, r.ProducerIDStart, kerrNone)
	})
}

// failProducerIDWaiters answers every waiting InitProducerId with code.
func (b *Broker) failProducerIDWaiters(code int16) {
	waiters := b.producerIDWaiters
	b.producerIDWaiters = nil
	for _, req := range waiters {
		b.answerInitProducerID(req, code)
	}
}
