package broker

// DeleteRecords, versions 0-2.
//
// v1 only changed throttling; v2 is flexible. For each partition the log
// start offset moves up to the requested offset (KIP-107): -1 means the
// high watermark; an offset above the high watermark, or any other
// negative one, is OFFSET_OUT_OF_RANGE; an offset at or below the current
// log start changes nothing, as in Kafka (the start only moves forward).
// LowWatermark is the log start offset afterwards (-1 on error). On a
// single node no follower has to catch up, so the response is immediate
// and TimeoutMillis is ignored.
//
// The log checkpoints the new start before DeleteRecordsBefore returns,
// so deleted records stay deleted after a crash. Long-polling fetches are
// woken: one positioned below the new start now gets OFFSET_OUT_OF_RANGE.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(21, 0, 2, handleDeleteRecords) }

// deleteRecordsHighWatermark is the offset that stands for the high watermark.
const deleteRecordsHighWatermark = -1

func handleDeleteRecords(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.DeleteRecordsRequest)
	resp := kmsg.NewPtrDeleteRecordsResponse()
	moved := false
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			code, changed := b.deleteRecords(rt.Topic, &rp, &sp)
			sp.ErrorCode = code
			moved = moved || changed
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if moved {
		b.wakeFetches(nowMs)
	}
	b.keepReserve()
	b.settle(nowMs)
	b.reply(req, resp)
	return nil
}

// deleteRecords handles one partition; changed reports a moved log start.
func (b *Broker) deleteRecords(topic string, rp *kmsg.DeleteRecordsRequestTopicPartition, sp *kmsg.DeleteRecordsResponseTopicPartition) (code int16, changed bool) {
	p, code := b.onlinePartition(topic, rp.Partition)
	if code != kerrNone {
		return code, false
	}
	hw := p.log.HighWatermark()
	offset := rp.Offset
	if offset == deleteRecordsHighWatermark {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return kerrOffsetOutOfRange, false
	}
	if offset > p.log.LogStartOffset() {
		// The checkpoint written before segments go may need the space
		// reserve on a full disk (storage.go).
		if err := b.withSpace("delete records checkpoint", func() error { return p.log.DeleteRecordsBefore(offset) }); err != nil {
			code := kerrForLogError(err)
			if p.log.Failed() != nil {
				b.takeOffline(p, err)
			} else {
				sp.LowWatermark = p.log.LogStartOffset()
			}
			return code, false
		}
		changed = true
		b.env.Logger.Info("deleted records", "partition", p.dir, "log_start_offset", offset)
	}
	sp.LowWatermark = p.log.LogStartOffset()
	return kerrNone, changed
}
