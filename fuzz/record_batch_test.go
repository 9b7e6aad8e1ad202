package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/chronik-streaming/chronik/core/record"
)

// castagnoli is computed here, not borrowed from the record package, so
// that the CRC check below is independent of the code under test.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// refHeader decodes a v2 header straight from the layout documented in
// package record, independently of record.ParseHeader.
func refHeader(b []byte) record.Header {
	be := binary.BigEndian
	return record.Header{
		BaseOffset:           int64(be.Uint64(b[0:])),
		BatchLength:          int32(be.Uint32(b[8:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[12:])),
		Magic:                int8(b[16]),
		CRC:                  be.Uint32(b[17:]),
		Attributes:           int16(be.Uint16(b[21:])),
		LastOffsetDelta:      int32(be.Uint32(b[23:])),
		BaseTimestamp:        int64(be.Uint64(b[27:])),
		MaxTimestamp:         int64(be.Uint64(b[35:])),
		ProducerID:           int64(be.Uint64(b[43:])),
		ProducerEpoch:        int16(be.Uint16(b[51:])),
		BaseSequence:         int32(be.Uint32(b[53:])),
		RecordCount:          int32(be.Uint32(b[57:])),
	}
}

// refValid is the reference for record.Check: a whole v2 batch is at least
// a header, has magic 2, a batchLength of at least 49 that covers exactly
// the slice, a non-negative lastOffsetDelta, and a CRC-32C of bytes 21..end
// equal to the stored one.
func refValid(b []byte) bool {
	if len(b) < record.HeaderSize || b[16] != 2 {
		return false
	}
	h := refHeader(b)
	if h.BatchLength < record.MinBatchLength || int64(h.BatchLength)+record.LogOverhead != int64(len(b)) {
		return false
	}
	if h.LastOffsetDelta < 0 {
		return false
	}
	return crc32.Checksum(b[21:], castagnoli) == h.CRC
}

// refProduceValid is the reference for record.CheckProduce.
func refProduceValid(b []byte) bool {
	if !refValid(b) {
		return false
	}
	h := refHeader(b)
	return h.RecordCount > 0 && h.LastOffsetDelta == h.RecordCount-1 &&
		h.Attributes&record.AttrCompressionMask <= int16(record.CodecZstd) &&
		h.Attributes&record.AttrControl == 0
}

// rebuildCodecs are the layouts a decoded batch is re-encoded with.
var rebuildCodecs = []struct {
	codec  record.Codec
	xerial bool
}{
	{record.CodecNone, false},
	{record.CodecGzip, false},
	{record.CodecSnappy, false},
	{record.CodecSnappy, true},
	{record.CodecLZ4, false},
	{record.CodecZstd, false},
}

// FuzzRecordBatch feeds arbitrary bytes to the record package's batch
// validation, framing and decoding. Because random bytes almost never carry
// a valid CRC, fix lets the fuzzer repair the input first: bit 0 sets
// batchLength to len-12, bit 1 recomputes the CRC (after the length), so
// that the fuzzer can also explore what lies behind the CRC check. codec
// picks the layout used to re-encode a decoded batch, limitShift the
// decompression limit (64 << (limitShift%16) bytes), base the offset given
// to SetBaseOffset.
//
// Invariants:
//   - nothing panics, whatever the input (Check, CheckProduce, Next, Split,
//     NewIterator and the record decoding behind it);
//   - Check accepts exactly what refValid accepts: magic 2, a batchLength
//     of at least 49 consistent with the slice length, a non-negative
//     lastOffsetDelta, and a CRC-32C over bytes 21..end (recomputed here
//     with hash/crc32) equal to the stored one; the header it returns
//     matches the bytes; a rejection is ErrCorrupt or, for magic 0/1,
//     ErrOldMagic;
//   - CheckProduce accepts exactly Check's batches that have records,
//     dense offset deltas, a known codec and no control bit;
//   - Split cuts the input into consecutive pieces that are each framed
//     by their own batchLength, covering all of it when it returns no
//     error; Next agrees with Split's first piece; every piece obeys the
//     Check reference too;
//   - an accepted batch stays accepted, with the same header except the
//     base offset (and the epoch), after SetBaseOffset and
//     SetPartitionLeaderEpoch, which touch nothing but their own bytes;
//   - NewIterator never returns more than the decompression limit: a
//     successful iteration yields exactly recordCount records whose
//     keys, values and headers fit in the limit; errors are ErrCorrupt or
//     ErrTooLarge;
//   - the records of a fully decoded batch, rebuilt with record.Build in
//     any codec, give a batch that CheckProduce accepts and that decodes
//     to the same records.
func FuzzRecordBatch(f *testing.F) {
	for _, seed := range recordBatchSeeds() {
		f.Add(seed, uint8(0), uint8(0), uint8(14), int64(12345))
	}
	// A few mutations with the repair bits on, so the corpus starts with
	// inputs whose interesting part lies behind the CRC.
	b := record.SimpleBatch(3, 5, 1000, 1)
	f.Add(b[:len(b)-1], uint8(3), uint8(1), uint8(14), int64(0))
	damaged := bytes.Clone(b)
	damaged[record.HeaderSize] = 0x7f // record length varint
	f.Add(damaged, uint8(2), uint8(2), uint8(10), int64(-1))
	f.Add([]byte{}, uint8(0), uint8(0), uint8(0), int64(0))
	f.Add(make([]byte, record.HeaderSize), uint8(3), uint8(5), uint8(3), int64(1<<62))

	f.Fuzz(func(t *testing.T, data []byte, fix, codec, limitShift uint8, base int64) {
		b := bytes.Clone(data)
		if fix&1 != 0 && len(b) >= record.LogOverhead {
			binary.BigEndian.PutUint32(b[record.OffsetBatchLength:], uint32(len(b)-record.LogOverhead))
		}
		if fix&2 != 0 && len(b) >= record.OffsetAttributes {
			binary.BigEndian.PutUint32(b[record.OffsetCRC:], crc32.Checksum(b[record.OffsetAttributes:], castagnoli))
		}
		limit := 64 << (limitShift % 16)

		checkOneBatch(t, b, base)
		checkFraming(t, b, base)
		checkIterator(t, b, limit, rebuildCodecs[int(codec)%len(rebuildCodecs)])
	})
}

// checkOneBatch compares Check and CheckProduce with the references and
// exercises SetBaseOffset / SetPartitionLeaderEpoch on accepted batches.
func checkOneBatch(t *testing.T, b []byte, base int64) {
	t.Helper()
	h, err := record.Check(b)
	want := refValid(b)
	switch {
	case err == nil && !want:
		t.Fatalf("Check accepted a batch the reference rejects (len %d, header %+v)", len(b), h)
	case err != nil && want:
		t.Fatalf("Check rejected a valid batch: %v", err)
	case err != nil:
		if !errors.Is(err, record.ErrCorrupt) && !errors.Is(err, record.ErrOldMagic) {
			t.Fatalf("Check error %v is neither ErrCorrupt nor ErrOldMagic", err)
		}
		if errors.Is(err, record.ErrOldMagic) && (len(b) <= record.OffsetMagic || b[record.OffsetMagic] > 1) {
			t.Fatalf("Check says old magic (%v) for a %d-byte input whose magic byte is not 0 or 1", err, len(b))
		}
	}
	ph, perr := record.CheckProduce(b)
	if wantP := refProduceValid(b); (perr == nil) != wantP {
		t.Fatalf("CheckProduce error %v, reference says valid=%v", perr, wantP)
	}
	if perr == nil && ph != h {
		t.Fatalf("CheckProduce header %+v differs from Check's %+v", ph, h)
	}
	if err != nil {
		return
	}
	if ref := refHeader(b); h != ref {
		t.Fatalf("Check header %+v, bytes say %+v", h, ref)
	}
	if h.Size() != len(b) {
		t.Fatalf("header size %d, batch %d bytes", h.Size(), len(b))
	}

	// Base offset and epoch lie outside the CRC'd range.
	c := bytes.Clone(b)
	record.SetBaseOffset(c, base)
	record.SetPartitionLeaderEpoch(c, int32(base))
	if !bytes.Equal(c[record.OffsetBatchLength:record.OffsetPartitionLeaderEpoch], b[record.OffsetBatchLength:record.OffsetPartitionLeaderEpoch]) ||
		!bytes.Equal(c[record.OffsetMagic:], b[record.OffsetMagic:]) {
		t.Fatalf("SetBaseOffset/SetPartitionLeaderEpoch changed bytes outside their fields")
	}
	h2, err := record.Check(c)
	if err != nil {
		t.Fatalf("batch invalid after SetBaseOffset(%d): %v", base, err)
	}
	want2 := h
	want2.BaseOffset, want2.PartitionLeaderEpoch = base, int32(base)
	if h2 != want2 {
		t.Fatalf("header after SetBaseOffset %+v, want %+v", h2, want2)
	}
	if _, perr2 := record.CheckProduce(c); (perr2 == nil) != (perr == nil) {
		t.Fatalf("CheckProduce changed its verdict after SetBaseOffset: %v then %v", perr, perr2)
	}
}

// checkFraming checks Next and Split on b taken as concatenated batches.
func checkFraming(t *testing.T, b []byte, base int64) {
	t.Helper()
	pieces, err := record.Split(b)
	pos := 0
	for i, p := range pieces {
		if len(p) < record.LogOverhead {
			t.Fatalf("Split piece %d has %d bytes", i, len(p))
		}
		if n := int64(int32(binary.BigEndian.Uint32(p[record.OffsetBatchLength:]))) + record.LogOverhead; n != int64(len(p)) {
			t.Fatalf("Split piece %d: %d bytes, batchLength says %d", i, len(p), n)
		}
		if len(p) > record.OffsetMagic && p[record.OffsetMagic] == record.MagicV2 && len(p) < record.HeaderSize {
			t.Fatalf("Split piece %d: a v2 batch of %d bytes, shorter than a header", i, len(p))
		}
		if !bytes.Equal(p, b[pos:pos+len(p)]) {
			t.Fatalf("Split piece %d is not the input at %d", i, pos)
		}
		pos += len(p)
		if len(pieces) > 1 {
			checkOneBatch(t, p, base)
		}
	}
	if err == nil && pos != len(b) {
		t.Fatalf("Split returned no error but covered %d of %d bytes", pos, len(b))
	}
	if err != nil && !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("Split error %v is not ErrCorrupt", err)
	}
	first, rest, nerr := record.Next(b)
	switch {
	case len(b) == 0:
		if nerr == nil {
			t.Fatalf("Next framed a batch in zero bytes")
		}
	case len(pieces) > 0:
		if nerr != nil || !bytes.Equal(first, pieces[0]) || len(first)+len(rest) != len(b) {
			t.Fatalf("Next (%d bytes, err %v) disagrees with Split's first piece (%d bytes)", len(first), nerr, len(pieces[0]))
		}
	default:
		if nerr == nil {
			t.Fatalf("Next framed %d bytes where Split found nothing (%v)", len(first), err)
		}
	}
}

// checkIterator decodes b's records with a decompression limit and, when
// that works, re-encodes them.
func checkIterator(t *testing.T, b []byte, limit int, rebuild struct {
	codec  record.Codec
	xerial bool
}) {
	t.Helper()
	it, err := record.NewIterator(b, limit)
	if err != nil {
		if !errors.Is(err, record.ErrCorrupt) && !errors.Is(err, record.ErrTooLarge) && !errors.Is(err, record.ErrOldMagic) {
			t.Fatalf("NewIterator error %v is not ErrCorrupt/ErrTooLarge/ErrOldMagic", err)
		}
		return
	}
	h := it.Header()
	if ph, perr := record.ParseHeader(b); perr != nil || ph != h {
		t.Fatalf("iterator header %+v, ParseHeader %+v (%v)", h, ph, perr)
	}
	var recs []record.Record
	payload := 0
	for it.Next() {
		r := it.Record()
		payload += len(r.Key) + len(r.Value)
		for _, hd := range r.Headers {
			payload += len(hd.Key) + len(hd.Value)
		}
		recs = append(recs, r)
		if len(recs) > int(h.RecordCount) {
			t.Fatalf("iterator yielded more than recordCount=%d records", h.RecordCount)
		}
	}
	if payload > limit {
		t.Fatalf("records hold %d bytes, above the decompression limit %d", payload, limit)
	}
	if err := it.Err(); err != nil {
		if !errors.Is(err, record.ErrCorrupt) {
			t.Fatalf("iterator error %v is not ErrCorrupt", err)
		}
		return
	}
	if len(recs) != int(h.RecordCount) {
		t.Fatalf("iterator ended cleanly after %d records, recordCount=%d", len(recs), h.RecordCount)
	}
	if len(recs) == 0 {
		return
	}

	// Re-encode and decode again: Build and the decoders must agree.
	opts := record.DefaultBatchOptions()
	opts.Codec, opts.SnappyXerial = rebuild.codec, rebuild.xerial
	opts.LogAppendTime, opts.LogAppendTimeMs = h.LogAppendTime(), h.MaxTimestamp
	rebuilt, err := record.Build(opts, recs)
	if err != nil {
		t.Fatalf("Build of %d decoded records (%v): %v", len(recs), rebuild.codec, err)
	}
	if _, err := record.CheckProduce(rebuilt); err != nil {
		t.Fatalf("Build made a batch CheckProduce rejects: %v", err)
	}
	again, err := record.DecodeRecords(rebuilt, max(limit, 2*payload+64*len(recs)+1024))
	if err != nil {
		t.Fatalf("rebuilt batch (%v, xerial=%v) does not decode: %v", rebuild.codec, rebuild.xerial, err)
	}
	if len(again) != len(recs) {
		t.Fatalf("rebuilt batch has %d records, want %d", len(again), len(recs))
	}
	for i := range recs {
		a, w := again[i], recs[i]
		a.Offset, w.Offset = 0, 0
		if !recordsEqual(a, w) {
			t.Fatalf("record %d changed through Build/Decode (%v): got %+v want %+v", i, rebuild.codec, a, w)
		}
	}
}

// recordsEqual compares records, treating nil and empty byte slices as
// different (null versus empty is meaningful in Kafka).
func recordsEqual(a, b record.Record) bool {
	if a.Timestamp != b.Timestamp || a.Attributes != b.Attributes || !sameBytes(a.Key, b.Key) || !sameBytes(a.Value, b.Value) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !sameBytes(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// recordBatchSeeds are real batches: every codec layout, idempotent,
// transactional, control and log-append-time batches, several batches in a
// row, and a message-format-v1 entry.
func recordBatchSeeds() [][]byte {
	recs := []record.Record{
		{Timestamp: 1000, Key: []byte("k0"), Value: []byte("hello")},
		{Timestamp: 990, Key: nil, Value: []byte{}},
		{Timestamp: 1500, Key: []byte{}, Value: nil, Headers: []record.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "", Value: nil}}},
		{Timestamp: 1200, Key: []byte("k3"), Value: bytes.Repeat([]byte("abc"), 200)},
	}
	var seeds [][]byte
	for _, c := range rebuildCodecs {
		opts := record.DefaultBatchOptions()
		opts.Codec, opts.SnappyXerial = c.codec, c.xerial
		opts.BaseOffset = 100
		seeds = append(seeds, record.MustBuild(opts, recs))
	}
	idem := record.DefaultBatchOptions()
	idem.ProducerID, idem.ProducerEpoch, idem.BaseSequence = 7, 1, 2147483646 // wraps
	idem.PartitionLeaderEpoch = 3
	seeds = append(seeds, record.MustBuild(idem, recs[:2]))
	txn := idem
	txn.Transactional = true
	seeds = append(seeds, record.MustBuild(txn, recs[:1]))
	ctl := txn
	ctl.Control = true
	seeds = append(seeds, record.MustBuild(ctl, []record.Record{{Timestamp: 5, Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}}))
	lat := record.DefaultBatchOptions()
	lat.LogAppendTime, lat.LogAppendTimeMs, lat.Codec = true, 99999, record.CodecLZ4
	seeds = append(seeds, record.MustBuild(lat, recs))
	// Three batches back to back, as in a produce request or a segment.
	multi := append(bytes.Clone(seeds[0]), seeds[2]...)
	multi = append(multi, record.SimpleBatch(2, 3, 7, 9)...)
	seeds = append(seeds, multi)
	// A magic-1 message: offset, length, crc, magic 1, attrs, timestamp,
	// null key, value.
	v1 := binary.BigEndian.AppendUint64(nil, 0)
	v1 = binary.BigEndian.AppendUint32(v1, 4+1+1+8+4+4+2)
	v1 = append(v1, 0, 0, 0, 0, 1, 0)
	v1 = binary.BigEndian.AppendUint64(v1, 1000)
	v1 = binary.BigEndian.AppendUint32(v1, 0xffffffff)
	v1 = binary.BigEndian.AppendUint32(v1, 2)
	v1 = append(v1, 'h', 'i')
	seeds = append(seeds, v1)
	return seeds
}
