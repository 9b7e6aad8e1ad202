package broker

// OffsetFetch, versions 0-10: committed offsets only (core/group). v8+
// names several groups; the request is split by coordinator shard and the
// groups answered in request order. v10 names topics by id: the shard gets
// their names, the answer carries the ids, and an id the broker does not
// know gets UNKNOWN_TOPIC_ID for each of its partitions.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
	"github.com/chronik-streaming/chronik/core/metadata"
)

func init() { registerAPI(9, 0, 10, handleOffsetFetch) }

func handleOffsetFetch(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.OffsetFetchRequest)
	if r.Version < 8 {
		b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
			return s.OffsetFetch(nowMs, ref, r)
		})
		return nil
	}
	unknown := map[string][]kmsg.OffsetFetchRequestGroupTopic{} // by group, v10
	if r.Version >= 10 {
		named := *r
		named.Groups = make([]kmsg.OffsetFetchRequestGroup, len(r.Groups))
		for i, g := range r.Groups {
			ng := g
			if g.Topics != nil {
				ng.Topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(g.Topics))
				for _, t := range g.Topics {
					mt := b.image.TopicByID(metadata.TopicID(t.TopicID))
					if mt == nil {
						unknown[g.Group] = append(unknown[g.Group], t)
						continue
					}
					t.Topic = mt.Name
					ng.Topics = append(ng.Topics, t)
				}
			}
			named.Groups[i] = ng
		}
		r = &named
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
			resp.Groups = inRequestOrder(names, parts,
				func(p kmsg.Response) []kmsg.OffsetFetchResponseGroup { return p.(*kmsg.OffsetFetchResponse).Groups },
				func(g kmsg.OffsetFetchResponseGroup) string { return g.Group })
			if r.Version >= 10 {
				b.offsetFetchTopicIDs(resp, unknown)
			}
			return resp
		})
	return nil
}

// offsetFetchTopicIDs completes a v10 answer: each topic's id (the shard
// keeps offsets by name, so an answer listing a group's every topic has
// none), and UNKNOWN_TOPIC_ID entries for the ids the request named that
// no topic has.
func (b *Broker) offsetFetchTopicIDs(resp *kmsg.OffsetFetchResponse, unknown map[string][]kmsg.OffsetFetchRequestGroupTopic) {
	for i := range resp.Groups {
		g := &resp.Groups[i]
		for j := range g.Topics {
			t := &g.Topics[j]
			if t.TopicID == [16]byte{} {
				if mt := b.image.Topic(t.Topic); mt != nil {
					t.TopicID = mt.ID
				}
			}
		}
		if g.ErrorCode != kerrNone {
			continue
		}
		for _, rt := range unknown[g.Group] {
			st := kmsg.NewOffsetFetchResponseGroupTopic()
			st.TopicID = rt.TopicID
			for _, p := range rt.Partitions {
				sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = p, -1, -1, kerrUnknownTopicID
				st.Partitions = append(st.Partitions, sp)
			}
			g.Topics = append(g.Topics, st)
		}
	}
}
