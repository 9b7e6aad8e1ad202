package broker

// ListOffsets, versions 0-10 (Kafka 4.1's highest).
//
// v0 answers a list of offsets (OldStyleOffsets, at most MaxNumOffsets)
// rather than one offset and timestamp. v2 adds the isolation level:
// read_committed (1) answers latest with the last stable offset and
// bounds the timestamp lookups by it, as Kafka's
// fetchOffsetByTimestamp does; read_uncommitted uses the high watermark.
// v4 adds the current leader epoch check and returns the epoch.
// v7 adds -3, the offset of the largest timestamp (KIP-734); v8 adds -4,
// the earliest local offset (equal to the earliest without tiered
// storage); v9 adds -5, the latest offset in tiered storage (KIP-1005),
// which is offset -1 with leader epoch -1 without tiered storage, as Kafka
// answers when remote storage is off; v10 adds TimeoutMs (KIP-1075), the
// wait for a lookup in remote storage, which Chronik never makes: every
// answer is immediate.
//
// Special timestamps: -2 earliest (log start), -1 latest (high watermark,
// or the last stable offset under read_committed), -3 max timestamp,
// -4 earliest local, -5 latest tiered. From v1 on, as in Kafka's
// ReplicaManager, a special timestamp the request's version does not know
// (or an unknown negative one) gets UNSUPPORTED_VERSION; v0 takes only -1
// and -2 (INVALID_REQUEST otherwise).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(2, 0, 10, handleListOffsets) }

const (
	listLatest        = -1
	listEarliest      = -2
	listMaxTimestamp  = -3
	listEarliestLocal = -4
	listLatestTiered  = -5
)

// listTimestampFromVersion is the first ListOffsets version that knows
// each special timestamp (Kafka's timestampMinSupportedVersion).
var listTimestampFromVersion = map[int64]int16{
	listLatest: 0, listEarliest: 0, listMaxTimestamp: 7, listEarliestLocal: 8, listLatestTiered: 9,
}

// listTimestampCode is the error for a special timestamp (negative) that
// version does not know, kerrNone for one it does or a real timestamp.
func listTimestampCode(version int16, ts int64) int16 {
	if ts >= 0 {
		return kerrNone
	}
	from, known := listTimestampFromVersion[ts]
	switch {
	case version == 0 && (!known || from > 0):
		return kerrInvalidRequest // v0 predates the check; it knew only -1 and -2
	case !known || version < from:
		return kerrUnsupportedVersion
	}
	return kerrNone
}

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
	// Checked before the partition, as Kafka's ReplicaManager does.
	if code := listTimestampCode(version, rp.Timestamp); code != kerrNone {
		return code
	}
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
	case ts == listLatestTiered:
		// Nothing is tiered: Kafka answers offset -1, epoch -1 when remote
		// storage is off (the fields' defaults here).
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
