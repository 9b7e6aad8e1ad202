package broker

// DeleteGroups, versions 0-2 (core/group): split by coordinator shard;
// each part is answered once its tombstones are committed, the whole in
// request order.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(42, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.DeleteGroupsRequest)
	b.splitGroups(nowMs, req, r.Groups,
		func(groups []string) kmsg.Request {
			part := *r
			part.Groups = groups
			return &part
		},
		func(s *group.Shard, ref group.ReplyRef, part kmsg.Request) group.Out {
			return s.DeleteGroups(nowMs, ref, part.(*kmsg.DeleteGroupsRequest))
		},
		func(parts []kmsg.Response) kmsg.Response {
			resp := kmsg.NewPtrDeleteGroupsResponse()
			resp.Version = r.Version
			resp.Groups = inRequestOrder(r.Groups, parts,
				func(p kmsg.Response) []kmsg.DeleteGroupsResponseGroup { return p.(*kmsg.DeleteGroupsResponse).Groups },
				func(g kmsg.DeleteGroupsResponseGroup) string { return g.Group })
			return resp
		})
	return nil
}
