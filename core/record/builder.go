package record

import (
	"encoding/binary"
	"fmt"
)

// BatchOptions are the header fields a built batch gets. Start from
// DefaultBatchOptions, which describes a plain, non-idempotent batch.
type BatchOptions struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	Codec                Codec
	// SnappyXerial selects the Java client's xerial framing for
	// CodecSnappy instead of a raw block.
	SnappyXerial  bool
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Transactional bool
	Control       bool
	// LogAppendTime sets the timestamp-type bit; MaxTimestamp then comes
	// from LogAppendTimeMs.
	LogAppendTime   bool
	LogAppendTimeMs int64
}

// DefaultBatchOptions returns options for a non-idempotent, uncompressed
// batch at offset 0 with no leader epoch, as a plain producer sends it.
func DefaultBatchOptions() BatchOptions {
	return BatchOptions{PartitionLeaderEpoch: -1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
}

// Build encodes records into one v2 batch with a valid CRC. Record i gets
// offset delta i (its Offset field is ignored); timestamps are taken as
// absolute, baseTimestamp is the first record's and maxTimestamp the
// largest. It exists so that tests across the repo can make batches
// without a client; the broker itself never re-encodes batches.
func Build(opts BatchOptions, records []Record) ([]byte, error) {
	return (*Codecs)(nil).Build(opts, records)
}

// Build is the package's Build compressing with c's encoders.
func (c *Codecs) Build(opts BatchOptions, records []Record) ([]byte, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("record: build: %w", corrupt(ErrInvalidCount, "no records"))
	}
	if !opts.Codec.Valid() {
		return nil, fmt.Errorf("record: build: %w", corrupt(ErrUnknownCodec, "codec %d", opts.Codec))
	}
	baseTs := records[0].Timestamp
	maxTs := baseTs
	var body []byte
	for i, rec := range records {
		maxTs = max(maxTs, rec.Timestamp)
		body = appendRecord(body, rec, int32(i), rec.Timestamp-baseTs)
	}
	if opts.LogAppendTime {
		maxTs = opts.LogAppendTimeMs
	}
	body, err := c.Compress(opts.Codec, body, opts.SnappyXerial)
	if err != nil {
		return nil, fmt.Errorf("record: build: %w", err)
	}
	attrs := int16(opts.Codec)
	if opts.LogAppendTime {
		attrs |= AttrLogAppendTime
	}
	if opts.Transactional {
		attrs |= AttrTransactional
	}
	if opts.Control {
		attrs |= AttrControl
	}
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	be := binary.BigEndian
	be.PutUint64(b[OffsetBaseOffset:], uint64(opts.BaseOffset))
	be.PutUint32(b[OffsetBatchLength:], uint32(HeaderSize-LogOverhead+len(body)))
	be.PutUint32(b[OffsetPartitionLeaderEpoch:], uint32(opts.PartitionLeaderEpoch))
	b[OffsetMagic] = MagicV2
	be.PutUint16(b[OffsetAttributes:], uint16(attrs))
	be.PutUint32(b[OffsetLastOffsetDelta:], uint32(len(records)-1))
	be.PutUint64(b[OffsetBaseTimestamp:], uint64(baseTs))
	be.PutUint64(b[OffsetMaxTimestamp:], uint64(maxTs))
	be.PutUint64(b[OffsetProducerID:], uint64(opts.ProducerID))
	be.PutUint16(b[OffsetProducerEpoch:], uint16(opts.ProducerEpoch))
	be.PutUint32(b[OffsetBaseSequence:], uint32(opts.BaseSequence))
	be.PutUint32(b[OffsetRecordCount:], uint32(len(records)))
	b = append(b, body...)
	be.PutUint32(b[OffsetCRC:], ComputeCRC(b))
	return b, nil
}

// MustBuild is Build for tests: it panics on error.
func MustBuild(opts BatchOptions, records []Record) []byte {
	b, err := Build(opts, records)
	if err != nil {
		panic(err)
	}
	return b
}

// SimpleBatch builds an uncompressed batch of n records whose values are
// valueSize bytes derived from seed, all stamped timestampMs. It is the
// quickest way for a test to get a valid batch of a given shape.
func SimpleBatch(n, valueSize int, timestampMs int64, seed byte) []byte {
	recs := make([]Record, n)
	for i := range recs {
		v := make([]byte, valueSize)
		for j := range v {
			v[j] = seed + byte(i) + byte(j)
		}
		recs[i] = Record{Timestamp: timestampMs, Value: v}
	}
	return MustBuild(DefaultBatchOptions(), recs)
}
