package broker

// DescribeTransactions, version 0: each transactional id is described by
// its coordinator's shard (core/txn); ids on several shards are split by
// shard and the answers merged in request order. An id this broker does
// not coordinate gets NOT_COORDINATOR (the admin client finds the
// coordinator of each id first), one whose shard loads
// COORDINATOR_LOAD_IN_PROGRESS.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/txn"
)

func init() { registerAPI(65, 0, 0, handleDescribeTransactions) }

func handleDescribeTransactions(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.DescribeTransactionsRequest)
	b.splitTxns(nowMs, req, r.TransactionalIDs,
		func(ids []string) kmsg.Request {
			sub := kmsg.NewPtrDescribeTransactionsRequest()
			sub.Version = r.Version
			sub.TransactionalIDs = ids
			return sub
		},
		func(s *txn.Shard, ref coord.ReplyRef, part kmsg.Request) coord.Write {
			return s.DescribeTransactions(nowMs, ref, part.(*kmsg.DescribeTransactionsRequest))
		},
		func(parts []kmsg.Response) kmsg.Response {
			resp := kmsg.NewPtrDescribeTransactionsResponse()
			resp.Version = r.Version
			resp.TransactionStates = inRequestOrder(r.TransactionalIDs, parts,
				func(p kmsg.Response) []kmsg.DescribeTransactionsResponseTransactionState {
					return p.(*kmsg.DescribeTransactionsResponse).TransactionStates
				},
				func(t kmsg.DescribeTransactionsResponseTransactionState) string { return t.TransactionalID })
			return resp
		})
	return nil
}
