package group

import (
	"fmt"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// tb is what the harness needs from *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// harness drives one Shard like the coordinator runtime would: it keeps
// the appended log, commits each write at once (unless manual is set) and
// delivers replies only when their write is committed.
type harness struct {
	t       tb
	s       *Shard
	now     int64
	nextRef ReplyRef
	log     []Record
	replies map[ReplyRef]kmsg.Response
	held    []Out // writes not yet committed (manual mode)
	heldEnd []int // len(log) after each held Out
	// committedLen is how much of log is committed.
	committedLen int
	manual       bool
	// tlog is log with what a batch header and control batches add: the
	// producer of each transactional record and the markers (txnMarker).
	tlog []tlogEntry
}

// tlogEntry is one record of the log, or one end-transaction marker.
type tlogEntry struct {
	rec    Record
	txn    bool
	pid    int64
	marker bool
	commit bool
}

func testConfig() Config {
	c := DefaultConfig()
	c.MinSessionTimeoutMs = 10
	c.InitialRebalanceDelayMs = 0
	return c
}

func newHarness(t tb, cfg Config) *harness {
	h := &harness{t: t, s: NewShard(cfg), now: 1000, replies: map[ReplyRef]kmsg.Response{}}
	h.s.LoadDone(h.now)
	return h
}

func (h *harness) ref() ReplyRef { h.nextRef++; return h.nextRef }

// apply takes one call's Out: encodes every reply at its version, checks
// the invariants and routes records and replies.
func (h *harness) apply(out Out) Out {
	h.t.Helper()
	if err := h.s.CheckInvariants(); err != nil {
		h.t.Fatalf("invariants: %v", err)
	}
	for _, r := range out.Replies {
		checkEncodes(h.t, r.Resp)
		if _, dup := h.replies[r.Ref]; dup {
			h.t.Fatalf("ref %d answered twice", r.Ref)
		}
	}
	if len(out.Records) > 0 {
		if out.Write == 0 {
			h.t.Fatalf("records without a write id")
		}
		h.log = append(h.log, out.Records...)
		for _, r := range out.Records {
			h.tlog = append(h.tlog, tlogEntry{rec: r, txn: out.Txn, pid: out.ProducerID})
		}
		if h.manual {
			h.held = append(h.held, out)
			h.heldEnd = append(h.heldEnd, len(h.log))
			return out
		}
		h.s.CommitWrite(out.Write)
		h.committedLen = len(h.log)
	} else if out.Write != 0 && h.manual {
		h.held = append(h.held, out)
		h.heldEnd = append(h.heldEnd, len(h.log))
		return out
	}
	h.deliver(out)
	return out
}

func (h *harness) deliver(out Out) {
	for _, r := range out.Replies {
		h.replies[r.Ref] = r.Resp
	}
}

// commitAll commits every held write, in order, and delivers their replies.
func (h *harness) commitAll() {
	h.t.Helper()
	h.commitSome(len(h.held))
}

// commitSome commits the first n held writes, in order, and delivers their
// replies.
func (h *harness) commitSome(n int) {
	h.t.Helper()
	for i, out := range h.held[:n] {
		if len(out.Records) > 0 {
			h.s.CommitWrite(out.Write)
		}
		h.committedLen = h.heldEnd[i]
		h.deliver(out)
	}
	h.held, h.heldEnd = h.held[n:], h.heldEnd[n:]
	if err := h.s.CheckInvariants(); err != nil {
		h.t.Fatalf("invariants: %v", err)
	}
}

func (h *harness) tick(advance int64) Out {
	h.t.Helper()
	h.now += advance
	out := h.apply(h.s.Tick(h.now))
	if w := h.s.NextWakeMs(); w != -1 && w <= h.now {
		var due []string
		for _, g := range h.s.sortedGroups() {
			if g.nextDeadline() <= h.now {
				due = append(due, fmt.Sprintf("%s %s join %d sync %d pending %v members %d delay %v", g.id, g.state, g.joinDeadlineMs, g.syncDeadlineMs, g.pending, len(g.members), g.initialDelay))
			}
		}
		h.t.Fatalf("after Tick(%d) NextWakeMs is %d: the runtime would spin (%v)", h.now, w, due)
	}
	return out
}

func checkEncodes(t tb, resp kmsg.Response) {
	t.Helper()
	wire := resp.AppendTo(nil)
	back := kmsg.ResponseForKey(resp.Key())
	back.SetVersion(resp.GetVersion())
	if err := back.ReadFrom(wire); err != nil {
		t.Fatalf("%T v%d does not decode after encoding: %v", resp, resp.GetVersion(), err)
	}
}

type joinOpt struct {
	version  int16
	member   string
	instance string
	session  int32
	rebal    int32
	protos   []protocol
	ptype    string
}

func (h *harness) join(group, client string, o joinOpt) ReplyRef {
	h.t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = o.version
	if req.Version == 0 && o.version == 0 {
		req.Version = 9
	}
	if o.version < 0 {
		req.Version = 0
	}
	req.Group = group
	req.MemberID = o.member
	req.SessionTimeoutMillis = o.session
	if req.SessionTimeoutMillis == 0 {
		req.SessionTimeoutMillis = 1000
	}
	req.RebalanceTimeoutMillis = o.rebal
	if req.RebalanceTimeoutMillis == 0 {
		req.RebalanceTimeoutMillis = 2000
	}
	if o.instance != "" {
		inst := o.instance
		req.InstanceID = &inst
	}
	req.ProtocolType = o.ptype
	if req.ProtocolType == "" {
		req.ProtocolType = "consumer"
	}
	protos := o.protos
	if protos == nil {
		protos = []protocol{{name: "range", metadata: consumerMeta("t1")}}
	}
	for _, p := range protos {
		rp := kmsg.NewJoinGroupRequestProtocol()
		rp.Name, rp.Metadata = p.name, p.metadata
		req.Protocols = append(req.Protocols, rp)
	}
	ref := h.ref()
	h.apply(h.s.JoinGroup(h.now, ref, client, "/10.0.0.1", req))
	return ref
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

// answer returns the reply to ref as a T, failing if there is none.
func answer[T kmsg.Response](h *harness, ref ReplyRef) T {
	h.t.Helper()
	r, ok := h.replies[ref]
	if !ok {
		var zero T
		h.t.Fatalf("request %d (%T) not answered", ref, zero)
	}
	return r.(T)
}

// joinResp returns the JoinGroup answer for ref.
func (h *harness) joinResp(ref ReplyRef) *kmsg.JoinGroupResponse {
	h.t.Helper()
	return answer[*kmsg.JoinGroupResponse](h, ref)
}

func (h *harness) answered(ref ReplyRef) bool { _, ok := h.replies[ref]; return ok }

// joinTwoStep joins a new member with JoinGroup v9 (MEMBER_ID_REQUIRED then
// the real join) and returns its id and the ref of the second join.
func (h *harness) joinTwoStep(group, client string, o joinOpt) (string, ReplyRef) {
	h.t.Helper()
	r := h.joinResp(h.join(group, client, o))
	if r.ErrorCode != kerr.MemberIDRequired.Code || r.MemberID == "" {
		h.t.Fatalf("first join: error %d member %q, want MEMBER_ID_REQUIRED with an id", r.ErrorCode, r.MemberID)
	}
	o.member = r.MemberID
	return r.MemberID, h.join(group, client, o)
}

func (h *harness) sync(group, member string, gen int32, assign map[string][]byte) ReplyRef {
	h.t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group, req.MemberID, req.Generation = group, member, gen
	pt, p := "consumer", "range"
	req.ProtocolType, req.Protocol = &pt, &p
	ids := sortedKeys(assign)
	for _, id := range ids {
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = id, assign[id]
		req.GroupAssignment = append(req.GroupAssignment, a)
	}
	ref := h.ref()
	h.apply(h.s.SyncGroup(h.now, ref, req))
	return ref
}

func (h *harness) syncResp(ref ReplyRef) *kmsg.SyncGroupResponse {
	h.t.Helper()
	return answer[*kmsg.SyncGroupResponse](h, ref)
}

func (h *harness) heartbeat(group, member string, gen int32, instance string) int16 {
	h.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = group, member, gen
	if instance != "" {
		req.InstanceID = &instance
	}
	ref := h.ref()
	out := h.apply(h.s.Heartbeat(h.now, ref, req))
	if len(out.Records) != 0 {
		h.t.Fatalf("heartbeat wrote %d records", len(out.Records))
	}
	return h.replies[ref].(*kmsg.HeartbeatResponse).ErrorCode
}

func (h *harness) commit(group, member string, gen int32, topic string, part int32, off int64, epoch int32, md string) (ReplyRef, Out) {
	h.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group, req.MemberID, req.Generation = group, member, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = part, off, epoch, &md
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ref := h.ref()
	out := h.apply(h.s.OffsetCommit(h.now, ref, req))
	return ref, out
}

func (h *harness) commitErr(ref ReplyRef) int16 {
	h.t.Helper()
	return answer[*kmsg.OffsetCommitResponse](h, ref).Topics[0].Partitions[0].ErrorCode
}

// fetch returns the committed offset, leader epoch and metadata of one
// partition through OffsetFetch v9.
func (h *harness) fetch(group, topic string, part int32) (int64, int32, string) {
	h.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 9
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic, rt.Partitions = topic, []int32{part}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	ref := h.ref()
	h.apply(h.s.OffsetFetch(h.now, ref, req))
	p := h.replies[ref].(*kmsg.OffsetFetchResponse).Groups[0].Topics[0].Partitions[0]
	return p.Offset, p.LeaderEpoch, *p.Metadata
}

func (h *harness) describe(group string) kmsg.DescribeGroupsResponseGroup {
	h.t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = 6
	req.Groups = []string{group}
	ref := h.ref()
	h.apply(h.s.DescribeGroups(h.now, ref, req))
	return h.replies[ref].(*kmsg.DescribeGroupsResponse).Groups[0]
}

// stableTwo brings group g to Stable with members of clients a and b
// (leader first), returning their ids and the generation.
func (h *harness) stableTwo(g string) (string, string, int32) {
	h.t.Helper()
	a, ra := h.joinTwoStep(g, "a", joinOpt{})
	if !h.answered(ra) {
		h.t.Fatalf("single member's join parked with no initial delay")
	}
	gen := h.joinResp(ra).Generation
	h.sync(g, a, gen, map[string][]byte{a: []byte("A")})
	bID, rb := h.joinTwoStep(g, "b", joinOpt{})
	ra = h.join(g, "a", joinOpt{member: a})
	gen = h.joinResp(rb).Generation
	if h.joinResp(ra).LeaderID != a {
		h.t.Fatalf("leader %q, want %q", h.joinResp(ra).LeaderID, a)
	}
	sb := h.sync(g, bID, gen, nil)
	sa := h.sync(g, a, gen, map[string][]byte{a: []byte("A"), bID: []byte("B")})
	if h.syncResp(sa).ErrorCode != 0 || h.syncResp(sb).ErrorCode != 0 {
		h.t.Fatalf("sync errors %d %d", h.syncResp(sa).ErrorCode, h.syncResp(sb).ErrorCode)
	}
	return a, bID, gen
}

func sortedKeys(m map[string][]byte) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var _ tb = (*testing.T)(nil)
