package txn

// EndTxn, versions 0-5, with transaction version 1's rules (the epoch is
// not bumped; v5's answer carries no producer id and epoch).
//
// Ongoing moves to PrepareCommit or PrepareAbort; the answer goes once
// that record is committed, and the markers follow (PendingMarkers). A
// retry of an EndTxn whose answer was lost finds CompleteCommit (or
// CompleteAbort) and succeeds, or, while the markers are still being
// written, gets CONCURRENT_TRANSACTIONS; asking for the other outcome is
// INVALID_TXN_STATE. A stale epoch is PRODUCER_FENCED (INVALID_PRODUCER_EPOCH
// before v2).
//
// Unlike Kafka, an EndTxn on an Empty transactional id (nothing was added
// since InitProducerId or the last transaction) succeeds without writing:
// there is nothing to commit or abort, and older clients (kafkajs before
// 2.1, librdkafka before 1.6) send it, which Kafka answers with
// INVALID_TXN_STATE, a fatal error for them.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
)

// EndTxn handles an EndTxn request.
func (s *Shard) EndTxn(nowMs int64, ref coord.ReplyRef, req *kmsg.EndTxnRequest) coord.Write {
	var b outBuf
	resp := kmsg.NewPtrEndTxnResponse()
	resp.Version = req.Version
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	b.reply(ref, resp)
	resp.ErrorCode = fenced(s.endTxn(nowMs, req, &b), req.Version, 2)
	return s.finish(&b)
}

func (s *Shard) endTxn(nowMs int64, req *kmsg.EndTxnRequest, b *outBuf) int16 {
	t, code := s.check(req.TransactionalID, req.ProducerID, req.ProducerEpoch)
	if code != 0 {
		return code
	}
	commit := req.Commit
	switch t.m.State {
	case Ongoing:
		if s.writesFull() {
			return kerr.CoordinatorNotAvailable.Code
		}
		to := PrepareAbort
		if commit {
			to = PrepareCommit
		}
		s.setState(t, to)
		t.m.PrevProducerID = t.m.ProducerID
		t.m.LastUpdateMs = nowMs
		s.write(b, t)
		return 0
	case Empty:
		b.reveal(t)
		return 0
	case CompleteCommit, CompleteAbort:
		if commit != (t.m.State == CompleteCommit) {
			return kerr.InvalidTxnState.Code
		}
		b.reveal(t)
		return 0
	case PrepareCommit, PrepareAbort:
		if commit != (t.m.State == PrepareCommit) {
			return kerr.InvalidTxnState.Code
		}
		return kerr.ConcurrentTransactions.Code
	}
	return kerr.InvalidTxnState.Code
}

// complete moves t, whose markers are all written, to CompleteCommit or
// CompleteAbort.
func (s *Shard) complete(nowMs int64, t *txnState, b *outBuf) {
	to := CompleteAbort
	if t.m.State == PrepareCommit {
		to = CompleteCommit
	}
	s.setState(t, to)
	clear(t.parts)
	t.m.PrevProducerID = t.m.ProducerID
	t.m.LastUpdateMs = nowMs
	s.write(b, t)
}
