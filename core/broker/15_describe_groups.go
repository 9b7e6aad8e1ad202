package broker

// DescribeGroups, versions 0-6 (core/group): split by coordinator shard,
// answered in request order.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(15, 0, 6, handleDescribeGroups) }

func handleDescribeGroups(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.DescribeGroupsRequest)
	b.splitGroups(nowMs, req, r.Groups,
		func(groups []string) kmsg.Request {
			part := *r
			part.Groups = groups
			return &part
		},
		func(s *group.Shard, ref group.ReplyRef, part kmsg.Request) group.Out {
			return s.DescribeGroups(nowMs, ref, part.(*kmsg.DescribeGroupsRequest))
		},
		func(parts []kmsg.Response) kmsg.Response {
			resp := kmsg.NewPtrDescribeGroupsResponse()
			resp.Version = r.Version
			resp.Groups = inRequestOrder(r.Groups, parts,
				func(p kmsg.Response) []kmsg.DescribeGroupsResponseGroup {
					return p.(*kmsg.DescribeGroupsResponse).Groups
				},
				func(g kmsg.DescribeGroupsResponseGroup) string { return g.Group })
			return resp
		})
	return nil
}
