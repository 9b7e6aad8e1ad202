package broker

// LeaveGroup, versions 0-5 (v3+ leaves several members at once;
// core/group).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(13, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.LeaveGroupRequest)
	b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
		return s.LeaveGroup(nowMs, ref, r)
	})
	return nil
}
