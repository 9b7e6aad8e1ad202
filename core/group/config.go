package group

import "fmt"

// Config holds the group coordinator's timeouts and limits. Defaults follow
// Kafka's broker settings where Kafka has one; where Kafka is unbounded
// (group.max.size) Chronik sets a finite limit, because every map in core
// has one.
type Config struct {
	// MinSessionTimeoutMs is group.min.session.timeout.ms: a JoinGroup with
	// a shorter session timeout gets INVALID_SESSION_TIMEOUT.
	MinSessionTimeoutMs int32
	// MaxSessionTimeoutMs is group.max.session.timeout.ms.
	MaxSessionTimeoutMs int32
	// InitialRebalanceDelayMs is group.initial.rebalance.delay.ms: the first
	// rebalance of an empty group waits this long (extended by each new
	// member, capped by the rebalance timeout) so that members starting
	// together land in one generation.
	InitialRebalanceDelayMs int32
	// MaxGroupSize is group.max.size. A join beyond it gets
	// GROUP_MAX_SIZE_REACHED, counted as Kafka does (members; during a join
	// phase, members that have rejoined).
	MaxGroupSize int
	// MaxGroups bounds the groups one shard holds; a request that would
	// create one more gets COORDINATOR_NOT_AVAILABLE.
	MaxGroups int
	// MaxPendingJoins bounds the member ids handed out by MEMBER_ID_REQUIRED
	// and not yet used, across the shard.
	MaxPendingJoins int
	// MaxOffsetsPerGroup bounds the committed (and pending) offsets of one
	// group; a commit adding more gets COORDINATOR_NOT_AVAILABLE.
	MaxOffsetsPerGroup int
	// MaxPendingWrites bounds the batches handed to the runtime and not yet
	// committed; a request needing another write gets
	// COORDINATOR_NOT_AVAILABLE.
	MaxPendingWrites int
	// MaxTxnOffsets bounds the transactional offsets one shard holds
	// staged (TxnOffsetCommit, awaiting their transaction's marker) or
	// being written, across producers; a TxnOffsetCommit adding more
	// gets COORDINATOR_NOT_AVAILABLE for the partitions past it (they
	// free up as transactions end, so a retry can succeed).
	MaxTxnOffsets int
	// MaxMemberMetadataBytes bounds one member's protocol metadata in a
	// JoinGroup (all protocols together) and one member's assignment in a
	// SyncGroup; beyond it the request gets INVALID_REQUEST.
	MaxMemberMetadataBytes int
	// MaxGroupRecordBytes bounds one encoded GroupMetadata record (Kafka's
	// internal topic's max.message.bytes); an assignment whose record would
	// be larger fails its SyncGroup as Kafka does (UNKNOWN_SERVER_ERROR)
	// and the group rebalances.
	MaxGroupRecordBytes int
	// OffsetsRetentionMs is offsets.retention.minutes in milliseconds.
	OffsetsRetentionMs int64
	// OffsetsRetentionCheckIntervalMs is offsets.retention.check.interval.ms.
	OffsetsRetentionCheckIntervalMs int64
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes: a longer commit
	// metadata string gets OFFSET_METADATA_TOO_LARGE.
	OffsetMetadataMaxBytes int

	// ConsumerSessionTimeoutMs is group.consumer.session.timeout.ms: a
	// KIP-848 member not heard from for this long is removed.
	ConsumerSessionTimeoutMs int32
	// ConsumerHeartbeatIntervalMs is group.consumer.heartbeat.interval.ms,
	// sent to every KIP-848 member.
	ConsumerHeartbeatIntervalMs int32
	// ConsumerMaxSize is group.consumer.max.size (Kafka: unbounded; Chronik
	// keeps a finite limit). A join beyond it gets GROUP_MAX_SIZE_REACHED.
	ConsumerMaxSize int
	// ConsumerAssignors is group.consumer.assignors: the server-side
	// assignors a member may name; the first is the default.
	ConsumerAssignors []string
	// MaxSubscribedTopics bounds one KIP-848 member's subscribed topic
	// names; a heartbeat naming more gets INVALID_REQUEST.
	MaxSubscribedTopics int
	// MaxTopicRegexBytes bounds a KIP-848 member's SubscribedTopicRegex
	// (Kafka has no limit; a longer one gets INVALID_REGULAR_EXPRESSION).
	MaxTopicRegexBytes int
	// ConsumerRegexRefreshMs is how often a group's regex subscriptions
	// are matched against the topics again (Kafka's
	// group.consumer.regex.refresh.interval.ms, 10 s): a new topic that
	// matches joins the assignment within it. A member's new regex is
	// matched at once.
	ConsumerRegexRefreshMs int64
}

// DefaultConfig returns Kafka's defaults (and Chronik's finite limits where
// Kafka has none).
func DefaultConfig() Config {
	return Config{
		MinSessionTimeoutMs:             6000,
		MaxSessionTimeoutMs:             1800000,
		InitialRebalanceDelayMs:         3000,
		MaxGroupSize:                    10000,
		MaxGroups:                       100000,
		MaxPendingJoins:                 10000,
		MaxOffsetsPerGroup:              100000,
		MaxPendingWrites:                10000,
		MaxTxnOffsets:                   100000,
		MaxMemberMetadataBytes:          1 << 20,
		MaxGroupRecordBytes:             1048588,
		OffsetsRetentionMs:              7 * 24 * 60 * 60 * 1000,
		OffsetsRetentionCheckIntervalMs: 600000,
		OffsetMetadataMaxBytes:          4096,
		ConsumerSessionTimeoutMs:        45000,
		ConsumerHeartbeatIntervalMs:     5000,
		ConsumerMaxSize:                 10000,
		ConsumerAssignors:               []string{AssignorUniform, AssignorRange},
		MaxSubscribedTopics:             10000,
		MaxTopicRegexBytes:              16384,
		ConsumerRegexRefreshMs:          10000,
	}
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.MinSessionTimeoutMs <= 0:
		return fmt.Errorf("group: MinSessionTimeoutMs (group.min.session.timeout.ms) %d must be positive", c.MinSessionTimeoutMs)
	case c.MaxSessionTimeoutMs < c.MinSessionTimeoutMs:
		return fmt.Errorf("group: MaxSessionTimeoutMs (group.max.session.timeout.ms) %d below MinSessionTimeoutMs (group.min.session.timeout.ms) %d", c.MaxSessionTimeoutMs, c.MinSessionTimeoutMs)
	case c.InitialRebalanceDelayMs < 0:
		return fmt.Errorf("group: InitialRebalanceDelayMs (group.initial.rebalance.delay.ms) %d must not be negative", c.InitialRebalanceDelayMs)
	case c.MaxGroupSize <= 0:
		return fmt.Errorf("group: MaxGroupSize (group.max.size) %d must be positive", c.MaxGroupSize)
	case c.MaxGroups <= 0:
		return fmt.Errorf("group: MaxGroups %d must be positive", c.MaxGroups)
	case c.MaxPendingJoins <= 0:
		return fmt.Errorf("group: MaxPendingJoins %d must be positive", c.MaxPendingJoins)
	case c.MaxOffsetsPerGroup <= 0:
		return fmt.Errorf("group: MaxOffsetsPerGroup %d must be positive", c.MaxOffsetsPerGroup)
	case c.MaxPendingWrites <= 0:
		return fmt.Errorf("group: MaxPendingWrites %d must be positive", c.MaxPendingWrites)
	case c.MaxTxnOffsets <= 0:
		return fmt.Errorf("group: MaxTxnOffsets %d must be positive", c.MaxTxnOffsets)
	case c.MaxMemberMetadataBytes <= 0:
		return fmt.Errorf("group: MaxMemberMetadataBytes %d must be positive", c.MaxMemberMetadataBytes)
	case c.MaxGroupRecordBytes <= 0:
		return fmt.Errorf("group: MaxGroupRecordBytes %d must be positive", c.MaxGroupRecordBytes)
	case c.OffsetsRetentionMs <= 0:
		return fmt.Errorf("group: OffsetsRetentionMs (offsets.retention.minutes in ms) %d must be positive", c.OffsetsRetentionMs)
	case c.OffsetsRetentionCheckIntervalMs <= 0:
		return fmt.Errorf("group: OffsetsRetentionCheckIntervalMs %d must be positive", c.OffsetsRetentionCheckIntervalMs)
	case c.OffsetMetadataMaxBytes < 0:
		return fmt.Errorf("group: OffsetMetadataMaxBytes %d must not be negative", c.OffsetMetadataMaxBytes)
	case c.ConsumerSessionTimeoutMs <= 0:
		return fmt.Errorf("group: ConsumerSessionTimeoutMs %d must be positive", c.ConsumerSessionTimeoutMs)
	case c.ConsumerHeartbeatIntervalMs <= 0 || c.ConsumerHeartbeatIntervalMs >= c.ConsumerSessionTimeoutMs:
		return fmt.Errorf("group: ConsumerHeartbeatIntervalMs %d must be positive and below ConsumerSessionTimeoutMs %d", c.ConsumerHeartbeatIntervalMs, c.ConsumerSessionTimeoutMs)
	case c.ConsumerMaxSize <= 0:
		return fmt.Errorf("group: ConsumerMaxSize %d must be positive", c.ConsumerMaxSize)
	case len(c.ConsumerAssignors) == 0:
		return fmt.Errorf("group: ConsumerAssignors must name at least one assignor")
	case c.MaxSubscribedTopics <= 0:
		return fmt.Errorf("group: MaxSubscribedTopics %d must be positive", c.MaxSubscribedTopics)
	case c.MaxTopicRegexBytes <= 0:
		return fmt.Errorf("group: MaxTopicRegexBytes %d must be positive", c.MaxTopicRegexBytes)
	case c.ConsumerRegexRefreshMs <= 0:
		return fmt.Errorf("group: ConsumerRegexRefreshMs %d must be positive", c.ConsumerRegexRefreshMs)
	}
	for _, a := range c.ConsumerAssignors {
		if a != AssignorUniform && a != AssignorRange {
			return fmt.Errorf("group: unknown consumer assignor %q (want %q or %q)", a, AssignorUniform, AssignorRange)
		}
	}
	return nil
}
