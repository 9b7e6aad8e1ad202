package broker

// ListTransactions, versions 0-2: the transactions of every shard this
// broker leads (Kafka's admin client asks every broker and merges), in
// transactional id order. While one of them loads the answer is
// COORDINATOR_LOAD_IN_PROGRESS, as Kafka's. Filters (states, producer
// ids, v1 a minimum duration, v2 a pattern) are the shards' (core/txn);
// a broker that leads none answers from an empty shard, so unknown state
// names and bad patterns get the same answer everywhere.

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/txn"
)

func init() { registerAPI(66, 0, 2, handleListTransactions) }

func handleListTransactions(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.ListTransactionsRequest)
	rt := b.txnRuntime()
	var led []int32
	if ts := b.topics[txnStateTopic]; ts != nil {
		for _, p := range ts.partitions {
			if !p.isLeader() {
				continue
			}
			if _, ok := rt.Loaded(p.index); !ok {
				if _, code := rt.Admit(p.index); code == kerr.CoordinatorLoadInProgress.Code {
					b.reply(req, txnErrorResponse(r, code))
					return nil
				}
				continue // not (or no longer) its coordinator
			}
			led = append(led, p.index)
		}
	}
	if len(led) == 0 {
		w := txn.NewShard(b.cfg.TxnCoordinator, nil, nil).ListTransactions(nowMs, 0, r)
		b.reply(req, w.Replies[0].Resp)
		return nil
	}
	answers := make([]*kmsg.ListTransactionsResponse, len(led))
	remaining := len(led)
	done := func(i int, resp kmsg.Response) {
		answers[i] = resp.(*kmsg.ListTransactionsResponse)
		remaining--
		if remaining == 0 {
			b.reply(req, mergeListTransactions(r, answers))
		}
	}
	for i, p := range led {
		s, _ := rt.Loaded(p)
		ref := b.coordWaitOn(txnStateTopic, req, r, p, func(resp kmsg.Response) { done(i, resp) })
		rt.Submit(nowMs, p, s.ListTransactions(nowMs, ref, r))
	}
	return nil
}

// mergeListTransactions joins the shards' answers: the first error, the
// unknown state names (the same from every shard), every transaction in
// id order.
func mergeListTransactions(r *kmsg.ListTransactionsRequest, parts []*kmsg.ListTransactionsResponse) *kmsg.ListTransactionsResponse {
	resp := kmsg.NewPtrListTransactionsResponse()
	resp.Version = r.Version
	for i, p := range parts {
		if i == 0 {
			resp.UnknownStateFilters = p.UnknownStateFilters
		}
		if p.ErrorCode != kerrNone && resp.ErrorCode == kerrNone {
			resp.ErrorCode = p.ErrorCode
		}
		resp.TransactionStates = append(resp.TransactionStates, p.TransactionStates...)
	}
	if resp.ErrorCode != kerrNone {
		resp.TransactionStates = nil
	}
	slices.SortFunc(resp.TransactionStates, func(a, b kmsg.ListTransactionsResponseTransactionState) int {
		return strings.Compare(a.TransactionalID, b.TransactionalID)
	})
	return resp
}
