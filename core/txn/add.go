package txn

// AddPartitionsToTxn, versions 0-5, and AddOffsetsToTxn, versions 0-4.
//
// v0-v3 come from producers: one transaction, its partitions added (the
// transaction becomes Ongoing). v4+ (KIP-890 part 1) come from brokers
// and batch several transactions; one marked VerifyOnly is only checked:
// each partition answers NONE when it is in the transaction and
// TRANSACTION_ABORTABLE when not (a produce to a partition the producer
// never added). A partition of a topic that does not exist answers
// UNKNOWN_TOPIC_OR_PARTITION and the others of its transaction
// OPERATION_NOT_ATTEMPTED, as in Kafka. AddOffsetsToTxn adds the
// partition of __consumer_offsets that holds the group's offsets.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
)

// AddPartitionsToTxn handles an AddPartitionsToTxn request.
func (s *Shard) AddPartitionsToTxn(nowMs int64, ref coord.ReplyRef, req *kmsg.AddPartitionsToTxnRequest) coord.Write {
	var b outBuf
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	resp.Version = req.Version
	b.reply(ref, resp)
	if req.Version < 4 {
		var tps []TopicPartition
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, TopicPartition{t.Topic, p})
			}
		}
		codes := s.addOrVerify(nowMs, req.TransactionalID, req.ProducerID, req.ProducerEpoch, false, tps, req.Version, &b)
		for _, t := range req.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, codes[TopicPartition{t.Topic, p}]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return s.finish(&b)
	}
	for _, tx := range req.Transactions {
		var tps []TopicPartition
		for _, t := range tx.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, TopicPartition{t.Topic, p})
			}
		}
		codes := s.addOrVerify(nowMs, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly, tps, req.Version, &b)
		rtx := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rtx.TransactionalID = tx.TransactionalID
		for _, t := range tx.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				rp.Partition, rp.ErrorCode = p, codes[TopicPartition{t.Topic, p}]
				rt.Partitions = append(rt.Partitions, rp)
			}
			rtx.Topics = append(rtx.Topics, rt)
		}
		resp.Transactions = append(resp.Transactions, rtx)
	}
	return s.finish(&b)
}

// AddOffsetsToTxn handles an AddOffsetsToTxn request.
func (s *Shard) AddOffsetsToTxn(nowMs int64, ref coord.ReplyRef, req *kmsg.AddOffsetsToTxnRequest) coord.Write {
	var b outBuf
	resp := kmsg.NewPtrAddOffsetsToTxnResponse()
	resp.Version = req.Version
	b.reply(ref, resp)
	var p int32
	ok := false
	if s.topics != nil {
		p, ok = s.topics.OffsetsPartition(req.Group)
	}
	if !ok {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return s.finish(&b)
	}
	code := s.addPartitions(nowMs, req.TransactionalID, req.ProducerID, req.ProducerEpoch, []TopicPartition{{OffsetsTopic, p}}, &b)
	resp.ErrorCode = fenced(code, req.Version, 2)
	return s.finish(&b)
}

// addOrVerify adds (or only checks) the partitions tps of one transaction
// and returns each partition's error code.
func (s *Shard) addOrVerify(nowMs int64, id string, pid int64, epoch int16, verifyOnly bool, tps []TopicPartition, version int16, b *outBuf) map[TopicPartition]int16 {
	codes := make(map[TopicPartition]int16, len(tps))
	all := func(code int16) map[TopicPartition]int16 {
		for _, tp := range tps {
			codes[tp] = code
		}
		return codes
	}
	if s.topics != nil {
		unknown := false
		for _, tp := range tps {
			if !s.topics.PartitionExists(tp.Topic, tp.Partition) {
				codes[tp] = kerr.UnknownTopicOrPartition.Code
				unknown = true
			}
		}
		if unknown {
			for _, tp := range tps {
				if codes[tp] == 0 {
					codes[tp] = kerr.OperationNotAttempted.Code
				}
			}
			return codes
		}
	}
	if verifyOnly {
		return s.verify(id, pid, epoch, tps, codes, b)
	}
	return all(fenced(s.addPartitions(nowMs, id, pid, epoch, tps, b), version, 2))
}

// check returns the transaction id names for a request of producer
// pid at epoch, or the error to answer with.
func (s *Shard) check(id string, pid int64, epoch int16) (*txnState, int16) {
	if id == "" {
		return nil, kerr.InvalidRequest.Code
	}
	t := s.txns[id]
	switch {
	case t == nil || t.m.ProducerID != pid:
		return nil, kerr.InvalidProducerIDMapping.Code
	case t.m.ProducerEpoch != epoch:
		return nil, kerr.ProducerFenced.Code
	}
	return t, 0
}

// verify answers a VerifyOnly transaction of AddPartitionsToTxn v4+.
func (s *Shard) verify(id string, pid int64, epoch int16, tps []TopicPartition, codes map[TopicPartition]int16, b *outBuf) map[TopicPartition]int16 {
	t, code := s.check(id, pid, epoch)
	if code == 0 && t.m.State.preparing() {
		code = kerr.ConcurrentTransactions.Code
	}
	for _, tp := range tps {
		switch {
		case code != 0:
			codes[tp] = code
		case t.parts[tp]:
			codes[tp] = 0
		default:
			codes[tp] = kerr.TransactionAbortable.Code
		}
	}
	if t != nil {
		b.reveal(t)
	}
	return codes
}

// addPartitions adds tps to transaction id of producer pid at epoch, and
// returns the error code for all of them.
func (s *Shard) addPartitions(nowMs int64, id string, pid int64, epoch int16, tps []TopicPartition, b *outBuf) int16 {
	t, code := s.check(id, pid, epoch)
	if code != 0 {
		return code
	}
	if t.m.State.preparing() {
		return kerr.ConcurrentTransactions.Code
	}
	added := 0
	seen := map[TopicPartition]bool{}
	for _, tp := range tps {
		if !t.parts[tp] && !seen[tp] {
			seen[tp] = true
			added++
		}
		if tp.Partition < 0 {
			return kerr.InvalidRequest.Code
		}
	}
	if t.m.State == Ongoing && added == 0 {
		// All there already: the answer waits for the write that added
		// them.
		b.reveal(t)
		return 0
	}
	if len(t.parts)+added > s.cfg.MaxPartitionsPerTxn {
		return kerr.InvalidRequest.Code
	}
	if s.writesFull() {
		return kerr.CoordinatorNotAvailable.Code
	}
	if t.m.State != Ongoing {
		t.m.StartMs = nowMs
	}
	s.setState(t, Ongoing)
	for _, tp := range tps {
		t.parts[tp] = true
	}
	t.m.PrevProducerID = t.m.ProducerID
	t.m.LastUpdateMs = nowMs
	s.write(b, t)
	return 0
}
