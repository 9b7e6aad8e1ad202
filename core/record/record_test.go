package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// sampleRecords covers null and empty keys and values, headers (including
// a null header value) and non-monotonic timestamps.
func sampleRecords() []Record {
	return []Record{
		{Timestamp: 1000, Key: []byte("k0"), Value: []byte("hello")},
		{Timestamp: 990, Key: nil, Value: []byte{}},
		{Timestamp: 1500, Key: []byte{}, Value: nil, Headers: []RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "", Value: nil}}},
		{Timestamp: 1200, Key: []byte("k3"), Value: bytes.Repeat([]byte("abc"), 5000)},
	}
}

// codecCases lists every codec layout the package reads.
var codecCases = []struct {
	name   string
	codec  Codec
	xerial bool
}{
	{"none", CodecNone, false},
	{"gzip", CodecGzip, false},
	{"snappy-raw", CodecSnappy, false},
	{"snappy-xerial", CodecSnappy, true},
	{"lz4", CodecLZ4, false},
	{"zstd", CodecZstd, false},
}

func TestBuildDecodeRoundTrip(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultBatchOptions()
			opts.BaseOffset = 42
			opts.Codec = tc.codec
			opts.SnappyXerial = tc.xerial
			opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = 7, 3, 100
			recs := sampleRecords()
			b, err := Build(opts, recs)
			if err != nil {
				t.Fatal(err)
			}
			h, err := CheckProduce(b)
			if err != nil {
				t.Fatalf("CheckProduce: %v", err)
			}
			want := Header{
				BaseOffset: 42, BatchLength: int32(len(b) - LogOverhead), PartitionLeaderEpoch: -1,
				Magic: 2, CRC: h.CRC, Attributes: int16(tc.codec), LastOffsetDelta: 3,
				BaseTimestamp: 1000, MaxTimestamp: 1500, ProducerID: 7, ProducerEpoch: 3,
				BaseSequence: 100, RecordCount: 4,
			}
			if h != want {
				t.Fatalf("header\n got %+v\nwant %+v", h, want)
			}
			if h.LastSequence() != 103 || h.LastOffset() != 45 || h.Codec() != tc.codec {
				t.Fatalf("derived fields: lastSeq %d lastOffset %d codec %v", h.LastSequence(), h.LastOffset(), h.Codec())
			}
			got, err := DecodeRecords(b, 1<<20)
			if err != nil {
				t.Fatalf("DecodeRecords: %v", err)
			}
			for i := range recs {
				recs[i].Offset = 42 + int64(i)
			}
			if !reflect.DeepEqual(got, recs) {
				t.Fatalf("records differ\n got %+v\nwant %+v", got, recs)
			}
		})
	}
}

// TestAgainstKmsg cross-checks the encoding with franz-go's independent
// decoder, and decodes records that franz-go encoded.
func TestAgainstKmsg(t *testing.T) {
	b := MustBuild(DefaultBatchOptions(), sampleRecords())
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if kb.NumRecords != 4 || kb.MaxTimestamp != 1500 || kb.Magic != 2 || uint32(kb.CRC) != ComputeCRC(b) {
		t.Fatalf("kmsg sees %+v", kb)
	}
	rest := kb.Records
	for i, want := range sampleRecords() {
		var kr kmsg.Record
		if err := kr.ReadFrom(rest); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(kr.Value, want.Value) || !bytes.Equal(kr.Key, want.Key) || int64(kr.TimestampDelta64)+1000 != want.Timestamp || kr.OffsetDelta != int32(i) {
			t.Fatalf("record %d: kmsg sees %+v", i, kr)
		}
		n := int(kr.Length)
		_, vn := binary.Varint(rest)
		rest = rest[vn+n:]
	}

	// The other way round: records encoded by kmsg inside our header.
	var body []byte
	for i := range 3 {
		kr := kmsg.Record{TimestampDelta64: int64(i * 10), OffsetDelta: int32(i), Key: []byte{byte(i)}, Value: []byte("v"),
			Headers: []kmsg.Header{{Key: "x", Value: []byte("y")}}}
		enc := kr.AppendTo(nil) // Length 0 encodes as one byte
		kr.Length = int32(len(enc) - 1)
		body = kr.AppendTo(body)
	}
	kb = kmsg.RecordBatch{Length: int32(HeaderSize - LogOverhead + len(body)), PartitionLeaderEpoch: 5, Magic: 2,
		LastOffsetDelta: 2, FirstTimestamp: 100, MaxTimestamp: 120, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: 3, Records: body}
	raw := kb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[OffsetCRC:], ComputeCRC(raw))
	recs, err := DecodeRecords(raw, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[2].Timestamp != 120 || recs[1].Offset != 1 || recs[2].Headers[0].Key != "x" {
		t.Fatalf("decoded %+v", recs)
	}
	if _, err := CheckProduce(raw); err != nil {
		t.Fatal(err)
	}
}

// reCRC recomputes the CRC after a test edits a covered field.
func reCRC(b []byte) { binary.BigEndian.PutUint32(b[OffsetCRC:], ComputeCRC(b)) }

func TestCheckErrors(t *testing.T) {
	good := func() []byte { return MustBuild(DefaultBatchOptions(), sampleRecords()[:2]) }
	cases := []struct {
		name    string
		mutate  func([]byte) []byte
		produce bool    // use CheckProduce
		want    []error // errors.Is targets that must hold
		notWant error   // an errors.Is target that must not hold
	}{
		{"ok", func(b []byte) []byte { return b }, true, nil, nil},
		{"short", func(b []byte) []byte { return b[:10] }, false, []error{ErrCorrupt, ErrTruncated}, nil},
		{"short header", func(b []byte) []byte { return b[:40] }, false, []error{ErrCorrupt, ErrTruncated}, nil},
		{"truncated body", func(b []byte) []byte { return b[:len(b)-1] }, false, []error{ErrCorrupt, ErrTruncated}, nil},
		{"trailing bytes", func(b []byte) []byte { return append(b, 0) }, false, []error{ErrCorrupt, ErrInvalidLength}, nil},
		{"length below header", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[OffsetBatchLength:], 10)
			return b
		}, false, []error{ErrCorrupt, ErrInvalidLength}, nil},
		{"magic 0", func(b []byte) []byte { b[OffsetMagic] = 0; return b[:30] }, false, []error{ErrOldMagic}, ErrCorrupt},
		{"magic 1", func(b []byte) []byte { b[OffsetMagic] = 1; return b }, true, []error{ErrOldMagic}, ErrCorrupt},
		{"magic 3", func(b []byte) []byte { b[OffsetMagic] = 3; return b }, false, []error{ErrCorrupt, ErrUnknownMagic}, nil},
		{"crc flip", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, false, []error{ErrCorrupt, ErrCRCMismatch}, nil},
		{"crc field flip", func(b []byte) []byte { b[OffsetCRC] ^= 0x80; return b }, false, []error{ErrCRCMismatch}, nil},
		{"base offset not covered", func(b []byte) []byte { SetBaseOffset(b, 1<<40); SetPartitionLeaderEpoch(b, 9); return b }, true, nil, nil},
		{"zero records", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[OffsetRecordCount:], 0)
			reCRC(b)
			return b
		}, true, []error{ErrCorrupt, ErrInvalidCount}, nil},
		{"delta mismatch", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[OffsetLastOffsetDelta:], 5)
			reCRC(b)
			return b
		}, true, []error{ErrInvalidCount}, nil},
		{"delta mismatch ok when stored", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[OffsetLastOffsetDelta:], 5)
			reCRC(b)
			return b
		}, false, nil, nil},
		{"negative delta", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[OffsetLastOffsetDelta:], 0xffffffff)
			reCRC(b)
			return b
		}, false, []error{ErrInvalidCount}, nil},
		{"unknown codec", func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[OffsetAttributes:], 6)
			reCRC(b)
			return b
		}, true, []error{ErrUnknownCodec}, nil},
		{"control", func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[OffsetAttributes:], AttrControl)
			reCRC(b)
			return b
		}, true, []error{ErrControlBatch}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(good())
			check := Check
			if tc.produce {
				check = CheckProduce
			}
			_, err := check(b)
			if len(tc.want) == 0 && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Fatalf("error %v is not %v", err, w)
				}
			}
			if tc.notWant != nil && errors.Is(err, tc.notWant) {
				t.Fatalf("error %v must not be %v", err, tc.notWant)
			}
		})
	}
}

func TestSplitAndNext(t *testing.T) {
	a := SimpleBatch(3, 10, 1, 1)
	b := SimpleBatch(1, 100, 2, 2)
	c := SimpleBatch(2, 0, 3, 3)
	all := append(append(append([]byte{}, a...), b...), c...)
	cases := []struct {
		name    string
		in      []byte
		sizes   []int
		wantErr error
	}{
		{"empty", nil, nil, nil},
		{"one", a, []int{len(a)}, nil},
		{"three", all, []int{len(a), len(b), len(c)}, nil},
		{"torn tail", all[:len(all)-3], []int{len(a), len(b)}, ErrTruncated},
		{"tiny tail", all[:len(a)+5], []int{len(a)}, ErrTruncated},
		{"negative length", append(append([]byte{}, a...), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), []int{len(a)}, ErrInvalidLength},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split(tc.in)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			var sizes []int
			for _, g := range got {
				sizes = append(sizes, len(g))
				if _, err := CheckProduce(g); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(sizes, tc.sizes) {
				t.Fatalf("sizes %v, want %v", sizes, tc.sizes)
			}
		})
	}
}

func TestIncrementSequence(t *testing.T) {
	const maxSeq = 1<<31 - 1
	cases := []struct{ seq, delta, want int32 }{
		{0, 0, 0},
		{0, 4, 4},
		{maxSeq, 0, maxSeq},
		{maxSeq, 1, 0},
		{maxSeq - 1, 3, 1},
		{maxSeq - 5, 5, maxSeq},
	}
	for _, tc := range cases {
		if got := IncrementSequence(tc.seq, tc.delta); got != tc.want {
			t.Errorf("IncrementSequence(%d, %d) = %d, want %d", tc.seq, tc.delta, got, tc.want)
		}
	}
}

func TestDecompressLimit(t *testing.T) {
	recs := []Record{{Timestamp: 1, Value: bytes.Repeat([]byte{'z'}, 100000)}}
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultBatchOptions()
			opts.Codec, opts.SnappyXerial = tc.codec, tc.xerial
			b := MustBuild(opts, recs)
			if _, err := DecodeRecords(b, 1000); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("want ErrTooLarge, got %v", err)
			}
			if _, err := DecodeRecords(b, 200000); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDecompressGarbage(t *testing.T) {
	for _, tc := range codecCases[1:] {
		t.Run(tc.name, func(t *testing.T) {
			garbage := []byte("definitely not compressed data, but long enough to look like some")
			if tc.xerial {
				garbage = append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 200, 1, 2)
			}
			if _, err := Decompress(tc.codec, garbage, 1<<20); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("want ErrCorrupt, got %v", err)
			}
		})
	}
}

func TestSnappyStreamFormat(t *testing.T) {
	// Hand-built snappy stream: identifier chunk plus one uncompressed
	// chunk (type 0x01, 3-byte length, 4-byte masked CRC, data). The CRC
	// is checked by the reader, so compute it as the format demands.
	data := []byte("stream-format payload")
	crc := crc32c(data)
	masked := ((crc >> 15) | (crc << 17)) + 0xa282ead8
	chunk := []byte{0x01, byte(len(data) + 4), 0, 0}
	chunk = binary.LittleEndian.AppendUint32(chunk, masked)
	src := append(append(append([]byte{}, snappyStreamMagic...), chunk...), data...)
	got, err := Decompress(CodecSnappy, src, 1<<10)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func crc32c(b []byte) uint32 {
	return ComputeCRC(append(make([]byte, OffsetAttributes), b...))
}

func TestInvalidRecords(t *testing.T) {
	good := MustBuild(DefaultBatchOptions(), sampleRecords()[:1])
	cases := []struct {
		name   string
		mutate func([]byte) []byte
	}{
		{"count too high", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[OffsetRecordCount:], 2)
			return b
		}},
		{"count too low", func(b []byte) []byte {
			b = append(b, MustBuild(DefaultBatchOptions(), sampleRecords()[:1])[HeaderSize:]...)
			binary.BigEndian.PutUint32(b[OffsetBatchLength:], uint32(len(b)-LogOverhead))
			return b
		}},
		{"record length too long", func(b []byte) []byte { b[HeaderSize] = 0x7e; return b }},
		{"cut record", func(b []byte) []byte {
			b = b[:len(b)-2]
			binary.BigEndian.PutUint32(b[OffsetBatchLength:], uint32(len(b)-LogOverhead))
			return b
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(append([]byte{}, good...))
			if _, err := DecodeRecords(b, 1<<20); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("want ErrInvalidRecord, got %v", err)
			}
		})
	}
}

func TestLogAppendTime(t *testing.T) {
	opts := DefaultBatchOptions()
	opts.LogAppendTime, opts.LogAppendTimeMs = true, 777
	recs, err := DecodeRecords(MustBuild(opts, sampleRecords()), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Timestamp != 777 {
			t.Fatalf("timestamp %d, want 777", r.Timestamp)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	batch := SimpleBatch(16, 1024, 1, 1)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CheckProduce(batch); err != nil {
			b.Fatal(err)
		}
	}
}
