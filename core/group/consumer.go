package group

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
)

// GroupTypeConsumer is the type of KIP-848 groups (ConsumerGroupHeartbeat).
const GroupTypeConsumer = "consumer"

// Server-side assignors of KIP-848 groups.
const (
	AssignorUniform = "uniform"
	AssignorRange   = "range"
)

// Member states of KIP-848 (ConsumerGroupCurrentMemberAssignmentValue's
// State field).
const (
	cmStable     int8 = 0 // owns its whole target
	cmUnrevoked  int8 = 1 // must release partitions before moving on
	cmUnreleased int8 = 2 // waits for partitions other members still hold
)

// leaveStaticEpoch is the member epoch of a static member's leave
// (KIP-848): it keeps its assignment for its session, for its restart.
const leaveStaticEpoch int32 = -2

// TopicMeta is what a KIP-848 group needs to know of a topic.
type TopicMeta struct {
	ID         [16]byte
	Partitions int32
}

// TopicImage is the broker's view of topics, used to resolve KIP-848
// subscriptions (by name) and to name assigned topics (by id).
type TopicImage interface {
	TopicByName(name string) (TopicMeta, bool)
	TopicName(id [16]byte) (string, bool)
	// TopicNames lists the topics a regex subscription may match (not
	// the internal ones), sorted.
	TopicNames() []string
}

// SetTopics gives the shard the broker's topic image. Without one every
// subscribed topic counts as missing, so KIP-848 members get no partitions.
func (s *Shard) SetTopics(img TopicImage) { s.topics = img }

// tidp is one partition of a topic named by id.
type tidp struct {
	id [16]byte
	p  int32
}

func tidpLess(a, b tidp) bool {
	for i := range a.id {
		if a.id[i] != b.id[i] {
			return a.id[i] < b.id[i]
		}
	}
	return a.p < b.p
}

// normalize sorts ps and drops repeats.
func normalize(ps []tidp) []tidp {
	sort.Slice(ps, func(i, j int) bool { return tidpLess(ps[i], ps[j]) })
	out := ps[:0]
	for i, p := range ps {
		if i == 0 || p != ps[i-1] {
			out = append(out, p)
		}
	}
	return out
}

func toSet(ps []tidp) map[tidp]bool {
	m := make(map[tidp]bool, len(ps))
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// minus returns the partitions of a not in b (a sorted stays sorted).
func minus(a, b []tidp) []tidp {
	bs := toSet(b)
	var out []tidp
	for _, p := range a {
		if !bs[p] {
			out = append(out, p)
		}
	}
	return out
}

// intersect returns the partitions of a also in b.
func intersect(a, b []tidp) []tidp {
	bs := toSet(b)
	var out []tidp
	for _, p := range a {
		if bs[p] {
			out = append(out, p)
		}
	}
	return out
}

func equalTidps(a, b []tidp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type cmember struct {
	id                   string
	instanceID, rackID   *string
	clientID, clientHost string
	topics               []string // sorted subscribed topic names
	regex                string   // SubscribedTopicRegex ("" for none)
	regexTopics          []string // the topics regex matched at the last refresh, sorted
	rebalanceMs          int32
	assignor             *string
	epoch, prevEpoch     int32
	state                int8
	assigned             []tidp // owned, as the coordinator sees it
	revoking             []tidp // still owned until the member says otherwise
	lastSeenMs           int64
	revokeDeadlineMs     int64 // while revoking: removed past this
	leftStatic           bool  // sent epoch -2; kept for its instance id until its session ends
}

// holds is every partition the member may still be consuming.
func (m *cmember) holds() []tidp { return append(append([]tidp(nil), m.assigned...), m.revoking...) }

// cgroup is a KIP-848 consumer group.
type cgroup struct {
	id          string
	epoch       int32 // group epoch: bumped by every membership or subscription change
	assignEpoch int32 // the epoch the target assignment was computed at
	members     map[string]*cmember
	statics     map[string]string // instance id -> member id
	target      map[string][]tidp // member id -> target partitions (sorted)
	// topicMeta is the resolved metadata of the subscribed topics when the
	// target was computed; a change (a topic created, deleted or grown)
	// bumps the epoch. Not durable: after a reload the first heartbeat
	// bumps the epoch once, which recomputes the same target.
	topicMeta map[string]TopicMeta
	lastWrite WriteID
	written   bool
	// regexAtMs is when the members' regexes were last matched;
	// regexStale asks for a match on the next heartbeat (a regex changed,
	// or the group was loaded).
	regexAtMs  int64
	regexStale bool
}

func newCGroup(id string) *cgroup {
	return &cgroup{id: id, members: map[string]*cmember{}, statics: map[string]string{},
		target: map[string][]tidp{}, topicMeta: map[string]TopicMeta{}}
}

func (g *cgroup) sortedMembers() []*cmember {
	ms := make([]*cmember, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].id < ms[j].id })
	return ms
}

func (g *cgroup) stateName() string {
	switch {
	case len(g.members) == 0:
		return "Empty"
	case g.assignEpoch < g.epoch:
		return "Assigning"
	}
	for _, m := range g.members {
		if m.epoch != g.assignEpoch || m.state != cmStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

// assignorName is the assignor the group uses: the one most members name
// (ties to the smaller name), or the configured default.
func (s *Shard) assignorName(g *cgroup) string {
	votes := map[string]int{}
	for _, m := range g.members {
		if m.assignor != nil {
			votes[*m.assignor]++
		}
	}
	best, n := s.cfg.ConsumerAssignors[0], 0
	for _, a := range s.cfg.ConsumerAssignors {
		if votes[a] > n {
			best, n = a, votes[a]
		}
	}
	return best
}

func (s *Shard) cgroupsSorted() []*cgroup {
	gs := make([]*cgroup, 0, len(s.cgroups))
	for _, g := range s.cgroups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].id < gs[j].id })
	return gs
}

// newConsumerMemberID hands out a v0 member id (from v1 clients choose
// their own UUID).
func (s *Shard) newConsumerMemberID(g *cgroup) string {
	for {
		s.idSeq++
		id := "m-" + s.idPrefix + "-" + strconv.FormatUint(s.idSeq, 36)
		if g.members[id] == nil {
			return id
		}
	}
}

// ConsumerGroupHeartbeat serves a KIP-848 member: join (epoch 0), leave
// (-1), static leave (-2) or heartbeat, answering its epoch and, when it
// changed, its assignment. clientID and clientHost are recorded on join.
func (s *Shard) ConsumerGroupHeartbeat(nowMs int64, ref ReplyRef, clientID, clientHost string, req *kmsg.ConsumerGroupHeartbeatRequest) Out {
	var b outBuf
	r := kmsg.NewPtrConsumerGroupHeartbeatResponse()
	r.Version = req.Version
	r.MemberEpoch = req.MemberEpoch
	b.reply(ref, r)
	fail := func(err *kerr.Error, msg string) Out {
		r.ErrorCode = err.Code
		r.ErrorMessage = &msg
		return s.finish(&b)
	}
	switch {
	case req.Group == "":
		return fail(kerr.InvalidRequest, "GroupId can't be empty.")
	case req.MemberEpoch < -2:
		return fail(kerr.InvalidRequest, "MemberEpoch is invalid.")
	case req.MemberID == "" && (req.Version >= 1 || req.MemberEpoch != 0):
		return fail(kerr.InvalidRequest, "MemberId can't be empty.")
	case req.MemberEpoch == leaveStaticEpoch && req.InstanceID == nil:
		return fail(kerr.InvalidRequest, "InstanceId can't be null when leaving with epoch -2.")
	case len(req.SubscribedTopicNames) > s.cfg.MaxSubscribedTopics:
		return fail(kerr.InvalidRequest, "too many subscribed topics")
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		if _, err := compileTopicRegex(*req.SubscribedTopicRegex, s.cfg.MaxTopicRegexBytes); err != nil {
			return fail(kerr.InvalidRegularExpression, "SubscribedTopicRegex `"+*req.SubscribedTopicRegex+"` is not a valid regular expression: "+err.Error()+".")
		}
	}
	if req.MemberEpoch == 0 {
		switch {
		case req.RebalanceTimeoutMillis <= 0:
			return fail(kerr.InvalidRequest, "RebalanceTimeoutMs must be provided in first request.")
		case req.SubscribedTopicNames == nil && (req.SubscribedTopicRegex == nil || *req.SubscribedTopicRegex == ""):
			return fail(kerr.InvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
		}
	}
	if req.ServerAssignor != nil && !s.knownAssignor(*req.ServerAssignor) {
		return fail(kerr.UnsupportedAssignor, "ServerAssignor "+*req.ServerAssignor+" is not supported.")
	}
	classic := s.groups[req.Group]
	if classic != nil && (len(classic.members) > 0 || len(classic.pending) > 0) {
		return fail(kerr.GroupIDNotFound, "Group "+req.Group+" is not a consumer group.")
	}
	if s.writesFull() {
		return fail(kerr.CoordinatorNotAvailable, "too many pending writes")
	}
	if classic != nil {
		if req.MemberEpoch != 0 {
			return fail(kerr.GroupIDNotFound, "Group "+req.Group+" not found.")
		}
		// An empty classic group (or a simple consumer's offsets) becomes
		// a consumer group on the first KIP-848 join, as in Kafka; its
		// offsets stay, keyed by the group id.
		if classic.written {
			b.recs = append(b.recs, Record{Key: groupKey(classic.id)})
		}
		s.dropGroup(classic.id)
	}
	g := s.cgroups[req.Group]
	if req.MemberEpoch < 0 {
		var m *cmember
		if g != nil {
			m = g.members[req.MemberID]
		}
		if m == nil || m.leftStatic {
			return fail(kerr.UnknownMemberID, "member "+req.MemberID+" is not in the group")
		}
		id := m.id
		r.MemberID = &id
		if req.MemberEpoch == leaveStaticEpoch {
			// A static member keeps its assignment for its session, so
			// that its restart (same instance id) resumes it without a
			// rebalance.
			// Logged (epoch -2, as Kafka does) so that a new
			// coordinator knows the instance is released too.
			m.leftStatic, m.prevEpoch = true, m.epoch
			m.lastSeenMs = nowMs
			b.recs = append(b.recs, Record{Key: cgCurrentKey(g.id, m.id), Value: cgCurrentValue(m)})
			s.markWritten(g, &b)
		} else {
			s.removeCMember(g, m, &b)
			s.retarget(nowMs, g, &b)
		}
		return s.finish(&b)
	}
	if g == nil {
		if req.MemberEpoch != 0 {
			return fail(kerr.GroupIDNotFound, "Group "+req.Group+" not found.")
		}
		if len(s.groups)+len(s.cgroups) >= s.cfg.MaxGroups {
			return fail(kerr.CoordinatorNotAvailable, "too many groups")
		}
	}
	var m *cmember
	newMember, takeover, rejoined := false, false, false
	if g != nil {
		m = g.members[req.MemberID]
	}
	if req.MemberEpoch == 0 {
		if g == nil {
			g = newCGroup(req.Group)
			s.cgroups[g.id] = g
		}
		var old *cmember
		if req.InstanceID != nil {
			if oid, ok := g.statics[*req.InstanceID]; ok && oid != req.MemberID {
				old = g.members[oid]
				if !old.leftStatic {
					return fail(kerr.UnreleasedInstanceID, "instance "+*req.InstanceID+" is in use by another member")
				}
			}
		}
		if m == nil {
			if old == nil && len(g.members) >= s.cfg.ConsumerMaxSize {
				return fail(kerr.GroupMaxSizeReached, "the group is full")
			}
			id := req.MemberID
			if id == "" {
				id = s.newConsumerMemberID(g)
			}
			m = &cmember{id: id, clientID: clientID, clientHost: clientHost}
			newMember = true
			if old != nil {
				// The restarted static member takes over the old one's
				// epoch and assignment.
				m.epoch, m.prevEpoch, m.state = old.epoch, old.prevEpoch, old.state
				m.assigned, m.revoking, m.revokeDeadlineMs = old.assigned, old.revoking, old.revokeDeadlineMs
				m.topics, m.rebalanceMs, m.assignor, m.rackID = old.topics, old.rebalanceMs, old.assignor, old.rackID
				m.regex, m.regexTopics = old.regex, old.regexTopics
				takeover = true
				tgt := g.target[old.id]
				s.removeCMemberQuiet(g, old, &b)
				g.target[m.id] = tgt
				b.recs = append(b.recs, Record{Key: cgTargetKey(g.id, m.id), Value: cgTargetValue(tgt)})
			}
			g.members[m.id] = m
			if m.instanceID = req.InstanceID; m.instanceID != nil {
				g.statics[*m.instanceID] = m.id
			}
		} else if m.leftStatic {
			m.leftStatic, rejoined = false, true
		}
	} else {
		if m == nil || m.leftStatic {
			return fail(kerr.UnknownMemberID, "member "+req.MemberID+" is not in the group")
		}
		if req.MemberEpoch > m.epoch {
			return fail(kerr.FencedMemberEpoch, "member epoch "+strconv.Itoa(int(req.MemberEpoch))+" is ahead of the coordinator's "+strconv.Itoa(int(m.epoch)))
		}
		if req.MemberEpoch < m.epoch {
			// A member that missed the answer bumping its epoch may
			// retry with the previous epoch if it owns nothing new.
			owned, ok := s.ownedFromRequest(req)
			if req.MemberEpoch != m.prevEpoch || !ok || len(minus(owned, m.assigned)) > 0 {
				return fail(kerr.FencedMemberEpoch, "member epoch "+strconv.Itoa(int(req.MemberEpoch))+" is stale")
			}
		}
	}
	m.lastSeenMs = nowMs
	metaChanged := newMember
	if req.RebalanceTimeoutMillis > 0 && req.RebalanceTimeoutMillis != m.rebalanceMs {
		m.rebalanceMs, metaChanged = req.RebalanceTimeoutMillis, true
	}
	if !equalPtr(req.RackID, m.rackID) && req.RackID != nil {
		m.rackID, metaChanged = req.RackID, true
	}
	if req.ServerAssignor != nil && !equalPtr(req.ServerAssignor, m.assignor) {
		m.assignor, metaChanged = req.ServerAssignor, true
	}
	subsChanged := newMember && !takeover
	if req.SubscribedTopicNames != nil {
		topics := append([]string(nil), req.SubscribedTopicNames...)
		sort.Strings(topics)
		topics = dedupStrings(topics)
		if !equalStrings(topics, m.topics) {
			m.topics, metaChanged, subsChanged = topics, true, true
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regex {
		// An empty regex clears it, as in Kafka.
		m.regex, metaChanged, subsChanged = *req.SubscribedTopicRegex, true, true
		g.regexStale = true
	}
	if s.refreshRegexes(nowMs, g) {
		subsChanged = true
	}
	if metaChanged {
		b.recs = append(b.recs, Record{Key: cgMemberKey(g.id, m.id), Value: cgMemberValue(m)})
	}
	if subsChanged || s.topicsChanged(g) {
		s.bumpEpoch(g, &b)
	}
	s.retarget(nowMs, g, &b)
	before, beforeEpoch := m.assigned, m.epoch
	owned, hasOwned := s.ownedFromRequest(req)
	if s.reconcile(nowMs, g, m, owned, hasOwned) || newMember || rejoined {
		b.recs = append(b.recs, Record{Key: cgCurrentKey(g.id, m.id), Value: cgCurrentValue(m)})
	}
	id := m.id
	r.MemberID = &id
	r.MemberEpoch = m.epoch
	r.HeartbeatIntervalMillis = s.cfg.ConsumerHeartbeatIntervalMs
	if req.MemberEpoch == 0 || !equalTidps(before, m.assigned) || beforeEpoch != m.epoch ||
		(hasOwned && !equalTidps(owned, m.assigned)) {
		r.Assignment = s.assignmentOf(m.assigned)
	}
	if len(b.recs) > 0 {
		s.markWritten(g, &b)
	} else {
		b.wait = g.lastWrite
	}
	return s.finish(&b)
}

func (s *Shard) knownAssignor(name string) bool {
	for _, a := range s.cfg.ConsumerAssignors {
		if a == name {
			return true
		}
	}
	return false
}

// ownedFromRequest returns the partitions the request says the member
// owns (ok false when the request leaves them out: nothing changed).
func (s *Shard) ownedFromRequest(req *kmsg.ConsumerGroupHeartbeatRequest) ([]tidp, bool) {
	if req.Topics == nil {
		return nil, false
	}
	var ps []tidp
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			ps = append(ps, tidp{t.TopicID, p})
		}
	}
	return normalize(ps), true
}

func (s *Shard) assignmentOf(ps []tidp) *kmsg.ConsumerGroupHeartbeatResponseAssignment {
	a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
	a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
	for _, p := range ps {
		if n := len(a.Topics); n == 0 || a.Topics[n-1].TopicID != p.id {
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID = p.id
			a.Topics = append(a.Topics, t)
		}
		t := &a.Topics[len(a.Topics)-1]
		t.Partitions = append(t.Partitions, p.p)
	}
	return &a
}

func (s *Shard) markWritten(g *cgroup, b *outBuf) {
	g.written = true
	b.cmetas = append(b.cmetas, g)
}

func (s *Shard) bumpEpoch(g *cgroup, b *outBuf) {
	g.epoch++
	b.recs = append(b.recs, Record{Key: cgMetaKey(g.id), Value: cgMetaValue(g.epoch)})
}

// topicsChanged reports whether the subscribed topics resolve differently
// from when the target was computed (and remembers the new resolution).
func (s *Shard) topicsChanged(g *cgroup) bool {
	now := s.resolve(g)
	changed := len(now) != len(g.topicMeta)
	for name, tm := range now {
		if old, ok := g.topicMeta[name]; !ok || old != tm {
			changed = true
		}
	}
	g.topicMeta = now
	return changed
}

func (s *Shard) resolve(g *cgroup) map[string]TopicMeta {
	out := map[string]TopicMeta{}
	if s.topics == nil {
		return out
	}
	for _, m := range g.members {
		for _, t := range m.subscribed() {
			if _, done := out[t]; done {
				continue
			}
			if tm, ok := s.topics.TopicByName(t); ok && tm.Partitions > 0 {
				out[t] = tm
			}
		}
	}
	return out
}

// retarget computes a new target assignment when the group epoch moved
// past it, and writes the members' targets that changed.
func (s *Shard) retarget(nowMs int64, g *cgroup, b *outBuf) {
	if g.assignEpoch >= g.epoch {
		return
	}
	g.topicMeta = s.resolve(g)
	next := assign(s.assignorName(g), g.sortedMembers(), g.topicMeta, g.target)
	for _, m := range g.sortedMembers() {
		if !equalTidps(next[m.id], g.target[m.id]) || g.target[m.id] == nil {
			if next[m.id] == nil {
				next[m.id] = []tidp{}
			}
			b.recs = append(b.recs, Record{Key: cgTargetKey(g.id, m.id), Value: cgTargetValue(next[m.id])})
		}
	}
	g.target = next
	g.assignEpoch = g.epoch
	b.recs = append(b.recs, Record{Key: cgTargetMetaKey(g.id), Value: cgTargetMetaValue(g.assignEpoch)})
}

// reconcile moves m toward its target: first it revokes what the target
// no longer holds (keeping its epoch), and only once the member reports
// those released does it take the new epoch and the target partitions no
// other member still holds. It reports whether m's assignment state
// changed.
func (s *Shard) reconcile(nowMs int64, g *cgroup, m *cmember, owned []tidp, hasOwned bool) bool {
	changed := false
	if len(m.revoking) > 0 {
		if !hasOwned || len(intersect(owned, m.revoking)) > 0 {
			return false
		}
		m.revoking, m.revokeDeadlineMs = nil, 0
		changed = true
	}
	if m.epoch == g.assignEpoch && m.state == cmStable {
		return changed
	}
	target := g.target[m.id]
	if revoke := minus(m.assigned, target); len(revoke) > 0 {
		m.assigned = intersect(m.assigned, target)
		m.revoking = revoke
		m.state = cmUnrevoked
		m.revokeDeadlineMs = nowMs + int64(m.rebalanceMs)
		return true
	}
	held := map[tidp]bool{}
	for _, o := range g.members {
		if o != m {
			for _, p := range o.holds() {
				held[p] = true
			}
		}
	}
	var next []tidp
	for _, p := range target {
		if !held[p] || bugs.ConsumerSkipsRevocation { // deliberate bug (core/bugs): handed on before the previous owner released it

			next = append(next, p)
		}
	}
	state := cmStable
	if len(next) < len(target) {
		state = cmUnreleased
	}
	if m.epoch != g.assignEpoch {
		m.prevEpoch, m.epoch = m.epoch, g.assignEpoch
		changed = true
	}
	if !equalTidps(next, m.assigned) || state != m.state {
		m.assigned, m.state = next, state
		changed = true
	}
	return changed
}

// removeCMember removes m, writes its tombstones and bumps the epoch.
func (s *Shard) removeCMember(g *cgroup, m *cmember, b *outBuf) {
	s.removeCMemberQuiet(g, m, b)
	s.bumpEpoch(g, b)
	s.markWritten(g, b)
}

func (s *Shard) removeCMemberQuiet(g *cgroup, m *cmember, b *outBuf) {
	delete(g.members, m.id)
	delete(g.target, m.id)
	if m.instanceID != nil && g.statics[*m.instanceID] == m.id {
		delete(g.statics, *m.instanceID)
	}
	b.recs = append(b.recs,
		Record{Key: cgCurrentKey(g.id, m.id)},
		Record{Key: cgTargetKey(g.id, m.id)},
		Record{Key: cgMemberKey(g.id, m.id)})
}

// expireConsumerOffsets applies Kafka 4's rule for consumer groups: an
// offset of a topic no member subscribes to expires OffsetsRetentionMs
// after its commit (so every offset of an empty group does); offsets with
// a pending write are left alone. An empty group left with no offsets is
// deleted.
func (s *Shard) expireConsumerOffsets(nowMs int64, b *outBuf) {
	for _, g := range s.cgroupsSorted() {
		if s.writesFull() {
			return
		}
		subscribed := map[string]bool{}
		for _, m := range g.members {
			for _, t := range m.subscribed() {
				subscribed[t] = true
			}
		}
		pending := s.pendingKeys(g.id)
		offs := s.offsets[g.id]
		var expired []tp
		for k, o := range offs {
			deadline := o.commitMs + s.cfg.OffsetsRetentionMs
			if o.expireMs > 0 {
				deadline = o.expireMs
			}
			if pending[k] == 0 && !subscribed[k.topic] && nowMs >= deadline && !s.unstable(g.id, k) {
				expired = append(expired, k)
			}
		}
		sortTPs(expired)
		for _, k := range expired {
			b.recs = append(b.recs, Record{Key: offsetKey(g.id, k)})
			b.ops = append(b.ops, offsetOp{group: g.id, tp: k})
		}
		if len(g.members) == 0 && len(expired) == len(offs) && len(pending) == 0 && !s.hasStaged(g.id) {
			s.deleteCGroup(g, b)
		}
	}
}

// tickConsumer removes members whose session ended or that did not revoke
// within their rebalance timeout (Kafka fences both).
func (s *Shard) tickConsumer(nowMs int64, b *outBuf) {
	for _, g := range s.cgroupsSorted() {
		removed := false
		for _, m := range g.sortedMembers() {
			if nowMs >= m.deadline(s.cfg.ConsumerSessionTimeoutMs) {
				s.removeCMember(g, m, b)
				removed = true
			}
		}
		if removed {
			s.retarget(nowMs, g, b)
		}
	}
}

func (m *cmember) deadline(sessionMs int32) int64 {
	dl := m.lastSeenMs + int64(sessionMs)
	if len(m.revoking) > 0 && m.revokeDeadlineMs < dl {
		dl = m.revokeDeadlineMs
	}
	return dl
}

// nextConsumerDeadline is the earliest KIP-848 timer, or -1.
func (s *Shard) nextConsumerDeadline() int64 {
	next := int64(-1)
	for _, g := range s.cgroups {
		for _, m := range g.members {
			if dl := m.deadline(s.cfg.ConsumerSessionTimeoutMs); next < 0 || dl < next {
				next = max(dl, 0)
			}
		}
	}
	return next
}

// ConsumerGroupDescribe describes KIP-848 groups. A classic group gets
// GROUP_ID_NOT_FOUND, as in Kafka.
func (s *Shard) ConsumerGroupDescribe(nowMs int64, ref ReplyRef, req *kmsg.ConsumerGroupDescribeRequest) Out {
	var b outBuf
	r := kmsg.NewPtrConsumerGroupDescribeResponse()
	r.Version = req.Version
	b.reply(ref, r)
	for _, id := range req.Groups {
		rg := kmsg.NewConsumerGroupDescribeResponseGroup()
		rg.Group = id
		g := s.cgroups[id]
		if g == nil {
			rg.ErrorCode = kerr.GroupIDNotFound.Code
			msg := "Group " + id + " not found."
			if s.groups[id] != nil {
				msg = "Group " + id + " is not a consumer group."
			}
			rg.ErrorMessage = &msg
			r.Groups = append(r.Groups, rg)
			continue
		}
		b.wait = max(b.wait, g.lastWrite)
		rg.State = g.stateName()
		rg.Epoch, rg.AssignmentEpoch = g.epoch, g.assignEpoch
		rg.AssignorName = s.assignorName(g)
		for _, m := range g.sortedMembers() {
			rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.RackID = m.id, m.instanceID, m.rackID
			rm.MemberEpoch = m.epoch
			rm.ClientID, rm.ClientHost = m.clientID, m.clientHost
			rm.SubscribedTopics = append([]string{}, m.topics...)
			if m.regex != "" {
				re := m.regex
				rm.SubscribedTopicRegex = &re
			}
			rm.Assignment = s.describeAssignment(m.assigned)
			rm.TargetAssignment = s.describeAssignment(g.target[m.id])
			if req.Version >= 1 {
				rm.MemberType = 1 // consumer protocol member
			}
			rg.Members = append(rg.Members, rm)
		}
		r.Groups = append(r.Groups, rg)
	}
	return s.finish(&b)
}

func (s *Shard) describeAssignment(ps []tidp) kmsg.Assignment {
	a := kmsg.NewAssignment()
	a.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for _, p := range ps {
		if n := len(a.TopicPartitions); n == 0 || a.TopicPartitions[n-1].TopicID != p.id {
			t := kmsg.NewAssignmentTopicPartition()
			t.TopicID = p.id
			if s.topics != nil {
				t.Topic, _ = s.topics.TopicName(p.id)
			}
			a.TopicPartitions = append(a.TopicPartitions, t)
		}
		t := &a.TopicPartitions[len(a.TopicPartitions)-1]
		t.Partitions = append(t.Partitions, p.p)
	}
	return a
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func dedupStrings(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// repairConsumer makes a replayed group consistent before it serves:
// the log is the truth, but a damaged one (or records of a Kafka whose
// rules differ) could leave member epochs beyond the group's or one
// partition held by two members. Epochs are raised to cover every member,
// and a partition held twice stays with the first member in id order (the
// other one's heartbeat then reconciles it away).
func repairConsumer(g *cgroup) {
	for _, m := range g.members {
		g.assignEpoch = max(g.assignEpoch, m.epoch)
	}
	g.epoch = max(g.epoch, g.assignEpoch)
	owner := map[tidp]bool{}
	keep := func(ps []tidp) []tidp {
		var out []tidp
		for _, p := range ps {
			if !owner[p] {
				owner[p] = true
				out = append(out, p)
			}
		}
		return out
	}
	for _, m := range g.sortedMembers() {
		m.assigned = keep(m.assigned)
		m.revoking = keep(m.revoking)
		if len(m.revoking) == 0 && m.state == cmUnrevoked {
			m.state = cmUnreleased
		}
	}
}

// checkConsumerInvariants: no partition is held (assigned or being
// revoked) by two members of a group, and indexes agree.
func (s *Shard) checkConsumerInvariants() error {
	for id, g := range s.cgroups {
		if g.id != id {
			return fmt.Errorf("group: consumer map key %q holds group %q", id, g.id)
		}
		if s.loaded && s.groups[id] != nil {
			return fmt.Errorf("group %q: both a classic and a consumer group", id)
		}
		if !s.loaded {
			// Replay applies one record at a time; LoadDone repairs what
			// the records together leave inconsistent.
			continue
		}
		owner := map[tidp]string{}
		for _, m := range g.sortedMembers() {
			if m.epoch > g.assignEpoch || g.assignEpoch > g.epoch {
				return fmt.Errorf("group %q: member %q epoch %d, assignment epoch %d, group epoch %d", id, m.id, m.epoch, g.assignEpoch, g.epoch)
			}
			for _, p := range m.holds() {
				if o, dup := owner[p]; dup && !bugs.ConsumerSkipsRevocation { // deliberate bug (core/bugs): left to the simulator's checker

					return fmt.Errorf("group %q: partition %x[%d] held by %q and %q", id, p.id, p.p, o, m.id)
				}
				owner[p] = m.id
			}
			if m.instanceID != nil && g.statics[*m.instanceID] != m.id {
				return fmt.Errorf("group %q: static member %q not indexed", id, m.id)
			}
		}
		for inst, mid := range g.statics {
			if m := g.members[mid]; m == nil || m.instanceID == nil || *m.instanceID != inst {
				return fmt.Errorf("group %q: instance %q maps to %q, not its member", id, inst, mid)
			}
		}
	}
	return nil
}
