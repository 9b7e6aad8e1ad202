package broker

// Transactional produce verification (KIP-890 part 1). Before a leader
// appends the first transactional batch of a producer's transaction to a
// partition (the producer has no open transaction there), it asks the
// transaction's coordinator whether the producer added the partition:
// AddPartitionsToTxn v4+ with VerifyOnly, handed straight to the shard
// when this broker is the coordinator, sent to the coordinator's broker
// otherwise. The produce waits for the answer. A partition not in the
// transaction is refused (INVALID_TXN_STATE for Produce v10 and older,
// TRANSACTION_ABORTABLE from v11, as Kafka), so a late or stray batch
// cannot open a transaction no marker will ever close (a hanging
// transaction that would hold the last stable offset down for good).
//
// The verdict is kept with the producer's last offset in the partition
// when the verification began: a marker appended meanwhile (the
// transaction ended while the question was out) moves it, and the batch
// is then refused with INVALID_TXN_STATE rather than opening a new
// transaction (Kafka's verification guard).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/record"
	"github.com/chronik-streaming/chronik/core/txn"
)

// produceTP names one partition of a produce request.
type produceTP struct {
	topic     string
	partition int32
}

// txnVerdict is a verified partition's outcome: code to answer with, or
// (code 0) the producer's last offset in the partition when verification
// began (-1 when the partition knew no such producer).
type txnVerdict struct {
	code       int16
	lastOffset int64
	pid        int64
	epoch      int16
}

// verifyTxnProduce starts the verification of the transactional batches
// of r that open a transaction, and reports whether it did: the produce
// then goes on (handleProduceVerified) once the coordinator answered.
func (b *Broker) verifyTxnProduce(nowMs int64, req *Request, r *kmsg.ProduceRequest) bool {
	if r.TransactionID == nil || r.Acks == 0 {
		return false
	}
	verdicts := map[produceTP]txnVerdict{}
	var tps []txn.TopicPartition
	pid, epoch := int64(-1), int16(-1)
	for _, rt := range r.Topics {
		ts, _ := b.requestTopic(r.Version >= topicIDsFromVersion, rt.Topic, rt.TopicID)
		if ts == nil {
			continue // the produce answers the error
		}
		name := ts.meta.Name // v13+ names the topic by id
		for _, rp := range rt.Partitions {
			p := b.lookupPartition(name, rp.Partition)
			if p == nil || !p.isLeader() || isInternalTopic(name) {
				continue // the produce answers the error
			}
			h, err := record.ParseHeader(rp.Records)
			if err != nil || !h.Transactional() || !h.HasProducerID() {
				continue
			}
			ps, known := p.log.Producer(h.ProducerID)
			if known && ps.TxnFirstOffset >= 0 && ps.ProducerEpoch == h.ProducerEpoch {
				// Its transaction is open here at this epoch: it was
				// added (Kafka's hasOngoingTransaction).
				continue
			}
			last := int64(-1)
			if known {
				last = ps.LastOffset
			}
			tp := produceTP{name, rp.Partition}
			if pid < 0 {
				pid, epoch = h.ProducerID, h.ProducerEpoch
			}
			if h.ProducerID != pid || h.ProducerEpoch != epoch {
				// One transaction per request: Kafka refuses batches of
				// several producers in it.
				verdicts[tp] = txnVerdict{code: kerr.InvalidTxnState.Code}
				continue
			}
			verdicts[tp] = txnVerdict{lastOffset: last, pid: pid, epoch: epoch}
			tps = append(tps, txn.TopicPartition{Topic: name, Partition: rp.Partition})
		}
	}
	if len(verdicts) == 0 {
		return false
	}
	if len(tps) == 0 {
		b.produce(nowMs, req, verdicts)
		return true
	}
	b.askTxnVerification(nowMs, req, *r.TransactionID, pid, epoch, tps, func(nowMs int64, codes map[txn.TopicPartition]int16) {
		for _, tp := range tps {
			k := produceTP{tp.Topic, tp.Partition}
			v := verdicts[k]
			v.code = produceVerifyCode(r.Version, codes[tp])
			verdicts[k] = v
		}
		b.produce(nowMs, req, verdicts)
	})
	return true
}

// askTxnVerification asks the coordinator of transactional id id whether
// tps are in producer pid's transaction at epoch; done gets the
// coordinator's code per partition (a partition without one: NONE).
func (b *Broker) askTxnVerification(nowMs int64, req *Request, id string, pid int64, epoch int16, tps []txn.TopicPartition, done func(nowMs int64, codes map[txn.TopicPartition]int16)) {
	all := func(nowMs int64, code int16) {
		codes := make(map[txn.TopicPartition]int16, len(tps))
		for _, tp := range tps {
			codes[tp] = code
		}
		done(nowMs, codes)
	}
	ask := kmsg.NewPtrAddPartitionsToTxnRequest()
	ask.Version = 5
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = id, pid, epoch, true
	for _, tp := range tps {
		if n := len(tx.Topics); n == 0 || tx.Topics[n-1].Topic != tp.Topic {
			t := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
			t.Topic = tp.Topic
			tx.Topics = append(tx.Topics, t)
		}
		last := &tx.Topics[len(tx.Topics)-1]
		last.Partitions = append(last.Partitions, tp.Partition)
	}
	ask.Transactions = append(ask.Transactions, tx)
	answered := func(nowMs int64, resp kmsg.Response) {
		r, ok := resp.(*kmsg.AddPartitionsToTxnResponse)
		if !ok {
			all(nowMs, kerr.NetworkException.Code)
			return
		}
		if r.ErrorCode != kerrNone {
			code := r.ErrorCode
			if code == kerr.ClusterAuthorizationFailed.Code {
				code = kerr.InvalidTxnState.Code // as Kafka
			}
			all(nowMs, code)
			return
		}
		codes := make(map[txn.TopicPartition]int16, len(tps))
		for _, rtx := range r.Transactions {
			for _, t := range rtx.Topics {
				for _, p := range t.Partitions {
					codes[txn.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.ErrorCode
				}
			}
		}
		done(nowMs, codes)
	}
	leader, part, ok := b.txnLeader(id)
	switch {
	case !ok:
		b.ensureTxnStateTopic(nowMs)
		all(nowMs, kerrCoordinatorNotAvailable)
	case leader == b.cfg.NodeID:
		// The coordinator is here: a direct call into its shard.
		rt := b.txnRuntime()
		s, code := rt.Admit(part)
		if code != kerrNone {
			all(nowMs, code)
			return
		}
		ref := b.coordWaitOn(txnStateTopic, req, ask, part, func(resp kmsg.Response) { answered(b.nowMs, resp) })
		rt.Submit(nowMs, part, s.AddPartitionsToTxn(nowMs, ref, ask))
		b.wakeFetches(nowMs)
	case leader < 0:
		all(nowMs, kerrCoordinatorNotAvailable)
	default:
		b.sendPeer(nowMs, leader, ask, func(nowMs int64, resp kmsg.Response, err error) {
			if err != nil {
				all(nowMs, kerr.NetworkException.Code)
			} else {
				answered(nowMs, resp)
			}
			b.settle(nowMs) // the produce appended: what it unblocks goes on
		})
	}
}

// produceVerifyCode converts a coordinator's verification code into the
// produce's, as Kafka's AddPartitionsToTxnManager and ReplicaManager do:
// retriable coordinator errors become NOT_ENOUGH_REPLICAS (which every
// producer retries without a metadata refresh), PRODUCER_FENCED becomes
// INVALID_PRODUCER_EPOCH, and TRANSACTION_ABORTABLE is INVALID_TXN_STATE
// for clients older than Produce v11.
func produceVerifyCode(version int16, code int16) int16 {
	switch code {
	case kerr.ProducerFenced.Code:
		return kerr.InvalidProducerEpoch.Code
	case kerr.TransactionAbortable.Code:
		if version <= 10 {
			return kerr.InvalidTxnState.Code
		}
	case kerr.ConcurrentTransactions.Code, kerr.NetworkException.Code, kerr.CoordinatorLoadInProgress.Code,
		kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		return kerrNotEnoughReplicas
	}
	return code
}

// verifiedAppend reports whether a verified batch of pid may be appended
// to p now: its verdict, and, once verified, the producer's state must not
// have moved since (a marker closed the transaction meanwhile) unless a
// transaction of it is open there now.
func verifiedAppend(p *partition, v txnVerdict) int16 {
	if v.code != kerrNone {
		return v.code
	}
	ps, known := p.log.Producer(v.pid)
	switch {
	case known && ps.TxnFirstOffset >= 0 && ps.ProducerEpoch == v.epoch:
		return kerrNone
	case !known && v.lastOffset < 0:
		return kerrNone
	case known && ps.LastOffset == v.lastOffset:
		return kerrNone
	}
	return kerr.InvalidTxnState.Code
}
