package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/record"
)

// compressedBatch returns a batch of 100 JSON-like records compressed with
// codec, stamped tsMs, tsMs+1, ...
func compressedBatch(t testing.TB, codec record.Codec, tsMs int64) []byte {
	opts := record.DefaultBatchOptions()
	opts.Codec = codec
	recs := make([]record.Record, 100)
	for i := range recs {
		recs[i] = record.Record{
			Timestamp: tsMs + int64(i),
			Key:       []byte(fmt.Sprintf("user-%05d", i*7919%100000)),
			Value:     []byte(fmt.Sprintf(`{"id":%d,"event":"page_view","path":"/items/%d","ms":%d}`, i, i*31%977, i*37%1000)),
		}
	}
	batch, err := record.Build(opts, recs)
	if err != nil {
		t.Fatal(err)
	}
	return batch
}

// produceOnce hands the broker one acks=1 produce of batch and runs the
// flush and its syncs as the node does, without the harness's
// CheckInvariants after each step (it would dominate the figures).
func (tb *testBroker) produceOnce(topic string, batch []byte) {
	tb.handleQuietly(produceRequest(9, 1, topic, 0, batch))
	tb.b.Flush()
	for len(tb.syncer.jobs) > 0 {
		jobs := tb.syncer.jobs
		tb.syncer.jobs = nil
		for _, j := range jobs {
			tb.b.SyncDone(tb.nowMs, j.token, j.job, j.job.Run())
		}
	}
}

// trimReplies keeps a benchmark's recorded replies from growing without
// bound.
func (tb *testBroker) trimReplies() {
	if len(tb.replier.replies) > 1<<16 {
		tb.replier.replies = tb.replier.replies[:0]
	}
}

// listOffsetInBatch returns a ListOffsets request for timestampMs on
// partition 0 of topic, after checking that the broker answers it with
// the offset of the record stamped timestampMs in the one batch produced
// (compressedBatch stamps record i at its first timestamp plus i).
func (tb *testBroker) listOffsetInBatch(topic string, timestampMs int64) *kmsg.ListOffsetsRequest {
	tb.t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = timestampMs
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	sp := tb.do(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if want := timestampMs - tb.nowMs; sp.ErrorCode != 0 || sp.Offset != want {
		tb.t.Fatalf("ListOffsets %d: error %d offset %d, want offset %d", timestampMs, sp.ErrorCode, sp.Offset, want)
	}
	return req
}

// handleQuietly hands the broker req without the harness's checks.
func (tb *testBroker) handleQuietly(req kmsg.Request) {
	tb.seq++
	tb.b.HandleRequest(tb.nowMs, &Request{Conn: 1, Seq: tb.seq, CorrelationID: int32(tb.seq), Msg: req})
	tb.trimReplies()
}

// BenchmarkCompressedBatch measures, for each codec, the broker's work on a
// compressed batch of 100 records: "produce" is one acks=1 produce with
// its flush and sync (the broker checks the batch's CRC and stores it as
// sent; it does not decompress it), "list-offsets-by-time" one
// ListOffsets for a timestamp inside the batch, which decompresses it to
// find the record (partlog's searchBatch, the broker's one decompressing
// path).
func BenchmarkCompressedBatch(b *testing.B) {
	for _, codec := range []record.Codec{record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd} {
		b.Run(codec.String()+"/produce", func(b *testing.B) {
			tb := newTestBroker(b)
			tb.createTopic("t", 1, nil)
			batch := compressedBatch(b, codec, tb.nowMs)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tb.produceOnce("t", batch)
			}
		})
		b.Run(codec.String()+"/list-offsets-by-time", func(b *testing.B) {
			tb := newTestBroker(b)
			tb.createTopic("t", 1, nil)
			tb.produceOnce("t", compressedBatch(b, codec, tb.nowMs))
			req := tb.listOffsetInBatch("t", tb.nowMs+50)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tb.handleQuietly(req)
			}
		})
	}
}
