package broker

// ConsumerGroupHeartbeat, versions 0-1: a KIP-848 member's join, heartbeat
// and leave (core/group), on the group's coordinator. Assignment is
// computed there by a server-side assignor over the topics of this
// broker's image (groupTopics).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

func init() { registerAPI(68, 0, 1, handleConsumerGroupHeartbeat) }

func handleConsumerGroupHeartbeat(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.ConsumerGroupHeartbeatRequest)
	b.withGroup(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
		return s.ConsumerGroupHeartbeat(nowMs, ref, clientID(req), req.ClientHost, r)
	})
	return nil
}

// groupTopics is the broker's topic image as the group shards see it: a
// KIP-848 subscription names topics, assignments name them by id.
type groupTopics struct{ b *Broker }

func (g groupTopics) TopicByName(name string) (group.TopicMeta, bool) {
	ts := g.b.topics[name]
	if ts == nil || isInternalTopic(name) {
		return group.TopicMeta{}, false
	}
	return group.TopicMeta{ID: ts.meta.ID, Partitions: ts.meta.Partitions}, true
}

// TopicNames lists the non-internal topics, sorted, for regex
// subscriptions (core/group matches them at most every refresh interval).
func (g groupTopics) TopicNames() []string {
	ts := g.b.orderedTopics()
	names := make([]string, 0, len(ts))
	for _, t := range ts {
		if name := t.meta.Name; !isInternalTopic(name) {
			names = append(names, name)
		}
	}
	return names
}

// TopicName scans the topics: it serves ConsumerGroupDescribe only.
func (g groupTopics) TopicName(id [16]byte) (string, bool) {
	for name, ts := range g.b.topics {
		if ts.meta.ID == id {
			return name, true
		}
	}
	return "", false
}
