package broker

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/controller"
	"github.com/chronik-streaming/chronik/core/metadata"
)

// maxTopicNameLength is Kafka's limit (249, so that "name-partition"
// directory names stay within file system limits).
const maxTopicNameLength = 249

// validTopicName applies Kafka's topic name rules.
func validTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("topic name is longer than %d characters", maxTopicNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("topic name %q contains characters other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// newTopicID draws a random, non-zero topic id (a version 4 UUID).
func (b *Broker) newTopicID() metadata.TopicID {
	for {
		var id metadata.TopicID
		hi, lo := b.env.Random.Uint64(), b.env.Random.Uint64()
		for i := 0; i < 8; i++ {
			id[i] = byte(hi >> (56 - 8*i))
			id[8+i] = byte(lo >> (56 - 8*i))
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if b.image.TopicByID(id) == nil {
			return id
		}
	}
}

// checkNewTopic validates a topic creation without doing it.
func (b *Broker) checkNewTopic(name string, partitions int32, configs map[string]string) (int16, string) {
	if err := validTopicName(name); err != nil {
		return kerrInvalidTopicException, err.Error()
	}
	if b.topics[name] != nil {
		return kerrTopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", name)
	}
	if partitions <= 0 {
		return kerrInvalidPartitions, "Number of partitions must be larger than 0."
	}
	if partitions > b.cfg.MaxPartitionsPerTopic {
		return kerrInvalidPartitions, fmt.Sprintf("Number of partitions %d exceeds the limit of %d.", partitions, b.cfg.MaxPartitionsPerTopic)
	}
	if b.image.Len() >= b.cfg.MaxTopics {
		return kerrPolicyViolation, fmt.Sprintf("The broker already holds the maximum of %d topics.", b.cfg.MaxTopics)
	}
	if err := validateTopicConfigs(configs); err != nil {
		return kerrInvalidConfig, err.Error()
	}
	return kerrNone, ""
}

// codeStaged marks a response entry whose change was staged as a metadata
// record (stage): its final error code is set when the record applies.
const codeStaged int16 = -32768

// stage queues a metadata record for the request being handled and
// returns codeStaged, or NOT_CONTROLLER on a broker of a cluster that is
// not the controller (clients then refresh metadata and retry on the
// controller, as with Kafka before request forwarding).
func (b *Broker) stage(rec metadata.Record) (int16, string) {
	if b.clustered() && !b.ctrl.Active() {
		return kerrNotController, "This is not the correct controller for this cluster."
	}
	b.staged = append(b.staged, rec)
	return codeStaged, ""
}

// stagedSlot points at the error fields of a response entry.
type stagedSlot struct {
	code *int16
	msg  **string
}

// finishStaged proposes the records staged while handling req as one
// metadata entry and answers req once it applied: each slot (the entries
// marked codeStaged, in staging order) gets its record's outcome. after,
// if set, completes the response first (ids of created topics and the
// like). Without staged records the response goes out at once.
func (b *Broker) finishStaged(nowMs int64, req *Request, resp kmsg.Response, slots []stagedSlot, after func()) {
	records := b.staged
	b.staged = nil
	if len(records) != len(slots) {
		panic(fmt.Sprintf("broker invariant: %d staged records for %d response entries", len(records), len(slots)))
	}
	if len(records) == 0 {
		if after != nil {
			after()
		}
		b.reply(req, resp)
		return
	}
	b.propose(nowMs, records, func(nowMs int64, results []metadata.Result, code int16) {
		for i, slot := range slots {
			c, msg := code, ""
			if c == kerrNone && results[i].Err != nil {
				c, msg = controller.ErrorCode(results[i].Err), results[i].Err.Error()
			}
			*slot.code = c
			*slot.msg = errorMessage(c, msg)
		}
		if after != nil {
			after()
		}
		b.reply(req, resp)
	})
}

// createTopic validates a topic creation and stages it. The replicas are
// placed when the record applies, over the brokers unfenced at that
// point; a manual assignment is checked there too.
func (b *Broker) createTopic(name string, partitions int32, replication int16, assignment [][]int32, configs map[string]string) (int16, string) {
	if code, msg := b.checkNewTopic(name, partitions, configs); code != kerrNone {
		return code, msg
	}
	if live := int16(len(b.image.UnfencedBrokerIDs())); len(assignment) == 0 && replication > live {
		return kerrInvalidReplicationFactor, fmt.Sprintf("Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.", replication, replication, live)
	}
	return b.stage(metadata.Record{CreateTopic: &metadata.CreateTopic{
		Name: name, ID: b.newTopicID(), Partitions: partitions, ReplicationFactor: replication,
		Assignment: assignment, Configs: configs,
	}})
}

// deleteTopic stages the removal of a topic. Once it applies, every
// replica deletes its files and answers waiting produces and fetches with
// UNKNOWN_TOPIC_OR_PARTITION.
func (b *Broker) deleteTopic(name string) (int16, string) {
	ts := b.topics[name]
	if ts == nil {
		return kerrUnknownTopicOrPartition, "This server does not host this topic-partition."
	}
	if isInternalTopic(name) {
		// The groups' state lives there; Kafka's tools refuse it too.
		return kerrInvalidRequest, "Topic " + name + " is an internal topic and cannot be deleted."
	}
	return b.stage(metadata.Record{DeleteTopic: &metadata.DeleteTopic{Name: name, ID: ts.meta.ID}})
}

// setTopicConfigs stages a topic's new override set (already validated);
// open logs take the new settings when it applies.
func (b *Broker) setTopicConfigs(ts *topicState, overrides map[string]string) (int16, string) {
	return b.stage(metadata.Record{SetTopicConfigs: &metadata.SetTopicConfigs{Name: ts.meta.Name, ID: ts.meta.ID, Configs: overrides}})
}

// applyLogConfig hands the topic's current log settings to an open
// partition log; they take effect from its next append or retention pass.
func (b *Broker) applyLogConfig(p *partition) {
	if p.log == nil {
		return
	}
	b.recheck(p)
	if err := p.log.SetConfig(p.topic.logConfig); err != nil {
		b.env.Logger.Warn("apply topic config", "partition", p.dir, "err", err)
	}
}

// addPartitions stages growing a topic to count partitions; assignment,
// if set, names the replicas of each new partition.
func (b *Broker) addPartitions(ts *topicState, count int32, assignment [][]int32) (int16, string) {
	return b.stage(metadata.Record{CreatePartitions: &metadata.CreatePartitions{Name: ts.meta.Name, ID: ts.meta.ID, Count: count, Assignment: assignment}})
}
