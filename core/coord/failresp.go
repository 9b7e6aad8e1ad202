package coord

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FailResponse sets code as the error of every entry of resp, a success
// a shard built for a write that will never be committed, and returns it.
// Kafka answers so when a coordinator's write fails or its partition
// moves: the client finds the coordinator again and retries. Only the
// response types a coordinator defers are known; any other is a bug in
// the shard, and panics (tests and the simulator reach every deferred
// type).
func FailResponse(resp kmsg.Response, code int16) kmsg.Response {
	switch r := resp.(type) {
	case *kmsg.JoinGroupResponse:
		r.ErrorCode = code
	case *kmsg.SyncGroupResponse:
		r.ErrorCode = code
		r.MemberAssignment = nil
	case *kmsg.HeartbeatResponse:
		r.ErrorCode = code
	case *kmsg.LeaveGroupResponse:
		r.ErrorCode = code
		for i := range r.Members {
			r.Members[i].ErrorCode = code
		}
	case *kmsg.OffsetCommitResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				r.Topics[i].Partitions[j].ErrorCode = code
			}
		}
	case *kmsg.TxnOffsetCommitResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				r.Topics[i].Partitions[j].ErrorCode = code
			}
		}
	case *kmsg.DeleteGroupsResponse:
		for i := range r.Groups {
			r.Groups[i].ErrorCode = code
		}
	case *kmsg.OffsetDeleteResponse:
		r.ErrorCode = code
		r.Topics = nil
	case *kmsg.ConsumerGroupHeartbeatResponse:
		r.ErrorCode = code
		r.Assignment = nil
	case *kmsg.InitProducerIDResponse:
		r.ErrorCode = code
		r.ProducerID, r.ProducerEpoch = -1, -1
	case *kmsg.AddPartitionsToTxnResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				r.Topics[i].Partitions[j].ErrorCode = code
			}
		}
		for i := range r.Transactions {
			for j := range r.Transactions[i].Topics {
				for k := range r.Transactions[i].Topics[j].Partitions {
					r.Transactions[i].Topics[j].Partitions[k].ErrorCode = code
				}
			}
		}
	case *kmsg.AddOffsetsToTxnResponse:
		r.ErrorCode = code
	case *kmsg.EndTxnResponse:
		r.ErrorCode = code
		r.ProducerID, r.ProducerEpoch = -1, -1
	case *kmsg.DescribeTransactionsResponse:
		for i := range r.TransactionStates {
			r.TransactionStates[i].ErrorCode = code
		}
	case *kmsg.ListTransactionsResponse:
		r.ErrorCode = code
		r.TransactionStates = nil
	default:
		panic(fmt.Sprintf("%v: %T", ErrUnknownResponse, resp))
	}
	return resp
}
