package broker

import (
	"errors"
	"fmt"

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

// createTopic creates a topic: partition directories first, then the image
// write that makes the topic exist. A crash between the two leaves only
// orphan directories, which the next start removes.
func (b *Broker) createTopic(name string, partitions int32, configs map[string]string, nowMs int64) (*topicState, int16, string) {
	if code, msg := b.checkNewTopic(name, partitions, configs); code != kerrNone {
		return nil, code, msg
	}
	for i := int32(0); i < partitions; i++ {
		// A directory of a deleted topic of the same name may survive a
		// crash; it must not leak into the new topic.
		if err := b.env.Disk.RemoveAll(partitionDir(name, i)); err != nil {
			return nil, kerrKafkaStorageError, fmt.Sprintf("clear partition directory: %v", err)
		}
	}
	t := &metadata.Topic{Name: name, ID: b.newTopicID(), Partitions: partitions}
	if len(configs) > 0 {
		t.Configs = make(map[string]string, len(configs))
		for k, v := range configs {
			t.Configs[k] = v
		}
	}
	b.image.PutTopic(t)
	if err := b.saveImage(); err != nil {
		b.image.RemoveTopic(name)
		b.env.Logger.Error("create topic: write image", "topic", name, "err", err)
		return nil, kerrKafkaStorageError, err.Error()
	}
	ts := b.openTopic(t, nowMs)
	return ts, kerrNone, ""
}

// deleteTopic removes a topic: the image write first (the topic is gone
// once it is durable), then the files. Waiting produces and fetches on the
// topic are answered with UNKNOWN_TOPIC_OR_PARTITION.
func (b *Broker) deleteTopic(name string, nowMs int64) (int16, string) {
	ts := b.topics[name]
	if ts == nil {
		return kerrUnknownTopicOrPartition, "This server does not host this topic-partition."
	}
	b.image.RemoveTopic(name)
	if err := b.saveImage(); err != nil {
		b.image.PutTopic(ts.meta)
		return kerrKafkaStorageError, err.Error()
	}
	delete(b.topics, name)
	for _, p := range ts.partitions {
		p.deleted = true
		b.failProduceWaiters(p, kerrUnknownTopicOrPartition)
		if p.log != nil {
			if err := p.log.Delete(); err != nil {
				b.env.Logger.Warn("delete partition files", "partition", p.dir, "err", err)
			}
			p.log = nil
		} else if err := b.env.Disk.RemoveAll(p.dir); err != nil {
			b.env.Logger.Warn("delete partition files", "partition", p.dir, "err", err)
		}
	}
	b.wakeFetches(nowMs)
	b.env.Logger.Info("deleted topic", "topic", name)
	return kerrNone, ""
}

// setTopicConfigs replaces the config overrides of a topic and persists the
// image; on a failed write the old overrides stay in place. overrides must
// be valid (validateTopicConfigs) and is kept by the image.
//
// Partitions opened from now on (CreatePartitions, restart) use the new
// settings and hands them to the open logs.
func (b *Broker) setTopicConfigs(ts *topicState, overrides map[string]string) error {
	if len(overrides) == 0 {
		overrides = nil
	}
	old := ts.meta.Configs
	ts.meta.Configs = overrides
	if err := b.saveImage(); err != nil {
		ts.meta.Configs = old
		return err
	}
	ts.logConfig = b.cfg.logConfigFor(overrides)
	for _, p := range ts.partitions {
		b.applyLogConfig(p)
	}
	return nil
}

// applyLogConfig hands the topic's current log settings to an open
// partition log; they take effect from its next append or retention pass.
func (b *Broker) applyLogConfig(p *partition) {
	if p.log == nil {
		return
	}
	if err := p.log.SetConfig(p.topic.logConfig); err != nil {
		b.env.Logger.Warn("apply topic config", "partition", p.dir, "err", err)
	}
}

// addPartitions grows a topic to count partitions (count above the current
// number). Leftover directories under the new names (a delete that could
// not remove its files) are cleared first, then the image write makes the
// partitions exist, then their logs are opened: a crash before the image
// write leaves at most empty directories, which the next start removes as
// orphans. A new partition whose log fails to open stays offline, as at
// startup.
func (b *Broker) addPartitions(ts *topicState, count int32, nowMs int64) (int16, string) {
	old := ts.meta.Partitions
	for i := old; i < count; i++ {
		if err := b.env.Disk.RemoveAll(partitionDir(ts.meta.Name, i)); err != nil {
			return kerrKafkaStorageError, fmt.Sprintf("clear partition directory: %v", err)
		}
	}
	ts.meta.Partitions = count
	if err := b.saveImage(); err != nil {
		ts.meta.Partitions = old
		b.env.Logger.Error("create partitions: write image", "topic", ts.meta.Name, "err", err)
		return kerrKafkaStorageError, err.Error()
	}
	for i := old; i < count; i++ {
		ts.partitions = append(ts.partitions, b.openPartition(ts, i, nowMs))
	}
	return kerrNone, ""
}
