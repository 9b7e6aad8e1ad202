package broker

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/chronik-streaming/chronik/core/group"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/txn"
)

// Config is the broker-wide configuration. Field names follow Kafka's
// broker configs; units are last in the name.
type Config struct {
	NodeID    int32  // node.id
	ClusterID string // cluster id reported in Metadata and DescribeCluster
	// AdvertisedHost and AdvertisedPort are what Metadata tells clients to
	// connect to.
	AdvertisedHost string
	AdvertisedPort int32
	// ControlHost and ControlPort are where other brokers reach this
	// broker's control listener (listener.go); a cluster broker registers
	// them with the controller, and peers send it every request there.
	// Port 0: no control listener (a single node); peers would then use
	// the advertised address, whose listener refuses the control plane.
	ControlHost string
	ControlPort int32

	AutoCreateTopics         bool  // auto.create.topics.enable
	NumPartitions            int32 // num.partitions for auto-created topics and CreateTopics with -1
	DefaultReplicationFactor int16 // default.replication.factor

	// OffsetsTopicPartitions and OffsetsTopicReplicationFactor shape
	// __consumer_offsets when the first FindCoordinator for a group
	// creates it (offsets.topic.num.partitions,
	// offsets.topic.replication.factor; the replication factor is capped
	// at the live brokers). A group's coordinator is the leader of its
	// partition, so the partition count must never change once created.
	OffsetsTopicPartitions        int32
	OffsetsTopicReplicationFactor int16
	// GroupCoordinator holds the consumer groups' timeouts and limits
	// (group.min.session.timeout.ms and the like).
	GroupCoordinator group.Config
	// TransactionStateLogNumPartitions and
	// TransactionStateLogReplicationFactor shape __transaction_state when
	// the first FindCoordinator or InitProducerId for a transactional id
	// creates it (transaction.state.log.num.partitions,
	// transaction.state.log.replication.factor, capped at the live
	// brokers). Like the offsets topic's, the count must never change.
	TransactionStateLogNumPartitions     int32
	TransactionStateLogReplicationFactor int16
	// TransactionStateLogMinISR is transaction.state.log.min.isr: the
	// min.insync.replicas __transaction_state is created with (capped at
	// its replication factor).
	TransactionStateLogMinISR int16
	// TxnCoordinator holds the transaction coordinators' timeouts and
	// limits (transaction.max.timeout.ms and the like).
	TxnCoordinator txn.Config
	// MaxTxnMarkersInFlight bounds the transaction markers this broker's
	// coordinators have in flight at once (txn_markers.go); more wait for
	// a later pass.
	MaxTxnMarkersInFlight int
	// TxnMarkerRetryBackoffMs is the pause before a marker that failed
	// (its partition's leader moved or is unknown) is sent again.
	TxnMarkerRetryBackoffMs int64

	// SyncWrites makes acks=1/all produces wait for the fsync of their
	// batch (group-committed). Off, Chronik relies on the page cache like
	// Kafka's default and syncs in the background every BackgroundSyncMs.
	SyncWrites       bool
	BackgroundSyncMs int64

	// CleanerBackoffMs is log.cleaner.backoff.ms: how long the cleaner
	// waits before looking for a compacted partition to clean again.
	CleanerBackoffMs         int64
	CheckpointIntervalMs     int64 // how often HW/recovery point/log start are checkpointed
	RetentionCheckIntervalMs int64 // log.retention.check.interval.ms

	// Topic defaults (log.* broker configs), used where a topic has no override.
	LogDefaults partlog.Config

	MaxPendingProduces    int   // produce requests waiting for a sync, broker-wide
	MaxWaitingFetches     int   // fetch requests long-polling, broker-wide (and DeleteRecords partitions waiting for followers)
	MaxFetchWaitMs        int64 // upper bound on a fetch's MaxWaitMillis
	MaxPartitionsPerTopic int32 // CreateTopics/CreatePartitions upper bound
	MaxTopics             int   // upper bound on the number of topics

	// FetchMaxBytes (fetch.max.bytes) caps every fetch response like the
	// request's MaxBytes does, whatever the client asks.
	FetchMaxBytes int32

	// Cluster settings (used when the environment has a metadata quorum).
	MinInsyncReplicas int32 // min.insync.replicas default for topics
	// HeartbeatIntervalMs is how often a broker heartbeats the controller
	// (broker.heartbeat.interval.ms); SessionTimeoutMs is how long the
	// controller waits without one before fencing the broker
	// (broker.session.timeout.ms). Kafka's defaults are 2000 and 9000;
	// Chronik's are shorter so that a killed leader is replaced within
	// seconds on a LAN.
	HeartbeatIntervalMs int64
	SessionTimeoutMs    int64
	// ReplicaLagTimeMaxMs is how long a follower may stay behind the
	// leader's log end before the leader drops it from the ISR.
	ReplicaLagTimeMaxMs int64
	// ReplicaFetchWaitMaxMs, ReplicaFetchMaxBytes and
	// ReplicaFetchResponseMaxBytes shape followers' fetches.
	ReplicaFetchWaitMaxMs        int32
	ReplicaFetchMaxBytes         int32
	ReplicaFetchResponseMaxBytes int32
	// ReplicaFetchBackoffMs is the pause after a failed replica fetch.
	ReplicaFetchBackoffMs int64
	// AlterPartitionRetryBackoffMaxMs bounds the pause between two asks
	// of a broker to take its unusable copy of a partition out of the ISR
	// (resignOffline): the first pause is ReplicaFetchBackoffMs and it
	// doubles while the image still shows the copy in the ISR, like a
	// Kafka client's retry.backoff.max.ms (KIP-580, 1000 by default).
	AlterPartitionRetryBackoffMaxMs int64
	// ReplicaFetchPartitionsMax bounds the partitions of one replica
	// fetch. A follower keeps one fetch in flight per leader, carrying
	// every partition it follows from it (runFetchers); beyond this many,
	// the rest go in the next fetches (the order rotates).
	ReplicaFetchPartitionsMax int
	// ProposalTimeoutMs bounds how long a request waits for its metadata
	// proposal to be applied before it is answered REQUEST_TIMED_OUT (the
	// proposal may still commit later).
	ProposalTimeoutMs int64
	// MaxPendingProposals and MaxPeerCalls bound the proposals and the
	// requests to other brokers in flight. On a single node
	// MaxPendingProposals bounds the metadata changes queued behind the
	// image write in flight (applyLocal).
	MaxPendingProposals int
	MaxPeerCalls        int
	// MaxProduceTimeoutMs caps a produce request's timeout.
	MaxProduceTimeoutMs int64
	// MaxParkedRequests bounds the client requests a cluster broker holds
	// while its metadata catches up after a start (catchup.go), and
	// MetadataCatchUpWaitMs how long one waits before its connection is
	// closed so that the client retries elsewhere.
	MaxParkedRequests     int
	MetadataCatchUpWaitMs int64
	// StorageRetryBackoffMs is the first pause before a partition taken
	// offline by a full disk (disk.ErrNoSpace) is reopened; it doubles
	// after every failed attempt up to StorageRetryBackoffMaxMs, and is
	// reset by the partition's next successful fsync.
	StorageRetryBackoffMs    int64
	StorageRetryBackoffMaxMs int64
	// SpaceReserveBytes is the size of the file a single node keeps in
	// its data directory and removes when a write that frees space (the
	// metadata image of a DeleteTopics, a checkpoint before DeleteRecords
	// or retention delete files) finds the disk full; 0 keeps none.
	SpaceReserveBytes int64
	// ScrubBytesPerPass is how many bytes of synced partition data the
	// background scrubber reads and CRC-checks every ScrubIntervalMs, so
	// that a bit flipped in data no client reads is found (scrub.go);
	// 0 disables scrubbing.
	ScrubBytesPerPass int64
	ScrubIntervalMs   int64
}

// DefaultConfig returns Kafka-like defaults for a single node.
func DefaultConfig() Config {
	return Config{
		NodeID:                               1,
		ClusterID:                            "chronik-cluster",
		AdvertisedHost:                       "127.0.0.1",
		AdvertisedPort:                       9092,
		AutoCreateTopics:                     true,
		NumPartitions:                        1,
		DefaultReplicationFactor:             1,
		OffsetsTopicPartitions:               50,
		OffsetsTopicReplicationFactor:        3,
		GroupCoordinator:                     group.DefaultConfig(),
		TransactionStateLogNumPartitions:     50,
		TransactionStateLogReplicationFactor: 3,
		TransactionStateLogMinISR:            2,
		TxnCoordinator:                       txn.DefaultConfig(),
		MaxTxnMarkersInFlight:                10000,
		TxnMarkerRetryBackoffMs:              100,
		SyncWrites:                           true,
		BackgroundSyncMs:                     1000,
		CheckpointIntervalMs:                 5000,
		CleanerBackoffMs:                     15000,
		RetentionCheckIntervalMs:             300000,
		LogDefaults:                          partlog.DefaultConfig(),
		MaxPendingProduces:                   100000,
		MaxWaitingFetches:                    100000,
		MaxFetchWaitMs:                       60000,
		FetchMaxBytes:                        57671680, // Kafka's default, 55 MiB
		MaxPartitionsPerTopic:                10000,
		MaxTopics:                            10000,

		MinInsyncReplicas:               1,
		HeartbeatIntervalMs:             250,
		SessionTimeoutMs:                1500,
		ReplicaLagTimeMaxMs:             30000,
		ReplicaFetchWaitMaxMs:           500,
		ReplicaFetchMaxBytes:            1 << 20,
		ReplicaFetchResponseMaxBytes:    10 << 20,
		ReplicaFetchBackoffMs:           100,
		AlterPartitionRetryBackoffMaxMs: 1000,
		ReplicaFetchPartitionsMax:       10000,
		ProposalTimeoutMs:               10000,
		MaxPendingProposals:             10000,
		MaxPeerCalls:                    10000,
		MaxProduceTimeoutMs:             300000,
		MaxParkedRequests:               10000,
		MetadataCatchUpWaitMs:           5000,
		StorageRetryBackoffMs:           100,
		StorageRetryBackoffMaxMs:        2000,
		SpaceReserveBytes:               1 << 20,
		ScrubBytesPerPass:               1 << 20,
		ScrubIntervalMs:                 1000,
	}
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.NodeID >= 0, "node id %d must be >= 0", c.NodeID)
	check(c.ControlPort >= 0 && c.ControlPort <= 65535, "control port %d must be within 0-65535", c.ControlPort)
	check(c.ControlPort == 0 || c.ControlHost != "", "control port %d set without a control host", c.ControlPort)
	check(c.NumPartitions >= 1, "num.partitions %d must be >= 1", c.NumPartitions)
	check(c.DefaultReplicationFactor >= 1, "default.replication.factor %d must be >= 1", c.DefaultReplicationFactor)
	check(c.CleanerBackoffMs >= 1, "log.cleaner.backoff.ms %d must be >= 1", c.CleanerBackoffMs)
	check(c.OffsetsTopicPartitions >= 1, "offsets.topic.num.partitions %d must be >= 1", c.OffsetsTopicPartitions)
	check(c.OffsetsTopicReplicationFactor >= 1, "offsets.topic.replication.factor %d must be >= 1", c.OffsetsTopicReplicationFactor)
	check(c.TransactionStateLogNumPartitions >= 1, "transaction.state.log.num.partitions %d must be >= 1", c.TransactionStateLogNumPartitions)
	check(c.TransactionStateLogReplicationFactor >= 1, "transaction.state.log.replication.factor %d must be >= 1", c.TransactionStateLogReplicationFactor)
	check(c.TransactionStateLogMinISR >= 1, "transaction.state.log.min.isr %d must be >= 1", c.TransactionStateLogMinISR)
	check(c.MaxTxnMarkersInFlight >= 1, "max transaction markers in flight %d must be >= 1", c.MaxTxnMarkersInFlight)
	check(c.TxnMarkerRetryBackoffMs >= 0, "transaction marker retry backoff %d must be >= 0", c.TxnMarkerRetryBackoffMs)
	if err := c.TxnCoordinator.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.GroupCoordinator.Validate(); err != nil {
		errs = append(errs, err)
	}
	check(c.BackgroundSyncMs > 0, "background sync interval %d must be > 0", c.BackgroundSyncMs)
	check(c.CheckpointIntervalMs > 0, "checkpoint interval %d must be > 0", c.CheckpointIntervalMs)
	check(c.RetentionCheckIntervalMs > 0, "retention check interval %d must be > 0", c.RetentionCheckIntervalMs)
	check(c.MaxPendingProduces > 0, "max pending produces must be > 0")
	check(c.MaxWaitingFetches > 0, "max waiting fetches must be > 0")
	check(c.MaxFetchWaitMs > 0, "max fetch wait must be > 0")
	check(c.FetchMaxBytes >= 1024, "fetch.max.bytes %d must be >= 1024", c.FetchMaxBytes)
	check(c.MaxPartitionsPerTopic > 0, "max partitions per topic must be > 0")
	check(c.MaxTopics > 0, "max topics must be > 0")
	check(c.MinInsyncReplicas >= 1, "min.insync.replicas %d must be >= 1", c.MinInsyncReplicas)
	check(c.HeartbeatIntervalMs > 0, "heartbeat interval %d must be > 0", c.HeartbeatIntervalMs)
	check(c.SessionTimeoutMs > c.HeartbeatIntervalMs, "session timeout %d must exceed the heartbeat interval %d", c.SessionTimeoutMs, c.HeartbeatIntervalMs)
	check(c.ReplicaLagTimeMaxMs > 0, "replica.lag.time.max.ms %d must be > 0", c.ReplicaLagTimeMaxMs)
	check(c.ReplicaFetchWaitMaxMs >= 0, "replica fetch wait %d must be >= 0", c.ReplicaFetchWaitMaxMs)
	check(c.ReplicaFetchMaxBytes > 0 && c.ReplicaFetchResponseMaxBytes > 0, "replica fetch sizes must be > 0")
	check(c.ReplicaFetchBackoffMs > 0, "replica fetch backoff must be > 0")
	check(c.AlterPartitionRetryBackoffMaxMs >= c.ReplicaFetchBackoffMs,
		"alter partition retry backoff max %d must be at least the replica fetch backoff %d", c.AlterPartitionRetryBackoffMaxMs, c.ReplicaFetchBackoffMs)
	check(c.ReplicaFetchPartitionsMax > 0, "replica fetch partitions max %d must be > 0", c.ReplicaFetchPartitionsMax)
	check(c.ProposalTimeoutMs > 0, "proposal timeout must be > 0")
	check(c.MaxPendingProposals > 0 && c.MaxPeerCalls > 0, "proposal and peer call limits must be > 0")
	check(c.MaxParkedRequests > 0 && c.MetadataCatchUpWaitMs > 0, "parked request limit and catch-up wait must be > 0")
	check(c.MaxProduceTimeoutMs > 0, "max produce timeout must be > 0")
	check(c.StorageRetryBackoffMs > 0 && c.StorageRetryBackoffMaxMs >= c.StorageRetryBackoffMs,
		"storage retry backoff %d must be > 0 and at most its maximum %d", c.StorageRetryBackoffMs, c.StorageRetryBackoffMaxMs)
	check(c.SpaceReserveBytes >= 0 && c.SpaceReserveBytes <= 1<<30, "space reserve %d must be in [0, 1 GiB]", c.SpaceReserveBytes)
	check(c.ScrubBytesPerPass >= 0 && c.ScrubBytesPerPass <= 64<<20, "scrub bytes per pass %d must be in [0, 64 MiB]", c.ScrubBytesPerPass)
	check(c.ScrubBytesPerPass == 0 || c.ScrubIntervalMs > 0, "scrub interval %d must be > 0 while scrubbing is on", c.ScrubIntervalMs)
	if err := c.LogDefaults.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("log defaults: %w", err))
	}
	return errors.Join(errs...)
}

// configType is the Kafka config type reported by DescribeConfigs v3+.
type configType int8

// Kafka's DescribeConfigs config types.
const (
	configTypeBoolean  configType = 1
	configTypeString   configType = 2
	configTypeInt      configType = 3
	configTypeShort    configType = 4
	configTypeLong     configType = 5
	configTypeDouble   configType = 6
	configTypeList     configType = 7
	configTypeClass    configType = 8
	configTypePassword configType = 9
)

// topicConfigDef describes one topic config Chronik knows.
type topicConfigDef struct {
	name string
	typ  configType
	// brokerName is the broker config that supplies the default (Kafka's
	// DEFAULT_CONFIG source), empty when the default is static.
	brokerName string
	// defaultValue returns the effective default given the broker config.
	defaultValue func(c *Config) string
	// validate checks a proposed value.
	validate func(v string) error
	// apply stores a valid value into a partlog.Config, nil when the config
	// is accepted and reported but has no effect on the log yet.
	apply func(lc *partlog.Config, v string)
}

func parseLongAtLeast(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("value %q is not a long", v)
		}
		if n < min {
			return fmt.Errorf("value %d must be at least %d", n, min)
		}
		return nil
	}
}

func mustLong(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("value %q must be one of %v", v, allowed)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// logConfigDef is a topic config that overrides a whole-number field of
// partlog.Config: its default is the broker's log default of that field,
// a valid value is a long of at least min, and it applies to the field.
func logConfigDef(name string, typ configType, brokerName string, min int64, field func(*partlog.Config) *int64) topicConfigDef {
	return topicConfigDef{name: name, typ: typ, brokerName: brokerName,
		defaultValue: func(c *Config) string { return itoa(*field(&c.LogDefaults)) },
		validate:     parseLongAtLeast(min),
		apply:        func(lc *partlog.Config, v string) { *field(lc) = mustLong(v) }}
}

// topicConfigDefs lists the topic configs Chronik accepts, sorted by name.
var topicConfigDefs = func() []topicConfigDef {
	defs := []topicConfigDef{
		{name: "cleanup.policy", typ: configTypeList, brokerName: "log.cleanup.policy",
			defaultValue: func(c *Config) string { return c.LogDefaults.CleanupPolicy.String() },
			validate: func(v string) error {
				_, err := partlog.ParseCleanupPolicy(v)
				return err
			},
			apply: func(lc *partlog.Config, v string) { lc.CleanupPolicy, _ = partlog.ParseCleanupPolicy(v) }},
		logConfigDef("delete.retention.ms", configTypeLong, "log.cleaner.delete.retention.ms", 0,
			func(lc *partlog.Config) *int64 { return &lc.DeleteRetentionMs }),
		logConfigDef("max.compaction.lag.ms", configTypeLong, "log.cleaner.max.compaction.lag.ms", 1,
			func(lc *partlog.Config) *int64 { return &lc.MaxCompactionLagMs }),
		logConfigDef("min.compaction.lag.ms", configTypeLong, "log.cleaner.min.compaction.lag.ms", 0,
			func(lc *partlog.Config) *int64 { return &lc.MinCompactionLagMs }),
		{name: "min.cleanable.dirty.ratio", typ: configTypeDouble, brokerName: "log.cleaner.min.cleanable.ratio",
			defaultValue: func(c *Config) string {
				return strconv.FormatFloat(c.LogDefaults.MinCleanableDirtyRatio, 'g', -1, 64)
			},
			validate: func(v string) error {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || !(f >= 0 && f <= 1) {
					return fmt.Errorf("value %q must be a number within 0-1", v)
				}
				return nil
			},
			apply: func(lc *partlog.Config, v string) { lc.MinCleanableDirtyRatio, _ = strconv.ParseFloat(v, 64) }},
		{name: "compression.type", typ: configTypeString, brokerName: "compression.type",
			defaultValue: func(*Config) string { return "producer" },
			validate:     oneOf("producer")},
		logConfigDef("index.interval.bytes", configTypeInt, "log.index.interval.bytes", 0,
			func(lc *partlog.Config) *int64 { return &lc.IndexIntervalBytes }),
		logConfigDef("max.message.bytes", configTypeInt, "message.max.bytes", 0,
			func(lc *partlog.Config) *int64 { return &lc.MaxMessageBytes }),
		{name: "message.timestamp.type", typ: configTypeString, brokerName: "log.message.timestamp.type",
			defaultValue: func(*Config) string { return "CreateTime" }, validate: oneOf("CreateTime")},
		{name: "min.insync.replicas", typ: configTypeInt, brokerName: "min.insync.replicas",
			defaultValue: func(c *Config) string { return itoa(int64(c.MinInsyncReplicas)) }, validate: parseLongAtLeast(1)},
		logConfigDef("retention.bytes", configTypeLong, "log.retention.bytes", -1,
			func(lc *partlog.Config) *int64 { return &lc.RetentionBytes }),
		logConfigDef("retention.ms", configTypeLong, "log.retention.ms", -1,
			func(lc *partlog.Config) *int64 { return &lc.RetentionMs }),
		logConfigDef("segment.bytes", configTypeInt, "log.segment.bytes", 14,
			func(lc *partlog.Config) *int64 { return &lc.SegmentBytes }),
		logConfigDef("segment.ms", configTypeLong, "log.roll.ms", 1,
			func(lc *partlog.Config) *int64 { return &lc.SegmentMs }),
		{name: "unclean.leader.election.enable", typ: configTypeBoolean, brokerName: "unclean.leader.election.enable",
			defaultValue: func(*Config) string { return "false" }, validate: oneOf("true", "false")},
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].name < defs[j].name })
	return defs
}()

// lookupTopicConfig returns the definition of a topic config, or nil.
func lookupTopicConfig(name string) *topicConfigDef {
	return lookupByName(topicConfigDefs, name, func(d *topicConfigDef) string { return d.name })
}

// validateTopicConfigs checks a set of overrides; the error names the
// offending config so it can go straight into an INVALID_CONFIG message.
func validateTopicConfigs(overrides map[string]string) error {
	names := make([]string, 0, len(overrides))
	for name := range overrides {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		def := lookupTopicConfig(name)
		if def == nil {
			return fmt.Errorf("unknown topic config %q", name)
		}
		if err := def.validate(overrides[name]); err != nil {
			return fmt.Errorf("invalid value for %s: %w", name, err)
		}
	}
	return nil
}

// logConfigFor returns the partlog configuration for a topic: the broker
// defaults with the topic's overrides applied, in the defs' order.
// reconcile asks again only after a metadata entry that changed topic
// configs.
func (c *Config) logConfigFor(overrides map[string]string) partlog.Config {
	lc := c.LogDefaults
	if len(overrides) == 0 {
		return lc
	}
	for _, def := range topicConfigDefs {
		if v, ok := overrides[def.name]; ok && def.apply != nil {
			def.apply(&lc, v)
		}
	}
	return lc
}
