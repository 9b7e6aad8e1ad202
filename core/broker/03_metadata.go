package broker

// Metadata, versions 0-12.
//
// v0: an empty topic list means all topics. v1+: a null list means all
// topics, an empty one none. v1-v3 auto-create unknown topics implicitly
// (kafka-python relies on this); v4+ only when AllowAutoTopicCreation is
// set. v10 adds topic ids; v12 lets a topic be named by id alone.
// Auto-created topics are created synchronously, so unlike Kafka (which
// answers LEADER_NOT_AVAILABLE until the leader is elected) the same
// response already describes the ready topic.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

const apiKeyMetadata = 3

func init() { registerAPI(apiKeyMetadata, 0, 12, handleMetadata) }

func handleMetadata(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.MetadataRequest)
	resp := kmsg.NewPtrMetadataResponse()
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: b.cfg.NodeID, Host: b.cfg.AdvertisedHost, Port: b.cfg.AdvertisedPort}}
	clusterID := b.cfg.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = b.cfg.NodeID

	allTopics := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if allTopics {
		for _, name := range b.topicNames() {
			resp.Topics = append(resp.Topics, b.describeTopic(b.topics[name]))
		}
		b.reply(req, resp)
		return nil
	}
	autoCreate := b.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	for _, rt := range r.Topics {
		if rt.Topic == nil {
			// Named by id (v10+).
			t := b.image.TopicByID(metadata.TopicID(rt.TopicID))
			if t == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.ErrorCode = kerrUnknownTopicID
				mt.TopicID = rt.TopicID
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, b.describeTopic(b.topics[t.Name]))
			continue
		}
		name := *rt.Topic
		ts := b.topics[name]
		if ts == nil && autoCreate {
			if err := validTopicName(name); err != nil {
				resp.Topics = append(resp.Topics, metadataTopicError(name, kerrInvalidTopicException))
				continue
			}
			var code int16
			ts, code, _ = b.createTopic(name, b.cfg.NumPartitions, nil, nowMs)
			if code != kerrNone {
				resp.Topics = append(resp.Topics, metadataTopicError(name, code))
				continue
			}
			b.env.Logger.Info("auto-created topic", "topic", name, "partitions", b.cfg.NumPartitions)
		}
		if ts == nil {
			resp.Topics = append(resp.Topics, metadataTopicError(name, kerrUnknownTopicOrPartition))
			continue
		}
		resp.Topics = append(resp.Topics, b.describeTopic(ts))
	}
	b.reply(req, resp)
	return nil
}

func metadataTopicError(name string, code int16) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	mt.ErrorCode = code
	return mt
}

// describeTopic builds a topic's metadata entry. On a single node this
// broker leads every partition; an offline partition (failed recovery or
// fsync) is reported with KAFKA_STORAGE_ERROR and this broker as offline.
func (b *Broker) describeTopic(ts *topicState) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := ts.meta.Name
	mt.Topic = &name
	mt.TopicID = ts.meta.ID
	for _, p := range ts.partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.index
		mp.Leader = b.cfg.NodeID
		mp.LeaderEpoch = p.leaderEpoch
		mp.Replicas = []int32{b.cfg.NodeID}
		mp.ISR = []int32{b.cfg.NodeID}
		mp.OfflineReplicas = []int32{}
		if p.log == nil {
			mp.ErrorCode = kerrKafkaStorageError
			mp.OfflineReplicas = []int32{b.cfg.NodeID}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
