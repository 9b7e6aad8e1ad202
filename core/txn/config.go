package txn

import "fmt"

// Config holds the transaction coordinator's timeouts and limits. Defaults
// follow Kafka's broker settings; where Kafka is unbounded Chronik sets a
// finite limit, because every map in core has one.
type Config struct {
	// MaxTimeoutMs is transaction.max.timeout.ms: an InitProducerId asking
	// for a longer (or a non-positive) transaction.timeout.ms gets
	// INVALID_TRANSACTION_TIMEOUT.
	MaxTimeoutMs int32
	// IDExpirationMs is transactional.id.expiration.ms: a transactional id
	// with no transaction open (Empty, CompleteCommit, CompleteAbort) and
	// not updated for this long is removed with a tombstone.
	IDExpirationMs int64
	// AbortTimedOutIntervalMs is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms: how
	// often Tick looks for Ongoing transactions past their timeout.
	AbortTimedOutIntervalMs int64
	// RemoveExpiredIntervalMs is
	// transaction.remove.expired.transaction.cleanup.interval.ms: how often
	// Tick looks for expired transactional ids.
	RemoveExpiredIntervalMs int64
	// MaxTransactionalIDs bounds the transactional ids one shard holds; an
	// InitProducerId that would add one more gets COORDINATOR_NOT_AVAILABLE.
	MaxTransactionalIDs int
	// MaxPartitionsPerTxn bounds the partitions of one transaction (Kafka:
	// unbounded); an AddPartitionsToTxn passing it gets INVALID_REQUEST.
	MaxPartitionsPerTxn int
	// MaxPendingWrites bounds the writes handed to the runtime and not yet
	// committed; a request needing another gets COORDINATOR_NOT_AVAILABLE.
	MaxPendingWrites int
	// MaxIDPatternBytes bounds ListTransactions' TransactionalIDPattern
	// (v2+); a longer one gets INVALID_REGULAR_EXPRESSION.
	MaxIDPatternBytes int
	// ValueVersion is the __transaction_state value version written: 0, or
	// 1 (flexible, with the KIP-890 tagged fields), which Kafka 4 writes
	// when transaction.version is 1 or more.
	ValueVersion int16
}

// DefaultConfig returns Kafka's defaults (and Chronik's finite limits).
func DefaultConfig() Config {
	return Config{
		MaxTimeoutMs:            900000,
		IDExpirationMs:          7 * 24 * 60 * 60 * 1000,
		AbortTimedOutIntervalMs: 10000,
		RemoveExpiredIntervalMs: 3600000,
		MaxTransactionalIDs:     100000,
		MaxPartitionsPerTxn:     10000,
		MaxPendingWrites:        10000,
		MaxIDPatternBytes:       16384,
		ValueVersion:            1,
	}
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.MaxTimeoutMs <= 0:
		return fmt.Errorf("txn: MaxTimeoutMs (transaction.max.timeout.ms) %d must be positive", c.MaxTimeoutMs)
	case c.IDExpirationMs <= 0:
		return fmt.Errorf("txn: IDExpirationMs (transactional.id.expiration.ms) %d must be positive", c.IDExpirationMs)
	case c.AbortTimedOutIntervalMs <= 0:
		return fmt.Errorf("txn: AbortTimedOutIntervalMs %d must be positive", c.AbortTimedOutIntervalMs)
	case c.RemoveExpiredIntervalMs <= 0:
		return fmt.Errorf("txn: RemoveExpiredIntervalMs %d must be positive", c.RemoveExpiredIntervalMs)
	case c.MaxTransactionalIDs <= 0:
		return fmt.Errorf("txn: MaxTransactionalIDs %d must be positive", c.MaxTransactionalIDs)
	case c.MaxPartitionsPerTxn <= 0:
		return fmt.Errorf("txn: MaxPartitionsPerTxn %d must be positive", c.MaxPartitionsPerTxn)
	case c.MaxPendingWrites <= 0:
		return fmt.Errorf("txn: MaxPendingWrites %d must be positive", c.MaxPendingWrites)
	case c.MaxIDPatternBytes <= 0:
		return fmt.Errorf("txn: MaxIDPatternBytes %d must be positive", c.MaxIDPatternBytes)
	case c.ValueVersion != 0 && c.ValueVersion != 1:
		return fmt.Errorf("txn: ValueVersion %d must be 0 or 1", c.ValueVersion)
	}
	return nil
}
