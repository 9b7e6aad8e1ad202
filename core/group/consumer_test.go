package group

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// fakeTopics is a topic image: name -> id and partition count.
type fakeTopics map[string]TopicMeta

func (f fakeTopics) TopicByName(n string) (TopicMeta, bool) { tm, ok := f[n]; return tm, ok }
func (f fakeTopics) TopicName(id [16]byte) (string, bool) {
	for n, tm := range f {
		if tm.ID == id {
			return n, true
		}
	}
	return "", false
}

func (f fakeTopics) TopicNames() []string {
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func topicID(b byte) [16]byte { return [16]byte{15: b} }

func newConsumerHarness(t tb, cfg Config, topics fakeTopics) *harness {
	h := newHarness(t, cfg)
	h.s.SetTopics(topics)
	return h
}

// cclient is a KIP-848 consumer as the tests model it: it owns exactly the
// last assignment it received (released and acquired at receipt) and
// reports what it owns in every heartbeat.
type cclient struct {
	id, instance string
	epoch        int32
	owned        []tidp
	topics       []string
	regex        string // SubscribedTopicRegex sent on join, when set
	gone         bool
}

func (h *harness) cgHeartbeat(group string, c *cclient, version int16, epoch int32) *kmsg.ConsumerGroupHeartbeatResponse {
	h.t.Helper()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = version
	req.Group, req.MemberID, req.MemberEpoch = group, c.id, epoch
	req.RebalanceTimeoutMillis = 30000
	if epoch == 0 {
		req.SubscribedTopicNames = c.topics
		if c.regex != "" {
			re := c.regex
			req.SubscribedTopicRegex = &re
		}
	}
	if c.instance != "" {
		inst := c.instance
		req.InstanceID = &inst
	}
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	for _, p := range c.owned {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].TopicID != p.id {
			t := kmsg.NewConsumerGroupHeartbeatRequestTopic()
			t.TopicID = p.id
			req.Topics = append(req.Topics, t)
		}
		req.Topics[len(req.Topics)-1].Partitions = append(req.Topics[len(req.Topics)-1].Partitions, p.p)
	}
	ref := h.ref()
	h.apply(h.s.ConsumerGroupHeartbeat(h.now, ref, "cl", "/10.0.0.1", req))
	r := answer[*kmsg.ConsumerGroupHeartbeatResponse](h, ref)
	if r.ErrorCode != 0 {
		return r
	}
	if r.MemberID != nil {
		c.id = *r.MemberID
	}
	c.epoch = r.MemberEpoch
	if r.Assignment != nil {
		c.owned = nil
		for _, t := range r.Assignment.Topics {
			for _, p := range t.Partitions {
				c.owned = append(c.owned, tidp{t.TopicID, p})
			}
		}
		c.owned = normalize(c.owned)
	}
	return r
}

// beat sends a heartbeat at the cclient's epoch (0 to join) and fails on
// an error.
func (h *harness) beat(group string, c *cclient) {
	h.t.Helper()
	if r := h.cgHeartbeat(group, c, 1, c.epoch); r.ErrorCode != 0 {
		h.t.Fatalf("heartbeat of %s: %v", c.id, kerr.ErrorForCode(r.ErrorCode))
	}
}

// noDoubleOwners fails if two clients own one partition.
func noDoubleOwners(t tb, cs []*cclient) {
	t.Helper()
	seen := map[tidp]string{}
	for _, c := range cs {
		if c.gone {
			continue
		}
		for _, p := range c.owned {
			if o, dup := seen[p]; dup {
				t.Fatalf("partition %d of topic %x owned by %s and %s", p.p, p.id[15], o, c.id)
			}
			seen[p] = c.id
		}
	}
}

var sixPartitions = fakeTopics{"t": {ID: topicID(1), Partitions: 6}}

// settle heartbeats every cclient in turn until no answer changes anything.
func (h *harness) settle(group string, cs []*cclient) {
	h.t.Helper()
	for round := 0; round < 20; round++ {
		changed := false
		for _, c := range cs {
			if c.gone {
				continue
			}
			before, epoch := fmt.Sprint(c.owned), c.epoch
			h.beat(group, c)
			noDoubleOwners(h.t, cs)
			changed = changed || before != fmt.Sprint(c.owned) || epoch != c.epoch
		}
		if !changed {
			return
		}
	}
	h.t.Fatalf("group %s did not settle", group)
}

func TestConsumerTwoMembersSplitThenThird(t *testing.T) {
	h := newConsumerHarness(t, testConfig(), sixPartitions)
	a := &cclient{id: "A", topics: []string{"t"}}
	b := &cclient{id: "B", topics: []string{"t"}}
	h.beat("g", a)
	if a.epoch != 1 || len(a.owned) != 6 {
		t.Fatalf("first member: epoch %d owns %v, want epoch 1 and all 6", a.epoch, a.owned)
	}
	cs := []*cclient{a, b}
	h.beat("g", b)
	noDoubleOwners(t, cs)
	if b.epoch != 2 || len(b.owned) != 0 {
		t.Fatalf("second member before A revoked: epoch %d owns %v, want epoch 2 and nothing", b.epoch, b.owned)
	}
	// A is told to revoke half, keeping its epoch until it confirms.
	h.beat("g", a)
	if a.epoch != 1 || len(a.owned) != 3 {
		t.Fatalf("A after B joined: epoch %d owns %v, want epoch 1 and 3 partitions", a.epoch, a.owned)
	}
	// B still cannot have them: A has not confirmed the release.
	h.beat("g", b)
	if len(b.owned) != 0 {
		t.Fatalf("B got %v before A confirmed its revocation", b.owned)
	}
	h.beat("g", a) // reports 3 owned: released
	if a.epoch != 2 {
		t.Fatalf("A after confirming: epoch %d, want 2", a.epoch)
	}
	h.beat("g", b)
	if len(b.owned) != 3 || len(a.owned) != 3 {
		t.Fatalf("split %v / %v, want 3 and 3", a.owned, b.owned)
	}
	noDoubleOwners(t, cs)

	c := &cclient{id: "C", topics: []string{"t"}}
	cs = append(cs, c)
	h.settle("g", cs)
	for _, x := range cs {
		if len(x.owned) != 2 || x.epoch != 3 {
			t.Fatalf("after the third member %s owns %v at epoch %d, want 2 at epoch 3", x.id, x.owned, x.epoch)
		}
	}
	d := h.cgDescribe("g")
	if d.ErrorCode != 0 || d.State != "Stable" || d.Epoch != 3 || d.AssignmentEpoch != 3 || len(d.Members) != 3 || d.AssignorName != AssignorUniform {
		t.Fatalf("describe: %+v", d)
	}
	if tp := d.Members[0].Assignment.TopicPartitions; len(tp) != 1 || tp[0].Topic != "t" || len(tp[0].Partitions) != 2 {
		t.Fatalf("described assignment %+v", tp)
	}
}

func (h *harness) cgDescribe(group string) kmsg.ConsumerGroupDescribeResponseGroup {
	h.t.Helper()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Version = 1
	req.Groups = []string{group}
	ref := h.ref()
	h.apply(h.s.ConsumerGroupDescribe(h.now, ref, req))
	return answer[*kmsg.ConsumerGroupDescribeResponse](h, ref).Groups[0]
}

// TestConsumerRandomOrderNeverDoubleOwns runs members joining, leaving
// and heartbeating in random order and checks after every answer that no
// two members own a partition.
func TestConsumerRandomOrderNeverDoubleOwns(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		topics := fakeTopics{"t": {ID: topicID(1), Partitions: 5}, "u": {ID: topicID(2), Partitions: 3}}
		cfg := testConfig()
		if rapid.Bool().Draw(rt, "range") {
			cfg.ConsumerAssignors = []string{AssignorRange}
		}
		h := newConsumerHarness(rt, cfg, topics)
		var cs []*cclient
		for i := 0; i < 4; i++ {
			subs := rapid.SampledFrom([][]string{{"t"}, {"u"}, {"t", "u"}}).Draw(rt, "subs")
			cs = append(cs, &cclient{id: fmt.Sprintf("m%d", i), topics: subs, gone: true})
		}
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			c := cs[rapid.IntRange(0, len(cs)-1).Draw(rt, "who")]
			switch op := rapid.IntRange(0, 9).Draw(rt, "op"); {
			case c.gone && op < 5:
				c.gone, c.epoch, c.owned = false, 0, nil
				h.beat("g", c)
			case !c.gone && op == 0:
				h.cgHeartbeat("g", c, 1, -1)
				c.gone, c.owned = true, nil
			case !c.gone:
				h.beat("g", c)
			}
			noDoubleOwners(rt, cs)
		}
		var live []*cclient
		for _, c := range cs {
			if !c.gone {
				live = append(live, c)
			}
		}
		h.settle("g", live)
		// Settled: every subscribed partition is owned exactly once.
		owned := 0
		for _, c := range live {
			owned += len(c.owned)
		}
		want := 0
		for _, n := range []string{"t", "u"} {
			for _, c := range live {
				if contains(c.topics, n) {
					want += int(topics[n].Partitions)
					break
				}
			}
		}
		if owned != want {
			rt.Fatalf("settled group owns %d partitions, want %d", owned, want)
		}
		compareConsumerReplay(rt, h)
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

type cmemberSnap struct {
	ID, Client, Host   string
	Instance           *string
	Topics             []string
	Rebalance          int32
	Epoch, Prev        int32
	State              int8
	Assigned, Revoking []tidp
	Target             []tidp
	LeftStatic         bool
}

type cgroupSnap struct {
	Epoch, AssignEpoch int32
	Members            []cmemberSnap
}

func consumerSnapshot(s *Shard) map[string]cgroupSnap {
	out := map[string]cgroupSnap{}
	for _, g := range s.cgroupsSorted() {
		gs := cgroupSnap{Epoch: g.epoch, AssignEpoch: g.assignEpoch}
		for _, m := range g.sortedMembers() {
			nz := func(ps []tidp) []tidp {
				if len(ps) == 0 {
					return nil
				}
				return ps
			}
			var topics []string
			if len(m.topics) > 0 {
				topics = m.topics
			}
			gs.Members = append(gs.Members, cmemberSnap{m.id, m.clientID, m.clientHost, m.instanceID, topics,
				m.rebalanceMs, m.epoch, m.prevEpoch, m.state, nz(m.assigned), nz(m.revoking), nz(g.target[m.id]), m.leftStatic})
		}
		out[g.id] = gs
	}
	return out
}

// compareConsumerReplay checks that replaying the written log rebuilds
// every consumer group's epochs, members, assignments and targets.
func compareConsumerReplay(t tb, h *harness) {
	t.Helper()
	s := NewShard(h.s.cfg)
	for _, r := range h.log {
		if err := s.Replay(r.Key, r.Value); err != nil {
			t.Fatalf("replay: %v", err)
		}
	}
	s.LoadDone(h.now)
	if err := s.CheckInvariants(); err != nil {
		t.Fatalf("replayed shard: %v", err)
	}
	if !reflect.DeepEqual(h.s.offsets, s.offsets) {
		t.Fatalf("replayed offsets %v, live %v", s.offsets, h.s.offsets)
	}
	live, replayed := consumerSnapshot(h.s), consumerSnapshot(s)
	if !reflect.DeepEqual(live, replayed) {
		t.Fatalf("replay differs:\nlive     %+v\nreplayed %+v", live, replayed)
	}
}

func TestConsumerSessionTimeoutAndLeave(t *testing.T) {
	h := newConsumerHarness(t, testConfig(), sixPartitions)
	a := &cclient{id: "A", topics: []string{"t"}}
	b := &cclient{id: "B", topics: []string{"t"}}
	c := &cclient{id: "C", topics: []string{"t"}}
	cs := []*cclient{a, b, c}
	h.settle("g", cs)
	// B stops heartbeating; A and C keep going just inside the session.
	session := int64(h.s.cfg.ConsumerSessionTimeoutMs)
	for elapsed := int64(0); elapsed <= session; elapsed += session / 3 {
		h.tick(session / 3)
		h.beat("g", a)
		h.beat("g", c)
	}
	if h.s.cgroups["g"].members["B"] != nil {
		t.Fatalf("B outlived its session")
	}
	if r := h.cgHeartbeat("g", b, 1, b.epoch); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("expired member heartbeat: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(r.ErrorCode))
	}
	b.gone, b.owned = true, nil
	h.settle("g", cs)
	if len(a.owned)+len(c.owned) != 6 || len(a.owned) != 3 {
		t.Fatalf("after B expired: %v / %v", a.owned, c.owned)
	}
	// C leaves: A gets everything.
	if r := h.cgHeartbeat("g", c, 1, -1); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	c.gone, c.owned = true, nil
	h.settle("g", cs)
	if len(a.owned) != 6 {
		t.Fatalf("after C left A owns %v", a.owned)
	}
	if n := h.s.NextWakeMs(); n != h.now+session {
		t.Fatalf("NextWakeMs %d, want A's session end %d", n, h.now+session)
	}
	compareConsumerReplay(t, h)
	if r := h.cgHeartbeat("g", a, 1, -1); r.ErrorCode != 0 {
		t.Fatalf("last leave: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if d := h.cgDescribe("g"); d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("empty group described as %+v", d)
	}
	// The empty group, without offsets, goes at the next offset check.
	n := h.s.NextWakeMs()
	if n != h.s.nextCheck {
		t.Fatalf("NextWakeMs %d with an empty group, want the offset check %d", n, h.s.nextCheck)
	}
	h.tick(n - h.now)
	if h.s.cgroups["g"] != nil || h.s.NextWakeMs() != -1 {
		t.Fatalf("empty group without offsets kept (NextWakeMs %d)", h.s.NextWakeMs())
	}
	compareConsumerReplay(t, h)
}

func TestConsumerRevocationTimeoutFences(t *testing.T) {
	h := newConsumerHarness(t, testConfig(), sixPartitions)
	a := &cclient{id: "A", topics: []string{"t"}}
	b := &cclient{id: "B", topics: []string{"t"}}
	h.beat("g", a)
	h.beat("g", b)
	h.beat("g", a) // told to revoke 3; never confirms
	if len(h.s.cgroups["g"].members["A"].revoking) != 3 {
		t.Fatalf("A not revoking")
	}
	h.tick(30000) // A's rebalance timeout
	if h.s.cgroups["g"].members["A"] != nil {
		t.Fatalf("A kept its partitions past its rebalance timeout")
	}
	h.beat("g", b)
	if len(b.owned) != 6 {
		t.Fatalf("B owns %v after A was fenced", b.owned)
	}
}

// TestConsumerLoadKeepsRevokingMember: a member in the middle of a
// revocation when its coordinator reloads gets a fresh rebalance timeout
// from the load, as in Kafka; its partitions are not handed on at the
// first tick (found by the simulator's KIP-848 owner check, seed 85).
func TestConsumerLoadKeepsRevokingMember(t *testing.T) {
	h := newConsumerHarness(t, testConfig(), sixPartitions)
	a := &cclient{id: "A", topics: []string{"t"}}
	b := &cclient{id: "B", topics: []string{"t"}}
	h.beat("g", a)
	h.beat("g", b)
	h.beat("g", a) // told to revoke 3, not confirmed yet
	if len(h.s.cgroups["g"].members["A"].revoking) != 3 {
		t.Fatalf("A not revoking")
	}
	s := NewShard(h.s.cfg)
	s.SetTopics(sixPartitions)
	for _, r := range h.log {
		if err := s.Replay(r.Key, r.Value); err != nil {
			t.Fatalf("replay: %v", err)
		}
	}
	h.now += 1000
	s.LoadDone(h.now)
	h.s = s
	h.tick(10)
	if h.s.cgroups["g"].members["A"] == nil {
		t.Fatalf("A removed at the first tick after the load, inside its rebalance timeout")
	}
	h.tick(30000) // the rebalance timeout, counted from the load
	if h.s.cgroups["g"].members["A"] != nil {
		t.Fatalf("A kept its partitions past its rebalance timeout after the load")
	}
}

func TestConsumerFencing(t *testing.T) {
	h := newConsumerHarness(t, testConfig(), sixPartitions)
	a := &cclient{id: "A", topics: []string{"t"}}
	b := &cclient{id: "B", topics: []string{"t"}}
	c3 := &cclient{id: "C", topics: []string{"t"}}
	h.settle("g", []*cclient{a, b, c3})
	behind := int32(1)
	if behind == h.s.cgroups["g"].members["A"].prevEpoch {
		behind = 2
	}
	if behind >= a.epoch {
		t.Fatalf("A at epoch %d: no epoch is far behind", a.epoch)
	}
	cases := []struct {
		name   string
		member string
		epoch  int32
		group  string
		want   *kerr.Error
	}{
		{"epoch ahead", "A", a.epoch + 1, "g", kerr.FencedMemberEpoch},
		{"epoch far behind", "A", behind, "g", kerr.FencedMemberEpoch},
		{"unknown member", "Z", 1, "g", kerr.UnknownMemberID},
		{"unknown group", "A", 1, "nope", kerr.GroupIDNotFound},
		{"leave of unknown member", "Z", -1, "g", kerr.UnknownMemberID},
	}
	for _, tc := range cases {
		c := &cclient{id: tc.member, topics: []string{"t"}}
		if r := h.cgHeartbeat(tc.group, c, 1, tc.epoch); r.ErrorCode != tc.want.Code {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(r.ErrorCode), tc.want)
		}
	}
	// The previous epoch is accepted while the member owns nothing new
	// (it missed the answer that bumped it).
	prev := h.s.cgroups["g"].members["A"].prevEpoch
	stale := &cclient{id: "A", owned: a.owned}
	if r := h.cgHeartbeat("g", stale, 1, prev); r.ErrorCode != 0 || r.MemberEpoch != a.epoch {
		t.Fatalf("previous epoch retry: %+v", r)
	}
	stale.owned = append(append([]tidp{}, a.owned...), b.owned[0])
	if r := h.cgHeartbeat("g", stale, 1, prev); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Fatalf("previous epoch owning another's partition: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// v1 requires a cclient-generated id; v0 gets one from the server.
	if r := h.cgHeartbeat("g", &cclient{topics: []string{"t"}}, 1, 0); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("v1 join without id: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	v0 := &cclient{topics: []string{"t"}}
	if r := h.cgHeartbeat("g", v0, 0, 0); r.ErrorCode != 0 || v0.id == "" {
		t.Fatalf("v0 join: %+v", r)
	}
}

func TestConsumerStaticLeaveAndRejoin(t *testing.T) {
	h := newConsumerHarness(t, testConfig(), sixPartitions)
	a := &cclient{id: "A1", instance: "ia", topics: []string{"t"}}
	b := &cclient{id: "B", topics: []string{"t"}}
	cs := []*cclient{a, b}
	h.settle("g", cs)
	epoch, owned := a.epoch, a.owned
	if r := h.cgHeartbeat("g", a, 1, -2); r.ErrorCode != 0 || r.MemberEpoch != -2 {
		t.Fatalf("static leave: %+v", r)
	}
	// The leave is logged: a coordinator that loads the log now knows the
	// instance is released (no UNRELEASED_INSTANCE_ID for its restart).
	compareConsumerReplay(t, h)
	// Another member of the same instance is refused while A1 is active,
	// but the restart after a static leave takes over its assignment.
	a2 := &cclient{id: "A2", instance: "ia", topics: []string{"t"}}
	if r := h.cgHeartbeat("g", a2, 1, 0); r.ErrorCode != 0 || a2.epoch != epoch || fmt.Sprint(a2.owned) != fmt.Sprint(owned) {
		t.Fatalf("static rejoin: %+v owns %v, want epoch %d and %v", r, a2.owned, epoch, owned)
	}
	if h.s.cgroups["g"].epoch != epoch {
		t.Fatalf("static restart bumped the group epoch to %d", h.s.cgroups["g"].epoch)
	}
	a3 := &cclient{id: "A3", instance: "ia", topics: []string{"t"}}
	if r := h.cgHeartbeat("g", a3, 1, 0); r.ErrorCode != kerr.UnreleasedInstanceID.Code {
		t.Fatalf("second instance while active: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	compareConsumerReplay(t, h)
}

// TestConsumerStaticLeaveSurvivesLoad: a static leave (-2) is in the
// log, so a coordinator loaded after it lets the restart take over, and
// a rejoin of the same member id is logged as active again.
func TestConsumerStaticLeaveSurvivesLoad(t *testing.T) {
	h := newConsumerHarness(t, testConfig(), sixPartitions)
	a := &cclient{id: "A1", instance: "ia", topics: []string{"t"}}
	b := &cclient{id: "B", topics: []string{"t"}}
	h.settle("g", []*cclient{a, b})
	epoch, owned := a.epoch, a.owned
	if r := h.cgHeartbeat("g", a, 1, -2); r.ErrorCode != 0 {
		t.Fatalf("static leave: %+v", r)
	}
	reload := func() {
		s := NewShard(h.s.cfg)
		s.SetTopics(h.s.topics)
		for _, r := range h.log {
			if err := s.Replay(r.Key, r.Value); err != nil {
				t.Fatalf("replay: %v", err)
			}
		}
		s.LoadDone(h.now)
		h.s = s
	}
	reload()
	// The same member comes back at epoch 0 (it never restarted): active
	// again, and logged so. (A loaded group's first heartbeat bumps its
	// epoch: the topics' metadata is not in the log.)
	if r := h.cgHeartbeat("g", a, 1, 0); r.ErrorCode != 0 || r.MemberEpoch < epoch {
		t.Fatalf("rejoin after the leave, on a reloaded coordinator: %+v", r)
	}
	compareConsumerReplay(t, h)
	h.settle("g", []*cclient{a, b})
	epoch, owned = a.epoch, a.owned
	if r := h.cgHeartbeat("g", a, 1, -2); r.ErrorCode != 0 {
		t.Fatalf("second static leave: %+v", r)
	}
	reload()
	a2 := &cclient{id: "A2", instance: "ia", topics: []string{"t"}}
	if r := h.cgHeartbeat("g", a2, 1, 0); r.ErrorCode != 0 || a2.epoch < epoch || fmt.Sprint(a2.owned) != fmt.Sprint(owned) {
		t.Fatalf("static restart on a reloaded coordinator: %v (epoch %d, owns %v; want %d, %v)", kerr.ErrorForCode(r.ErrorCode), a2.epoch, a2.owned, epoch, owned)
	}
	compareConsumerReplay(t, h)
}

func TestConsumerGroupTypesShareIDs(t *testing.T) {
	h := newConsumerHarness(t, testConfig(), sixPartitions)
	h.beat("cg", &cclient{id: "A", topics: []string{"t"}})
	if r := h.joinResp(h.join("cg", "c", joinOpt{})); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("classic join of a consumer group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	h.stableTwo("classic")
	if r := h.cgHeartbeat("classic", &cclient{id: "X", topics: []string{"t"}}, 1, 0); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("KIP-848 join of a classic group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if d := h.cgDescribe("classic"); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("ConsumerGroupDescribe of a classic group: %v", kerr.ErrorForCode(d.ErrorCode))
	}
	// A simple consumer's offsets (an empty classic group) become the
	// consumer group's on its first KIP-848 join, also after a replay.
	if ref, _ := h.commit("sg", "", -1, "t", 0, 9, 1, ""); h.commitErr(ref) != 0 {
		t.Fatalf("simple commit: %v", kerr.ErrorForCode(h.commitErr(ref)))
	}
	h.beat("sg", &cclient{id: "S", topics: []string{"t"}})
	if h.s.groups["sg"] != nil || h.s.cgroups["sg"] == nil {
		t.Fatalf("empty classic group not converted")
	}
	if off, _, _ := h.fetch("sg", "t", 0); off != 9 {
		t.Fatalf("converted group's offset %d, want 9", off)
	}
	compareConsumerReplay(t, h)
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = 5
	ref := h.ref()
	h.apply(h.s.ListGroups(h.now, ref, req))
	var got []string
	for _, g := range answer[*kmsg.ListGroupsResponse](h, ref).Groups {
		got = append(got, g.Group+":"+g.GroupType+":"+g.GroupState)
	}
	if want := []string{"cg:consumer:Stable", "classic:classic:Stable", "sg:consumer:Stable"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListGroups %v, want %v", got, want)
	}
	req.TypesFilter = []string{"consumer"}
	ref = h.ref()
	h.apply(h.s.ListGroups(h.now, ref, req))
	if gs := answer[*kmsg.ListGroupsResponse](h, ref).Groups; len(gs) != 2 || gs[0].Group != "cg" || gs[1].Group != "sg" {
		t.Fatalf("ListGroups type consumer: %+v", gs)
	}
}

func TestConsumerMaxSizeAndBadRequests(t *testing.T) {
	cfg := testConfig()
	cfg.ConsumerMaxSize = 1
	h := newConsumerHarness(t, cfg, sixPartitions)
	h.beat("g", &cclient{id: "A", topics: []string{"t"}})
	if r := h.cgHeartbeat("g", &cclient{id: "B", topics: []string{"t"}}, 1, 0); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("join beyond group.consumer.max.size: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	bad := func(name string, mod func(*kmsg.ConsumerGroupHeartbeatRequest), want *kerr.Error) {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Version, req.Group, req.MemberID, req.RebalanceTimeoutMillis = 1, "g2", "M", 1000
		req.SubscribedTopicNames = []string{"t"}
		mod(req)
		ref := h.ref()
		h.apply(h.s.ConsumerGroupHeartbeat(h.now, ref, "c", "h", req))
		if r := answer[*kmsg.ConsumerGroupHeartbeatResponse](h, ref); r.ErrorCode != want.Code {
			t.Errorf("%s: %v, want %v", name, kerr.ErrorForCode(r.ErrorCode), want)
		}
	}
	bad("empty group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = "" }, kerr.InvalidRequest)
	bad("epoch -3", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -3 }, kerr.InvalidRequest)
	bad("no rebalance timeout", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.RebalanceTimeoutMillis = 0 }, kerr.InvalidRequest)
	bad("no subscription", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicNames = nil }, kerr.InvalidRequest)
	bad("unknown assignor", func(r *kmsg.ConsumerGroupHeartbeatRequest) { a := "sticky"; r.ServerAssignor = &a }, kerr.UnsupportedAssignor)
	bad("static leave without instance", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -2 }, kerr.InvalidRequest)
	if _, ok := h.s.cgroups["g2"]; ok {
		t.Fatalf("refused requests created group g2")
	}
}

func TestConsumerTopicGrowthReassigns(t *testing.T) {
	topics := fakeTopics{"t": {ID: topicID(1), Partitions: 2}}
	h := newConsumerHarness(t, testConfig(), topics)
	a := &cclient{id: "A", topics: []string{"t"}}
	b := &cclient{id: "B", topics: []string{"t"}}
	cs := []*cclient{a, b}
	h.settle("g", cs)
	topics["t"] = TopicMeta{ID: topicID(1), Partitions: 4}
	h.settle("g", cs)
	if len(a.owned) != 2 || len(b.owned) != 2 {
		t.Fatalf("after growth %v / %v", a.owned, b.owned)
	}
}

func TestAssignors(t *testing.T) {
	ms := []*cmember{{id: "a", topics: []string{"t", "u"}}, {id: "b", topics: []string{"t", "u"}}, {id: "c", topics: []string{"u"}}}
	topics := map[string]TopicMeta{"t": {ID: topicID(1), Partitions: 3}, "u": {ID: topicID(2), Partitions: 4}}
	r := assign(AssignorRange, ms, topics, nil)
	want := map[string][]tidp{
		"a": {{topicID(1), 0}, {topicID(1), 1}, {topicID(2), 0}, {topicID(2), 1}},
		"b": {{topicID(1), 2}, {topicID(2), 2}},
		"c": {{topicID(2), 3}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("range: %v, want %v", r, want)
	}
	u := assign(AssignorUniform, ms, topics, nil)
	counts := []int{len(u["a"]), len(u["b"]), len(u["c"])}
	sort.Ints(counts)
	if counts[0] < 2 || counts[2] > 3 || counts[0]+counts[1]+counts[2] != 7 {
		t.Fatalf("uniform counts %v (%v)", counts, u)
	}
	// Sticky: with one member more, the existing owners keep what they can.
	ms2 := append(ms, &cmember{id: "d", topics: []string{"t", "u"}})
	u2 := assign(AssignorUniform, ms2, topics, u)
	kept := 0
	for _, id := range []string{"a", "b", "c"} {
		kept += len(intersect(u2[id], u[id]))
	}
	if kept < 5 {
		t.Fatalf("uniform moved %d of 7 partitions when one member joined: %v -> %v", 7-kept, u, u2)
	}
}

func TestConsumerResponsesEncodeAtEveryVersion(t *testing.T) {
	for v := int16(0); v <= (&kmsg.ConsumerGroupHeartbeatRequest{}).MaxVersion(); v++ {
		h := newConsumerHarness(t, testConfig(), sixPartitions)
		c := &cclient{topics: []string{"t"}}
		if v >= 1 {
			c.id = "cclient-uuid"
		}
		if r := h.cgHeartbeat("g", c, v, 0); r.ErrorCode != 0 || r.Version != v || r.Assignment == nil {
			t.Fatalf("v%d join: %+v", v, r)
		}
	}
	for v := int16(0); v <= (&kmsg.ConsumerGroupDescribeRequest{}).MaxVersion(); v++ {
		h := newConsumerHarness(t, testConfig(), sixPartitions)
		h.beat("g", &cclient{id: "A", topics: []string{"t"}})
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Version = v
		req.Groups = []string{"g", "missing"}
		ref := h.ref()
		h.apply(h.s.ConsumerGroupDescribe(h.now, ref, req))
		if r := answer[*kmsg.ConsumerGroupDescribeResponse](h, ref); r.Version != v || len(r.Groups) != 2 {
			t.Fatalf("describe v%d: %+v", v, r)
		}
	}
}

func TestConsumerReplayRejectsBadRecords(t *testing.T) {
	s := NewShard(testConfig())
	for _, rec := range []Record{
		{Key: cgMemberKey("g", "m"), Value: []byte{0, 0, 1}},
		{Key: cgCurrentKey("g", "m"), Value: []byte{0, 5}},
		{Key: cgKey(cgMemberKeyType, "g", nil), Value: cgMetaValue(1)},
	} {
		if err := s.Replay(rec.Key, rec.Value); err == nil {
			t.Fatalf("record %x / %x replayed without error", rec.Key, rec.Value)
		}
	}
	if len(s.cgroups) != 0 {
		t.Fatalf("bad records left groups: %v", s.cgroups)
	}
}

func TestConsumerOffsetsUseMemberEpoch(t *testing.T) {
	h := newConsumerHarness(t, testConfig(), sixPartitions)
	a := &cclient{id: "A", topics: []string{"t"}}
	b := &cclient{id: "B", topics: []string{"t"}}
	h.settle("g", []*cclient{a, b})
	ref, _ := h.commit("g", "A", a.epoch, "t", 0, 42, 3, "md")
	if code := h.commitErr(ref); code != 0 {
		t.Fatalf("commit at the member epoch: %v", kerr.ErrorForCode(code))
	}
	if off, _, md := h.fetch("g", "t", 0); off != 42 || md != "md" {
		t.Fatalf("fetched %d %q", off, md)
	}
	for _, tc := range []struct {
		name   string
		member string
		epoch  int32
		want   *kerr.Error
	}{
		{"older epoch", "A", a.epoch - 1, kerr.StaleMemberEpoch},
		{"newer epoch", "A", a.epoch + 1, kerr.FencedMemberEpoch},
		{"unknown member", "Z", a.epoch, kerr.UnknownMemberID},
		{"no member in a non-empty group", "", -1, kerr.UnknownMemberID},
	} {
		if ref, _ := h.commit("g", tc.member, tc.epoch, "t", 0, 7, 3, ""); h.commitErr(ref) != tc.want.Code {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(h.commitErr(ref)), tc.want)
		}
	}
	if off, _, _ := h.fetch("g", "t", 0); off != 42 {
		t.Fatalf("a refused commit changed the offset to %d", off)
	}
	// OffsetFetch naming a member checks its epoch too.
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 9
	rg := kmsg.NewOffsetFetchRequestGroup()
	member := "A"
	rg.Group, rg.MemberID, rg.MemberEpoch = "g", &member, a.epoch-1
	req.Groups = append(req.Groups, rg)
	ref = h.ref()
	h.apply(h.s.OffsetFetch(h.now, ref, req))
	if code := answer[*kmsg.OffsetFetchResponse](h, ref).Groups[0].ErrorCode; code != kerr.StaleMemberEpoch.Code {
		t.Fatalf("fetch at a stale epoch: %v", kerr.ErrorForCode(code))
	}
	// An empty group takes commits without a member and can be deleted
	// with its offsets; a non-empty one cannot.
	del := func() int16 {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Version = 2
		req.Groups = []string{"g"}
		ref := h.ref()
		h.apply(h.s.DeleteGroups(h.now, ref, req))
		return answer[*kmsg.DeleteGroupsResponse](h, ref).Groups[0].ErrorCode
	}
	if code := del(); code != kerr.NonEmptyGroup.Code {
		t.Fatalf("delete of a non-empty consumer group: %v", kerr.ErrorForCode(code))
	}
	h.cgHeartbeat("g", a, 1, -1)
	h.cgHeartbeat("g", b, 1, -1)
	if ref, _ := h.commit("g", "", -1, "t", 1, 5, 3, ""); h.commitErr(ref) != 0 {
		t.Fatalf("admin commit to an empty consumer group: %v", kerr.ErrorForCode(h.commitErr(ref)))
	}
	compareConsumerReplay(t, h)
	if code := del(); code != 0 {
		t.Fatalf("delete of an empty consumer group: %v", kerr.ErrorForCode(code))
	}
	if off, _, _ := h.fetch("g", "t", 0); off != -1 {
		t.Fatalf("offset %d survived the group's deletion", off)
	}
	if h.s.cgroups["g"] != nil || len(h.s.groups) != 0 {
		t.Fatalf("deleted group still present")
	}
	compareConsumerReplay(t, h)
}

// TestConsumerLoadRepairsDamagedLog: records that together break the
// rules (two members holding one partition, a member epoch beyond the
// group's) load into a shard whose invariants hold.
func TestConsumerLoadRepairsDamagedLog(t *testing.T) {
	p := []tidp{{topicID(1), 0}}
	a := &cmember{id: "a", epoch: 7, assigned: p}
	b := &cmember{id: "b", epoch: 1, assigned: p}
	s := NewShard(testConfig())
	for _, r := range []Record{
		{Key: cgMetaKey("g"), Value: cgMetaValue(2)},
		{Key: cgTargetMetaKey("g"), Value: cgTargetMetaValue(2)},
		{Key: cgMemberKey("g", "a"), Value: cgMemberValue(a)},
		{Key: cgCurrentKey("g", "a"), Value: cgCurrentValue(a)},
		{Key: cgMemberKey("g", "b"), Value: cgMemberValue(b)},
		{Key: cgCurrentKey("g", "b"), Value: cgCurrentValue(b)},
	} {
		if err := s.Replay(r.Key, r.Value); err != nil {
			t.Fatalf("replay: %v", err)
		}
	}
	s.LoadDone(0)
	if err := s.CheckInvariants(); err != nil {
		t.Fatalf("after load: %v", err)
	}
	g := s.cgroups["g"]
	if g.epoch != 7 || len(g.members["a"].assigned) != 1 || len(g.members["b"].assigned) != 0 {
		t.Fatalf("repaired to epoch %d, a %v, b %v", g.epoch, g.members["a"].assigned, g.members["b"].assigned)
	}
}

// TestConsumerOffsetExpiry: offsets of topics no member subscribes to
// expire a retention period after their commit; an empty group then goes
// with its last offset.
func TestConsumerOffsetExpiry(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetentionMs, cfg.OffsetsRetentionCheckIntervalMs = 100000, 1000
	h := newConsumerHarness(t, cfg, fakeTopics{"t": {ID: topicID(1), Partitions: 1}, "u": {ID: topicID(2), Partitions: 1}})
	a := &cclient{id: "A", topics: []string{"t"}}
	h.beat("g", a)
	for _, topic := range []string{"t", "u"} {
		if ref, _ := h.commit("g", "A", a.epoch, topic, 0, 5, 1, ""); h.commitErr(ref) != 0 {
			t.Fatalf("commit %s: %v", topic, kerr.ErrorForCode(h.commitErr(ref)))
		}
	}
	for elapsed := int64(0); elapsed <= cfg.OffsetsRetentionMs; elapsed += 10000 {
		h.tick(10000)
		h.beat("g", a)
	}
	if off, _, _ := h.fetch("g", "u", 0); off != -1 {
		t.Fatalf("unsubscribed topic's offset %d kept past retention", off)
	}
	if off, _, _ := h.fetch("g", "t", 0); off != 5 {
		t.Fatalf("subscribed topic's offset %d, want 5", off)
	}
	h.cgHeartbeat("g", a, 1, -1)
	h.tick(cfg.OffsetsRetentionMs)
	if off, _, _ := h.fetch("g", "t", 0); off != -1 || h.s.cgroups["g"] != nil {
		t.Fatalf("empty group kept offset %d (group present: %v)", off, h.s.cgroups["g"] != nil)
	}
	compareConsumerReplay(t, h)
}
