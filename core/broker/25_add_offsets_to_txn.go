package broker

// AddOffsetsToTxn, versions 0-4: the coordinator of the transactional id
// adds the partition of __consumer_offsets that holds the group's offsets
// to the transaction (core/txn), so that its marker reaches the group
// coordinator (writeOffsetsTxnMarker). PRODUCER_FENCED from v2,
// INVALID_PRODUCER_EPOCH before, as Kafka.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/txn"
)

func init() { registerAPI(25, 0, 4, handleAddOffsetsToTxn) }

func handleAddOffsetsToTxn(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.AddOffsetsToTxnRequest)
	b.withTxn(nowMs, req, r.TransactionalID, func(s *txn.Shard, ref coord.ReplyRef) coord.Write {
		return s.AddOffsetsToTxn(nowMs, ref, r)
	})
	return nil
}
