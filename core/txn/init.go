package txn

// InitProducerId with a transactional id, versions 0-5 (the broker serves
// a request without one itself).
//
// A new id gets a producer id from ProducerIDs and epoch 0. An existing
// one gets its epoch bumped, which fences the producer that held it; with
// a transaction Ongoing, that transaction is first aborted with the epoch
// bumped (PrepareEpochFence, then PrepareAbort) and the answer is
// CONCURRENT_TRANSACTIONS, so that the client retries once the abort is
// written and gets a second bump. From v3 a producer may name its current
// id and epoch (KIP-360): the same epoch is bumped, the epoch before the
// last bump (lastEpoch) is a retry and gets the current epoch again, any
// other is PRODUCER_FENCED. An epoch at the end of its range moves the id
// to a new producer id with epoch 0.

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
)

// InitProducerID handles an InitProducerId request naming a transactional
// id.
func (s *Shard) InitProducerID(nowMs int64, ref coord.ReplyRef, req *kmsg.InitProducerIDRequest) coord.Write {
	var b outBuf
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.Version = req.Version
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	b.reply(ref, resp)
	resp.ErrorCode = fenced(s.initProducerID(nowMs, req, resp, &b), req.Version, 4)
	return s.finish(&b)
}

func (s *Shard) initProducerID(nowMs int64, req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse, b *outBuf) int16 {
	if req.TransactionalID == nil || *req.TransactionalID == "" {
		return kerr.InvalidRequest.Code
	}
	id := *req.TransactionalID
	timeoutMs := req.TransactionTimeoutMillis
	if timeoutMs <= 0 || timeoutMs > s.cfg.MaxTimeoutMs {
		return kerr.InvalidTransactionTimeout.Code
	}
	expectPID, expectEpoch := int64(-1), int16(-1)
	if req.Version >= 3 {
		expectPID, expectEpoch = req.ProducerID, req.ProducerEpoch
	}
	expected := expectPID != -1 || expectEpoch != -1
	if expected && (expectPID == -1 || expectEpoch == -1) {
		return kerr.InvalidRequest.Code
	}
	if s.writesFull() {
		return kerr.CoordinatorNotAvailable.Code
	}
	t := s.txns[id]
	if t == nil {
		if len(s.txns) >= s.cfg.MaxTransactionalIDs {
			return kerr.CoordinatorNotAvailable.Code
		}
		pid, code := s.ids.AllocateProducerID()
		if code != 0 {
			return code
		}
		// Epoch -1: the first bump below makes it 0. The id enters the
		// map only with its record.
		t = &txnState{m: Metadata{TransactionalID: id, ProducerID: pid, PrevProducerID: -1, NextProducerID: -1,
			ProducerEpoch: -1, NextProducerEpoch: -1, TimeoutMs: timeoutMs, State: Empty, StartMs: -1, LastUpdateMs: nowMs},
			parts: map[TopicPartition]bool{}, lastEpoch: -1}
	}
	if expected && !(t.m.ProducerEpoch == -1 || expectPID == t.m.ProducerID ||
		(expectPID == t.m.PrevProducerID && epochExhausted(expectEpoch))) {
		return kerr.ProducerFenced.Code
	}
	switch t.m.State {
	case PrepareCommit, PrepareAbort:
		return kerr.ConcurrentTransactions.Code
	case Ongoing:
		// The epoch this bump makes is never answered: the client
		// retries after the abort and gets the next one.
		s.fenceAndAbort(nowMs, t, b)
		s.write(b, t)
		return kerr.ConcurrentTransactions.Code
	}
	m := t.m
	newPID, newEpoch, lastEpoch := m.ProducerID, m.ProducerEpoch, t.lastEpoch
	switch {
	case epochExhausted(m.ProducerEpoch) && (!expected || expectEpoch == m.ProducerEpoch):
		pid, code := s.ids.AllocateProducerID()
		if code != 0 {
			return code
		}
		newPID, newEpoch, lastEpoch = pid, 0, -1
		if expected {
			lastEpoch = m.ProducerEpoch
		}
	case !expected:
		newEpoch, lastEpoch = m.ProducerEpoch+1, -1
	case m.ProducerEpoch == -1 || expectEpoch == m.ProducerEpoch:
		// The producer goes on after an error and nobody else took the
		// id since: bump, remembering the epoch it had.
		newEpoch, lastEpoch = m.ProducerEpoch+1, m.ProducerEpoch
	case expectEpoch == t.lastEpoch:
		// A retry of a bump whose answer was lost: the same answer.
	default:
		return kerr.ProducerFenced.Code
	}
	if s.txns[id] == nil {
		s.txns[id] = t
		s.counts[Empty]++
	}
	s.setState(t, Empty)
	t.m.PrevProducerID = t.m.ProducerID
	t.m.ProducerID, t.m.ProducerEpoch, t.lastEpoch = newPID, newEpoch, lastEpoch
	t.m.TimeoutMs, t.m.StartMs, t.m.LastUpdateMs = timeoutMs, -1, nowMs
	clear(t.parts)
	s.write(b, t)
	resp.ProducerID, resp.ProducerEpoch = newPID, newEpoch
	return 0
}

// fenceAndAbort aborts t's Ongoing transaction on the coordinator's own
// initiative (a new producer's InitProducerId, or the timeout), bumping
// the epoch so that the producer that ran it is fenced: Kafka's
// PrepareEpochFence, then PrepareAbort. The epoch stays at MaxInt16 if it
// is there already (a bug elsewhere; Kafka logs it and goes on).
func (s *Shard) fenceAndAbort(nowMs int64, t *txnState, b *outBuf) {
	s.setState(t, PrepareEpochFence)
	if t.m.ProducerEpoch < math.MaxInt16 {
		t.m.ProducerEpoch++
	}
	t.lastEpoch = -1
	s.setState(t, PrepareAbort)
	t.m.PrevProducerID = t.m.ProducerID
	t.m.LastUpdateMs = nowMs
}
