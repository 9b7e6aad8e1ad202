package controller

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// fakeHost is a broker reduced to what the controller uses: an image and
// a metadata log whose proposals the test commits (applying them to the
// image) or fails.
type fakeHost struct {
	image   *metadata.Image
	pending []pendingProposal
	logs    []string
}

type pendingProposal struct {
	records []metadata.Record
	done    func(nowMs int64, results []metadata.Result, code int16)
}

func (h *fakeHost) Image() *metadata.Image { return h.image }

func (h *fakeHost) Propose(nowMs int64, records []metadata.Record, done func(int64, []metadata.Result, int16)) {
	h.pending = append(h.pending, pendingProposal{records: records, done: done})
}

func (h *fakeHost) Info(msg string, args ...any) { h.logs = append(h.logs, msg) }
func (h *fakeHost) Warn(msg string, args ...any) { h.logs = append(h.logs, msg) }

// commit applies every pending proposal, in order, and answers it.
func (h *fakeHost) commit(nowMs int64) {
	pending := h.pending
	h.pending = nil
	for _, p := range pending {
		results := h.image.ApplyEntry(&metadata.Entry{Records: p.records})
		p.done(nowMs, results, 0)
	}
}

// proposed describes the pending proposals' records, one string each.
func (h *fakeHost) proposed() []string {
	var out []string
	for _, p := range h.pending {
		for _, r := range p.records {
			switch {
			case r.RegisterBroker != nil:
				out = append(out, fmt.Sprintf("register %d@%s:%d inc %d", r.RegisterBroker.ID, r.RegisterBroker.Host, r.RegisterBroker.Port, r.RegisterBroker.Incarnation))
			case r.FenceBroker != nil:
				out = append(out, fmt.Sprintf("fence %d", r.FenceBroker.ID))
			case r.UnfenceBroker != nil:
				out = append(out, fmt.Sprintf("unfence %d", r.UnfenceBroker.ID))
			case r.ChangeISR != nil:
				out = append(out, fmt.Sprintf("isr %s-%d %v", r.ChangeISR.Topic, r.ChangeISR.Partition, r.ChangeISR.ISR))
			case r.ResignLeadership != nil:
				out = append(out, fmt.Sprintf("resign %s-%d", r.ResignLeadership.Topic, r.ResignLeadership.Partition))
			case r.AllocateProducerIDs != nil:
				out = append(out, fmt.Sprintf("producer ids %d", r.AllocateProducerIDs.Broker))
			default:
				out = append(out, "other")
			}
		}
	}
	return out
}

const sessionMs = 1000

func newTestController() (*Controller, *fakeHost) {
	h := &fakeHost{image: metadata.NewImage()}
	c := New(Config{SessionTimeoutMs: sessionMs}, h)
	c.SetActive(true)
	return c, h
}

// answer captures the one reply a handler gives.
type answer struct {
	resp  kmsg.Response
	count int
}

func (a *answer) reply(resp kmsg.Response) { a.resp, a.count = resp, a.count+1 }

func register(t *testing.T, c *Controller, h *fakeHost, nowMs int64, id int32, inc uint64) *kmsg.BrokerRegistrationResponse {
	t.Helper()
	r := kmsg.NewPtrBrokerRegistrationRequest()
	r.BrokerID = id
	PutIncarnation(&r.IncarnationID, inc)
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Host, l.Port = "127.0.0.1", uint16(9091+id)
	r.Listeners = append(r.Listeners, l)
	var a answer
	c.BrokerRegistration(nowMs, r, a.reply)
	if a.count != 0 {
		t.Fatalf("registration answered before its record applied")
	}
	h.commit(nowMs)
	if a.count != 1 {
		t.Fatalf("registration answered %d times", a.count)
	}
	return a.resp.(*kmsg.BrokerRegistrationResponse)
}

func heartbeat(c *Controller, nowMs int64, id int32, epoch int64, mod func(*kmsg.BrokerHeartbeatRequest)) *kmsg.BrokerHeartbeatResponse {
	r := kmsg.NewPtrBrokerHeartbeatRequest()
	r.BrokerID, r.BrokerEpoch = id, epoch
	if mod != nil {
		mod(r)
	}
	var a answer
	c.BrokerHeartbeat(nowMs, r, a.reply)
	return a.resp.(*kmsg.BrokerHeartbeatResponse)
}

func TestInactiveControllerAnswersNotController(t *testing.T) {
	c, h := newTestController()
	c.SetActive(false)
	var codes []int16
	collect := func(resp kmsg.Response) {
		switch r := resp.(type) {
		case *kmsg.BrokerRegistrationResponse:
			codes = append(codes, r.ErrorCode)
		case *kmsg.BrokerHeartbeatResponse:
			codes = append(codes, r.ErrorCode)
		case *kmsg.AlterPartitionResponse:
			codes = append(codes, r.ErrorCode)
		case *kmsg.AllocateProducerIDsResponse:
			codes = append(codes, r.ErrorCode)
		}
	}
	c.BrokerRegistration(0, kmsg.NewPtrBrokerRegistrationRequest(), collect)
	c.BrokerHeartbeat(0, kmsg.NewPtrBrokerHeartbeatRequest(), collect)
	c.AlterPartition(0, kmsg.NewPtrAlterPartitionRequest(), collect)
	c.AllocateProducerIDs(0, kmsg.NewPtrAllocateProducerIDsRequest(), collect)
	if len(codes) != 4 {
		t.Fatalf("%d answers, want 4", len(codes))
	}
	for _, code := range codes {
		if code != kerr.NotController.Code {
			t.Fatalf("codes %v, want NOT_CONTROLLER for each", codes)
		}
	}
	if len(h.pending) != 0 {
		t.Fatalf("an inactive controller proposed %v", h.proposed())
	}
}

// TestRegistrationThenUnfenceOnce: a registration starts fenced; the
// broker's heartbeat asks to serve and the controller proposes one
// unfence, not a second one while the first is in flight.
func TestRegistrationThenUnfenceOnce(t *testing.T) {
	c, h := newTestController()
	resp := register(t, c, h, 0, 2, 77)
	if resp.ErrorCode != 0 || resp.BrokerEpoch != 77 {
		t.Fatalf("registration: code %d epoch %d, want 0 and 77", resp.ErrorCode, resp.BrokerEpoch)
	}
	if reg := h.image.Broker(2); reg == nil || !reg.Fenced || reg.Port != 9093 {
		t.Fatalf("registered broker = %+v, want fenced at port 9093", reg)
	}
	if hb := heartbeat(c, 10, 2, 77, nil); hb.ErrorCode != 0 || !hb.IsFenced {
		t.Fatalf("first heartbeat: code %d fenced %v", hb.ErrorCode, hb.IsFenced)
	}
	heartbeat(c, 20, 2, 77, nil)
	if got := h.proposed(); len(got) != 1 || got[0] != "unfence 2" {
		t.Fatalf("proposed %v, want one unfence", got)
	}
	h.commit(20)
	if hb := heartbeat(c, 30, 2, 77, nil); hb.IsFenced {
		t.Fatal("still fenced after the unfence applied")
	}
	if hb := heartbeat(c, 40, 2, 76, nil); hb.ErrorCode != kerr.StaleBrokerEpoch.Code {
		t.Fatalf("heartbeat of an old incarnation: code %d, want STALE_BROKER_EPOCH", hb.ErrorCode)
	}
}

// TestSessionExpiryFences: a broker silent for longer than the session
// is fenced once; the session starts when the controller first looks,
// so a new controller does not fence at once.
func TestSessionExpiryFences(t *testing.T) {
	c, h := newTestController()
	register(t, c, h, 0, 2, 5)
	heartbeat(c, 0, 2, 5, nil)
	h.commit(0)
	c.SetActive(true) // a controller failover: sessions start afresh
	c.Tick(5000)
	if len(h.pending) != 0 {
		t.Fatalf("fenced at first look: %v", h.proposed())
	}
	if wake := c.NextWakeMs(1 << 62); wake != 5000+sessionMs+1 {
		t.Fatalf("next wake %d, want %d", wake, 5000+sessionMs+1)
	}
	c.Tick(5000 + sessionMs)
	if len(h.pending) != 0 {
		t.Fatal("fenced at exactly the session timeout")
	}
	c.Tick(5000 + sessionMs + 1)
	c.Tick(5000 + sessionMs + 2)
	if got := h.proposed(); len(got) != 1 || got[0] != "fence 2" {
		t.Fatalf("proposed %v, want one fence", got)
	}
	h.commit(7000)
	if !h.image.Broker(2).Fenced {
		t.Fatal("broker not fenced after the fence applied")
	}
}

// TestControlledShutdownHeartbeat: WantShutdown fences the broker; once
// fenced, the answer says it may shut down.
func TestControlledShutdownHeartbeat(t *testing.T) {
	c, h := newTestController()
	register(t, c, h, 0, 3, 9)
	heartbeat(c, 0, 3, 9, nil)
	h.commit(0)
	want := func(r *kmsg.BrokerHeartbeatRequest) { r.WantShutdown = true }
	if hb := heartbeat(c, 10, 3, 9, want); hb.ShouldShutdown {
		t.Fatal("told to shut down before it was fenced")
	}
	heartbeat(c, 11, 3, 9, want)
	if got := h.proposed(); len(got) != 1 || got[0] != "fence 3" {
		t.Fatalf("proposed %v, want one fence", got)
	}
	h.commit(12)
	if hb := heartbeat(c, 13, 3, 9, want); !hb.ShouldShutdown {
		t.Fatal("fenced broker not told to shut down")
	}
}

// TestAlterPartitionRecords: an ISR that keeps the leader is a ChangeISR,
// one without it a resignation; an empty request is invalid.
func TestAlterPartitionRecords(t *testing.T) {
	c, h := newTestController()
	r := kmsg.NewPtrAlterPartitionRequest()
	r.BrokerID = 1
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic = "t"
	keep := kmsg.NewAlterPartitionRequestTopicPartition()
	keep.Partition, keep.NewISR = 0, []int32{1, 2}
	leave := kmsg.NewAlterPartitionRequestTopicPartition()
	leave.Partition, leave.NewISR = 1, []int32{2}
	rt.Partitions = append(rt.Partitions, keep, leave)
	r.Topics = append(r.Topics, rt)
	var a answer
	c.AlterPartition(0, r, a.reply)
	if got := h.proposed(); len(got) != 2 || got[0] != "isr t-0 [1 2]" || got[1] != "resign t-1" {
		t.Fatalf("proposed %v", got)
	}
	h.commit(0) // the image has no topic t: each record is refused
	resp := a.resp.(*kmsg.AlterPartitionResponse)
	if a.count != 1 || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("answer %+v (%d answers)", resp, a.count)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("partition %d: code %d, want UNKNOWN_TOPIC_OR_PARTITION", p.Partition, p.ErrorCode)
		}
	}
	var empty answer
	c.AlterPartition(0, kmsg.NewPtrAlterPartitionRequest(), empty.reply)
	if code := empty.resp.(*kmsg.AlterPartitionResponse).ErrorCode; code != kerr.InvalidRequest.Code {
		t.Fatalf("empty request: code %d, want INVALID_REQUEST", code)
	}
}

// TestProducerIDBlocksNeverOverlap: two allocations get disjoint blocks.
func TestProducerIDBlocksNeverOverlap(t *testing.T) {
	c, h := newTestController()
	var a, b answer
	r := kmsg.NewPtrAllocateProducerIDsRequest()
	r.BrokerID = 1
	c.AllocateProducerIDs(0, r, a.reply)
	c.AllocateProducerIDs(0, r, b.reply)
	h.commit(0)
	ra, rb := a.resp.(*kmsg.AllocateProducerIDsResponse), b.resp.(*kmsg.AllocateProducerIDsResponse)
	if ra.ErrorCode != 0 || rb.ErrorCode != 0 || ra.ProducerIDLen != ProducerIDBlockSize {
		t.Fatalf("answers %+v %+v", ra, rb)
	}
	if ra.ProducerIDStart+int64(ra.ProducerIDLen) > rb.ProducerIDStart {
		t.Fatalf("blocks overlap: %d+%d and %d", ra.ProducerIDStart, ra.ProducerIDLen, rb.ProducerIDStart)
	}
}

func TestIncarnationRoundTrip(t *testing.T) {
	var id [16]byte
	PutIncarnation(&id, 0x0123456789abcdef)
	if got := IncarnationOf(id); got != 0x0123456789abcdef {
		t.Fatalf("round trip = %x", got)
	}
}
