package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCoordinatorPartitionMatchesKafka pins the group-to-partition map to
// Java's String.hashCode and Kafka's Utils.abs, so a group lands on the
// same __consumer_offsets partition as on Kafka.
func TestCoordinatorPartitionMatchesKafka(t *testing.T) {
	for _, tc := range []struct {
		s    string
		hash int32
	}{
		{"", 0},
		{"hello", 99162322},
		{"Aa", 2112},
		{"BB", 2112},
		{"polygenelubricants", -1 << 31}, // Java's famous MinInt32 hash
		{"\U0001F600", 1772899},          // a surrogate pair: 0xD83D*31 + 0xDE00
	} {
		if got := javaStringHash(tc.s); got != tc.hash {
			t.Errorf("hash(%q) = %d, want %d", tc.s, got, tc.hash)
		}
	}
	if p := coordinatorPartition("polygenelubricants", 50); p != 0 {
		t.Errorf("MinInt32 hash maps to partition %d, want 0 (Utils.abs)", p)
	}
	if p := coordinatorPartition("hello", 50); p != 99162322%50 {
		t.Errorf("partition of hello %d, want %d", p, 99162322%50)
	}
	if p := coordinatorPartition("\u00e9t\u00e9", 7); p < 0 || p >= 7 {
		t.Errorf("partition %d out of range", p)
	}
}

func findCoordinator(version int16, keyType int8, keys ...string) *kmsg.FindCoordinatorRequest {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = version
	req.CoordinatorType = keyType
	if version < 4 {
		req.CoordinatorKey = keys[0]
	} else {
		req.CoordinatorKeys = keys
	}
	return req
}

// TestFindCoordinatorCreatesOffsetsTopic: the first FindCoordinator for a
// group creates __consumer_offsets and answers COORDINATOR_NOT_AVAILABLE;
// once it exists every version answers with this broker (a single node
// leads every partition). The topic is internal: listed so in Metadata,
// refused to producers and to DeleteTopics.
func TestFindCoordinatorCreatesOffsetsTopic(t *testing.T) {
	tb := newTestBroker(t, func(c *Config) { c.OffsetsTopicPartitions = 5 })
	first := tb.do(findCoordinator(3, 0, "g1")).(*kmsg.FindCoordinatorResponse)
	if first.ErrorCode != kerrCoordinatorNotAvailable || first.NodeID != -1 {
		t.Fatalf("first answer: error %d node %d, want COORDINATOR_NOT_AVAILABLE and -1", first.ErrorCode, first.NodeID)
	}
	ts := tb.b.topics[offsetsTopic]
	if ts == nil || ts.meta.Partitions != 5 {
		t.Fatalf("offsets topic after the first request: %+v", ts)
	}
	for v := int16(0); v <= 3; v++ {
		resp := tb.do(findCoordinator(v, 0, "g1")).(*kmsg.FindCoordinatorResponse)
		if resp.ErrorCode != kerrNone || resp.NodeID != tb.cfg.NodeID || resp.Host != tb.cfg.AdvertisedHost || resp.Port != tb.cfg.AdvertisedPort {
			t.Fatalf("v%d: %+v", v, resp)
		}
	}
	resp := tb.do(findCoordinator(4, 0, "g1", "g2", "")).(*kmsg.FindCoordinatorResponse)
	if len(resp.Coordinators) != 3 {
		t.Fatalf("v4: %d coordinators for 3 keys", len(resp.Coordinators))
	}
	for i, c := range resp.Coordinators {
		if c.Key != []string{"g1", "g2", ""}[i] || c.ErrorCode != kerrNone || c.NodeID != tb.cfg.NodeID {
			t.Fatalf("v4 coordinator %d: %+v", i, c)
		}
	}
	share := tb.do(findCoordinator(4, 2, "s1")).(*kmsg.FindCoordinatorResponse)
	if c := share.Coordinators[0]; c.ErrorCode != kerrInvalidRequest || c.NodeID != -1 || c.ErrorMessage == nil {
		t.Fatalf("share group key: %+v", c)
	}

	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	mdResp := tb.do(md).(*kmsg.MetadataResponse)
	internal := 0
	for _, mt := range mdResp.Topics {
		if *mt.Topic == offsetsTopic {
			internal++
			if !mt.IsInternal {
				t.Fatal("the offsets topic is not marked internal")
			}
		}
	}
	if internal != 1 {
		t.Fatalf("the offsets topic listed %d times", internal)
	}

	prod := tb.doAndSync(tb.produceRequest(offsetsTopic, 0, 1)).(*kmsg.ProduceResponse)
	if code := prod.Topics[0].Partitions[0].ErrorCode; code != kerrInvalidTopicException {
		t.Fatalf("produce to the offsets topic: error %d, want INVALID_TOPIC_EXCEPTION", code)
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version = 5
	del.TopicNames = []string{offsetsTopic}
	delResp := tb.do(del).(*kmsg.DeleteTopicsResponse)
	if code := delResp.Topics[0].ErrorCode; code != kerrInvalidRequest || tb.b.topics[offsetsTopic] == nil {
		t.Fatalf("delete of the offsets topic: error %d, topic still there %v", code, tb.b.topics[offsetsTopic] != nil)
	}
}
