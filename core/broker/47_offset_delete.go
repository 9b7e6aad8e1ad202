package broker

// OffsetDelete, version 0 (core/group).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.OffsetDeleteRequest)
	b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
		return s.OffsetDelete(nowMs, ref, r)
	})
	return nil
}
