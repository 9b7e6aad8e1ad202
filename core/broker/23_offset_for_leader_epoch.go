package broker

// OffsetForLeaderEpoch, versions 0-4.
//
// v1 returns the leader epoch found (v0 only the end offset); v2 adds the
// client's current leader epoch, checked as in Fetch (FENCED_LEADER_EPOCH
// / UNKNOWN_LEADER_EPOCH, KIP-320), and the throttle; v3 adds the replica
// id, ignored here: consumers and followers get the same answer; v4 is
// flexible.
//
// For each partition the answer is the largest epoch at or below the
// requested one and the start offset of the next larger epoch, or the log
// end offset when it is the latest epoch (KIP-101/KIP-279). An epoch below
// the earliest one in the log, or any epoch on a log without batches, is
// answered without error as UNDEFINED_EPOCH (-1) with UNDEFINED_EPOCH_OFFSET
// (-1), as Kafka does, which makes a follower fall back to truncating by
// its high watermark and a consumer skip its truncation check.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(23, 0, 4, handleOffsetForLeaderEpoch) }

// Kafka's answer for an epoch the log does not know.
const (
	undefinedEpoch       int32 = -1
	undefinedEpochOffset int64 = -1
)

func handleOffsetForLeaderEpoch(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.OffsetForLeaderEpochRequest)
	resp := kmsg.NewPtrOffsetForLeaderEpochResponse()
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch = undefinedEpoch
			sp.EndOffset = undefinedEpochOffset
			sp.ErrorCode = b.offsetForLeaderEpoch(r.Version, rt.Topic, &rp, &sp)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	b.reply(req, resp)
	return nil
}

func (b *Broker) offsetForLeaderEpoch(version int16, topic string, rp *kmsg.OffsetForLeaderEpochRequestTopicPartition, sp *kmsg.OffsetForLeaderEpochResponseTopicPartition) int16 {
	p, code := b.epochPartition(topic, rp.Partition, version >= 2, rp.CurrentLeaderEpoch)
	if code != kerrNone {
		return code
	}
	if epoch, end, ok := p.log.EndOffsetForEpoch(rp.LeaderEpoch); ok {
		sp.LeaderEpoch = epoch
		sp.EndOffset = end
	}
	return kerrNone
}
