package broker

// Metadata, versions 0-13 (Kafka 4.1's highest).
//
// v0: an empty topic list means all topics. v1+: a null list means all
// topics, an empty one none. v1-v3 auto-create unknown topics implicitly
// (kafka-python relies on this); v4+ only when AllowAutoTopicCreation is
// set. v10 adds topic ids; v12 lets a topic be named by id alone. v13 adds
// a top-level error code (KIP-1102), which Kafka sets only to
// REBOOTSTRAP_REQUIRED, telling a client to drop every broker it knows and
// bootstrap again; Chronik never asks that (a cluster's brokers keep
// their ids and addresses), so it is always 0.
// On the controller (and on a single node) an auto-created topic is
// created before the answer, which already describes it; another broker
// of a cluster forwards the creation to the controller and answers
// LEADER_NOT_AVAILABLE, as Kafka does while a topic is being created.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

const apiKeyMetadata = 3

func init() { registerAPI(apiKeyMetadata, 0, 13, handleMetadata) }

func handleMetadata(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.MetadataRequest)
	resp := kmsg.NewPtrMetadataResponse()
	resp.Brokers = b.liveBrokers()
	clusterID := b.cfg.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = b.controllerForClients()

	allTopics := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if allTopics {
		for _, name := range b.topicNames() {
			resp.Topics = append(resp.Topics, b.describeTopic(b.topics[name]))
		}
		b.reply(req, resp)
		return nil
	}
	autoCreate := b.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	var slots []stagedSlot
	var created []int // indexes in resp.Topics of staged creations
	var unusedMessage *string
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
			if b.clustered() && !b.ctrl.Active() {
				// Kafka's answer while a topic is being created; the
				// controller creates it and the client asks again.
				b.forwardAutoCreate(nowMs, name)
				resp.Topics = append(resp.Topics, metadataTopicError(name, kerrLeaderNotAvailable))
				continue
			}
			code, _ := b.createTopic(name, b.cfg.NumPartitions, b.autoCreateReplication(), nil, nil)
			resp.Topics = append(resp.Topics, metadataTopicError(name, code))
			if code == codeStaged {
				created = append(created, len(resp.Topics)-1)
			}
			continue
		}
		if ts == nil {
			resp.Topics = append(resp.Topics, metadataTopicError(name, kerrUnknownTopicOrPartition))
			continue
		}
		resp.Topics = append(resp.Topics, b.describeTopic(ts))
	}
	for _, i := range created {
		slots = append(slots, stagedSlot{&resp.Topics[i].ErrorCode, &unusedMessage})
	}
	b.finishStaged(nowMs, req, resp, slots, func() {
		for _, i := range created {
			mt := &resp.Topics[i]
			if mt.ErrorCode == kerrTopicAlreadyExists {
				mt.ErrorCode = kerrNone // created by someone else meanwhile
			}
			if ts := b.topics[*mt.Topic]; mt.ErrorCode == kerrNone && ts != nil {
				b.env.Logger.Info("auto-created topic", "topic", *mt.Topic, "partitions", ts.meta.Partitions)
				*mt = b.describeTopic(ts)
			}
		}
	})
	return nil
}

// autoCreateReplication is the replication factor of auto-created topics:
// default.replication.factor, but never more than the live brokers.
func (b *Broker) autoCreateReplication() int16 {
	return max(1, min(b.cfg.DefaultReplicationFactor, int16(len(b.image.UnfencedBrokerIDs()))))
}

// forwardAutoCreate asks the controller to create a topic a client's
// Metadata request named; the answer does not matter (the client asks
// again).
func (b *Broker) forwardAutoCreate(nowMs int64, name string) {
	if b.controllerID < 0 {
		return
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 4
	req.TimeoutMillis = int32(b.cfg.ProposalTimeoutMs)
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = name
	rt.NumPartitions = b.cfg.NumPartitions
	rt.ReplicationFactor = b.autoCreateReplication()
	req.Topics = append(req.Topics, rt)
	b.sendPeer(nowMs, b.controllerID, req, func(int64, kmsg.Response, error) {})
}

// liveBrokers lists the unfenced brokers (this one always, so that a
// client can reach the cluster while this broker's registration is on
// its way).
func (b *Broker) liveBrokers() []kmsg.MetadataResponseBroker {
	var out []kmsg.MetadataResponseBroker
	self := false
	for _, id := range b.image.BrokerIDs() {
		reg := b.image.Broker(id)
		if reg.Fenced && id != b.cfg.NodeID {
			continue
		}
		if id == b.cfg.NodeID {
			self = true
			out = append(out, kmsg.MetadataResponseBroker{NodeID: id, Host: b.cfg.AdvertisedHost, Port: b.cfg.AdvertisedPort})
			continue
		}
		out = append(out, kmsg.MetadataResponseBroker{NodeID: id, Host: reg.Host, Port: reg.Port})
	}
	if !self {
		out = append(out, kmsg.MetadataResponseBroker{NodeID: b.cfg.NodeID, Host: b.cfg.AdvertisedHost, Port: b.cfg.AdvertisedPort})
	}
	return out
}

// controllerForClients is the controller id Metadata and DescribeCluster
// report: the quorum leader, or this broker when there is no quorum or
// none is known (clients need some broker to send admin requests to).
func (b *Broker) controllerForClients() int32 {
	if b.clustered() && b.controllerID >= 0 {
		return b.controllerID
	}
	return b.cfg.NodeID
}

func metadataTopicError(name string, code int16) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	mt.ErrorCode = code
	return mt
}

// describeTopic builds a topic's metadata entry from the image. Replicas
// that are fenced, unregistered or (for this broker) offline after a
// storage error are listed as offline; a partition without a leader
// answers LEADER_NOT_AVAILABLE, one whose leader is this broker but
// offline KAFKA_STORAGE_ERROR.
func (b *Broker) describeTopic(ts *topicState) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := ts.meta.Name
	mt.Topic = &name
	mt.TopicID = ts.meta.ID
	mt.IsInternal = isInternalTopic(name)
	for _, p := range ts.partitions {
		a := &ts.meta.Assignments[p.index]
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.index
		mp.Leader = a.Leader
		mp.LeaderEpoch = a.LeaderEpoch
		mp.Replicas = append([]int32(nil), a.Replicas...)
		mp.ISR = append([]int32(nil), a.ISR...)
		mp.OfflineReplicas = []int32{}
		for _, id := range a.Replicas {
			reg := b.image.Broker(id)
			offline := reg == nil || reg.Fenced || (id == b.cfg.NodeID && p.hosted && p.log == nil)
			if offline {
				mp.OfflineReplicas = append(mp.OfflineReplicas, id)
			}
		}
		switch {
		case a.Leader == metadata.NoLeader:
			mp.ErrorCode = kerrLeaderNotAvailable
		case a.Leader == b.cfg.NodeID && p.hosted && p.log == nil:
			mp.ErrorCode = kerrKafkaStorageError
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
