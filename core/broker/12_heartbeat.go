package broker

// Heartbeat, versions 0-4 (core/group).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(12, 0, 4, handleHeartbeat) }

func handleHeartbeat(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.HeartbeatRequest)
	b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
		return s.Heartbeat(nowMs, ref, r)
	})
	return nil
}
