package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestConsumerGroupHeartbeatAndDescribe drives two KIP-848 members through
// the broker: the first gets every partition of the topic (named by the
// image's topic id), the second gets its share only after the first
// confirmed the revocation, and ConsumerGroupDescribe names the topic.
// ApiVersions v3 advertises group.version 1.
func TestConsumerGroupHeartbeatAndDescribe(t *testing.T) {
	tb := groupTestBroker(t)
	tb.createTopic("t", 4, nil)
	id := tb.b.topics["t"].meta.ID
	hb := func(member string, epoch int32, owned []int32) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Version = 1
		req.Group, req.MemberID, req.MemberEpoch = "g", member, epoch
		req.RebalanceTimeoutMillis = 10000
		if epoch == 0 {
			req.SubscribedTopicNames = []string{"t"}
		}
		rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
		rt.TopicID, rt.Partitions = id, owned
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{rt}
		resp := tb.sendGroup(req).(*kmsg.ConsumerGroupHeartbeatResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("heartbeat %s epoch %d: error %d", member, epoch, resp.ErrorCode)
		}
		return resp
	}
	parts := func(r *kmsg.ConsumerGroupHeartbeatResponse) []int32 {
		if r.Assignment == nil {
			return nil
		}
		var ps []int32
		for _, t := range r.Assignment.Topics {
			if t.TopicID == id {
				ps = append(ps, t.Partitions...)
			}
		}
		return ps
	}
	a := hb("A", 0, nil)
	if got := parts(a); len(got) != 4 || a.MemberEpoch != 1 {
		t.Fatalf("first member: epoch %d partitions %v", a.MemberEpoch, got)
	}
	b := hb("B", 0, nil)
	if got := parts(b); len(got) != 0 || b.MemberEpoch != 2 {
		t.Fatalf("second member before the revocation: epoch %d partitions %v", b.MemberEpoch, got)
	}
	a = hb("A", 1, []int32{0, 1, 2, 3})
	kept := parts(a)
	if len(kept) != 2 || a.MemberEpoch != 1 {
		t.Fatalf("A told to revoke: epoch %d keeps %v", a.MemberEpoch, kept)
	}
	if a = hb("A", 1, kept); a.MemberEpoch != 2 {
		t.Fatalf("A after confirming: epoch %d", a.MemberEpoch)
	}
	if got := parts(hb("B", 2, nil)); len(got) != 2 {
		t.Fatalf("B after A released: %v", got)
	}
	d := kmsg.NewPtrConsumerGroupDescribeRequest()
	d.Version = 1
	d.Groups = []string{"g", "missing"}
	dr := tb.sendGroup(d).(*kmsg.ConsumerGroupDescribeResponse)
	if len(dr.Groups) != 2 || dr.Groups[0].ErrorCode != 0 || dr.Groups[0].State != "Stable" || len(dr.Groups[0].Members) != 2 ||
		dr.Groups[0].Members[0].Assignment.TopicPartitions[0].Topic != "t" || dr.Groups[1].ErrorCode == 0 {
		t.Fatalf("describe: %+v", dr.Groups)
	}
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	ar := tb.do(av).(*kmsg.ApiVersionsResponse)
	found := false
	for _, f := range ar.FinalizedFeatures {
		found = found || (f.Name == "group.version" && f.MaxVersionLevel == 1)
	}
	if !found {
		t.Fatalf("ApiVersions v3 finalized features %+v lack group.version 1", ar.FinalizedFeatures)
	}
}
