package broker

// Internal topics. __consumer_offsets holds the consumer groups' state
// (core/group) and __transaction_state the transaction coordinators'
// (core/txn): the coordinator of a group or transactional id is the
// leader of its partition (coordinatorPartition). Each is created by the
// first request that needs it (FindCoordinator for a group or a
// transactional id, InitProducerId with a transactional id), shows in
// Metadata as internal, and clients can neither produce to it nor delete
// it.

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// offsetsTopic is the internal topic of the group coordinators.
const offsetsTopic = "__consumer_offsets"

// txnStateTopic is the internal topic of the transaction coordinators.
const txnStateTopic = "__transaction_state"

// isInternalTopic reports whether name is one of Kafka's internal topics.
func isInternalTopic(name string) bool { return name == offsetsTopic || name == txnStateTopic }

// offsetsTopicConfigs are the overrides __consumer_offsets is created
// with, Kafka's: compacted (the latest record per key, which is what a
// coordinator's replay keeps anyway), never deleted by age or size, in
// 100 MiB segments.
// __transaction_state gets the same (Kafka's transaction.state.log.*
// settings: compacted, 100 MiB segments).
func offsetsTopicConfigs() map[string]string {
	return map[string]string{
		"cleanup.policy": "compact",
		"segment.bytes":  "104857600",
	}
}

// internalTopicConfigs are the overrides internal topic name is created
// with at replication factor replication: offsetsTopicConfigs, and for
// __transaction_state Kafka's min.insync.replicas of
// transaction.state.log.min.isr (minISR), capped at the replication
// factor so that a smaller cluster's coordinator can still write.
func internalTopicConfigs(name string, replication, minISR int16) map[string]string {
	c := offsetsTopicConfigs()
	if name == txnStateTopic {
		c["min.insync.replicas"] = strconv.Itoa(int(min(minISR, replication)))
	}
	return c
}

// coordinatorPartition is the partition of a topic with n partitions that
// holds key's coordinator state: Kafka's Utils.abs(key.hashCode()) % n, so
// that a group maps to the same partition as on Kafka.
func coordinatorPartition(key string, n int32) int32 {
	return javaAbs(javaStringHash(key)) % n
}

// javaStringHash is Java's String.hashCode: s[0]*31^(n-1) + ... over the
// string's UTF-16 code units, in int32 arithmetic.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			// A surrogate pair in UTF-16.
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// javaAbs is Kafka's Utils.abs: the absolute value, with MinInt32 mapped
// to 0 (not to itself, as Math.abs would).
func javaAbs(n int32) int32 {
	switch {
	case n == -1<<31:
		return 0
	case n < 0:
		return -n
	}
	return n
}

// ensureOffsetsTopic starts the creation of __consumer_offsets when it
// does not exist yet and none is on its way (ensureInternalTopic).
func (b *Broker) ensureOffsetsTopic(nowMs int64) {
	b.ensureInternalTopic(nowMs, offsetsTopic, "offsets topic", b.cfg.OffsetsTopicPartitions, b.cfg.OffsetsTopicReplicationFactor)
}

// ensureTxnStateTopic starts the creation of __transaction_state when it
// does not exist yet and none is on its way (ensureInternalTopic).
func (b *Broker) ensureTxnStateTopic(nowMs int64) {
	b.ensureInternalTopic(nowMs, txnStateTopic, "transaction state topic", b.cfg.TransactionStateLogNumPartitions, b.cfg.TransactionStateLogReplicationFactor)
}

// ensureInternalTopic starts the creation of internal topic name (what
// the log lines call it) with
// partitions partitions and a replication factor of at most replication
// (capped at the live brokers) when it does not exist yet and none is on
// its way: proposed here on a single node or the active controller,
// forwarded to the controller otherwise. Callers answer
// COORDINATOR_NOT_AVAILABLE meanwhile; clients retry.
func (b *Broker) ensureInternalTopic(nowMs int64, name, what string, partitions int32, replication int16) {
	if b.topics[name] != nil || b.internalCreating[name] {
		return
	}
	replication = max(1, min(replication, int16(len(b.image.UnfencedBrokerIDs()))))
	if b.internalCreating == nil {
		b.internalCreating = map[string]bool{}
	}
	if b.clustered() && !b.ctrl.Active() {
		if b.controllerID < 0 {
			return
		}
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version = 4
		req.TimeoutMillis = int32(b.cfg.ProposalTimeoutMs)
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, replication
		configs := internalTopicConfigs(name, replication, b.cfg.TransactionStateLogMinISR)
		for _, k := range sortedKeys(configs) {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(configs[k])
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
		b.internalCreating[name] = true
		b.sendPeer(nowMs, b.controllerID, req, func(int64, kmsg.Response, error) { delete(b.internalCreating, name) })
		return
	}
	code, msg := b.createTopic(name, partitions, replication, nil, internalTopicConfigs(name, replication, b.cfg.TransactionStateLogMinISR))
	if code != codeStaged {
		b.env.Logger.Warn("cannot create the "+what, "topic", name, "code", code, "err", msg)
		return
	}
	records := b.staged
	b.staged = nil
	b.internalCreating[name] = true
	b.propose(nowMs, records, func(_ int64, results []metadata.Result, code int16) {
		delete(b.internalCreating, name)
		if code == kerrNone && len(results) == 1 && results[0].Err == nil {
			b.env.Logger.Info("created the "+what, "topic", name, "partitions", partitions, "replication_factor", replication)
		}
	})
}
