package group

import (
	"bytes"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func joinError(version int16, code int16, memberID string) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	r.ErrorCode = code
	r.MemberID = memberID
	return r
}

// joinSuccess answers m with the group's current generation; the leader
// gets every member's metadata for the selected protocol.
func joinSuccess(version int16, g *group, m *member, skipAssignment bool) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	r.Generation = g.generation
	if version >= 7 {
		pt := g.protocolType
		r.ProtocolType = &pt
	}
	p := g.protocol
	r.Protocol = &p
	r.LeaderID = g.leader
	r.MemberID = m.id
	if version >= 9 {
		r.SkipAssignment = skipAssignment
	}
	if m.id == g.leader {
		for _, o := range g.sortedMembers() {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID = o.id
			if version >= 5 {
				rm.InstanceID = o.instanceID
			}
			rm.ProtocolMetadata = o.metadataFor(g.protocol)
			r.Members = append(r.Members, rm)
		}
	}
	return r
}

func syncError(version int16, code int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.Version = version
	r.ErrorCode = code
	return r
}

func syncSuccess(version int16, g *group, m *member) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.Version = version
	if version >= 5 {
		pt, p := g.protocolType, g.protocol
		r.ProtocolType, r.Protocol = &pt, &p
	}
	r.MemberAssignment = m.assignment
	if r.MemberAssignment == nil {
		r.MemberAssignment = []byte{}
	}
	return r
}

func requestProtocols(req *kmsg.JoinGroupRequest) []protocol {
	ps := make([]protocol, len(req.Protocols))
	for i, p := range req.Protocols {
		ps[i] = protocol{name: p.Name, metadata: p.Metadata}
	}
	return ps
}

func sameProtocols(a, b []protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].name != b[i].name || !bytes.Equal(a[i].metadata, b[i].metadata) {
			return false
		}
	}
	return true
}

// compatible reports whether a member of protocolType offering ps may join
// g: an empty group takes anything; otherwise the type must match and one
// of ps must be supported by every member (Kafka's check).
func (g *group) compatible(protocolType string, ps []protocol) bool {
	if len(g.members) == 0 {
		return true
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, p := range ps {
		all := true
		for _, m := range g.members {
			if !m.supports(p.name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol every member supports that most members
// prefer (each votes for its first supported candidate), ties broken by
// name so that the choice is deterministic.
func (g *group) selectProtocol() string {
	ms := g.sortedMembers()
	if len(ms) == 0 {
		return ""
	}
	candidates := map[string]bool{}
	for _, p := range ms[0].protocols {
		all := true
		for _, m := range ms[1:] {
			if !m.supports(p.name) {
				all = false
				break
			}
		}
		if all {
			candidates[p.name] = true
		}
	}
	votes := map[string]int{}
	for _, m := range ms {
		for _, p := range m.protocols {
			if candidates[p.name] {
				votes[p.name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	names := make([]string, 0, len(votes))
	for n := range votes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if votes[n] > bestVotes {
			best, bestVotes = n, votes[n]
		}
	}
	return best
}

func (g *group) maxRebalanceMs() int64 {
	var max int64
	for _, m := range g.members {
		if int64(m.rebalanceMs) > max {
			max = int64(m.rebalanceMs)
		}
	}
	return max
}

// JoinGroup handles a JoinGroup request of any version from clientID at
// clientHost. The answer may be parked until the join phase completes (in
// a later call's Out).
func (s *Shard) JoinGroup(nowMs int64, ref ReplyRef, clientID, clientHost string, req *kmsg.JoinGroupRequest) Out {
	defer s.refresh(req.Group)
	var b outBuf
	fail := func(code int16) Out {
		b.reply(ref, joinError(req.Version, code, req.MemberID))
		return s.finish(&b)
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	if req.SessionTimeoutMillis < s.cfg.MinSessionTimeoutMs || req.SessionTimeoutMillis > s.cfg.MaxSessionTimeoutMs {
		return fail(kerr.InvalidSessionTimeout.Code)
	}
	if req.ProtocolType == "" || len(req.Protocols) == 0 {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	size := 0
	for _, p := range req.Protocols {
		if p.Name == "" {
			// An unnamed protocol could never be told from "none selected"
			// (nor written: a group record with members needs a name).
			return fail(kerr.InconsistentGroupProtocol.Code)
		}
		size += len(p.Name) + len(p.Metadata)
	}
	if size > s.cfg.MaxMemberMetadataBytes {
		return fail(kerr.InvalidRequest.Code)
	}
	if s.cgroups[req.Group] != nil {
		// A KIP-848 group of that id: Kafka refuses a classic join
		// (Chronik does not convert groups between the protocols).
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	g := s.groups[req.Group]
	if g == nil {
		if req.MemberID != "" {
			return fail(kerr.UnknownMemberID.Code)
		}
		if len(s.groups)+len(s.cgroups) >= s.cfg.MaxGroups {
			return fail(kerr.CoordinatorNotAvailable.Code)
		}
		g = newGroup(req.Group)
		g.stateSinceMs = nowMs
		s.groups[req.Group] = g
	}
	ps := requestProtocols(req)
	if !g.compatible(req.ProtocolType, ps) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	rebalanceMs := req.RebalanceTimeoutMillis
	if req.Version == 0 || rebalanceMs <= 0 {
		rebalanceMs = req.SessionTimeoutMillis
	}
	if !s.acceptJoining(g, req.MemberID, req.InstanceID) {
		return fail(kerr.GroupMaxSizeReached.Code)
	}
	j := joinArgs{ref: ref, version: req.Version, clientID: clientID, clientHost: clientHost,
		sessionMs: req.SessionTimeoutMillis, rebalanceMs: rebalanceMs, protocolType: req.ProtocolType,
		protocols: ps, instanceID: req.InstanceID}
	if req.MemberID == "" {
		s.joinUnknown(nowMs, g, &j, &b)
	} else {
		s.joinKnown(nowMs, g, req.MemberID, &j, &b)
	}
	return s.finish(&b)
}

type joinArgs struct {
	ref                  ReplyRef
	version              int16
	clientID, clientHost string
	sessionMs            int32
	rebalanceMs          int32
	protocolType         string
	protocols            []protocol
	instanceID           *string
}

// acceptJoining applies group.max.size as Kafka does: an Empty group takes
// anyone; during a join phase a member already rejoined is kept and others
// are taken while fewer than the maximum have rejoined (so a lowered limit
// trims the last rejoiners); otherwise members are kept and newcomers are
// taken while the group is below the maximum. A known static member's
// restart is a replacement, never a newcomer.
func (s *Shard) acceptJoining(g *group, memberID string, instanceID *string) bool {
	if instanceID != nil {
		if _, ok := g.statics[*instanceID]; ok {
			return true
		}
	}
	switch g.state {
	case stateEmpty:
		return true
	case statePreparing:
		if m := g.members[memberID]; m != nil && m.join != nil {
			return true
		}
		rejoined := 0
		for _, m := range g.members {
			if m.join != nil {
				rejoined++
			}
		}
		return rejoined < s.cfg.MaxGroupSize
	default:
		return g.members[memberID] != nil || len(g.members) < s.cfg.MaxGroupSize
	}
}

func (s *Shard) joinUnknown(nowMs int64, g *group, j *joinArgs, b *outBuf) {
	if j.instanceID != nil {
		if oldID, ok := g.statics[*j.instanceID]; ok {
			s.replaceStatic(nowMs, g, g.members[oldID], j, b)
			return
		}
	}
	prefix := j.clientID
	if j.instanceID != nil {
		prefix = *j.instanceID
	}
	id := s.newMemberID(g, prefix)
	if j.instanceID == nil && j.version >= 4 {
		// KIP-394: hand out the id and wait for the member to come back
		// with it, so that a client that never rejoins leaves no member.
		if s.nPending >= s.cfg.MaxPendingJoins {
			b.reply(j.ref, joinError(j.version, kerr.CoordinatorNotAvailable.Code, ""))
			return
		}
		g.pending[id] = nowMs + int64(j.sessionMs)
		s.nPending++
		b.reply(j.ref, joinError(j.version, kerr.MemberIDRequired.Code, id))
		return
	}
	s.addMember(nowMs, g, id, j, b)
}

func (s *Shard) addMember(nowMs int64, g *group, id string, j *joinArgs, b *outBuf) {
	m := &member{id: id, instanceID: j.instanceID, clientID: j.clientID, clientHost: j.clientHost,
		joinSeq: g.nextJoinSeq, lastSeenMs: nowMs}
	g.nextJoinSeq++
	g.members[id] = m
	if j.instanceID != nil {
		g.statics[*j.instanceID] = id
	}
	if len(g.members) == 1 {
		g.protocolType = j.protocolType
	}
	s.updateAndRebalance(nowMs, g, m, j, b)
	if g.state == statePreparing && g.initialDelay {
		// A new member during the initial delay extends it, capped by the
		// rebalance timeout (Kafka's InitialDelayedJoin).
		dl := nowMs + int64(s.cfg.InitialRebalanceDelayMs)
		if limit := g.rebalanceStartMs + g.maxRebalanceMs(); dl > limit {
			dl = limit
		}
		if dl > g.joinDeadlineMs {
			g.joinDeadlineMs = dl
		}
	}
}

// updateAndRebalance records m's join (protocols, timeouts, the parked
// answer) and starts or advances a rebalance.
func (s *Shard) updateAndRebalance(nowMs int64, g *group, m *member, j *joinArgs, b *outBuf) {
	m.protocols = j.protocols
	m.sessionMs, m.rebalanceMs = j.sessionMs, j.rebalanceMs
	m.lastSeenMs = nowMs
	if m.join != nil {
		b.reply(m.join.ref, joinError(m.join.version, kerr.RebalanceInProgress.Code, m.id))
	}
	m.join = &parked{ref: j.ref, version: j.version}
	if g.state == statePreparing {
		s.maybeCompleteJoin(nowMs, g, b)
	} else {
		s.prepareRebalance(nowMs, g, b)
	}
}

// replaceStatic gives a rejoining static member (KIP-345) a new member id,
// fencing the old one. In a Stable group whose protocol would not change
// it persists the new id and answers at once, without a rebalance.
func (s *Shard) replaceStatic(nowMs int64, g *group, old *member, j *joinArgs, b *outBuf) {
	oldID := old.id
	if old.join != nil {
		b.reply(old.join.ref, joinError(old.join.version, kerr.FencedInstanceID.Code, oldID))
		old.join = nil
	}
	if old.sync != nil {
		b.reply(old.sync.ref, syncError(old.sync.version, kerr.FencedInstanceID.Code))
		old.sync = nil
	}
	id := s.newMemberID(g, *j.instanceID)
	delete(g.members, oldID)
	old.id = id
	old.clientID, old.clientHost = j.clientID, j.clientHost
	g.members[id] = old
	g.statics[*j.instanceID] = id
	if g.leader == oldID {
		g.leader = id
	}
	m := old
	m.lastSeenMs = nowMs
	if g.state == stateStable {
		prevProtocols, prevSession, prevRebalance := m.protocols, m.sessionMs, m.rebalanceMs
		m.protocols, m.sessionMs, m.rebalanceMs = j.protocols, j.sessionMs, j.rebalanceMs
		if g.selectProtocol() == g.protocol && s.groupFits(g) && !s.writesFull() {
			b.writeGroup(g)
			b.reply(j.ref, joinSuccess(j.version, g, m, m.id == g.leader))
			return
		}
		m.protocols, m.sessionMs, m.rebalanceMs = prevProtocols, prevSession, prevRebalance
	}
	s.updateAndRebalance(nowMs, g, m, j, b)
}

func (s *Shard) joinKnown(nowMs int64, g *group, id string, j *joinArgs, b *outBuf) {
	if _, ok := g.pending[id]; ok {
		delete(g.pending, id)
		s.nPending--
		s.addMember(nowMs, g, id, j, b)
		return
	}
	if j.instanceID != nil {
		if mid, ok := g.statics[*j.instanceID]; ok && mid != id {
			b.reply(j.ref, joinError(j.version, kerr.FencedInstanceID.Code, id))
			return
		}
	}
	m := g.members[id]
	if m == nil {
		b.reply(j.ref, joinError(j.version, kerr.UnknownMemberID.Code, id))
		return
	}
	m.lastSeenMs = nowMs
	switch g.state {
	case stateCompleting:
		if sameProtocols(m.protocols, j.protocols) {
			// The member missed its JoinGroup answer: repeat it.
			b.reply(j.ref, joinSuccess(j.version, g, m, false))
			return
		}
	case stateStable:
		if m.id != g.leader && sameProtocols(m.protocols, j.protocols) {
			b.reply(j.ref, joinSuccess(j.version, g, m, false))
			b.wait = g.lastWrite
			return
		}
	}
	s.updateAndRebalance(nowMs, g, m, j, b)
}

// prepareRebalance starts a join phase: parked SyncGroups are refused with
// REBALANCE_IN_PROGRESS, and every member must rejoin before the deadline.
func (s *Shard) prepareRebalance(nowMs int64, g *group, b *outBuf) {
	wasEmpty := g.state == stateEmpty
	for _, m := range g.sortedMembers() {
		if m.sync != nil {
			b.reply(m.sync.ref, syncError(m.sync.version, kerr.RebalanceInProgress.Code))
			m.sync = nil
		}
		m.pendingSync = false
	}
	g.syncDeadlineMs = 0
	g.state = statePreparing
	g.stateSinceMs = nowMs
	g.rebalanceStartMs = nowMs
	g.initialDelay = false
	g.joinDeadlineMs = nowMs + g.maxRebalanceMs()
	if wasEmpty && s.cfg.InitialRebalanceDelayMs > 0 {
		g.initialDelay = true
		if dl := nowMs + int64(s.cfg.InitialRebalanceDelayMs); dl < g.joinDeadlineMs {
			g.joinDeadlineMs = dl
		}
	}
	s.maybeCompleteJoin(nowMs, g, b)
}

// maybeCompleteJoin ends the join phase once every member has rejoined and
// no MEMBER_ID_REQUIRED id is outstanding (never early during the initial
// delay).
func (s *Shard) maybeCompleteJoin(nowMs int64, g *group, b *outBuf) {
	if g.state != statePreparing || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	s.completeJoin(nowMs, g, b)
}

// completeJoin ends the join phase: dynamic members that did not rejoin
// are removed (static ones stay, as in Kafka, and must sync in time), the
// generation advances, and every parked JoinGroup is answered. A group left
// without members becomes Empty, which is written.
func (s *Shard) completeJoin(nowMs int64, g *group, b *outBuf) {
	for _, m := range g.sortedMembers() {
		if m.join == nil && m.instanceID == nil {
			s.deleteMember(g, m, b)
		}
	}
	g.initialDelay = false
	if l := g.members[g.leader]; len(g.members) > 0 && (l == nil || l.join == nil) {
		// Kafka elects the leader among the members that rejoined; when
		// none did (only static members remain), the join phase goes on
		// until their sessions end.
		leader := ""
		for _, m := range g.sortedMembers() {
			if m.join != nil {
				leader = m.id
				break
			}
		}
		if leader == "" {
			g.joinDeadlineMs = nowMs + max(g.maxRebalanceMs(), 1)
			return
		}
		g.leader = leader
	}
	g.generation++
	g.stateSinceMs = nowMs
	if len(g.members) == 0 {
		g.state = stateEmpty
		g.protocol, g.leader = "", ""
		g.syncDeadlineMs = 0
		b.writeGroup(g)
		return
	}
	g.protocol = g.selectProtocol()
	ms := g.sortedMembers()
	g.state = stateCompleting
	g.syncDeadlineMs = nowMs + max(g.maxRebalanceMs(), 1)
	for _, m := range ms {
		m.pendingSync = true
		m.assignment = nil
		if m.join != nil {
			b.reply(m.join.ref, joinSuccess(m.join.version, g, m, false))
			m.join = nil
			m.lastSeenMs = nowMs
		}
	}
}

// deleteMember drops m, answering its parked requests with
// UNKNOWN_MEMBER_ID; the caller moves the group on.
func (s *Shard) deleteMember(g *group, m *member, b *outBuf) {
	if m.join != nil {
		b.reply(m.join.ref, joinError(m.join.version, kerr.UnknownMemberID.Code, m.id))
	}
	if m.sync != nil {
		b.reply(m.sync.ref, syncError(m.sync.version, kerr.UnknownMemberID.Code))
	}
	delete(g.members, m.id)
	if m.instanceID != nil && g.statics[*m.instanceID] == m.id {
		delete(g.statics, *m.instanceID)
	}
}

// removeMember drops m and rebalances the rest.
func (s *Shard) removeMember(nowMs int64, g *group, m *member, b *outBuf) {
	s.deleteMember(g, m, b)
	switch g.state {
	case stateStable, stateCompleting:
		s.prepareRebalance(nowMs, g, b)
	case statePreparing:
		s.maybeCompleteJoin(nowMs, g, b)
	}
}

// groupFits reports whether g's GroupMetadata record stays within
// MaxGroupRecordBytes.
func (s *Shard) groupFits(g *group) bool {
	return len(groupKey(g.id))+len(groupValue(g)) <= s.cfg.MaxGroupRecordBytes
}

// SyncGroup handles a SyncGroup request. The leader's assignment is written
// and every member's answer waits for that write.
func (s *Shard) SyncGroup(nowMs int64, ref ReplyRef, req *kmsg.SyncGroupRequest) Out {
	defer s.refresh(req.Group)
	var b outBuf
	fail := func(code int16) Out {
		b.reply(ref, syncError(req.Version, code))
		return s.finish(&b)
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	g := s.groups[req.Group]
	if g == nil || g.state == stateEmpty {
		return fail(kerr.UnknownMemberID.Code)
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		return fail(code)
	}
	m := g.members[req.MemberID]
	if req.Generation != g.generation {
		return fail(kerr.IllegalGeneration.Code)
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	m.lastSeenMs = nowMs
	switch g.state {
	case statePreparing:
		return fail(kerr.RebalanceInProgress.Code)
	case stateStable:
		s.syncDone(g, m)
		b.reply(ref, syncSuccess(req.Version, g, m))
		b.wait = g.lastWrite
		return s.finish(&b)
	}
	// CompletingRebalance.
	if m.id == g.leader {
		for _, a := range req.GroupAssignment {
			if len(a.MemberAssignment) > s.cfg.MaxMemberMetadataBytes {
				return fail(kerr.InvalidRequest.Code)
			}
		}
		if s.writesFull() {
			return fail(kerr.CoordinatorNotAvailable.Code)
		}
	}
	if m.sync != nil {
		b.reply(m.sync.ref, syncError(m.sync.version, kerr.RebalanceInProgress.Code))
	}
	m.sync = &parked{ref: ref, version: req.Version}
	s.syncDone(g, m)
	if m.id != g.leader {
		return s.finish(&b)
	}
	assigned := make(map[string][]byte, len(req.GroupAssignment))
	for _, a := range req.GroupAssignment {
		assigned[a.MemberID] = a.MemberAssignment
	}
	for id, o := range g.members {
		o.assignment = assigned[id]
		if o.assignment == nil {
			o.assignment = []byte{}
		}
	}
	if !s.groupFits(g) {
		// Kafka maps a too-large group record to UNKNOWN_SERVER_ERROR for
		// the waiting members and rebalances.
		for _, o := range g.sortedMembers() {
			o.assignment = nil
			if o.sync != nil {
				b.reply(o.sync.ref, syncError(o.sync.version, kerr.UnknownServerError.Code))
				o.sync = nil
			}
		}
		s.prepareRebalance(nowMs, g, &b)
		return s.finish(&b)
	}
	g.state = stateStable
	g.stateSinceMs = nowMs
	b.writeGroup(g)
	for _, o := range g.sortedMembers() {
		if o.sync != nil {
			b.reply(o.sync.ref, syncSuccess(o.sync.version, g, o))
			o.sync = nil
		}
	}
	return s.finish(&b)
}

// syncDone notes that m has sent its SyncGroup for this generation.
func (s *Shard) syncDone(g *group, m *member) {
	m.pendingSync = false
	for _, o := range g.members {
		if o.pendingSync {
			return
		}
	}
	g.syncDeadlineMs = 0
}

// validateMember checks a request's member (Kafka's validateMember): a
// given instance id must be known and map to memberID (else
// UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID), and memberID must be a member.
func (g *group) validateMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		mid, ok := g.statics[*instanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		if mid != memberID {
			return kerr.FencedInstanceID.Code
		}
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// Heartbeat handles a Heartbeat request; it writes nothing.
func (s *Shard) Heartbeat(nowMs int64, ref ReplyRef, req *kmsg.HeartbeatRequest) Out {
	defer s.refresh(req.Group)
	r := kmsg.NewPtrHeartbeatResponse()
	r.Version = req.Version
	r.ErrorCode = s.heartbeat(nowMs, req)
	return Out{Replies: []Reply{{ref, r}}}
}

func (s *Shard) heartbeat(nowMs int64, req *kmsg.HeartbeatRequest) int16 {
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	g := s.groups[req.Group]
	if g == nil || g.state == stateEmpty {
		return kerr.UnknownMemberID.Code
	}
	if req.InstanceID != nil {
		if mid, ok := g.statics[*req.InstanceID]; ok && mid != req.MemberID {
			return kerr.FencedInstanceID.Code
		}
	}
	m := g.members[req.MemberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m.lastSeenMs = nowMs
	if g.state == statePreparing {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// LeaveGroup handles a LeaveGroup request: one member before v3, a batch
// (by member id or group.instance.id) from v3.
func (s *Shard) LeaveGroup(nowMs int64, ref ReplyRef, req *kmsg.LeaveGroupRequest) Out {
	defer s.refresh(req.Group)
	var b outBuf
	r := kmsg.NewPtrLeaveGroupResponse()
	r.Version = req.Version
	b.reply(ref, r)
	if req.Group == "" {
		r.ErrorCode = kerr.InvalidGroupID.Code
		return s.finish(&b)
	}
	g := s.groups[req.Group]
	if req.Version < 3 {
		r.ErrorCode = s.leaveOne(nowMs, g, req.MemberID, nil, &b)
		return s.finish(&b)
	}
	for _, lm := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = lm.MemberID, lm.InstanceID
		rm.ErrorCode = s.leaveOne(nowMs, g, lm.MemberID, lm.InstanceID, &b)
		r.Members = append(r.Members, rm)
	}
	return s.finish(&b)
}

func (s *Shard) leaveOne(nowMs int64, g *group, id string, instanceID *string, b *outBuf) int16 {
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	if instanceID != nil {
		mid, ok := g.statics[*instanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		if id != "" && mid != id {
			return kerr.FencedInstanceID.Code
		}
		id = mid
	}
	if _, ok := g.pending[id]; ok {
		delete(g.pending, id)
		s.nPending--
		s.maybeCompleteJoin(nowMs, g, b)
		return 0
	}
	m := g.members[id]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	s.removeMember(nowMs, g, m, b)
	return 0
}
