package broker

// OffsetFetch, versions 0-9: committed offsets only (core/group). v8+
// names several groups; the request is split by coordinator shard and the
// groups answered in request order. v10 (topic ids) is not served yet.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(9, 0, 9, handleOffsetFetch) }

func handleOffsetFetch(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.OffsetFetchRequest)
	if r.Version < 8 {
		b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
			return s.OffsetFetch(nowMs, ref, r)
		})
		return nil
	}
	names := make([]string, len(r.Groups))
	for i, g := range r.Groups {
		names[i] = g.Group
	}
	b.splitGroups(nowMs, req, names,
		func(groups []string) kmsg.Request {
			part := *r
			part.Groups = nil
			for _, g := range r.Groups {
				if slices.Contains(groups, g.Group) {
					part.Groups = append(part.Groups, g)
				}
			}
			return &part
		},
		func(s *group.Shard, ref group.ReplyRef, part kmsg.Request) group.Out {
			return s.OffsetFetch(nowMs, ref, part.(*kmsg.OffsetFetchRequest))
		},
		func(parts []kmsg.Response) kmsg.Response {
			resp := kmsg.NewPtrOffsetFetchResponse()
			resp.Version = r.Version
			byGroup := map[string][]kmsg.OffsetFetchResponseGroup{}
			for _, p := range parts {
				for _, g := range p.(*kmsg.OffsetFetchResponse).Groups {
					byGroup[g.Group] = append(byGroup[g.Group], g)
				}
			}
			for _, g := range r.Groups {
				if list := byGroup[g.Group]; len(list) > 0 {
					resp.Groups = append(resp.Groups, list[0])
					byGroup[g.Group] = list[1:]
				}
			}
			return resp
		})
	return nil
}
