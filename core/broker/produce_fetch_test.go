package broker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/record"
)

// batchOf builds a batch of the given values with options.
func batchOf(t testing.TB, opts record.BatchOptions, ts int64, values ...string) []byte {
	t.Helper()
	var recs []record.Record
	for _, v := range values {
		recs = append(recs, record.Record{Timestamp: ts, Value: []byte(v)})
	}
	b, err := record.Build(opts, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func produceRequest(version, acks int16, topic string, partition int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func fetchRequest(topic string, partition int32, offset int64, minBytes, maxWaitMs int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = -1
	req.MinBytes = minBytes
	req.MaxWaitMillis = maxWaitMs
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchedValues decodes the values of a one-partition fetch response.
func fetchedValues(t testing.TB, resp *kmsg.FetchResponse) (values []string, offsets []int64) {
	t.Helper()
	data := resp.Topics[0].Partitions[0].RecordBatches
	for len(data) > 0 {
		batch, rest, err := record.Next(data)
		if err != nil {
			t.Fatalf("fetched data: %v", err)
		}
		if _, err := record.Check(batch); err != nil {
			t.Fatalf("fetched batch fails validation: %v", err)
		}
		recs, err := record.DecodeRecords(batch, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			values = append(values, string(r.Value))
			offsets = append(offsets, r.Offset)
		}
		data = rest
	}
	return values, offsets
}

func TestProduceAnsweredOnlyAfterSync(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	before := tb.send(produceRequest(9, -1, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, "a", "b")))
	if got := len(tb.replier.replies) - before; got != 0 {
		t.Fatalf("acks=all answered before any sync: %d replies", got)
	}
	// Unsynced records are invisible to consumers: the high watermark is
	// the durable end.
	resp := tb.do(fetchRequest("t", 0, 0, 0, 0)).(*kmsg.FetchResponse)
	if hw := resp.Topics[0].Partitions[0].HighWatermark; hw != 0 {
		t.Fatalf("high watermark %d before sync, want 0", hw)
	}
	if vals, _ := fetchedValues(t, resp); len(vals) != 0 {
		t.Fatalf("fetched %v before sync", vals)
	}
	tb.b.Flush()
	if len(tb.syncer.jobs) != 1 {
		t.Fatalf("%d sync jobs after flush, want 1", len(tb.syncer.jobs))
	}
	tb.runSyncs()
	if got := len(tb.replier.replies) - before; got != 2 { // the fetch and the produce
		t.Fatalf("%d replies after sync, want 2", got)
	}
	pr := tb.replier.replies[len(tb.replier.replies)-1].resp.(*kmsg.ProduceResponse)
	if sp := pr.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("produce answer: error %d base %d", sp.ErrorCode, sp.BaseOffset)
	}
	vals, offs := fetchedValues(t, tb.do(fetchRequest("t", 0, 0, 0, 0)).(*kmsg.FetchResponse))
	if fmt.Sprint(vals) != "[a b]" || fmt.Sprint(offs) != "[0 1]" {
		t.Fatalf("fetched %v at %v", vals, offs)
	}
}

func TestGroupCommitOneSyncForManyProduces(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	first := len(tb.replier.replies)
	for i := 0; i < 10; i++ {
		tb.send(produceRequest(9, 1, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, fmt.Sprint(i))))
	}
	tb.b.Flush()
	if len(tb.syncer.jobs) != 1 {
		t.Fatalf("%d sync jobs for 10 produces, want 1", len(tb.syncer.jobs))
	}
	tb.runSyncs()
	if got := len(tb.replier.replies) - first; got != 10 {
		t.Fatalf("%d answers, want 10", got)
	}
	for i, r := range tb.replier.replies[first:] {
		sp := r.resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if sp.ErrorCode != 0 || sp.BaseOffset != int64(i) {
			t.Fatalf("answer %d: error %d base %d", i, sp.ErrorCode, sp.BaseOffset)
		}
	}
}

func TestSyncWritesOffAnswersAtOnce(t *testing.T) {
	tb := newTestBroker(t, func(c *Config) { c.SyncWrites = false })
	tb.createTopic("t", 1, nil)
	resp := tb.do(produceRequest(9, -1, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, "x"))).(*kmsg.ProduceResponse)
	if sp := resp.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("error %d base %d", sp.ErrorCode, sp.BaseOffset)
	}
	if vals, _ := fetchedValues(t, tb.do(fetchRequest("t", 0, 0, 0, 0)).(*kmsg.FetchResponse)); fmt.Sprint(vals) != "[x]" {
		t.Fatalf("fetched %v", vals)
	}
}

func TestAcksZeroGetsNoResponse(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	before := tb.send(produceRequest(9, 0, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, "x")))
	if got := len(tb.replier.replies) - before; got != 1 || tb.replier.replies[before].resp != nil {
		t.Fatalf("acks=0: want exactly one nil reply (no response on the wire), got %d", got)
	}
}

func TestProduceErrors(t *testing.T) {
	v1 := batchOf(t, record.DefaultBatchOptions(), 1, "old")
	v1[16] = 1 // magic 1: an old message format
	zstdOpts := record.DefaultBatchOptions()
	zstdOpts.Codec = record.CodecZstd
	corrupt := batchOf(t, record.DefaultBatchOptions(), 1, "x")
	corrupt[len(corrupt)-1] ^= 0xff
	cases := []struct {
		name    string
		version int16
		acks    int16
		topic   string
		records []byte
		want    int16
	}{
		{"unknown topic", 9, -1, "nope", batchOf(t, record.DefaultBatchOptions(), 1, "x"), kerrUnknownTopicOrPartition},
		{"invalid acks", 9, 2, "t", batchOf(t, record.DefaultBatchOptions(), 1, "x"), kerrInvalidRequiredAcks},
		{"magic 1 in v3+", 9, -1, "t", v1, kerrInvalidRecord},
		{"magic 1 in v2", 2, -1, "t", v1, kerrUnsupportedForMessageFormat},
		{"zstd below v7", 6, -1, "t", batchOf(t, zstdOpts, 1, "x"), kerrUnsupportedCompressionType},
		{"bad crc", 9, -1, "t", corrupt, kerrCorruptMessage},
		{"truncated", 9, -1, "t", []byte{1, 2, 3}, kerrCorruptMessage},
		{"two batches in v3+", 9, -1, "t", append(batchOf(t, record.DefaultBatchOptions(), 1, "x"), batchOf(t, record.DefaultBatchOptions(), 1, "y")...), kerrInvalidRecord},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := newTestBroker(t)
			tb.createTopic("t", 1, nil)
			resp := tb.do(produceRequest(c.version, c.acks, c.topic, 0, c.records)).(*kmsg.ProduceResponse)
			if got := resp.Topics[0].Partitions[0].ErrorCode; got != c.want {
				t.Fatalf("error %d, want %d", got, c.want)
			}
			// Nothing was appended.
			if hw := tb.b.topics["t"].partitions[0].log.LogEndOffset(); hw != 0 {
				t.Fatalf("log end %d after a refused produce", hw)
			}
		})
	}
}

func TestIdempotentRetryGetsOriginalOffset(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	pid := tb.do(&kmsg.InitProducerIDRequest{Version: 4, ProducerID: -1, ProducerEpoch: -1}).(*kmsg.InitProducerIDResponse)
	if pid.ErrorCode != 0 || pid.ProducerID < 0 {
		t.Fatalf("InitProducerId: error %d id %d", pid.ErrorCode, pid.ProducerID)
	}
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = pid.ProducerID, pid.ProducerEpoch, 0
	tb.produce("t", 0, 3) // someone else's records first, so offsets are not 0
	first := tb.doAndSync(produceRequest(9, -1, "t", 0, batchOf(t, opts, tb.nowMs, "a", "b"))).(*kmsg.ProduceResponse)
	retry := tb.doAndSync(produceRequest(9, -1, "t", 0, batchOf(t, opts, tb.nowMs, "a", "b"))).(*kmsg.ProduceResponse)
	f, r := first.Topics[0].Partitions[0], retry.Topics[0].Partitions[0]
	if f.ErrorCode != 0 || r.ErrorCode != 0 || f.BaseOffset != 3 || r.BaseOffset != 3 {
		t.Fatalf("first: error %d base %d; retry: error %d base %d", f.ErrorCode, f.BaseOffset, r.ErrorCode, r.BaseOffset)
	}
	if end := tb.b.topics["t"].partitions[0].log.LogEndOffset(); end != 5 {
		t.Fatalf("log end %d after a duplicate, want 5", end)
	}
	opts.BaseSequence = 5 // skips 2..4
	gap := tb.do(produceRequest(9, -1, "t", 0, batchOf(t, opts, tb.nowMs, "z"))).(*kmsg.ProduceResponse)
	if code := gap.Topics[0].Partitions[0].ErrorCode; code != kerrOutOfOrderSequenceNumber {
		t.Fatalf("sequence gap: error %d, want %d", code, kerrOutOfOrderSequenceNumber)
	}
}

func TestFetchLongPoll(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	before := tb.send(fetchRequest("t", 0, 0, 1, 500))
	if len(tb.replier.replies) != before {
		t.Fatal("a fetch with no data and MaxWait 500 was answered at once")
	}
	if wake := tb.b.NextWakeMs(tb.nowMs); wake != tb.nowMs+500 {
		t.Fatalf("next wake %d, want %d", wake, tb.nowMs+500)
	}
	tb.send(produceRequest(9, -1, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, "a", "b")))
	tb.b.Flush()
	tb.runSyncs()
	var fetched *kmsg.FetchResponse
	for _, r := range tb.replier.replies[before:] {
		if f, ok := r.resp.(*kmsg.FetchResponse); ok {
			fetched = f
		}
	}
	if fetched == nil {
		t.Fatal("long poll not woken by produce")
	}
	if vals, _ := fetchedValues(t, fetched); len(vals) != 2 {
		t.Fatalf("woken fetch got %v", vals)
	}
	// A poll with nothing arriving is answered, empty, at its deadline.
	before = tb.send(fetchRequest("t", 0, 2, 1, 500))
	tb.nowMs += 499
	tb.b.Tick(tb.nowMs)
	if len(tb.replier.replies) != before {
		t.Fatal("answered before the deadline")
	}
	tb.nowMs++
	tb.b.Tick(tb.nowMs)
	if len(tb.replier.replies) != before+1 {
		t.Fatal("not answered at the deadline")
	}
	// A closed connection's long poll is dropped.
	tb.send(fetchRequest("t", 0, 2, 1, 500))
	tb.b.ConnClosed(1)
	if n := len(tb.b.waitingFetches); n != 0 {
		t.Fatalf("%d waiting fetches after the connection closed", n)
	}
}

func TestFetchOffsets(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 5)
	tb.produce("t", 0, 5)
	cases := []struct {
		offset int64
		code   int16
		first  int64 // first offset returned, -1 for none
	}{
		{0, 0, 0}, {7, 0, 5}, {10, 0, -1}, {11, kerrOffsetOutOfRange, -1}, {-1, kerrOffsetOutOfRange, -1},
	}
	for _, c := range cases {
		resp := tb.do(fetchRequest("t", 0, c.offset, 0, 0)).(*kmsg.FetchResponse)
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != c.code {
			t.Fatalf("offset %d: error %d, want %d", c.offset, sp.ErrorCode, c.code)
		}
		_, offs := fetchedValues(t, resp)
		got := int64(-1)
		if len(offs) > 0 {
			got = offs[0]
		}
		if got != c.first {
			t.Fatalf("offset %d: first returned %d, want %d (the batch holding it)", c.offset, got, c.first)
		}
		if c.code == 0 && sp.RecordBatches == nil {
			t.Fatalf("offset %d: null record set (librdkafka rejects it)", c.offset)
		}
	}
}

func TestListOffsets(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	base := tb.nowMs
	for i := int64(0); i < 3; i++ {
		tb.nowMs = base + i*1000
		tb.produce("t", 0, 2) // offsets 2i, 2i+1 at base+1000i
	}
	cases := []struct {
		ts     int64
		offset int64
	}{
		{listEarliest, 0}, {listLatest, 6}, {listMaxTimestamp, 4}, {base + 1000, 2}, {base + 1500, 4}, {base + 5000, -1},
	}
	for _, c := range cases {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = 7
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = c.ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		sp := tb.do(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if sp.ErrorCode != 0 || sp.Offset != c.offset {
			t.Errorf("timestamp %d: error %d offset %d, want offset %d", c.ts, sp.ErrorCode, sp.Offset, c.offset)
		}
	}
}

func TestAckedRecordsSurviveCrash(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 3) // acknowledged: synced
	// Appended but never synced: not acknowledged, may vanish.
	tb.send(produceRequest(9, -1, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, "lost")))
	tb.disk = tb.disk.Crash(func(n int) int { return n / 2 }) // keep a torn half of unsynced appends
	tb.syncer.jobs = nil
	tb.start()
	// Records found on disk after a restart may be only in the page cache
	// (a process crash keeps it): the broker syncs them while opening, so
	// they are visible at once, with no sync job left for later.
	if len(tb.syncer.jobs) != 0 {
		t.Fatalf("%d sync jobs queued by a restart", len(tb.syncer.jobs))
	}
	vals, offs := fetchedValues(t, tb.do(fetchRequest("t", 0, 0, 0, 0)).(*kmsg.FetchResponse))
	if len(vals) != 3 || fmt.Sprint(offs) != "[0 1 2]" {
		t.Fatalf("after crash fetched %v at %v, want the 3 acknowledged records", vals, offs)
	}
	// The next append reuses offset 3, which was never acknowledged.
	if base := tb.produce("t", 0, 1); base != 3 {
		t.Fatalf("next base offset %d, want 3", base)
	}
}

func TestParseRequest(t *testing.T) {
	header := func(key, version int16, corr int32) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(key))
		b = binary.BigEndian.AppendUint16(b, uint16(version))
		b = binary.BigEndian.AppendUint32(b, uint32(corr))
		return binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	}
	t.Run("too short", func(t *testing.T) {
		if _, _, err := ParseRequest([]byte{0, 1, 2}); err == nil {
			t.Fatal("accepted a 3-byte frame")
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		if _, _, err := ParseRequest(header(9999, 0, 1)); err == nil {
			t.Fatal("accepted API key 9999")
		}
	})
	t.Run("unsupported version", func(t *testing.T) {
		if _, _, err := ParseRequest(header(0, 99, 1)); err == nil {
			t.Fatal("accepted Produce v99")
		}
	})
	t.Run("garbage body", func(t *testing.T) {
		if _, _, err := ParseRequest(append(header(3, 1, 1), 0xff, 0xff, 0xff)); err == nil {
			t.Fatal("accepted an undecodable Metadata body")
		}
	})
	t.Run("ApiVersions above max", func(t *testing.T) {
		req, early, err := ParseRequest(append(header(18, 99, 7), 1, 2, 3))
		if err != nil || early == nil {
			t.Fatalf("err %v early %v", err, early)
		}
		wire := EncodeResponse(nil, req.CorrelationID, early)
		if corr := int32(binary.BigEndian.Uint32(wire)); corr != 7 {
			t.Fatalf("correlation id %d", corr)
		}
		back := &kmsg.ApiVersionsResponse{Version: 0}
		if err := back.ReadFrom(wire[4:]); err != nil {
			t.Fatal(err)
		}
		if back.ErrorCode != kerrUnsupportedVersion || len(back.ApiKeys) == 0 {
			t.Fatalf("error %d with %d keys", back.ErrorCode, len(back.ApiKeys))
		}
	})
	t.Run("flexible round trip", func(t *testing.T) {
		var buf bytes.Buffer
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 12
		topic := "x"
		req.Topics = []kmsg.MetadataRequestTopic{{Topic: &topic}}
		frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("cli")).AppendRequest(nil, req, 42)
		buf.Write(frame[4:]) // drop the size prefix
		got, early, err := ParseRequest(buf.Bytes())
		if err != nil || early != nil {
			t.Fatalf("err %v early %v", err, early)
		}
		m := got.Msg.(*kmsg.MetadataRequest)
		if got.CorrelationID != 42 || *got.ClientID != "cli" || *m.Topics[0].Topic != "x" {
			t.Fatalf("decoded %+v", got)
		}
	})
}

// TestLongPollWokenByItsPartitions: a produce answers the long polls that
// name its partition (once, even when the fetch names it twice) and leaves
// those on other partitions waiting until their own partition changes.
func TestLongPollWokenByItsPartitions(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 2, nil)
	poll := func(parts ...int32) uint64 {
		req := fetchRequest("t", parts[0], 0, 1, 10000)
		for _, p := range parts[1:] {
			rp := req.Topics[0].Partitions[0]
			rp.Partition = p
			req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
		}
		before := tb.send(req)
		if got := len(tb.replier.replies) - before; got != 0 {
			t.Fatalf("poll on %v answered at once", parts)
		}
		return tb.seq
	}
	answered := func() map[uint64]*kmsg.FetchResponse {
		got := map[uint64]*kmsg.FetchResponse{}
		for _, r := range tb.replier.replies {
			if f, ok := r.resp.(*kmsg.FetchResponse); ok {
				if got[r.req.Seq] != nil {
					t.Fatalf("fetch %d answered twice", r.req.Seq)
				}
				got[r.req.Seq] = f
			}
		}
		return got
	}
	produce := func(p int32, n int) {
		tb.send(produceRequest(9, -1, "t", p, testBatch(tb.nowMs, n)))
		tb.b.Flush()
		tb.runSyncs()
	}
	on0, on1, onBoth := poll(0), poll(1), poll(1, 0, 0)
	produce(0, 2)
	got := answered()
	if got[on0] == nil || got[onBoth] == nil || got[on1] != nil {
		t.Fatalf("after a produce to t-0: answered %v, want fetches %d and %d only", sortedKeys(got), on0, onBoth)
	}
	if vals, _ := fetchedValues(t, got[on0]); len(vals) != 2 {
		t.Fatalf("poll on t-0 got %d records, want 2", len(vals))
	}
	if n := len(got[onBoth].Topics[0].Partitions[1].RecordBatches); n == 0 {
		t.Fatal("poll on t-1 and t-0 got no records of t-0")
	}
	if len(tb.b.waitingFetches) != 1 || len(tb.b.topics["t"].partitions[0].fetchWaiters) != 0 {
		t.Fatalf("%d fetches still waiting, t-0 lists %d, want 1 and 0", len(tb.b.waitingFetches), len(tb.b.topics["t"].partitions[0].fetchWaiters))
	}
	produce(1, 1)
	if got := answered(); got[on1] == nil {
		t.Fatal("a produce to t-1 left the poll on t-1 waiting")
	}
	if len(tb.b.waitingFetches) != 0 {
		t.Fatalf("%d fetches still waiting", len(tb.b.waitingFetches))
	}
}

// TestRoleListsFollowRoles: the cached role lists the timers walk hold
// the partitions this broker leads, and a role changed without setRole is
// caught by CheckInvariants rather than hiding the partition from them:
// at its next pass over every partition, checkFullEvery passes away at
// most, as such a change does not name the partition for the next one.
func TestRoleListsFollowRoles(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 2, nil)
	leading, following := tb.b.roleLists()
	ps := tb.b.topics["t"].partitions
	if len(leading) != 2 || leading[0] != ps[0] || leading[1] != ps[1] || len(following) != 0 {
		t.Fatalf("role lists: %d leading, %d following, want both partitions leading", len(leading), len(following))
	}
	ps[1].role = roleNone // not through setRole
	wantInvariantPanic(t, "cached role lists", func() {
		for range checkFullEvery + 1 {
			tb.b.CheckInvariants()
		}
	})
}

// TestFlushLooksAtWrittenPartitions: Flush syncs the partition a produce
// wrote to, not the idle one, and forgets it once everything is synced.
func TestFlushLooksAtWrittenPartitions(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 2, nil)
	tb.runSyncs()
	tb.b.Flush()
	if len(tb.syncer.jobs) != 0 || len(tb.b.syncCandidates) != 0 {
		t.Fatalf("idle broker: %d sync jobs, %d candidates", len(tb.syncer.jobs), len(tb.b.syncCandidates))
	}
	tb.send(produceRequest(9, 1, "t", 1, testBatch(tb.nowMs, 2)))
	tb.b.Flush()
	if len(tb.syncer.jobs) != 1 || tb.syncer.jobs[0].token.p != tb.b.topics["t"].partitions[1] {
		t.Fatalf("%d sync jobs after a produce to t-1, want one for t-1", len(tb.syncer.jobs))
	}
	tb.b.Flush() // the sync is in flight: nothing more to start
	if len(tb.syncer.jobs) != 1 {
		t.Fatalf("%d sync jobs after a second flush, want 1", len(tb.syncer.jobs))
	}
	tb.runSyncs()
	tb.b.CheckInvariants()
	tb.b.Flush()
	if len(tb.syncer.jobs) != 0 || len(tb.b.syncCandidates) != 0 {
		t.Fatalf("after the sync: %d sync jobs, %d candidates", len(tb.syncer.jobs), len(tb.b.syncCandidates))
	}
}
