package coord

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/record"
)

// kvShard is a key-value coordinator: each write sets keys; committed
// holds what CommitWrite confirmed, as a group's committed offsets do.
type kvShard struct {
	committed map[string]string
	pending   map[uint64]map[string]string
	nextID    uint64
	loaded    bool
	// staged holds transactional keys per producer until its marker;
	// txnWrites maps a live transactional write to its producer.
	staged    map[int64]map[string]string
	txnWrites map[uint64]int64
	markers   []string // "commit 7" / "abort 7", as applied
}

func newKV() *kvShard {
	return &kvShard{committed: map[string]string{}, pending: map[uint64]map[string]string{},
		staged: map[int64]map[string]string{}, txnWrites: map[uint64]int64{}}
}

func (s *kvShard) ReplayTxn(producerID int64, key, value []byte) error {
	if s.staged[producerID] == nil {
		s.staged[producerID] = map[string]string{}
	}
	s.staged[producerID][string(key)] = string(value)
	return nil
}

func (s *kvShard) ReplayEndTxn(producerID int64, _ int16, commit bool) {
	if commit {
		for k, v := range s.staged[producerID] {
			s.committed[k] = v
		}
		s.markers = append(s.markers, fmt.Sprintf("commit %d", producerID))
	} else {
		s.markers = append(s.markers, fmt.Sprintf("abort %d", producerID))
	}
	delete(s.staged, producerID)
}

// setTxn builds a transactional write of key=value by producerID.
func (s *kvShard) setTxn(ref ReplyRef, producerID int64, key, value string) Write {
	w := s.set(ref, key, value)
	s.txnWrites[w.ID] = producerID
	w.Txn, w.ProducerID, w.ProducerEpoch = true, producerID, 0
	return w
}

func (s *kvShard) Replay(key, value []byte) error {
	if key == nil {
		return errors.New("no key")
	}
	if value == nil {
		delete(s.committed, string(key))
		return nil
	}
	s.committed[string(key)] = string(value)
	return nil
}
func (s *kvShard) LoadDone(int64) { s.loaded = true }
func (s *kvShard) CommitWrite(id uint64) {
	if pid, ok := s.txnWrites[id]; ok {
		for k, v := range s.pending[id] {
			_ = s.ReplayTxn(pid, []byte(k), []byte(v))
		}
		delete(s.txnWrites, id)
		delete(s.pending, id)
		return
	}
	for k, v := range s.pending[id] {
		s.committed[k] = v
	}
	delete(s.pending, id)
}
func (s *kvShard) Tick(int64) Write  { return Write{} }
func (s *kvShard) NextWakeMs() int64 { return -1 }
func (s *kvShard) CheckInvariants() error {
	if len(s.pending) > 1024 {
		return fmt.Errorf("%d pending writes", len(s.pending))
	}
	return nil
}

// set builds a write of key=value answered by ref with a heartbeat reply.
func (s *kvShard) set(ref ReplyRef, key, value string) Write {
	s.nextID++
	s.pending[s.nextID] = map[string]string{key: value}
	return Write{Records: []Record{{Key: []byte(key), Value: []byte(value)}}, Replies: []Reply{{Ref: ref, Resp: kmsg.NewPtrHeartbeatResponse()}}, ID: s.nextID}
}

// fakeLog is one partition's log as the broker would hold it.
type fakeLog struct {
	// onAppend, when set, runs inside Append (as a broker taking the
	// partition offline resigns it there).
	onAppend  func()
	batches   [][]byte
	end       int64
	failNext  error
	replies   []Reply
	warnings  int
	discarded []int16
	// refuseMarker, when set, is the code AppendTxnMarker refuses with.
	refuseMarker int16
}

func (h *fakeLog) Append(_ int64, _ int32, _ int32, batch []byte) (int64, error) {
	if h.onAppend != nil {
		h.onAppend()
	}
	if err := h.failNext; err != nil {
		h.failNext = nil
		return 0, err
	}
	b := append([]byte(nil), batch...)
	record.SetBaseOffset(b, h.end)
	hd, err := record.ParseHeader(b)
	if err != nil {
		return 0, err
	}
	h.batches = append(h.batches, b)
	h.end = hd.NextOffset()
	return h.end, nil
}

func (h *fakeLog) AppendTxnMarker(nowMs int64, _ int32, _ int32, m TxnMarker) (int64, int16, error) {
	if h.onAppend != nil {
		h.onAppend()
	}
	if err := h.failNext; err != nil {
		h.failNext = nil
		return 0, 0, err
	}
	if h.refuseMarker != 0 {
		return 0, h.refuseMarker, nil
	}
	b := record.BuildEndTxnMarker(m.ProducerID, m.ProducerEpoch, record.EndTxnMarker{Commit: m.Commit, CoordinatorEpoch: m.CoordinatorEpoch}, nowMs)
	record.SetBaseOffset(b, h.end)
	h.batches = append(h.batches, b)
	h.end++
	return h.end, 0, nil
}

func (h *fakeLog) Read(_ int32, offset int64, maxBytes int) ([]byte, error) {
	var out []byte
	for _, b := range h.batches {
		hd, _ := record.ParseHeader(b)
		if hd.NextOffset() <= offset {
			continue
		}
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			break
		}
		out = append(out, b...)
	}
	return out, nil
}

func (h *fakeLog) Reply(r Reply)       { h.replies = append(h.replies, r) }
func (h *fakeLog) Warn(string, ...any) { h.warnings++ }
func (h *fakeLog) Discarded(_ int32, code int16) {
	h.discarded = append(h.discarded, code)
}

// code is the error of a reply's heartbeat response.
func code(t *testing.T, r Reply) int16 {
	t.Helper()
	return r.Resp.(*kmsg.HeartbeatResponse).ErrorCode
}

func newRuntime(t *testing.T, h *fakeLog, cfg Config) (*Runtime[*kvShard], *[]*kvShard) {
	t.Helper()
	var shards []*kvShard
	rt, err := New(cfg, h, new(record.Codecs), func() *kvShard {
		s := newKV()
		shards = append(shards, s)
		return s
	})
	if err != nil {
		t.Fatal(err)
	}
	return rt, &shards
}

func checkRT(t *testing.T, rt *Runtime[*kvShard]) {
	t.Helper()
	if err := rt.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestWriteAnsweredOnlyWhenCommitted: a write's reply waits for the high
// watermark to pass its batch, and its change is committed in the shard
// only then.
func TestWriteAnsweredOnlyWhenCommitted(t *testing.T) {
	h := &fakeLog{}
	rt, _ := newRuntime(t, h, DefaultConfig())
	rt.Lead(0, 0, 1, 0, 0, 0)
	rt.Advance(0, 0, 0, 0, 0)
	s, c := rt.Admit(0)
	if c != 0 || !s.loaded {
		t.Fatalf("admit after an empty load: code %d loaded %v", c, s != nil && s.loaded)
	}
	rt.Submit(0, 0, s.set(7, "g", "offset-1"))
	checkRT(t, rt)
	if len(h.replies) != 0 || s.committed["g"] != "" {
		t.Fatalf("answered (%d) or committed (%q) before the high watermark moved", len(h.replies), s.committed["g"])
	}
	rt.Advance(0, 0, 0, h.end, h.end-1)
	if len(h.replies) != 0 {
		t.Fatal("answered with the high watermark inside the batch")
	}
	rt.Advance(0, 0, 0, h.end, h.end)
	if len(h.replies) != 1 || h.replies[0].Ref != 7 || code(t, h.replies[0]) != 0 || s.committed["g"] != "offset-1" {
		t.Fatalf("after the high watermark passed: replies %v committed %q", h.replies, s.committed["g"])
	}
	checkRT(t, rt)
}

// TestLoadReplaysCommittedLog: a new leader replays the log in chunks,
// answers COORDINATOR_LOAD_IN_PROGRESS meanwhile, and finishes only once
// the high watermark reached the log end it found.
func TestLoadReplaysCommittedLog(t *testing.T) {
	h := &fakeLog{}
	old, _ := newRuntime(t, h, DefaultConfig())
	old.Lead(0, 0, 1, 0, 0, 0)
	old.Advance(0, 0, 0, 0, 0)
	s, _ := old.Admit(0)
	for i := range 20 {
		old.Submit(0, 0, s.set(ReplyRef(i), fmt.Sprintf("k%d", i%5), fmt.Sprintf("v%d", i)))
	}
	old.Advance(0, 0, 0, h.end, h.end)

	cfg := DefaultConfig()
	cfg.LoadChunkBytes = 100 // a batch or so per step
	rt, shards := newRuntime(t, h, cfg)
	rt.Lead(0, 0, 2, 0, h.end, h.end-3)
	// Twice as many steps as batches: enough to replay everything, while
	// the high watermark stays below the log end.
	steps := 0
	for ; steps < 40; steps++ {
		if _, c := rt.Admit(0); c != kerr.CoordinatorLoadInProgress.Code {
			t.Fatalf("code %d while loading", c)
		}
		rt.Advance(0, 0, 0, h.end, h.end-3)
		checkRT(t, rt)
		if rt.parts[0].loadNext >= h.end {
			break
		}
	}
	if _, c := rt.Admit(0); c != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("loaded (code %d) before the high watermark reached the log end", c)
	}
	if steps < 5 {
		t.Fatalf("loaded in %d steps: the chunks are not bounded", steps)
	}
	rt.Advance(0, 0, 0, h.end, h.end)
	got, c := rt.Admit(0)
	if c != 0 || got != (*shards)[0] || !got.loaded {
		t.Fatalf("after the high watermark: code %d", c)
	}
	for i := 15; i < 20; i++ {
		if k, want := fmt.Sprintf("k%d", i%5), fmt.Sprintf("v%d", i); got.committed[k] != want {
			t.Fatalf("%s = %q after the load, want %q", k, got.committed[k], want)
		}
	}
}

// TestMovedLeadershipNeverCompletesWrite is KAFKA-20634: a write pending
// when the partition's leadership moves is answered NOT_COORDINATOR, and
// never with success, even when this broker leads again and the high
// watermark passes the offsets it had (now another leader's records).
func TestMovedLeadershipNeverCompletesWrite(t *testing.T) {
	for _, how := range []string{"resign", "new epoch"} {
		t.Run(how, func(t *testing.T) {
			h := &fakeLog{}
			rt, _ := newRuntime(t, h, DefaultConfig())
			rt.Lead(0, 0, 1, 0, 0, 0)
			rt.Advance(0, 0, 0, 0, 0)
			s, _ := rt.Admit(0)
			rt.Submit(0, 0, s.set(1, "g", "mine"))
			end := h.end
			if how == "resign" {
				rt.Resign(0)
			}
			// Another leader's record takes the same offsets; this broker
			// leads again at a later epoch.
			h.batches, h.end = nil, 0
			if _, err := h.Append(0, 0, 2, record.MustBuild(record.DefaultBatchOptions(), []record.Record{{Key: []byte("g"), Value: []byte("theirs")}})); err != nil {
				t.Fatal(err)
			}
			rt.Lead(0, 0, 3, 0, h.end, end)
			rt.Advance(0, 0, 0, h.end, end)
			if len(h.replies) != 1 || code(t, h.replies[0]) != kerr.NotCoordinator.Code {
				t.Fatalf("replies %v: want one NOT_COORDINATOR", h.replies)
			}
			if len(h.discarded) != 1 || h.discarded[0] != kerr.NotCoordinator.Code {
				t.Fatalf("discards %v: want one NOT_COORDINATOR", h.discarded)
			}
			ns, c := rt.Admit(0)
			if c != 0 || ns == s || ns.committed["g"] != "theirs" {
				t.Fatalf("after the new load: code %d, same shard %v, g=%q", c, ns == s, ns.committed["g"])
			}
			checkRT(t, rt)
		})
	}
}

// TestFailedAppendReloads: a write that fails to append is answered
// COORDINATOR_NOT_AVAILABLE, the shard (which applied it) is dropped, and
// a new one reloads what the log holds.
func TestFailedAppendReloads(t *testing.T) {
	h := &fakeLog{}
	rt, shards := newRuntime(t, h, DefaultConfig())
	rt.Lead(0, 0, 1, 0, 0, 0)
	rt.Advance(0, 0, 0, 0, 0)
	s, _ := rt.Admit(0)
	rt.Submit(0, 0, s.set(1, "a", "1"))
	rt.Submit(0, 0, s.set(2, "b", "2"))
	h.failNext = errors.New("not enough replicas")
	rt.Submit(0, 0, s.set(3, "c", "3"))
	if len(h.replies) != 3 {
		t.Fatalf("%d replies, want 3 failures", len(h.replies))
	}
	for _, r := range h.replies {
		if code(t, r) != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("reply %d: code %d, want COORDINATOR_NOT_AVAILABLE", r.Ref, code(t, r))
		}
	}
	if _, c := rt.Admit(0); c != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("after the failed append: code %d, want a reload", c)
	}
	if len(h.discarded) != 1 || h.discarded[0] != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("discards %v: want one COORDINATOR_NOT_AVAILABLE", h.discarded)
	}
	rt.Advance(0, 0, 0, h.end, h.end)
	ns, c := rt.Admit(0)
	if c != 0 || len(*shards) != 2 || ns.committed["a"] != "1" || ns.committed["b"] != "2" || ns.committed["c"] != "" {
		t.Fatalf("reloaded shard: code %d, shards %d, state %v", c, len(*shards), ns.committed)
	}
	checkRT(t, rt)
}

// TestAppendThatResignsAnswersOnce: an append that fails because the
// partition went offline resigns it from inside Append (the broker's
// takeOffline); the runtime must not then answer the write's requests
// (the broker's Discarded answered every request it held) nor start a
// reload of a partition it no longer leads. Found by the simulator's group
// workload: the broker panicked on an answer for a request already
// answered.
func TestAppendThatResignsAnswersOnce(t *testing.T) {
	h := &fakeLog{}
	rt, _ := newRuntime(t, h, DefaultConfig())
	rt.Lead(0, 0, 1, 0, 0, 0)
	s, _ := rt.Admit(0)
	rt.Submit(0, 0, s.set(1, "a", "1")) // pending: the high watermark stays at 0
	h.failNext = errors.New("disk full")
	h.onAppend = func() { rt.Resign(0) }
	rt.Submit(0, 0, s.set(2, "b", "2"))
	if len(h.replies) != 1 || h.replies[0].Ref != 1 || code(t, h.replies[0]) != kerr.NotCoordinator.Code {
		t.Fatalf("replies %+v: want only the pending write's, NOT_COORDINATOR", h.replies)
	}
	if len(h.discarded) != 1 || h.discarded[0] != kerr.NotCoordinator.Code {
		t.Fatalf("discards %v: want one NOT_COORDINATOR (the resign's)", h.discarded)
	}
	if _, c := rt.Admit(0); c != kerr.NotCoordinator.Code {
		t.Fatalf("after the resign: code %d, want NOT_COORDINATOR (no reload)", c)
	}
	checkRT(t, rt)
}

// TestPendingWritesBounded: past MaxPendingWrites, Admit refuses with
// COORDINATOR_NOT_AVAILABLE before the shard changes anything.
func TestPendingWritesBounded(t *testing.T) {
	h := &fakeLog{}
	cfg := DefaultConfig()
	cfg.MaxPendingWrites = 3
	rt, _ := newRuntime(t, h, cfg)
	rt.Lead(0, 0, 1, 0, 0, 0)
	rt.Advance(0, 0, 0, 0, 0)
	for i := range 3 {
		s, c := rt.Admit(0)
		if c != 0 {
			t.Fatalf("write %d refused: %d", i, c)
		}
		rt.Submit(0, 0, s.set(ReplyRef(i), "k", "v"))
	}
	if _, c := rt.Admit(0); c != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("fourth pending write: code %d", c)
	}
	rt.Advance(0, 0, 0, h.end, h.end)
	if _, c := rt.Admit(0); c != 0 || len(h.replies) != 3 {
		t.Fatalf("after the writes committed: code %d, replies %d", c, len(h.replies))
	}
	if _, c := rt.Admit(9); c != kerr.NotCoordinator.Code {
		t.Fatalf("a partition not led: code %d", c)
	}
}

// TestLoadSkipsUnreadableRecord: a record the shard cannot replay is
// skipped with a warning; the rest loads.
func TestLoadSkipsUnreadableRecord(t *testing.T) {
	h := &fakeLog{}
	b := record.MustBuild(record.DefaultBatchOptions(), []record.Record{{Key: nil, Value: []byte("x")}, {Key: []byte("k"), Value: []byte("v")}})
	if _, err := h.Append(0, 0, 0, b); err != nil {
		t.Fatal(err)
	}
	rt, _ := newRuntime(t, h, DefaultConfig())
	rt.Lead(0, 0, 1, 0, h.end, h.end)
	rt.Advance(0, 0, 0, h.end, h.end)
	s, c := rt.Admit(0)
	if c != 0 || s.committed["k"] != "v" || h.warnings != 1 {
		t.Fatalf("code %d state %v warnings %d", c, s.committed, h.warnings)
	}
}

// TestFailResponseCoversDeferredTypes: every response a coordinator may
// defer gets the error in each of its entries.
func TestFailResponseCoversDeferredTypes(t *testing.T) {
	oc := kmsg.NewPtrOffsetCommitResponse()
	oc.Topics = []kmsg.OffsetCommitResponseTopic{{Partitions: []kmsg.OffsetCommitResponseTopicPartition{{}, {}}}}
	FailResponse(oc, 15)
	for _, p := range oc.Topics[0].Partitions {
		if p.ErrorCode != 15 {
			t.Fatalf("offset commit partition code %d", p.ErrorCode)
		}
	}
	dg := kmsg.NewPtrDeleteGroupsResponse()
	dg.Groups = []kmsg.DeleteGroupsResponseGroup{{}, {}}
	FailResponse(dg, 14)
	if dg.Groups[1].ErrorCode != 14 {
		t.Fatal("delete groups")
	}
	for _, r := range []kmsg.Response{kmsg.NewPtrJoinGroupResponse(), kmsg.NewPtrSyncGroupResponse(), kmsg.NewPtrHeartbeatResponse(),
		kmsg.NewPtrLeaveGroupResponse(), kmsg.NewPtrOffsetDeleteResponse(), kmsg.NewPtrTxnOffsetCommitResponse(), kmsg.NewPtrConsumerGroupHeartbeatResponse()} {
		FailResponse(r, 16)
	}
	// The transaction coordinator's deferred answers (core/txn).
	ap := kmsg.NewPtrAddPartitionsToTxnResponse()
	ap.Topics = []kmsg.AddPartitionsToTxnResponseTopic{{Partitions: []kmsg.AddPartitionsToTxnResponseTopicPartition{{}}}}
	ap.Transactions = []kmsg.AddPartitionsToTxnResponseTransaction{{Topics: []kmsg.AddPartitionsToTxnResponseTransactionTopic{{Partitions: []kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{{}}}}}}
	FailResponse(ap, 15)
	if ap.Topics[0].Partitions[0].ErrorCode != 15 || ap.Transactions[0].Topics[0].Partitions[0].ErrorCode != 15 {
		t.Fatal("add partitions to txn")
	}
	ip := kmsg.NewPtrInitProducerIDResponse()
	ip.ProducerID, ip.ProducerEpoch = 7, 3
	FailResponse(ip, 15)
	if ip.ErrorCode != 15 || ip.ProducerID != -1 || ip.ProducerEpoch != -1 {
		t.Fatalf("init producer id: %+v", ip)
	}
	dt := kmsg.NewPtrDescribeTransactionsResponse()
	dt.TransactionStates = []kmsg.DescribeTransactionsResponseTransactionState{{}}
	FailResponse(dt, 15)
	if dt.TransactionStates[0].ErrorCode != 15 {
		t.Fatal("describe transactions")
	}
	for _, r := range []kmsg.Response{kmsg.NewPtrAddOffsetsToTxnResponse(), kmsg.NewPtrEndTxnResponse(), kmsg.NewPtrListTransactionsResponse()} {
		FailResponse(r, 16)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown response type did not panic")
		}
	}()
	FailResponse(kmsg.NewPtrMetadataResponse(), 16)
}

// TestRepliesWaitForTheWriteTheyReveal: a write without records that names
// a pending write sends its replies only with that write's; one naming a
// committed write, or none, sends them at once.
func TestRepliesWaitForTheWriteTheyReveal(t *testing.T) {
	h := &fakeLog{}
	rt, _ := newRuntime(t, h, DefaultConfig())
	rt.Lead(0, 0, 1, 0, 0, 0)
	rt.Advance(0, 0, 0, 0, 0)
	s, _ := rt.Admit(0)
	w := s.set(1, "g", "assignment")
	rt.Submit(0, 0, w)
	rt.Submit(0, 0, Write{Replies: []Reply{{Ref: 2, Resp: kmsg.NewPtrHeartbeatResponse()}}, ID: w.ID})
	rt.Submit(0, 0, Write{Replies: []Reply{{Ref: 3, Resp: kmsg.NewPtrHeartbeatResponse()}}})
	if len(h.replies) != 1 || h.replies[0].Ref != 3 {
		t.Fatalf("replies before the commit: %v; want only 3", h.replies)
	}
	rt.Advance(0, 0, 0, h.end, h.end)
	if len(h.replies) != 3 || h.replies[1].Ref != 1 || h.replies[2].Ref != 2 {
		t.Fatalf("replies after the commit: %v", h.replies)
	}
	rt.Submit(0, 0, Write{Replies: []Reply{{Ref: 4, Resp: kmsg.NewPtrHeartbeatResponse()}}, ID: w.ID})
	if len(h.replies) != 4 || h.replies[3].Ref != 4 {
		t.Fatalf("a reply naming a committed write: %v", h.replies)
	}
}
