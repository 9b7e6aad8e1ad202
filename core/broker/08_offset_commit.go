package broker

// OffsetCommit, versions 0-9: answered once the offsets' records are
// committed in __consumer_offsets (core/group). v10 (topic ids) is not
// served yet.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(8, 0, 9, handleOffsetCommit) }

func handleOffsetCommit(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.OffsetCommitRequest)
	b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
		return s.OffsetCommit(nowMs, ref, r)
	})
	return nil
}
