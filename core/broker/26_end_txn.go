package broker

// EndTxn, versions 0-5, with transaction version 1's rules (core/txn):
// the answer goes once the PrepareCommit or PrepareAbort record is
// committed, and the markers follow (txn_markers.go). v5's answer carries
// producer id and epoch -1: the epoch is not bumped, since Chronik does
// not advertise transaction.version 2. PRODUCER_FENCED from v2,
// INVALID_PRODUCER_EPOCH before, as Kafka.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/txn"
)

func init() { registerAPI(26, 0, 5, handleEndTxn) }

func handleEndTxn(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.EndTxnRequest)
	b.withTxn(nowMs, req, r.TransactionalID, func(s *txn.Shard, ref coord.ReplyRef) coord.Write {
		return s.EndTxn(nowMs, ref, r)
	})
	return nil
}
