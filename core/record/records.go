package record

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Record is one decoded record of a v2 batch.
type Record struct {
	// Offset is the batch's base offset plus the record's offset delta.
	Offset int64
	// Timestamp is the effective timestamp: the batch's maxTimestamp for
	// LogAppendTime batches, baseTimestamp plus the delta otherwise.
	Timestamp int64
	// Attributes is the per-record attribute byte (unused by Kafka today).
	Attributes int8
	// Key and Value are nil for a null key or value, and alias the
	// iterator's buffer (the batch, or its decompressed records).
	Key   []byte
	Value []byte
	// Headers are the record headers in their stored order.
	Headers []RecordHeader
}

// RecordHeader is one record header. Value is nil for a null value.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Iterator decodes the records of one batch lazily, one per Next.
//
//	it, err := record.NewIterator(batch, 64<<20)
//	for it.Next() { use(it.Record()) }
//	if err := it.Err(); err != nil { ... }
type Iterator struct {
	h    Header
	data []byte // remaining encoded records (decompressed)
	left int32  // records still to decode
	cur  Record
	err  error
}

// NewIterator parses batch's header and decompresses its records, at most
// maxUncompressedBytes of them. It does not verify the CRC: tools that
// dump damaged data want to see the records anyway, so call Check first
// when the bytes are untrusted.
func NewIterator(batch []byte, maxUncompressedBytes int) (*Iterator, error) {
	return (*Codecs)(nil).NewIterator(batch, maxUncompressedBytes)
}

// NewIterator is the package's NewIterator decompressing with c's
// decoders.
func (c *Codecs) NewIterator(batch []byte, maxUncompressedBytes int) (*Iterator, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return nil, err
	}
	if h.BatchLength < MinBatchLength || h.Size() > len(batch) {
		return nil, corrupt(ErrInvalidLength, "batchLength %d with %d bytes", h.BatchLength, len(batch))
	}
	if h.RecordCount < 0 {
		return nil, corrupt(ErrInvalidCount, "recordCount %d", h.RecordCount)
	}
	data, err := c.Decompress(h.Codec(), batch[HeaderSize:h.Size()], maxUncompressedBytes)
	if err != nil {
		return nil, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
	}
	return &Iterator{h: h, data: data, left: h.RecordCount}, nil
}

// Header returns the batch header.
func (it *Iterator) Header() Header { return it.h }

// Next decodes the next record; it returns false at the end or on error
// (see Err).
func (it *Iterator) Next() bool {
	if it.err != nil {
		return false
	}
	if it.left == 0 {
		if len(it.data) != 0 {
			it.err = corrupt(ErrInvalidRecord, "%d bytes after the last of %d records", len(it.data), it.h.RecordCount)
		}
		return false
	}
	rec, rest, err := decodeRecord(it.h, it.data)
	if err != nil {
		it.err = fmt.Errorf("record %d of batch at offset %d: %w", it.h.RecordCount-it.left, it.h.BaseOffset, err)
		return false
	}
	it.cur = rec
	it.data = rest
	it.left--
	return true
}

// Record returns the record decoded by the last successful Next.
func (it *Iterator) Record() Record { return it.cur }

// Err returns the decoding error that stopped Next, if any.
func (it *Iterator) Err() error { return it.err }

// DecodeRecords decodes every record of batch; see NewIterator.
func DecodeRecords(batch []byte, maxUncompressedBytes int) ([]Record, error) {
	it, err := NewIterator(batch, maxUncompressedBytes)
	if err != nil {
		return nil, err
	}
	recs := make([]Record, 0, min(int(it.h.RecordCount), 1<<16))
	for it.Next() {
		recs = append(recs, it.Record())
	}
	return recs, it.Err()
}

// reader walks the varint-encoded fields of one record.
type reader struct {
	b   []byte
	err error
}

// varint reads a zigzag varint (Kafka's and Go's encoding agree) that must
// fit in an int32, as every Kafka varint field does.
func (r *reader) varint() int32 {
	v := r.varlong()
	if r.err == nil && (v < math.MinInt32 || v > math.MaxInt32) {
		r.err = corrupt(ErrInvalidRecord, "varint %d overflows int32", v)
	}
	return int32(v)
}

// varlong reads a zigzag varint of up to 64 bits.
func (r *reader) varlong() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = corrupt(ErrInvalidRecord, "bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytesField reads a length-prefixed byte string; length -1 means null.
func (r *reader) bytesField() []byte {
	n := r.varint()
	if r.err != nil {
		return nil
	}
	switch {
	case n == -1:
		return nil
	case n < -1 || int(n) > len(r.b):
		r.err = corrupt(ErrInvalidRecord, "length %d with %d bytes left", n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// decodeRecord decodes the record at the start of b and returns the rest.
func decodeRecord(h Header, b []byte) (Record, []byte, error) {
	outer := reader{b: b}
	length := outer.varint()
	if outer.err != nil {
		return Record{}, nil, outer.err
	}
	if length < 0 || int(length) > len(outer.b) {
		return Record{}, nil, corrupt(ErrInvalidRecord, "record length %d with %d bytes left", length, len(outer.b))
	}
	body := outer.b[:length]
	rest := outer.b[length:]
	r := reader{b: body}
	if len(r.b) < 1 {
		return Record{}, nil, corrupt(ErrInvalidRecord, "empty record")
	}
	var rec Record
	rec.Attributes = int8(r.b[0])
	r.b = r.b[1:]
	tsDelta := r.varlong()
	offDelta := r.varint()
	rec.Key = r.bytesField()
	rec.Value = r.bytesField()
	nHeaders := r.varint()
	if r.err != nil {
		return Record{}, nil, r.err
	}
	// Each header takes at least two bytes, which bounds the slice we
	// allocate by the record's own size.
	if nHeaders < 0 || int(nHeaders) > len(r.b)/2 {
		return Record{}, nil, corrupt(ErrInvalidRecord, "header count %d with %d bytes left", nHeaders, len(r.b))
	}
	if nHeaders > 0 {
		rec.Headers = make([]RecordHeader, 0, nHeaders)
	}
	for range nHeaders {
		k := r.bytesField()
		v := r.bytesField()
		if r.err != nil {
			return Record{}, nil, r.err
		}
		if k == nil {
			return Record{}, nil, corrupt(ErrInvalidRecord, "null header key")
		}
		rec.Headers = append(rec.Headers, RecordHeader{Key: string(k), Value: v})
	}
	if len(r.b) != 0 {
		return Record{}, nil, corrupt(ErrInvalidRecord, "%d bytes left inside record", len(r.b))
	}
	rec.Offset = h.BaseOffset + int64(offDelta)
	if h.LogAppendTime() {
		rec.Timestamp = h.MaxTimestamp
	} else {
		rec.Timestamp = h.BaseTimestamp + tsDelta
	}
	return rec, rest, nil
}

// appendRecord encodes one record with the given deltas.
func appendRecord(dst []byte, rec Record, offsetDelta int32, tsDelta int64) []byte {
	var body []byte
	body = append(body, byte(rec.Attributes))
	body = binary.AppendVarint(body, tsDelta)
	body = binary.AppendVarint(body, int64(offsetDelta))
	body = appendBytesField(body, rec.Key)
	body = appendBytesField(body, rec.Value)
	body = binary.AppendVarint(body, int64(len(rec.Headers)))
	for _, hd := range rec.Headers {
		// Header keys are never null, even when empty.
		body = binary.AppendVarint(body, int64(len(hd.Key)))
		body = append(body, hd.Key...)
		body = appendBytesField(body, hd.Value)
	}
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

// appendBytesField encodes a nullable byte string.
func appendBytesField(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}
