package main

// End-to-end tests with franz-go (kgo, kadm, raw kmsg) against the real
// chronik binary. Expected behaviour is Apache Kafka's.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ---- helpers for raw requests ----

// e2eTopicInfo returns the leader, leader epoch and topic ID of topic[p].
func e2eTopicInfo(t testing.TB, adm *kadm.Client, topic string, p int32) (leader, epoch int32, id [16]byte) {
	t.Helper()
	ctx := e2eTestCtx(t, 10*time.Second)
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatalf("metadata %s: %v", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		t.Fatalf("metadata %s: present=%v err=%v", topic, ok, td.Err)
	}
	pd, ok := td.Partitions[p]
	if !ok || pd.Err != nil {
		t.Fatalf("metadata %s[%d]: present=%v err=%v", topic, p, ok, pd.Err)
	}
	return pd.Leader, pd.LeaderEpoch, td.ID
}

// e2eAnyBrokerID returns the node id of the first broker in metadata.
func e2eAnyBrokerID(t testing.TB, adm *kadm.Client) int32 {
	t.Helper()
	ctx := e2eTestCtx(t, 10*time.Second)
	md, err := adm.BrokerMetadata(ctx)
	if err != nil || len(md.Brokers) == 0 {
		t.Fatalf("broker metadata: %v (%d brokers)", err, len(md.Brokers))
	}
	return md.Brokers[0].NodeID
}

// e2eRawFetch sends one Fetch for topic[p] at offset straight to the leader
// (no retries, no client-side filtering) and returns the partition answer.
func e2eRawFetch(t testing.TB, cl *kgo.Client, topic string, p int32, offset int64, maxWaitMs int32, modify ...func(*kmsg.FetchRequest)) kmsg.FetchResponseTopicPartition {
	t.Helper()
	adm := kadm.NewClient(cl)
	leader, _, id := e2eTopicInfo(t, adm, topic, p)
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = maxWaitMs
	req.MinBytes = 1
	req.MaxBytes = 8 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rt.TopicID = id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = p
	rp.CurrentLeaderEpoch = -1
	rp.FetchOffset = offset
	rp.LogStartOffset = -1
	rp.PartitionMaxBytes = 4 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	for _, f := range modify {
		f(req)
	}
	ctx := e2eTestCtx(t, time.Duration(maxWaitMs)*time.Millisecond+15*time.Second)
	kresp, err := cl.Broker(int(leader)).Request(ctx, req)
	if err != nil {
		t.Fatalf("fetch %s[%d]@%d: %v", topic, p, offset, err)
	}
	resp := kresp.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("fetch %s[%d]@%d: top-level error %v", topic, p, offset, kerr.ErrorForCode(resp.ErrorCode))
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.Partition == p {
				return rp
			}
		}
	}
	t.Fatalf("fetch %s[%d]@%d: partition missing from response %+v", topic, p, offset, resp)
	return kmsg.FetchResponseTopicPartition{}
}

// e2eRawProduce sends one acks=all Produce with one batch for topic[p]
// straight to the leader and returns the partition's answer.
func e2eRawProduce(t testing.TB, cl *kgo.Client, leader int32, topic string, id [16]byte, p int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rt.TopicID = id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = p
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx := e2eTestCtx(t, 20*time.Second)
	kresp, err := cl.Broker(int(leader)).Request(ctx, req)
	if err != nil {
		t.Fatalf("produce to %s[%d]: %v", topic, p, err)
	}
	resp := kresp.(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce to %s[%d]: malformed response %+v", topic, p, resp)
	}
	return resp.Topics[0].Partitions[0]
}

// e2eRawListOffset sends one ListOffsets (negotiated version) for topic[p].
func e2eRawListOffset(t testing.TB, cl *kgo.Client, topic string, p int32, timestamp int64) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = p
	rp.CurrentLeaderEpoch = -1
	rp.Timestamp = timestamp
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx := e2eTestCtx(t, 10*time.Second)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ListOffsets %s[%d] ts=%d: %v", topic, p, timestamp, err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rt.Topic == topic && rp.Partition == p {
				return rp
			}
		}
	}
	t.Fatalf("ListOffsets %s[%d]: partition missing from response", topic, p)
	return kmsg.ListOffsetsResponseTopicPartition{}
}

func e2eCodecName(c kgo.CompressionCodec) string {
	switch c {
	case kgo.NoCompression():
		return "none"
	case kgo.GzipCompression():
		return "gzip"
	case kgo.SnappyCompression():
		return "snappy"
	case kgo.Lz4Compression():
		return "lz4"
	case kgo.ZstdCompression():
		return "zstd"
	}
	return "?"
}

// ---- produce and consume ----

// TestE2EProduceConsume produces with every codec at acks 0, 1 and all,
// consumes the records back and compares every field; it also checks that
// the broker keeps the producer's codec (compression.type=producer).
func TestE2EProduceConsume(t *testing.T) {
	b := e2eStartBroker(t)
	codecs := []struct {
		codec kgo.CompressionCodec
		attr  int16 // batch attributes & 7
	}{
		{kgo.NoCompression(), 0},
		{kgo.GzipCompression(), 1},
		{kgo.SnappyCompression(), 2},
		{kgo.Lz4Compression(), 3},
		{kgo.ZstdCompression(), 4},
	}
	acksList := []struct {
		name string
		acks kgo.Acks
	}{{"acks=0", kgo.NoAck()}, {"acks=1", kgo.LeaderAck()}, {"acks=all", kgo.AllISRAcks()}}

	for _, c := range codecs {
		for _, a := range acksList {
			t.Run(e2eCodecName(c.codec)+"/"+a.name, func(t *testing.T) {
				t.Parallel()
				topic := e2eUniqueTopic(t)
				cl := e2eNewClient(t, b)
				e2eCreateTopic(t, kadm.NewClient(cl), topic, 1, nil)

				opts := []kgo.Opt{
					kgo.ProducerBatchCompression(c.codec),
					kgo.RequiredAcks(a.acks),
					kgo.DefaultProduceTopic(topic),
					kgo.ProducerLinger(5 * time.Millisecond),
				}
				if a.acks != kgo.AllISRAcks() {
					opts = append(opts, kgo.DisableIdempotentWrite())
				}
				pcl := e2eNewClient(t, b, opts...)
				const n = 60
				want := e2eTestRecords(topic, n, time.Now().Add(-time.Minute))
				e2eProduceSync(t, pcl, want...)
				if a.acks != kgo.NoAck() {
					for i, r := range want {
						if r.Offset != int64(i) || r.Partition != 0 {
							t.Fatalf("record %d acknowledged at %d[%d], want offset %d (dense from 0)", i, r.Partition, r.Offset, i)
						}
					}
				}

				got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), n, 15*time.Second)
				if len(got) != n {
					t.Fatalf("consumed %d records, want %d", len(got), n)
				}
				for i := range want {
					if got[i].Offset != int64(i) {
						t.Fatalf("record %d has offset %d", i, got[i].Offset)
					}
					if err := e2eSameRecord(want[i], got[i]); err != nil {
						t.Errorf("record %d: %v", i, err)
					}
				}
				if end := e2eEndOffset(t, kadm.NewClient(cl), topic, 0); end != n {
					t.Errorf("end offset %d, want %d", end, n)
				}

				// Kafka's default compression.type=producer stores batches as sent.
				fp := e2eRawFetch(t, cl, topic, 0, 0, 0)
				if fp.ErrorCode != 0 {
					t.Fatalf("raw fetch: %v", kerr.ErrorForCode(fp.ErrorCode))
				}
				bs := e2eBatchHeaders(t, fp.RecordBatches)
				if len(bs) == 0 {
					t.Fatalf("raw fetch from 0 returned no batches")
				}
				for _, bh := range bs {
					if bh.Attributes&7 != c.attr {
						t.Errorf("stored batch at %d has codec %d, want %d (compression.type=producer keeps the producer's codec)", bh.FirstOffset, bh.Attributes&7, c.attr)
					}
					if bh.Magic != 2 {
						t.Errorf("batch at %d magic %d", bh.FirstOffset, bh.Magic)
					}
				}
			})
		}
	}

	t.Run("large-record", func(t *testing.T) {
		t.Parallel()
		topic := e2eUniqueTopic(t)
		cl := e2eNewClient(t, b, kgo.DefaultProduceTopic(topic))
		e2eCreateTopic(t, kadm.NewClient(cl), topic, 1, nil)
		big := bytes.Repeat([]byte("0123456789abcdef"), 600<<10/16) // 600 KiB, under max.message.bytes
		want := []*kgo.Record{{Key: []byte("big"), Value: big, Timestamp: time.UnixMilli(time.Now().UnixMilli())}}
		e2eProduceSync(t, cl, want...)
		got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), 1, 15*time.Second)
		if err := e2eSameRecord(want[0], got[0]); err != nil {
			t.Fatal(err)
		}
	})
}

// TestE2EIdempotentProducer covers kgo's default idempotent producer, and a
// raw replay of the same idempotent batch that must be deduplicated.
func TestE2EIdempotentProducer(t *testing.T) {
	b := e2eStartBroker(t)

	t.Run("kgo-default", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		cl := e2eNewClient(t, b, kgo.DefaultProduceTopic(topic)) // idempotent, acks=all by default
		e2eCreateTopic(t, kadm.NewClient(cl), topic, 1, nil)
		const n = 500
		want := e2eTestRecords(topic, n, time.Now().Add(-time.Minute))
		ctx := e2eTestCtx(t, 20*time.Second)
		// Asynchronous, so several batches are in flight at once.
		results := make(chan error, n)
		for _, r := range want {
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) { results <- err })
		}
		for range n {
			if err := <-results; err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
		for i, r := range want {
			if r.Offset != int64(i) {
				t.Fatalf("record %d acknowledged at offset %d", i, r.Offset)
			}
		}
		got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), n, 15*time.Second)
		for i := range want {
			if err := e2eSameRecord(want[i], got[i]); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
		if end := e2eEndOffset(t, kadm.NewClient(cl), topic, 0); end != n {
			t.Fatalf("end offset %d, want %d", end, n)
		}
	})

	t.Run("raw-duplicate-batch", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		cl := e2eNewClient(t, b)
		adm := kadm.NewClient(cl)
		e2eCreateTopic(t, adm, topic, 1, nil)
		leader, _, id := e2eTopicInfo(t, adm, topic, 0)
		ctx := e2eTestCtx(t, 30*time.Second)

		ipReq := kmsg.NewPtrInitProducerIDRequest()
		ipReq.TransactionTimeoutMillis = -1
		ipReq.ProducerID = -1
		ipReq.ProducerEpoch = -1
		ip, err := ipReq.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("InitProducerId: %v", err)
		}
		if ip.ErrorCode != 0 || ip.ProducerID < 0 {
			t.Fatalf("InitProducerId: error %v, producer id %d", kerr.ErrorForCode(ip.ErrorCode), ip.ProducerID)
		}
		pid, epoch := ip.ProducerID, ip.ProducerEpoch
		ts := time.Now().UnixMilli()

		produce := func(what string, batch []byte) kmsg.ProduceResponseTopicPartition {
			t.Helper()
			return e2eRawProduce(t, cl, leader, topic, id, 0, batch)
		}
		expect := func(what string, got kmsg.ProduceResponseTopicPartition, code int16, base int64) {
			t.Helper()
			if got.ErrorCode != code || (code == 0 && got.BaseOffset != base) {
				t.Errorf("%s: got error %v base offset %d; want error %v base offset %d",
					what, kerr.ErrorForCode(got.ErrorCode), got.BaseOffset, kerr.ErrorForCode(code), base)
			}
		}

		batchA := e2eEncodeBatch(pid, epoch, 0, ts, "a0", "a1", "a2")
		batchB := e2eEncodeBatch(pid, epoch, 3, ts, "b0", "b1")
		expect("batch A (seq 0-2)", produce("A", batchA), 0, 0)
		expect("batch A again (duplicate)", produce("A dup", batchA), 0, 0)
		expect("batch B (seq 3-4)", produce("B", batchB), 0, 3)
		expect("batch A a third time (older duplicate, within the last 5 batches)", produce("A dup 2", batchA), 0, 0)
		expect("batch B again (duplicate)", produce("B dup", batchB), 0, 3)
		gap := e2eEncodeBatch(pid, epoch, 10, ts, "gap")
		expect("batch with sequence gap (seq 10, expected 5)", produce("gap", gap), int16(kerr.OutOfOrderSequenceNumber.Code), 0)

		if end := e2eEndOffset(t, adm, topic, 0); end != 5 {
			t.Fatalf("end offset %d after duplicates, want 5", end)
		}
		got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), 5, 10*time.Second)
		var vals []string
		for _, r := range got {
			vals = append(vals, string(r.Value))
		}
		if want := []string{"a0", "a1", "a2", "b0", "b1"}; !slices.Equal(vals, want) {
			t.Fatalf("log holds %q, want %q", vals, want)
		}
		for i, r := range got {
			if r.Offset != int64(i) || r.ProducerID != pid || r.ProducerEpoch != epoch {
				t.Errorf("record %d: offset %d pid %d epoch %d; want offset %d pid %d epoch %d", i, r.Offset, r.ProducerID, r.ProducerEpoch, i, pid, epoch)
			}
		}
	})
}

// TestE2EProduceValidation sends batches Kafka rejects: a bad CRC, an
// unknown partition, an unknown topic with auto-creation off.
func TestE2EProduceValidation(t *testing.T) {
	b := e2eStartBroker(t, "--auto-create-topics=false")
	cl := e2eNewClient(t, b)
	adm := kadm.NewClient(cl)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 1, nil)
	leader, _, id := e2eTopicInfo(t, adm, topic, 0)
	ts := time.Now().UnixMilli()

	bad := e2eEncodeBatch(-1, -1, -1, ts, "crc")
	bad[len(bad)-1] ^= 0xff // flip bits in the last record: the CRC no longer matches
	if got := e2eRawProduce(t, cl, leader, topic, id, 0, bad); got.ErrorCode != kerr.CorruptMessage.Code {
		t.Errorf("batch with a wrong CRC: %v, want CORRUPT_MESSAGE", kerr.ErrorForCode(got.ErrorCode))
	}
	if got := e2eRawProduce(t, cl, leader, topic, id, 7, e2eEncodeBatch(-1, -1, -1, ts, "p7")); got.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("batch for partition 7 of a one-partition topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(got.ErrorCode))
	}
	missing := "no-such-topic-" + topic
	// The raw request goes at the highest version, v13, which names the
	// topic by id: an id no topic has is UNKNOWN_TOPIC_ID (a name is
	// UNKNOWN_TOPIC_OR_PARTITION below v13: core/broker TestProduceErrors).
	if got := e2eRawProduce(t, cl, leader, missing, [16]byte{0xde, 0xad}, 0, e2eEncodeBatch(-1, -1, -1, ts, "x")); got.ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("batch for an unknown topic id (auto-create off): %v, want UNKNOWN_TOPIC_ID", kerr.ErrorForCode(got.ErrorCode))
	}
	// With auto-creation off, Metadata never creates topics.
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(missing)}}
	resp, err := req.RequestWith(e2eTestCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("metadata with AllowAutoTopicCreation on a broker with --auto-create-topics=false: %+v, want UNKNOWN_TOPIC_OR_PARTITION", resp.Topics)
	}
	// A good batch still lands at offset 0: nothing above was written.
	if got := e2eRawProduce(t, cl, leader, topic, id, 0, e2eEncodeBatch(-1, -1, -1, ts, "good")); got.ErrorCode != 0 || got.BaseOffset != 0 {
		t.Errorf("good batch after rejected ones: error %v base offset %d, want offset 0", kerr.ErrorForCode(got.ErrorCode), got.BaseOffset)
	}
}

// ---- offsets ----

// TestE2EListOffsets checks earliest, latest, by-timestamp and
// max-timestamp lookups.
func TestE2EListOffsets(t *testing.T) {
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b)
	adm := kadm.NewClient(cl)
	base := time.Now().Add(-time.Hour).UnixMilli()

	t.Run("one-record-batches", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		// Offset i has timestamp base+i*1000, except offset 6, which has
		// the partition's largest timestamp (timestamps are not monotonic).
		ts := func(i int) int64 {
			if i == 6 {
				return base + 100_000
			}
			return base + int64(i)*1000
		}
		for i := range 10 {
			e2eProduceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint(i)), Timestamp: time.UnixMilli(ts(i))})
		}
		ctx := e2eTestCtx(t, 20*time.Second)
		check := func(what string, l kadm.ListedOffsets, err error, offset, timestamp int64) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			o, ok := l.Lookup(topic, 0)
			if !ok || o.Err != nil {
				t.Fatalf("%s: ok=%v err=%v", what, ok, o.Err)
			}
			if o.Offset != offset || (timestamp != 0 && o.Timestamp != timestamp) {
				t.Errorf("%s: offset %d timestamp %d; want offset %d timestamp %d", what, o.Offset, o.Timestamp, offset, timestamp)
			}
		}
		l, err := adm.ListStartOffsets(ctx, topic)
		check("earliest", l, err, 0, 0)
		l, err = adm.ListEndOffsets(ctx, topic)
		check("latest", l, err, 10, 0)
		l, err = adm.ListOffsetsAfterMilli(ctx, base+3500, topic)
		check("timestamp base+3500", l, err, 4, base+4000)
		l, err = adm.ListOffsetsAfterMilli(ctx, base+4000, topic)
		check("timestamp base+4000 (exact)", l, err, 4, base+4000)
		l, err = adm.ListOffsetsAfterMilli(ctx, base+5500, topic)
		check("timestamp base+5500", l, err, 6, base+100_000)
		l, err = adm.ListOffsetsAfterMilli(ctx, base-1, topic)
		check("timestamp before all", l, err, 0, base)
		l, err = adm.ListMaxTimestampOffsets(ctx, topic)
		check("max-timestamp (-3)", l, err, 6, base+100_000)

		// After every record: Kafka answers offset -1, timestamp -1.
		rp := e2eRawListOffset(t, cl, topic, 0, base+200_000)
		if rp.ErrorCode != 0 || rp.Offset != -1 || rp.Timestamp != -1 {
			t.Errorf("timestamp after all records: error %v offset %d timestamp %d; want no error, offset -1, timestamp -1",
				kerr.ErrorForCode(rp.ErrorCode), rp.Offset, rp.Timestamp)
		}
	})

	// Looking inside a batch decompresses it with the broker's shared
	// codecs (record.Codecs): one topic per codec, looked up in turn, so
	// that each lookup follows one with another codec.
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
		attr  int16 // the codec's attribute bits
	}{
		{"none", kgo.NoCompression(), 0}, {"gzip", kgo.GzipCompression(), 1}, {"snappy", kgo.SnappyCompression(), 2},
		{"lz4", kgo.Lz4Compression(), 3}, {"zstd", kgo.ZstdCompression(), 4},
	}
	for _, c := range codecs {
		t.Run("within-one-batch-"+c.name, func(t *testing.T) {
			topic := e2eUniqueTopic(t)
			e2eCreateTopic(t, adm, topic, 1, nil)
			pcl := e2eNewClient(t, b, kgo.ProducerLinger(200*time.Millisecond), kgo.DefaultProduceTopic(topic),
				kgo.ProducerBatchCompression(c.codec))
			stamps := []int64{base, base + 10, base + 50, base + 20, base + 30}
			var rs []*kgo.Record
			for i, s := range stamps {
				// Values that compress: kgo sends a batch that would not
				// shrink uncompressed.
				v := strings.Repeat(fmt.Sprintf("record %d ", i), 20)
				rs = append(rs, &kgo.Record{Value: []byte(v), Timestamp: time.UnixMilli(s)})
			}
			e2eProduceSync(t, pcl, rs...)
			if bs := e2eBatchHeaders(t, e2eRawFetch(t, cl, topic, 0, 0, 0).RecordBatches); len(bs) != 1 || bs[0].Attributes&7 != c.attr {
				t.Fatalf("precondition: the five records should be in one batch compressed with %s, got %d batches (%+v)", c.name, len(bs), bs)
			}
			ctx := e2eTestCtx(t, 10*time.Second)
			l, err := adm.ListOffsetsAfterMilli(ctx, base+15, topic)
			if o, _ := l.Lookup(topic, 0); err != nil || o.Offset != 2 || o.Timestamp != base+50 {
				t.Errorf("timestamp base+15 inside one batch: offset %d timestamp %d err %v; want offset 2 timestamp %d", o.Offset, o.Timestamp, err, base+50)
			}
			l, err = adm.ListMaxTimestampOffsets(ctx, topic)
			if o, _ := l.Lookup(topic, 0); err != nil || o.Offset != 2 || o.Timestamp != base+50 {
				t.Errorf("max-timestamp inside one batch: offset %d timestamp %d err %v; want offset 2 (the record with the max timestamp, KIP-734) timestamp %d", o.Offset, o.Timestamp, err, base+50)
			}
		})
	}

	t.Run("empty-partition", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		for _, c := range []struct {
			what     string
			ts, want int64
		}{{"earliest", -2, 0}, {"latest", -1, 0}, {"max-timestamp", -3, -1}, {"timestamp", base, -1}} {
			rp := e2eRawListOffset(t, cl, topic, 0, c.ts)
			if rp.ErrorCode != 0 || rp.Offset != c.want {
				t.Errorf("%s on empty partition: error %v offset %d; want offset %d", c.what, kerr.ErrorForCode(rp.ErrorCode), rp.Offset, c.want)
			}
		}
	})

	t.Run("unknown-topic", func(t *testing.T) {
		// Sent straight to the broker: kgo would answer for it from metadata.
		topic := "no-such-topic-" + e2eUniqueTopic(t)
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.CurrentLeaderEpoch = -1
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		ctx := e2eTestCtx(t, 10*time.Second)
		kresp, err := cl.Broker(int(e2eAnyBrokerID(t, adm))).Request(ctx, req)
		if err != nil {
			t.Fatalf("ListOffsets: %v", err)
		}
		resp := kresp.(*kmsg.ListOffsetsResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("ListOffsets on unknown topic: malformed response %+v", resp)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("ListOffsets on unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
		}
	})
}

// ---- fetch ----

// TestE2EFetch covers fetching from the middle of a batch, at and beyond
// the end, and long polling.
func TestE2EFetch(t *testing.T) {
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b)
	adm := kadm.NewClient(cl)

	t.Run("middle-offset", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		want := e2eTestRecords(topic, 20, time.Now().Add(-time.Minute))
		for i := 0; i < 20; i += 5 { // four batches of five
			e2eProduceSync(t, cl, want[i:i+5]...)
		}
		got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().At(7), 13, 10*time.Second)
		for i, r := range got {
			if r.Offset != int64(7+i) {
				t.Fatalf("consumed record %d has offset %d, want %d", i, r.Offset, 7+i)
			}
			if err := e2eSameRecord(want[7+i], r); err != nil {
				t.Fatalf("offset %d: %v", r.Offset, err)
			}
		}
		// The raw answer starts with the batch holding offset 7.
		fp := e2eRawFetch(t, cl, topic, 0, 7, 0)
		bs := e2eBatchHeaders(t, fp.RecordBatches)
		if fp.ErrorCode != 0 || len(bs) == 0 {
			t.Fatalf("raw fetch at 7: error %v, %d batches", kerr.ErrorForCode(fp.ErrorCode), len(bs))
		}
		if first := bs[0]; first.FirstOffset > 7 || first.FirstOffset+int64(first.LastOffsetDelta) < 7 {
			t.Errorf("raw fetch at 7: first batch covers %d..%d", first.FirstOffset, first.FirstOffset+int64(first.LastOffsetDelta))
		}
		if fp.HighWatermark != 20 {
			t.Errorf("high watermark %d, want 20", fp.HighWatermark)
		}

		fp = e2eRawFetch(t, cl, topic, 0, 20, 0)
		if fp.ErrorCode != 0 || len(e2eBatchHeaders(t, fp.RecordBatches)) != 0 {
			t.Errorf("fetch at the end offset: error %v, %d bytes; want no error, no records", kerr.ErrorForCode(fp.ErrorCode), len(fp.RecordBatches))
		}
		fp = e2eRawFetch(t, cl, topic, 0, 21, 0)
		if fp.ErrorCode != kerr.OffsetOutOfRange.Code {
			t.Errorf("fetch past the end offset: error %v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(fp.ErrorCode))
		}
	})

	t.Run("first-batch-larger-than-max-bytes", func(t *testing.T) {
		// KIP-74: the first batch is returned whole even when it exceeds
		// the partition and response limits, so consumers make progress.
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		big := make([]byte, 100<<10)
		rand.NewChaCha8([32]byte{7}).Read(big)
		pcl := e2eNewClient(t, b, kgo.ProducerBatchCompression(kgo.NoCompression()))
		e2eProduceSync(t, pcl, &kgo.Record{Topic: topic, Value: big}, &kgo.Record{Topic: topic, Value: []byte("second")})
		fp := e2eRawFetch(t, cl, topic, 0, 0, 0, func(r *kmsg.FetchRequest) {
			r.MaxBytes = 1000
			r.Topics[0].Partitions[0].PartitionMaxBytes = 1000
		})
		bs := e2eBatchHeaders(t, fp.RecordBatches)
		if fp.ErrorCode != 0 || len(bs) == 0 || bs[0].FirstOffset != 0 {
			t.Fatalf("fetch with max bytes 1000 below a 100 KiB batch: error %v, %d bytes, %d whole batches; want the first batch whole",
				kerr.ErrorForCode(fp.ErrorCode), len(fp.RecordBatches), len(bs))
		}
	})

	t.Run("tail-while-producing", func(t *testing.T) {
		// A consumer of every partition (no group) sees everything a
		// concurrent producer writes, in order per partition.
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 3, nil)
		ccl := e2eNewClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
		const n = 3000
		pcl := e2eNewClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(time.Millisecond))
		ctx := e2eTestCtx(t, 60*time.Second)
		perr := make(chan error, 1)
		go func() {
			var first error
			for i := range n {
				pcl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i % 17)), Value: []byte(fmt.Sprintf("tail-%05d", i))}, func(_ *kgo.Record, err error) {
					if err != nil && first == nil {
						first = err
					}
				})
			}
			pcl.Flush(ctx)
			perr <- first
		}()
		seen := map[string]bool{}
		next := map[int32]int64{}
		for len(seen) < n {
			fs := ccl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("tailing consumer saw %d of %d records within 60s", len(seen), n)
			}
			for _, e := range fs.Errors() {
				t.Fatalf("fetch %s[%d]: %v", e.Topic, e.Partition, e.Err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, next[r.Partition]-1)
				}
				next[r.Partition]++
				if seen[string(r.Value)] {
					t.Fatalf("%s seen twice", r.Value)
				}
				seen[string(r.Value)] = true
			})
		}
		if err := <-perr; err != nil {
			t.Fatalf("producer: %v", err)
		}
		if len(next) != 3 {
			t.Errorf("records landed on %d partitions, want 3", len(next))
		}
	})

	t.Run("long-poll", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)

		// With no data, the broker holds the fetch for max wait (lower
		// bound only: a slow machine cannot make this fail).
		start := time.Now()
		fp := e2eRawFetch(t, cl, topic, 0, 0, 1000)
		if fp.ErrorCode != 0 || len(fp.RecordBatches) != 0 {
			t.Fatalf("empty long poll: error %v, %d bytes", kerr.ErrorForCode(fp.ErrorCode), len(fp.RecordBatches))
		}
		if el := time.Since(start); el < 500*time.Millisecond {
			t.Errorf("fetch with MaxWaitMs=1000, MinBytes=1 on an empty partition returned after %v; the broker should wait for data", el)
		}

		// A parked fetch wakes when a record arrives, long before its 20 s
		// max wait.
		type res struct {
			fp kmsg.FetchResponseTopicPartition
			el time.Duration
		}
		done := make(chan res, 1)
		go func() {
			start := time.Now()
			fp := e2eRawFetch(t, cl, topic, 0, 0, 20_000)
			done <- res{fp, time.Since(start)}
		}()
		time.Sleep(300 * time.Millisecond) // let the fetch park first (ordering only)
		e2eProduceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte("wake")})
		select {
		case r := <-done:
			if r.fp.ErrorCode != 0 || len(e2eBatchHeaders(t, r.fp.RecordBatches)) == 0 {
				t.Fatalf("woken fetch: error %v, %d bytes", kerr.ErrorForCode(r.fp.ErrorCode), len(r.fp.RecordBatches))
			}
			if r.el > 15*time.Second {
				t.Errorf("parked fetch returned after %v; it should wake when data arrives, not at its 20 s max wait", r.el)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("parked fetch did not return within 30s")
		}

		// And through kgo: a consumer polling an empty partition sees a
		// record produced while it waits.
		topic2 := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic2, 1, nil)
		ccl := e2eNewClient(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic2: {0: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(10*time.Second))
		got := make(chan []*kgo.Record, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for {
				fs := ccl.PollFetches(ctx)
				if rs := fs.Records(); len(rs) > 0 || ctx.Err() != nil {
					got <- rs
					return
				}
			}
		}()
		time.Sleep(300 * time.Millisecond) // ordering only
		e2eProduceSync(t, cl, &kgo.Record{Topic: topic2, Value: []byte("hello")})
		if rs := <-got; len(rs) != 1 || string(rs[0].Value) != "hello" {
			t.Fatalf("kgo consumer got %d records", len(rs))
		}
	})
}

// ---- topics and configs ----

func e2eConfigOf(rc kadm.ResourceConfig, key string) (kadm.Config, bool) {
	for _, c := range rc.Configs {
		if c.Key == key {
			return c, true
		}
	}
	return kadm.Config{}, false
}

func e2eDescribeTopicConfig(t testing.TB, adm *kadm.Client, topic string) kadm.ResourceConfig {
	t.Helper()
	ctx := e2eTestCtx(t, 10*time.Second)
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatalf("DescribeConfigs %s: %v", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatalf("DescribeConfigs %s: %v", topic, err)
	}
	if rc.Err != nil {
		t.Fatalf("DescribeConfigs %s: %v (%s)", topic, rc.Err, rc.ErrMessage)
	}
	return rc
}

// e2eExpectConfig checks a topic config's value and whether it is a dynamic
// topic override (source DYNAMIC_TOPIC_CONFIG).
func e2eExpectConfig(t testing.TB, rc kadm.ResourceConfig, key, value string, dynamic bool) {
	t.Helper()
	c, ok := e2eConfigOf(rc, key)
	if !ok {
		t.Errorf("DescribeConfigs %s: %s missing", rc.Name, key)
		return
	}
	if value != "" && c.MaybeValue() != value {
		t.Errorf("DescribeConfigs %s: %s = %q, want %q", rc.Name, key, c.MaybeValue(), value)
	}
	if isDyn := c.Source == kmsg.ConfigSourceDynamicTopicConfig; isDyn != dynamic {
		t.Errorf("DescribeConfigs %s: %s source %v, want dynamic topic config = %v", rc.Name, key, c.Source, dynamic)
	}
}

// e2eWaitTopicGone waits (bounded) until metadata reports the topic unknown.
func e2eWaitTopicGone(t testing.TB, adm *kadm.Client, topic string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		md, err := adm.Metadata(ctx, topic)
		cancel()
		if err == nil {
			if td, ok := md.Topics[topic]; ok && errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	t.Fatalf("topic %s still present in metadata 10s after deletion", topic)
}

// TestE2ETopicAdmin covers CreateTopics (configs, validate-only, errors),
// DeleteTopics and CreatePartitions.
func TestE2ETopicAdmin(t *testing.T) {
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b)
	adm := kadm.NewClient(cl)

	t.Run("create-with-configs", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 3, map[string]*string{
			"retention.ms":   kadm.StringPtr("123456789"),
			"cleanup.policy": kadm.StringPtr("delete"),
		})
		rc := e2eDescribeTopicConfig(t, adm, topic)
		e2eExpectConfig(t, rc, "retention.ms", "123456789", true)
		e2eExpectConfig(t, rc, "cleanup.policy", "delete", true)
		for p := int32(0); p < 3; p++ {
			leader, _, _ := e2eTopicInfo(t, adm, topic, p)
			if leader != e2eBrokerNodeID {
				t.Errorf("partition %d leader %d, want %d", p, leader, e2eBrokerNodeID)
			}
		}
	})

	t.Run("validate-only", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		ctx := e2eTestCtx(t, 10*time.Second)
		rs, err := adm.ValidateCreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": kadm.StringPtr("1000")}, topic)
		if err != nil {
			t.Fatalf("validate-only CreateTopics: %v", err)
		}
		if r := rs[topic]; r.Err != nil {
			t.Fatalf("validate-only CreateTopics: %v (%s)", r.Err, r.ErrMessage)
		}
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if td := md.Topics[topic]; !errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("after validate-only create the topic exists (metadata error %v, %d partitions)", td.Err, len(td.Partitions))
		}
	})

	t.Run("create-errors", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		ctx := e2eTestCtx(t, 10*time.Second)
		for _, c := range []struct {
			what    string
			topic   string
			parts   int32
			configs map[string]*string
			want    error
		}{
			{"existing topic", topic, 1, nil, kerr.TopicAlreadyExists},
			{"zero partitions", e2eUniqueTopic(t), 0, nil, kerr.InvalidPartitions},
			{"non-numeric retention.ms", e2eUniqueTopic(t), 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, kerr.InvalidConfig},
			{"invalid name", "bad/name", 1, nil, kerr.InvalidTopicException},
		} {
			rs, err := adm.CreateTopics(ctx, c.parts, 1, c.configs, c.topic)
			if err != nil {
				t.Errorf("%s: %v", c.what, err)
				continue
			}
			if r := rs[c.topic]; !errors.Is(r.Err, c.want) {
				t.Errorf("CreateTopics %s: error %v (%s), want %v", c.what, r.Err, r.ErrMessage, c.want)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 2, nil)
		e2eProduceSync(t, cl, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("before delete")})
		ctx := e2eTestCtx(t, 20*time.Second)
		rs, err := adm.DeleteTopics(ctx, topic)
		if err != nil {
			t.Fatalf("DeleteTopics: %v", err)
		}
		if r := rs[topic]; r.Err != nil {
			t.Fatalf("DeleteTopics: %v (%s)", r.Err, r.ErrMessage)
		}
		e2eWaitTopicGone(t, adm, topic)
		rs, err = adm.DeleteTopics(ctx, topic)
		if err != nil {
			t.Fatalf("DeleteTopics again: %v", err)
		}
		if r := rs[topic]; !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			t.Errorf("deleting a deleted topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", r.Err)
		}
		// Re-created under the same name, the topic starts empty.
		e2eCreateTopic(t, adm, topic, 1, nil)
		if end := e2eEndOffset(t, adm, topic, 0); end != 0 {
			t.Errorf("re-created topic has end offset %d, want 0", end)
		}
	})

	t.Run("create-partitions", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		ctx := e2eTestCtx(t, 20*time.Second)
		rs, err := adm.UpdatePartitions(ctx, 3, topic)
		if err != nil {
			t.Fatalf("CreatePartitions to 3: %v", err)
		}
		if r := rs[topic]; r.Err != nil {
			t.Fatalf("CreatePartitions to 3: %v (%s)", r.Err, r.ErrMessage)
		}
		e2eWaitTopicReady(t, adm, topic, 3)
		pcl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		e2eProduceSync(t, pcl, &kgo.Record{Topic: topic, Partition: 2, Value: []byte("p2")})
		if got := e2eConsumeN(t, b, topic, 2, kgo.NewOffset().AtStart(), 1, 10*time.Second); string(got[0].Value) != "p2" {
			t.Errorf("partition 2 holds %q", got[0].Value)
		}
		for _, n := range []int{2, 3} {
			rs, err = adm.UpdatePartitions(ctx, n, topic)
			if err != nil {
				t.Fatalf("CreatePartitions to %d: %v", n, err)
			}
			if r := rs[topic]; !errors.Is(r.Err, kerr.InvalidPartitions) {
				t.Errorf("CreatePartitions from 3 to %d: %v, want INVALID_PARTITIONS", n, r.Err)
			}
		}
		rs, err = adm.UpdatePartitions(ctx, 2, "no-such-topic-"+topic)
		if err == nil {
			if r := rs["no-such-topic-"+topic]; !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
				t.Errorf("CreatePartitions on unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", r.Err)
			}
		}
	})
}

// TestE2EConfigs covers DescribeConfigs, IncrementalAlterConfigs and
// AlterConfigs on topics, and that max.message.bytes is enforced.
func TestE2EConfigs(t *testing.T) {
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b)
	adm := kadm.NewClient(cl)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 1, nil)
	ctx := e2eTestCtx(t, 30*time.Second)

	rc := e2eDescribeTopicConfig(t, adm, topic)
	for _, key := range []string{"retention.ms", "cleanup.policy", "max.message.bytes", "segment.bytes", "retention.bytes"} {
		e2eExpectConfig(t, rc, key, "", false)
	}
	e2eExpectConfig(t, rc, "cleanup.policy", "delete", false)
	e2eExpectConfig(t, rc, "retention.bytes", "-1", false)
	defaultRetention, _ := e2eConfigOf(rc, "retention.ms")

	alter := func(what string, validate bool, cs ...kadm.AlterConfig) error {
		t.Helper()
		f := adm.AlterTopicConfigs
		if validate {
			f = adm.ValidateAlterTopicConfigs
		}
		rs, err := f(ctx, cs, topic)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		r, err := rs.On(topic, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return r.Err
	}

	if err := alter("incremental set", false,
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("86400000")},
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("2000")},
	); err != nil {
		t.Fatalf("IncrementalAlterConfigs set: %v", err)
	}
	rc = e2eDescribeTopicConfig(t, adm, topic)
	e2eExpectConfig(t, rc, "retention.ms", "86400000", true)
	e2eExpectConfig(t, rc, "max.message.bytes", "2000", true)

	// max.message.bytes is enforced on produce, on the batch as sent (so
	// the value is incompressible and sent uncompressed): both when set at
	// creation and, as in Kafka, immediately after an alter.
	pcl := e2eNewClient(t, b, kgo.RecordRetries(1), kgo.ProducerBatchCompression(kgo.NoCompression()))
	pctx := e2eTestCtx(t, 15*time.Second)
	noise := make([]byte, 5000)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	created := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, created, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("2000")})
	err := pcl.ProduceSync(pctx, &kgo.Record{Topic: created, Value: noise}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("producing a 5000-byte uncompressed batch to a topic created with max.message.bytes=2000: %v, want MESSAGE_TOO_LARGE", err)
	}
	err = pcl.ProduceSync(pctx, &kgo.Record{Topic: topic, Value: noise}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("producing a 5000-byte uncompressed batch after IncrementalAlterConfigs set max.message.bytes=2000: %v, want MESSAGE_TOO_LARGE", err)
	}
	e2eProduceSync(t, pcl, &kgo.Record{Topic: topic, Value: []byte("small")})

	if err := alter("validate-only set", true, kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1")}); err != nil {
		t.Errorf("validate-only IncrementalAlterConfigs: %v", err)
	}
	e2eExpectConfig(t, e2eDescribeTopicConfig(t, adm, topic), "retention.ms", "86400000", true)

	if err := alter("invalid value", false, kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("forever")}); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("IncrementalAlterConfigs retention.ms=forever: %v, want INVALID_CONFIG", err)
	}
	if err := alter("unknown key", false, kadm.AlterConfig{Op: kadm.SetConfig, Name: "no.such.config", Value: kadm.StringPtr("1")}); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("IncrementalAlterConfigs no.such.config: %v, want INVALID_CONFIG", err)
	}
	e2eExpectConfig(t, e2eDescribeTopicConfig(t, adm, topic), "retention.ms", "86400000", true)

	if err := alter("incremental delete", false, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"}); err != nil {
		t.Fatalf("IncrementalAlterConfigs delete: %v", err)
	}
	rc = e2eDescribeTopicConfig(t, adm, topic)
	e2eExpectConfig(t, rc, "retention.ms", defaultRetention.MaybeValue(), false)
	e2eExpectConfig(t, rc, "max.message.bytes", "2000", true)

	// Legacy AlterConfigs replaces the whole set of topic overrides:
	// max.message.bytes, not named, returns to its default.
	rs, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("5000000")}}, topic)
	if err != nil {
		t.Fatalf("AlterConfigs: %v", err)
	}
	if r, _ := rs.On(topic, nil); r.Err != nil {
		t.Fatalf("AlterConfigs: %v (%s)", r.Err, r.ErrMessage)
	}
	rc = e2eDescribeTopicConfig(t, adm, topic)
	e2eExpectConfig(t, rc, "retention.ms", "5000000", true)
	e2eExpectConfig(t, rc, "max.message.bytes", "", false)

	rcs, err := adm.DescribeTopicConfigs(ctx, "no-such-topic-"+topic)
	if err == nil {
		if rc, _ := rcs.On("no-such-topic-"+topic, nil); !errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
			t.Errorf("DescribeConfigs on unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", rc.Err)
		}
	}
}

// TestE2EDeleteRecords moves the log start offset and checks that reads
// below it are out of range.
func TestE2EDeleteRecords(t *testing.T) {
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b)
	adm := kadm.NewClient(cl)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 2, nil)
	pcl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	want := e2eTestRecords(topic, 10, time.Now().Add(-time.Minute))
	for _, r := range want {
		e2eProduceSync(t, pcl, r) // one batch per record
	}
	for i := range 4 {
		e2eProduceSync(t, pcl, &kgo.Record{Topic: topic, Partition: 1, Value: []byte(fmt.Sprint(i))})
	}
	ctx := e2eTestCtx(t, 30*time.Second)

	var dels kadm.Offsets
	dels.Add(kadm.Offset{Topic: topic, Partition: 0, At: 4})
	dels.Add(kadm.Offset{Topic: topic, Partition: 1, At: -1}) // -1: up to the high watermark
	rs, err := adm.DeleteRecords(ctx, dels)
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	if r, _ := rs.Lookup(topic, 0); r.Err != nil || r.LowWatermark != 4 {
		t.Errorf("DeleteRecords p0 before 4: low watermark %d err %v; want 4", r.LowWatermark, r.Err)
	}
	if r, _ := rs.Lookup(topic, 1); r.Err != nil || r.LowWatermark != 4 {
		t.Errorf("DeleteRecords p1 before -1 (high watermark 4): low watermark %d err %v; want 4", r.LowWatermark, r.Err)
	}

	l, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := l.Lookup(topic, 0); o.Offset != 4 {
		t.Errorf("log start offset after DeleteRecords: %d, want 4", o.Offset)
	}
	if end := e2eEndOffset(t, adm, topic, 0); end != 10 {
		t.Errorf("end offset after DeleteRecords: %d, want 10", end)
	}

	fp := e2eRawFetch(t, cl, topic, 0, 2, 0)
	if fp.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch at 2 below log start 4: %v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(fp.ErrorCode))
	}
	fp = e2eRawFetch(t, cl, topic, 0, 4, 0)
	if fp.ErrorCode != 0 || fp.LogStartOffset != 4 {
		t.Errorf("fetch at 4: error %v log start %d; want no error, log start 4", kerr.ErrorForCode(fp.ErrorCode), fp.LogStartOffset)
	}

	got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), 6, 10*time.Second)
	for i, r := range got {
		if r.Offset != int64(4+i) {
			t.Fatalf("consumed offset %d at position %d, want %d", r.Offset, i, 4+i)
		}
		if err := e2eSameRecord(want[4+i], r); err != nil {
			t.Errorf("offset %d: %v", r.Offset, err)
		}
	}

	// Beyond the high watermark is out of range.
	var beyond kadm.Offsets
	beyond.Add(kadm.Offset{Topic: topic, Partition: 0, At: 11})
	rs, err = adm.DeleteRecords(ctx, beyond)
	if err != nil {
		t.Fatalf("DeleteRecords beyond: %v", err)
	}
	if r, _ := rs.Lookup(topic, 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Errorf("DeleteRecords before 11 with high watermark 10: %v, want OFFSET_OUT_OF_RANGE", r.Err)
	}

	// Producing continues at the end.
	e2eProduceSync(t, pcl, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("after")})
	if end := e2eEndOffset(t, adm, topic, 0); end != 11 {
		t.Errorf("end offset after a new record: %d, want 11", end)
	}
}

// TestE2EAutoCreate checks topic auto-creation through Metadata (v4+ with
// AllowAutoTopicCreation, and v1 where it is implied) and through a kgo
// producer.
func TestE2EAutoCreate(t *testing.T) {
	b := e2eStartBroker(t, "--auto-create-topics=true", "--num-partitions", "2")
	cl := e2eNewClient(t, b)
	adm := kadm.NewClient(cl)

	metadata := func(topic string, allow bool) kmsg.MetadataResponseTopic {
		t.Helper()
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = allow
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		ctx := e2eTestCtx(t, 10*time.Second)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("metadata: %v", err)
		}
		if len(resp.Topics) != 1 {
			t.Fatalf("metadata for one topic returned %d topics", len(resp.Topics))
		}
		return resp.Topics[0]
	}

	t.Run("metadata-allow", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		mt := metadata(topic, true)
		if mt.ErrorCode != 0 && mt.ErrorCode != kerr.LeaderNotAvailable.Code {
			t.Fatalf("first metadata with AllowAutoTopicCreation: %v; want none or LEADER_NOT_AVAILABLE", kerr.ErrorForCode(mt.ErrorCode))
		}
		e2eWaitTopicReady(t, adm, topic, 2) // --num-partitions 2
	})

	t.Run("metadata-disallow", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		if mt := metadata(topic, false); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("metadata without AllowAutoTopicCreation: %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(mt.ErrorCode))
		}
		if mt := metadata(topic, false); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("topic was created by a metadata request that disallowed it: %v", kerr.ErrorForCode(mt.ErrorCode))
		}
	})

	t.Run("metadata-v1", func(t *testing.T) {
		// Metadata v1-v3 have no AllowAutoTopicCreation field: a broker
		// with auto-creation on creates the topic (kafka-python relies on
		// this).
		topic := e2eUniqueTopic(t)
		rc := e2eDialRaw(t, b)
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		corr := rc.request(req, 1)
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = 1
		rc.response(corr, resp)
		if len(resp.Topics) != 1 || (resp.Topics[0].ErrorCode != 0 && resp.Topics[0].ErrorCode != kerr.LeaderNotAvailable.Code) {
			t.Fatalf("metadata v1 for a new topic: %+v; want the topic with no error or LEADER_NOT_AVAILABLE", resp.Topics)
		}
		e2eWaitTopicReady(t, adm, topic, 2)
	})

	t.Run("kgo-producer", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		want := e2eTestRecords(topic, 5, time.Now())
		for _, r := range want {
			r.Partition = 0
		}
		pcl := e2eNewClient(t, b, kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		e2eProduceSync(t, pcl, want...)
		got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), 5, 10*time.Second)
		for i := range want {
			if err := e2eSameRecord(want[i], got[i]); err != nil {
				t.Errorf("record %d: %v", i, err)
			}
		}
	})
}

// TestE2EClusterMetadata checks what clients learn about the broker:
// ApiVersions (at v0 and v3), Metadata, DescribeCluster and
// OffsetForLeaderEpoch.
func TestE2EClusterMetadata(t *testing.T) {
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b)
	adm := kadm.NewClient(cl)
	host, port := e2eSplitHostPort(t, b.Addr())

	contract := map[int16]string{
		0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 18: "ApiVersions",
		19: "CreateTopics", 20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId",
		23: "OffsetForLeaderEpoch", 32: "DescribeConfigs", 33: "AlterConfigs",
		37: "CreatePartitions", 44: "IncrementalAlterConfigs", 60: "DescribeCluster",
	}
	for _, v := range []int16{0, 3} {
		t.Run(fmt.Sprintf("api-versions-v%d", v), func(t *testing.T) {
			rc := e2eDialRaw(t, b)
			req := kmsg.NewPtrApiVersionsRequest()
			req.ClientSoftwareName = "chronik-e2e"
			req.ClientSoftwareVersion = "1.0"
			corr := rc.request(req, v)
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = v
			rc.response(corr, resp)
			if resp.ErrorCode != 0 {
				t.Fatalf("ApiVersions v%d: %v", v, kerr.ErrorForCode(resp.ErrorCode))
			}
			have := map[int16]kmsg.ApiVersionsResponseApiKey{}
			for _, k := range resp.ApiKeys {
				if k.MinVersion > k.MaxVersion {
					t.Errorf("api key %d: min %d > max %d", k.ApiKey, k.MinVersion, k.MaxVersion)
				}
				have[k.ApiKey] = k
			}
			for key, name := range contract {
				if _, ok := have[key]; !ok {
					t.Errorf("ApiVersions v%d does not list %s (key %d)", v, name, key)
				}
			}
			if k := have[18]; k.MinVersion != 0 || k.MaxVersion < 3 {
				t.Errorf("ApiVersions versions %d-%d; want 0 through at least 3", k.MinVersion, k.MaxVersion)
			}
		})
	}

	t.Run("metadata", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 2, nil)
		ctx := e2eTestCtx(t, 10*time.Second)
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if len(md.Brokers) != 1 {
			t.Fatalf("metadata lists %d brokers, want 1: %+v", len(md.Brokers), md.Brokers)
		}
		br := md.Brokers[0]
		if br.NodeID != e2eBrokerNodeID || br.Host != host || br.Port != port {
			t.Errorf("metadata broker %d at %s:%d, want %d at %s:%d", br.NodeID, br.Host, br.Port, e2eBrokerNodeID, host, port)
		}
		if md.Controller != e2eBrokerNodeID {
			t.Errorf("controller %d, want %d", md.Controller, e2eBrokerNodeID)
		}
		if md.Cluster == "" {
			t.Errorf("empty cluster id")
		}
		td := md.Topics[topic]
		if td.ID == (kadm.TopicID{}) {
			t.Errorf("topic %s has a zero topic id", topic)
		}
		for _, p := range td.Partitions.Sorted() {
			if p.Leader != e2eBrokerNodeID || !slices.Equal(p.Replicas, []int32{e2eBrokerNodeID}) || !slices.Equal(p.ISR, []int32{e2eBrokerNodeID}) || p.LeaderEpoch < 0 {
				t.Errorf("partition %d: leader %d epoch %d replicas %v isr %v", p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR)
			}
		}
	})

	t.Run("describe-cluster", func(t *testing.T) {
		req := kmsg.NewPtrDescribeClusterRequest()
		ctx := e2eTestCtx(t, 10*time.Second)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("DescribeCluster: %v", err)
		}
		if resp.ErrorCode != 0 {
			t.Fatalf("DescribeCluster: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != e2eBrokerNodeID || resp.Brokers[0].Host != host || resp.Brokers[0].Port != port {
			t.Errorf("DescribeCluster brokers %+v, want node %d at %s:%d", resp.Brokers, e2eBrokerNodeID, host, port)
		}
		if resp.ClusterID == "" || resp.ControllerID != e2eBrokerNodeID {
			t.Errorf("DescribeCluster cluster id %q controller %d", resp.ClusterID, resp.ControllerID)
		}
	})

	t.Run("offset-for-leader-epoch", func(t *testing.T) {
		topic := e2eUniqueTopic(t)
		e2eCreateTopic(t, adm, topic, 1, nil)
		e2eProduceSync(t, cl, e2eTestRecords(topic, 5, time.Now())...)
		_, epoch, _ := e2eTopicInfo(t, adm, topic, 0)
		var req kadm.OffsetForLeaderEpochRequest
		req.Add(topic, 0, epoch)
		ctx := e2eTestCtx(t, 10*time.Second)
		res, err := adm.OffsetForLeaderEpoch(ctx, req)
		if err != nil {
			t.Fatalf("OffsetForLeaderEpoch: %v", err)
		}
		o := res[topic][0]
		if o.Err != nil || o.EndOffset != 5 || o.LeaderEpoch != epoch {
			t.Errorf("OffsetForLeaderEpoch(epoch %d): end offset %d epoch %d err %v; want end offset 5 epoch %d", epoch, o.EndOffset, o.LeaderEpoch, o.Err, epoch)
		}
	})
}

func e2eSplitHostPort(t testing.TB, addr string) (string, int32) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int32
	if _, err := fmt.Sscan(addr[i+1:], &port); err != nil {
		t.Fatalf("bad addr %q", addr)
	}
	return addr[:i], port
}
