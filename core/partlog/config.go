package partlog

import (
	"fmt"
	"math"
)

// DefaultMaxProducerIDs bounds the idempotent-producer table when
// Config.MaxProducerIDs is 0. Each entry costs about 250 bytes, so the
// default keeps a partition's producer state under 3 MB; Kafka bounds the
// same state by time (producer.id.expiration.ms) instead, which a pure
// core cannot do without a clock-driven sweep.
const DefaultMaxProducerIDs = 10000

// producerBatchesKept is how many recent batches per producer are
// remembered for duplicate detection: Kafka allows at most five in-flight
// requests per idempotent producer connection.
const producerBatchesKept = 5

// maxDecodeBytes bounds decompression when a timestamp lookup must look
// inside a batch (OffsetForTimestamp, MaxTimestamp). A batch is at most
// max.message.bytes compressed; 64 MiB of records is far beyond what
// clients produce and small enough not to threaten the broker.
const maxDecodeBytes = 64 << 20

// Validate reports a config that the log cannot work with. The accepted
// ranges match Kafka's topic-config validation (segment.bytes >= 14 and so
// on); values above math.MaxInt32 for the byte sizes are accepted and
// treated as math.MaxInt32, since segment positions are 32-bit in the index
// format, as in Kafka.
func (c Config) Validate() error {
	switch {
	case c.SegmentBytes < 14:
		return fmt.Errorf("partlog: segment.bytes %d must be >= 14", c.SegmentBytes)
	case c.SegmentMs < 1:
		return fmt.Errorf("partlog: segment.ms %d must be >= 1", c.SegmentMs)
	case c.RetentionMs < -1:
		return fmt.Errorf("partlog: retention.ms %d must be >= -1", c.RetentionMs)
	case c.RetentionBytes < -1:
		return fmt.Errorf("partlog: retention.bytes %d must be >= -1", c.RetentionBytes)
	case c.IndexIntervalBytes < 0:
		return fmt.Errorf("partlog: index.interval.bytes %d must be >= 0", c.IndexIntervalBytes)
	case c.MaxMessageBytes < 0:
		return fmt.Errorf("partlog: max.message.bytes %d must be >= 0", c.MaxMessageBytes)
	case c.MaxProducerIDs < 0:
		return fmt.Errorf("partlog: max producer ids %d must be >= 0", c.MaxProducerIDs)
	case c.CleanupPolicy&^(CleanupDelete|CleanupCompact) != 0:
		return fmt.Errorf("partlog: cleanup.policy bits %#x unknown", uint8(c.CleanupPolicy))
	case c.DeleteRetentionMs < 0:
		return fmt.Errorf("partlog: delete.retention.ms %d must be >= 0", c.DeleteRetentionMs)
	case !(c.MinCleanableDirtyRatio >= 0 && c.MinCleanableDirtyRatio <= 1): // NaN fails too
		return fmt.Errorf("partlog: min.cleanable.dirty.ratio %v must be in [0, 1]", c.MinCleanableDirtyRatio)
	case c.MinCompactionLagMs < 0:
		return fmt.Errorf("partlog: min.compaction.lag.ms %d must be >= 0", c.MinCompactionLagMs)
	case c.MaxCompactionLagMs < 0:
		return fmt.Errorf("partlog: max.compaction.lag.ms %d must be >= 1 (0: unset)", c.MaxCompactionLagMs)
	case c.CleanerMapBytes < 0 || c.CleanerMapBytes > maxCleanerMapBytes:
		return fmt.Errorf("partlog: cleaner map bytes %d must be in [0, %d]", c.CleanerMapBytes, int64(maxCleanerMapBytes))
	}
	return nil
}

// normalized returns the config with defaults filled in and sizes clamped
// to what the on-disk format can address.
func (c Config) normalized() Config {
	c.SegmentBytes = min(c.SegmentBytes, math.MaxInt32)
	c.MaxMessageBytes = min(c.MaxMessageBytes, math.MaxInt32)
	c.IndexIntervalBytes = min(c.IndexIntervalBytes, math.MaxInt32)
	if c.MaxProducerIDs == 0 {
		c.MaxProducerIDs = DefaultMaxProducerIDs
	}
	if c.CleanupPolicy == 0 {
		c.CleanupPolicy = CleanupDelete
	}
	if c.MaxCompactionLagMs == 0 {
		c.MaxCompactionLagMs = math.MaxInt64
	}
	if c.CleanerMapBytes == 0 {
		c.CleanerMapBytes = DefaultCleanerMapBytes
	}
	return c
}

// SetConfig changes the settings of an open log (a topic config altered at
// runtime). Segment size and age apply from the next append's roll check,
// retention from the next ApplyRetention, max.message.bytes from the next
// append; segments already written are not rewritten. The producer table
// keeps the bound it was opened with until the next Open.
func (l *Log) SetConfig(cfg Config) error {
	l.changes++
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("partlog: set config: %w", err)
	}
	cfg = cfg.normalized()
	cfg.MaxProducerIDs = l.cfg.MaxProducerIDs
	l.cfg = cfg
	return nil
}
