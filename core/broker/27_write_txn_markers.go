package broker

// WriteTxnMarkers, versions 0-1 (v2, transaction version 2's field, is
// Kafka 4.2's): a transaction coordinator on another broker asks this
// one, as the leader of the named partitions, to write their commit or
// abort markers (txn_markers.go sends it). A broker-to-broker API, served
// on the control listener only. Each partition is answered once its
// marker is committed (the high watermark passed it), or with the error:
// UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER (the coordinator
// finds the leader again and resends), NOT_ENOUGH_REPLICAS,
// INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED (a newer
// producer or coordinator wrote there), KAFKA_STORAGE_ERROR. Markers of
// __consumer_offsets partitions go through writeOffsetsTxnMarker.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/partlog"
)

func init() { registerControlAPI(27, 0, 1, handleWriteTxnMarkers) }

func handleWriteTxnMarkers(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.WriteTxnMarkersRequest)
	resp := kmsg.NewPtrWriteTxnMarkersResponse()
	// The answer waits for every partition: count them all before the
	// first write, which may answer at once.
	remaining := 1
	finish := func() {
		remaining--
		if remaining == 0 {
			b.reply(req, resp)
		}
	}
	for _, m := range r.Markers {
		sm := kmsg.NewWriteTxnMarkersResponseMarker()
		sm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			st := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			st.Topic = t.Topic
			for _, i := range t.Partitions {
				sp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				sp.Partition = i
				st.Partitions = append(st.Partitions, sp)
				remaining++
			}
			sm.Topics = append(sm.Topics, st)
		}
		resp.Markers = append(resp.Markers, sm)
	}
	for mi, m := range r.Markers {
		for ti, t := range m.Topics {
			for pi, i := range t.Partitions {
				sp := &resp.Markers[mi].Topics[ti].Partitions[pi]
				done := func(code int16) {
					sp.ErrorCode = code
					finish()
				}
				if t.Topic == offsetsTopic {
					b.writeOffsetsTxnMarker(nowMs, i, m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch, done)
					continue
				}
				mk := partlog.TxnMarker{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, Commit: m.Committed, CoordinatorEpoch: m.CoordinatorEpoch}
				b.writeTxnMarkerLocal(nowMs, b.lookupPartition(t.Topic, i), mk, done)
			}
		}
	}
	finish()
	b.settle(nowMs)
	return nil
}
