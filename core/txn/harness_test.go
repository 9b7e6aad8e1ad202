package txn

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
)

// fakeIDs hands out producer ids from next on; code, when set, is
// answered instead.
type fakeIDs struct {
	next int64
	code int16
}

func (f *fakeIDs) AllocateProducerID() (int64, int16) {
	if f.code != 0 {
		return -1, f.code
	}
	f.next++
	return f.next - 1, 0
}

// fakeTopics has topics t (3 partitions) and u (2); every group's offsets
// live in partition 7 of __consumer_offsets.
type fakeTopics struct{}

func (fakeTopics) PartitionExists(topic string, p int32) bool {
	return (topic == "t" && p >= 0 && p < 3) || (topic == "u" && p >= 0 && p < 2)
}
func (fakeTopics) OffsetsPartition(string) (int32, bool) { return 7, true }

// harness drives one shard as the runtime would, committing every write
// at once unless hold is set, and keeps the records written.
type harness struct {
	t    *testing.T
	s    *Shard
	ids  *fakeIDs
	log  []coord.Record
	now  int64
	ref  coord.ReplyRef
	hold bool
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, ids: &fakeIDs{next: 1000}, now: 1000}
	h.s = NewShard(cfg, h.ids, fakeTopics{})
	h.s.SetCoordinatorEpoch(3)
	h.s.LoadDone(h.now)
	return h
}

// apply takes a write: its records join the log, and it is committed
// unless hold is set.
func (h *harness) apply(w coord.Write) coord.Write {
	h.t.Helper()
	h.log = append(h.log, w.Records...)
	if !h.hold && w.ID != 0 {
		h.s.CommitWrite(w.ID)
	}
	if err := h.s.CheckInvariants(); err != nil {
		h.t.Fatalf("invariants: %v", err)
	}
	return w
}

// do handles req and returns its answer and the write.
func (h *harness) do(req kmsg.Request) (kmsg.Response, coord.Write) {
	h.t.Helper()
	h.ref++
	w, ok := h.s.Handle(h.now, h.ref, req)
	if !ok {
		h.t.Fatalf("%T not served", req)
	}
	h.apply(w)
	if len(w.Replies) != 1 || w.Replies[0].Ref != h.ref {
		h.t.Fatalf("%T: replies %+v", req, w.Replies)
	}
	return w.Replies[0].Resp, w
}

func (h *harness) init(id string, timeoutMs int32, pid int64, epoch int16, version int16) *kmsg.InitProducerIDResponse {
	h.t.Helper()
	r := kmsg.NewPtrInitProducerIDRequest()
	r.Version, r.TransactionalID, r.TransactionTimeoutMillis, r.ProducerID, r.ProducerEpoch = version, &id, timeoutMs, pid, epoch
	resp, _ := h.do(r)
	return resp.(*kmsg.InitProducerIDResponse)
}

func (h *harness) add(version int16, id string, pid int64, epoch int16, topic string, parts ...int32) []int16 {
	h.t.Helper()
	r := kmsg.NewPtrAddPartitionsToTxnRequest()
	r.Version, r.TransactionalID, r.ProducerID, r.ProducerEpoch = version, id, pid, epoch
	r.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: topic, Partitions: parts}}
	resp, _ := h.do(r)
	var codes []int16
	for _, p := range resp.(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions {
		codes = append(codes, p.ErrorCode)
	}
	return codes
}

func (h *harness) end(version int16, id string, pid int64, epoch int16, commit bool) (int16, coord.Write) {
	h.t.Helper()
	r := kmsg.NewPtrEndTxnRequest()
	r.Version, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit = version, id, pid, epoch, commit
	resp, w := h.do(r)
	return resp.(*kmsg.EndTxnResponse).ErrorCode, w
}

// meta returns id's state, failing when it is absent.
func (h *harness) meta(id string) Metadata {
	h.t.Helper()
	t := h.s.txns[id]
	if t == nil {
		h.t.Fatalf("%q absent", id)
	}
	return t.metadata()
}

// snapshot is the shard's durable state: what replaying its log gives.
func snapshot(s *Shard) map[string]Metadata {
	out := map[string]Metadata{}
	for id, t := range s.txns {
		out[id] = t.metadata()
	}
	return out
}

// replayLog loads a new shard from recs.
func replayLog(t *testing.T, cfg Config, recs []coord.Record) *Shard {
	t.Helper()
	s := NewShard(cfg, &fakeIDs{next: 1 << 40}, fakeTopics{})
	for _, r := range recs {
		if err := s.Replay(r.Key, r.Value); err != nil {
			t.Fatalf("replay: %v", err)
		}
	}
	s.LoadDone(0)
	if err := s.CheckInvariants(); err != nil {
		t.Fatalf("after replay: %v", err)
	}
	return s
}

// checkReplay asserts that replaying h's log gives h's state.
func (h *harness) checkReplay() {
	h.t.Helper()
	got, want := snapshot(replayLog(h.t, h.s.cfg, h.log)), snapshot(h.s)
	if !reflect.DeepEqual(got, want) {
		h.t.Fatalf("replay differs:\n got %+v\nwant %+v", got, want)
	}
}
