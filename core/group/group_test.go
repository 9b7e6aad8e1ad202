package group

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTwoMemberJoinSyncHeartbeat(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelayMs = 100
	h := newHarness(t, cfg)
	a, ra := h.joinTwoStep("g", "a", joinOpt{})
	b, rb := h.joinTwoStep("g", "b", joinOpt{})
	if h.answered(ra) || h.answered(rb) {
		t.Fatal("joins answered during the initial rebalance delay")
	}
	if wake := h.s.NextWakeMs(); wake != h.now+100 {
		t.Fatalf("NextWakeMs %d, want %d (end of the initial delay)", wake, h.now+100)
	}
	h.tick(100)
	ja, jb := h.joinResp(ra), h.joinResp(rb)
	if ja.ErrorCode != 0 || jb.ErrorCode != 0 || ja.Generation != 1 || jb.Generation != 1 {
		t.Fatalf("joins: errors %d %d generations %d %d", ja.ErrorCode, jb.ErrorCode, ja.Generation, jb.Generation)
	}
	if ja.LeaderID != a || jb.LeaderID != a || len(ja.Members) != 2 || len(jb.Members) != 0 {
		t.Fatalf("leader %q/%q, leader sees %d members, follower %d", ja.LeaderID, jb.LeaderID, len(ja.Members), len(jb.Members))
	}
	if *ja.Protocol != "range" || *ja.ProtocolType != "consumer" {
		t.Fatalf("protocol %q type %q", *ja.Protocol, *ja.ProtocolType)
	}
	sb := h.sync("g", b, 1, nil)
	if h.answered(sb) {
		t.Fatal("follower's SyncGroup answered before the leader's")
	}
	h.manual = true
	sa := h.sync("g", a, 1, map[string][]byte{a: []byte("pa"), b: []byte("pb")})
	if len(h.held) != 1 || len(h.held[0].Records) != 1 || len(h.held[0].Replies) != 2 {
		t.Fatalf("leader's sync: %d held outs, want one with 1 record and 2 replies", len(h.held))
	}
	if h.answered(sa) || h.answered(sb) {
		t.Fatal("SyncGroup answered before its GroupMetadata record committed")
	}
	rec := h.held[0].Records[0]
	var k kmsg.GroupMetadataKey
	var v kmsg.GroupMetadataValue
	if err := k.ReadFrom(rec.Key); err != nil || k.Version != 2 || k.Group != "g" {
		t.Fatalf("group key %+v err %v", k, err)
	}
	if err := v.ReadFrom(rec.Value); err != nil || v.Version != 3 || v.Generation != 1 || len(v.Members) != 2 || *v.Leader != a {
		t.Fatalf("group value %+v err %v", v, err)
	}
	h.commitAll()
	h.manual = false
	if got := h.syncResp(sa).MemberAssignment; string(got) != "pa" {
		t.Fatalf("leader assignment %q", got)
	}
	if got := h.syncResp(sb).MemberAssignment; string(got) != "pb" {
		t.Fatalf("follower assignment %q", got)
	}
	h.now += 500
	if code := h.heartbeat("g", a, 1, ""); code != 0 {
		t.Fatalf("heartbeat: %d", code)
	}
	if code := h.heartbeat("g", b, 0, ""); code != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat with old generation: %d, want ILLEGAL_GENERATION", code)
	}
	if code := h.heartbeat("g", "nobody", 1, ""); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of unknown member: %d", code)
	}
	d := h.describe("g")
	if d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 2 || string(d.Members[1].MemberAssignment) != "pb" {
		t.Fatalf("describe: %+v", d)
	}
}

func TestThirdJoinRebalances(t *testing.T) {
	h := newHarness(t, testConfig())
	a, b, gen := h.stableTwo("g")
	c, rc := h.joinTwoStep("g", "c", joinOpt{})
	if h.answered(rc) {
		t.Fatal("third member answered before the others rejoined")
	}
	if code := h.heartbeat("g", a, gen, ""); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during rebalance: %d, want REBALANCE_IN_PROGRESS", code)
	}
	if d := h.describe("g"); d.State != "PreparingRebalance" {
		t.Fatalf("state %s", d.State)
	}
	ra := h.join("g", "a", joinOpt{member: a})
	if h.answered(ra) {
		t.Fatal("answered with b still to rejoin")
	}
	rb := h.join("g", "b", joinOpt{member: b})
	for _, ref := range []ReplyRef{ra, rb, rc} {
		if r := h.joinResp(ref); r.ErrorCode != 0 || r.Generation != gen+1 {
			t.Fatalf("rejoin: error %d generation %d, want generation %d", r.ErrorCode, r.Generation, gen+1)
		}
	}
	if n := len(h.joinResp(ra).Members); n != 3 {
		t.Fatalf("leader sees %d members", n)
	}
	if h.joinResp(rc).MemberID != c {
		t.Fatalf("member id changed")
	}
	// The old generation's commit is fenced.
	ref, out := h.commit("g", a, gen, "t1", 0, 5, 1, "")
	if h.commitErr(ref) != kerr.IllegalGeneration.Code || len(out.Records) != 0 {
		t.Fatalf("old-generation commit: error %d, %d records", h.commitErr(ref), len(out.Records))
	}
	// In CompletingRebalance a commit of the new generation waits.
	ref, _ = h.commit("g", a, gen+1, "t1", 0, 5, 1, "")
	if h.commitErr(ref) != kerr.RebalanceInProgress.Code {
		t.Fatalf("commit while completing: %d", h.commitErr(ref))
	}
}

func TestSessionTimeoutEviction(t *testing.T) {
	h := newHarness(t, testConfig())
	a, b, gen := h.stableTwo("g")
	deadline := h.now + 1000
	if wake := h.s.NextWakeMs(); wake != deadline {
		t.Fatalf("NextWakeMs %d, want the session deadline %d", wake, deadline)
	}
	h.now += 600
	if h.heartbeat("g", a, gen, "") != 0 {
		t.Fatal("heartbeat failed")
	}
	h.tick(399)
	if d := h.describe("g"); d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("before b's deadline: %s with %d members", d.State, len(d.Members))
	}
	h.tick(1)
	if d := h.describe("g"); d.State != "PreparingRebalance" || len(d.Members) != 1 || d.Members[0].MemberID != a {
		t.Fatalf("after b's deadline: %+v", d)
	}
	if code := h.heartbeat("g", b, gen, ""); code != kerr.UnknownMemberID.Code {
		t.Fatalf("evicted member's heartbeat: %d", code)
	}
	ra := h.join("g", "a", joinOpt{member: a})
	if r := h.joinResp(ra); r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("after eviction: generation %d, %d members", r.Generation, len(r.Members))
	}
	// The last member's session ends: the group empties, and that is written.
	h.tick(2000)
	h.tick(1000)
	d := h.describe("g")
	if d.State != "Empty" {
		t.Fatalf("state %s, want Empty", d.State)
	}
	last := h.log[len(h.log)-1]
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(last.Value); err != nil || len(v.Members) != 0 || v.Generation != gen+2 {
		t.Fatalf("empty group record %+v err %v", v, err)
	}
}

func TestRebalanceTimeoutRemovesLateMembers(t *testing.T) {
	h := newHarness(t, testConfig())
	a, b, gen := h.stableTwo("g")
	_ = b
	h.now += 100
	ra := h.join("g", "a", joinOpt{member: a, protos: []protocol{{"range", consumerMeta("t1", "t2")}}})
	if h.answered(ra) {
		t.Fatal("answered before b rejoined")
	}
	// b keeps heartbeating (told to rejoin) but never rejoins.
	for i := 0; i < 4; i++ {
		h.now += 400
		if code := h.heartbeat("g", b, gen, ""); code != kerr.RebalanceInProgress.Code {
			t.Fatalf("heartbeat: %d", code)
		}
		h.tick(0)
	}
	h.tick(400) // past the 2000 ms rebalance timeout
	r := h.joinResp(ra)
	if r.ErrorCode != 0 || r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("after the rebalance timeout: error %d generation %d members %d", r.ErrorCode, r.Generation, len(r.Members))
	}
}

func TestStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	h := newHarness(t, testConfig())
	ra := h.join("g", "a", joinOpt{instance: "ia"})
	a := h.joinResp(ra).MemberID
	if h.joinResp(ra).ErrorCode != 0 {
		t.Fatalf("static first join: %d (static members skip MEMBER_ID_REQUIRED)", h.joinResp(ra).ErrorCode)
	}
	gen := h.joinResp(ra).Generation
	h.sync("g", a, gen, map[string][]byte{a: []byte("A")})
	b, rb := h.joinTwoStep("g", "b", joinOpt{})
	ra = h.join("g", "a", joinOpt{member: a, instance: "ia"})
	gen = h.joinResp(rb).Generation
	h.sync("g", b, gen, nil)
	h.sync("g", a, gen, map[string][]byte{a: []byte("A"), b: []byte("B")})

	// a restarts: same instance id, no member id.
	logLen := len(h.log)
	ra2 := h.join("g", "a", joinOpt{instance: "ia"})
	r := h.joinResp(ra2)
	if r.ErrorCode != 0 || r.Generation != gen || r.MemberID == a || r.LeaderID != r.MemberID || !r.SkipAssignment {
		t.Fatalf("static rejoin: %+v", r)
	}
	if len(h.log) != logLen+1 {
		t.Fatalf("static rejoin wrote %d records, want the group's metadata", len(h.log)-logLen)
	}
	if code := h.heartbeat("g", b, gen, ""); code != 0 {
		t.Fatalf("other member's heartbeat after a static rejoin: %d, want no rebalance", code)
	}
	if code := h.heartbeat("g", a, gen, "ia"); code != kerr.FencedInstanceID.Code {
		t.Fatalf("old incarnation's heartbeat: %d, want FENCED_INSTANCE_ID", code)
	}
	if rr := h.joinResp(h.join("g", "a", joinOpt{member: a, instance: "ia"})); rr.ErrorCode != kerr.FencedInstanceID.Code {
		t.Fatalf("old incarnation's join: %d", rr.ErrorCode)
	}
	sref := h.sync("g", r.MemberID, gen, nil)
	if s := h.syncResp(sref); s.ErrorCode != 0 || string(s.MemberAssignment) != "A" {
		t.Fatalf("new incarnation keeps the assignment: %+v", s)
	}
	// A static member leaves by instance id.
	lreq := kmsg.NewPtrLeaveGroupRequest()
	lreq.Version = 5
	lreq.Group = "g"
	inst := "ia"
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.InstanceID = &inst
	lreq.Members = append(lreq.Members, lm)
	lref := h.ref()
	h.apply(h.s.LeaveGroup(h.now, lref, lreq))
	if lr := h.replies[lref].(*kmsg.LeaveGroupResponse); lr.Members[0].ErrorCode != 0 {
		t.Fatalf("leave by instance: %d", lr.Members[0].ErrorCode)
	}
	if code := h.heartbeat("g", b, gen, ""); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("after the static member left: %d", code)
	}
}

func TestMemberIDRequired(t *testing.T) {
	h := newHarness(t, testConfig())
	r := h.joinResp(h.join("g", "c", joinOpt{version: 4}))
	if r.ErrorCode != kerr.MemberIDRequired.Code || r.MemberID == "" {
		t.Fatalf("v4 first join: %d %q", r.ErrorCode, r.MemberID)
	}
	if d := h.describe("g"); len(d.Members) != 0 {
		t.Fatalf("pending member listed: %+v", d)
	}
	// Before v4 a member joins in one step.
	r3 := h.joinResp(h.join("g3", "c", joinOpt{version: 3}))
	if r3.ErrorCode != 0 || r3.Generation != 1 {
		t.Fatalf("v3 join: %d generation %d", r3.ErrorCode, r3.Generation)
	}
	// The pending id expires after the session timeout.
	h.tick(1000)
	rr := h.joinResp(h.join("g", "c", joinOpt{version: 4, member: r.MemberID}))
	if rr.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("join with an expired pending id: %d", rr.ErrorCode)
	}
	// Used in time it joins.
	id, ref := h.joinTwoStep("g", "c", joinOpt{})
	if j := h.joinResp(ref); j.ErrorCode != 0 || j.MemberID != id || j.LeaderID != id {
		t.Fatalf("second step: %+v", j)
	}
}

func TestJoinValidation(t *testing.T) {
	cfg := testConfig()
	cfg.MaxGroupSize = 2
	h := newHarness(t, cfg)
	if r := h.joinResp(h.join("g", "c", joinOpt{session: 5})); r.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("short session: %d", r.ErrorCode)
	}
	if r := h.joinResp(h.join("g", "c", joinOpt{session: cfg.MaxSessionTimeoutMs + 1})); r.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("long session: %d", r.ErrorCode)
	}
	if r := h.joinResp(h.join("", "c", joinOpt{})); r.ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("empty group id: %d", r.ErrorCode)
	}
	if r := h.joinResp(h.join("e", "c", joinOpt{protos: []protocol{{"", nil}}})); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("unnamed protocol: %d", r.ErrorCode)
	}
	h.stableTwo("g")
	if r := h.joinResp(h.join("g", "c", joinOpt{})); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("third member with group.max.size 2: %d", r.ErrorCode)
	}
	if r := h.joinResp(h.join("g", "c", joinOpt{protos: []protocol{{"roundrobin", nil}}})); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("unsupported protocol: %d", r.ErrorCode)
	}
	if r := h.joinResp(h.join("g", "c", joinOpt{ptype: "connect"})); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("other protocol type: %d", r.ErrorCode)
	}
	if r := h.joinResp(h.join("g", "c", joinOpt{member: "ghost"})); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("unknown member id in a full group: %d (Kafka checks the size first)", r.ErrorCode)
	}
	if r := h.joinResp(h.join("g2", "c", joinOpt{version: 3})); r.ErrorCode != 0 {
		t.Fatalf("one-step join: %d", r.ErrorCode)
	}
	if r := h.joinResp(h.join("g2", "c", joinOpt{member: "ghost"})); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member id: %d", r.ErrorCode)
	}
	// During a join phase the limit counts members that have rejoined: d and
	// e join (parked) while c has not rejoined yet; then c is the one over
	// the limit.
	c := h.describe("g2").Members[0].MemberID
	rd := h.join("g2", "d", joinOpt{version: 3})
	re := h.join("g2", "e", joinOpt{version: 3})
	if h.answered(rd) || h.answered(re) || h.describe("g2").State != "PreparingRebalance" {
		t.Fatal("newcomers not parked in a join phase")
	}
	if r := h.joinResp(h.join("g2", "c", joinOpt{version: 3, member: c})); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("third rejoiner with group.max.size 2: %d", r.ErrorCode)
	}
	h.tick(2000) // the rebalance timeout drops c
	if r := h.joinResp(rd); r.ErrorCode != 0 || len(h.describe("g2").Members) != 2 {
		t.Fatalf("after the join phase: %d, %d members", r.ErrorCode, len(h.describe("g2").Members))
	}
}

func TestProtocolSelectionByVotes(t *testing.T) {
	h := newHarness(t, testConfig())
	a, _ := h.joinTwoStep("g", "a", joinOpt{protos: []protocol{{"x", nil}, {"y", nil}}})
	gen := int32(1)
	h.sync("g", a, gen, nil)
	_, rb := h.joinTwoStep("g", "b", joinOpt{protos: []protocol{{"y", nil}, {"z", nil}}})
	_, rc := h.joinTwoStep("g", "c", joinOpt{protos: []protocol{{"y", nil}, {"x", nil}}})
	_ = rc
	ra := h.join("g", "a", joinOpt{member: a, protos: []protocol{{"x", nil}, {"y", nil}}})
	// Only y is supported by all; b and c prefer it.
	if p := *h.joinResp(ra).Protocol; p != "y" || *h.joinResp(rb).Protocol != "y" {
		t.Fatalf("selected %q", p)
	}
}

func TestCommitVisibleOnlyAfterCommitWrite(t *testing.T) {
	h := newHarness(t, testConfig())
	h.manual = true
	ref, out := h.commit("simple", "", -1, "t", 3, 42, 7, "meta")
	if len(out.Records) != 1 || h.answered(ref) {
		t.Fatalf("commit: %d records, answered %v", len(out.Records), h.answered(ref))
	}
	var k kmsg.OffsetCommitKey
	var v kmsg.OffsetCommitValue
	if err := k.ReadFrom(out.Records[0].Key); err != nil || k.Version != 1 || k.Group != "simple" || k.Topic != "t" || k.Partition != 3 {
		t.Fatalf("offset key %+v %v", k, err)
	}
	if err := v.ReadFrom(out.Records[0].Value); err != nil || v.Version != 3 || v.Offset != 42 || v.LeaderEpoch != 7 || v.Metadata != "meta" || v.CommitTimestamp != h.now {
		t.Fatalf("offset value %+v %v", v, err)
	}
	if off, _, _ := h.fetch("simple", "t", 3); off != -1 {
		t.Fatalf("uncommitted offset visible: %d", off)
	}
	h.commitAll()
	if h.commitErr(ref) != 0 {
		t.Fatalf("commit error %d", h.commitErr(ref))
	}
	off, epoch, md := h.fetch("simple", "t", 3)
	if off != 42 || epoch != 7 || md != "meta" {
		t.Fatalf("fetched %d epoch %d %q", off, epoch, md)
	}
	// A later commit stays invisible until its own write commits.
	h.commit("simple", "", -1, "t", 3, 50, 7, "")
	if off, _, _ := h.fetch("simple", "t", 3); off != 42 {
		t.Fatalf("fetched %d before the second write committed", off)
	}
	h.commitAll()
	if off, _, _ := h.fetch("simple", "t", 3); off != 50 {
		t.Fatalf("fetched %d after it committed", off)
	}
}

func TestOffsetCommitErrors(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetMetadataMaxBytes = 4
	h := newHarness(t, cfg)
	a, _, gen := h.stableTwo("g")
	ref, out := h.commit("g", a, gen, "t", 0, 1, -1, "too long")
	if h.commitErr(ref) != kerr.OffsetMetadataTooLarge.Code || len(out.Records) != 0 {
		t.Fatalf("long metadata: %d", h.commitErr(ref))
	}
	if ref, _ := h.commit("g", "ghost", gen, "t", 0, 1, -1, ""); h.commitErr(ref) != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member: %d", h.commitErr(ref))
	}
	if ref, _ := h.commit("g", "", -1, "t", 0, 1, -1, ""); h.commitErr(ref) != kerr.UnknownMemberID.Code {
		t.Fatalf("simple commit into a live group: %d", h.commitErr(ref))
	}
	if ref, _ := h.commit("nogroup", "m", 3, "t", 0, 1, -1, ""); h.commitErr(ref) != kerr.GroupIDNotFound.Code {
		t.Fatalf("v9 generation commit for a missing group: %d", h.commitErr(ref))
	}
	old := kmsg.NewPtrOffsetCommitRequest()
	old.Version, old.Group, old.MemberID, old.Generation = 8, "nogroup", "m", 3
	old.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0}}}}
	oref := h.ref()
	h.apply(h.s.OffsetCommit(h.now, oref, old))
	if code := h.commitErr(oref); code != kerr.IllegalGeneration.Code {
		t.Fatalf("v8 generation commit for a missing group: %d", code)
	}
	if ref, _ := h.commit("g", a, gen, "t", 0, 9, 2, "ok"); h.commitErr(ref) != 0 {
		t.Fatalf("member commit: %d", h.commitErr(ref))
	}
	if off, ep, _ := h.fetch("g", "t", 0); off != 9 || ep != 2 {
		t.Fatalf("fetched %d %d", off, ep)
	}
}

func TestOffsetExpiry(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetentionMs = 10000
	cfg.OffsetsRetentionCheckIntervalMs = 1000
	h := newHarness(t, cfg)
	h.commit("simple", "", -1, "t", 0, 5, -1, "")
	h.tick(5000)
	h.commit("simple", "", -1, "t", 1, 6, -1, "")
	// A consumer group with members keeps its offsets.
	a, b, gen := h.stableTwo("live")
	h.commit("live", a, gen, "t1", 0, 7, -1, "")
	beat := func() {
		for i := 0; i < 6; i++ {
			h.now += 500
			if h.heartbeat("live", a, gen, "") != 0 || h.heartbeat("live", b, gen, "") != 0 {
				t.Fatal("live group's heartbeat failed")
			}
			h.tick(0)
		}
	}
	beat()
	beat()
	if off, _, _ := h.fetch("simple", "t", 0); off != -1 {
		t.Fatalf("expired offset still served: %d", off)
	}
	if off, _, _ := h.fetch("simple", "t", 1); off != 6 {
		t.Fatalf("young offset gone: %d", off)
	}
	// The partition-0 tombstone is in the log.
	found := false
	for _, r := range h.log {
		var k kmsg.OffsetCommitKey
		if r.Value == nil && k.ReadFrom(r.Key) == nil && k.Group == "simple" && k.Partition == 0 {
			found = true
		}
	}
	if !found {
		t.Fatal("no tombstone for the expired offset")
	}
	for i := 0; i < 2; i++ {
		beat()
	}
	if d := h.describe("simple"); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("simple group with no offsets left: %+v", d)
	}
	if off, _, _ := h.fetch("live", "t1", 0); off != 7 {
		t.Fatalf("live group's offset of a subscribed topic expired: %d", off)
	}
	// A Stable consumer group's offset of a topic it does not subscribe
	// to (it subscribes to t1) expires a retention period after its commit.
	h.commit("live", a, gen, "t", 0, 8, -1, "")
	for i := 0; i < 3; i++ {
		beat()
	}
	if off, _, _ := h.fetch("live", "t", 0); off != 8 {
		t.Fatalf("unsubscribed topic's offset gone before retention: %d", off)
	}
	beat()
	if off, _, _ := h.fetch("live", "t", 0); off != -1 {
		t.Fatalf("unsubscribed topic's offset kept: %d", off)
	}
	if off, _, _ := h.fetch("live", "t1", 0); off != 7 {
		t.Fatalf("subscribed topic's offset expired: %d", off)
	}
}

func TestDeleteGroups(t *testing.T) {
	h := newHarness(t, testConfig())
	h.stableTwo("busy")
	h.commit("idle", "", -1, "t", 0, 5, -1, "")
	h.commit("idle", "", -1, "t", 1, 6, -1, "")
	req := kmsg.NewPtrDeleteGroupsRequest()
	req.Version = 2
	req.Groups = []string{"busy", "missing", "idle"}
	ref := h.ref()
	out := h.apply(h.s.DeleteGroups(h.now, ref, req))
	r := h.replies[ref].(*kmsg.DeleteGroupsResponse)
	want := []int16{kerr.NonEmptyGroup.Code, kerr.GroupIDNotFound.Code, 0}
	for i, g := range r.Groups {
		if g.ErrorCode != want[i] {
			t.Fatalf("group %s: %d, want %d", g.Group, g.ErrorCode, want[i])
		}
	}
	if len(out.Records) != 3 {
		t.Fatalf("%d records, want 2 offset tombstones and the group's", len(out.Records))
	}
	for _, rec := range out.Records {
		if rec.Value != nil {
			t.Fatal("non-tombstone in a deletion")
		}
	}
	if off, _, _ := h.fetch("idle", "t", 1); off != -1 {
		t.Fatalf("deleted group's offset: %d", off)
	}
	replayed := replayLog(t, h.log, h.now)
	if replayed.groups["idle"] != nil || replayed.groups["busy"] == nil {
		t.Fatal("replay does not match the deletion")
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t, testConfig())
	a, _, gen := h.stableTwo("g") // subscribed to t1
	h.commit("g", a, gen, "t1", 0, 1, -1, "")
	h.commit("g", a, gen, "old", 0, 2, -1, "")
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "g"
	for _, topic := range []string{"t1", "old"} {
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
		req.Topics = append(req.Topics, rt)
	}
	ref := h.ref()
	out := h.apply(h.s.OffsetDelete(h.now, ref, req))
	r := h.replies[ref].(*kmsg.OffsetDeleteResponse)
	if r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != kerr.GroupSubscribedToTopic.Code || r.Topics[1].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete: %+v", r)
	}
	if len(out.Records) != 1 {
		t.Fatalf("%d records", len(out.Records))
	}
	if off, _, _ := h.fetch("g", "old", 0); off != -1 {
		t.Fatalf("deleted offset served: %d", off)
	}
	if off, _, _ := h.fetch("g", "t1", 0); off != 1 {
		t.Fatalf("subscribed offset gone: %d", off)
	}
	req.Group = "missing"
	ref = h.ref()
	h.apply(h.s.OffsetDelete(h.now, ref, req))
	if r := h.replies[ref].(*kmsg.OffsetDeleteResponse); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("missing group: %d", r.ErrorCode)
	}
}

func TestLeaveGroupBatchAndListGroups(t *testing.T) {
	h := newHarness(t, testConfig())
	a, b, _ := h.stableTwo("g")
	h.commit("s", "", -1, "t", 0, 1, -1, "")
	list := func(version int16, states, types []string) []kmsg.ListGroupsResponseGroup {
		req := kmsg.NewPtrListGroupsRequest()
		req.Version, req.StatesFilter, req.TypesFilter = version, states, types
		ref := h.ref()
		h.apply(h.s.ListGroups(h.now, ref, req))
		return h.replies[ref].(*kmsg.ListGroupsResponse).Groups
	}
	if gs := list(5, []string{"stable"}, nil); len(gs) != 1 || gs[0].Group != "g" || gs[0].GroupState != "Stable" || gs[0].GroupType != "classic" {
		t.Fatalf("stable filter: %+v", gs)
	}
	if gs := list(5, nil, []string{"consumer"}); len(gs) != 0 {
		t.Fatalf("consumer-type filter: %+v", gs)
	}
	if gs := list(0, nil, nil); len(gs) != 2 || gs[0].Group != "g" || gs[1].Group != "s" {
		t.Fatalf("all groups: %+v", gs)
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 3
	req.Group = "g"
	for _, id := range []string{a, "ghost", b} {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = id
		req.Members = append(req.Members, m)
	}
	ref := h.ref()
	out := h.apply(h.s.LeaveGroup(h.now, ref, req))
	r := h.replies[ref].(*kmsg.LeaveGroupResponse)
	if r.Members[0].ErrorCode != 0 || r.Members[1].ErrorCode != kerr.UnknownMemberID.Code || r.Members[2].ErrorCode != 0 {
		t.Fatalf("batch leave: %+v", r.Members)
	}
	if len(out.Records) != 1 {
		t.Fatalf("emptying the group wrote %d records, want its metadata", len(out.Records))
	}
	if gs := list(4, []string{"Empty"}, nil); len(gs) != 2 {
		t.Fatalf("empty groups: %+v", gs)
	}
}

func TestSyncDeadlineRemovesSilentMembers(t *testing.T) {
	h := newHarness(t, testConfig())
	a, ra := h.joinTwoStep("g", "a", joinOpt{})
	gen := h.joinResp(ra).Generation
	h.sync("g", a, gen, nil)
	b, rb := h.joinTwoStep("g", "b", joinOpt{session: 5000})
	h.join("g", "a", joinOpt{member: a, session: 5000})
	gen = h.joinResp(rb).Generation
	// The leader syncs; b never does.
	h.sync("g", a, gen, map[string][]byte{a: {1}, b: {2}})
	for i := 0; i < 5; i++ {
		h.now += 500
		h.heartbeat("g", a, gen, "")
		h.tick(0)
	}
	if code := h.heartbeat("g", b, gen, ""); code != kerr.UnknownMemberID.Code {
		t.Fatalf("member that never synced: %d, want removed", code)
	}
	if code := h.heartbeat("g", a, gen, ""); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("remaining member: %d", code)
	}
}

func TestLimits(t *testing.T) {
	cfg := testConfig()
	cfg.MaxGroups = 1
	cfg.MaxPendingJoins = 1
	cfg.MaxOffsetsPerGroup = 1
	cfg.MaxMemberMetadataBytes = 64
	h := newHarness(t, cfg)
	h.join("g", "a", joinOpt{})
	if r := h.joinResp(h.join("g", "b", joinOpt{})); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("second pending join: %d", r.ErrorCode)
	}
	if r := h.joinResp(h.join("h", "b", joinOpt{})); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("second group: %d", r.ErrorCode)
	}
	if r := h.joinResp(h.join("g", "b", joinOpt{protos: []protocol{{"range", make([]byte, 65)}}})); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("oversized metadata: %d", r.ErrorCode)
	}
	h2 := newHarness(t, cfg)
	if ref, _ := h2.commit("s", "", -1, "t", 0, 1, -1, ""); h2.commitErr(ref) != 0 {
		t.Fatal("first offset refused")
	}
	if ref, _ := h2.commit("s", "", -1, "t", 1, 1, -1, ""); h2.commitErr(ref) != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("offset over the group's limit: %d", h2.commitErr(ref))
	}
	if ref, _ := h2.commit("s", "", -1, "t", 0, 2, -1, ""); h2.commitErr(ref) != 0 {
		t.Fatal("overwriting an existing offset refused")
	}
	bad := cfg
	bad.MaxGroups = 0
	if bad.Validate() == nil {
		t.Fatal("Validate accepts MaxGroups 0")
	}
	if DefaultConfig().Validate() != nil {
		t.Fatal("default config invalid")
	}
}

// replayLog builds a new shard from log as the runtime would after a
// leadership change.
func replayLog(t tb, log []Record, nowMs int64) *Shard {
	t.Helper()
	s := NewShard(testConfig())
	for i, r := range log {
		if err := s.Replay(r.Key, r.Value); err != nil {
			t.Fatalf("replay of record %d: %v", i, err)
		}
	}
	s.LoadDone(nowMs)
	if err := s.CheckInvariants(); err != nil {
		t.Fatalf("replayed shard: %v", err)
	}
	return s
}

func TestReplayRestoresStableGroup(t *testing.T) {
	h := newHarness(t, testConfig())
	a, b, gen := h.stableTwo("g")
	h.commit("g", a, gen, "t1", 0, 11, 3, "x")
	s := replayLog(t, h.log, h.now)
	h2 := &harness{t: t, s: s, now: h.now, replies: map[ReplyRef]kmsg.Response{}, nextRef: 1000}
	if code := h2.heartbeat("g", b, gen, ""); code != 0 {
		t.Fatalf("heartbeat after reload: %d", code)
	}
	ref := h2.sync("g", b, gen, nil)
	if got := h2.syncResp(ref).MemberAssignment; !bytes.Equal(got, []byte("B")) {
		t.Fatalf("assignment after reload %q", got)
	}
	if off, ep, md := h2.fetch("g", "t1", 0); off != 11 || ep != 3 || md != "x" {
		t.Fatalf("offset after reload %d %d %q", off, ep, md)
	}
	// A new member id of the reloaded shard never repeats an old one.
	id, _ := h2.joinTwoStep("g", "a", joinOpt{})
	if id == a || id == b {
		t.Fatalf("reused member id %q", id)
	}
}

func TestFollowerSyncWaitsForLeadersWrite(t *testing.T) {
	h := newHarness(t, testConfig())
	a, ra := h.joinTwoStep("g", "a", joinOpt{})
	gen := h.joinResp(ra).Generation
	h.sync("g", a, gen, nil)
	b, rb := h.joinTwoStep("g", "b", joinOpt{})
	h.join("g", "a", joinOpt{member: a})
	gen = h.joinResp(rb).Generation
	h.manual = true
	h.sync("g", a, gen, map[string][]byte{a: {1}, b: {2}})
	leaderWrite := h.held[0].Write
	// b's SyncGroup arrives after the group went Stable but before the
	// leader's GroupMetadata record committed: it must wait for that write.
	sb := h.sync("g", b, gen, nil)
	last := h.held[len(h.held)-1]
	if len(last.Records) != 0 || last.Write != leaderWrite || h.answered(sb) {
		t.Fatalf("follower's sync: %d records, waits for write %d (want %d), answered %v", len(last.Records), last.Write, leaderWrite, h.answered(sb))
	}
	h.commitAll()
	if got := h.syncResp(sb).MemberAssignment; !bytes.Equal(got, []byte{2}) {
		t.Fatalf("assignment %v", got)
	}
	// Once committed, a repeated SyncGroup goes at once.
	out := h.s.SyncGroup(h.now, h.ref(), &kmsg.SyncGroupRequest{Version: 5, Group: "g", MemberID: b, Generation: gen})
	if out.Write != 0 || len(out.Records) != 0 {
		t.Fatalf("sync after the commit waits for write %d", out.Write)
	}
}

func TestRequireStableServesCommittedOffsets(t *testing.T) {
	h := newHarness(t, testConfig())
	h.commit("s", "", -1, "t", 0, 8, -1, "")
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.Group, req.RequireStable = 7, "s", true
	ref := h.ref()
	h.apply(h.s.OffsetFetch(h.now, ref, req))
	r := answer[*kmsg.OffsetFetchResponse](h, ref)
	if r.ErrorCode != 0 || len(r.Topics) != 1 || r.Topics[0].Partitions[0].Offset != 8 {
		t.Fatalf("require-stable fetch of all offsets: %+v", r)
	}
}

func TestReloadedMembersGetAFreshSession(t *testing.T) {
	h := newHarness(t, testConfig())
	_, b, gen := h.stableTwo("g")
	h.now += 900
	s := replayLog(t, h.log, h.now)
	h2 := &harness{t: t, s: s, now: h.now, replies: map[ReplyRef]kmsg.Response{}}
	h2.tick(999)
	if code := h2.heartbeat("g", b, gen, ""); code != 0 {
		t.Fatalf("member evicted within a session of the reload: %d", code)
	}
	h2.tick(500)
	if d := h2.describe("g"); len(d.Members) != 1 || d.Members[0].MemberID != b {
		t.Fatalf("after a silent session the other member stays: %+v", d.Members)
	}
}

func TestSimpleGroupGoneAfterReplayOfItsTombstones(t *testing.T) {
	h := newHarness(t, testConfig())
	h.commit("s", "", -1, "t", 0, 1, -1, "")
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "s"
	req.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	h.apply(h.s.OffsetDelete(h.now, h.ref(), req))
	// Live, the group lingers (Empty, no offsets) until the expiry check
	// drops it; replayed, it is gone at once. Both then list nothing.
	h.tick(testConfig().OffsetsRetentionCheckIntervalMs)
	if d := h.describe("s"); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("live: %+v", d)
	}
	if s := replayLog(t, h.log, h.now); len(s.groups) != 0 {
		t.Fatalf("replayed: %d groups", len(s.groups))
	}
}

// TestRebuildAfterFailedAppend plays the runtime's recovery: the leader's
// assignment write of generation 2 never commits, the shard is discarded
// and rebuilt from the committed log, and the members, fenced by
// generation, rejoin into a new generation with their committed offsets.
func TestRebuildAfterFailedAppend(t *testing.T) {
	h := newHarness(t, testConfig())
	a, b, gen := h.stableTwo("g")
	h.commit("g", a, gen, "t1", 0, 5, 1, "")
	c, rc := h.joinTwoStep("g", "c", joinOpt{})
	h.join("g", "a", joinOpt{member: a})
	rb := h.join("g", "b", joinOpt{member: b})
	gen2 := h.joinResp(rb).Generation
	h.manual = true
	h.sync("g", c, gen2, nil)
	h.sync("g", b, gen2, nil)
	sa := h.sync("g", a, gen2, map[string][]byte{a: {1}, b: {2}, c: {3}})
	h.commit("g", a, gen2, "t1", 0, 9, 1, "") // also never committed
	if h.answered(sa) || len(h.held) == 0 {
		t.Fatal("generation 2 answered before its write committed")
	}
	// The append fails: the runtime drops the shard and replays the log.
	h2 := &harness{t: t, s: replayLog(t, h.log[:h.committedLen], h.now), now: h.now,
		replies: map[ReplyRef]kmsg.Response{}, nextRef: 10000}
	if !h.answered(rc) || h.joinResp(rc).Generation != gen2 {
		t.Fatal("c's join was answered with generation 2 before the failure")
	}
	if code := h2.heartbeat("g", a, gen2, ""); code != kerr.IllegalGeneration.Code {
		t.Fatalf("a with the lost generation: %d", code)
	}
	if code := h2.heartbeat("g", c, gen2, ""); code != kerr.UnknownMemberID.Code {
		t.Fatalf("c, unknown to the rebuilt shard: %d", code)
	}
	if ref, _ := h2.commit("g", a, gen2, "t1", 0, 9, 1, ""); h2.commitErr(ref) != kerr.IllegalGeneration.Code {
		t.Fatalf("commit with the lost generation: %d", h2.commitErr(ref))
	}
	if off, _, _ := h2.fetch("g", "t1", 0); off != 5 {
		t.Fatalf("committed offset after the rebuild: %d", off)
	}
	// Everyone rejoins.
	c2, rc2 := h2.joinTwoStep("g", "c", joinOpt{})
	ra := h2.join("g", "a", joinOpt{member: a})
	rb = h2.join("g", "b", joinOpt{member: b})
	g3 := h2.joinResp(ra)
	if g3.ErrorCode != 0 || g3.Generation != gen+1 || len(g3.Members) != 3 || h2.joinResp(rc2).MemberID != c2 || c2 == c {
		t.Fatalf("rejoin after the rebuild: %+v", g3)
	}
	h2.sync("g", a, g3.Generation, map[string][]byte{a: {1}, b: {2}, c2: {3}})
	if s := h2.syncResp(h2.sync("g", b, g3.Generation, nil)); s.ErrorCode != 0 || !bytes.Equal(s.MemberAssignment, []byte{2}) {
		t.Fatalf("b's assignment: %+v", s)
	}
}

func TestMemberIDsDifferAcrossIncarnations(t *testing.T) {
	ids := map[string]bool{}
	for salt := uint64(0); salt < 3; salt++ {
		s := NewShard(testConfig())
		s.SetMemberIDSalt(salt)
		s.LoadDone(5000) // the same millisecond each time
		out := s.JoinGroup(5000, 1, "client", "h", &kmsg.JoinGroupRequest{Version: 9, Group: "g",
			SessionTimeoutMillis: 1000, ProtocolType: "consumer", Protocols: []kmsg.JoinGroupRequestProtocol{{Name: "r"}}})
		id := out.Replies[0].Resp.(*kmsg.JoinGroupResponse).MemberID
		if ids[id] {
			t.Fatalf("member id %q handed out by two incarnations", id)
		}
		ids[id] = true
	}
}

func TestStaticMemberSurvivesTheJoinPhase(t *testing.T) {
	h := newHarness(t, testConfig())
	rs := h.join("g", "s", joinOpt{instance: "is", session: 5000})
	sID := h.joinResp(rs).MemberID
	h.sync("g", sID, 1, map[string][]byte{sID: {1}})
	d, rd := h.joinTwoStep("g", "d", joinOpt{session: 5000})
	h.tick(2000) // the rebalance timeout: the static member did not rejoin
	r := h.joinResp(rd)
	if r.ErrorCode != 0 || r.Generation != 2 || r.LeaderID != d || len(r.Members) != 2 {
		t.Fatalf("after the join phase: %+v (the leader is elected among the rejoined)", r)
	}
	if n := len(h.describe("g").Members); n != 2 {
		t.Fatalf("%d members, want the static member kept", n)
	}
	// It must still sync in time: it does not, and is removed.
	h.sync("g", d, 2, nil)
	h.tick(2000)
	if code := h.heartbeat("g", sID, 2, "is"); code != kerr.UnknownMemberID.Code {
		t.Fatalf("static member that never synced: %d", code)
	}
}

func TestJoinPhaseWaitsWhenOnlyStaticMembersRemain(t *testing.T) {
	h := newHarness(t, testConfig())
	rs := h.join("g", "s", joinOpt{instance: "is", session: 5000})
	sID := h.joinResp(rs).MemberID
	h.sync("g", sID, 1, map[string][]byte{sID: {1}})
	d, rd := h.joinTwoStep("g", "d", joinOpt{session: 5000})
	rs = h.join("g", "s", joinOpt{member: sID, instance: "is", session: 5000})
	gen := h.joinResp(rd).Generation
	h.sync("g", d, gen, nil)
	h.sync("g", sID, gen, map[string][]byte{sID: {1}, d: {2}})
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version, req.Group, req.MemberID = 1, "g", d
	h.apply(h.s.LeaveGroup(h.now, h.ref(), req))
	h.tick(2500) // past the rebalance timeout; the static member has not rejoined
	if desc := h.describe("g"); desc.State != "PreparingRebalance" || len(desc.Members) != 1 {
		t.Fatalf("join phase with no rejoined member: %+v", desc)
	}
	if code := h.heartbeat("g", sID, gen, "is"); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("static member told to rejoin: %d", code)
	}
	rs = h.join("g", "s", joinOpt{member: sID, instance: "is", session: 5000})
	if r := h.joinResp(rs); r.Generation != gen+1 || r.LeaderID != sID {
		t.Fatalf("static member's late rejoin: %+v", r)
	}
}

func TestCommitWriteOfAnUnissuedIDIsClamped(t *testing.T) {
	h := newHarness(t, testConfig())
	h.s.CommitWrite(1 << 40)
	h.manual = true
	h.commit("s", "", -1, "t", 0, 3, -1, "")
	h.commitAll()
	if off, _, _ := h.fetch("s", "t", 0); off != 3 {
		t.Fatalf("offset after a bogus CommitWrite: %d", off)
	}
}
