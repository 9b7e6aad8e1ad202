package broker

// DescribeProducers, version 0: a partition's leader lists the producers
// of its producer table (core/partlog): id, epoch, last sequence, the
// max timestamp of its newest batch, the coordinator epoch of the last
// marker and the first offset of the open transaction (-1 when none). A
// partition this broker does not lead gets
// NOT_LEADER_OR_FOLLOWER, an unknown one UNKNOWN_TOPIC_OR_PARTITION, an
// offline one KAFKA_STORAGE_ERROR, as Kafka.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { registerAPI(61, 0, 0, handleDescribeProducers) }

func handleDescribeProducers(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.DescribeProducersRequest)
	resp := kmsg.NewPtrDescribeProducersResponse()
	for _, rt := range r.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, i := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = i
			p := b.lookupPartition(rt.Topic, i)
			switch {
			case p == nil:
				sp.ErrorCode = kerrUnknownTopicOrPartition
			case p.hosted && p.log == nil:
				sp.ErrorCode = kerrKafkaStorageError
			case !p.isLeader():
				sp.ErrorCode = kerrNotLeaderOrFollower
			default:
				for _, ps := range p.log.Producers() {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = ps.ProducerID, int32(ps.ProducerEpoch), ps.LastSequence
					ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = ps.LastTimestamp, ps.CoordinatorEpoch, ps.TxnFirstOffset
					sp.ActiveProducers = append(sp.ActiveProducers, ap)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	b.reply(req, resp)
	return nil
}
