package sim

// KIP-848 consumer groups in the workload: in the seeds that draw them
// (Group848Settings, stream "groups848"), a few more clients are members
// of one consumer group (ids "cg0", "cg1": a group id is one protocol, so
// never a classic group's). Each does what a KIP-848 consumer does,
// without fetching records: it finds its coordinator, learns its topics'
// ids (Metadata), joins with ConsumerGroupHeartbeat at epoch 0 (a member
// id of its own from v1, the coordinator's at v0; subscribed topic names;
// the group's server assignor, uniform or range, or none), then
// heartbeats on its own timer as a client's background thread does,
// adopts each assignment it is sent, releases revoked partitions (now and
// then committing them first) and acknowledges the revocation with a
// heartbeat carrying what it still owns. Beside the heartbeats it commits
// offsets (OffsetCommit v9, member id and epoch as the generation) and
// fetches the committed ones (OffsetFetch v9 with member id and epoch, or
// v8 without), leaves (epoch -1, or -2 for a static member, which then
// comes back with a new member id and the same instance id and takes its
// assignment over) or stalls past the session timeout and comes back as
// itself. FENCED_MEMBER_EPOCH and UNKNOWN_MEMBER_ID release everything and
// rejoin at epoch 0; NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and failed
// requests find the coordinator again, COORDINATOR_LOAD_IN_PROGRESS and
// UNRELEASED_INSTANCE_ID back off and retry. A member given a higher
// epoch now and then first commits with its previous one, a late commit
// drawn from its own stream ("client/<name>/fence848"), which
// groupfence848.go fences.
//
// Commits and fetches are recorded in the group world's ops, so the
// "group-commit:" checker judges them too: a commit refused with
// STALE_MEMBER_EPOCH, FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID or
// COORDINATOR_LOAD_IN_PROGRESS was certainly not applied. What each member
// was told feeds the KIP-848 "group-owner:" check (judgeOwners848 in
// groupcheck.go): the intervals in which each member certainly holds each
// partition (hold848 below says why they are certain) must not overlap.

import (
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	lin "github.com/chronik-streaming/chronik/linearizability"
)

// Group848Settings shape the KIP-848 workload; drawn from their own
// stream ("groups848") so every other draw of a seed stays what it was.
type Group848Settings struct {
	// Members is how many clients are KIP-848 members (0: none).
	Members int
	// Groups is how many consumer groups they spread over (1 or 2).
	Groups int
	// SessionMs and HeartbeatMs are the coordinator's
	// group.consumer.session.timeout.ms and heartbeat interval.
	SessionMs, HeartbeatMs int64
	// RebalanceMs is the members' rebalance timeout: the time the
	// coordinator gives a member to acknowledge a revocation.
	RebalanceMs int64
	// Assignor is the server assignor the members name ("": none, the
	// coordinator's default).
	Assignor string
	// StaticFrac of the members carry a group.instance.id; V1Frac send
	// ConsumerGroupHeartbeat v1 (a member id of their own).
	StaticFrac, V1Frac float64
	// LeaveProb and StallProb are the chances, per step of a joined
	// member, of a leave and of a stall past the session timeout.
	LeaveProb, StallProb float64
}

// drawGroups848 draws the KIP-848 workload: on in about a third of the
// seeds.
func drawGroups848(r *Rand) Group848Settings {
	var g Group848Settings
	if !r.Chance(0.35) {
		return g
	}
	g.Members = int(r.Range(2, 4))
	g.Groups = int(r.Range(1, 2))
	g.SessionMs = pick(r, []int64{1500, 3000})
	g.HeartbeatMs = g.SessionMs / pick(r, []int64{3, 5})
	g.RebalanceMs = g.SessionMs * pick(r, []int64{1, 2}) / pick(r, []int64{1, 2})
	g.Assignor = pick(r, []string{"", "uniform", "range"})
	g.StaticFrac = pick(r, []float64{0, 0.5})
	g.V1Frac = pick(r, []float64{0, 0.5, 1})
	g.LeaveProb = pick(r, []float64{0, 0.01, 0.03})
	g.StallProb = pick(r, []float64{0, 0.005, 0.02})
	return g
}

// String renders the settings for the seed's line ("" when off).
func (g Group848Settings) String() string {
	if g.Members == 0 {
		return ""
	}
	return fmt.Sprintf("kip848=%d/members=%d/session=%dms/hb=%dms/rebalance=%dms/assignor=%q/static=%g/v1=%g/leave=%g/stall=%g",
		g.Groups, g.Members, g.SessionMs, g.HeartbeatMs, g.RebalanceMs, g.Assignor, g.StaticFrac, g.V1Frac, g.LeaveProb, g.StallProb)
}

// apply sets the coordinator's KIP-848 timeouts for the seed.
func (g Group848Settings) apply(cfg *broker.Config) {
	if g.Members == 0 {
		return
	}
	cfg.GroupCoordinator.ConsumerSessionTimeoutMs = int32(g.SessionMs)
	cfg.GroupCoordinator.ConsumerHeartbeatIntervalMs = int32(g.HeartbeatMs)
}

// Kafka error codes of KIP-848.
const (
	errCodeFencedMemberEpoch    = 110
	errCodeUnreleasedInstanceID = 111
	errCodeStaleMemberEpoch     = 113
)

// tidp848 is one partition of a topic named by id, as assignments name it.
type tidp848 struct {
	id [16]byte
	p  int32
}

func (a tidp848) less(b tidp848) bool {
	if c := slices.Compare(a.id[:], b.id[:]); c != 0 {
		return c < 0
	}
	return a.p < b.p
}

func (a tidp848) String() string { return fmt.Sprintf("%x[%d]", a.id[:4], a.p) }

// member848 is one KIP-848 member client. It reuses a groupMember for
// what both protocols share (client, group, coordinator, committed
// positions, the group world's op records) but runs its own two loops.
type member848 struct {
	*groupMember
	instance *string
	version  int16 // of ConsumerGroupHeartbeat
	epoch    int32
	incarn   int // bumped when a v1 member restarts with a new id
	owned    []tidp848
	names    map[[16]byte]string
	// life is bumped whenever the member drops what it was doing (a
	// rediscovery, a stall, a fence, a leave): stale callbacks are dropped.
	life      uint64
	hbBusy    bool
	workBusy  bool
	sendOwned bool // the next heartbeat carries the owned partitions
	// leftEpoch is the epoch a static member left with (epoch -2), until
	// its next join: a takeover at that epoch is a restart without a
	// rebalance.
	leftEpoch int32
	hb        *hold848
	// lastEpoch is the last epoch above 0 the member was given under its
	// current member id (kept across a fence, whose rejoin keeps the id);
	// a late commit uses it (groupfence848.go).
	lastEpoch int32
}

// newMembers848 creates the KIP-848 member clients.
func (w *world) newMembers848(g848 *world848) []*member848 {
	g := w.set.Groups848
	var ms []*member848
	for i := 0; i < g.Members; i++ {
		c := w.newClient(fmt.Sprintf("k%d", i))
		m := &member848{
			groupMember: &groupMember{w: w, c: c, group: fmt.Sprintf("cg%d", i%g.Groups), coord: -1, pos: map[lin.TopicPartition]int64{},
				fence: w.root.Fork("client/" + c.name + "/fence848")},
			names: map[[16]byte]string{},
		}
		if c.rng.Chance(g.StaticFrac) {
			s := fmt.Sprintf("inst-%s", c.name)
			m.instance = &s
		}
		if c.rng.Chance(g.V1Frac) {
			m.version = 1
			m.memberID = m.newID()
		}
		m.hb = g848.holder(m)
		ms = append(ms, m)
	}
	return ms
}

// newID is a v1 member's own id (Kafka clients draw a UUID at start).
func (m *member848) newID() string {
	m.incarn++
	return fmt.Sprintf("%s-%d-%x", m.c.name, m.incarn, m.c.rng.Uint64()&0xffffff)
}

// start begins the member's life shortly after the workload starts.
func (m *member848) start() {
	m.w.s.after(m.c.rng.Exp(100*Millisecond), "group848-start", m.find)
}

// after runs fn after d unless the member moved on meanwhile.
func (m *member848) after(d Time, fn func()) {
	life := m.life
	m.w.s.after(d, "group848", func() {
		if life == m.life && !m.stopped() {
			fn()
		}
	})
}

// call sends req to node; cb runs unless the member moved on meanwhile.
func (m *member848) call(node int32, req kmsg.Request, cb func(kmsg.Response, error)) {
	life := m.life
	m.c.do(node, req, m.w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if life != m.life || m.stopped() {
			return
		}
		cb(resp, err)
	})
}

// reset drops both loops: what is in flight is ignored from now on.
func (m *member848) reset() {
	m.life++
	m.hbBusy, m.workBusy = false, false
}

// rediscover finds the coordinator again; code is the error that sent
// the member there (0 for a failed request).
func (m *member848) rediscover(code int16) {
	if code == errCodeNotCoordinator && m.coordOK {
		m.w.cover("group-coordinator-moved")
	}
	m.coord, m.coordOK = -1, false
	if code == 0 {
		m.c.route.invalidate()
	}
	m.reset()
	m.after(m.backoff(), m.find)
}

// find asks any broker for the group's coordinator (FindCoordinator v4+,
// batched keys, as a KIP-848 client does), then resumes heartbeating: a
// joined member keeps its epoch across coordinators.
func (m *member848) find() {
	w := m.w
	m.reset()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = int16(m.c.rng.Range(4, 5))
	req.CoordinatorKeys = []string{m.group}
	m.call(m.c.route.anyNode(), req, func(resp kmsg.Response, err error) {
		if err != nil {
			m.rediscover(0)
			return
		}
		fr := resp.(*kmsg.FindCoordinatorResponse)
		if len(fr.Coordinators) != 1 {
			w.fail("group848: FindCoordinator v%d answered %d coordinators for one key", req.Version, len(fr.Coordinators))
			return
		}
		c := fr.Coordinators[0]
		if c.ErrorCode != 0 || c.NodeID <= 0 || int(c.NodeID) > len(w.nodes) {
			m.after(m.backoff(), m.find)
			return
		}
		m.coord = c.NodeID
		m.heartbeat()
		m.after(m.c.rng.Exp(w.set.Work.Think), m.step)
	})
}

// subscribe fixes the subscription at the first join: up to three topics
// live then.
func (m *member848) subscribe() bool {
	if m.topics == nil {
		for _, t := range m.w.reg.live() {
			if len(m.topics) < 3 {
				m.topics = append(m.topics, t.name)
			}
		}
	}
	return len(m.topics) > 0
}

// heartbeat sends one ConsumerGroupHeartbeat (a join at epoch 0) unless
// one is in flight, and schedules the next from its answer.
func (m *member848) heartbeat() {
	w := m.w
	if m.hbBusy {
		return
	}
	if !m.subscribe() {
		m.after(Second, m.heartbeat) // no topic yet
		return
	}
	g := w.set.Groups848
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = m.version
	req.Group = m.group
	req.MemberID = m.memberID
	req.MemberEpoch = m.epoch
	req.InstanceID = m.instance
	// A Kafka client leaves the owned partitions out while they did not
	// change; these mostly send them, which lets an answer prove that no
	// revocation is pending (hold848).
	carried := m.epoch == 0 || m.sendOwned || m.c.rng.Chance(0.7)
	if m.epoch == 0 {
		req.RebalanceTimeoutMillis = int32(g.RebalanceMs)
		req.SubscribedTopicNames = m.topics
		if g.Assignor != "" {
			req.ServerAssignor = kmsg.StringPtr(g.Assignor)
		}
	}
	var sent []tidp848
	if carried {
		sent = slices.Clone(m.owned)
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for _, p := range sent {
			if n := len(req.Topics); n == 0 || req.Topics[n-1].TopicID != p.id {
				t := kmsg.NewConsumerGroupHeartbeatRequestTopic()
				t.TopicID = p.id
				req.Topics = append(req.Topics, t)
			}
			t := &req.Topics[len(req.Topics)-1]
			t.Partitions = append(t.Partitions, p.p)
		}
	}
	m.hbBusy = true
	sentAt := w.s.now
	m.hb.sent(sentAt)
	joining := m.epoch == 0
	var join *join848
	if joining && m.memberID != "" {
		join = w.g848.epochs.joined(m.group, m.memberID, sentAt, -1)
	}
	m.call(m.coord, req, func(resp kmsg.Response, err error) {
		m.hbBusy = false
		if join != nil && err == nil {
			join.ret = w.s.now // processed before its answer arrived
		}
		if err != nil {
			w.logf("%s: group %s: heartbeat sent at %s failed: %v", m.c.name, m.group, sentAt, err)
			m.hb.failed()
			m.sendOwned = true
			m.rediscover(0)
			return
		}
		hr := resp.(*kmsg.ConsumerGroupHeartbeatResponse)
		switch hr.ErrorCode {
		case 0:
		case errCodeFencedMemberEpoch, errCodeUnknownMemberID:
			m.hb.failed()
			m.fenced(hr.ErrorCode)
			return
		case errCodeCoordinatorLoading, errCodeUnreleasedInstanceID:
			m.hb.failed()
			m.sendOwned = true
			m.after(m.backoff(), m.heartbeat)
			return
		case errCodeNotCoordinator, errCodeCoordinatorNotAvailable:
			m.hb.failed()
			m.sendOwned = true
			m.rediscover(hr.ErrorCode)
			return
		default:
			m.hb.failed()
			m.sendOwned = true
			msg := ""
			if hr.ErrorMessage != nil {
				msg = *hr.ErrorMessage
			}
			w.logf("%s: group %s: heartbeat error %d (%s); finding the coordinator again", m.c.name, m.group, hr.ErrorCode, msg)
			m.rediscover(hr.ErrorCode)
			return
		}
		m.coordOK = true
		if hr.MemberID != nil {
			m.memberID = *hr.MemberID
		}
		if joining && join == nil && m.memberID != "" {
			// A join without an id: the answer names the member.
			join = w.g848.epochs.joined(m.group, m.memberID, sentAt, w.s.now)
		}
		prevEpoch, prevOwned := m.lastEpoch, m.owned
		m.epoch = hr.MemberEpoch
		var next []tidp848
		if hr.Assignment != nil {
			for _, t := range hr.Assignment.Topics {
				for _, p := range t.Partitions {
					next = append(next, tidp848{t.TopicID, p})
				}
			}
			sort.Slice(next, func(i, j int) bool { return next[i].less(next[j]) })
			next = slices.Compact(next)
		}
		// A deposed coordinator that has not heard of its successor may
		// still answer from its old state, as in Kafka: such an answer
		// proves nothing to the owner check (reads.go).
		proof := !w.answerMayBeStale(lin.TopicPartition{Topic: offsetsTopic, Partition: w.groups.partition(m.group)})
		m.hb.answered(sentAt, proof, carried, hr.Assignment != nil, m.owned, next)
		if proof {
			w.g848.epochs.answered(m.group, m.memberID, sentAt, m.epoch, join)
		}
		if m.epoch > 0 {
			m.lastEpoch = m.epoch
		}
		if prevEpoch > 0 && m.epoch > prevEpoch && m.fence.Chance(lateCommit848Prob) {
			// A commit at the previous epoch that was late: it reaches
			// the coordinator after the bump (the partitions it held
			// then, or, after a fence, those it holds now).
			ps := prevOwned
			if len(ps) == 0 {
				ps = next
			}
			m.lateCommit(prevEpoch, ps)
		}
		if hr.Assignment != nil {
			w.logf("%s: group %s: member %s epoch %d (heartbeat sent at %s, owned carried %v) assigned %v", m.c.name, m.group, m.memberID, m.epoch, sentAt, carried, next)
		}
		if joining {
			w.cover("group848-joined")
			if m.leftEpoch > 0 && m.epoch == m.leftEpoch {
				w.cover("group848-static-rejoin")
			}
			m.leftEpoch = 0
		}
		if m.epoch <= 0 {
			w.fail("group848: group %s: %s's heartbeat answered member epoch %d without an error", m.group, m.c.name, m.epoch)
			return
		}
		wait := Time(min(int64(hr.HeartbeatIntervalMillis), g.HeartbeatMs)) * Millisecond
		if hr.Assignment == nil {
			m.sendOwned = m.sendOwned && !carried
			m.after(wait, m.heartbeat)
			return
		}
		m.adopt(next, wait)
	})
}

// adopt takes an assignment: new partitions are held at once (their
// committed offsets fetched), revoked ones are released (sometimes after
// a last commit of theirs) and the release acknowledged by a heartbeat
// carrying what the member still owns.
func (m *member848) adopt(next []tidp848, wait Time) {
	var revoked []tidp848
	for _, p := range m.owned {
		if !slices.Contains(next, p) {
			revoked = append(revoked, p)
		}
	}
	gained := false
	for _, p := range next {
		gained = gained || !slices.Contains(m.owned, p)
	}
	m.sendOwned = true
	if len(revoked) == 0 {
		m.owned = next
		if gained {
			m.lookup()
		}
		m.after(min(wait, 50*Millisecond), m.heartbeat)
		return
	}
	m.w.cover("group848-revoked")
	ack := func() {
		m.owned = next
		m.hb.release(revoked)
		m.heartbeat()
	}
	if !m.workBusy && m.c.rng.Chance(0.5) {
		// A consumer commits what it consumed of the revoked partitions
		// before it lets them go, at its current epoch.
		m.commit(revoked, ack)
		return
	}
	ack()
}

// fenced reacts to FENCED_MEMBER_EPOCH or UNKNOWN_MEMBER_ID: the member
// lost everything and rejoins at epoch 0 (with the same member id, as a
// Kafka client does).
func (m *member848) fenced(code int16) {
	m.w.cover("group848-fenced")
	m.w.logf("%s: group %s: fenced (error %d) at epoch %d; rejoining", m.c.name, m.group, code, m.epoch)
	m.hb.release(m.owned)
	m.owned, m.epoch = nil, 0
	m.sendOwned = true
	m.reset()
	m.after(m.backoff(), m.heartbeat)
	m.after(m.c.rng.Exp(m.w.set.Work.Think), m.step)
}

// lookup learns the ids of the subscribed topics (Metadata v10+), so that
// assigned partitions can be committed by name.
func (m *member848) lookup() {
	w := m.w
	req := kmsg.NewPtrMetadataRequest()
	req.Version = int16(m.c.rng.Range(10, 12))
	for _, name := range m.topics {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, t)
	}
	m.c.do(m.c.route.anyNode(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if err != nil {
			return // the next assignment or step asks again
		}
		for _, t := range resp.(*kmsg.MetadataResponse).Topics {
			if t.ErrorCode == 0 && t.Topic != nil && t.TopicID != [16]byte{} {
				m.names[t.TopicID] = *t.Topic
			}
		}
	})
}

// named returns the owned partitions whose topic name is known.
func (m *member848) named(ps []tidp848) []lin.TopicPartition {
	var out []lin.TopicPartition
	for _, p := range ps {
		if name, ok := m.names[p.id]; ok {
			out = append(out, lin.TopicPartition{Topic: name, Partition: p.p})
		}
	}
	return out
}

// step is the member's work loop beside the heartbeats: a commit, a fetch
// of the committed offsets, a leave or a stall, one at a time.
func (m *member848) step() {
	w := m.w
	r := m.c.rng
	g := w.set.Groups848
	later := func() { m.after(r.Exp(w.set.Work.Think), m.step) }
	if m.workBusy || m.epoch <= 0 {
		later()
		return
	}
	if len(m.named(m.owned)) < len(m.owned) && r.Chance(0.2) {
		m.lookup()
	}
	switch x := r.Float64(); {
	case x < g.LeaveProb:
		m.leave()
	case x < g.LeaveProb+g.StallProb:
		// Frozen past the session timeout: the coordinator fences the
		// member, which comes back as itself and learns it was fenced.
		stall := Time(g.SessionMs)*Millisecond*3/2 + r.Exp(Second)
		w.logf("%s: group %s: stalling for %s", m.c.name, m.group, fmtTime(stall))
		m.reset()
		m.after(stall, func() {
			m.heartbeat()
			later()
		})
	case x < 0.55 && len(m.owned) > 0:
		m.commit(m.owned, later)
	case x < 0.8:
		m.fetch(later)
	default:
		later()
	}
}

// leave sends a leave heartbeat (epoch -1, or -2 for a static member,
// whose assignment the coordinator keeps for its session) after
// releasing everything, and later joins again as a restarted process: a
// new member id from v1, the same instance id.
func (m *member848) leave() {
	w := m.w
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = m.version
	req.Group = m.group
	req.MemberID = m.memberID
	req.MemberEpoch = -1
	req.InstanceID = m.instance
	if m.instance != nil && m.c.rng.Chance(0.7) {
		req.MemberEpoch = -2
		m.leftEpoch = m.epoch
	}
	w.logf("%s: group %s: leaving (epoch %d)", m.c.name, m.group, req.MemberEpoch)
	m.hb.release(m.owned)
	m.owned, m.epoch, m.sendOwned = nil, 0, true
	m.reset()
	m.hbBusy, m.workBusy = true, true // nothing else until the rejoin
	back := func() {
		m.reset()
		m.lastEpoch = 0
		if m.version >= 1 {
			m.memberID = m.newID()
		} else {
			m.memberID = ""
		}
		m.after(m.c.rng.Exp(Second), func() {
			m.heartbeat()
			m.after(m.c.rng.Exp(w.set.Work.Think), m.step)
		})
	}
	m.call(m.coord, req, func(kmsg.Response, error) { back() })
}

// commit commits the next offsets of some of ps at the member's epoch,
// then runs then (unless the coordinator moved: the member finds it
// again).
func (m *member848) commit(ps []tidp848, then func()) {
	req, ops := m.commitRequest(m.epoch, ps, m.c.rng)
	if len(ops) == 0 {
		then()
		return
	}
	m.workBusy = true
	m.call(m.coord, req, func(resp kmsg.Response, err error) {
		m.workBusy = false
		if moved := m.committed(ops, resp, err); moved != 0 {
			m.rediscover(moved)
			return
		}
		then()
	})
}

// lateCommit commits some of ps with epoch, an epoch the member had
// before the one it was just given, beside its loops (drawn from its
// fence stream; the answer only records the outcome).
func (m *member848) lateCommit(epoch int32, ps []tidp848) {
	req, ops := m.commitRequest(epoch, ps, m.fence)
	if len(ops) == 0 {
		return
	}
	m.w.logf("%s: group %s: a late commit of %d partitions with epoch %d, after epoch %d", m.c.name, m.group, len(ops), epoch, m.epoch)
	m.call(m.coord, req, func(resp kmsg.Response, err error) { m.committed(ops, resp, err) })
}

// commitRequest builds an OffsetCommit v9 with epoch of the next offsets
// of some of ps (drawn from r) and records its ops.
func (m *member848) commitRequest(epoch int32, ps []tidp848, r *Rand) (*kmsg.OffsetCommitRequest, []*groupOp) {
	w := m.w
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group = m.group
	req.Generation = epoch
	req.MemberID = m.memberID
	var ops []*groupOp
	for _, tp := range m.named(ps) {
		if r.Chance(0.3) {
			continue
		}
		pos := m.pos[tp]
		next := min(pos+r.Range(1, 5), max(pos, w.reg.known[tp]))
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
		op := w.groups.begin(m.groupMember, tp, true, next)
		op.gen, op.k848ID = epoch, m.memberID
		ops = append(ops, op)
	}
	return req, ops
}

// committed records the answer to a commit of ops and returns the error
// that says the coordinator moved (0: none).
func (m *member848) committed(ops []*groupOp, resp kmsg.Response, err error) int16 {
	w := m.w
	if err != nil {
		for _, op := range ops {
			w.groups.end(op, err == errNotSent, false, 0)
		}
		return 0
	}
	moved := int16(0)
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
			w.cover("group848-commit-acked")
			w.groups.end(op, false, true, 0)
		case errCodeStaleMemberEpoch:
			w.cover("group848-stale-epoch")
			w.groups.end(op, true, false, 0)
		case errCodeFencedMemberEpoch, errCodeUnknownMemberID, errCodeCoordinatorLoading:
			// Refused by the shard before it wrote anything.
			w.groups.end(op, true, false, 0)
		default:
			// NOT_COORDINATOR and the like also answer a write the
			// runtime discarded, which may still commit.
			w.groups.end(op, false, false, 0)
		}
		if code == errCodeNotCoordinator || code == errCodeCoordinatorNotAvailable {
			moved = code
		}
	}
	return moved
}

// fetch reads the committed offsets of the whole subscription (v9 with
// the member's id and epoch, or v8 as an admin would) and takes the
// positions of owned partitions it had none of.
func (m *member848) fetch(then func()) {
	w := m.w
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = int16(m.c.rng.Range(8, 9))
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = m.group
	if req.Version >= 9 {
		g.MemberID = kmsg.StringPtr(m.memberID)
		g.MemberEpoch = m.epoch
	}
	var keys []*groupOp
	for _, name := range m.topics {
		st := w.reg.byName[name]
		if st == nil || st.status != topicLive {
			continue
		}
		t := kmsg.NewOffsetFetchRequestGroupTopic()
		t.Topic = name
		for p := int32(0); p < st.partitions; p++ {
			t.Partitions = append(t.Partitions, p)
			keys = append(keys, w.groups.begin(m.groupMember, lin.TopicPartition{Topic: name, Partition: p}, false, 0))
		}
		g.Topics = append(g.Topics, t)
	}
	req.Groups = append(req.Groups, g)
	m.workBusy = true
	m.call(m.coord, req, func(resp kmsg.Response, err error) {
		m.workBusy = false
		if err != nil {
			for _, op := range keys {
				w.groups.drop(op)
			}
			then()
			return
		}
		fr := resp.(*kmsg.OffsetFetchResponse)
		if len(fr.Groups) != 1 {
			w.fail("group848: OffsetFetch v%d answered %d groups for one", req.Version, len(fr.Groups))
			return
		}
		code := fr.Groups[0].ErrorCode
		got := map[lin.TopicPartition]int64{}
		for _, t := range fr.Groups[0].Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 {
					got[lin.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.Offset
				}
			}
		}
		if code == errCodeStaleMemberEpoch {
			w.cover("group848-stale-epoch")
		}
		stale := w.answerMayBeStale(lin.TopicPartition{Topic: offsetsTopic, Partition: w.groups.partition(m.group)})
		owned := m.named(m.owned)
		for _, op := range keys {
			v, ok := got[op.key.tp]
			if code == 0 && ok && !stale {
				w.groups.end(op, false, true, v)
			} else {
				w.groups.drop(op)
			}
			if _, had := m.pos[op.key.tp]; code == 0 && ok && !had && slices.Contains(owned, op.key.tp) {
				m.pos[op.key.tp] = max(v, 0)
			}
		}
		if code == errCodeNotCoordinator || code == errCodeCoordinatorNotAvailable {
			m.rediscover(code)
			return
		}
		then()
	})
}

// world848 holds the KIP-848 members and the owner checker's record.
type world848 struct {
	w       *world
	members []*member848
	owned   []own848 // closed holdings
	// clockSeen is each node's clock offset at the last poll (clockPolled);
	// jumps lists, in order, the polls before which some clock jumped.
	clockSeen   []Time
	clockPolled Time
	jumps       []Time
	// epochs is the ground truth of fenced commits (groupfence848.go).
	epochs *epochs848
}

// newWorld848 creates the KIP-848 members (after every other client, the
// classic members included, so those keep their ids).
func newWorld848(w *world) *world848 {
	g := &world848{w: w, epochs: newEpochs848(w)}
	g.members = w.newMembers848(g)
	return g
}

// hold848 is the owner checker's view of one member: the partitions it
// holds and since when, and what it knows of the coordinator's timers.
//
// A member holds a partition from the heartbeat answer that gave it until
// it lets it go: the moment it sends the heartbeat acknowledging the
// revocation (it stopped consuming before; the coordinator hands the
// partition on only after that heartbeat arrived, so the next owner's
// answer comes later, even while the acknowledgement's own answer is in
// flight), the leave heartbeat, or the answer that told it it was fenced.
// Except that the coordinator may have fenced it earlier without its
// knowing: a holding counts only up to the moment the member certainly
// still was a member. A successful heartbeat sent at s proves membership
// up to s (a removed member is refused, and it never rejoins but at epoch
// 0, which it sends only after releasing everything); beyond s it stays
// one until its session ends, no earlier than s plus the session timeout,
// unless
//   - a revocation it has not acknowledged ends it at the rebalance
//     timeout after the heartbeat that started it. An answer without an
//     assignment to a heartbeat that carried the owned partitions proves
//     none pending when it was processed (the coordinator would have sent
//     the reduced assignment), so any revocation still pending started
//     later: no earlier than the send time of the last such "clean"
//     heartbeat, even one started by a heartbeat lost on the way and
//     processed late;
//   - a coordinator's clock jumped (a forward jump expires sessions at
//     once): a change of any node's clock seen at a poll counts as of the
//     previous poll.
//
// Margins cover the brokers' clock drift (±500 ppm) and millisecond
// rounding.
type hold848 struct {
	g            *world848
	member       string
	group        string
	open         map[tidp848]Time
	lastOK       Time // send time of the last successful heartbeat; -1: none
	lastClean    Time // send time of the last clean heartbeat (or the first one sent)
	session, reb Time
}

// own848 is one interval in which member certainly held tp of group.
type own848 struct {
	group    string
	tp       tidp848
	member   string
	from, to Time
}

// holder848 makes m's checker view.
func (g *world848) holder(m *member848) *hold848 {
	s := g.w.set.Groups848
	margin := func(ms int64) Time {
		d := Time(ms) * Millisecond
		return d - d/500 - 3*Millisecond
	}
	return &hold848{g: g, member: m.c.name, group: m.group, open: map[tidp848]Time{},
		lastOK: -1, lastClean: -1, session: margin(s.SessionMs), reb: margin(s.RebalanceMs)}
}

// pollClocks notes a jump of any node's clock since the previous poll, as
// of that poll.
func (g *world848) pollClocks() {
	w := g.w
	if g.clockSeen == nil {
		g.clockSeen = make([]Time, len(w.nodes))
		for i, n := range w.nodes {
			g.clockSeen[i] = n.clock.offset
		}
		g.clockPolled = w.s.now
		return
	}
	for i, n := range w.nodes {
		if n.clock.offset != g.clockSeen[i] {
			g.jumps = append(g.jumps, g.clockPolled)
		}
		g.clockSeen[i] = n.clock.offset
	}
	g.clockPolled = w.s.now
}

// until is the last moment the member was certainly still a member.
func (h *hold848) until() Time {
	if h.lastOK < 0 {
		return -1
	}
	end := min(h.lastOK+h.session, h.lastClean+h.reb)
	for _, j := range h.g.jumps {
		if j >= h.lastOK {
			end = min(end, j)
			break
		}
	}
	return max(end, h.lastOK)
}

// sent notes a heartbeat sent now.
func (h *hold848) sent(at Time) {
	h.g.pollClocks()
	if h.lastClean < 0 {
		h.lastClean = at
	}
}

// failed notes a heartbeat that got no successful answer (the coordinator
// may still process it, even after later ones: the bounds above allow for
// that).
func (h *hold848) failed() { h.g.pollClocks() }

// answered notes a successful answer to the heartbeat sent at sentAt:
// carried says whether it carried the owned partitions (before),
// assigned whether the answer carried an assignment (next). An answer
// that may come from a deposed coordinator (proof false) is not counted.
func (h *hold848) answered(sentAt Time, proof, carried, assigned bool, before, next []tidp848) {
	h.g.pollClocks()
	if !proof {
		return
	}
	h.lastOK = sentAt
	if carried && !assigned {
		h.lastClean = sentAt
	}
	if !assigned {
		next = before
	}
	now := h.g.w.s.now
	for _, p := range next {
		if _, ok := h.open[p]; !ok {
			h.open[p] = now
		}
	}
}

// release notes that the member let ps go now.
func (h *hold848) release(ps []tidp848) {
	h.g.pollClocks()
	for _, p := range ps {
		h.close(p, h.g.w.s.now)
	}
}

func (h *hold848) close(p tidp848, at Time) {
	from, ok := h.open[p]
	if !ok {
		return
	}
	delete(h.open, p)
	if to := min(at, h.until()); to > from {
		h.g.owned = append(h.g.owned, own848{group: h.group, tp: p, member: h.member, from: from, to: to})
	}
}

// check848 closes every holding at the end of the run and judges them.
func (g *world848) check() {
	w := g.w
	for _, m := range g.members {
		ps := make([]tidp848, 0, len(m.hb.open))
		for p := range m.hb.open {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].less(ps[j]) })
		for _, p := range ps {
			m.hb.close(p, w.s.now)
		}
	}
	var judged []own848
	for _, o := range g.owned {
		if at, q := w.groups.quarantined(o.group); q {
			if o.from >= at {
				continue // the group's state is damaged (a media flip)
			}
			o.to = min(o.to, at)
		}
		judged = append(judged, o)
		w.cover("group848-held") // a holding the owner check judged
	}
	if msg := judgeOwners848(judged); msg != "" {
		w.fail("group-owner: %s", msg)
	}
}
