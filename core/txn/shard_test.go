package txn

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestInitProducerIDErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTransactionalIDs = 1
	for _, tc := range []struct {
		name      string
		id        string
		timeoutMs int32
		pid       int64
		epoch     int16
		version   int16
		want      int16
	}{
		{"empty id", "", 1000, -1, -1, 4, kerr.InvalidRequest.Code},
		{"zero timeout", "a", 0, -1, -1, 4, kerr.InvalidTransactionTimeout.Code},
		{"timeout above max", "a", cfg.MaxTimeoutMs + 1, -1, -1, 4, kerr.InvalidTransactionTimeout.Code},
		{"id without epoch", "a", 1000, 5, -1, 4, kerr.InvalidRequest.Code},
		{"ok", "a", 1000, -1, -1, 4, 0},
		{"v2 ignores the id", "a", 1000, 5, -1, 2, 0},
	} {
		h := newHarness(t, cfg)
		if got := h.init(tc.id, tc.timeoutMs, tc.pid, tc.epoch, tc.version).ErrorCode; got != tc.want {
			t.Errorf("%s: code %d, want %d", tc.name, got, tc.want)
		}
	}
	h := newHarness(t, cfg)
	h.init("a", 1000, -1, -1, 4)
	if got := h.init("b", 1000, -1, -1, 4).ErrorCode; got != kerr.CoordinatorNotAvailable.Code {
		t.Errorf("past MaxTransactionalIDs: code %d", got)
	}
	h.ids.code = kerr.CoordinatorLoadInProgress.Code
	h = newHarness(t, cfg)
	h.ids.code = kerr.CoordinatorLoadInProgress.Code
	if got := h.init("a", 1000, -1, -1, 4); got.ErrorCode != kerr.CoordinatorLoadInProgress.Code || len(h.s.txns) != 0 {
		t.Errorf("no producer id: %+v, %d ids", got, len(h.s.txns))
	}
}

func TestInitProducerIDBumpsEpoch(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	r := h.init("a", 1000, -1, -1, 4)
	if r.ErrorCode != 0 || r.ProducerID != 1000 || r.ProducerEpoch != 0 {
		t.Fatalf("first: %+v", r)
	}
	r = h.init("a", 2000, -1, -1, 4)
	if r.ErrorCode != 0 || r.ProducerID != 1000 || r.ProducerEpoch != 1 {
		t.Fatalf("second: %+v", r)
	}
	if m := h.meta("a"); m.State != Empty || m.TimeoutMs != 2000 {
		t.Fatalf("state %+v", m)
	}
	h.checkReplay()
}

// TestKIP360 covers a producer naming its id and epoch.
func TestKIP360(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.init("a", 1000, -1, -1, 4)
	if r := h.init("a", 1000, 1000, 0, 4); r.ErrorCode != 0 || r.ProducerEpoch != 1 {
		t.Fatalf("recovery bump: %+v", r)
	}
	// The answer was lost; the retry names the old epoch and gets the
	// same answer.
	if r := h.init("a", 1000, 1000, 0, 4); r.ErrorCode != 0 || r.ProducerEpoch != 1 {
		t.Fatalf("retry: %+v", r)
	}
	if r := h.init("a", 1000, 1000, 5, 4); r.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("stale epoch: %+v", r)
	}
	if r := h.init("a", 1000, 1000, 5, 3); r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("stale epoch, v3: %+v", r)
	}
	if r := h.init("a", 1000, 77, 1, 4); r.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("other producer id: %+v", r)
	}
	// A new id with the producer's old id (UNKNOWN_PRODUCER_ID recovery
	// after expiry): a fresh id.
	if r := h.init("b", 1000, 555, 3, 4); r.ErrorCode != 0 || r.ProducerID != 1001 || r.ProducerEpoch != 0 {
		t.Fatalf("unknown id with expected: %+v", r)
	}
	h.checkReplay()
}

// TestEpochExhaustion: the last usable epoch moves the id to a new
// producer id; a KIP-360 retry naming the old id is recognised.
func TestEpochExhaustion(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	m := Metadata{TransactionalID: "a", ProducerID: 9, PrevProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1,
		ProducerEpoch: 32766, TimeoutMs: 1000, State: CompleteCommit, StartMs: 5}
	if err := h.s.Replay(KeyBytes("a"), ValueBytes(m, 1)); err != nil {
		t.Fatal(err)
	}
	r := h.init("a", 1000, 9, 32766, 4)
	if r.ErrorCode != 0 || r.ProducerID != 1000 || r.ProducerEpoch != 0 {
		t.Fatalf("rotation: %+v", r)
	}
	if got := h.meta("a"); got.PrevProducerID != 9 {
		t.Fatalf("previous id %d", got.PrevProducerID)
	}
	if r := h.init("a", 1000, 9, 32766, 4); r.ErrorCode != 0 || r.ProducerID != 1000 || r.ProducerEpoch != 0 {
		t.Fatalf("retry after rotation: %+v", r)
	}
}

func TestAddPartitionsErrors(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.init("a", 60000, -1, -1, 4)
	for _, tc := range []struct {
		name    string
		version int16
		id      string
		pid     int64
		epoch   int16
		topic   string
		parts   []int32
		want    []int16
	}{
		{"unknown id", 3, "zz", 1000, 0, "t", []int32{0}, []int16{kerr.InvalidProducerIDMapping.Code}},
		{"other producer", 3, "a", 5, 0, "t", []int32{0}, []int16{kerr.InvalidProducerIDMapping.Code}},
		{"stale epoch", 3, "a", 1000, 9, "t", []int32{0}, []int16{kerr.ProducerFenced.Code}},
		{"stale epoch v1", 1, "a", 1000, 9, "t", []int32{0}, []int16{kerr.InvalidProducerEpoch.Code}},
		{"unknown partition", 3, "a", 1000, 0, "t", []int32{0, 5}, []int16{kerr.OperationNotAttempted.Code, kerr.UnknownTopicOrPartition.Code}},
		{"empty id", 3, "", 1000, 0, "t", []int32{0}, []int16{kerr.InvalidRequest.Code}},
	} {
		if got := h.add(tc.version, tc.id, tc.pid, tc.epoch, tc.topic, tc.parts...); !equal(got, tc.want) {
			t.Errorf("%s: codes %v, want %v", tc.name, got, tc.want)
		}
	}
	if h.meta("a").State != Empty {
		t.Fatal("a failed add changed the state")
	}
}

func equal(a, b []int16) bool {
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

// TestCommitFlow walks a transaction from InitProducerId to
// CompleteCommit, with the retries and wrong requests on the way.
func TestCommitFlow(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.init("a", 60000, -1, -1, 4)
	if code, w := h.end(3, "a", 1000, 0, true); code != 0 || len(w.Records) != 0 {
		t.Fatalf("empty commit: code %d, %d records", code, len(w.Records))
	}
	h.now = 2000
	if got := h.add(3, "a", 1000, 0, "t", 0, 1); !equal(got, []int16{0, 0}) {
		t.Fatalf("add: %v", got)
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.Version, ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = 3, "a", 1000, 0, "g"
	if resp, _ := h.do(ao); resp.(*kmsg.AddOffsetsToTxnResponse).ErrorCode != 0 {
		t.Fatalf("add offsets: %+v", resp)
	}
	m := h.meta("a")
	if m.State != Ongoing || m.StartMs != 2000 || len(m.Partitions) != 3 || m.Partitions[0] != (TopicPartition{OffsetsTopic, 7}) {
		t.Fatalf("ongoing: %+v", m)
	}
	// The same partitions again: no write, the answer is immediate.
	if _, w := h.do(addReq(3, "a", 1000, 0, "t", 1)); len(w.Records) != 0 {
		t.Fatal("re-adding wrote a record")
	}
	if code, _ := h.end(3, "a", 1000, 1, true); code != kerr.ProducerFenced.Code {
		t.Fatalf("stale epoch: %d", code)
	}
	if code, _ := h.end(1, "a", 1000, 1, true); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("stale epoch v1: %d", code)
	}
	if code, _ := h.end(3, "a", 1000, 0, true); code != 0 || h.meta("a").State != PrepareCommit {
		t.Fatalf("commit: %d %s", code, h.meta("a").State)
	}
	for commit, want := range map[bool]int16{true: kerr.ConcurrentTransactions.Code, false: kerr.InvalidTxnState.Code} {
		if code, _ := h.end(3, "a", 1000, 0, commit); code != want {
			t.Fatalf("EndTxn(commit=%v) while preparing: %d, want %d", commit, code, want)
		}
	}
	if got := h.add(3, "a", 1000, 0, "t", 2); !equal(got, []int16{kerr.ConcurrentTransactions.Code}) {
		t.Fatalf("add while preparing: %v", got)
	}
	if r := h.init("a", 60000, -1, -1, 4); r.ErrorCode != kerr.ConcurrentTransactions.Code {
		t.Fatalf("init while preparing: %+v", r)
	}
	mk := h.s.PendingMarkers()
	if len(mk) != 1 || !mk[0].Commit || mk[0].ProducerID != 1000 || mk[0].ProducerEpoch != 0 || mk[0].CoordinatorEpoch != 3 || len(mk[0].Partitions) != 3 {
		t.Fatalf("markers: %+v", mk)
	}
	h.checkReplay()
	// Markers of another epoch are not this transaction's.
	if w := h.apply(h.s.MarkersWritten(h.now, "a", 1000, 1, mk[0].Partitions)); len(w.Records) != 0 {
		t.Fatal("a stale report completed the transaction")
	}
	if w := h.apply(h.s.MarkersWritten(h.now, "a", 1000, 0, mk[0].Partitions[:2])); len(w.Records) != 0 {
		t.Fatal("completed with a marker missing")
	}
	if mk := h.s.PendingMarkers(); len(mk) != 1 || len(mk[0].Partitions) != 1 {
		t.Fatalf("markers left: %+v", mk)
	}
	h.now = 3000
	if w := h.apply(h.s.MarkersWritten(h.now, "a", 1000, 0, mk[0].Partitions[2:])); len(w.Records) != 1 {
		t.Fatal("no completion record")
	}
	if m := h.meta("a"); m.State != CompleteCommit || len(m.Partitions) != 0 || len(h.s.PendingMarkers()) != 0 {
		t.Fatalf("after markers: %+v", m)
	}
	if code, w := h.end(3, "a", 1000, 0, true); code != 0 || len(w.Records) != 0 {
		t.Fatalf("retried commit: %d", code)
	}
	if code, _ := h.end(3, "a", 1000, 0, false); code != kerr.InvalidTxnState.Code {
		t.Fatalf("abort after commit: %d", code)
	}
	// The next transaction starts from CompleteCommit.
	if got := h.add(3, "a", 1000, 0, "u", 1); !equal(got, []int16{0}) || h.meta("a").StartMs != 3000 {
		t.Fatalf("next transaction: %v %+v", got, h.meta("a"))
	}
	h.checkReplay()
}

func addReq(version int16, id string, pid int64, epoch int16, topic string, parts ...int32) *kmsg.AddPartitionsToTxnRequest {
	r := kmsg.NewPtrAddPartitionsToTxnRequest()
	r.Version, r.TransactionalID, r.ProducerID, r.ProducerEpoch = version, id, pid, epoch
	r.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: topic, Partitions: parts}}
	return r
}

// TestMarkersWaitForPrepare: no marker is listed before the PrepareCommit
// record is committed, and an answer revealing it waits for it too.
func TestMarkersWaitForPrepare(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.init("a", 60000, -1, -1, 4)
	h.add(3, "a", 1000, 0, "t", 0)
	h.hold = true
	_, w := h.end(3, "a", 1000, 0, true)
	if len(w.Records) != 1 || w.ID == 0 {
		t.Fatalf("prepare write %+v", w)
	}
	if mk := h.s.PendingMarkers(); len(mk) != 0 {
		t.Fatalf("markers before the prepare is committed: %+v", mk)
	}
	if w2 := h.apply(h.s.MarkersWritten(h.now, "a", 1000, 0, []TopicPartition{{"t", 0}})); len(w2.Records) != 0 {
		t.Fatal("completed before the prepare committed")
	}
	d := kmsg.NewPtrDescribeTransactionsRequest()
	d.TransactionalIDs = []string{"a"}
	if _, dw := h.do(d); dw.ID != w.ID {
		t.Fatalf("describe waits for write %d, want %d", dw.ID, w.ID)
	}
	h.s.CommitWrite(w.ID)
	if mk := h.s.PendingMarkers(); len(mk) != 1 {
		t.Fatalf("markers after commit: %+v", mk)
	}
}

// TestFencingAbortsOngoing: a new producer's InitProducerId aborts the
// open transaction with the epoch bumped, fencing the old producer.
func TestFencingAbortsOngoing(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.init("a", 60000, -1, -1, 4)
	h.add(3, "a", 1000, 0, "t", 0, 2)
	if r := h.init("a", 60000, -1, -1, 4); r.ErrorCode != kerr.ConcurrentTransactions.Code || r.ProducerEpoch != -1 {
		t.Fatalf("init over ongoing: %+v", r)
	}
	m := h.meta("a")
	if m.State != PrepareAbort || m.ProducerEpoch != 1 {
		t.Fatalf("after fence: %+v", m)
	}
	if code, _ := h.end(3, "a", 1000, 0, true); code != kerr.ProducerFenced.Code {
		t.Fatalf("old producer commits: %d", code)
	}
	if got := h.add(3, "a", 1000, 0, "t", 1); !equal(got, []int16{kerr.ProducerFenced.Code}) {
		t.Fatalf("old producer adds: %v", got)
	}
	h.checkReplay()
	mk := h.s.PendingMarkers()
	if len(mk) != 1 || mk[0].Commit || mk[0].ProducerEpoch != 1 {
		t.Fatalf("abort markers: %+v", mk)
	}
	h.apply(h.s.MarkersWritten(h.now, "a", 1000, 1, mk[0].Partitions))
	if r := h.init("a", 60000, -1, -1, 4); r.ErrorCode != 0 || r.ProducerEpoch != 2 {
		t.Fatalf("retry: %+v", r)
	}
	h.checkReplay()
}

// TestTimeoutAborts: an Ongoing transaction past its timeout is aborted at
// the next check, with the epoch bumped.
func TestTimeoutAborts(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.init("a", 5000, -1, -1, 4)
	h.init("b", 60000, -1, -1, 4)
	h.add(3, "a", 1000, 0, "t", 0)
	h.add(3, "b", 1001, 0, "t", 1)
	if w := h.s.NextWakeMs(); w != 1000+h.s.cfg.AbortTimedOutIntervalMs {
		t.Fatalf("wake %d", w)
	}
	h.now = 6000 // not yet due: the check runs every AbortTimedOutIntervalMs
	if w := h.apply(h.s.Tick(h.now)); len(w.Records) != 0 {
		t.Fatal("tick before the check")
	}
	h.now = 11000
	w := h.apply(h.s.Tick(h.now))
	if len(w.Records) != 1 {
		t.Fatalf("tick wrote %d records", len(w.Records))
	}
	if m := h.meta("a"); m.State != PrepareAbort || m.ProducerEpoch != 1 {
		t.Fatalf("timed out: %+v", m)
	}
	if m := h.meta("b"); m.State != Ongoing {
		t.Fatalf("b: %+v", m)
	}
	if code, _ := h.end(3, "a", 1000, 0, true); code != kerr.ProducerFenced.Code {
		t.Fatalf("late commit: %d", code)
	}
	if w := h.s.NextWakeMs(); w <= h.now && w != -1 {
		t.Fatalf("wake %d at %d", w, h.now)
	}
	h.checkReplay()
}

// TestExpiry: an idle id is removed with a tombstone.
func TestExpiry(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IDExpirationMs, cfg.RemoveExpiredIntervalMs = 10000, 1000
	h := newHarness(t, cfg)
	h.init("a", 5000, -1, -1, 4)
	h.init("b", 5000, -1, -1, 4)
	h.add(3, "b", 1001, 0, "t", 0) // Ongoing: never expires
	h.now = 20000
	w := h.apply(h.s.Tick(h.now))
	var tombs int
	for _, r := range w.Records {
		if r.Value == nil {
			tombs++
		}
	}
	if tombs != 1 || h.s.txns["a"] != nil || h.s.txns["b"] == nil {
		t.Fatalf("tombstones %d, a %v", tombs, h.s.txns["a"])
	}
	d := kmsg.NewPtrDescribeTransactionsRequest()
	d.TransactionalIDs = []string{"a", ""}
	resp, _ := h.do(d)
	st := resp.(*kmsg.DescribeTransactionsResponse).TransactionStates
	if st[0].ErrorCode != kerr.TransactionalIDNotFound.Code || st[1].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("describe: %+v", st)
	}
	h.checkReplay()
}

func TestDescribeAndList(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.init("a", 5000, -1, -1, 4)
	h.init("b", 5000, -1, -1, 4)
	h.init("c", 5000, -1, -1, 4)
	h.now = 2000
	h.add(3, "b", 1001, 0, "u", 1)
	h.add(3, "b", 1001, 0, "t", 2, 0)
	d := kmsg.NewPtrDescribeTransactionsRequest()
	d.TransactionalIDs = []string{"b"}
	resp, _ := h.do(d)
	st := resp.(*kmsg.DescribeTransactionsResponse).TransactionStates[0]
	if st.State != "Ongoing" || st.ProducerID != 1001 || st.StartTimestamp != 2000 || st.TimeoutMillis != 5000 ||
		len(st.Topics) != 2 || st.Topics[0].Topic != "t" || len(st.Topics[0].Partitions) != 2 || st.Topics[0].Partitions[0] != 0 {
		t.Fatalf("describe: %+v", st)
	}
	list := func(version int16, states []string, pids []int64, duration int64, pattern *string) *kmsg.ListTransactionsResponse {
		r := kmsg.NewPtrListTransactionsRequest()
		r.Version, r.StateFilters, r.ProducerIDFilters, r.DurationFilterMillis, r.TransactionalIDPattern = version, states, pids, duration, pattern
		resp, _ := h.do(r)
		return resp.(*kmsg.ListTransactionsResponse)
	}
	ids := func(r *kmsg.ListTransactionsResponse) (out []string) {
		for _, s := range r.TransactionStates {
			out = append(out, s.TransactionalID)
		}
		return out
	}
	pat, bad := "[ac]", "("
	h.now = 2600
	for _, tc := range []struct {
		name string
		resp *kmsg.ListTransactionsResponse
		want []string
	}{
		{"all", list(0, nil, nil, -1, nil), []string{"a", "b", "c"}},
		{"ongoing", list(0, []string{"Ongoing", "Nope"}, nil, -1, nil), []string{"b"}},
		{"only unknown states", list(0, []string{"Nope"}, nil, -1, nil), nil},
		{"producer", list(0, nil, []int64{1002, 1000}, -1, nil), []string{"a", "c"}},
		{"duration", list(1, nil, nil, 500, nil), []string{"b"}},
		{"duration too long", list(1, nil, nil, 5000, nil), nil},
		{"pattern", list(2, nil, nil, -1, &pat), []string{"a", "c"}},
	} {
		if got := ids(tc.resp); !equalStrings(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if r := list(0, []string{"Nope"}, nil, -1, nil); len(r.UnknownStateFilters) != 1 {
		t.Errorf("unknown filters %v", r.UnknownStateFilters)
	}
	if r := list(2, nil, nil, -1, &bad); r.ErrorCode != kerr.InvalidRegularExpression.Code {
		t.Errorf("bad pattern: %d", r.ErrorCode)
	}
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

// TestVerifyOnly covers AddPartitionsToTxn v4+ from a broker (KIP-890
// part 1): a verify-only transaction changes nothing; another in the same
// request adds its partitions.
func TestVerifyOnly(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	h.init("a", 5000, -1, -1, 4)
	h.init("b", 5000, -1, -1, 4)
	h.add(3, "a", 1000, 0, "t", 0)
	r := kmsg.NewPtrAddPartitionsToTxnRequest()
	r.Version = 5
	r.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{
		{TransactionalID: "a", ProducerID: 1000, ProducerEpoch: 0, VerifyOnly: true,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "t", Partitions: []int32{0, 1}}}},
		{TransactionalID: "a", ProducerID: 1000, ProducerEpoch: 7, VerifyOnly: true,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "t", Partitions: []int32{0}}}},
		{TransactionalID: "b", ProducerID: 1001, ProducerEpoch: 0,
			Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "u", Partitions: []int32{0}}}},
	}
	resp, w := h.do(r)
	txs := resp.(*kmsg.AddPartitionsToTxnResponse).Transactions
	got := []int16{txs[0].Topics[0].Partitions[0].ErrorCode, txs[0].Topics[0].Partitions[1].ErrorCode,
		txs[1].Topics[0].Partitions[0].ErrorCode, txs[2].Topics[0].Partitions[0].ErrorCode}
	want := []int16{0, kerr.TransactionAbortable.Code, kerr.ProducerFenced.Code, 0}
	if !equal(got, want) || len(w.Records) != 1 {
		t.Fatalf("codes %v want %v, %d records", got, want, len(w.Records))
	}
	if len(h.meta("a").Partitions) != 1 || h.meta("b").State != Ongoing {
		t.Fatalf("a %+v b %+v", h.meta("a"), h.meta("b"))
	}
}

// TestTransitions checks the table against Kafka's validPreviousStates.
func TestTransitions(t *testing.T) {
	for _, tc := range []struct {
		from, to State
		ok       bool
	}{
		{Empty, Ongoing, true}, {Ongoing, PrepareCommit, true}, {PrepareCommit, CompleteCommit, true},
		{Ongoing, PrepareEpochFence, true}, {PrepareEpochFence, PrepareAbort, true}, {CompleteAbort, Dead, true},
		{Empty, PrepareCommit, false}, {PrepareCommit, CompleteAbort, false}, {Ongoing, Dead, false},
		{PrepareAbort, Ongoing, false}, {Ongoing, Empty, false}, {CompleteCommit, PrepareEpochFence, false},
	} {
		if got := legalTransition(tc.from, tc.to); got != tc.ok {
			t.Errorf("%s -> %s: %v", tc.from, tc.to, got)
		}
	}
}

// TestPrepareWithoutPartitionsCompletesOnTick: a loaded PrepareAbort with
// no partitions has no marker to wait for; Tick completes it at once.
func TestPrepareWithoutPartitionsCompletesOnTick(t *testing.T) {
	s := NewShard(DefaultConfig(), &fakeIDs{}, nil)
	m := Metadata{TransactionalID: "x", ProducerID: 1, PrevProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1, TimeoutMs: 10, State: PrepareAbort, StartMs: 1}
	if err := s.Replay(KeyBytes("x"), ValueBytes(m, 1)); err != nil {
		t.Fatal(err)
	}
	if w := s.NextWakeMs(); w != -1 {
		t.Fatalf("wake %d before LoadDone", w)
	}
	s.LoadDone(100)
	if w := s.NextWakeMs(); w != 0 {
		t.Fatalf("wake %d, want now", w)
	}
	w := s.Tick(100)
	if len(w.Records) != 1 || s.txns["x"].m.State != CompleteAbort {
		t.Fatalf("%d records, state %s", len(w.Records), s.txns["x"].m.State)
	}
	s.CommitWrite(w.ID)
	if w := s.NextWakeMs(); w <= 100 {
		t.Fatalf("wake %d after Tick", w)
	}
	if err := s.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}
