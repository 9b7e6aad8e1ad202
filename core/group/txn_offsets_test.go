package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnOpt names the member fields of a TxnOffsetCommit (v3+).
type txnOpt struct {
	version  int16
	member   string
	gen      int32
	instance string
	md       string
}

// txnCommit sends a TxnOffsetCommit of one offset by producer pid and
// returns its partition's error code.
func (h *harness) txnCommit(group string, pid int64, topic string, part int32, off int64, o txnOpt) int16 {
	h.t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = 5
	if o.version != 0 {
		req.Version = o.version
	}
	req.TransactionalID = "tx"
	req.Group, req.ProducerID, req.ProducerEpoch = group, pid, 0
	req.MemberID, req.Generation = o.member, -1
	if o.member != "" || o.gen != 0 {
		req.Generation = o.gen
	}
	if o.instance != "" {
		req.InstanceID = &o.instance
	}
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	md := o.md
	rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = part, off, 4, &md
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ref := h.ref()
	out := h.apply(h.s.TxnOffsetCommit(h.now, ref, req))
	resp := answer[*kmsg.TxnOffsetCommitResponse](h, ref)
	code := resp.Topics[0].Partitions[0].ErrorCode
	if code == 0 && (!out.Txn || out.ProducerID != pid || len(out.Records) != 1) {
		h.t.Fatalf("accepted TxnOffsetCommit wrote %+v", out)
	}
	return code
}

// txnMarker applies producer pid's end-transaction marker, as the
// runtime does once the marker is committed, and logs it.
func (h *harness) txnMarker(pid int64, commit bool) {
	h.t.Helper()
	h.s.ReplayEndTxn(pid, 0, commit)
	h.tlog = append(h.tlog, tlogEntry{marker: true, pid: pid, commit: commit})
	if err := h.s.CheckInvariants(); err != nil {
		h.t.Fatalf("invariants after marker: %v", err)
	}
}

// fetchStable is fetch with RequireStable at version v (7 or 8+),
// returning the offset and the partition's error code.
func (h *harness) fetchStable(group, topic string, part int32, v int16) (int64, int16) {
	h.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.RequireStable = v, true
	ref := h.ref()
	if v >= 8 {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.Partitions = topic, []int32{part}
		rg.Topics = append(rg.Topics, rt)
		req.Groups = append(req.Groups, rg)
		h.apply(h.s.OffsetFetch(h.now, ref, req))
		g := h.replies[ref].(*kmsg.OffsetFetchResponse).Groups[0]
		if g.ErrorCode != 0 {
			h.t.Fatalf("group error %d", g.ErrorCode)
		}
		p := g.Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{part}
	req.Topics = append(req.Topics, rt)
	h.apply(h.s.OffsetFetch(h.now, ref, req))
	r := h.replies[ref].(*kmsg.OffsetFetchResponse)
	if r.ErrorCode != 0 {
		h.t.Fatalf("top-level error %d", r.ErrorCode)
	}
	p := r.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

// replayTLog rebuilds a shard from a log with transactional batches and
// markers, as the runtime replays one.
func replayTLog(t tb, log []tlogEntry, nowMs int64) *Shard {
	t.Helper()
	s := NewShard(testConfig())
	for i, e := range log {
		var err error
		switch {
		case e.marker:
			s.ReplayEndTxn(e.pid, 0, e.commit)
		case e.txn:
			err = s.ReplayTxn(e.pid, e.rec.Key, e.rec.Value)
		default:
			err = s.Replay(e.rec.Key, e.rec.Value)
		}
		if err != nil {
			t.Fatalf("replay of entry %d: %v", i, err)
		}
	}
	s.LoadDone(nowMs)
	if err := s.CheckInvariants(); err != nil {
		t.Fatalf("replayed shard: %v", err)
	}
	return s
}

// TestTxnOffsetsStagedUntilCommitMarker: a transactional offset is
// invisible to OffsetFetch, makes a RequireStable fetch answer
// UNSTABLE_OFFSET_COMMIT (v7 and v8+), and becomes the committed offset
// at its producer's commit marker.
func TestTxnOffsetsStagedUntilCommitMarker(t *testing.T) {
	h := newHarness(t, testConfig())
	h.commit("g", "", -1, "t", 0, 10, 1, "")
	if code := h.txnCommit("g", 7, "t", 0, 42, txnOpt{md: "txn"}); code != 0 {
		t.Fatalf("TxnOffsetCommit: %d", code)
	}
	if off, _, _ := h.fetch("g", "t", 0); off != 10 {
		t.Fatalf("fetch saw %d before the marker, want the committed 10", off)
	}
	for _, v := range []int16{7, 8, 9} {
		if off, code := h.fetchStable("g", "t", 0, v); code != kerr.UnstableOffsetCommit.Code || off != -1 {
			t.Fatalf("v%d RequireStable: offset %d code %d, want -1 UNSTABLE_OFFSET_COMMIT", v, off, code)
		}
	}
	if _, code := h.fetchStable("g", "t", 1, 8); code != 0 {
		t.Fatalf("another partition unstable: %d", code)
	}
	h.txnMarker(7, true)
	if off, ep, md := h.fetch("g", "t", 0); off != 42 || ep != 4 || md != "txn" {
		t.Fatalf("after the commit marker: %d %d %q", off, ep, md)
	}
	if off, code := h.fetchStable("g", "t", 0, 8); code != 0 || off != 42 {
		t.Fatalf("stable fetch after the marker: %d %d", off, code)
	}
	compareTxnReplay(t, h)
}

// TestTxnOffsetsAbortMarkerDrops: an abort drops the staged offsets and
// leaves the committed one.
func TestTxnOffsetsAbortMarkerDrops(t *testing.T) {
	h := newHarness(t, testConfig())
	h.commit("g", "", -1, "t", 0, 10, 1, "")
	h.txnCommit("g", 7, "t", 0, 42, txnOpt{})
	h.txnCommit("g", 7, "t", 1, 43, txnOpt{})
	h.txnCommit("g", 8, "t", 1, 44, txnOpt{}) // another producer's, still open
	h.txnMarker(7, false)
	if off, _, _ := h.fetch("g", "t", 0); off != 10 {
		t.Fatalf("after the abort: %d, want 10", off)
	}
	if _, code := h.fetchStable("g", "t", 0, 8); code != 0 {
		t.Fatalf("t[0] unstable after the abort: %d", code)
	}
	if _, code := h.fetchStable("g", "t", 1, 8); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("t[1] stable while producer 8 stages it: %d", code)
	}
	h.txnMarker(8, true)
	if off, _, _ := h.fetch("g", "t", 1); off != 44 {
		t.Fatalf("producer 8's commit: %d, want 44", off)
	}
	compareTxnReplay(t, h)
}

// TestTxnOffsetsLaterPlainCommitWins: a plain commit written after the
// transactional one stays at the transaction's commit (Kafka compares
// the records' places in the log).
func TestTxnOffsetsLaterPlainCommitWins(t *testing.T) {
	h := newHarness(t, testConfig())
	h.txnCommit("g", 7, "t", 0, 20, txnOpt{})
	h.commit("g", "", -1, "t", 0, 30, 1, "")
	h.txnMarker(7, true)
	if off, _, _ := h.fetch("g", "t", 0); off != 30 {
		t.Fatalf("got %d, want the later plain commit 30", off)
	}
	compareTxnReplay(t, h)
}

// TestTxnOffsetCommitFencing: from v3 the member and generation are
// checked as for OffsetCommit, but a transactional commit is taken while
// the group rebalances and without a member in any state.
func TestTxnOffsetCommitFencing(t *testing.T) {
	h := newHarness(t, testConfig())
	a, _, gen := h.stableTwo("g")
	cases := []struct {
		name string
		o    txnOpt
		want int16
	}{
		{"right generation", txnOpt{member: a, gen: gen}, 0},
		{"old generation", txnOpt{member: a, gen: gen - 1}, kerr.IllegalGeneration.Code},
		{"newer generation", txnOpt{member: a, gen: gen + 1}, kerr.IllegalGeneration.Code},
		{"unknown member", txnOpt{member: "nobody", gen: gen}, kerr.UnknownMemberID.Code},
		{"unknown instance", txnOpt{member: a, gen: gen, instance: "i"}, kerr.UnknownMemberID.Code},
		{"no member (v3)", txnOpt{}, 0},
		{"v2 ignores member fields", txnOpt{version: 2, member: "nobody", gen: gen + 5}, 0},
		{"metadata too large", txnOpt{member: a, gen: gen, md: string(make([]byte, 5000))}, kerr.OffsetMetadataTooLarge.Code},
	}
	for _, c := range cases {
		if code := h.txnCommit("g", 9, "t", 0, 5, c.o); code != c.want {
			t.Fatalf("%s: code %d, want %d", c.name, code, c.want)
		}
	}
	if code := h.txnCommit("nogroup", 9, "t", 0, 5, txnOpt{member: "m", gen: 1}); code != kerr.IllegalGeneration.Code {
		t.Fatalf("unknown group with a generation: %d", code)
	}
	if code := h.txnCommit("", 9, "t", 0, 5, txnOpt{}); code != kerr.InvalidGroupID.Code {
		t.Fatalf("empty group id: %d", code)
	}
	compareTxnReplay(t, h)
}

// TestTxnOffsetCommitFencedInstance: a static member's instance id
// claimed by another member id is FENCED_INSTANCE_ID.
func TestTxnOffsetCommitFencedInstance(t *testing.T) {
	h := newHarness(t, testConfig())
	ref := h.join("g", "s", joinOpt{instance: "inst"})
	m, gen := h.joinResp(ref).MemberID, h.joinResp(ref).Generation
	if m == "" || h.joinResp(ref).ErrorCode != 0 {
		t.Fatalf("static join: %+v", h.joinResp(ref))
	}
	if code := h.txnCommit("g", 9, "t", 0, 5, txnOpt{member: "other", gen: gen, instance: "inst"}); code != kerr.FencedInstanceID.Code {
		t.Fatalf("fenced instance: %d", code)
	}
	if code := h.txnCommit("g", 9, "t", 0, 5, txnOpt{member: m, gen: gen, instance: "inst"}); code != 0 {
		t.Fatalf("the instance's member: %d", code)
	}
}

// TestTxnOffsetsDeletedWithTheGroup: OffsetDelete and DeleteGroups write
// tombstones for staged offsets (Kafka's rule), which drop them: a later
// commit marker applies nothing there.
func TestTxnOffsetsDeletedWithTheGroup(t *testing.T) {
	h := newHarness(t, testConfig())
	h.txnCommit("g", 7, "t", 0, 20, txnOpt{})
	h.txnCommit("g", 7, "u", 0, 21, txnOpt{})
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "g"
	req.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	out := h.apply(h.s.OffsetDelete(h.now, h.ref(), req))
	if len(out.Records) != 1 || out.Records[0].Value != nil {
		t.Fatalf("OffsetDelete of a staged offset wrote %+v, want one tombstone", out.Records)
	}
	if _, code := h.fetchStable("g", "t", 0, 8); code != 0 {
		t.Fatalf("t[0] still unstable after its tombstone: %d", code)
	}
	if _, code := h.fetchStable("g", "u", 0, 8); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("u[0] lost its staged offset: %d", code)
	}
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Version, dg.Groups = 2, []string{"g"}
	ref := h.ref()
	out = h.apply(h.s.DeleteGroups(h.now, ref, dg))
	if code := answer[*kmsg.DeleteGroupsResponse](h, ref).Groups[0].ErrorCode; code != 0 || len(out.Records) == 0 {
		t.Fatalf("DeleteGroups: code %d records %d", code, len(out.Records))
	}
	h.txnMarker(7, true)
	if off, _, _ := h.fetch("g", "u", 0); off != -1 {
		t.Fatalf("a deleted group's staged offset was applied: %d", off)
	}
	compareTxnReplay(t, h)
}

// TestTxnOffsetsStagedSurviveExpiry: an offset with a staged
// transactional offset is not expired, and its group not removed.
func TestTxnOffsetsStagedSurviveExpiry(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetentionMs = 1000
	cfg.OffsetsRetentionCheckIntervalMs = 100
	h := newHarness(t, cfg)
	h.commit("g", "", -1, "t", 0, 10, 1, "")
	h.txnCommit("g", 7, "t", 0, 20, txnOpt{})
	h.txnCommit("h", 7, "t", 0, 30, txnOpt{}) // h exists only through it
	h.tick(5000)
	h.tick(5000)
	if off, _, _ := h.fetch("g", "t", 0); off != 10 {
		t.Fatalf("offset with a staged transaction expired: %d", off)
	}
	h.txnMarker(7, true)
	if off, _, _ := h.fetch("h", "t", 0); off != 30 {
		t.Fatalf("group h lost its staged offset to expiry: %d", off)
	}
	compareTxnReplay(t, h)
}

// TestTxnOffsetsBounded: past MaxTxnOffsets a partition is refused with
// COORDINATOR_NOT_AVAILABLE, and room returns when a transaction ends.
func TestTxnOffsetsBounded(t *testing.T) {
	cfg := testConfig()
	cfg.MaxTxnOffsets = 2
	h := newHarness(t, cfg)
	h.txnCommit("g", 7, "t", 0, 1, txnOpt{})
	h.txnCommit("g", 7, "t", 1, 1, txnOpt{})
	if code := h.txnCommit("g", 8, "t", 2, 1, txnOpt{}); code != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("past the limit: %d", code)
	}
	h.txnMarker(7, false)
	if code := h.txnCommit("g", 8, "t", 2, 1, txnOpt{}); code != 0 {
		t.Fatalf("after the abort freed room: %d", code)
	}
}

// TestTxnOffsetsUncommittedWriteNotStaged: a TxnOffsetCommit whose
// write is not yet committed stages nothing, and its answer waits.
func TestTxnOffsetsUncommittedWriteNotStaged(t *testing.T) {
	h := newHarness(t, testConfig())
	h.manual = true
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version, req.Group, req.ProducerID, req.ProducerEpoch = 5, "g", 7, 0
	req.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5}}}}
	ref := h.ref()
	h.apply(h.s.TxnOffsetCommit(h.now, ref, req))
	if h.answered(ref) || h.s.unstable("g", tp{"t", 0}) {
		t.Fatalf("answered (%v) or staged before the write committed", h.answered(ref))
	}
	h.commitAll()
	if !h.answered(ref) || !h.s.unstable("g", tp{"t", 0}) {
		t.Fatalf("not answered or not staged after the write committed")
	}
}

// compareTxnReplay checks that replaying the log (transactional batches
// and markers included) gives the live shard's committed and staged
// offsets.
func compareTxnReplay(t tb, h *harness) {
	t.Helper()
	r := replayTLog(t, h.tlog, h.now)
	if !equalOffsets(h.s.offsets, r.offsets) {
		t.Fatalf("replayed offsets differ\nlive:     %+v\nreplayed: %+v", h.s.offsets, r.offsets)
	}
	if !equalStaged(h.s.staged, r.staged) {
		t.Fatalf("replayed staged offsets differ\nlive:     %+v\nreplayed: %+v", h.s.staged, r.staged)
	}
}

func equalOffsets(a, b map[string]map[tp]offset) bool {
	if len(a) != len(b) {
		return false
	}
	for g, offs := range a {
		if len(offs) != len(b[g]) {
			return false
		}
		for k, o := range offs {
			if ob, ok := b[g][k]; !ok || ob != o {
				return false
			}
		}
	}
	return true
}

func equalStaged(a, b map[int64]map[string]map[tp]offset) bool {
	if len(a) != len(b) {
		return false
	}
	for pid, byGroup := range a {
		if !equalOffsets(byGroup, b[pid]) {
			return false
		}
	}
	return true
}
