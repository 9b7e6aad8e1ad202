package broker

// TxnOffsetCommit, versions 0-5: a transactional producer's consumer
// offsets (KIP-98, KIP-447), sent to the group's coordinator (the leader
// of the group's __consumer_offsets partition, as for OffsetCommit). The
// shard (core/group) writes them as a transactional batch of the
// producer and stages them once committed; the transaction's marker in
// that partition (writeOffsetsTxnMarker) applies or drops them. The
// answer waits for the write, as Kafka's does.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(28, 0, 5, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.TxnOffsetCommitRequest)
	b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
		return s.TxnOffsetCommit(nowMs, ref, r)
	})
	return nil
}
