// Package record reads, validates and builds Kafka record batches
// (message format v2, "magic 2").
//
// A batch on the wire and on disk is a 61-byte header followed by the
// records, possibly compressed as one block:
//
//	offset  size  field
//	     0     8  baseOffset
//	     8     4  batchLength (bytes after this field)
//	    12     4  partitionLeaderEpoch
//	    16     1  magic (2)
//	    17     4  crc (CRC-32C of bytes 21..end)
//	    21     2  attributes
//	    23     4  lastOffsetDelta
//	    27     8  baseTimestamp
//	    35     8  maxTimestamp
//	    43     8  producerId
//	    51     2  producerEpoch
//	    53     4  baseSequence
//	    57     4  recordCount
//	    61     …  records
//
// baseOffset, batchLength and partitionLeaderEpoch lie before the CRC'd
// range on purpose: the broker assigns the first and third without
// recomputing the checksum (SetBaseOffset, SetPartitionLeaderEpoch).
//
// All integers are big-endian. The package is pure: it holds no state
// beyond the immutable CRC table.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Layout constants of the v2 batch header.
const (
	// HeaderSize is the size of a v2 batch header, records excluded.
	HeaderSize = 61
	// LogOverhead is the number of bytes before the part that batchLength
	// counts: baseOffset and batchLength themselves. A batch occupies
	// LogOverhead + batchLength bytes.
	LogOverhead = 12
	// MagicV2 is the only message format version this package accepts.
	MagicV2 = 2
	// MinBatchLength is the smallest batchLength of a well-formed v2 batch
	// (a header with no records).
	MinBatchLength = HeaderSize - LogOverhead

	// Byte offsets of the header fields, exported for tools that patch or
	// dump raw bytes.
	OffsetBaseOffset           = 0
	OffsetBatchLength          = 8
	OffsetPartitionLeaderEpoch = 12
	OffsetMagic                = 16
	OffsetCRC                  = 17
	OffsetAttributes           = 21
	OffsetLastOffsetDelta      = 23
	OffsetBaseTimestamp        = 27
	OffsetMaxTimestamp         = 35
	OffsetProducerID           = 43
	OffsetProducerEpoch        = 51
	OffsetBaseSequence         = 53
	OffsetRecordCount          = 57
)

// Attribute bits of a v2 batch.
const (
	// AttrCompressionMask selects the codec (see Codec).
	AttrCompressionMask = 0x07
	// AttrLogAppendTime marks a batch whose record timestamps are replaced
	// by maxTimestamp (message.timestamp.type=LogAppendTime).
	AttrLogAppendTime = 0x08
	// AttrTransactional marks a batch written inside a transaction.
	AttrTransactional = 0x10
	// AttrControl marks a control batch (transaction markers); clients may
	// not produce them.
	AttrControl = 0x20
	// AttrDeleteHorizon marks a compacted batch whose baseTimestamp is the
	// delete horizon (KIP-534).
	AttrDeleteHorizon = 0x40
)

// Errors. Every structural failure satisfies errors.Is(err, ErrCorrupt) so
// that callers can treat "bad bytes" as one class and still tell the
// cases apart. ErrOldMagic is deliberately not an ErrCorrupt: a v0/v1
// message set is well formed, just a format the broker refuses.
var (
	// ErrCorrupt is the class of every structural validation failure.
	ErrCorrupt = errors.New("record: corrupt batch")
	// ErrTruncated: fewer bytes than the header or batchLength require.
	ErrTruncated = errors.New("record: truncated batch")
	// ErrInvalidLength: batchLength out of range for a v2 batch.
	ErrInvalidLength = errors.New("record: invalid batch length")
	// ErrOldMagic: a message set in format v0 or v1 (magic 0 or 1).
	ErrOldMagic = errors.New("record: message format v0/v1 (magic < 2) not supported")
	// ErrUnknownMagic: a magic byte that is not 0, 1 or 2.
	ErrUnknownMagic = errors.New("record: unknown magic byte")
	// ErrCRCMismatch: the stored CRC-32C does not match the bytes.
	ErrCRCMismatch = errors.New("record: CRC mismatch")
	// ErrInvalidCount: recordCount and lastOffsetDelta disagree, or the
	// batch holds no records.
	ErrInvalidCount = errors.New("record: invalid record count or offset delta")
	// ErrUnknownCodec: compression bits name no known codec.
	ErrUnknownCodec = errors.New("record: unknown compression codec")
	// ErrControlBatch: a control batch where only data batches are allowed.
	ErrControlBatch = errors.New("record: control batch not allowed here")
	// ErrInvalidRecord: the records inside a batch do not decode.
	ErrInvalidRecord = errors.New("record: invalid record")
	// ErrTooLarge: decompressed records exceed the caller's limit.
	ErrTooLarge = errors.New("record: decompressed records exceed limit")
)

// corrupt wraps a specific sentinel so that both it and ErrCorrupt match.
func corrupt(specific error, format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", ErrCorrupt, specific, fmt.Sprintf(format, args...))
}

// castagnoli is the CRC-32C table Kafka uses for v2 batches. Built once at
// init and never written again, so sharing it is safe.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Codec is the compression codec of a batch (attributes bits 0-2).
type Codec int8

// Codecs Kafka defines.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

// String returns Kafka's name for the codec (compression.type).
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Valid reports whether c is one of the five codecs Kafka defines.
func (c Codec) Valid() bool { return c >= CodecNone && c <= CodecZstd }

// Header is a decoded v2 batch header.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the number of bytes the whole batch occupies.
func (h Header) Size() int { return LogOverhead + int(h.BatchLength) }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset that follows the batch.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Codec is the batch's compression codec.
func (h Header) Codec() Codec { return Codec(h.Attributes & AttrCompressionMask) }

// LogAppendTime reports whether record timestamps are the batch's
// maxTimestamp rather than their own.
func (h Header) LogAppendTime() bool { return h.Attributes&AttrLogAppendTime != 0 }

// Transactional reports the transactional attribute.
func (h Header) Transactional() bool { return h.Attributes&AttrTransactional != 0 }

// Control reports the control-batch attribute.
func (h Header) Control() bool { return h.Attributes&AttrControl != 0 }

// HasProducerID reports whether the batch comes from an idempotent or
// transactional producer.
func (h Header) HasProducerID() bool { return h.ProducerID >= 0 }

// LastSequence is the sequence number of the batch's last record, with
// Kafka's wraparound from MaxInt32 to 0.
func (h Header) LastSequence() int32 {
	return IncrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

// IncrementSequence adds delta (>= 0) to a producer sequence number the way
// Kafka does: sequences run from 0 to MaxInt32 and then wrap to 0, so a
// long-lived producer never sees a negative sequence.
func IncrementSequence(seq, delta int32) int32 {
	const maxSeq = 1<<31 - 1
	if seq > maxSeq-delta {
		return delta - (maxSeq - seq) - 1
	}
	return seq + delta
}

// ParseHeader decodes the header at the start of b. It checks the magic
// byte first so that a (shorter) v0/v1 message yields ErrOldMagic rather
// than ErrTruncated, then requires HeaderSize bytes. It does not check
// batchLength against len(b) or the CRC; Check does.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	err := ParseHeaderInto(b, &h)
	return h, err
}

// ParseHeaderInto is ParseHeader writing into *h (left zero on error),
// for callers that scan many headers: the 80-byte Header is not copied
// out of each call.
func ParseHeaderInto(b []byte, h *Header) error {
	if len(b) < OffsetMagic+1 {
		*h = Header{}
		return corrupt(ErrTruncated, "%d bytes, need %d to read the magic byte", len(b), OffsetMagic+1)
	}
	magic := int8(b[OffsetMagic])
	switch {
	case magic == 0 || magic == 1:
		*h = Header{}
		return fmt.Errorf("%w: magic %d", ErrOldMagic, magic)
	case magic != MagicV2:
		*h = Header{}
		return corrupt(ErrUnknownMagic, "magic %d", magic)
	}
	if len(b) < HeaderSize {
		*h = Header{}
		return corrupt(ErrTruncated, "%d bytes, need %d for a v2 header", len(b), HeaderSize)
	}
	b = b[:HeaderSize]
	be := binary.BigEndian
	h.BaseOffset = int64(be.Uint64(b[OffsetBaseOffset:]))
	h.BatchLength = int32(be.Uint32(b[OffsetBatchLength:]))
	h.PartitionLeaderEpoch = int32(be.Uint32(b[OffsetPartitionLeaderEpoch:]))
	h.Magic = magic
	h.CRC = be.Uint32(b[OffsetCRC:])
	h.Attributes = int16(be.Uint16(b[OffsetAttributes:]))
	h.LastOffsetDelta = int32(be.Uint32(b[OffsetLastOffsetDelta:]))
	h.BaseTimestamp = int64(be.Uint64(b[OffsetBaseTimestamp:]))
	h.MaxTimestamp = int64(be.Uint64(b[OffsetMaxTimestamp:]))
	h.ProducerID = int64(be.Uint64(b[OffsetProducerID:]))
	h.ProducerEpoch = int16(be.Uint16(b[OffsetProducerEpoch:]))
	h.BaseSequence = int32(be.Uint32(b[OffsetBaseSequence:]))
	h.RecordCount = int32(be.Uint32(b[OffsetRecordCount:]))
	return nil
}

// ComputeCRC returns the CRC-32C of batch[21:], the range the v2 crc
// field covers. batch must hold at least HeaderSize bytes.
func ComputeCRC(batch []byte) uint32 {
	return crc32.Checksum(batch[OffsetAttributes:], castagnoli)
}

// Check validates one whole v2 batch: magic, batchLength (at least a
// header and exactly len(batch)), a non-negative lastOffsetDelta, and the
// CRC. It is the check for stored batches; CheckProduce adds the rules for
// batches arriving from a client.
func Check(batch []byte) (h Header, err error) {
	if err := ParseHeaderInto(batch, &h); err != nil {
		return Header{}, err
	}
	if h.BatchLength < MinBatchLength {
		return Header{}, corrupt(ErrInvalidLength, "batchLength %d below minimum %d", h.BatchLength, MinBatchLength)
	}
	if h.Size() != len(batch) {
		if h.Size() > len(batch) {
			return Header{}, corrupt(ErrTruncated, "batchLength %d needs %d bytes, have %d", h.BatchLength, h.Size(), len(batch))
		}
		return Header{}, corrupt(ErrInvalidLength, "batchLength %d covers %d bytes, slice has %d", h.BatchLength, h.Size(), len(batch))
	}
	if h.LastOffsetDelta < 0 {
		return Header{}, corrupt(ErrInvalidCount, "negative lastOffsetDelta %d", h.LastOffsetDelta)
	}
	if got := ComputeCRC(batch); got != h.CRC {
		return Header{}, corrupt(ErrCRCMismatch, "stored %#08x, computed %#08x", h.CRC, got)
	}
	return h, nil
}

// CheckProduce is Check plus the rules for a batch from a producer: at
// least one record, lastOffsetDelta == recordCount-1 (offsets are dense
// before any compaction), a known codec, and no control attribute.
func CheckProduce(batch []byte) (Header, error) {
	h, err := Check(batch)
	if err != nil {
		return Header{}, err
	}
	if h.RecordCount <= 0 {
		return Header{}, corrupt(ErrInvalidCount, "recordCount %d", h.RecordCount)
	}
	if h.LastOffsetDelta != h.RecordCount-1 {
		return Header{}, corrupt(ErrInvalidCount, "lastOffsetDelta %d with recordCount %d", h.LastOffsetDelta, h.RecordCount)
	}
	if !h.Codec().Valid() {
		return Header{}, corrupt(ErrUnknownCodec, "compression bits %d", h.Codec())
	}
	if h.Control() {
		return Header{}, corrupt(ErrControlBatch, "attributes %#04x", h.Attributes)
	}
	return h, nil
}

// Next frames the first batch of b (several concatenated batches, as in a
// produce request or a segment file): it returns that batch and the rest.
// Framing only reads baseOffset/batchLength (plus the magic byte, to reject
// a v2 batch shorter than a header), so it also frames v0/v1 entries,
// which share the 12-byte log overhead; validating the batch is Check's
// job.
func Next(b []byte) (batch, rest []byte, err error) {
	if len(b) < LogOverhead {
		return nil, nil, corrupt(ErrTruncated, "%d bytes left, need %d for the log overhead", len(b), LogOverhead)
	}
	length := int32(binary.BigEndian.Uint32(b[OffsetBatchLength:]))
	if length < 0 {
		return nil, nil, corrupt(ErrInvalidLength, "negative batchLength %d", length)
	}
	if len(b) > OffsetMagic && b[OffsetMagic] == MagicV2 && length < MinBatchLength {
		return nil, nil, corrupt(ErrInvalidLength, "batchLength %d below minimum %d", length, MinBatchLength)
	}
	size := LogOverhead + int(length)
	if size > len(b) {
		return nil, nil, corrupt(ErrTruncated, "batch of %d bytes, %d left", size, len(b))
	}
	return b[:size:size], b[size:], nil
}

// Split frames b into its concatenated batches. The batches alias b.
func Split(b []byte) ([][]byte, error) {
	var out [][]byte
	pos := 0
	for len(b) > 0 {
		batch, rest, err := Next(b)
		if err != nil {
			return out, fmt.Errorf("batch %d at byte %d: %w", len(out), pos, err)
		}
		out = append(out, batch)
		pos += len(batch)
		b = rest
	}
	return out, nil
}

// SetBaseOffset writes baseOffset into a batch in place. The field lies
// outside the CRC'd range, so the CRC stays valid.
func SetBaseOffset(batch []byte, baseOffset int64) {
	binary.BigEndian.PutUint64(batch[OffsetBaseOffset:], uint64(baseOffset))
}

// SetPartitionLeaderEpoch writes the leader epoch into a batch in place;
// like the base offset it is outside the CRC'd range.
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	binary.BigEndian.PutUint32(batch[OffsetPartitionLeaderEpoch:], uint32(epoch))
}
