package broker

// JoinGroup, versions 0-9: the classic protocol's join (core/group), on
// the group's coordinator. The answer comes when the join phase ends,
// possibly in a later call (a rebalance waits for every member).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(11, 0, 9, handleJoinGroup) }

func handleJoinGroup(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.JoinGroupRequest)
	b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
		return s.JoinGroup(nowMs, ref, clientID(req), req.ClientHost, r)
	})
	return nil
}
