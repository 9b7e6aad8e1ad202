package sim

// Consumer groups (the classic protocol) in the workload: in the seeds
// that draw it (GroupSettings, stream "groups"), a few clients are members
// of one or two groups over the topics live when they first join. Each
// member does what a Kafka consumer does: it
// finds its coordinator (FindCoordinator; the first call creates
// __consumer_offsets), joins in two steps (MEMBER_ID_REQUIRED), the
// member elected leader computes a range assignment, everyone syncs, then
// heartbeats, reads its partitions' records and commits its read position
// (groupdelivery.go), fetches the group's committed
// offsets, and now and then leaves, or stalls past its session timeout
// (a crashed or frozen process) and comes back as a new member. Errors
// are handled as a client does: NOT_COORDINATOR and
// COORDINATOR_NOT_AVAILABLE (and a failed request) find the coordinator
// again, COORDINATOR_LOAD_IN_PROGRESS retries, REBALANCE_IN_PROGRESS,
// ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID rejoin (the last with a new
// member id). A member told of a rebalance by a heartbeat sometimes
// commits first with its old generation, as a consumer revoking its
// partitions does; and a member that synced a new generation sometimes
// commits the partitions of its previous one with that generation first
// (a commit delayed past the rebalance, as an async commit of a consumer
// is): the coordinator must refuse it (ILLEGAL_GENERATION), a fenced
// commit. Those draws come from the member's own stream
// ("client/<name>/fence"), so its other draws stay what they were.
//
// What members were told is the ground truth of two checkers
// (groupcheck.go): "group-owner:" (no partition held by two members in one
// generation) and "group-commit:" (an acknowledged commit is never lost).

import (
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// GroupSettings shape the group workload; drawn from their own stream
// ("groups") so that every other draw of a seed stays what it was.
type GroupSettings struct {
	// Members is how many clients are group members (0: no groups).
	Members int
	// Groups is how many groups they spread over (1 or 2).
	Groups int
	// SessionTimeoutMs is the members' session (and rebalance) timeout;
	// they heartbeat every HeartbeatMs.
	SessionTimeoutMs, HeartbeatMs int64
	// LeaveProb and StallProb are the chances, per step of a stable
	// member, of a LeaveGroup and of a stall past the session timeout.
	LeaveProb, StallProb float64
	// Static is how many of the members carry a group.instance.id
	// (KIP-345); drawn from the stream "groups-static" (drawGroupsStatic).
	Static int
}

// drawGroupsStatic draws how many classic members are static: some, in
// about half the seeds with groups.
func drawGroupsStatic(r *Rand, g GroupSettings) int {
	if g.Members == 0 || !r.Chance(0.5) {
		return 0
	}
	return int(r.Range(1, int64(g.Members)))
}

// drawGroups draws the group workload: on in about half the seeds.
func drawGroups(r *Rand) GroupSettings {
	var g GroupSettings
	if !r.Chance(0.5) {
		return g
	}
	g.Members = int(r.Range(2, 4))
	g.Groups = int(r.Range(1, 2))
	g.SessionTimeoutMs = pick(r, []int64{1500, 4000})
	g.HeartbeatMs = g.SessionTimeoutMs / pick(r, []int64{3, 5})
	g.LeaveProb = pick(r, []float64{0, 0.01, 0.03})
	g.StallProb = pick(r, []float64{0, 0.005, 0.02})
	return g
}

// String renders the settings for the seed's line ("" when off).
func (g GroupSettings) String() string {
	if g.Members == 0 {
		return ""
	}
	s := fmt.Sprintf("groups=%d/members=%d/session=%dms/hb=%dms/leave=%g/stall=%g",
		g.Groups, g.Members, g.SessionTimeoutMs, g.HeartbeatMs, g.LeaveProb, g.StallProb)
	if g.Static > 0 {
		s += fmt.Sprintf("/static=%d", g.Static)
	}
	return s
}

// offsetsTopic is the broker's internal topic of the group coordinators.
const offsetsTopic = "__consumer_offsets"

// Kafka error codes of the group protocol.
const (
	errCodeCoordinatorLoading      = 14
	errCodeCoordinatorNotAvailable = 15
	errCodeNotCoordinator          = 16
	errCodeIllegalGeneration       = 22
	errCodeUnknownMemberID         = 25
	errCodeRebalanceInProgress     = 27
	errCodeMemberIDRequired        = 79
	errCodeFencedInstanceID        = 82
)

// fencedCommitProb is the chance that a member which synced a new
// generation first commits its previous generation's partitions with the
// previous generation (a fenced commit).
const fencedCommitProb = 0.3

// Sim-side group settings of the broker: small enough to keep the offsets
// topic cheap and rebalances inside the fault phase.
const (
	simOffsetsPartitions     = 3
	simInitialRebalanceDelay = 200 // ms
	simMinSessionTimeoutMs   = 1000
)

// groupMember is one member client's state machine.
type groupMember struct {
	w        *world
	c        *client
	group    string
	coord    int32 // -1: unknown
	coordOK  bool  // a call to coord succeeded since it was found
	memberID string
	gen      int32
	topics   []string // subscription, fixed at the first join
	owned    []lin.TopicPartition
	pos      map[lin.TopicPartition]int64 // last offset committed or fetched
	run      uint64                       // bumped at every transition: stale callbacks are dropped
	lastHB   Time
	// instance is a static member's group.instance.id (nil: dynamic).
	// restartGen is the generation a static member held when it last
	// restarted (-1: none since), to tell a rejoin without a rebalance.
	instance   *string
	restartGen int32

	// syncedGen is the generation of the last successful SyncGroup;
	// fence draws the fenced commits (a stream of its own).
	syncedGen int32
	fence     *Rand
	// away: stalled, or gone after a LeaveGroup, until the next join
	// (grouplive.go).
	away bool

	// dv reads the owned partitions' records (groupdelivery.go).
	dv *memberReader

	// final marks the final phase's reader (finalFetch): it only finds
	// the coordinator and fetches, after the workload stopped, and calls
	// finalDone once a fetch was answered.
	final     bool
	finalDone func()
}

// stopped says the member must not go on.
func (m *groupMember) stopped() bool { return m.w.workloadStopped && !m.final || m.w.done }

// newGroupMembers creates the member clients (after every other client, so
// those keep their ids and streams) and starts them.
func (w *world) newGroupMembers() []*groupMember {
	g := w.set.Groups
	var ms []*groupMember
	for i := 0; i < g.Members; i++ {
		c := w.newClient(fmt.Sprintf("g%d", i))
		m := &groupMember{w: w, c: c, group: fmt.Sprintf("grp%d", i%g.Groups), coord: -1, pos: map[lin.TopicPartition]int64{}, restartGen: -1,
			fence: w.root.Fork("client/" + c.name + "/fence")}
		if i < g.Static {
			inst := "static-" + c.name
			m.instance = &inst
		}
		ms = append(ms, m)
	}
	return ms
}

// start begins the member's life shortly after the workload starts.
func (m *groupMember) start() {
	m.w.s.after(m.c.rng.Exp(100*Millisecond), "group-start", m.find)
}

// backoff is a client's retry pause.
func (m *groupMember) backoff() Time {
	return m.w.set.Work.Backoff + m.c.rng.Exp(m.w.set.Work.Backoff)
}

// next schedules fn after d as the member's next transition.
func (m *groupMember) next(d Time, fn func()) {
	m.run++
	run := m.run
	m.w.s.after(d, "group", func() {
		if run == m.run && !m.stopped() {
			fn()
		}
	})
}

// do sends req to node; cb runs only if no transition happened meanwhile.
func (m *groupMember) do(node int32, req kmsg.Request, timeout Time, cb func(kmsg.Response, error)) {
	run := m.run
	m.c.do(node, req, timeout, false, func(resp kmsg.Response, err error) {
		if run != m.run || m.stopped() {
			return
		}
		cb(resp, err)
	})
}

// ask sends req to node like do; a failed request (a timeout, a broken
// connection, no connection) sends the member to find its coordinator
// again instead of calling cb.
func (m *groupMember) ask(node int32, req kmsg.Request, timeout Time, cb func(kmsg.Response)) {
	m.do(node, req, timeout, func(resp kmsg.Response, err error) {
		if err != nil {
			m.rediscover(0)
			return
		}
		cb(resp)
	})
}

// rebalanceWait bounds a JoinGroup or SyncGroup, which the coordinator
// may hold for up to the rebalance timeout.
func (m *groupMember) rebalanceWait() Time {
	return Time(m.w.set.Groups.SessionTimeoutMs)*Millisecond + m.w.set.Work.RequestTimeout
}

// rediscover forgets the coordinator and finds it again; code is the
// error that sent the member there (0 for a failed request).
func (m *groupMember) rediscover(code int16) {
	if code == errCodeNotCoordinator && m.coordOK {
		m.w.cover("group-coordinator-moved")
	}
	m.coord, m.coordOK = -1, false
	if code == 0 {
		m.c.route.invalidate()
	}
	m.next(m.backoff(), m.find)
}

// rejoin goes back to JoinGroup after code (a new member id after
// UNKNOWN_MEMBER_ID).
func (m *groupMember) rejoin(code int16) {
	if code == errCodeUnknownMemberID {
		m.memberID = ""
	}
	if code == errCodeRebalanceInProgress {
		m.w.cover("group-rebalance")
	}
	m.next(0, m.join)
}

// handle reacts to an error code of a group call: it returns false when
// the member moved on (rediscover, rejoin, retry).
func (m *groupMember) handle(code int16, retry func()) bool {
	switch code {
	case 0:
		m.coordOK = true
		return true
	case errCodeNotCoordinator, errCodeCoordinatorNotAvailable:
		m.rediscover(code)
	case errCodeCoordinatorLoading:
		m.next(m.backoff(), retry)
	case errCodeFencedInstanceID:
		// Another member holds the instance id (a clash, or this
		// member's older incarnation's answer): a Kafka client stops;
		// here it backs off and joins again as a restarted process.
		m.w.cover("group-static-fenced")
		m.memberID = ""
		m.next(m.backoff()+m.c.rng.Exp(Second), m.join)
	case errCodeRebalanceInProgress, errCodeIllegalGeneration, errCodeUnknownMemberID:
		if m.final {
			m.rediscover(code) // the final reader never joins
			break
		}
		m.rejoin(code)
	default:
		m.w.logf("%s: group %s: error %d; finding the coordinator again", m.c.name, m.group, code)
		m.rediscover(code)
	}
	return false
}

func (m *groupMember) find() {
	w := m.w
	m.run++
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = int16(m.c.rng.Range(0, 5))
	if req.Version >= 4 {
		req.CoordinatorKeys = []string{m.group}
	} else {
		req.CoordinatorKey = m.group
	}
	m.ask(m.c.route.anyNode(), req, w.set.Work.RequestTimeout, func(resp kmsg.Response) {
		fr := resp.(*kmsg.FindCoordinatorResponse)
		code, node := fr.ErrorCode, fr.NodeID
		if req.Version >= 4 {
			if len(fr.Coordinators) != 1 {
				w.fail("group: FindCoordinator v%d answered %d coordinators for one key", req.Version, len(fr.Coordinators))
				return
			}
			code, node = fr.Coordinators[0].ErrorCode, fr.Coordinators[0].NodeID
		}
		if code != 0 || node <= 0 || int(node) > len(w.nodes) {
			m.next(m.backoff(), m.find)
			return
		}
		m.coord, m.coordOK = node, false
		if m.final {
			m.next(0, func() { m.fetch(false) })
			return
		}
		m.next(0, m.join)
	})
}

func (m *groupMember) join() {
	w := m.w
	r := m.c.rng
	m.away = false
	if m.topics == nil {
		for _, t := range w.reg.live() {
			if len(m.topics) < 3 {
				m.topics = append(m.topics, t.name)
			}
		}
		if len(m.topics) == 0 {
			m.next(Second, m.join) // no topic yet
			return
		}
	}
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = m.topics
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = int16(r.Range(4, 9)) // MEMBER_ID_REQUIRED from v4 on
	if m.instance != nil {
		req.Version = max(req.Version, 5) // group.instance.id from v5 on
		req.InstanceID = m.instance
	}
	req.Group = m.group
	req.SessionTimeoutMillis = int32(w.set.Groups.SessionTimeoutMs)
	req.RebalanceTimeoutMillis = int32(w.set.Groups.SessionTimeoutMs)
	req.MemberID = m.memberID
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	p.Metadata = meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	m.ask(m.coord, req, m.rebalanceWait(), func(resp kmsg.Response) {
		jr := resp.(*kmsg.JoinGroupResponse)
		if jr.ErrorCode == errCodeMemberIDRequired {
			m.memberID = jr.MemberID
			m.next(0, m.join)
			return
		}
		if !m.handle(jr.ErrorCode, m.join) {
			return
		}
		w.cover("group-joined")
		if m.restartGen >= 0 && jr.Generation == m.restartGen {
			// A static member's restart taken without a rebalance.
			w.cover("group-static-rejoin")
		}
		m.restartGen = -1
		m.memberID, m.gen = jr.MemberID, jr.Generation
		var assign []kmsg.SyncGroupRequestGroupAssignment
		if jr.LeaderID == jr.MemberID {
			assign = m.assign(jr.Members)
		}
		m.next(0, func() { m.sync(assign) })
	})
}

// assign is the leader's range assignment: each topic's partitions (as
// acknowledged to the admin) split in ranges over the members subscribed
// to it, sorted by member id.
func (m *groupMember) assign(members []kmsg.JoinGroupResponseMember) []kmsg.SyncGroupRequestGroupAssignment {
	subs := map[string][]string{} // topic -> members
	var ids []string
	for _, mb := range members {
		ids = append(ids, mb.MemberID)
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(mb.ProtocolMetadata); err != nil {
			m.w.fail("group: member %s's metadata does not decode: %v", mb.MemberID, err)
			continue
		}
		for _, t := range meta.Topics {
			subs[t] = append(subs[t], mb.MemberID)
		}
	}
	sort.Strings(ids)
	plans := map[string]*kmsg.ConsumerMemberAssignment{}
	for _, id := range ids {
		a := kmsg.NewConsumerMemberAssignment()
		plans[id] = &a
	}
	topics := make([]string, 0, len(subs))
	for t := range subs {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		st := m.w.reg.byName[t]
		if st == nil {
			continue
		}
		who := subs[t]
		sort.Strings(who)
		n := int(st.partitions)
		for i, id := range who {
			lo, hi := i*n/len(who), (i+1)*n/len(who)
			if lo == hi {
				continue
			}
			at := kmsg.NewConsumerMemberAssignmentTopic()
			at.Topic = t
			for p := lo; p < hi; p++ {
				at.Partitions = append(at.Partitions, int32(p))
			}
			plans[id].Topics = append(plans[id].Topics, at)
		}
	}
	var out []kmsg.SyncGroupRequestGroupAssignment
	for _, id := range ids {
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID = id
		a.MemberAssignment = plans[id].AppendTo(nil)
		out = append(out, a)
	}
	return out
}

func (m *groupMember) sync(assign []kmsg.SyncGroupRequestGroupAssignment) {
	w := m.w
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = int16(m.c.rng.Range(0, 5))
	req.Group = m.group
	req.Generation = m.gen
	req.MemberID = m.memberID
	req.ProtocolType = kmsg.StringPtr("consumer")
	req.Protocol = kmsg.StringPtr("range")
	req.GroupAssignment = assign
	if req.Version >= 3 {
		req.InstanceID = m.instance
	}
	gen, id := m.gen, m.memberID
	m.ask(m.coord, req, m.rebalanceWait(), func(resp kmsg.Response) {
		sr := resp.(*kmsg.SyncGroupResponse)
		if !m.handle(sr.ErrorCode, m.join) {
			return
		}
		var a kmsg.ConsumerMemberAssignment
		if len(sr.MemberAssignment) > 0 {
			if err := a.ReadFrom(sr.MemberAssignment); err != nil {
				w.fail("group: group %s generation %d: the assignment of %s does not decode: %v", m.group, gen, id, err)
				return
			}
		}
		prevGen, prevOwned := m.syncedGen, slices.Clone(m.owned)
		m.owned = m.owned[:0]
		for _, t := range a.Topics {
			for _, p := range t.Partitions {
				m.owned = append(m.owned, lin.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
		w.cover("group-synced")
		owner := id
		if m.instance != nil {
			// A static member's restart takes its assignment over with
			// a new member id in the same generation: one owner.
			owner = "instance " + *m.instance
		}
		w.groups.synced(m.group, gen, owner, m.owned)
		m.syncedGen = gen
		m.lastHB = w.s.now
		w.groups.liveSynced(m)
		if prevGen > 0 && prevGen < gen && len(prevOwned) > 0 && m.fence.Chance(fencedCommitProb) {
			// A commit of the previous generation's partitions that was
			// late: fenced by the generation just synced.
			m.commit(prevGen, prevOwned, m.fence, func() { m.fetch(true) })
			return
		}
		// A consumer starts from the committed offsets.
		m.next(0, func() { m.fetch(true) })
	})
}

// step is a stable member's loop: a heartbeat when one is due, else a
// commit, a fetch of the committed offsets, a Fetch of records, a leave
// or a stall.
func (m *groupMember) step() {
	w := m.w
	r := m.c.rng
	hb := Time(w.set.Groups.HeartbeatMs) * Millisecond
	g := w.set.Groups
	switch x := r.Float64(); {
	case w.s.now-m.lastHB >= hb:
		m.heartbeat()
	case x < g.LeaveProb:
		m.leave()
	case x < g.LeaveProb+g.StallProb:
		// Frozen past the session timeout: the coordinator expels the
		// member; it comes back as a new one (a restarted process).
		// (Fenced commits come after a sync instead: the previous
		// generation's, drawn from the member's own stream.)
		stall := Time(g.SessionTimeoutMs)*Millisecond*3/2 + r.Exp(Second)
		if m.instance != nil && r.Chance(0.7) {
			// A static member's quick restart, inside its session: it
			// rejoins with its instance id and takes its assignment
			// over without a rebalance (KIP-345).
			stall = min(r.Exp(Time(g.SessionTimeoutMs)*Millisecond/4), Time(g.SessionTimeoutMs)*Millisecond/2)
			m.restartGen = m.gen
		}
		w.logf("%s: group %s: stalling for %s", m.c.name, m.group, fmtTime(stall))
		m.away = true
		w.groups.liveDisrupted(m)
		m.next(stall, func() { m.memberID = ""; m.join() })
	case x < 0.6 && len(m.owned) > 0:
		m.commit(m.gen, m.owned, m.c.rng, nil)
	case x < 0.8:
		m.fetch(false)
	case x < 0.95:
		m.consume()
	default:
		m.later()
	}
}

// later schedules the next step of a stable member.
func (m *groupMember) later() {
	hb := Time(m.w.set.Groups.HeartbeatMs) * Millisecond
	m.next(min(m.c.rng.Exp(m.w.set.Work.Think), hb/2), m.step)
}

func (m *groupMember) heartbeat() {
	w := m.w
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = int16(m.c.rng.Range(0, 4))
	req.Group = m.group
	req.Generation = m.gen
	req.MemberID = m.memberID
	if req.Version >= 3 {
		req.InstanceID = m.instance
	}
	m.lastHB = w.s.now
	m.ask(m.coord, req, w.set.Work.RequestTimeout, func(resp kmsg.Response) {
		code := resp.(*kmsg.HeartbeatResponse).ErrorCode
		if code == errCodeRebalanceInProgress && len(m.owned) > 0 && m.c.rng.Chance(0.5) {
			// Commit while rebalancing, with the old generation, then
			// rejoin.
			w.cover("group-rebalance")
			m.commit(m.gen, m.owned, m.c.rng, func() { m.rejoin(0) })
			return
		}
		if m.handle(code, m.heartbeat) {
			m.later()
		}
	})
}

// commit commits, with generation gen, the next offsets of some of
// parts (drawn from r); then runs after (if set) instead of the member's
// own reaction to the answer.
func (m *groupMember) commit(gen int32, parts []lin.TopicPartition, r *Rand, after func()) {
	w := m.w
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = int16(r.Range(1, 9))
	req.Group = m.group
	req.Generation = gen
	req.MemberID = m.memberID
	if req.Version >= 7 {
		req.InstanceID = m.instance
	}
	var ops []*groupOp
	for _, tp := range parts {
		if r.Chance(0.3) {
			continue
		}
		next, known := m.commitOffset(tp, r.Range(1, 5))
		if !known {
			continue
		}
		m.pos[tp] = next
		i := slices.IndexFunc(req.Topics, func(t kmsg.OffsetCommitRequestTopic) bool { return t.Topic == tp.Topic })
		if i < 0 {
			t := kmsg.NewOffsetCommitRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset = tp.Partition, next
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
		op := w.groups.begin(m, tp, true, next)
		w.groups.fenceCommit(op, gen)
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		if after != nil {
			after()
		} else {
			m.later()
		}
		return
	}
	trapped := w.groups.trap.commitSent(m, m.coord)
	m.do(m.coord, req, w.set.Work.RequestTimeout, func(resp kmsg.Response, err error) {
		if err != nil {
			for _, op := range ops {
				w.groups.end(op, err == errNotSent, false, 0)
			}
			if after != nil {
				after()
			} else {
				m.rediscover(0)
			}
			return
		}
		worst := int16(0)
		var codes []int16
		for _, op := range ops {
			code := int16(-1)
			for _, t := range resp.(*kmsg.OffsetCommitResponse).Topics {
				for _, p := range t.Partitions {
					if t.Topic == op.key.tp.Topic && p.Partition == op.key.tp.Partition {
						code = p.ErrorCode
					}
				}
			}
			switch code {
			case 0:
				w.cover("group-commit-acked")
				w.groups.end(op, false, true, 0)
				w.groups.liveCommitted(m, gen)
			case errCodeIllegalGeneration, errCodeUnknownMemberID, errCodeRebalanceInProgress, errCodeCoordinatorLoading:
				// Refused by the shard before it wrote anything (fenced
				// or not loaded): never applied.
				if op.fenced {
					w.cover("group-commit-fenced-refused")
				}
				w.groups.end(op, true, false, 0)
			default:
				// NOT_COORDINATOR and the like also answer a write the
				// runtime discarded, which may still commit.
				w.groups.end(op, false, false, 0)
			}
			if code != 0 && worst == 0 {
				worst = code
			}
			codes = append(codes, code)
		}
		if trapped {
			w.groups.trap.answered(codes)
		}
		if after != nil {
			after()
			return
		}
		if m.handle(worst, func() { m.commit(m.gen, m.owned, m.c.rng, nil) }) {
			m.later()
		}
	})
}

// fetch asks for the committed offsets of every partition of the
// subscription (all members' commits, not only this member's); initial
// sets the member's positions for its partitions from the answer.
func (m *groupMember) fetch(initial bool) {
	w := m.w
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = int16(m.c.rng.Range(1, 9))
	var keys []*groupOp
	var topics []kmsg.OffsetFetchRequestTopic
	for _, name := range m.topics {
		st := w.reg.byName[name]
		if st == nil || st.status != topicLive {
			continue
		}
		t := kmsg.NewOffsetFetchRequestTopic()
		t.Topic = name
		for p := int32(0); p < st.partitions; p++ {
			t.Partitions = append(t.Partitions, p)
			keys = append(keys, w.groups.begin(m, lin.TopicPartition{Topic: name, Partition: p}, false, 0))
		}
		topics = append(topics, t)
	}
	if req.Version >= 8 {
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = m.group
		for _, t := range topics {
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.Partitions = t.Topic, t.Partitions
			g.Topics = append(g.Topics, gt)
		}
		req.Groups = append(req.Groups, g)
	} else {
		req.Group, req.Topics = m.group, topics
	}
	m.ask(m.coord, req, w.set.Work.RequestTimeout, func(resp kmsg.Response) {
		fr := resp.(*kmsg.OffsetFetchResponse)
		code := fr.ErrorCode
		got := map[lin.TopicPartition]int64{}
		if req.Version >= 8 {
			if len(fr.Groups) != 1 {
				w.fail("group: OffsetFetch v%d answered %d groups for one", req.Version, len(fr.Groups))
				return
			}
			code = fr.Groups[0].ErrorCode
			for _, t := range fr.Groups[0].Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode == 0 {
						got[lin.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.Offset
					}
				}
			}
		} else {
			for _, t := range fr.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode == 0 {
						got[lin.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.Offset
					} else if code == 0 && p.ErrorCode != errCodeUnknownTopicPartition {
						// v0-v1 carry the group's error per partition.
						code = p.ErrorCode
					}
				}
			}
		}
		stale := w.answerMayBeStale(lin.TopicPartition{Topic: offsetsTopic, Partition: w.groups.partition(m.group)})
		for _, op := range keys {
			v, ok := got[op.key.tp]
			if code == 0 && ok && !stale {
				w.groups.end(op, false, true, v)
			} else {
				w.groups.drop(op)
			}
			if initial && slices.Contains(m.owned, op.key.tp) {
				m.startRead(op.key.tp, v, code == 0 && ok)
			}
		}
		retry := func() { m.fetch(initial) }
		if m.final && code == 0 {
			if stale {
				// Leadership is still settling after the restart.
				m.rediscover(0)
				return
			}
			m.run++ // nothing more from this reader
			m.finalDone()
			return
		}
		if m.handle(code, retry) {
			m.later()
		}
	})
}

// finalFetch reads every group's committed offsets once more after the
// final restart, with the final phase's client c, so that a commit
// acknowledged late in the fault phase and lost by the restart is seen
// (group-commit:). The readers try until a shared deadline, then give up
// quietly: groups' liveness is not judged yet.
func (g *groupWorld) finalFetch(c *client, done func()) {
	w := g.w
	var groups []string
	topics := map[string][]string{}
	members := slices.Clone(g.members)
	if w.g848 != nil {
		for _, m := range w.g848.members { // KIP-848 groups too (groups848.go)
			members = append(members, m.groupMember)
		}
	}
	for _, m := range members {
		if _, ok := topics[m.group]; !ok {
			groups = append(groups, m.group)
			topics[m.group] = []string{}
		}
		for _, t := range m.topics {
			if !slices.Contains(topics[m.group], t) {
				topics[m.group] = append(topics[m.group], t)
			}
		}
	}
	deadline := w.s.now + finalGroupFetchLimit
	var step func(i int)
	step = func(i int) {
		if i >= len(groups) {
			done()
			return
		}
		grp := groups[i]
		if len(topics[grp]) == 0 {
			step(i + 1)
			return
		}
		r := &groupMember{w: w, c: c, group: grp, coord: -1, topics: topics[grp], pos: map[lin.TopicPartition]int64{}, final: true}
		over := false
		r.finalDone = func() {
			if !over {
				over = true
				step(i + 1)
			}
		}
		w.s.at(deadline, "group-final-give-up", func() {
			if !over {
				w.logf("phase: group %s: no committed offsets fetched within %s; not judged", grp, fmtTime(finalGroupFetchLimit))
				r.run++
				r.finalDone()
			}
		})
		r.find()
	}
	step(0)
}

// finalGroupFetchLimit bounds the final fetches of all groups together,
// well inside the liveness deadline.
const finalGroupFetchLimit = 5 * Second

// leave leaves the group and joins again later as a new member.
func (m *groupMember) leave() {
	w := m.w
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = int16(m.c.rng.Range(0, 5))
	req.Group = m.group
	if req.Version >= 3 {
		mb := kmsg.NewLeaveGroupRequestMember()
		mb.MemberID = m.memberID
		mb.InstanceID = m.instance
		req.Members = append(req.Members, mb)
	} else {
		req.MemberID = m.memberID
	}
	m.away = true
	w.groups.liveDisrupted(m)
	m.do(m.coord, req, w.set.Work.RequestTimeout, func(kmsg.Response, error) {
		m.memberID = ""
		m.next(m.c.rng.Exp(Second), m.join)
	})
}
