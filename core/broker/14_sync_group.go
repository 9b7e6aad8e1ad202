package broker

// SyncGroup, versions 0-5: the leader's assignment, written to
// __consumer_offsets before any member gets its part (core/group).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(14, 0, 5, handleSyncGroup) }

func handleSyncGroup(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.SyncGroupRequest)
	b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
		return s.SyncGroup(nowMs, ref, r)
	})
	return nil
}
