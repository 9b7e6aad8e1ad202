package broker

// Tests of the newest protocol versions (issue 12 item 4: every API up to
// Kafka 4.1's highest version): the version table against Kafka 4.1's,
// Produce and Fetch by topic id, the new ListOffsets timestamps, Fetch's
// v15 replica state, leader hints, and a wire round trip of every new
// version.

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// kafka41 is, for every API Chronik serves, the version range it serves:
// minimums as before (Kafka 4 raised some; Chronik keeps the old clients
// it served), maximums Kafka 4.1's (checked against franz-go's kversion
// below), except where noted.
var kafka41 = map[int16][2]int16{
	0: {0, 13}, 1: {4, 18}, 2: {0, 10}, 3: {0, 13},
	8: {0, 10}, 9: {0, 10}, // Kafka 4.2's v10 (topic ids), served before this work; 4.1 stops at 9
	10: {0, 6}, 11: {0, 9}, 12: {0, 4}, 13: {0, 5}, 14: {0, 5}, 15: {0, 6}, 16: {0, 5},
	18: {0, 4}, 19: {0, 7}, 20: {0, 6}, 21: {0, 2}, 22: {0, 5}, 23: {0, 4},
	24: {0, 5}, 25: {0, 4}, 26: {0, 5}, 28: {0, 5},
	32: {0, 4}, 33: {0, 2}, 37: {0, 3}, 42: {0, 2}, 44: {0, 1}, 47: {0, 0},
	60: {0, 2}, 61: {0, 0}, 65: {0, 0}, 66: {0, 2}, 68: {0, 1}, 69: {0, 1},
}

// controlHeldBack are the control-plane APIs, left below Kafka 4.1's
// (AlterPartition 2-3, BrokerRegistration 0-4, BrokerHeartbeat 0-1,
// AllocateProducerIds 0): only Chronik's own brokers call them, at these
// versions, and the newer ones mean things Chronik does not do (broker
// epochs in the ISR, log directories, unclean-shutdown detection).
var controlHeldBack = map[int16][2]int16{56: {0, 1}, 62: {0, 0}, 63: {0, 0}, 67: {0, 0}}

// TestVersionsReachKafka41: the client listener advertises exactly the
// table above, whose maximums are Kafka 4.1's (as franz-go's kversion
// records each release), and the control listener adds the control
// plane at its held-back versions.
func TestVersionsReachKafka41(t *testing.T) {
	ref := kversion.V4_1_0()
	client := AdvertisedAPIs(ListenerClient)
	if len(client) != len(kafka41) {
		t.Errorf("client listener advertises %d APIs, the table has %d", len(client), len(kafka41))
	}
	for _, k := range client {
		want, ok := kafka41[k.ApiKey]
		if !ok {
			t.Errorf("key %d (%s) advertised but not in the table", k.ApiKey, kmsg.NameForKey(k.ApiKey))
			continue
		}
		if k.MinVersion != want[0] || k.MaxVersion != want[1] {
			t.Errorf("key %d (%s): %d-%d, want %d-%d", k.ApiKey, kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion, want[0], want[1])
		}
		kafkaMax, ok := ref.LookupMaxKeyVersion(k.ApiKey)
		switch {
		case !ok:
			t.Errorf("key %d: not a Kafka 4.1 broker API", k.ApiKey)
		case k.ApiKey == 8 || k.ApiKey == 9:
			if k.MaxVersion != kafkaMax+1 {
				t.Errorf("key %d: max %d, want Kafka 4.1's %d + 1", k.ApiKey, k.MaxVersion, kafkaMax)
			}
		case k.MaxVersion != kafkaMax:
			t.Errorf("key %d (%s): max %d, Kafka 4.1's is %d", k.ApiKey, kmsg.NameForKey(k.ApiKey), k.MaxVersion, kafkaMax)
		}
	}
	for _, k := range AdvertisedAPIs(ListenerControl) {
		if want, ok := controlHeldBack[k.ApiKey]; ok && (k.MinVersion != want[0] || k.MaxVersion != want[1]) {
			t.Errorf("control key %d: %d-%d, want %d-%d", k.ApiKey, k.MinVersion, k.MaxVersion, want[0], want[1])
		}
	}
}

// produceByID is an acks=all produce of n records to topic id, partition 0.
func produceByID(version int16, id [16]byte, records []byte) *kmsg.ProduceRequest {
	req := produceRequest(version, -1, "", 0, records)
	req.Topics[0].TopicID = id
	return req
}

// fetchByID is a fetch of topic id, partition 0, from offset.
func fetchByID(version int16, id [16]byte, offset int64) *kmsg.FetchRequest {
	req := fetchRequest("", 0, offset, 0, 0)
	req.Version = version
	req.Topics[0].TopicID = id
	return req
}

// TestProduceFetchByTopicID: Produce v13 and Fetch v13+ name the topic by
// id and answer with it; an unknown id, the zero id, and the id of a
// deleted topic (even once a topic of the same name exists again) get
// UNKNOWN_TOPIC_ID and change nothing.
func TestProduceFetchByTopicID(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	oldID := [16]byte(tb.b.topics["t"].meta.ID)

	resp := tb.doAndSync(produceByID(13, oldID, testBatch(tb.nowMs, 2))).(*kmsg.ProduceResponse)
	if st := resp.Topics[0]; st.TopicID != oldID || st.Partitions[0].ErrorCode != 0 || st.Partitions[0].BaseOffset != 0 {
		t.Fatalf("produce v13 by id: %+v", st)
	}
	for v := int16(13); v <= 18; v++ {
		fr := tb.do(fetchByID(v, oldID, 0)).(*kmsg.FetchResponse)
		if fr.Topics[0].TopicID != oldID || fr.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("fetch v%d by id: %+v", v, fr.Topics[0])
		}
		if vals, _ := fetchedValues(t, fr); len(vals) != 2 {
			t.Fatalf("fetch v%d by id: %d records, want 2", v, len(vals))
		}
	}

	unknown := [16]byte{1, 2, 3}
	for _, id := range [][16]byte{unknown, {}} {
		pr := tb.do(produceByID(13, id, testBatch(tb.nowMs, 1))).(*kmsg.ProduceResponse)
		if st := pr.Topics[0]; st.TopicID != id || st.Partitions[0].ErrorCode != kerrUnknownTopicID {
			t.Fatalf("produce to id %x: %+v, want UNKNOWN_TOPIC_ID", id, st)
		}
		fr := tb.do(fetchByID(13, id, 0)).(*kmsg.FetchResponse)
		if st := fr.Topics[0]; st.TopicID != id || st.Partitions[0].ErrorCode != kerrUnknownTopicID {
			t.Fatalf("fetch of id %x: %+v, want UNKNOWN_TOPIC_ID", id, st)
		}
	}

	// A recreated topic has a new id; the old one is refused.
	tb.deleteTopic("t")
	tb.createTopic("t", 1, nil)
	newID := [16]byte(tb.b.topics["t"].meta.ID)
	if newID == oldID {
		t.Fatal("recreated topic kept its id")
	}
	pr := tb.do(produceByID(13, oldID, testBatch(tb.nowMs, 1))).(*kmsg.ProduceResponse)
	if code := pr.Topics[0].Partitions[0].ErrorCode; code != kerrUnknownTopicID {
		t.Fatalf("produce to the deleted topic's id: error %d, want UNKNOWN_TOPIC_ID", code)
	}
	fr := tb.do(fetchByID(18, oldID, 0)).(*kmsg.FetchResponse)
	if code := fr.Topics[0].Partitions[0].ErrorCode; code != kerrUnknownTopicID {
		t.Fatalf("fetch of the deleted topic's id: error %d, want UNKNOWN_TOPIC_ID", code)
	}
	if end := tb.b.topics["t"].partitions[0].log.LogEndOffset(); end != 0 {
		t.Fatalf("the refused produce wrote to the new topic: log end %d", end)
	}
	tb.doAndSync(produceByID(13, newID, testBatch(tb.nowMs, 3)))
	fr = tb.do(fetchByID(13, newID, 0)).(*kmsg.FetchResponse)
	if vals, _ := fetchedValues(t, fr); len(vals) != 3 {
		t.Fatalf("new topic by id: %d records, want 3", len(vals))
	}
	// A name in a v13 request means nothing: the id is what counts.
	byName := fetchByID(13, [16]byte{}, 0)
	byName.Topics[0].Topic = "t"
	if code := tb.do(byName).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerrUnknownTopicID {
		t.Fatalf("v13 fetch with a name and no id: error %d, want UNKNOWN_TOPIC_ID", code)
	}
}

// TestLongPollByIDEndsWhenTopicDeleted: a fetch by id long-polling on a
// topic that is then deleted is answered UNKNOWN_TOPIC_ID, and a topic
// created again under the name is not served to it.
func TestLongPollByIDEndsWhenTopicDeleted(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	id := [16]byte(tb.b.topics["t"].meta.ID)
	poll := fetchByID(13, id, 0)
	poll.MinBytes, poll.MaxWaitMillis = 1, 10_000
	before := tb.send(poll)
	if got := len(tb.replier.replies) - before; got != 0 {
		t.Fatalf("long poll answered at once: %d replies", got)
	}
	tb.deleteTopic("t")
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 2)
	tb.nowMs += 20_000
	tb.b.Tick(tb.nowMs)
	var got *kmsg.FetchResponse
	for _, r := range tb.replier.replies[before:] {
		if f, ok := r.resp.(*kmsg.FetchResponse); ok {
			got = f
		}
	}
	if got == nil {
		t.Fatal("long poll never answered")
	}
	if sp := got.Topics[0].Partitions[0]; sp.ErrorCode != kerrUnknownTopicID || len(sp.RecordBatches) != 0 {
		t.Fatalf("long poll on a deleted topic's id: error %d, %d record bytes; want UNKNOWN_TOPIC_ID and none", sp.ErrorCode, len(sp.RecordBatches))
	}
}

// TestListOffsetsNewTimestamps: -5 (latest tiered, v9+) is offset -1 and
// epoch -1 without tiered storage; a special timestamp older than the
// request's version is UNSUPPORTED_VERSION, as Kafka's ReplicaManager
// answers; v10 answers as v9.
func TestListOffsetsNewTimestamps(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 3)
	cases := []struct {
		version int16
		ts      int64
		code    int16
		offset  int64
	}{
		{9, listLatestTiered, kerrNone, -1},
		{10, listLatestTiered, kerrNone, -1},
		{10, listLatest, kerrNone, 3},
		{10, listEarliestLocal, kerrNone, 0},
		{8, listLatestTiered, kerrUnsupportedVersion, -1},
		{7, listEarliestLocal, kerrUnsupportedVersion, -1},
		{6, listMaxTimestamp, kerrUnsupportedVersion, -1},
		{7, listMaxTimestamp, kerrNone, 0},
		{10, -6, kerrUnsupportedVersion, -1},
		{1, listEarliest, kerrNone, 0},
		{0, listMaxTimestamp, kerrInvalidRequest, -1},
	}
	for _, c := range cases {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = c.version
		req.TimeoutMillis = 100
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = c.ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		sp := tb.do(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if sp.ErrorCode != c.code || sp.Offset != c.offset {
			t.Errorf("v%d timestamp %d: error %d offset %d, want error %d offset %d", c.version, c.ts, sp.ErrorCode, sp.Offset, c.code, c.offset)
		}
		if c.ts == listLatestTiered && c.code == kerrNone && (sp.LeaderEpoch != -1 || sp.Timestamp != -1) {
			t.Errorf("v%d latest tiered: epoch %d timestamp %d, want -1 -1", c.version, sp.LeaderEpoch, sp.Timestamp)
		}
	}
}

// TestFetchReplicaState: from v15 a follower's id travels in
// ReplicaState (KIP-903). A consumer's v15 fetch (id -1) is a consumer
// fetch; a replica id there that names no other broker is refused on the
// client listener exactly as a v12 ReplicaID would be.
func TestFetchReplicaState(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 2)
	id := [16]byte(tb.b.topics["t"].meta.ID)
	consumer := fetchByID(15, id, 0)
	consumer.ReplicaID = 7 // not on the wire at v15: must not count
	consumer.ReplicaState.ID = -1
	if vals, _ := fetchedValues(t, tb.do(consumer).(*kmsg.FetchResponse)); len(vals) != 2 {
		t.Fatalf("consumer v15 fetch: %d records, want 2", len(vals))
	}
	if len(tb.replier.closed) != 0 {
		t.Fatalf("consumer v15 fetch closed: %v", tb.replier.closed)
	}
	replica := fetchByID(15, id, 0)
	replica.ReplicaID = -1
	replica.ReplicaState.ID, replica.ReplicaState.Epoch = 42, 1
	tb.send(replica)
	if len(tb.replier.closed) != 1 {
		t.Fatalf("v15 fetch claiming replica 42 on the client listener: closed %v, want the connection closed", tb.replier.closed)
	}
}

// TestFetchLeaderHintFromV16: a fetch with an old leader epoch is fenced,
// and from v16 the answer names the current leader and epoch and lists
// the leader's endpoint (KIP-951); v15 answers carry no hint.
func TestFetchLeaderHintFromV16(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.restart() // a new incarnation: the next leader epoch
	p := tb.b.topics["t"].partitions[0]
	if p.leaderEpoch < 1 {
		t.Fatalf("leader epoch %d after a restart, want >= 1", p.leaderEpoch)
	}
	id := [16]byte(tb.b.topics["t"].meta.ID)
	for _, v := range []int16{15, 16, 18} {
		req := fetchByID(v, id, 0)
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = p.leaderEpoch - 1
		resp := tb.do(req).(*kmsg.FetchResponse)
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != kerrFencedLeaderEpoch {
			t.Fatalf("v%d: error %d, want FENCED_LEADER_EPOCH", v, sp.ErrorCode)
		}
		if v < 16 {
			if sp.CurrentLeader.LeaderID != -1 || len(resp.Brokers) != 0 {
				t.Fatalf("v%d: hint %+v brokers %+v, want none", v, sp.CurrentLeader, resp.Brokers)
			}
			continue
		}
		if sp.CurrentLeader.LeaderID != tb.cfg.NodeID || sp.CurrentLeader.LeaderEpoch != p.leaderEpoch {
			t.Fatalf("v%d: hint %+v, want leader %d epoch %d", v, sp.CurrentLeader, tb.cfg.NodeID, p.leaderEpoch)
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != tb.cfg.NodeID || resp.Brokers[0].Host != tb.cfg.AdvertisedHost || resp.Brokers[0].Port != tb.cfg.AdvertisedPort {
			t.Fatalf("v%d: brokers %+v, want this broker's endpoint", v, resp.Brokers)
		}
	}
}

// TestNotLeaderHints: in a cluster, a produce (v10+) or fetch (v16+) sent
// to a broker that does not lead the partition names the leader and its
// endpoint; older versions do not.
func TestNotLeaderHints(t *testing.T) {
	c := newTestCluster(t, 2)
	c.createTopic("t", 1, 1, nil)
	a := c.assignment("t", 0)
	other := int32(1)
	if a.Leader == 1 {
		other = 2
	}
	leader := c.nodes[a.Leader-1].b
	id := [16]byte(leader.topics["t"].meta.ID)
	for _, v := range []int16{9, 10, 13} {
		req := produceByID(v, id, testBatch(c.nowMs, 1))
		req.Topics[0].Topic = "t"
		resp := c.do(other, req).(*kmsg.ProduceResponse)
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != kerrNotLeaderOrFollower {
			t.Fatalf("produce v%d to the non-leader: error %d", v, sp.ErrorCode)
		}
		checkHint(t, fmt.Sprintf("produce v%d", v), v >= 10, sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch, a, len(resp.Brokers))
		if v >= 10 && (resp.Brokers[0].NodeID != a.Leader || resp.Brokers[0].Host != leader.cfg.AdvertisedHost || resp.Brokers[0].Port != leader.cfg.AdvertisedPort) {
			t.Fatalf("produce v%d: brokers %+v, want the leader's endpoint", v, resp.Brokers)
		}
	}
	for _, v := range []int16{12, 15, 16, 18} {
		req := fetchByID(v, id, 0)
		req.Topics[0].Topic = "t"
		resp := c.do(other, req).(*kmsg.FetchResponse)
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != kerrNotLeaderOrFollower {
			t.Fatalf("fetch v%d from the non-leader: error %d", v, sp.ErrorCode)
		}
		checkHint(t, fmt.Sprintf("fetch v%d", v), v >= 16, sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch, a, len(resp.Brokers))
	}
}

// checkHint checks a leader hint against assignment a: present with one
// endpoint when want, absent otherwise.
func checkHint(t *testing.T, what string, want bool, leaderID, leaderEpoch int32, a metadata.Partition, brokers int) {
	t.Helper()
	if !want {
		if leaderID != -1 || brokers != 0 {
			t.Fatalf("%s: hint leader %d with %d endpoints, want none", what, leaderID, brokers)
		}
		return
	}
	if leaderID != a.Leader || leaderEpoch != a.LeaderEpoch || brokers != 1 {
		t.Fatalf("%s: hint leader %d epoch %d with %d endpoints, want leader %d epoch %d with 1", what, leaderID, leaderEpoch, brokers, a.Leader, a.LeaderEpoch)
	}
}

// TestDescribeClusterFencedBrokers: v2 with IncludeFencedBrokers lists a
// fenced broker, marked; without it (or below v2) only live ones.
func TestDescribeClusterFencedBrokers(t *testing.T) {
	c := newTestCluster(t, 3)
	c.nodes[2].kill()
	c.runUntil("broker 3 fenced", func() bool {
		reg := c.nodes[0].b.image.Broker(3)
		return reg != nil && reg.Fenced
	})
	describe := func(v int16, include bool) map[int32]bool {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = v
		req.EndpointType = endpointTypeBroker
		req.IncludeFencedBrokers = include
		resp := c.do(1, req).(*kmsg.DescribeClusterResponse)
		out := map[int32]bool{}
		for _, b := range resp.Brokers {
			out[b.NodeID] = b.IsFenced
		}
		return out
	}
	if got := describe(2, true); fmt.Sprint(got) != "map[1:false 2:false 3:true]" {
		t.Fatalf("v2 with fenced brokers: %v", got)
	}
	for _, v := range []int16{1, 2} {
		if got := describe(v, false); fmt.Sprint(got) != "map[1:false 2:false]" {
			t.Fatalf("v%d without fenced brokers: %v", v, got)
		}
	}
}

// TestNewVersionsWireRoundTrip: every version this work added, encoded as
// a client encodes it, goes through ParseRequest and the handler, and
// its answer decodes at that version and encodes back to the same bytes.
func TestNewVersionsWireRoundTrip(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 2)
	id := [16]byte(tb.b.topics["t"].meta.ID)
	type tc struct {
		name string
		req  kmsg.Request
	}
	var cases []tc
	for v := int16(12); v <= 13; v++ {
		r := produceByID(v, id, testBatch(tb.nowMs, 1))
		r.Topics[0].Topic = "t"
		cases = append(cases, tc{fmt.Sprintf("Produce v%d", v), r})
	}
	for v := int16(13); v <= 18; v++ {
		cases = append(cases, tc{fmt.Sprintf("Fetch v%d", v), fetchByID(v, id, 0)})
	}
	for v := int16(9); v <= 10; v++ {
		r := kmsg.NewPtrListOffsetsRequest()
		r.Version = v
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = listLatestTiered
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		cases = append(cases, tc{fmt.Sprintf("ListOffsets v%d", v), r})
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 13
	cases = append(cases, tc{"Metadata v13", md})
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.Version = 2
	dc.EndpointType = endpointTypeBroker
	dc.IncludeFencedBrokers = true
	cases = append(cases, tc{"DescribeCluster v2", dc})

	formatter := kmsg.NewRequestFormatter(kmsg.FormatterClientID("round-trip"))
	for i, c := range cases {
		frame := formatter.AppendRequest(nil, c.req, int32(i))
		req, early, err := ParseRequest(frame[4:])
		if err != nil || early != nil {
			t.Fatalf("%s: parse: %v (early %v)", c.name, err, early)
		}
		if req.Msg.GetVersion() != c.req.GetVersion() {
			t.Fatalf("%s: parsed as v%d", c.name, req.Msg.GetVersion())
		}
		tb.seq++
		before := len(tb.replier.replies)
		req.Conn, req.Seq = 1, tb.seq
		tb.b.HandleRequest(tb.nowMs, req)
		for j := 0; j < 10 && len(tb.replier.replies) == before; j++ {
			tb.b.Flush()
			tb.runSyncs()
		}
		if len(tb.replier.replies) != before+1 {
			t.Fatalf("%s: %d replies", c.name, len(tb.replier.replies)-before)
		}
		resp := tb.replier.replies[before].resp
		wire := EncodeResponse(nil, req.CorrelationID, resp)
		back := c.req.ResponseKind()
		back.SetVersion(c.req.GetVersion())
		body := wire[4:]
		if back.IsFlexible() {
			body = body[1:] // the response header's empty tag section
		}
		if err := back.ReadFrom(body); err != nil {
			t.Fatalf("%s: answer does not decode: %v", c.name, err)
		}
		if again := back.AppendTo(nil); !bytes.Equal(again, body) {
			t.Fatalf("%s: answer of %d bytes re-encodes to %d", c.name, len(body), len(again))
		}
		switch r := back.(type) {
		case *kmsg.ProduceResponse:
			sp := r.Topics[0].Partitions[0]
			if sp.ErrorCode != 0 || (c.req.GetVersion() >= 13 && r.Topics[0].TopicID != id) {
				t.Fatalf("%s: %+v", c.name, r.Topics[0])
			}
		case *kmsg.FetchResponse:
			if r.Topics[0].TopicID != id || r.Topics[0].Partitions[0].ErrorCode != 0 || len(r.Topics[0].Partitions[0].RecordBatches) == 0 {
				t.Fatalf("%s: %+v", c.name, r.Topics[0])
			}
		case *kmsg.ListOffsetsResponse:
			if sp := r.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.Offset != -1 {
				t.Fatalf("%s: %+v", c.name, sp)
			}
		case *kmsg.MetadataResponse:
			if r.ErrorCode != 0 || len(r.Topics) != 1 || r.Topics[0].TopicID != id {
				t.Fatalf("%s: error %d, %d topics", c.name, r.ErrorCode, len(r.Topics))
			}
		case *kmsg.DescribeClusterResponse:
			if r.ErrorCode != 0 || len(r.Brokers) != 1 || r.Brokers[0].IsFenced {
				t.Fatalf("%s: %+v", c.name, r)
			}
		}
	}
}
