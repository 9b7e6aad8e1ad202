package broker

// OffsetCommit, versions 0-10: answered once the offsets' records are
// committed in __consumer_offsets (core/group). v10 names topics by id:
// the broker gives the shard their names (offsets are kept by name, as
// Kafka keeps them), and a topic id it does not know gets
// UNKNOWN_TOPIC_ID for each of its partitions.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
	"github.com/chronik-streaming/chronik/core/metadata"
)

func init() { registerAPI(8, 0, 10, handleOffsetCommit) }

func handleOffsetCommit(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.OffsetCommitRequest)
	var unknown []kmsg.OffsetCommitRequestTopic
	if r.Version >= 10 {
		known := r.Topics[:0:0]
		for _, rt := range r.Topics {
			t := b.image.TopicByID(metadata.TopicID(rt.TopicID))
			if t == nil {
				unknown = append(unknown, rt)
				continue
			}
			rt.Topic = t.Name
			known = append(known, rt)
		}
		part := *r
		part.Topics = known
		r = &part
	}
	var finish func(kmsg.Response) kmsg.Response
	if len(unknown) > 0 {
		finish = func(resp kmsg.Response) kmsg.Response {
			out := resp.(*kmsg.OffsetCommitResponse)
			for _, rt := range unknown {
				st := kmsg.NewOffsetCommitResponseTopic()
				st.Topic, st.TopicID = rt.Topic, rt.TopicID
				for _, rp := range rt.Partitions {
					sp := kmsg.NewOffsetCommitResponseTopicPartition()
					sp.Partition, sp.ErrorCode = rp.Partition, kerrUnknownTopicID
					st.Partitions = append(st.Partitions, sp)
				}
				out.Topics = append(out.Topics, st)
			}
			return out
		}
	}
	b.withGroupThen(nowMs, req, r.Group, func(s *group.Shard, ref group.ReplyRef) group.Out {
		return s.OffsetCommit(nowMs, ref, r)
	}, finish)
	return nil
}
