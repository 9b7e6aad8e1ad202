package group

import (
	"reflect"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

type memberSnap struct {
	ID, Instance, Client, Host string
	Session, Rebalance         int32
	Meta, Assign               string
}

type groupSnap struct {
	Busy     bool // mid-rebalance: only offsets are durable
	State    string
	PType    string
	Protocol string
	Gen      int32
	Leader   string
	Since    int64
	Members  []memberSnap
	Offsets  map[tp]offset
}

// snapshot is the durable view of a shard: every group that has a record,
// with its generation, protocol, leader, members and their assignments, and
// its committed offsets. A group mid-rebalance (busy in the live shard)
// contributes only its offsets.
func snapshot(s *Shard, busy map[string]bool) map[string]groupSnap {
	out := map[string]groupSnap{}
	for id, offs := range s.offsets {
		if s.groups[id] == nil {
			out[id] = groupSnap{State: "no group", Offsets: offs}
		}
	}
	for id, g := range s.groups {
		if !g.written && len(s.offsets[id]) == 0 {
			continue
		}
		gs := groupSnap{Offsets: map[tp]offset{}}
		for k, o := range s.offsets[id] {
			gs.Offsets[k] = o
		}
		if busy[id] {
			gs.Busy = true
			out[id] = gs
			continue
		}
		gs.State, gs.PType, gs.Protocol, gs.Gen, gs.Leader = g.state.String(), g.protocolType, g.protocol, g.generation, g.leader
		if g.written {
			gs.Since = g.stateSinceMs
		}
		for _, m := range g.sortedMembers() {
			ms := memberSnap{ID: m.id, Client: m.clientID, Host: m.clientHost, Session: m.sessionMs,
				Rebalance: m.rebalanceMs, Meta: string(m.metadataFor(g.protocol)), Assign: string(m.assignment)}
			if m.instanceID != nil {
				ms.Instance = *m.instanceID
			}
			gs.Members = append(gs.Members, ms)
		}
		out[id] = gs
	}
	return out
}

func busyGroups(s *Shard) map[string]bool {
	busy := map[string]bool{}
	for id, g := range s.groups {
		if g.state == statePreparing || g.state == stateCompleting {
			busy[id] = true
		}
	}
	return busy
}

func compareReplay(t *rapid.T, h *harness, when string) {
	busy := busyGroups(h.s)
	live := snapshot(h.s, busy)
	r := replayTLog(t, h.tlog, h.now)
	replayed := snapshot(r, busy)
	if !reflect.DeepEqual(live, replayed) {
		t.Fatalf("%s: replay differs\nlive:     %+v\nreplayed: %+v", when, live, replayed)
	}
	if !equalStaged(h.s.staged, r.staged) {
		t.Fatalf("%s: replayed staged offsets differ\nlive:     %+v\nreplayed: %+v", when, h.s.staged, r.staged)
	}
}

type client struct {
	member    string
	gen       int32
	leader    bool
	members   []string
	instance  string
	joining   bool
	needJoin  bool
	syncedGen int32
}

// TestReplayRebuildsState runs random request sequences from a few clients
// against a shard, committing every write, and checks that a shard rebuilt
// by replaying the written log has the same durable state.
func TestReplayRebuildsState(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cfg := testConfig()
		cfg.InitialRebalanceDelayMs = rapid.SampledFrom([]int32{0, 300}).Draw(rt, "delay")
		cfg.MaxGroupSize = 3
		h := newHarness(rt, cfg)
		groups := []string{"g1", "g2"}
		names := []string{"c1", "c2", "c3", "c4"}
		clients := map[string]*client{}
		for _, g := range groups {
			for i, n := range names {
				c := &client{gen: -1, syncedGen: -1}
				if i == 3 {
					c.instance = "static-" + n
				}
				clients[g+"/"+n] = c
			}
		}
		type waiting struct {
			ref ReplyRef
			key string
		}
		var joins []waiting
		collect := func() {
			rest := joins[:0]
			for _, w := range joins {
				r, ok := h.replies[w.ref]
				if !ok {
					rest = append(rest, w)
					continue
				}
				jr := r.(*kmsg.JoinGroupResponse)
				c := clients[w.key]
				c.joining = false
				switch jr.ErrorCode {
				case 0:
					c.member, c.gen, c.leader = jr.MemberID, jr.Generation, jr.LeaderID == jr.MemberID
					c.members = c.members[:0]
					for _, m := range jr.Members {
						c.members = append(c.members, m.MemberID)
					}
				case kerr.MemberIDRequired.Code:
					c.member = jr.MemberID
					c.needJoin = true
				case kerr.UnknownMemberID.Code, kerr.FencedInstanceID.Code:
					c.member = ""
				}
			}
			joins = rest
		}
		step := func(g, n string, op int) {
			key := g + "/" + n
			c := clients[key]
			if op >= 25 {
				// Transactions of two producers: offsets staged (by a
				// member at its generation, or member-less) and ended.
				pid := rapid.Int64Range(7, 8).Draw(rt, "pid")
				switch op {
				case 25, 26:
					o := txnOpt{}
					if op == 26 {
						o = txnOpt{member: c.member, gen: c.gen}
					}
					h.txnCommit(g, pid, "t1", rapid.Int32Range(0, 2).Draw(rt, "part"), rapid.Int64Range(0, 100).Draw(rt, "off"), o)
				case 27:
					h.txnMarker(pid, rapid.Bool().Draw(rt, "commit"))
				}
				collect()
				return
			}
			if op >= 10 {
				// A well-behaved client's next step.
				switch {
				case c.joining:
					op = 3
				case c.member == "" || c.needJoin:
					c.needJoin = false
					op = 1
				case c.syncedGen != c.gen:
					c.syncedGen = c.gen
					op = 2
				default:
					op = 3
				}
			}
			switch op {
			case 0, 1:
				o := joinOpt{member: c.member, instance: c.instance, session: 5000, version: rapid.SampledFrom([]int16{3, 5, 9}).Draw(rt, "v")}
				if op == 0 && rapid.IntRange(0, 3).Draw(rt, "forget") == 0 {
					o.member = ""
				}
				if op == 0 && rapid.Bool().Draw(rt, "alt") {
					o.protos = []protocol{{"range", consumerMeta("t1", "t2")}}
				}
				c.joining = true
				joins = append(joins, waiting{h.join(g, n, o), key})
			case 2:
				var assign map[string][]byte
				if c.leader {
					assign = map[string][]byte{}
					for _, m := range c.members {
						assign[m] = []byte("a-" + m)
					}
				}
				h.sync(g, c.member, c.gen, assign)
			case 3:
				switch h.heartbeat(g, c.member, c.gen, c.instance) {
				case kerr.RebalanceInProgress.Code, kerr.IllegalGeneration.Code:
					c.needJoin = true
				case kerr.UnknownMemberID.Code, kerr.FencedInstanceID.Code:
					c.member = ""
				}
			case 4:
				req := kmsg.NewPtrLeaveGroupRequest()
				req.Version = 3
				req.Group = g
				m := kmsg.NewLeaveGroupRequestMember()
				m.MemberID = c.member
				req.Members = append(req.Members, m)
				h.apply(h.s.LeaveGroup(h.now, h.ref(), req))
			case 5:
				part := rapid.Int32Range(0, 2).Draw(rt, "part")
				off := rapid.Int64Range(0, 100).Draw(rt, "off")
				if rapid.Bool().Draw(rt, "simple") {
					h.commit(g, "", -1, "t1", part, off, 1, "s")
				} else {
					h.commit(g, c.member, c.gen, "t1", part, off, 2, "m")
				}
			case 6, 7:
				h.tick(rapid.SampledFrom([]int64{0, 50, 200, 400, 6000}).Draw(rt, "advance"))
			case 8:
				req := kmsg.NewPtrDeleteGroupsRequest()
				req.Version = 2
				req.Groups = []string{g}
				h.apply(h.s.DeleteGroups(h.now, h.ref(), req))
			case 9:
				req := kmsg.NewPtrOffsetDeleteRequest()
				req.Group = g
				rtp := kmsg.NewOffsetDeleteRequestTopic()
				rtp.Topic = "t1"
				rtp.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
				req.Topics = append(req.Topics, rtp)
				h.apply(h.s.OffsetDelete(h.now, h.ref(), req))
			}
			collect()
		}
		steps := rapid.IntRange(1, 120).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			step(rapid.SampledFrom(groups).Draw(rt, "group"), rapid.SampledFrom(names).Draw(rt, "client"), rapid.IntRange(0, 27).Draw(rt, "op"))
		}
		compareReplay(rt, h, "after the steps")
		// Settle: every client still in a group behaves well for a while,
		// so that most groups reach Stable.
		for round := 0; round < 8; round++ {
			for _, g := range groups {
				for _, n := range names {
					if c := clients[g+"/"+n]; c.member != "" || c.joining {
						step(g, n, 10)
					}
				}
			}
			h.tick(350)
		}
		compareReplay(rt, h, "after settling")
		// Let every session and rebalance run out: all groups settle.
		for i := 0; i < 5; i++ {
			h.tick(100000)
		}
		if busy := busyGroups(h.s); len(busy) != 0 {
			rt.Fatalf("groups still rebalancing after every timeout: %v", sortedNames(busy))
		}
		compareReplay(rt, h, "after every timeout")
		for _, w := range joins {
			if !h.answered(w.ref) {
				rt.Fatalf("join %d never answered", w.ref)
			}
		}
	})
}

func sortedNames(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ testing.TB = (*testing.T)(nil)

// TestReadsSeeOnlyCommittedWrites commits, deletes and expires offsets with
// writes committed late and in random-sized prefixes, and checks that every
// OffsetFetch answers exactly what the committed prefix of the log holds.
func TestReadsSeeOnlyCommittedWrites(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cfg := testConfig()
		cfg.OffsetsRetentionMs = 1000
		cfg.OffsetsRetentionCheckIntervalMs = 100
		h := newHarness(rt, cfg)
		h.manual = true
		groups := []string{"s1", "s2"}
		steps := rapid.IntRange(1, 80).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			g := rapid.SampledFrom(groups).Draw(rt, "group")
			part := rapid.Int32Range(0, 1).Draw(rt, "part")
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0, 1:
				h.commit(g, "", -1, "t", part, rapid.Int64Range(0, 50).Draw(rt, "off"), 1, "")
			case 2:
				req := kmsg.NewPtrDeleteGroupsRequest()
				req.Version, req.Groups = 2, []string{g}
				h.apply(h.s.DeleteGroups(h.now, h.ref(), req))
			case 3:
				req := kmsg.NewPtrOffsetDeleteRequest()
				req.Group = g
				req.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: part}}}}
				h.apply(h.s.OffsetDelete(h.now, h.ref(), req))
			case 4:
				h.tick(rapid.SampledFrom([]int64{0, 100, 600}).Draw(rt, "advance"))
			case 5:
				h.commitSome(rapid.IntRange(0, len(h.held)).Draw(rt, "commit"))
			}
			committed := replayLog(rt, h.log[:h.committedLen], h.now)
			for _, g := range groups {
				for p := int32(0); p < 2; p++ {
					want := int64(-1)
					if o, ok := committed.offsets[g][tp{"t", p}]; ok {
						want = o.offset
					}
					if got, _, _ := h.fetch(g, "t", p); got != want {
						rt.Fatalf("%s t[%d]: fetched %d, the committed log holds %d", g, p, got, want)
					}
				}
			}
		}
	})
}
