package broker

// AddPartitionsToTxn, versions 0-5.
//
// v0-v3 come from producers: one transaction, whose partitions its
// coordinator adds (core/txn). v4+ (KIP-890 part 1) come from brokers and
// batch several transactions, each either added or, marked VerifyOnly,
// only checked (a partition leader verifying a transactional produce,
// txn_verify.go); a batch whose transactions live on several shards is
// split by shard and the answers merged in request order. Errors per
// partition: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// COORDINATOR_NOT_AVAILABLE from the broker; the others from the shard
// (PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before, as Kafka).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/txn"
)

func init() { registerAPI(24, 0, 5, handleAddPartitionsToTxn) }

func handleAddPartitionsToTxn(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.AddPartitionsToTxnRequest)
	if r.Version < 4 {
		b.withTxn(nowMs, req, r.TransactionalID, func(s *txn.Shard, ref coord.ReplyRef) coord.Write {
			return s.AddPartitionsToTxn(nowMs, ref, r)
		})
		return nil
	}
	ids := make([]string, 0, len(r.Transactions))
	byID := map[string][]kmsg.AddPartitionsToTxnRequestTransaction{}
	for _, tx := range r.Transactions {
		if len(byID[tx.TransactionalID]) == 0 {
			ids = append(ids, tx.TransactionalID)
		}
		byID[tx.TransactionalID] = append(byID[tx.TransactionalID], tx)
	}
	b.splitTxns(nowMs, req, ids,
		func(part []string) kmsg.Request {
			sub := kmsg.NewPtrAddPartitionsToTxnRequest()
			sub.Version = r.Version
			for _, id := range part {
				sub.Transactions = append(sub.Transactions, byID[id]...)
			}
			return sub
		},
		func(s *txn.Shard, ref coord.ReplyRef, part kmsg.Request) coord.Write {
			return s.AddPartitionsToTxn(nowMs, ref, part.(*kmsg.AddPartitionsToTxnRequest))
		},
		func(parts []kmsg.Response) kmsg.Response {
			resp := kmsg.NewPtrAddPartitionsToTxnResponse()
			resp.Version = r.Version
			resp.Transactions = inRequestOrder(txnIDsInOrder(r), parts,
				func(p kmsg.Response) []kmsg.AddPartitionsToTxnResponseTransaction {
					return p.(*kmsg.AddPartitionsToTxnResponse).Transactions
				},
				func(t kmsg.AddPartitionsToTxnResponseTransaction) string { return t.TransactionalID })
			return resp
		})
	return nil
}

// txnIDsInOrder lists the request's transactional ids, one per
// transaction, in request order.
func txnIDsInOrder(r *kmsg.AddPartitionsToTxnRequest) []string {
	ids := make([]string, len(r.Transactions))
	for i, tx := range r.Transactions {
		ids[i] = tx.TransactionalID
	}
	return ids
}
