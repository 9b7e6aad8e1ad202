package sim

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// producerIdentity is what an idempotent producer stamps into a batch.
type producerIdentity struct {
	id       int64
	epoch    int16
	sequence int32
}

// buildBatch encodes an uncompressed v2 record batch of values, written
// independently of core/record (kmsg's RecordBatch and Record types plus
// a CRC-32C), so that an encoder bug in core cannot hide itself.
func buildBatch(values []string, timestampMs int64, pid *producerIdentity) []byte {
	var records, body []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(v)}
		// AppendTo writes the Length field first (0 here, one byte);
		// re-encode with the real length of what follows it. The trial
		// encoding goes into one scratch buffer for all the records.
		body = r.AppendTo(body[:0])
		r.Length = int32(len(body) - 1)
		records = r.AppendTo(records)
	}
	return sealBatch(records, len(values), timestampMs, pid)
}

// sealBatch wraps count encoded records in a v2 batch header (offsets
// from 0, timestamps timestampMs, the producer identity when pid is set)
// with its length and CRC-32C.
func sealBatch(records []byte, count int, timestampMs int64, pid *producerIdentity) []byte {
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(count - 1),
		FirstTimestamp:       timestampMs,
		MaxTimestamp:         timestampMs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(count),
		Records:              records,
	}
	if pid != nil {
		rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = pid.id, pid.epoch, pid.sequence
	}
	// A v2 batch is its 61-byte header and the records.
	b := rb.AppendTo(make([]byte, 0, 61+len(records)))
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// fetched is one record a consumer decoded from a fetch response.
type fetched struct {
	offset int64
	value  string
}

// decodeBatches decodes the record batches of one fetched partition, as a
// client does: it verifies every batch's CRC-32C (a corrupt batch served
// is an error: the broker must catch it first), skips records below
// fetchOffset, and stops at a trailing partial batch.
func decodeBatches(data []byte, fetchOffset int64) ([]fetched, error) {
	var out []fetched
	for len(data) > 0 {
		if len(data) < 61 {
			break // partial batch header at the end
		}
		size := 12 + int(int32(binary.BigEndian.Uint32(data[8:])))
		if size < 61 {
			return nil, fmt.Errorf("batch length %d is below the v2 header size", size-12)
		}
		if size > len(data) {
			break // partial batch
		}
		batch := data[:size]
		data = data[size:]
		if batch[16] != 2 {
			return nil, fmt.Errorf("batch magic %d", batch[16])
		}
		if want, got := binary.BigEndian.Uint32(batch[17:]), crc32.Checksum(batch[21:], castagnoli); want != got {
			return nil, fmt.Errorf("corrupt batch served: CRC %08x, computed %08x (base offset %d)", want, got, int64(binary.BigEndian.Uint64(batch)))
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(batch); err != nil {
			return nil, fmt.Errorf("decode batch: %v", err)
		}
		if rb.Attributes&0x07 != 0 {
			return nil, fmt.Errorf("batch at %d is compressed (codec %d); the simulator never sends compressed batches", rb.FirstOffset, rb.Attributes&0x07)
		}
		recs := rb.Records
		for i := int32(0); i < rb.NumRecords; i++ {
			length, n := binary.Varint(recs)
			if n <= 0 || length < 0 || int(length) > len(recs)-n {
				return nil, fmt.Errorf("batch at %d: record %d overruns the batch", rb.FirstOffset, i)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(length)]); err != nil {
				return nil, fmt.Errorf("batch at %d: record %d: %v", rb.FirstOffset, i, err)
			}
			recs = recs[n+int(length):]
			off := rb.FirstOffset + int64(r.OffsetDelta)
			if off < fetchOffset {
				continue
			}
			out = append(out, fetched{offset: off, value: string(r.Value)})
		}
		if len(recs) != 0 {
			return nil, fmt.Errorf("batch at %d: %d bytes after its %d records", rb.FirstOffset, len(recs), rb.NumRecords)
		}
	}
	return out, nil
}
