package txn

// __transaction_state records, in Kafka's formats (TransactionLogKey and
// TransactionLogValue): a key of version 0 holding the transactional id,
// and a value of version 0, or the flexible version 1 whose tagged fields
// carry the KIP-890 producer ids (0: previous producer id, 1: next
// producer id, 2: client transaction version; 3: next producer epoch,
// KIP-939, read and kept but never set by Chronik). A nil value is the
// tombstone of an expired transactional id. kmsg's TxnMetadataKey and
// TxnMetadataValue are the wire codec; this file maps them to the shard's
// state and checks what a record may hold.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// KeyVersion is the only key version of __transaction_state (Kafka's
// coordinator record type 0).
const KeyVersion = 0

// maxValueVersion is the newest value version Kafka defines.
const maxValueVersion = 1

// ErrBadRecord wraps every decoding failure of Replay and DecodeRecord.
var ErrBadRecord = errors.New("txn: undecodable __transaction_state record")

// TopicPartition names one partition of a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Metadata is one transactional id's durable state: what a
// __transaction_state value holds.
type Metadata struct {
	TransactionalID string
	ProducerID      int64
	// PrevProducerID is the producer id before the last transition (-1:
	// none); it lets a KIP-360 retry after an id rotation be recognised.
	PrevProducerID int64
	// NextProducerID is the id a transaction version 2 commit rotates to
	// (-1: none; Chronik's version-1 coordinator never sets it).
	NextProducerID int64
	ProducerEpoch  int16
	// NextProducerEpoch is KIP-939's tag 3 (-1: none), kept as read.
	NextProducerEpoch int16
	TimeoutMs         int32
	State             State
	// Partitions are the transaction's partitions, sorted.
	Partitions   []TopicPartition
	LastUpdateMs int64
	// StartMs is when the transaction started (-1: none since the last
	// InitProducerId).
	StartMs int64
	// ClientTransactionVersion is the transaction version the client used.
	ClientTransactionVersion int16
}

// KeyBytes encodes the key of transactional id id.
func KeyBytes(id string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.Version = KeyVersion
	k.TransactionalID = id
	return k.AppendTo(nil)
}

// ValueBytes encodes m as a value of the given version (0 or 1). As in
// Kafka, an Empty transaction's partitions are written as null, and the
// tagged fields exist only from version 1.
func ValueBytes(m Metadata, version int16) []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = version
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis = m.ProducerID, m.ProducerEpoch, m.TimeoutMs
	v.State = kmsg.TransactionState(m.State)
	v.LastUpdateTimestamp, v.StartTimestamp = m.LastUpdateMs, m.StartMs
	if m.State != Empty {
		v.Topics = []kmsg.TxnMetadataValueTopic{}
		for _, tp := range sortedPartitions(m.Partitions) {
			if n := len(v.Topics); n == 0 || v.Topics[n-1].Topic != tp.Topic {
				v.Topics = append(v.Topics, kmsg.TxnMetadataValueTopic{Topic: tp.Topic, Partitions: []int32{}})
			}
			last := &v.Topics[len(v.Topics)-1]
			last.Partitions = append(last.Partitions, tp.Partition)
		}
	}
	if version >= 1 {
		v.PreviousProducerID, v.NextProducerID = m.PrevProducerID, m.NextProducerID
		v.ClientTransactionVersion, v.NextProducerEpoch = m.ClientTransactionVersion, m.NextProducerEpoch
	}
	return v.AppendTo(nil)
}

// DecodeKey returns the transactional id of a key. ok is false for a key
// of another version (another record type, which a reader skips).
func DecodeKey(key []byte) (id string, ok bool, err error) {
	if len(key) < 2 {
		return "", false, fmt.Errorf("%w: key of %d bytes", ErrBadRecord, len(key))
	}
	if ver := int16(binary.BigEndian.Uint16(key)); ver != KeyVersion {
		if ver < 0 {
			return "", false, fmt.Errorf("%w: key version %d", ErrBadRecord, ver)
		}
		return "", false, nil
	}
	k := kmsg.NewTxnMetadataKey()
	if err := k.ReadFrom(key); err != nil {
		return "", false, fmt.Errorf("%w: key: %w", ErrBadRecord, err)
	}
	return k.TransactionalID, true, nil
}

// DecodeValue decodes the value of transactional id id and checks it as
// Kafka's loader does: a known version and state, a producer id and epoch
// in range. Partitions of a transaction with none open (Empty and the
// Complete states) are dropped, as Kafka's loader drops Empty's.
func DecodeValue(id string, value []byte) (Metadata, error) {
	v := kmsg.NewTxnMetadataValue()
	if err := v.ReadFrom(value); err != nil {
		return Metadata{}, fmt.Errorf("%w: value of %q: %w", ErrBadRecord, id, err)
	}
	if v.Version < 0 || v.Version > maxValueVersion {
		return Metadata{}, fmt.Errorf("%w: value of %q: version %d", ErrBadRecord, id, v.Version)
	}
	m := Metadata{
		TransactionalID: id, ProducerID: v.ProducerID, PrevProducerID: v.PreviousProducerID,
		NextProducerID: v.NextProducerID, ProducerEpoch: v.ProducerEpoch, NextProducerEpoch: v.NextProducerEpoch,
		TimeoutMs: v.TimeoutMillis, State: State(v.State), LastUpdateMs: v.LastUpdateTimestamp,
		StartMs: v.StartTimestamp, ClientTransactionVersion: v.ClientTransactionVersion,
	}
	switch {
	case !m.State.valid():
		return Metadata{}, fmt.Errorf("%w: value of %q: state %d", ErrBadRecord, id, v.State)
	case m.State == Dead || m.State == PrepareEpochFence:
		// Kafka writes neither: Dead is a tombstone, PrepareEpochFence a
		// step before PrepareAbort in memory.
		return Metadata{}, fmt.Errorf("%w: value of %q: state %s is never written", ErrBadRecord, id, m.State)
	case m.ProducerID < 0 || m.ProducerEpoch < 0:
		return Metadata{}, fmt.Errorf("%w: value of %q: producer id %d epoch %d", ErrBadRecord, id, m.ProducerID, m.ProducerEpoch)
	case m.TimeoutMs <= 0:
		return Metadata{}, fmt.Errorf("%w: value of %q: timeout %d ms", ErrBadRecord, id, m.TimeoutMs)
	}
	if m.State == Ongoing || m.State.preparing() {
		seen := map[TopicPartition]bool{}
		for _, t := range v.Topics {
			for _, p := range t.Partitions {
				tp := TopicPartition{t.Topic, p}
				if p < 0 || seen[tp] {
					return Metadata{}, fmt.Errorf("%w: value of %q: bad or repeated partition %s[%d]", ErrBadRecord, id, t.Topic, p)
				}
				seen[tp] = true
				m.Partitions = append(m.Partitions, tp)
			}
		}
		m.Partitions = sortedPartitions(m.Partitions)
	}
	return m, nil
}

// DecodedRecord is one __transaction_state record, for tools that print
// the log (chronik dump).
type DecodedRecord struct {
	// Kind is "transaction", or "other" for a key version Chronik does not
	// know (not decoded).
	Kind            string `json:"kind"`
	TransactionalID string `json:"transactional_id,omitempty"`
	// Value is nil for a tombstone.
	Value *Metadata `json:"value,omitempty"`
}

// DecodeRecord decodes a __transaction_state record as Replay reads it.
func DecodeRecord(key, value []byte) (DecodedRecord, error) {
	id, ok, err := DecodeKey(key)
	if err != nil {
		return DecodedRecord{}, err
	}
	if !ok {
		return DecodedRecord{Kind: "other"}, nil
	}
	d := DecodedRecord{Kind: "transaction", TransactionalID: id}
	if value != nil {
		m, err := DecodeValue(id, value)
		if err != nil {
			return DecodedRecord{}, err
		}
		d.Value = &m
	}
	return d, nil
}

// sortedPartitions returns tps sorted by topic, then partition.
func sortedPartitions(tps []TopicPartition) []TopicPartition {
	out := append([]TopicPartition(nil), tps...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// epochExhausted reports whether epoch leaves no room for the fencing
// bump (Kafka's isEpochExhausted: the last epoch, MaxInt16, is kept for
// fencing).
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }
