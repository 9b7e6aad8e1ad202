package driver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
)

// testHost records every effect, in order, and lets the test run the sync
// jobs (or run them at once, re-entering the driver, with syncAtOnce).
type testHost struct {
	t          *testing.T
	nowMs      int64
	d          *Driver
	effects    []string
	replies    []kmsg.Response
	syncs      []Event
	syncAtOnce bool
	// inCore is set while the test is inside a driver call, to catch an
	// effect delivered from inside the broker rather than after it.
	inCore bool
}

func (h *testHost) NowMs() int64 { return h.nowMs }

func (h *testHost) Reply(req *broker.Request, resp kmsg.Response) {
	h.effects = append(h.effects, fmt.Sprintf("reply %d", req.Seq))
	h.replies = append(h.replies, resp)
}

func (h *testHost) CloseConn(id broker.ConnID, reason string) {
	h.effects = append(h.effects, fmt.Sprintf("close %d", id))
}

func (h *testHost) StartSync(token broker.SyncToken, job *partlog.SyncJob) {
	h.effects = append(h.effects, "sync")
	ev := Event{Kind: EventSyncDone, Token: token, Job: job, Err: job.Run()}
	if h.syncAtOnce {
		h.d.Handle(ev) // a synchronous syncer: re-enters the driver
		return
	}
	h.syncs = append(h.syncs, ev)
}

func (h *testHost) Propose(seq uint64, entry []byte) {
	h.effects = append(h.effects, fmt.Sprintf("propose %d", seq))
}

func (h *testHost) Send(to broker.PeerAddr, id uint64, req kmsg.Request) {
	h.effects = append(h.effects, fmt.Sprintf("send %d", to.ID))
}

type nopLogger struct{}

func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}

func newTestDriver(t *testing.T, clustered bool) (*Driver, *testHost) {
	t.Helper()
	h := &testHost{t: t, nowMs: 1_000_000}
	cfg := broker.DefaultConfig()
	env := broker.Env{Disk: memdisk.New(), Logger: nopLogger{}, Random: memdisk.NewSplitMix64(1)}
	d, err := New(Config{Broker: cfg, Clustered: clustered, CheckInvariants: true}, env, h)
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	return d, h
}

// request encodes msg as a client would and parses it as a host does.
func request(t *testing.T, seq uint64, msg kmsg.Request) *broker.Request {
	t.Helper()
	var f kmsg.RequestFormatter
	frame := f.AppendRequest(nil, msg, int32(seq))
	req, early, err := broker.ParseRequest(frame[4:])
	if err != nil || early != nil {
		t.Fatalf("parse: %v (early %v)", err, early)
	}
	req.Conn, req.Seq = 1, seq
	return req
}

func createTopic(name string) *kmsg.CreateTopicsRequest {
	r := kmsg.NewPtrCreateTopicsRequest()
	r.SetVersion(5)
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, 1, 1
	r.Topics = append(r.Topics, t)
	r.TimeoutMillis = 5000
	return r
}

func produce(topic string, acks int16) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.SetVersion(7)
	r.Acks, r.TimeoutMillis = acks, 5000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = topic
	p := kmsg.NewProduceRequestTopicPartition()
	p.Records = record.MustBuild(record.DefaultBatchOptions(), []record.Record{{Timestamp: 1, Value: []byte("v")}})
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return r
}

// createTopicLanded creates a topic on a single-node driver and delivers
// the image write's completion: the CreateTopics answer comes only in the
// driver call that delivers it (the image is durable first).
func createTopicLanded(t *testing.T, d *Driver, h *testHost, name string) {
	t.Helper()
	d.Handle(Event{Kind: EventRequest, Request: request(t, 0, createTopic(name))})
	d.Settle()
	if len(h.replies) != 0 || len(h.syncs) != 1 || !d.SyncInFlight() {
		t.Fatalf("create topics before the image write landed: %d replies, %d syncs, in flight %v (effects %v)", len(h.replies), len(h.syncs), d.SyncInFlight(), h.effects)
	}
	d.Handle(h.syncs[0])
	h.syncs = nil
	if len(h.replies) != 1 || d.SyncInFlight() {
		t.Fatalf("create topics after the image write: %d replies, want 1; in flight %v (effects %v)", len(h.replies), d.SyncInFlight(), h.effects)
	}
	if code := h.replies[0].(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create topics error code %d", code)
	}
}

// TestProduceAckWaitsForSyncEvent: an acks=1 produce is answered only in
// the driver call that delivers its sync's completion, never in the call
// that appended it or in the settle that started the sync.
func TestProduceAckWaitsForSyncEvent(t *testing.T) {
	d, h := newTestDriver(t, false)
	createTopicLanded(t, d, h, "t")
	h.effects = nil
	d.Handle(Event{Kind: EventRequest, Request: request(t, 1, produce("t", 1))})
	if len(h.effects) != 0 {
		t.Fatalf("effects before the batch settled: %v", h.effects)
	}
	d.Settle()
	if strings.Join(h.effects, ",") != "sync" || len(h.syncs) != 1 {
		t.Fatalf("after settle: effects %v, want one sync started and no reply", h.effects)
	}
	d.Handle(h.syncs[0])
	if got := strings.Join(h.effects, ","); got != "sync,reply 1" {
		t.Fatalf("effects = %s, want the reply after the sync's completion", got)
	}
	resp := h.replies[1].(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce error code %d", code)
	}
}

// TestEffectsInEmissionOrderWhenHostReenters: a host that runs a sync at
// once and hands its completion straight back (re-entering the driver
// from inside an effect) still sees every effect exactly once, in the
// order the broker produced them: the sync started, then the replies of
// both produces in request order.
func TestEffectsInEmissionOrderWhenHostReenters(t *testing.T) {
	d, h := newTestDriver(t, false)
	createTopicLanded(t, d, h, "t")
	h.effects, h.syncAtOnce = nil, true
	d.Handle(Event{Kind: EventRequest, Request: request(t, 1, produce("t", 1))})
	d.Handle(Event{Kind: EventRequest, Request: request(t, 2, produce("t", 1))})
	d.Settle()
	if got := strings.Join(h.effects, ","); got != "sync,reply 1,reply 2" {
		t.Fatalf("effects = %s, want sync,reply 1,reply 2", got)
	}
}

// TestControlledShutdownTimesOut: a clustered broker that never hears
// from a controller cannot hand its leaderships over; Settle keeps the
// deadline in its wake-up and reports the time-out once it passes.
// (One with nothing to hand over is ready at once:
// TestControlledShutdownReadyWithNothingToHandOver.)
func TestControlledShutdownTimesOut(t *testing.T) {
	d, h := newTestDriver(t, true)
	if next := d.Settle(); next.Stop != Running {
		t.Fatalf("stop %v before any shutdown", next.Stop)
	}
	shareTopicWithBroker2(d)
	d.BeginControlledShutdown(5000)
	next := d.Settle()
	if next.Stop != Running {
		t.Fatalf("stop %v at once, want running until the deadline", next.Stop)
	}
	if next.WakeMs > h.nowMs+5000 {
		t.Fatalf("wake at %d, after the deadline %d", next.WakeMs, h.nowMs+5000)
	}
	h.nowMs += 5000
	if next := d.Settle(); next.Stop != ShutdownTimedOut {
		t.Fatalf("stop %v at the deadline, want ShutdownTimedOut", next.Stop)
	}
	d.Shutdown()
}

// TestNewRefusesEffectInterfaces: the effect interfaces are the driver's;
// a host that passes its own would bypass the outbox.
func TestNewRefusesEffectInterfaces(t *testing.T) {
	h := &testHost{t: t}
	env := broker.Env{Disk: memdisk.New(), Logger: nopLogger{}, Random: memdisk.NewSplitMix64(1),
		Syncer: (*outboxSyncer)(&outbox{})}
	if _, err := New(Config{Broker: broker.DefaultConfig()}, env, h); err == nil {
		t.Fatal("New accepted an environment with its own Syncer")
	}
}

// TestControlledShutdownReadyWithNothingToHandOver: the last broker
// standing has no leadership to move; the next settle says stop.
func TestControlledShutdownReadyWithNothingToHandOver(t *testing.T) {
	d, _ := newTestDriver(t, true)
	d.BeginControlledShutdown(5000)
	if next := d.Settle(); next.Stop != ShutdownReady {
		t.Fatalf("stop %v, want ShutdownReady", next.Stop)
	}
}

// TestHostClockSteppedBack: a wall clock stepped back does not stretch a
// pending deadline; the broker's clock runs on from where it was, and
// the wake-up is given back in the host's clock.
func TestHostClockSteppedBack(t *testing.T) {
	d, h := newTestDriver(t, true)
	shareTopicWithBroker2(d)
	start := h.nowMs
	d.BeginControlledShutdown(5000) // deadline at start+5000 on the broker's clock
	h.nowMs -= 60_000               // the wall clock is stepped back a minute
	next := d.Settle()
	if next.Stop != Running || next.WakeMs > h.nowMs+5000 {
		t.Fatalf("after the step back: stop %v, wake at host %d, want running and a wake within 5000 ms of %d", next.Stop, next.WakeMs, h.nowMs)
	}
	h.nowMs += 5000
	if next := d.Settle(); next.Stop != ShutdownTimedOut {
		t.Fatalf("5 s after the step back (host %d, first start %d): stop %v, want ShutdownTimedOut", h.nowMs, start, next.Stop)
	}
}

// shareTopicWithBroker2 gives the broker (1) a partition it shares with
// another live broker (2): a leadership to hand over in a controlled
// shutdown, and no controller to ask.
func shareTopicWithBroker2(d *Driver) {
	d.ApplyDecodedMetadata(&metadata.Entry{Proposer: 2, Seq: 1, Records: []metadata.Record{
		{RegisterBroker: &metadata.RegisterBroker{ID: 1, Host: "127.0.0.1", Port: 9092, Incarnation: 1}},
		{UnfenceBroker: &metadata.UnfenceBroker{ID: 1, Incarnation: 1}},
		{RegisterBroker: &metadata.RegisterBroker{ID: 2, Host: "127.0.0.1", Port: 9093, Incarnation: 1}},
		{UnfenceBroker: &metadata.UnfenceBroker{ID: 2, Incarnation: 1}},
		{CreateTopic: &metadata.CreateTopic{Name: "t", ID: metadata.TopicID{1}, Partitions: 1, ReplicationFactor: 2,
			Assignment: [][]int32{{1, 2}}}},
	}})
}
