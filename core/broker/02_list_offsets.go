package broker

// ListOffsets, versions 0-8.
//
// v0 answers a list of offsets (OldStyleOffsets, at most MaxNumOffsets)
// rather than one offset and timestamp. v2 adds the isolation level:
// read_committed (1) answers latest with the last stable offset and
// bounds the timestamp lookups by it, as Kafka's
// fetchOffsetByTimestamp does; read_uncommitted uses the high watermark. v4 adds the current leader epoch check and returns the epoch.
// v7 adds -3, the offset of the largest timestamp (KIP-734); v8 adds -4,
// the earliest local offset (equal to the earliest without tiered storage).
//
// Special timestamps: -2 earliest (log start), -1 latest (high watermark,
// or the last stable offset under read_committed),
// -3 max timestamp, -4 earliest local.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(2, 0, 8, handleListOffsets) }

const (
	listLatest        = -1
	listEarliest      = -2
	listMaxTimestamp  = -3
	listEarliestLocal = -4
)

func handleListOffsets(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.ListOffsetsRequest)
	resp := kmsg.NewPtrListOffsetsResponse()
	for _, rt := range r.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp = -1
			sp.Offset = -1
			sp.LeaderEpoch = -1
			sp.ErrorCode = b.listOffset(r.Version, r.IsolationLevel == isolationReadCommitted, rt.Topic, &rp, &sp)
			if r.Version == 0 && sp.ErrorCode == kerrNone && sp.Offset >= 0 && rp.MaxNumOffsets > 0 {
				sp.OldStyleOffsets = []int64{sp.Offset}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	b.reply(req, resp)
	b.settle(nowMs) // long polls on a partition a read error took offline
	return nil
}

func (b *Broker) listOffset(version int16, readCommitted bool, topic string, rp *kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) int16 {
	p, code := b.epochPartition(topic, rp.Partition, version >= 4, rp.CurrentLeaderEpoch)
	if code != kerrNone {
		return code
	}
	// hw is the last offset a reader at this isolation level may see
	// (Kafka's lastFetchableOffset).
	hw := p.log.HighWatermark()
	if readCommitted {
		hw = p.log.LastStableOffset()
	}
	switch ts := rp.Timestamp; {
	case ts == listEarliest || ts == listEarliestLocal:
		sp.Offset = p.log.LogStartOffset()
		sp.LeaderEpoch = p.leaderEpoch
	case ts == listLatest:
		sp.Offset = hw
		sp.LeaderEpoch = p.leaderEpoch
	case ts == listMaxTimestamp:
		offset, maxTS, found, err := p.log.MaxTimestamp(hw)
		if err != nil {
			return b.logReadError(p, err)
		}
		if found {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = offset, maxTS, p.leaderEpoch
		}
	case ts >= 0:
		offset, foundTS, found, err := p.log.OffsetForTimestamp(ts, hw)
		if err != nil {
			return b.logReadError(p, err)
		}
		if found {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = offset, foundTS, p.leaderEpoch
		}
	default:
		return kerrInvalidRequest
	}
	return kerrNone
}
