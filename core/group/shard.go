// Package group is the classic consumer-group coordinator (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup, offsets) as a pure state machine over
// one partition of __consumer_offsets. Every durable change is a record in
// Kafka's format; the shard's durable state is the replay of its partition.
// The coordinator runtime (core/coord) appends the records an Out carries
// and sends its replies once the batch is committed.
package group

import (
	"container/heap"
	"fmt"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupTypeClassic is the type of groups served by JoinGroup/SyncGroup
// (KIP-848 groups are GroupTypeConsumer).
const GroupTypeClassic = "classic"

// ReplyRef identifies a request the runtime holds; the shard hands it back
// with the answer.
type ReplyRef uint64

// Reply is the answer to the request held under Ref.
type Reply struct {
	Ref  ReplyRef
	Resp kmsg.Response
}

// Record is one __consumer_offsets record. A nil Value is a tombstone.
type Record struct{ Key, Value []byte }

// WriteID names one batch of records handed to the runtime.
type WriteID uint64

// Out is everything one call produced. The runtime appends Records (if any)
// as one batch, named Write, and sends Replies only once that batch is
// committed (CommitWrite). With no Records and Write zero the replies go at
// once; with no Records and Write non-zero the replies reveal state written
// by that earlier, still uncommitted batch and must wait for it too (a
// follower's SyncGroup answered while the leader's assignment is being
// written). If an append fails the runtime discards the whole Shard and
// builds a new one by Replay, so the shard has no abort path.
//
// Txn makes Records one transactional batch of producer ProducerID at
// ProducerEpoch (TxnOffsetCommit): once committed, its offsets are staged
// for that producer, and a later end-transaction marker (ReplayEndTxn)
// applies or drops them.
type Out struct {
	Records       []Record
	Replies       []Reply
	Write         WriteID
	Txn           bool
	ProducerID    int64
	ProducerEpoch int16
}

type groupState int8

const (
	stateEmpty groupState = iota
	statePreparing
	stateCompleting
	stateStable
)

func (st groupState) String() string {
	switch st {
	case stateEmpty:
		return "Empty"
	case statePreparing:
		return "PreparingRebalance"
	case stateCompleting:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	}
	return "Dead"
}

type protocol struct {
	name     string
	metadata []byte
}

// parked is a request held for a later answer.
type parked struct {
	ref     ReplyRef
	version int16
}

type member struct {
	id                   string
	instanceID           *string
	clientID, clientHost string
	sessionMs            int32
	rebalanceMs          int32
	protocols            []protocol
	assignment           []byte
	lastSeenMs           int64
	join, sync           *parked
	pendingSync          bool
	joinSeq              uint64
}

func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

func (m *member) supports(name string) bool {
	for _, p := range m.protocols {
		if p.name == name {
			return true
		}
	}
	return false
}

type tp struct {
	topic     string
	partition int32
}

type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitMs    int64
	expireMs    int64 // from a v1 value only; 0: none
	// seq is the place of the offset's record among the offset records
	// of the log (Kafka keeps the record's offset): a transaction's
	// commit applies its staged offset only over an older one.
	seq uint64
}

type group struct {
	id           string
	state        groupState
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	statics      map[string]string // instance id -> member id
	pending      map[string]int64  // MEMBER_ID_REQUIRED ids -> expiry
	nextJoinSeq  uint64
	// joinDeadlineMs ends the join phase (PreparingRebalance);
	// initialDelay marks the delayed first rebalance of an empty group,
	// which cannot end early, capped at rebalanceStartMs+rebalance timeout.
	joinDeadlineMs   int64
	initialDelay     bool
	rebalanceStartMs int64
	// syncDeadlineMs ends the wait for members' SyncGroup after a join
	// phase (0: none).
	syncDeadlineMs int64
	stateSinceMs   int64
	written        bool    // a GroupMetadata record exists for it
	lastWrite      WriteID // its newest GroupMetadata write
	// timerAt is nextDeadline() as of the last refresh (math.MaxInt64:
	// none) and heapIdx the group's place in Shard.timers (-1: absent).
	timerAt int64
	heapIdx int
}

func newGroup(id string) *group {
	return &group{id: id, members: map[string]*member{}, statics: map[string]string{},
		pending: map[string]int64{}, heapIdx: -1}
}

// sortedMembers returns members in join order (Kafka keeps insertion order).
func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].joinSeq != ms[j].joinSeq {
			return ms[i].joinSeq < ms[j].joinSeq
		}
		return ms[i].id < ms[j].id
	})
	return ms
}

type offsetOp struct {
	group string
	tp    tp
	val   *offset // nil: delete
	// txn marks a TxnOffsetCommit's offset of producer pid: committing
	// its write stages it instead of applying it.
	txn bool
	pid int64
}

type pendingWrite struct {
	id  WriteID
	ops []offsetOp
}

// Shard is the group coordinator state of one __consumer_offsets
// partition. It is not safe for concurrent use; the node's loop owns it.
type Shard struct {
	cfg       Config
	groups    map[string]*group
	nextWrite WriteID
	committed WriteID
	writes    []pendingWrite
	// pendingOps counts the uncommitted offset writes per group and
	// partition (bounded by MaxPendingWrites' batches).
	pendingOps map[string]map[tp]int
	// offsets holds the committed offsets by group id. It is apart from
	// the groups because it changes only at CommitWrite: a group deleted
	// or expired by an uncommitted write keeps serving its offsets until
	// that write commits.
	offsets   map[string]map[tp]offset
	nPending  int // MEMBER_ID_REQUIRED ids across groups
	idPrefix  string
	idSalt    uint64 // SetMemberIDSalt
	idSeq     uint64
	nextCheck int64 // next offset-expiry check; -1 before LoadDone
	// timers orders the groups by their next deadline, so that Tick and
	// NextWakeMs need not scan every group. It is filled at LoadDone and
	// kept current by refresh after every call that can move a deadline.
	timers timerHeap
	loaded bool
	// cgroups holds the KIP-848 consumer groups; they share the id space
	// (and the MaxGroups limit) with the classic groups.
	cgroups map[string]*cgroup
	topics  TopicImage
	// staged holds the transactional offsets whose write is committed,
	// by producer id, until the producer's end-transaction marker; they
	// are invisible to OffsetFetch. openTxns indexes them by group and
	// partition; nStaged counts them and txnInFlight counts the
	// transactional offsets of uncommitted writes (MaxTxnOffsets bounds
	// the sum).
	staged      map[int64]map[string]map[tp]offset
	openTxns    map[string]map[tp]map[int64]bool
	nStaged     int
	txnInFlight int
	// offSeq numbers the offset records applied, in log order.
	offSeq uint64
}

// NewShard returns an empty shard; cfg must pass Validate. Feed it the
// partition's committed records with Replay, then call LoadDone.
func NewShard(cfg Config) *Shard {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("group.NewShard: %v", err))
	}
	return &Shard{cfg: cfg, groups: map[string]*group{}, pendingOps: map[string]map[tp]int{},
		offsets: map[string]map[tp]offset{}, nextCheck: -1, cgroups: map[string]*cgroup{},
		staged: map[int64]map[string]map[tp]offset{}, openTxns: map[string]map[tp]map[int64]bool{}}
}

// SetMemberIDSalt makes the member ids of this shard incarnation differ
// from those of any other, even one loaded in the same millisecond from the
// same log: an incarnation whose append failed may have handed out ids that
// no record remembers. Call it before LoadDone with a value from the node's
// injected randomness (or a load counter); core has no randomness of its own.
func (s *Shard) SetMemberIDSalt(salt uint64) { s.idSalt = salt }

// LoadDone ends loading: loaded members get a fresh session from nowMs
// (Kafka does the same), and member ids handed out from now on carry
// nowMs so that they differ from ids of earlier incarnations of the shard.
func (s *Shard) LoadDone(nowMs int64) {
	s.idPrefix = strconv.FormatInt(nowMs, 36)
	if s.idSalt != 0 {
		s.idPrefix += "." + strconv.FormatUint(s.idSalt, 36)
	}
	for _, g := range s.groups {
		for _, m := range g.members {
			m.lastSeenMs = nowMs
		}
	}
	for _, g := range s.cgroups {
		repairConsumer(g)
		for _, m := range g.members {
			m.lastSeenMs = nowMs
			if len(m.revoking) > 0 {
				// The revocation deadline is not in the log: Kafka
				// restarts the rebalance timeout at load. Left at zero it
				// removed a revoking member at the first tick, handing its
				// partitions on while it still thought it held them.
				m.revokeDeadlineMs = nowMs + int64(m.rebalanceMs)
			}
		}
		// Offsets replayed before the consumer group's first record made
		// a classic shell for the id; the consumer group owns them. (A
		// written classic group of the same id is met only in a damaged
		// log: a conversion writes its tombstone. The newer type wins.)
		if s.groups[g.id] != nil {
			s.dropGroup(g.id)
		}
	}
	s.nextCheck = nowMs + s.cfg.OffsetsRetentionCheckIntervalMs
	s.loaded = true
	for _, g := range s.sortedGroups() {
		s.refresh(g.id)
	}
}

// CommitWrite reports that the batch of Out.Write w (and so every earlier
// one) is committed: its offset changes become visible to OffsetFetch.
func (s *Shard) CommitWrite(w WriteID) {
	// An id never issued is clamped: committing ahead would swallow the
	// commits of writes not yet made.
	w = min(w, s.nextWrite)
	if w <= s.committed {
		return
	}
	s.committed = w
	n := 0
	for _, pw := range s.writes {
		if pw.id > w {
			break
		}
		n++
		for _, op := range pw.ops {
			if keys := s.pendingOps[op.group]; keys != nil {
				if keys[op.tp]--; keys[op.tp] <= 0 {
					delete(keys, op.tp)
				}
				if len(keys) == 0 {
					delete(s.pendingOps, op.group)
				}
			}
			if op.txn {
				s.txnInFlight--
			}
			s.applyOffset(op.group, op.tp, op.val, op.txn, op.pid)
		}
	}
	s.writes = s.writes[n:]
}

// applyOffset applies one committed offset record, live or replayed: a
// transactional one is staged for its producer, a plain one set, a
// tombstone deletes the committed offset and every staged one of that
// partition (as Kafka's replay does).
func (s *Shard) applyOffset(group string, k tp, val *offset, txn bool, pid int64) {
	s.offSeq++
	if val != nil {
		o := *val
		o.seq = s.offSeq
		if txn {
			s.stage(pid, group, k, o)
			return
		}
		s.setOffset(group, k, &o)
		return
	}
	s.setOffset(group, k, nil)
	s.unstage(group, k)
}

// setOffset sets (val nil: deletes) a committed offset.
func (s *Shard) setOffset(group string, k tp, val *offset) {
	offs := s.offsets[group]
	if val == nil {
		delete(offs, k)
		if len(offs) == 0 {
			delete(s.offsets, group)
		}
		return
	}
	if offs == nil {
		offs = map[tp]offset{}
		s.offsets[group] = offs
	}
	offs[k] = *val
}

// outBuf collects one call's effects.
type outBuf struct {
	recs    []Record
	replies []Reply
	ops     []offsetOp
	metas   []*group
	cmetas  []*cgroup
	wait    WriteID
	// txn, pid, epoch: the records are a transactional batch of that
	// producer (TxnOffsetCommit).
	txn   bool
	pid   int64
	epoch int16
}

func (b *outBuf) reply(ref ReplyRef, r kmsg.Response) { b.replies = append(b.replies, Reply{ref, r}) }

// writeGroup adds g's GroupMetadata record.
func (b *outBuf) writeGroup(g *group) {
	b.recs = append(b.recs, Record{Key: groupKey(g.id), Value: groupValue(g)})
	b.metas = append(b.metas, g)
	g.written = true
}

func (s *Shard) finish(b *outBuf) Out {
	if len(b.recs) == 0 {
		w := b.wait
		if w <= s.committed {
			w = 0
		}
		return Out{Replies: b.replies, Write: w}
	}
	s.nextWrite++
	s.writes = append(s.writes, pendingWrite{id: s.nextWrite, ops: b.ops})
	for _, op := range b.ops {
		if op.txn {
			s.txnInFlight++
		}
		keys := s.pendingOps[op.group]
		if keys == nil {
			keys = map[tp]int{}
			s.pendingOps[op.group] = keys
		}
		keys[op.tp]++
	}
	for _, g := range b.metas {
		g.lastWrite = s.nextWrite
	}
	for _, g := range b.cmetas {
		g.lastWrite = s.nextWrite
	}
	return Out{Records: b.recs, Replies: b.replies, Write: s.nextWrite,
		Txn: b.txn, ProducerID: b.pid, ProducerEpoch: b.epoch}
}

// writesFull reports whether another write would pass MaxPendingWrites.
func (s *Shard) writesFull() bool { return len(s.writes) >= s.cfg.MaxPendingWrites }

// newMemberID derives a member id from the client's id (or the instance id
// of a static member), as Kafka does, with a counter instead of a UUID
// because core is deterministic.
func (s *Shard) newMemberID(g *group, prefix string) string {
	for {
		s.idSeq++
		id := prefix + "-" + s.idPrefix + "-" + strconv.FormatUint(s.idSeq, 36)
		if g.members[id] == nil {
			if _, ok := g.pending[id]; !ok {
				return id
			}
		}
	}
}

func (s *Shard) dropGroup(id string) {
	g := s.groups[id]
	if g == nil {
		return
	}
	s.nPending -= len(g.pending)
	if g.heapIdx >= 0 {
		heap.Remove(&s.timers, g.heapIdx)
	}
	delete(s.groups, id)
}

func (s *Shard) sortedGroups() []*group {
	gs := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].id < gs[j].id })
	return gs
}

// CheckInvariants reports the first broken internal rule.
func (s *Shard) CheckInvariants() error {
	pendingTotal := 0
	for id, g := range s.groups {
		if g.id != id {
			return fmt.Errorf("group: map key %q holds group %q", id, g.id)
		}
		pendingTotal += len(g.pending)
		if len(g.members) == 0 && g.state != stateEmpty && g.state != statePreparing {
			return fmt.Errorf("group %q: state %s with no members", id, g.state)
		}
		if g.state == stateEmpty && len(g.members) > 0 {
			return fmt.Errorf("group %q: Empty with %d members", id, len(g.members))
		}
		if (g.state == stateStable || g.state == stateCompleting) && (g.members[g.leader] == nil || g.protocol == "") {
			return fmt.Errorf("group %q: %s with leader %q protocol %q", id, g.state, g.leader, g.protocol)
		}
		for _, m := range g.members {
			if g.state == stateStable || g.state == stateCompleting {
				if !m.supports(g.protocol) {
					return fmt.Errorf("group %q: member %q lacks protocol %q", id, m.id, g.protocol)
				}
			}
			if m.join != nil && g.state != statePreparing {
				return fmt.Errorf("group %q: member %q has a parked join in %s", id, m.id, g.state)
			}
			if m.sync != nil && g.state != stateCompleting {
				return fmt.Errorf("group %q: member %q has a parked sync in %s", id, m.id, g.state)
			}
			if m.instanceID != nil && g.statics[*m.instanceID] != m.id {
				return fmt.Errorf("group %q: static member %q not indexed by %q", id, m.id, *m.instanceID)
			}
		}
		pendingSync := false
		for _, m := range g.members {
			pendingSync = pendingSync || m.pendingSync
		}
		if pendingSync && g.syncDeadlineMs == 0 {
			return fmt.Errorf("group %q: members owe a SyncGroup but no deadline runs", id)
		}
		if pendingSync && g.state != stateCompleting && g.state != stateStable {
			return fmt.Errorf("group %q: members owe a SyncGroup in %s", id, g.state)
		}
		for inst, mid := range g.statics {
			if m := g.members[mid]; m == nil || m.instanceID == nil || *m.instanceID != inst {
				return fmt.Errorf("group %q: instance %q maps to %q, not its member", id, inst, mid)
			}
		}
	}
	if s.loaded {
		if len(s.timers) != len(s.groups) {
			return fmt.Errorf("group: %d groups, %d in the timer heap", len(s.groups), len(s.timers))
		}
		for i, g := range s.timers {
			want := g.nextDeadline()
			if g.heapIdx != i || s.groups[g.id] != g || g.timerAt != want {
				return fmt.Errorf("group %q: timer heap entry %d (index %d, at %d) stale: deadline %d", g.id, i, g.heapIdx, g.timerAt, want)
			}
		}
	}
	if err := s.checkConsumerInvariants(); err != nil {
		return err
	}
	if pendingTotal != s.nPending {
		return fmt.Errorf("group: pending member count %d, groups hold %d", s.nPending, pendingTotal)
	}
	counted := map[string]map[tp]int{}
	for _, pw := range s.writes {
		for _, op := range pw.ops {
			if counted[op.group] == nil {
				counted[op.group] = map[tp]int{}
			}
			counted[op.group][op.tp]++
		}
	}
	if len(counted) != len(s.pendingOps) {
		return fmt.Errorf("group: pending offsets of %d groups counted, %d recorded", len(counted), len(s.pendingOps))
	}
	for id, keys := range counted {
		if len(keys) != len(s.pendingOps[id]) {
			return fmt.Errorf("group %q: %d partitions with pending offsets, %d recorded", id, len(keys), len(s.pendingOps[id]))
		}
		for k, n := range keys {
			if s.pendingOps[id][k] != n {
				return fmt.Errorf("group %q: %s[%d] has %d pending offset writes, %d recorded", id, k.topic, k.partition, n, s.pendingOps[id][k])
			}
		}
	}
	if err := s.checkTxnInvariants(); err != nil {
		return err
	}
	prev := s.committed
	for _, pw := range s.writes {
		if pw.id <= prev {
			return fmt.Errorf("group: pending write %d not after %d", pw.id, prev)
		}
		prev = pw.id
	}
	if prev > s.nextWrite {
		return fmt.Errorf("group: pending write %d beyond the last issued %d", prev, s.nextWrite)
	}
	return nil
}

// Handle dispatches req to the method for its API; clientID and clientHost
// matter only to JoinGroup. It reports false (and does nothing) for an API
// this shard does not serve.
func (s *Shard) Handle(nowMs int64, ref ReplyRef, clientID, clientHost string, req kmsg.Request) (Out, bool) {
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		return s.JoinGroup(nowMs, ref, clientID, clientHost, r), true
	case *kmsg.SyncGroupRequest:
		return s.SyncGroup(nowMs, ref, r), true
	case *kmsg.HeartbeatRequest:
		return s.Heartbeat(nowMs, ref, r), true
	case *kmsg.LeaveGroupRequest:
		return s.LeaveGroup(nowMs, ref, r), true
	case *kmsg.OffsetCommitRequest:
		return s.OffsetCommit(nowMs, ref, r), true
	case *kmsg.OffsetFetchRequest:
		return s.OffsetFetch(nowMs, ref, r), true
	case *kmsg.TxnOffsetCommitRequest:
		return s.TxnOffsetCommit(nowMs, ref, r), true
	case *kmsg.DescribeGroupsRequest:
		return s.DescribeGroups(nowMs, ref, r), true
	case *kmsg.ListGroupsRequest:
		return s.ListGroups(nowMs, ref, r), true
	case *kmsg.DeleteGroupsRequest:
		return s.DeleteGroups(nowMs, ref, r), true
	case *kmsg.OffsetDeleteRequest:
		return s.OffsetDelete(nowMs, ref, r), true
	case *kmsg.ConsumerGroupHeartbeatRequest:
		return s.ConsumerGroupHeartbeat(nowMs, ref, clientID, clientHost, r), true
	case *kmsg.ConsumerGroupDescribeRequest:
		return s.ConsumerGroupDescribe(nowMs, ref, r), true
	}
	return Out{}, false
}
