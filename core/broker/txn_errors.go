package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// txnErrorResponse is the answer to a transaction request that no
// coordinator takes (this broker does not lead the id's partition, it is
// loading, __transaction_state does not exist yet): code in every entry,
// the shape Kafka's error responses have for each version.
func txnErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	switch r := req.(type) {
	case *kmsg.InitProducerIDRequest:
		out := resp.(*kmsg.InitProducerIDResponse)
		out.ErrorCode, out.ProducerID, out.ProducerEpoch = code, -1, -1
	case *kmsg.AddPartitionsToTxnRequest:
		out := resp.(*kmsg.AddPartitionsToTxnResponse)
		if r.Version < 4 {
			for _, t := range r.Topics {
				st := kmsg.NewAddPartitionsToTxnResponseTopic()
				st.Topic = t.Topic
				for _, p := range t.Partitions {
					sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
					sp.Partition, sp.ErrorCode = p, code
					st.Partitions = append(st.Partitions, sp)
				}
				out.Topics = append(out.Topics, st)
			}
			break
		}
		for _, tx := range r.Transactions {
			stx := kmsg.NewAddPartitionsToTxnResponseTransaction()
			stx.TransactionalID = tx.TransactionalID
			for _, t := range tx.Topics {
				st := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				st.Topic = t.Topic
				for _, p := range t.Partitions {
					sp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
					sp.Partition, sp.ErrorCode = p, code
					st.Partitions = append(st.Partitions, sp)
				}
				stx.Topics = append(stx.Topics, st)
			}
			out.Transactions = append(out.Transactions, stx)
		}
	case *kmsg.AddOffsetsToTxnRequest:
		resp.(*kmsg.AddOffsetsToTxnResponse).ErrorCode = code
	case *kmsg.EndTxnRequest:
		out := resp.(*kmsg.EndTxnResponse)
		out.ErrorCode, out.ProducerID, out.ProducerEpoch = code, -1, -1
	case *kmsg.DescribeTransactionsRequest:
		out := resp.(*kmsg.DescribeTransactionsResponse)
		for _, id := range r.TransactionalIDs {
			st := kmsg.NewDescribeTransactionsResponseTransactionState()
			st.TransactionalID, st.ErrorCode = id, code
			st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
			out.TransactionStates = append(out.TransactionStates, st)
		}
	case *kmsg.ListTransactionsRequest:
		resp.(*kmsg.ListTransactionsResponse).ErrorCode = code
	default:
		panic("broker: txnErrorResponse of a request no transaction coordinator serves: " + kmsg.NameForKey(req.Key()))
	}
	return resp
}
