package membership

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/controller"
	"github.com/chronik-streaming/chronik/core/metadata"
)

type sent struct {
	req  kmsg.Request
	done func(nowMs int64, resp kmsg.Response, err error)
}

type fakeHost struct {
	image      *metadata.Image
	controller int32
	sent       []sent
}

func (h *fakeHost) Image() *metadata.Image { return h.image }
func (h *fakeHost) Controller() int32      { return h.controller }
func (h *fakeHost) SendToController(nowMs int64, req kmsg.Request, done func(int64, kmsg.Response, error)) {
	h.sent = append(h.sent, sent{req, done})
}
func (h *fakeHost) Info(string, ...any) {}

const (
	self     = 1
	inc      = 42
	interval = 250
)

func newTestMember(clustered bool) (*Member, *fakeHost) {
	h := &fakeHost{image: metadata.NewImage(), controller: 3}
	m := New(Config{NodeID: self, ClusterID: "c", Clustered: clustered, HeartbeatIntervalMs: interval,
		Listeners: []Listener{{"PLAINTEXT", "h", 9092}, {controller.ControlListenerName, "h", 8001}}}, inc, h)
	return m, h
}

func (h *fakeHost) apply(t *testing.T, records ...metadata.Record) {
	t.Helper()
	for i, r := range h.image.ApplyEntry(&metadata.Entry{Records: records}) {
		if r.Err != nil {
			t.Fatalf("record %d: %v", i, r.Err)
		}
	}
}

func registerSelf(t *testing.T, h *fakeHost) {
	h.apply(t, metadata.Record{RegisterBroker: &metadata.RegisterBroker{ID: self, Host: "h", Port: 9092, Incarnation: inc}},
		metadata.Record{UnfenceBroker: &metadata.UnfenceBroker{ID: self, Incarnation: inc}})
}

// TestRegistersUntilTheImageHoldsIt: one registration in flight at a
// time, carrying the incarnation and both listeners; a failed one is
// retried after the interval.
func TestRegistersUntilTheImageHoldsIt(t *testing.T) {
	m, h := newTestMember(true)
	m.Tick(1000)
	m.Tick(1001)
	if len(h.sent) != 1 {
		t.Fatalf("%d requests, want one registration in flight", len(h.sent))
	}
	reg := h.sent[0].req.(*kmsg.BrokerRegistrationRequest)
	if controller.IncarnationOf(reg.IncarnationID) != inc || len(reg.Listeners) != 2 ||
		reg.Listeners[0].Port != 9092 || reg.Listeners[1].Name != controller.ControlListenerName {
		t.Fatalf("registration %+v", reg)
	}
	h.sent[0].done(1010, nil, errors.New("connection refused"))
	if wake := m.NextWakeMs(1 << 62); wake != 1000+interval {
		t.Fatalf("next wake %d, want the retry at %d", wake, 1000+interval)
	}
	m.Tick(1000 + interval)
	if len(h.sent) != 2 {
		t.Fatalf("%d requests, want the retry", len(h.sent))
	}
	if m.Registered() {
		t.Fatal("registered before the image holds it")
	}
	registerSelf(t, h)
	if !m.Registered() || !m.Unfenced() {
		t.Fatal("not registered and unfenced after the image holds it")
	}
}

// TestHeartbeatsEveryInterval: a registered member heartbeats with its
// incarnation as the broker epoch, one at a time, every interval.
func TestHeartbeatsEveryInterval(t *testing.T) {
	m, h := newTestMember(true)
	registerSelf(t, h)
	m.Tick(0)
	m.Tick(1)
	if len(h.sent) != 1 {
		t.Fatalf("%d requests, want one heartbeat", len(h.sent))
	}
	hb := h.sent[0].req.(*kmsg.BrokerHeartbeatRequest)
	if hb.BrokerEpoch != inc || hb.WantShutdown {
		t.Fatalf("heartbeat %+v", hb)
	}
	h.sent[0].done(5, kmsg.NewPtrBrokerHeartbeatResponse(), nil)
	m.Tick(interval - 1)
	if len(h.sent) != 1 {
		t.Fatal("heartbeat before the interval passed")
	}
	m.Tick(interval)
	if len(h.sent) != 2 {
		t.Fatal("no heartbeat after the interval")
	}
}

// TestControlledShutdown: with a leadership to hand over, the member asks
// at once and keeps asking until the controller says it may stop.
func TestControlledShutdown(t *testing.T) {
	m, h := newTestMember(true)
	registerSelf(t, h)
	h.apply(t, metadata.Record{RegisterBroker: &metadata.RegisterBroker{ID: 2, Host: "h", Port: 9093, Incarnation: 7}},
		metadata.Record{UnfenceBroker: &metadata.UnfenceBroker{ID: 2, Incarnation: 7}},
		metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "t", ID: metadata.TopicID{1}, Partitions: 1, ReplicationFactor: 2, Assignment: [][]int32{{1, 2}}}})
	m.BeginControlledShutdown(100)
	if m.ShutdownReady() || len(h.sent) != 1 || !h.sent[0].req.(*kmsg.BrokerHeartbeatRequest).WantShutdown {
		t.Fatalf("ready %v, %d requests: want one heartbeat asking to shut down", m.ShutdownReady(), len(h.sent))
	}
	h.sent[0].done(110, kmsg.NewPtrBrokerHeartbeatResponse(), nil)
	if wake := m.NextWakeMs(1 << 62); wake != 110 {
		t.Fatalf("next wake %d, want 110: ask again at once", wake)
	}
	m.Tick(110)
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	resp.ShouldShutdown = true
	h.sent[1].done(120, resp, nil)
	if !m.ShutdownReady() {
		t.Fatal("not ready after the controller said it may shut down")
	}
}

// TestShutdownReadyAtOnce: the last broker standing, and a single node,
// have nothing to hand over.
func TestShutdownReadyAtOnce(t *testing.T) {
	for _, clustered := range []bool{true, false} {
		m, h := newTestMember(clustered)
		registerSelf(t, h)
		m.BeginControlledShutdown(0)
		if !m.ShutdownReady() || len(h.sent) != 0 {
			t.Fatalf("clustered=%v: ready %v with %d requests, want ready and none", clustered, m.ShutdownReady(), len(h.sent))
		}
	}
}

// TestNothingSentWithoutController: no controller known (or the broker
// closed), nothing to send and no wake-up for it.
func TestNothingSentWithoutController(t *testing.T) {
	m, h := newTestMember(true)
	h.controller = -1
	m.Tick(0)
	if len(h.sent) != 0 || m.NextWakeMs(99) != 99 {
		t.Fatalf("sent %d, wake %d", len(h.sent), m.NextWakeMs(99))
	}
	h.controller = 3
	m.ControllerChanged(5)
	if len(h.sent) != 1 {
		t.Fatal("no registration once a controller is known")
	}
}
