package record

import (
	"fmt"
	"testing"
)

// benchCodecs are the codecs the benchmarks measure, in attribute order.
var benchCodecs = []Codec{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// benchRecords returns the records of a typical produced batch: n JSON-like
// values of about 150 bytes with a key, so that every codec finds the
// redundancy real payloads have (a field name repeated, digits varying).
func benchRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{
			Timestamp: 1_700_000_000_000 + int64(i),
			Key:       []byte(fmt.Sprintf("user-%05d", i*7919%100000)),
			Value: []byte(fmt.Sprintf(`{"id":%d,"user":"user-%05d","event":"page_view","path":"/items/%d","ms":%d,"ok":%t}`,
				i, i*7919%100000, i*31%977, i*37%1000, i%3 != 0)),
		}
	}
	return recs
}

// benchBatch builds the batch benchBatchDecode and benchBatchBuild use:
// 100 records, about 11 KiB before compression, the size a client's
// 16 KiB batch.size gives at a moderate produce rate.
func benchBatch(b *testing.B, codec Codec) []byte {
	opts := DefaultBatchOptions()
	opts.Codec = codec
	batch, err := Build(opts, benchRecords(100))
	if err != nil {
		b.Fatal(err)
	}
	return batch
}

// BenchmarkDecodeBatch measures what a broker does with a produced
// compressed batch when it looks inside (a timestamp lookup, validation):
// decompress the records block and walk every record. "percall" is the
// package-level NewIterator, which builds the codec's decoder for the
// call (the only way before record.Codecs existed).
func BenchmarkDecodeBatch(b *testing.B) {
	for _, codec := range benchCodecs {
		batch := benchBatch(b, codec)
		b.Run(codec.String()+"/percall", func(b *testing.B) {
			benchDecode(b, batch, NewIterator)
		})
		benchDecodeReused(b, codec, batch)
	}
}

// benchDecode runs one decode of batch per iteration through newIt.
func benchDecode(b *testing.B, batch []byte, newIt func([]byte, int) (*Iterator, error)) {
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for i := 0; i < b.N; i++ {
		it, err := newIt(batch, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for it.Next() {
			n++
		}
		if it.Err() != nil || n != 100 {
			b.Fatalf("%d records, %v", n, it.Err())
		}
	}
}

// BenchmarkBuildBatch measures what a producer (or a test) does to make a
// compressed batch: encode 100 records and compress them.
func BenchmarkBuildBatch(b *testing.B) {
	recs := benchRecords(100)
	for _, codec := range benchCodecs {
		opts := DefaultBatchOptions()
		opts.Codec = codec
		b.Run(codec.String()+"/percall", func(b *testing.B) {
			benchBuild(b, recs, func(recs []Record) ([]byte, error) { return Build(opts, recs) })
		})
		benchBuildReused(b, opts, recs)
	}
}

// benchBuild runs one build per iteration through build.
func benchBuild(b *testing.B, recs []Record, build func([]Record) ([]byte, error)) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := build(recs); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDecodeReused adds the "reused" variant of BenchmarkDecodeBatch: one
// Codecs, as the broker holds, decodes every iteration.
func benchDecodeReused(b *testing.B, codec Codec, batch []byte) {
	b.Run(codec.String()+"/reused", func(b *testing.B) {
		var c Codecs
		benchDecode(b, batch, c.NewIterator)
	})
}

// benchBuildReused adds the "reused" variant of BenchmarkBuildBatch.
func benchBuildReused(b *testing.B, opts BatchOptions, recs []Record) {
	b.Run(opts.Codec.String()+"/reused", func(b *testing.B) {
		var c Codecs
		benchBuild(b, recs, func(recs []Record) ([]byte, error) { return c.Build(opts, recs) })
	})
}
