package broker

// CreateTopics, versions 0-7.
//
// v1 adds ValidateOnly and error messages; v5 (flexible) returns the
// partition count, replication factor and configs of the created topic;
// v7 returns the topic id. NumPartitions -1 means num.partitions and
// ReplicationFactor -1 the broker default (v4+). A single node accepts a
// replication factor of 1 only, and no manual replica assignment other
// than onto itself.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(19, 0, 7, handleCreateTopics) }

func handleCreateTopics(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.CreateTopicsRequest)
	resp := kmsg.NewPtrCreateTopicsResponse()
	dup := duplicated(r.Topics, func(rt *kmsg.CreateTopicsRequestTopic) string { return rt.Topic })
	for i, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions = -1
		st.ReplicationFactor = -1
		code, msg := b.createOneTopic(nowMs, r, &rt, &st, dup[i])
		st.ErrorCode, st.ErrorMessage = code, errorMessage(code, msg)
		resp.Topics = append(resp.Topics, st)
	}
	var slots []stagedSlot
	for i := range resp.Topics {
		if st := &resp.Topics[i]; st.ErrorCode == codeStaged {
			slots = append(slots, stagedSlot{&st.ErrorCode, &st.ErrorMessage})
		}
	}
	b.finishStaged(nowMs, req, resp, slots, func() {
		for i := range resp.Topics {
			st := &resp.Topics[i]
			if st.ErrorCode != kerrNone || r.ValidateOnly {
				if st.ErrorCode != kerrNone {
					st.NumPartitions, st.ReplicationFactor, st.Configs = -1, -1, nil
				}
				continue
			}
			t := b.image.Topic(st.Topic)
			if t == nil {
				continue // deleted again in the meantime
			}
			st.TopicID = t.ID
			st.NumPartitions = t.Partitions
			st.ReplicationFactor = int16(len(t.Assignments[0].Replicas))
			st.Configs = b.describeCreatedConfigs(t.Configs)
			b.env.Logger.Info("created topic", "topic", t.Name, "partitions", t.Partitions, "replication_factor", st.ReplicationFactor)
		}
	})
	return nil
}

func (b *Broker) createOneTopic(nowMs int64, r *kmsg.CreateTopicsRequest, rt *kmsg.CreateTopicsRequestTopic, st *kmsg.CreateTopicsResponseTopic, duplicate bool) (int16, string) {
	if duplicate {
		return kerrInvalidRequest, fmt.Sprintf("Create topics request from client contains multiple entries for topic %s", rt.Topic)
	}
	partitions := rt.NumPartitions
	replication := rt.ReplicationFactor
	var assignment [][]int32
	if len(rt.ReplicaAssignment) > 0 {
		if partitions != -1 || replication != -1 {
			return kerrInvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."
		}
		partitions = int32(len(rt.ReplicaAssignment))
		replication = int16(len(rt.ReplicaAssignment[0].Replicas))
		for i, a := range rt.ReplicaAssignment {
			if a.Partition != int32(i) {
				return kerrInvalidReplicaAssignment, "Partitions should be 0-based consecutive integers."
			}
			if code, msg := b.checkManualAssignment(a.Replicas, int(replication)); code != kerrNone {
				return code, msg
			}
			assignment = append(assignment, a.Replicas)
		}
	}
	if partitions == -1 {
		partitions = b.cfg.NumPartitions
	}
	if replication == -1 {
		replication = b.cfg.DefaultReplicationFactor
	}
	if replication <= 0 {
		return kerrInvalidReplicationFactor, "Replication factor must be larger than 0."
	}
	configs := map[string]string{}
	for _, c := range rt.Configs {
		if c.Value == nil {
			return kerrInvalidConfig, fmt.Sprintf("Null value not supported for topic configs: %s", c.Name)
		}
		configs[c.Name] = *c.Value
	}
	st.NumPartitions = partitions
	st.ReplicationFactor = replication
	if r.ValidateOnly {
		code, msg := b.checkNewTopic(rt.Topic, partitions, configs)
		if live := int16(len(b.image.UnfencedBrokerIDs())); code == kerrNone && assignment == nil && replication > live {
			code, msg = kerrInvalidReplicationFactor, fmt.Sprintf("Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.", replication, replication, live)
		}
		if code == kerrNone {
			st.Configs = b.describeCreatedConfigs(configs)
		}
		return code, msg
	}
	if len(configs) == 0 {
		configs = nil
	}
	return b.createTopic(rt.Topic, partitions, replication, assignment, configs)
}

// describeCreatedConfigs lists every topic config with its effective value,
// as CreateTopics v5+ returns them.
func (b *Broker) describeCreatedConfigs(overrides map[string]string) []kmsg.CreateTopicsResponseTopicConfig {
	var out []kmsg.CreateTopicsResponseTopicConfig
	for _, def := range topicConfigDefs {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = def.name
		v, ok := overrides[def.name]
		c.Source = configSourceDefault
		if ok {
			c.Source = configSourceTopic
		} else {
			v = def.defaultValue(&b.cfg)
		}
		c.Value = &v
		out = append(out, c)
	}
	return out
}

// Kafka's DescribeConfigs config sources.
const (
	configSourceTopic         int8 = 1 // DYNAMIC_TOPIC_CONFIG
	configSourceDynamicBroker int8 = 2 // DYNAMIC_BROKER_CONFIG
	configSourceStaticBroker  int8 = 4 // STATIC_BROKER_CONFIG
	configSourceDefault       int8 = 5 // DEFAULT_CONFIG
)
