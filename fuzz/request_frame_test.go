package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/core/record"
)

// FuzzRequestFrame feeds two arbitrary request frames (size prefix
// removed, as the I/O layer hands them over) to broker.ParseRequest and
// then, one after the other, to a Broker over memdisk that already holds
// the topic "fuzz" with data in both partitions. After each request the
// harness runs the broker's sync jobs inline, calls Flush and Tick, and
// checks Broker.CheckInvariants; at the end it lets every long poll
// expire, then restarts the broker twice, after a crash and after a clean
// shutdown. An empty frame2 is skipped.
//
// Invariants:
//   - nothing panics (ParseRequest, HandleRequest, SyncDone, Flush, Tick,
//     CheckInvariants, restart);
//   - ParseRequest either fails with ErrMalformedRequest (the connection
//     is closed), or returns the early answer to an ApiVersions request
//     above the supported version: an ApiVersionsResponse v0 with error 35
//     (UNSUPPORTED_VERSION) listing the supported APIs, which EncodeResponse
//     encodes with the frame's correlation id and which decodes again; or
//     returns a request of the frame's key, version and correlation id
//     within the advertised ranges;
//   - every request handed to the broker on a connection that stays open is
//     answered exactly once (once all syncs ran and every long poll
//     expired), and none is ever answered twice;
//   - a produce with acks=0 gets no response (Reply with nil) and every
//     other request a non-nil response of its own key and version;
//   - every response, framed by EncodeResponse, starts with the request's
//     correlation id, has the empty tagged-field header exactly when the
//     version is flexible (never for ApiVersions), and decodes with kmsg at
//     its version, re-encoding to the same bytes;
//   - a fetch response carries only whole batches that pass record.Check,
//     contiguous from the batch holding the fetch offset, below the high
//     watermark it reports, for requested partitions only, and exceeds
//     PartitionMaxBytes or MaxBytes only with a single batch (KIP-74); a
//     successful produce reports a base offset;
//   - after a crash (memdisk.Crash of the synced state) and after a clean
//     shutdown the broker starts again, passes CheckInvariants and, once its
//     recovered data is synced, reports the same topics, partition counts,
//     log start offsets and high watermarks as before.
func FuzzRequestFrame(f *testing.F) {
	for _, s := range requestFrameSeeds() {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, frame1, frame2 []byte) {
		e, err := startBroker(baseDisk().Crash(nil), fuzzStartMs+10_000)
		if err != nil {
			t.Fatalf("broker.New on the base disk: %v", err)
		}
		h := &frameHarness{t: t, e: e, conn: 1, answered: map[*broker.Request]int{}}
		defer func() {
			if r := recover(); r != nil {
				t.Logf("broker log:\n%s", h.e.logTail())
				panic(r)
			}
		}()
		h.handle(frame1)
		if len(frame2) > 0 {
			h.handle(frame2)
		}
		h.finish()
	})
}

// frameHarness drives one broker through fuzzed frames.
type frameHarness struct {
	t        *testing.T
	e        *brokerEnv
	conn     broker.ConnID
	seq      uint64
	sent     []*broker.Request
	answered map[*broker.Request]int
	checked  int // replies already checked
}

func (h *frameHarness) fatalf(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("%s\nbroker log:\n%s", fmt.Sprintf(format, args...), h.e.logTail())
}

// handle parses one frame and, when it is a request, runs it.
func (h *frameHarness) handle(frame []byte) {
	h.t.Helper()
	req, early, err := broker.ParseRequest(frame)
	h.checkParse(frame, req, early, err)
	switch {
	case err != nil:
		h.conn++ // the connection is closed; the next frame comes on a new one
		return
	case early != nil:
		return // the I/O layer sends it; checkParse checked it
	}
	h.seq++
	req.Conn, req.Seq = h.conn, h.seq
	h.sent = append(h.sent, req)
	e := h.e
	e.b.HandleRequest(e.nowMs, req)
	e.b.CheckInvariants()
	if !e.settle() {
		h.fatalf("sync jobs keep coming after %s v%d", kmsg.NameForKey(req.Msg.Key()), req.Msg.GetVersion())
	}
	e.nowMs += 7
	e.b.Tick(e.nowMs)
	e.b.CheckInvariants()
	if !e.settle() {
		h.fatalf("sync jobs keep coming after Tick")
	}
	h.checkReplies()
	if _, closed := e.replier.closed[h.conn]; closed {
		h.conn++
	}
}

// checkParse checks ParseRequest's result against the frame.
func (h *frameHarness) checkParse(frame []byte, req *broker.Request, early kmsg.Response, err error) {
	h.t.Helper()
	if err != nil {
		if req != nil || early != nil {
			h.fatalf("ParseRequest returned an error (%v) and a request or answer", err)
		}
		if !errors.Is(err, broker.ErrMalformedRequest) {
			h.fatalf("ParseRequest error %v does not wrap ErrMalformedRequest", err)
		}
	}
	var key, version int16
	var corr int32
	if len(frame) >= 8 {
		key = int16(binary.BigEndian.Uint16(frame))
		version = int16(binary.BigEndian.Uint16(frame[2:]))
		corr = int32(binary.BigEndian.Uint32(frame[4:]))
	}
	var supported *kmsg.ApiVersionsResponseApiKey
	for _, k := range broker.SupportedAPIs() {
		if k.ApiKey == key {
			k := k
			supported = &k
		}
	}
	earlyExpected := len(frame) >= 8 && supported != nil && key == 18 && version > supported.MaxVersion
	if earlyExpected != (early != nil) {
		h.fatalf("ApiVersions v%d frame: early answer %v, expected %v (err %v)", version, early != nil, earlyExpected, err)
	}
	if early != nil {
		av, ok := early.(*kmsg.ApiVersionsResponse)
		if !ok || av.GetVersion() != 0 || av.ErrorCode != 35 {
			h.fatalf("early answer is %T v%d, want ApiVersionsResponse v0 with error 35: %+v", early, early.GetVersion(), early)
		}
		if req == nil || req.CorrelationID != corr {
			h.fatalf("early answer without the frame's correlation id %d", corr)
		}
		if !reflect.DeepEqual(av.ApiKeys, broker.AdvertisedAPIs(broker.ListenerClient)) {
			h.fatalf("early ApiVersions answer lists %v, not the supported APIs", av.ApiKeys)
		}
		h.checkEncoding(corr, early)
		return
	}
	if err != nil {
		return
	}
	if req == nil || req.Msg == nil {
		h.fatalf("ParseRequest returned neither an error nor a request")
	}
	if supported == nil || req.Msg.Key() != key || req.Msg.GetVersion() != version || req.CorrelationID != corr {
		h.fatalf("ParseRequest: %T key %d v%d corr %d from a frame with key %d v%d corr %d",
			req.Msg, req.Msg.Key(), req.Msg.GetVersion(), req.CorrelationID, key, version, corr)
	}
	if version < supported.MinVersion || version > supported.MaxVersion {
		h.fatalf("ParseRequest accepted %s v%d outside the advertised %d-%d", kmsg.NameForKey(key), version, supported.MinVersion, supported.MaxVersion)
	}
}

// checkReplies checks the replies that arrived since the last call.
func (h *frameHarness) checkReplies() {
	h.t.Helper()
	for ; h.checked < len(h.e.replier.replies); h.checked++ {
		r := h.e.replier.replies[h.checked]
		if !h.wasSent(r.req) {
			h.fatalf("reply to a request the harness never sent: %+v", r.req)
		}
		h.answered[r.req]++
		if n := h.answered[r.req]; n > 1 {
			h.fatalf("%s v%d (seq %d) answered %d times", kmsg.NameForKey(r.req.Msg.Key()), r.req.Msg.GetVersion(), r.req.Seq, n)
		}
		h.checkReply(r.req, r.resp)
	}
}

func (h *frameHarness) wasSent(req *broker.Request) bool {
	for _, s := range h.sent {
		if s == req {
			return true
		}
	}
	return false
}

// checkReply checks one response against its request.
func (h *frameHarness) checkReply(req *broker.Request, resp kmsg.Response) {
	h.t.Helper()
	name := fmt.Sprintf("%s v%d", kmsg.NameForKey(req.Msg.Key()), req.Msg.GetVersion())
	produce, isProduce := req.Msg.(*kmsg.ProduceRequest)
	acks0 := isProduce && produce.Acks == 0
	switch {
	case resp == nil && !acks0:
		h.fatalf("%s answered with no response", name)
	case resp != nil && acks0:
		h.fatalf("produce with acks=0 got a response: %+v", resp)
	case resp == nil:
		return
	}
	if resp.Key() != req.Msg.Key() || resp.GetVersion() != req.Msg.GetVersion() {
		h.fatalf("%s answered with %T v%d", name, resp, resp.GetVersion())
	}
	h.checkEncoding(req.CorrelationID, resp)
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode == 0 && rp.BaseOffset < 0 {
					h.fatalf("%s: successful produce to %s-%d with base offset %d", name, rt.Topic, rp.Partition, rp.BaseOffset)
				}
			}
		}
	case *kmsg.FetchResponse:
		h.checkFetch(name, req.Msg.(*kmsg.FetchRequest), r)
	case *kmsg.ApiVersionsResponse:
		if r.ErrorCode == 0 && !reflect.DeepEqual(r.ApiKeys, broker.AdvertisedAPIs(req.Listener)) {
			h.fatalf("%s lists %v, not the supported APIs", name, r.ApiKeys)
		}
	}
}

// checkFetch checks a fetch response against its request: the batches of
// every partition (checkFetchedBatches), and the size limits of KIP-74: a
// partition's records exceed its PartitionMaxBytes, and the response's
// records the request's MaxBytes, only when they are a single batch (the
// first one, returned whole so that a consumer can always progress).
func (h *frameHarness) checkFetch(name string, req *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	h.t.Helper()
	// A request may name a partition twice; each answer matches the next
	// request entry for its partition, in order.
	type key struct {
		topic     string
		partition int32
	}
	asks := map[key][]*kmsg.FetchRequestTopicPartition{}
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			k := key{req.Topics[i].Topic, req.Topics[i].Partitions[j].Partition}
			asks[k] = append(asks[k], &req.Topics[i].Partitions[j])
		}
	}
	total, batches := 0, 0
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			k := key{rt.Topic, rp.Partition}
			if len(asks[k]) == 0 {
				h.fatalf("%s: response partition %s-%d was not requested (or answered more often than requested)", name, rt.Topic, rp.Partition)
			}
			asked := asks[k][0]
			asks[k] = asks[k][1:]
			n := h.checkFetchedBatches(name, rt.Topic, rp, asked.FetchOffset)
			if n > 1 && len(rp.RecordBatches) > int(asked.PartitionMaxBytes) {
				h.fatalf("%s: %s-%d returned %d bytes in %d batches, partition max bytes %d", name, rt.Topic, rp.Partition, len(rp.RecordBatches), n, asked.PartitionMaxBytes)
			}
			total += len(rp.RecordBatches)
			batches += n
		}
	}
	if req.Version >= 3 && req.MaxBytes > 0 && total > int(req.MaxBytes) && batches > 1 {
		h.fatalf("%s: %d record bytes in %d batches, request max bytes %d", name, total, batches, req.MaxBytes)
	}
}

// checkFetchedBatches: whole, CRC-valid batches with increasing offsets,
// the first one holding the fetch offset, all below the reported high
// watermark. It returns the number of batches.
func (h *frameHarness) checkFetchedBatches(name, topic string, rp kmsg.FetchResponseTopicPartition, fetchOffset int64) int {
	h.t.Helper()
	if len(rp.RecordBatches) == 0 {
		return 0
	}
	if rp.ErrorCode != 0 {
		h.fatalf("%s: %s-%d carries records with error %d", name, topic, rp.Partition, rp.ErrorCode)
	}
	batches, err := record.Split(rp.RecordBatches)
	if err != nil {
		h.fatalf("%s: %s-%d records do not frame: %v", name, topic, rp.Partition, err)
	}
	next := int64(-1)
	for _, b := range batches {
		hd, err := record.Check(b)
		if err != nil {
			h.fatalf("%s: %s-%d served a batch that fails record.Check: %v", name, topic, rp.Partition, err)
		}
		if hd.LastOffset() >= rp.HighWatermark {
			h.fatalf("%s: %s-%d served offsets up to %d, high watermark %d", name, topic, rp.Partition, hd.LastOffset(), rp.HighWatermark)
		}
		if next >= 0 && hd.BaseOffset != next {
			h.fatalf("%s: %s-%d batches not contiguous: %d after a batch ending before %d", name, topic, rp.Partition, hd.BaseOffset, next)
		}
		if next < 0 && (hd.NextOffset() <= fetchOffset || hd.BaseOffset > fetchOffset) {
			h.fatalf("%s: %s-%d fetch at %d answered starting with batch [%d, %d)", name, topic, rp.Partition, fetchOffset, hd.BaseOffset, hd.NextOffset())
		}
		next = hd.NextOffset()
	}
	return len(batches)
}

// checkEncoding frames resp with EncodeResponse and decodes it again.
func (h *frameHarness) checkEncoding(corr int32, resp kmsg.Response) {
	h.t.Helper()
	name := fmt.Sprintf("%T v%d", resp, resp.GetVersion())
	wire := broker.EncodeResponse(nil, corr, resp)
	if len(wire) < 4 || int32(binary.BigEndian.Uint32(wire)) != corr {
		h.fatalf("%s: encoded response does not start with correlation id %d", name, corr)
	}
	body := wire[4:]
	if resp.IsFlexible() && resp.Key() != 18 {
		if len(body) == 0 || body[0] != 0 {
			h.fatalf("%s: flexible response header lacks its empty tag section", name)
		}
		body = body[1:]
	}
	back := kmsg.ResponseForKey(resp.Key())
	back.SetVersion(resp.GetVersion())
	if err := back.ReadFrom(body); err != nil {
		h.fatalf("%s does not decode after encoding: %v\n%+v", name, err, resp)
	}
	if again := back.AppendTo(nil); !bytes.Equal(again, body) {
		h.fatalf("%s: decoding and re-encoding changes the bytes (%d then %d bytes)", name, len(body), len(again))
	}
}

// finish expires every long poll, checks that every request was answered,
// and restarts the broker after a crash and after a clean shutdown.
func (h *frameHarness) finish() {
	h.t.Helper()
	e := h.e
	e.nowMs += fuzzBrokerConfig().MaxFetchWaitMs + 1
	e.b.Tick(e.nowMs)
	e.b.CheckInvariants()
	if !e.settle() {
		h.fatalf("sync jobs keep coming after the final Tick")
	}
	h.checkReplies()
	for _, req := range h.sent {
		if _, closed := e.replier.closed[req.Conn]; closed {
			continue
		}
		if h.answered[req] != 1 {
			h.fatalf("%s v%d (seq %d) answered %d times on an open connection",
				kmsg.NameForKey(req.Msg.Key()), req.Msg.GetVersion(), req.Seq, h.answered[req])
		}
	}

	before := h.state(e)
	// Crash: only durable state survives. Everything was synced, so once
	// the restarted broker has synced what it recovered it must look the
	// same.
	crashed, err := startBroker(e.disk.Crash(nil), e.nowMs+1)
	if err != nil {
		h.fatalf("broker does not start after a crash: %v", err)
	}
	crashed.b.CheckInvariants()
	if !crashed.settle() {
		h.fatalf("sync jobs keep coming after the crash restart")
	}
	if after := h.state(crashed); after != before {
		h.fatalf("state changed across a crash after everything was synced:\nbefore:\n%s\nafter:\n%s\nrestarted broker log:\n%s", before, after, crashed.logTail())
	}
	// Clean shutdown and restart on the same disk.
	e.b.SyncAllBlocking(e.nowMs)
	e.b.Shutdown(e.nowMs)
	restarted, err := startBroker(e.disk, e.nowMs+1)
	if err != nil {
		h.fatalf("broker does not start after a clean shutdown: %v", err)
	}
	restarted.b.CheckInvariants()
	if after := h.state(restarted); after != before {
		h.fatalf("state changed across a clean restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// state describes what a client sees of the broker: every topic with its
// partition count, and every partition's log start offset and high
// watermark (ListOffsets earliest and latest).
func (h *frameHarness) state(e *brokerEnv) string {
	h.t.Helper()
	ask := func(msg kmsg.Request) kmsg.Response {
		before := len(e.replier.replies)
		e.b.HandleRequest(e.nowMs, &broker.Request{Conn: 1 << 40, Seq: 1 << 40, CorrelationID: 1, Msg: msg})
		e.b.CheckInvariants()
		if len(e.replier.replies) != before+1 {
			h.fatalf("state query %T got %d replies", msg, len(e.replier.replies)-before)
		}
		resp := e.replier.replies[before].resp
		e.replier.replies = e.replier.replies[:before]
		return resp
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	md.Topics = nil // all topics
	mresp := ask(md).(*kmsg.MetadataResponse)
	var lines []string
	for _, t := range mresp.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		}
		line := fmt.Sprintf("%s err=%d partitions=%d:", name, t.ErrorCode, len(t.Partitions))
		lo := kmsg.NewPtrListOffsetsRequest()
		lo.Version = 7
		lo.ReplicaID = -1
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = name
		for _, p := range t.Partitions {
			for _, ts := range []int64{-2, -1} {
				lp := kmsg.NewListOffsetsRequestTopicPartition()
				lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = p.Partition, ts, -1
				lt.Partitions = append(lt.Partitions, lp)
			}
		}
		lo.Topics = append(lo.Topics, lt)
		for _, rt := range ask(lo).(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				line += fmt.Sprintf(" %d:err=%d,off=%d", rp.Partition, rp.ErrorCode, rp.Offset)
			}
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// requestFrameSeeds are pairs of real frames, made with kmsg, for every
// supported API at every supported version, then pairs that build on each
// other (admin request, then produce; produce, then fetch), and the early
// ApiVersions case.
func requestFrameSeeds() [][2][]byte {
	var seeds [][2][]byte
	corr := int32(100)
	frame := func(req kmsg.Request) []byte {
		corr++
		return requestFrame(req, corr)
	}
	for _, api := range broker.SupportedAPIs() {
		for v := api.MinVersion; v <= api.MaxVersion; v++ {
			req := seedRequest(api.ApiKey, v)
			seeds = append(seeds, [2][]byte{frame(req), nil})
		}
	}
	batch := record.MustBuild(record.DefaultBatchOptions(), sampleRecords(fuzzStartMs, 3))
	gzipOpts := record.DefaultBatchOptions()
	gzipOpts.Codec = record.CodecGzip
	gz := record.MustBuild(gzipOpts, sampleRecords(fuzzStartMs, 1))
	zstdOpts := record.DefaultBatchOptions()
	zstdOpts.Codec = record.CodecZstd
	zs := record.MustBuild(zstdOpts, sampleRecords(fuzzStartMs, 2))
	fetch := frame(seedRequest(1, 12))
	for _, acks := range []int16{0, 1, -1} {
		seeds = append(seeds, [2][]byte{frame(produceRequest(9, acks, fuzzTopic, 0, batch)), fetch})
	}
	seeds = append(seeds,
		[2][]byte{frame(produceRequest(3, -1, fuzzTopic, 1, append(bytes.Clone(batch), gz...))), frame(seedRequest(1, 4))},
		[2][]byte{frame(produceRequest(6, 1, fuzzTopic, 0, zs)), fetch}, // zstd below v7
		[2][]byte{frame(produceRequest(11, -1, "auto-created", 0, zs)), frame(seedRequest(3, 12))},
		[2][]byte{frame(seedRequest(19, 7)), frame(produceRequest(9, -1, "created", 2, gz))},
		[2][]byte{frame(seedRequest(33, 2)), frame(produceRequest(9, -1, fuzzTopic, 0, batch))},
		[2][]byte{frame(seedRequest(44, 1)), frame(produceRequest(9, -1, fuzzTopic, 0, batch))},
		[2][]byte{frame(seedRequest(37, 3)), frame(produceRequest(9, -1, fuzzTopic, 3, batch))},
		[2][]byte{frame(seedRequest(20, 5)), fetch},
		[2][]byte{frame(seedRequest(21, 2)), frame(seedRequest(2, 8))},
		[2][]byte{frame(seedRequest(22, 4)), frame(produceRequest(9, -1, fuzzTopic, 0, idempotentBatch(0, 0, 0, 2)))},
	)
	// A long poll at the log end that a produce then wakes.
	poll := seedRequest(1, 12).(*kmsg.FetchRequest)
	poll.Topics[0].Partitions[0].FetchOffset = 6 * 3
	poll.MinBytes, poll.MaxWaitMillis = 1, 400
	seeds = append(seeds, [2][]byte{frame(poll), frame(produceRequest(9, 1, fuzzTopic, 0, batch))})
	// The same partition twice in one fetch, out of range and in range.
	dup := seedRequest(1, 4).(*kmsg.FetchRequest)
	dup.Topics[0].Partitions[0].Partition, dup.Topics[0].Partitions[0].FetchOffset = 1, 1<<40
	dup.Topics[0].Partitions[1].Partition, dup.Topics[0].Partitions[1].FetchOffset = 1, 0
	seeds = append(seeds, [2][]byte{frame(dup), nil})
	// ApiVersions above the supported range gets the early v0 answer.
	for _, v := range []int16{5, 127} {
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = v
		seeds = append(seeds, [2][]byte{frame(av), frame(seedRequest(18, 3))})
	}
	// Truncated frames and an unknown key.
	p := frame(produceRequest(9, -1, fuzzTopic, 0, batch))
	seeds = append(seeds, [2][]byte{p[:len(p)/2], p}, [2][]byte{p[:9], nil}, [2][]byte{{0x7f, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff}, nil})
	return seeds
}

// seedRequest is a meaningful request of API key at version v, aimed at
// the fuzz topic.
func seedRequest(key, v int16) kmsg.Request {
	str := func(s string) *string { return &s }
	var req kmsg.Request
	switch key {
	case 0:
		acks := int16(-1)
		if v%3 == 1 {
			acks = 1
		}
		req = produceRequest(v, acks, fuzzTopic, int32(v%2), record.MustBuild(record.DefaultBatchOptions(), sampleRecords(fuzzStartMs, int(v))))
	case 1:
		r := kmsg.NewPtrFetchRequest()
		r.ReplicaID, r.MaxWaitMillis, r.MinBytes, r.MaxBytes = -1, 100, 1, 1<<20
		r.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = fuzzTopic
		for p := int32(0); p < 2; p++ {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, int64(v%3), 1<<20, -1
			rp.LogStartOffset = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
		req = r
	case 2:
		r := kmsg.NewPtrListOffsetsRequest()
		r.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = fuzzTopic
		for i, ts := range []int64{-1, -2, -3, fuzzStartMs} {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = int32(i%2), ts, -1, 1
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
		req = r
	case 3:
		r := kmsg.NewPtrMetadataRequest()
		for _, name := range []string{fuzzTopic, fmt.Sprintf("meta-%d", v)} {
			t := kmsg.NewMetadataRequestTopic()
			t.Topic = str(name)
			r.Topics = append(r.Topics, t)
		}
		r.AllowAutoTopicCreation = true
		req = r
	case 18:
		r := kmsg.NewPtrApiVersionsRequest()
		r.ClientSoftwareName, r.ClientSoftwareVersion = "fuzz", "1.0"
		req = r
	case 19:
		r := kmsg.NewPtrCreateTopicsRequest()
		r.TimeoutMillis = 1000
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = "created", 3, 1
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = "segment.bytes", str("200")
		t.Configs = append(t.Configs, c)
		r.Topics = append(r.Topics, t)
		r.ValidateOnly = v == 3
		req = r
	case 20:
		r := kmsg.NewPtrDeleteTopicsRequest()
		r.TopicNames = []string{fuzzTopic}
		t := kmsg.NewDeleteTopicsRequestTopic()
		t.Topic = str(fuzzTopic)
		r.Topics = append(r.Topics, t)
		req = r
	case 21:
		r := kmsg.NewPtrDeleteRecordsRequest()
		t := kmsg.NewDeleteRecordsRequestTopic()
		t.Topic = fuzzTopic
		p := kmsg.NewDeleteRecordsRequestTopicPartition()
		p.Partition, p.Offset = 0, 4
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
		req = r
	case 22:
		r := kmsg.NewPtrInitProducerIDRequest()
		r.TransactionTimeoutMillis = 1000
		r.ProducerID, r.ProducerEpoch = -1, -1
		req = r
	case 23:
		r := kmsg.NewPtrOffsetForLeaderEpochRequest()
		r.ReplicaID = -1
		t := kmsg.NewOffsetForLeaderEpochRequestTopic()
		t.Topic = fuzzTopic
		for _, e := range []int32{0, -1, 5} {
			p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			p.Partition, p.LeaderEpoch, p.CurrentLeaderEpoch = 0, e, -1
			t.Partitions = append(t.Partitions, p)
		}
		r.Topics = append(r.Topics, t)
		req = r
	case 32:
		r := kmsg.NewPtrDescribeConfigsRequest()
		t := kmsg.NewDescribeConfigsRequestResource()
		t.ResourceType, t.ResourceName = kmsg.ConfigResourceTypeTopic, fuzzTopic
		b := kmsg.NewDescribeConfigsRequestResource()
		b.ResourceType, b.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
		b.ConfigNames = []string{"log.segment.bytes"}
		r.Resources = append(r.Resources, t, b)
		r.IncludeSynonyms, r.IncludeDocumentation = true, true
		req = r
	case 33:
		r := kmsg.NewPtrAlterConfigsRequest()
		res := kmsg.NewAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, fuzzTopic
		for _, kv := range [][2]string{{"segment.bytes", "100"}, {"retention.ms", "1"}} {
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = kv[0], str(kv[1])
			res.Configs = append(res.Configs, c)
		}
		r.Resources = append(r.Resources, res)
		req = r
	case 37:
		r := kmsg.NewPtrCreatePartitionsRequest()
		r.TimeoutMillis = 1000
		t := kmsg.NewCreatePartitionsRequestTopic()
		t.Topic, t.Count = fuzzTopic, 4
		r.Topics = append(r.Topics, t)
		req = r
	case 44:
		r := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, fuzzTopic
		for _, kv := range [][2]string{{"segment.bytes", "14"}, {"retention.bytes", "10"}} {
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Op, c.Value = kv[0], kmsg.IncrementalAlterConfigOpSet, str(kv[1])
			res.Configs = append(res.Configs, c)
		}
		d := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		d.Name, d.Op = "max.message.bytes", kmsg.IncrementalAlterConfigOpDelete
		res.Configs = append(res.Configs, d)
		r.Resources = append(r.Resources, res)
		req = r
	case 60:
		r := kmsg.NewPtrDescribeClusterRequest()
		r.IncludeClusterAuthorizedOperations = true
		req = r
	default:
		req = kmsg.RequestForKey(key)
	}
	req.SetVersion(v)
	return req
}
