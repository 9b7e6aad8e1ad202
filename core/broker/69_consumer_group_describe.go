package broker

// ConsumerGroupDescribe, versions 0-1 (core/group): split by coordinator
// shard, answered in request order.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(69, 0, 1, handleConsumerGroupDescribe) }

func handleConsumerGroupDescribe(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.ConsumerGroupDescribeRequest)
	b.splitGroups(nowMs, req, r.Groups,
		func(groups []string) kmsg.Request {
			part := *r
			part.Groups = groups
			return &part
		},
		func(s *group.Shard, ref group.ReplyRef, part kmsg.Request) group.Out {
			return s.ConsumerGroupDescribe(nowMs, ref, part.(*kmsg.ConsumerGroupDescribeRequest))
		},
		func(parts []kmsg.Response) kmsg.Response {
			resp := kmsg.NewPtrConsumerGroupDescribeResponse()
			resp.Version = r.Version
			resp.Groups = inRequestOrder(r.Groups, parts,
				func(p kmsg.Response) []kmsg.ConsumerGroupDescribeResponseGroup {
					return p.(*kmsg.ConsumerGroupDescribeResponse).Groups
				},
				func(g kmsg.ConsumerGroupDescribeResponseGroup) string { return g.Group })
			return resp
		})
	return nil
}
