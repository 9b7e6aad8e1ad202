package broker

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// controlKeys are the control plane's API keys (registerControlAPI).
var controlKeys = []int16{27, 56, 62, 63, 67}

// controlRequests builds one request of every control-plane API, each
// of which would change the cluster if served: an ISR of the leader
// alone, a heartbeat and a registration for broker 9, a producer-id block.
func controlRequests(topic string, a leaderView) []kmsg.Request {
	ap := kmsg.NewPtrAlterPartitionRequest()
	ap.Version = 1
	ap.BrokerID = a.leader
	at := kmsg.NewAlterPartitionRequestTopic()
	at.Topic = topic
	apt := kmsg.NewAlterPartitionRequestTopicPartition()
	apt.LeaderEpoch, apt.PartitionEpoch, apt.NewISR = a.leaderEpoch, a.partitionEpoch, []int32{a.leader}
	at.Partitions = append(at.Partitions, apt)
	ap.Topics = append(ap.Topics, at)

	reg := kmsg.NewPtrBrokerRegistrationRequest()
	reg.BrokerID = 9
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = "PLAINTEXT", "rogue", 9999
	reg.Listeners = append(reg.Listeners, l)

	hb := kmsg.NewPtrBrokerHeartbeatRequest()
	hb.BrokerID = 9
	hb.BrokerEpoch = 1

	pid := kmsg.NewPtrAllocateProducerIDsRequest()
	pid.BrokerID = a.leader

	// A commit marker for a producer: it would end a transaction.
	wtm := kmsg.NewPtrWriteTxnMarkersRequest()
	wtm.Version = 1
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.Committed = 1, true
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{0}
	m.Topics = append(m.Topics, mt)
	wtm.Markers = append(wtm.Markers, m)
	return []kmsg.Request{ap, reg, hb, pid, wtm}
}

// leaderView is what an AlterPartition must carry to be accepted.
type leaderView struct{ leader, leaderEpoch, partitionEpoch int32 }

// TestControlPlaneRefusedOnClientListener: on a single node, which has
// no control listener, ApiVersions lists no control-plane API and a
// request for one closes its connection without an answer; on the
// control listener ApiVersions lists them.
func TestControlPlaneRefusedOnClientListener(t *testing.T) {
	tb := newTestBroker(t)
	apiKeys := func(l Listener) []int16 {
		before := len(tb.replier.replies)
		tb.b.HandleRequest(tb.nowMs, &Request{Conn: 1, Msg: kmsg.NewPtrApiVersionsRequest(), Listener: l})
		if len(tb.replier.replies) != before+1 {
			t.Fatalf("ApiVersions on the %s listener: %d answers", l, len(tb.replier.replies)-before)
		}
		var keys []int16
		for _, k := range tb.replier.replies[before].resp.(*kmsg.ApiVersionsResponse).ApiKeys {
			keys = append(keys, k.ApiKey)
		}
		return keys
	}
	client, control := apiKeys(ListenerClient), apiKeys(ListenerControl)
	for _, k := range controlKeys {
		if slices.Contains(client, k) {
			t.Errorf("ApiVersions on the client listener lists control-plane key %d: %v", k, client)
		}
		if !slices.Contains(control, k) {
			t.Errorf("ApiVersions on the control listener omits key %d: %v", k, control)
		}
	}
	if len(control) != len(client)+len(controlKeys) {
		t.Errorf("control listener lists %d APIs, client listener %d: want every client API on both", len(control), len(client))
	}

	tb.createTopic("t", 1, nil)
	imageBefore, _ := tb.b.image.Marshal()
	for _, req := range controlRequests("t", leaderView{leader: tb.cfg.NodeID}) {
		replies, closed := len(tb.replier.replies), len(tb.replier.closed)
		tb.send(req)
		if len(tb.replier.replies) != replies {
			t.Errorf("%s on the client listener was answered: %+v", kmsg.NameForKey(req.Key()), tb.replier.replies[replies].resp)
		}
		if len(tb.replier.closed) != closed+1 || !strings.Contains(tb.replier.closed[closed], "control listener") {
			t.Errorf("%s on the client listener: closes %v, want one naming the control listener", kmsg.NameForKey(req.Key()), tb.replier.closed[closed:])
		}
	}
	// A replica fetch from an id that is no other registered broker (this
	// broker's own, or unknown) is a client pretending to be a follower.
	for _, id := range []int32{tb.cfg.NodeID, 7} {
		f := kmsg.NewPtrFetchRequest()
		f.Version = 12
		f.ReplicaID = id
		closed := len(tb.replier.closed)
		tb.send(f)
		if len(tb.replier.closed) != closed+1 || !strings.Contains(tb.replier.closed[closed], "replica id") {
			t.Errorf("replica fetch with replica id %d on the client listener: closes %v, want one", id, tb.replier.closed[closed:])
		}
	}
	if imageAfter, _ := tb.b.image.Marshal(); string(imageAfter) != string(imageBefore) {
		t.Errorf("refused requests changed the image:\nbefore %s\nafter  %s", imageBefore, imageAfter)
	}
}

// TestClusterControlPlaneOnlyOnControlListener: in a cluster, the
// controller refuses the control plane from the client listener and the
// image stays as it was, while the same AlterPartition on the control
// listener shrinks the ISR (so the refusal is what kept it). Brokers
// register their control listener and peers are sent requests there.
func TestClusterControlPlaneOnlyOnControlListener(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.ControlHost, cfg.ControlPort = "control", 8000+cfg.NodeID
	})
	c.peerAddrs = map[int32]PeerAddr{}
	c.createTopic("t", 1, 3, nil)
	a := c.assignment("t", 0)
	if len(a.ISR) != 3 {
		t.Fatalf("ISR %v, want 3 replicas", a.ISR)
	}
	for id := int32(1); id <= 3; id++ {
		reg := c.nodes[0].b.image.Broker(id)
		if reg.ControlHost != "control" || reg.ControlPort != 8000+id || reg.Port != 9090+id {
			t.Errorf("broker %d registered as %+v, want control listener control:%d", id, *reg, 8000+id)
		}
		if to, ok := c.peerAddrs[id]; ok && (to.Host != "control" || to.Port != 8000+id) {
			t.Errorf("requests to broker %d went to %+v, want its control listener", id, to)
		}
	}
	if len(c.peerAddrs) == 0 {
		t.Errorf("no request between brokers seen")
	}
	ctrl := c.nodes[c.controller-1]
	imageBefore, _ := ctrl.b.image.Marshal()
	view := leaderView{leader: a.Leader, leaderEpoch: a.LeaderEpoch, partitionEpoch: a.PartitionEpoch}
	for _, req := range controlRequests("t", view) {
		closed := len(ctrl.replies.closed)
		answer := c.send(c.controller, req)
		for range 50 {
			c.step()
		}
		if resp := answer(); resp != nil {
			t.Errorf("%s on the client listener was answered: %+v", kmsg.NameForKey(req.Key()), resp)
		}
		if len(ctrl.replies.closed) != closed+1 {
			t.Errorf("%s on the client listener: closes %v, want one", kmsg.NameForKey(req.Key()), ctrl.replies.closed[closed:])
		}
	}
	if imageAfter, _ := ctrl.b.image.Marshal(); string(imageAfter) != string(imageBefore) {
		t.Fatalf("refused requests changed the image:\nbefore %s\nafter  %s", imageBefore, imageAfter)
	}

	// The same AlterPartition on the control listener is served.
	ap := controlRequests("t", view)[0]
	before := len(ctrl.replies.replies)
	ctrl.b.HandleRequest(c.nowMs, &Request{Conn: clientConn, Msg: ap, Listener: ListenerControl})
	c.runUntil("AlterPartition answered", func() bool { return len(ctrl.replies.replies) > before })
	if got := c.assignment("t", 0).ISR; len(got) != 1 {
		t.Fatalf("AlterPartition on the control listener left the ISR at %v, want the leader alone", got)
	}

	// A replica fetch from a registered broker is still served on the
	// client listener (as Kafka allows); from an unknown id it is not.
	follower := a.Replicas[0]
	if follower == a.Leader {
		follower = a.Replicas[1]
	}
	for _, tc := range []struct {
		id     int32
		served bool
	}{{follower, true}, {42, false}} {
		leader := c.nodes[a.Leader-1]
		id := tc.id
		f := kmsg.NewPtrFetchRequest()
		f.Version = 12
		f.ReplicaID = id
		closed := len(leader.replies.closed)
		leader.b.HandleRequest(c.nowMs, &Request{Conn: clientConn, Msg: f})
		if got := len(leader.replies.closed) > closed; got == tc.served {
			t.Errorf("replica fetch from id %d on the client listener: closed %v, want %v (%v)", id, got, !tc.served, leader.replies.closed[closed:])
		}
	}
}
