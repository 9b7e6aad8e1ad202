package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupTestBroker is a single node with a small offsets topic and no
// initial rebalance delay.
func groupTestBroker(t *testing.T) *testBroker {
	tb := newTestBroker(t, func(c *Config) {
		c.OffsetsTopicPartitions = 3
		c.GroupCoordinator.InitialRebalanceDelayMs = 0
	})
	tb.do(findCoordinator(3, 0, "g")) // creates the offsets topic
	tb.settleGroups()
	if resp := tb.do(findCoordinator(3, 0, "g")).(*kmsg.FindCoordinatorResponse); resp.ErrorCode != 0 {
		t.Fatalf("FindCoordinator after the offsets topic exists: %d", resp.ErrorCode)
	}
	return tb
}

// settleGroups runs flushes, syncs and ticks until nothing moves: the
// coordinators' loads and writes complete.
func (tb *testBroker) settleGroups() {
	for range 20 {
		tb.b.Tick(tb.nowMs)
		tb.b.Flush()
		tb.runSyncs()
	}
}

// sendGroup sends a group request and returns the answer once it came.
func (tb *testBroker) sendGroup(msg kmsg.Request) kmsg.Response {
	tb.t.Helper()
	before := tb.send(msg)
	for i := 0; i < 50 && len(tb.replier.replies) == before; i++ {
		tb.nowMs += 10
		tb.settleGroups()
	}
	if len(tb.replier.replies) != before+1 {
		tb.t.Fatalf("%T: %d answers", msg, len(tb.replier.replies)-before)
	}
	resp := tb.replier.replies[before].resp
	checkEncodes(tb.t, resp)
	return resp
}

// TestGroupJoinSyncCommitFetchRestart drives one consumer through the
// classic protocol on a single node: the two-step join, the leader's
// sync, a commit answered only once its record is committed, the fetch of
// that offset, and the same offset after a restart, when the coordinator
// loaded it back from __consumer_offsets.
func TestGroupJoinSyncCommitFetchRestart(t *testing.T) {
	tb := groupTestBroker(t)
	tb.createTopic("t", 1, nil)
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 9
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "g", 10000, 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
	first := tb.sendGroup(join).(*kmsg.JoinGroupResponse)
	if first.ErrorCode != 79 || first.MemberID == "" { // MEMBER_ID_REQUIRED
		t.Fatalf("first join: error %d member %q", first.ErrorCode, first.MemberID)
	}
	join.MemberID = first.MemberID
	joined := tb.sendGroup(join).(*kmsg.JoinGroupResponse)
	if joined.ErrorCode != 0 || joined.Generation != 1 || joined.LeaderID != first.MemberID {
		t.Fatalf("second join: %+v", joined)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version = 5
	sync.Group, sync.Generation, sync.MemberID = "g", joined.Generation, joined.MemberID
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: joined.MemberID, MemberAssignment: []byte{9, 9}}}
	synced := tb.sendGroup(sync).(*kmsg.SyncGroupResponse)
	if synced.ErrorCode != 0 || string(synced.MemberAssignment) != string([]byte{9, 9}) {
		t.Fatalf("sync: %+v", synced)
	}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version = 9
	commit.Group, commit.Generation, commit.MemberID = "g", joined.Generation, joined.MemberID
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 42, LeaderEpoch: -1}}}}
	committed := tb.sendGroup(commit).(*kmsg.OffsetCommitResponse)
	if code := committed.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit: %d", code)
	}
	fetchOffset := func() int64 {
		fetch := kmsg.NewPtrOffsetFetchRequest()
		fetch.Version = 8
		fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}}}
		resp := tb.sendGroup(fetch).(*kmsg.OffsetFetchResponse)
		if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 || len(resp.Groups[0].Topics) != 1 {
			t.Fatalf("fetch: %+v", resp)
		}
		return resp.Groups[0].Topics[0].Partitions[0].Offset
	}
	if off := fetchOffset(); off != 42 {
		t.Fatalf("fetched offset %d, want 42", off)
	}
	tb.restart()
	tb.settleGroups()
	if off := fetchOffset(); off != 42 {
		t.Fatalf("fetched offset after a restart %d, want 42", off)
	}
	list := kmsg.NewPtrListGroupsRequest()
	list.Version = 5
	groups := tb.sendGroup(list).(*kmsg.ListGroupsResponse)
	if len(groups.Groups) != 1 || groups.Groups[0].Group != "g" {
		t.Fatalf("list: %+v", groups)
	}
}

// TestOffsetCommitFetchByTopicID: v10 names topics by id; the offsets are
// kept by name, so v9 reads them too; an unknown id gets UNKNOWN_TOPIC_ID;
// a v10 fetch of all the group's topics carries their ids.
func TestOffsetCommitFetchByTopicID(t *testing.T) {
	tb := groupTestBroker(t)
	tb.createTopic("t", 2, nil)
	id := [16]byte(tb.b.image.Topic("t").ID)
	bogus := [16]byte{9, 9, 9}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version = 10
	commit.Group, commit.Generation = "simple", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{
		{TopicID: id, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 7, LeaderEpoch: -1}}},
		{TopicID: bogus, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 3, LeaderEpoch: -1}}},
	}
	resp := tb.sendGroup(commit).(*kmsg.OffsetCommitResponse)
	if len(resp.Topics) != 2 || resp.Topics[0].TopicID != id || resp.Topics[0].Partitions[0].ErrorCode != 0 ||
		resp.Topics[1].TopicID != bogus || resp.Topics[1].Partitions[0].ErrorCode != kerrUnknownTopicID {
		t.Fatalf("v10 commit: %+v", resp.Topics)
	}
	fetch := func(version int16, topics []kmsg.OffsetFetchRequestGroupTopic) *kmsg.OffsetFetchResponseGroup {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = version
		req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "simple", Topics: topics}}
		out := tb.sendGroup(req).(*kmsg.OffsetFetchResponse)
		if len(out.Groups) != 1 || out.Groups[0].ErrorCode != 0 {
			t.Fatalf("v%d fetch: %+v", version, out)
		}
		return &out.Groups[0]
	}
	byName := fetch(9, []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{1}}})
	if byName.Topics[0].Partitions[0].Offset != 7 {
		t.Fatalf("v9 fetch by name: %+v", byName.Topics)
	}
	byID := fetch(10, []kmsg.OffsetFetchRequestGroupTopic{{TopicID: id, Partitions: []int32{1}}, {TopicID: bogus, Partitions: []int32{0}}})
	if len(byID.Topics) != 2 || byID.Topics[0].TopicID != id || byID.Topics[0].Partitions[0].Offset != 7 ||
		byID.Topics[1].TopicID != bogus || byID.Topics[1].Partitions[0].ErrorCode != kerrUnknownTopicID {
		t.Fatalf("v10 fetch by id: %+v", byID.Topics)
	}
	all := fetch(10, nil)
	if len(all.Topics) != 1 || all.Topics[0].TopicID != id || all.Topics[0].Partitions[0].Offset != 7 {
		t.Fatalf("v10 fetch of every topic: %+v", all.Topics)
	}
}
