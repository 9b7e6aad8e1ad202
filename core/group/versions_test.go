package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEveryVersionEncodes runs each API at every version kmsg knows, on a
// group in a realistic state, and checks (through the harness) that every
// reply encodes and decodes at its version, and that each answer carries
// the request's version.
func TestEveryVersionEncodes(t *testing.T) {
	check := func(h *harness, ref ReplyRef, req kmsg.Request) {
		t.Helper()
		r, ok := h.replies[ref]
		if !ok {
			t.Fatalf("%T v%d not answered", req, req.GetVersion())
		}
		if r.GetVersion() != req.GetVersion() {
			t.Fatalf("%T v%d answered at v%d", req, req.GetVersion(), r.GetVersion())
		}
		if r.Key() != req.Key() {
			t.Fatalf("%T answered with key %d", req, r.Key())
		}
	}
	for v := int16(0); v <= (&kmsg.JoinGroupRequest{}).MaxVersion(); v++ {
		h := newHarness(t, testConfig())
		o := joinOpt{version: v, instance: ""}
		if v == 0 {
			o.version = -1
		}
		if v >= 5 {
			o.instance = "inst"
		}
		var ref ReplyRef
		if v == 4 {
			_, ref = h.joinTwoStep("g", "c", o)
		} else {
			ref = h.join("g", "c", o)
		}
		r := h.joinResp(ref)
		if r.ErrorCode != 0 || r.Generation != 1 || len(r.Members) != 1 {
			t.Fatalf("JoinGroup v%d: error %d generation %d", v, r.ErrorCode, r.Generation)
		}
		check(h, ref, &kmsg.JoinGroupRequest{Version: v})
	}
	h := newHarness(t, testConfig())
	a, b, gen := h.stableTwo("g")
	for v := int16(0); v <= (&kmsg.SyncGroupRequest{}).MaxVersion(); v++ {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Version, req.Group, req.MemberID, req.Generation = v, "g", b, gen
		ref := h.ref()
		h.apply(h.s.SyncGroup(h.now, ref, req))
		check(h, ref, req)
		if r := h.syncResp(ref); r.ErrorCode != 0 || string(r.MemberAssignment) != "B" {
			t.Fatalf("SyncGroup v%d: %+v", v, r)
		}
	}
	for v := int16(0); v <= (&kmsg.HeartbeatRequest{}).MaxVersion(); v++ {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Version, req.Group, req.MemberID, req.Generation = v, "g", a, gen
		ref := h.ref()
		h.apply(h.s.Heartbeat(h.now, ref, req))
		check(h, ref, req)
	}
	for v := int16(0); v <= (&kmsg.OffsetCommitRequest{}).MaxVersion(); v++ {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.MemberID, req.Generation = v, "g", a, gen
		if v == 0 {
			req.Group = "simple"
		}
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t1"
		rt.TopicID = [16]byte{1}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = 0, int64(v), 4
		rt.Partitions = append(rt.Partitions, p)
		req.Topics = append(req.Topics, rt)
		ref := h.ref()
		h.apply(h.s.OffsetCommit(h.now, ref, req))
		check(h, ref, req)
		if code := h.commitErr(ref); code != 0 {
			t.Fatalf("OffsetCommit v%d: %d", v, code)
		}
		want := int32(-1)
		if v >= 6 {
			want = 4
		}
		if off, ep, _ := h.fetch(req.Group, "t1", 0); off != int64(v) || ep != want {
			t.Fatalf("OffsetCommit v%d stored %d epoch %d", v, off, ep)
		}
	}
	for v := int16(0); v <= (&kmsg.OffsetFetchRequest{}).MaxVersion(); v++ {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = v
		if v >= 8 {
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = "g"
			if v == 8 {
				rg.Topics = nil // all offsets
			} else {
				rt := kmsg.NewOffsetFetchRequestGroupTopic()
				rt.Topic, rt.Partitions = "t1", []int32{0, 1}
				rg.Topics = append(rg.Topics, rt)
			}
			req.Groups = append(req.Groups, rg)
		} else {
			req.Group = "g"
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic, rt.Partitions = "t1", []int32{0, 1}
			req.Topics = append(req.Topics, rt)
		}
		ref := h.ref()
		h.apply(h.s.OffsetFetch(h.now, ref, req))
		check(h, ref, req)
		r := h.replies[ref].(*kmsg.OffsetFetchResponse)
		var got int64
		if v >= 8 {
			got = r.Groups[0].Topics[0].Partitions[0].Offset
		} else {
			got = r.Topics[0].Partitions[0].Offset
			if r.Topics[0].Partitions[1].Offset != -1 {
				t.Fatalf("OffsetFetch v%d: uncommitted partition at %d", v, r.Topics[0].Partitions[1].Offset)
			}
		}
		if got != 10 {
			t.Fatalf("OffsetFetch v%d: offset %d, want 10 (the v10 commit)", v, got)
		}
	}
	for v := int16(0); v <= (&kmsg.DescribeGroupsRequest{}).MaxVersion(); v++ {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Version, req.Groups = v, []string{"g", "missing"}
		ref := h.ref()
		h.apply(h.s.DescribeGroups(h.now, ref, req))
		check(h, ref, req)
		if r := h.replies[ref].(*kmsg.DescribeGroupsResponse); r.Groups[0].State != "Stable" || r.Groups[1].State != "Dead" {
			t.Fatalf("DescribeGroups v%d: %+v", v, r.Groups)
		}
	}
	for v := int16(0); v <= (&kmsg.ListGroupsRequest{}).MaxVersion(); v++ {
		req := kmsg.NewPtrListGroupsRequest()
		req.Version = v
		ref := h.ref()
		h.apply(h.s.ListGroups(h.now, ref, req))
		check(h, ref, req)
	}
	{
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = "simple"
		ref := h.ref()
		h.apply(h.s.OffsetDelete(h.now, ref, req))
		check(h, ref, req)
	}
	for v := int16(0); v <= (&kmsg.LeaveGroupRequest{}).MaxVersion(); v++ {
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Version, req.Group = v, "g"
		if v < 3 {
			req.MemberID = "ghost"
		} else {
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = "ghost"
			req.Members = append(req.Members, m)
		}
		ref := h.ref()
		h.apply(h.s.LeaveGroup(h.now, ref, req))
		check(h, ref, req)
	}
	for v := int16(0); v <= (&kmsg.DeleteGroupsRequest{}).MaxVersion(); v++ {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Version, req.Groups = v, []string{"g", "gone"}
		ref := h.ref()
		h.apply(h.s.DeleteGroups(h.now, ref, req))
		check(h, ref, req)
	}
}

func TestHandleDispatches(t *testing.T) {
	h := newHarness(t, testConfig())
	for _, req := range []kmsg.Request{
		&kmsg.JoinGroupRequest{Version: 3, Group: "g", SessionTimeoutMillis: 1000, ProtocolType: "consumer",
			Protocols: []kmsg.JoinGroupRequestProtocol{{Name: "range"}}},
		&kmsg.SyncGroupRequest{Group: "g"}, &kmsg.HeartbeatRequest{Group: "g"}, &kmsg.LeaveGroupRequest{Group: "g"},
		&kmsg.OffsetCommitRequest{Group: "g"}, &kmsg.OffsetFetchRequest{Group: "g"}, &kmsg.DescribeGroupsRequest{},
		&kmsg.ListGroupsRequest{}, &kmsg.DeleteGroupsRequest{}, &kmsg.OffsetDeleteRequest{Group: "g"},
		&kmsg.ConsumerGroupHeartbeatRequest{Version: 1, Group: "k", MemberID: "m", RebalanceTimeoutMillis: 1000, SubscribedTopicNames: []string{}},
		&kmsg.ConsumerGroupDescribeRequest{Groups: []string{"k"}},
	} {
		ref := h.ref()
		out, ok := h.s.Handle(h.now, ref, "c", "h", req)
		if !ok || len(out.Replies) != 1 || out.Replies[0].Ref != ref || out.Replies[0].Resp.Key() != req.Key() {
			t.Fatalf("%T: ok %v, replies %+v", req, ok, out.Replies)
		}
		h.apply(out)
	}
	if _, ok := h.s.Handle(h.now, h.ref(), "c", "h", &kmsg.MetadataRequest{}); ok {
		t.Fatal("Metadata served by a group shard")
	}
}
