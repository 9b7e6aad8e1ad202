package record

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Control records (Kafka's ControlRecordType and EndTransactionMarker).
//
// A control batch (attributes bit 5) carries records whose key says what
// they are and whose value carries the details:
//
//	key:   version int16 (0), type int16 (0 abort, 1 commit, others not markers)
//	value: version int16 (0), coordinatorEpoch int32   (for abort and commit)
//
// An end-transaction marker's batch has the transactional bit set too, the
// producer id and epoch of the transaction it ends, base sequence -1 and
// one record. The broker writes it uncompressed, as Kafka does; a reader
// decodes whatever codec a batch names.
const (
	// ControlAbort is the key type of an abort marker.
	ControlAbort int16 = 0
	// ControlCommit is the key type of a commit marker.
	ControlCommit int16 = 1

	controlKeySize    = 4
	endTxnValueSize   = 6
	controlKeyVersion = 0
	endTxnVersion     = 0
)

// ErrNotEndTxnMarker: a control batch whose record is not a commit or abort
// marker (another control type, or not a control batch at all).
var ErrNotEndTxnMarker = errors.New("record: not an end-transaction marker")

// EndTxnMarker is the content of a commit or abort marker.
type EndTxnMarker struct {
	// Commit is true for a commit marker, false for an abort marker.
	Commit bool
	// CoordinatorEpoch is the epoch of the transaction coordinator that
	// wrote it (the leader epoch of its __transaction_state partition).
	CoordinatorEpoch int32
}

// ControlKey encodes a control record key of the given type.
func ControlKey(controlType int16) []byte {
	k := make([]byte, controlKeySize)
	binary.BigEndian.PutUint16(k, controlKeyVersion)
	binary.BigEndian.PutUint16(k[2:], uint16(controlType))
	return k
}

// BuildEndTxnMarker builds the control batch of a commit or abort marker
// for producerID at producerEpoch, stamped timestampMs. Base offset and
// leader epoch are left for the log to assign.
func BuildEndTxnMarker(producerID int64, producerEpoch int16, m EndTxnMarker, timestampMs int64) []byte {
	typ := ControlAbort
	if m.Commit {
		typ = ControlCommit
	}
	value := make([]byte, endTxnValueSize)
	binary.BigEndian.PutUint16(value, endTxnVersion)
	binary.BigEndian.PutUint32(value[2:], uint32(m.CoordinatorEpoch))
	opts := DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch = producerID, producerEpoch
	opts.Transactional, opts.Control = true, true
	return MustBuild(opts, []Record{{Timestamp: timestampMs, Key: ControlKey(typ), Value: value}})
}

// ParseEndTxnMarker decodes the marker of a control batch (the CRC is not
// checked here: call Check first on untrusted bytes). A control batch of
// another type answers ErrNotEndTxnMarker; undecodable records answer an
// ErrCorrupt error. Kafka reads the first record only: a control batch
// holds one.
func ParseEndTxnMarker(batch []byte) (EndTxnMarker, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return EndTxnMarker{}, err
	}
	if !h.Control() {
		return EndTxnMarker{}, fmt.Errorf("%w: attributes %#04x", ErrNotEndTxnMarker, h.Attributes)
	}
	it, err := NewIterator(batch, 1<<20)
	if err != nil {
		return EndTxnMarker{}, err
	}
	if !it.Next() {
		if it.Err() != nil {
			return EndTxnMarker{}, it.Err()
		}
		return EndTxnMarker{}, corrupt(ErrInvalidRecord, "control batch without a record")
	}
	r := it.Record()
	if len(r.Key) < controlKeySize {
		return EndTxnMarker{}, corrupt(ErrInvalidRecord, "control record key of %d bytes", len(r.Key))
	}
	if v := int16(binary.BigEndian.Uint16(r.Key)); v < 0 {
		return EndTxnMarker{}, corrupt(ErrInvalidRecord, "control record key version %d", v)
	}
	var m EndTxnMarker
	switch typ := int16(binary.BigEndian.Uint16(r.Key[2:])); typ {
	case ControlAbort:
	case ControlCommit:
		m.Commit = true
	default:
		return EndTxnMarker{}, fmt.Errorf("%w: control type %d", ErrNotEndTxnMarker, typ)
	}
	if len(r.Value) < endTxnValueSize {
		return EndTxnMarker{}, corrupt(ErrInvalidRecord, "end-transaction marker value of %d bytes", len(r.Value))
	}
	if v := int16(binary.BigEndian.Uint16(r.Value)); v < 0 {
		return EndTxnMarker{}, corrupt(ErrInvalidRecord, "end-transaction marker version %d", v)
	}
	m.CoordinatorEpoch = int32(binary.BigEndian.Uint32(r.Value[2:]))
	return m, nil
}
