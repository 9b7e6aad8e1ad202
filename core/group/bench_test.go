package group

import (
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkOffsetCommit is one single-partition OffsetCommit of a simple
// consumer and the CommitWrite of its record.
func BenchmarkOffsetCommit(b *testing.B) {
	s := NewShard(DefaultConfig())
	s.LoadDone(0)
	md := ""
	req := &kmsg.OffsetCommitRequest{Version: 9, Group: "g", Generation: -1, Topics: []kmsg.OffsetCommitRequestTopic{{
		Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, LeaderEpoch: 1, Metadata: &md}}}}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req.Topics[0].Partitions[0].Offset = int64(i)
		out := s.OffsetCommit(int64(i), ReplyRef(i), req)
		s.CommitWrite(out.Write)
	}
}

// BenchmarkReplay replays offset records of 100 groups x 100 partitions
// (per op: one record).
func BenchmarkReplay(b *testing.B) {
	var recs []Record
	for g := 0; g < 100; g++ {
		for p := int32(0); p < 100; p++ {
			recs = append(recs, Record{Key: offsetKey("group-"+strconv.Itoa(g), tp{"topic", p}),
				Value: offsetValue(offset{offset: int64(p), leaderEpoch: 3, commitMs: 1})})
		}
	}
	b.ReportAllocs()
	s := NewShard(DefaultConfig())
	for i := 0; b.Loop(); i++ {
		r := recs[i%len(recs)]
		if err := s.Replay(r.Key, r.Value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRebalance100 is one generation of a 100-member group: every
// member rejoins and syncs, and the leader assigns.
func BenchmarkRebalance100(b *testing.B) {
	h := newHarness(b, testConfig())
	ids := make([]string, 100)
	for i := range ids {
		ids[i], _ = h.joinTwoStep("g", "c"+strconv.Itoa(i), joinOpt{session: 100000})
	}
	b.ReportAllocs()
	for b.Loop() {
		var refs []ReplyRef
		for _, id := range ids {
			refs = append(refs, h.join("g", "c", joinOpt{member: id, session: 100000}))
		}
		lead := h.joinResp(refs[len(refs)-1])
		assign := map[string][]byte{}
		for _, id := range ids {
			assign[id] = []byte(id)
		}
		for _, id := range ids {
			if id != lead.LeaderID {
				h.sync("g", id, lead.Generation, nil)
			}
		}
		h.sync("g", lead.LeaderID, lead.Generation, assign)
		h.join("g", "c", joinOpt{member: ids[0], session: 100000, protos: []protocol{{"range", []byte{byte(len(refs))}}}})
	}
}

// BenchmarkTickIdle is a Tick with nothing due over 10,000 stable
// single-member groups.
func BenchmarkTickIdle(b *testing.B) {
	h := newHarness(b, testConfig())
	for g := 0; g < 10000; g++ {
		name := "g" + strconv.Itoa(g)
		id, ref := h.joinTwoStep(name, "c", joinOpt{session: 1000000})
		h.sync(name, id, h.joinResp(ref).Generation, map[string][]byte{id: {1}})
	}
	b.ReportAllocs()
	for b.Loop() {
		h.s.Tick(h.now)
	}
}

// settledConsumerGroup returns a shard with one KIP-848 group of members
// members sharing a topic of partitions partitions, every member settled.
func settledConsumerGroup(b *testing.B, members int, partitions int32) (*Shard, []*kmsg.ConsumerGroupHeartbeatRequest) {
	s := NewShard(DefaultConfig())
	s.SetTopics(fakeTopics{"t": {ID: topicID(1), Partitions: partitions}})
	s.LoadDone(0)
	reqs := make([]*kmsg.ConsumerGroupHeartbeatRequest, members)
	for i := range reqs {
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Version, r.Group, r.MemberID, r.RebalanceTimeoutMillis = 1, "g", "m"+strconv.Itoa(i), 30000
		r.SubscribedTopicNames = []string{"t"}
		reqs[i] = r
	}
	for round := 0; round < 4; round++ {
		for _, r := range reqs {
			out := s.ConsumerGroupHeartbeat(0, 1, "c", "h", r)
			s.CommitWrite(out.Write)
			resp := out.Replies[0].Resp.(*kmsg.ConsumerGroupHeartbeatResponse)
			if resp.ErrorCode != 0 {
				b.Fatalf("heartbeat: error %d", resp.ErrorCode)
			}
			r.MemberEpoch = resp.MemberEpoch
			if resp.Assignment != nil {
				r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: topicID(1)}}
				for _, t := range resp.Assignment.Topics {
					r.Topics[0].Partitions = append(r.Topics[0].Partitions, t.Partitions...)
				}
			}
		}
	}
	return s, reqs
}

// BenchmarkConsumerHeartbeat is one steady KIP-848 heartbeat (nothing
// changes) in a settled group of 100 members over 1000 partitions.
func BenchmarkConsumerHeartbeat(b *testing.B) {
	s, reqs := settledConsumerGroup(b, 100, 1000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		out := s.ConsumerGroupHeartbeat(0, 1, "c", "h", reqs[i%len(reqs)])
		if len(out.Records) != 0 {
			b.Fatalf("steady heartbeat wrote %d records", len(out.Records))
		}
	}
}

// BenchmarkConsumerRebalance is a member joining a settled group of 100
// members over 1000 partitions and leaving again: two target computations
// with their records.
func BenchmarkConsumerRebalance(b *testing.B) {
	s, _ := settledConsumerGroup(b, 100, 1000)
	join := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	join.Version, join.Group, join.MemberID, join.RebalanceTimeoutMillis = 1, "g", "newcomer", 30000
	join.SubscribedTopicNames = []string{"t"}
	leave := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	leave.Version, leave.Group, leave.MemberID, leave.MemberEpoch = 1, "g", "newcomer", -1
	b.ReportAllocs()
	for b.Loop() {
		s.CommitWrite(s.ConsumerGroupHeartbeat(0, 1, "c", "h", join).Write)
		s.CommitWrite(s.ConsumerGroupHeartbeat(0, 2, "c", "h", leave).Write)
	}
}
