package broker

// A miniature cluster for testing replication in core: three brokers over
// memdisks, a metadata log that commits the controller's proposals in
// order, and a FIFO network that carries broker-to-broker requests as
// encoded bytes. Everything runs on the test goroutine, one delivery at a
// time; the sim package explores the same paths under faults.

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
)

type testCluster struct {
	t          *testing.T
	nodes      []*clusterNode // index = id-1
	log        [][]byte       // committed metadata entries
	controller int32
	queue      []func() // deliveries in flight, FIFO
	nowMs      int64
	random     *memdisk.SplitMix64
	// decoded: even-numbered nodes apply entries decoded here, through
	// ApplyDecodedMetadata, as the simulator does.
	decoded bool
	// peerAddrs, when not nil, keeps the last address each broker was
	// sent a request at.
	peerAddrs map[int32]PeerAddr
}

type clusterNode struct {
	c       *testCluster
	id      int32
	disk    *memdisk.Disk
	b       *Broker
	syncer  *queueSyncer
	replies *recordingReplier
	applied int
	up      bool
	// isolated nodes neither send nor receive anything, metadata included.
	isolated bool
	// calls maps the requests this node serves for peers to their callers.
	calls map[*Request]peerOrigin
}

type peerOrigin struct {
	from *clusterNode
	id   uint64
}

func newTestCluster(t *testing.T, n int, opts ...func(*Config)) *testCluster {
	c := &testCluster{t: t, nowMs: 1_000_000, controller: 1, random: memdisk.NewSplitMix64(7)}
	for i := 1; i <= n; i++ {
		node := &clusterNode{c: c, id: int32(i), disk: memdisk.New()}
		c.nodes = append(c.nodes, node)
		node.start(opts...)
	}
	c.runUntil("all brokers unfenced", func() bool {
		for _, node := range c.nodes {
			if !node.b.unfenced() {
				return false
			}
		}
		return true
	})
	return c
}

func (n *clusterNode) start(opts ...func(*Config)) {
	cfg := DefaultConfig()
	cfg.NodeID = n.id
	cfg.AdvertisedPort = 9090 + n.id
	for _, o := range opts {
		o(&cfg)
	}
	n.syncer = &queueSyncer{}
	n.replies = &recordingReplier{}
	n.calls = map[*Request]peerOrigin{}
	env := Env{Disk: n.disk, Replier: (*clusterReplier)(n), Syncer: n.syncer, Logger: prefixLogger{n.c.t, n.id},
		Random: memdisk.NewSplitMix64(n.c.random.Uint64()), Quorum: (*clusterQuorum)(n), Network: (*clusterNetwork)(n)}
	b, err := New(cfg, env, n.c.nowMs)
	if err != nil {
		n.c.t.Fatalf("node %d: %v", n.id, err)
	}
	n.b, n.up, n.applied = b, true, 0
	b.SetController(n.c.nowMs, n.c.controller)
}

// kill stops a node abruptly: its page cache survives (kill -9), its
// in-flight messages are lost.
func (n *clusterNode) kill() {
	n.up = false
	// The process dies, and with it its lock on the data directory.
	if err := n.b.ReleaseDisk(); err != nil {
		n.c.t.Fatalf("node %d: %v", n.id, err)
	}
	n.b = nil
	// Connections to it break: callers waiting on it get errors.
	for _, req := range sortedRequests(n.calls) {
		origin := n.calls[req]
		from, sender := origin.from, origin.from.b
		n.c.queue = append(n.c.queue, func() {
			if from.b == sender && from.up {
				sender.PeerResponse(n.c.nowMs, origin.id, nil, fmt.Errorf("connection reset"))
			}
		})
	}
	n.calls = map[*Request]peerOrigin{}
}

// sortedRequests orders a node's pending peer requests by caller and id.
func sortedRequests(m map[*Request]peerOrigin) []*Request {
	out := make([]*Request, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := m[out[i]], m[out[j]]
		if a.from.id != b.from.id {
			return a.from.id < b.from.id
		}
		return a.id < b.id
	})
	return out
}

type prefixLogger struct {
	t  *testing.T
	id int32
}

func (l prefixLogger) Info(msg string, args ...any)  { l.t.Logf("[%d] INFO %s %v", l.id, msg, args) }
func (l prefixLogger) Warn(msg string, args ...any)  { l.t.Logf("[%d] WARN %s %v", l.id, msg, args) }
func (l prefixLogger) Error(msg string, args ...any) { l.t.Logf("[%d] ERROR %s %v", l.id, msg, args) }

type clusterQuorum clusterNode

func (q *clusterQuorum) Propose(seq uint64, entry []byte) {
	n := (*clusterNode)(q)
	c := n.c
	b := n.b
	c.queue = append(c.queue, func() {
		if n.b != b || !n.up {
			return
		}
		if n.id != c.controller || n.isolated {
			b.ProposalFailed(c.nowMs, seq)
			return
		}
		c.log = append(c.log, entry)
	})
}

type clusterNetwork clusterNode

func (net *clusterNetwork) Send(to PeerAddr, id uint64, req kmsg.Request) {
	from := (*clusterNode)(net)
	c := from.c
	wire := req.AppendTo(nil)
	key, version := req.Key(), req.GetVersion()
	sender := from.b
	c.queue = append(c.queue, func() {
		target := c.nodes[to.ID-1]
		if !target.up || target.isolated || from.isolated || !from.up || from.b != sender {
			if from.up && from.b == sender {
				c.queue = append(c.queue, func() {
					if from.b == sender {
						sender.PeerResponse(c.nowMs, id, nil, fmt.Errorf("broker %d unreachable", to.ID))
					}
				})
			}
			return
		}
		msg := kmsg.RequestForKey(key)
		msg.SetVersion(version)
		if err := msg.ReadFrom(wire); err != nil {
			c.t.Fatalf("decode peer request: %v", err)
		}
		if c.peerAddrs != nil {
			c.peerAddrs[to.ID] = to
		}
		r := &Request{Conn: ConnID(1000 + from.id), Msg: msg, Listener: ListenerControl}
		target.calls[r] = peerOrigin{from: from, id: id}
		target.b.HandleRequest(c.nowMs, r)
		target.b.CheckInvariants()
	})
}

type clusterReplier clusterNode

func (r *clusterReplier) Reply(req *Request, resp kmsg.Response) {
	n := (*clusterNode)(r)
	origin, ok := n.calls[req]
	if !ok {
		n.replies.Reply(req, resp)
		return
	}
	delete(n.calls, req)
	c := n.c
	wire := resp.AppendTo(nil)
	from := origin.from
	sender := from.b
	c.queue = append(c.queue, func() {
		if !from.up || from.b != sender || from.isolated || n.isolated {
			if from.up && from.b == sender {
				sender.PeerResponse(c.nowMs, origin.id, nil, fmt.Errorf("connection lost"))
			}
			return
		}
		back := kmsg.ResponseForKey(resp.Key())
		back.SetVersion(resp.GetVersion())
		if err := back.ReadFrom(wire); err != nil {
			c.t.Fatalf("decode peer response: %v", err)
		}
		sender.PeerResponse(c.nowMs, origin.id, back, nil)
		sender.CheckInvariants()
	})
}

func (r *clusterReplier) CloseConn(conn ConnID, reason string) {
	if conn == clientConn {
		r.replies.CloseConn(conn, reason)
		return
	}
	(*clusterNode)(r).c.t.Fatalf("node %d closed a connection: %s", r.id, reason)
}

// clientConn is the connection of the test's client requests (send);
// peers' requests come on connections 1000 + their id.
const clientConn ConnID = 1

// step does one unit of work: apply committed metadata, deliver one
// message, run syncs, or else advance the clock by 10 ms and tick.
func (c *testCluster) step() {
	for _, n := range c.nodes {
		if !n.up || n.isolated {
			continue
		}
		for n.applied < len(c.log) {
			if e, err := metadata.DecodeEntry(c.log[n.applied]); c.decoded && n.id%2 == 0 && err == nil {
				n.b.ApplyDecodedMetadata(c.nowMs, e)
			} else {
				n.b.ApplyMetadata(c.nowMs, c.log[n.applied])
			}
			n.applied++
			n.b.CheckInvariants()
		}
	}
	if len(c.queue) > 0 {
		next := c.queue[0]
		c.queue = c.queue[1:]
		next()
		c.flushAll()
		return
	}
	synced := false
	for _, n := range c.nodes {
		if !n.up {
			continue
		}
		for len(n.syncer.jobs) > 0 {
			jobs := n.syncer.jobs
			n.syncer.jobs = nil
			for _, j := range jobs {
				n.b.SyncDone(c.nowMs, j.token, j.job, j.job.Run())
				n.b.CheckInvariants()
				synced = true
			}
		}
	}
	if synced {
		c.flushAll()
		return
	}
	c.nowMs += 10
	for _, n := range c.nodes {
		if n.up {
			n.b.Tick(c.nowMs)
			n.b.CheckInvariants()
		}
	}
	c.flushAll()
}

func (c *testCluster) flushAll() {
	for _, n := range c.nodes {
		if n.up {
			n.b.Flush()
		}
	}
}

// runUntil steps until cond holds, failing after 20 virtual seconds.
func (c *testCluster) runUntil(what string, cond func() bool) {
	c.t.Helper()
	deadline := c.nowMs + 20_000
	for !cond() {
		if c.nowMs > deadline {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		c.step()
	}
}

// send delivers a client request to node id and returns the index of its
// answer in that node's replies, to be read once present.
func (c *testCluster) send(id int32, msg kmsg.Request) func() kmsg.Response {
	n := c.nodes[id-1]
	before := len(n.replies.replies)
	b := n.b
	b.HandleRequest(c.nowMs, &Request{Conn: clientConn, Msg: msg})
	b.CheckInvariants()
	c.flushAll()
	return func() kmsg.Response {
		if n.b != b || len(n.replies.replies) <= before {
			return nil
		}
		return n.replies.replies[before].resp
	}
}

// do sends a client request and runs the cluster until it is answered.
func (c *testCluster) do(id int32, msg kmsg.Request) kmsg.Response {
	c.t.Helper()
	answer := c.send(id, msg)
	c.runUntil(fmt.Sprintf("answer to %T from node %d", msg, id), func() bool { return answer() != nil })
	return answer()
}

func (c *testCluster) createTopic(name string, partitions int32, rf int16, configs map[string]string) {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for _, k := range sortedKeys(configs) {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name = k
		v := configs[k]
		cfg.Value = &v
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	resp := c.do(c.controller, req).(*kmsg.CreateTopicsResponse)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		c.t.Fatalf("create topic %s: error %d", name, code)
	}
	c.runUntil("topic open everywhere", func() bool {
		for _, n := range c.nodes {
			if n.up && n.b.topics[name] == nil {
				return false
			}
		}
		return true
	})
}

// assignment is the image's view of a partition on the controller.
func (c *testCluster) assignment(topic string, p int32) metadata.Partition {
	return c.nodes[c.controller-1].b.image.Topic(topic).Assignments[p]
}

// produceTo sends an acks=all produce of n records to node id and
// returns a function giving the answer's partition entry once it arrives.
func (c *testCluster) produceTo(id int32, topic string, p int32, n int, acks int16) func() *kmsg.ProduceResponseTopicPartition {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = p
	rp.Records = testBatch(c.nowMs, n)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	answer := c.send(id, req)
	return func() *kmsg.ProduceResponseTopicPartition {
		if r := answer(); r != nil {
			return &r.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		}
		return nil
	}
}

func (c *testCluster) produce(topic string, p int32, n int) *kmsg.ProduceResponseTopicPartition {
	c.t.Helper()
	leader := c.assignment(topic, p).Leader
	answer := c.produceTo(leader, topic, p, n, -1)
	c.runUntil("produce answer", func() bool { return answer() != nil })
	return answer()
}

// partitionLog returns node id's log of topic-p.
func (c *testCluster) partitionLog(id int32, topic string, p int32) *partlog.Log {
	return c.nodes[id-1].b.topics[topic].partitions[p].log
}

// readAll reads a log's records below limit as raw batches.
func readAll(t *testing.T, l *partlog.Log, limit int64) []byte {
	t.Helper()
	res, err := l.Read(l.LogStartOffset(), 1<<30, limit)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return res.Records
}

// requireAgreement checks that every up replica holds the same batches
// up to the leader's high watermark.
func (c *testCluster) requireAgreement(topic string, p int32) {
	c.t.Helper()
	a := c.assignment(topic, p)
	hw := c.partitionLog(a.Leader, topic, p).HighWatermark()
	want := readAll(c.t, c.partitionLog(a.Leader, topic, p), hw)
	for _, id := range a.Replicas {
		n := c.nodes[id-1]
		if !n.up {
			continue
		}
		got := readAll(c.t, c.partitionLog(id, topic, p), hw)
		if !bytes.Equal(got, want) {
			c.t.Fatalf("replica %d of %s-%d disagrees with leader %d below HW %d (%d vs %d bytes)", id, topic, p, a.Leader, hw, len(got), len(want))
		}
	}
}

func TestClusterAcksAllReachesEveryISRMember(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("t", 3, 3, map[string]string{"min.insync.replicas": "2"})
	leaders := map[int32]bool{}
	for p := int32(0); p < 3; p++ {
		a := c.assignment("t", p)
		leaders[a.Leader] = true
		if len(a.ISR) != 3 {
			t.Fatalf("partition %d ISR %v", p, a.ISR)
		}
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders not spread: %v", leaders)
	}
	for i := 0; i < 5; i++ {
		for p := int32(0); p < 3; p++ {
			sp := c.produce("t", p, 3)
			if sp.ErrorCode != 0 || sp.BaseOffset != int64(3*i) {
				t.Fatalf("produce %d to %d: code %d base %d", i, p, sp.ErrorCode, sp.BaseOffset)
			}
			// Acknowledged means durable on every ISR member.
			for _, id := range c.assignment("t", p).ISR {
				if end := c.partitionLog(id, "t", p).DurableEndOffset(); end < int64(3*i+3) {
					t.Fatalf("acknowledged offset %d but replica %d has durable end %d", 3*i+2, id, end)
				}
			}
		}
	}
	for p := int32(0); p < 3; p++ {
		c.requireAgreement("t", p)
	}
}

// TestClusterDecodedMetadataApplies: a node given decoded entries
// (ApplyDecodedMetadata) builds the same image as the nodes that decode
// the bytes themselves, through topic creation, produce and a leader
// failover.
func TestClusterDecodedMetadataApplies(t *testing.T) {
	c := newTestCluster(t, 3)
	c.decoded = true
	c.createTopic("t", 3, 3, map[string]string{"min.insync.replicas": "2"})
	for p := int32(0); p < 3; p++ {
		if sp := c.produce("t", p, 3); sp.ErrorCode != 0 {
			t.Fatalf("produce to %d: code %d", p, sp.ErrorCode)
		}
	}
	// A partition led by a broker other than the controller (whose image
	// assignment reads).
	p := int32(0)
	for c.assignment("t", p).Leader == c.controller {
		p++
	}
	old := c.assignment("t", p)
	c.nodes[old.Leader-1].kill()
	c.runUntil("a new leader", func() bool {
		a := c.assignment("t", p)
		return a.Leader != old.Leader && a.Leader != metadata.NoLeader
	})
	var want []byte
	for _, n := range c.nodes {
		if !n.up {
			continue
		}
		got, err := n.b.SnapshotMetadata()
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = got
		} else if !bytes.Equal(got, want) {
			t.Fatalf("node %d's image differs from the others':\n%s\n%s", n.id, got, want)
		}
		// The append variant writes the same bytes after dst's, over
		// a reused buffer too.
		buf := n.b.AppendSnapshotMetadata(append(make([]byte, 0, 8), "prefix"...))
		if !bytes.Equal(buf[:6], []byte("prefix")) || !bytes.Equal(buf[6:], got) {
			t.Fatalf("node %d: AppendSnapshotMetadata wrote %q, want prefix then %q", n.id, buf, got)
		}
		if again := n.b.AppendSnapshotMetadata(buf[:0]); !bytes.Equal(again, got) {
			t.Fatalf("node %d: AppendSnapshotMetadata into a reused buffer wrote %q, want %q", n.id, again, got)
		}
	}
}

func TestClusterLeaderFailoverAndRejoin(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil) // placement rotates: t's leader is not the controller
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	c.produce("t", 0, 5)
	old := c.assignment("t", 0)
	if old.Leader == c.controller {
		t.Fatalf("placement put the leader on the controller: %s", old.String())
	}
	c.nodes[old.Leader-1].kill()
	c.runUntil("a new leader", func() bool {
		a := c.assignment("t", 0)
		return a.Leader != old.Leader && a.Leader != metadata.NoLeader
	})
	a := c.assignment("t", 0)
	if a.LeaderEpoch <= old.LeaderEpoch || len(a.ISR) != 2 {
		t.Fatalf("after failover: %s", a.String())
	}
	sp := c.produce("t", 0, 2)
	if sp.ErrorCode != 0 || sp.BaseOffset != 5 {
		t.Fatalf("produce after failover: code %d base %d", sp.ErrorCode, sp.BaseOffset)
	}
	c.nodes[old.Leader-1].start()
	c.runUntil("old leader back in the ISR", func() bool {
		return len(c.assignment("t", 0).ISR) == 3
	})
	c.produce("t", 0, 1)
	c.runUntil("all replicas caught up", func() bool {
		for _, n := range c.nodes {
			if n.b.topics["t"].partitions[0].log.LogEndOffset() != 8 {
				return false
			}
		}
		return true
	})
	c.requireAgreement("t", 0)
}

func TestClusterNotEnoughReplicas(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "3"})
	a := c.assignment("t", 0)
	var follower int32
	for _, id := range a.Replicas {
		if id != a.Leader && id != c.controller {
			follower = id
		}
	}
	if follower == 0 {
		for _, id := range a.Replicas {
			if id != a.Leader {
				follower = id
			}
		}
	}
	c.nodes[follower-1].kill()
	c.runUntil("ISR shrinks", func() bool { return len(c.assignment("t", 0).ISR) == 2 })
	sp := c.produce("t", 0, 1)
	if sp.ErrorCode != kerrNotEnoughReplicas {
		t.Fatalf("produce with ISR 2 < min.insync.replicas 3: code %d", sp.ErrorCode)
	}
}

// An isolated leader keeps appending but can acknowledge nothing; the new
// leader's log wins and the old leader truncates its divergent suffix by
// epoch when it returns.
func TestClusterIsolatedLeaderDivergesAndTruncates(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil) // placement rotates: t's leader is not the controller
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	c.produce("t", 0, 4)
	old := c.assignment("t", 0)
	if old.Leader == c.controller {
		t.Fatalf("placement put the leader on the controller: %s", old.String())
	}
	isolated := c.nodes[old.Leader-1]
	isolated.isolated = true
	stale := c.produceTo(old.Leader, "t", 0, 3, -1)
	c.runUntil("a new leader", func() bool { return c.assignment("t", 0).Leader != old.Leader })
	if sp := stale(); sp != nil && sp.ErrorCode == 0 {
		t.Fatalf("isolated leader acknowledged an acks=all produce at %d", sp.BaseOffset)
	}
	c.produce("t", 0, 2)
	isolated.isolated = false
	c.runUntil("old leader rejoins the ISR", func() bool { return len(c.assignment("t", 0).ISR) == 3 })
	c.produce("t", 0, 1)
	c.runUntil("caught up", func() bool {
		return c.partitionLog(old.Leader, "t", 0).LogEndOffset() == c.partitionLog(c.assignment("t", 0).Leader, "t", 0).LogEndOffset()
	})
	c.requireAgreement("t", 0)
	if sp := stale(); sp == nil || sp.ErrorCode == 0 {
		t.Fatalf("stale produce answer %+v", sp)
	}
}

// The KIP-101 case: leader A appends a batch only it has (the followers
// are cut off), fails; B leads and appends different data at the same
// offsets; A returns as a follower and must replace its suffix with B's,
// and after B fails too, no acknowledged record is lost.
func TestClusterDoubleFailoverKeepsAcknowledgedRecords(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	acked := c.produce("t", 0, 3)
	if acked.ErrorCode != 0 {
		t.Fatalf("first produce: %d", acked.ErrorCode)
	}
	a := c.assignment("t", 0).Leader
	c.nodes[a-1].isolated = true
	c.produceTo(a, "t", 0, 5, -1) // never acknowledged
	c.runUntil("b leads", func() bool { l := c.assignment("t", 0).Leader; return l != a && l != metadata.NoLeader })
	b := c.assignment("t", 0).Leader
	if sp := c.produce("t", 0, 2); sp.ErrorCode != 0 || sp.BaseOffset != 3 {
		t.Fatalf("produce on b: %d at %d", sp.ErrorCode, sp.BaseOffset)
	}
	c.nodes[a-1].isolated = false
	c.runUntil("a back in the ISR", func() bool { return len(c.assignment("t", 0).ISR) == 3 })
	if b == c.controller {
		t.Fatalf("b %d is the controller; the test kills b", b)
	}
	c.nodes[b-1].kill()
	c.runUntil("a third leader", func() bool { l := c.assignment("t", 0).Leader; return l != b && l != metadata.NoLeader })
	sp := c.produce("t", 0, 1)
	if sp.ErrorCode != 0 || sp.BaseOffset != 5 {
		t.Fatalf("produce after the second failover: %d at %d", sp.ErrorCode, sp.BaseOffset)
	}
	c.requireAgreement("t", 0)
}

func TestClusterControlledShutdownMovesLeadership(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 3, nil)
	leader := c.assignment("t", 0).Leader
	n := c.nodes[leader-1]
	n.b.BeginControlledShutdown(c.nowMs)
	c.runUntil("shutdown ready", func() bool { return n.b.ShutdownReady() })
	a := c.assignment("t", 0)
	if a.Leader == leader || metadataContains(a.ISR, leader) {
		t.Fatalf("after controlled shutdown of %d: %s", leader, a.String())
	}
}

func TestClusterAdminNeedsTheController(t *testing.T) {
	c := newTestCluster(t, 3)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "x", 1, 3
	req.Topics = append(req.Topics, rt)
	resp := c.do(2, req).(*kmsg.CreateTopicsResponse)
	if resp.Topics[0].ErrorCode != kerrNotController {
		t.Fatalf("create on a non-controller: code %d", resp.Topics[0].ErrorCode)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	mresp := c.do(3, md).(*kmsg.MetadataResponse)
	if mresp.ControllerID != c.controller || len(mresp.Brokers) != 3 {
		t.Fatalf("metadata: controller %d, brokers %v", mresp.ControllerID, mresp.Brokers)
	}
	rt.ReplicationFactor = 4
	req.Topics[0] = rt
	resp = c.do(c.controller, req).(*kmsg.CreateTopicsResponse)
	if resp.Topics[0].ErrorCode != kerrInvalidReplicationFactor {
		t.Fatalf("replication factor 4 on 3 brokers: code %d", resp.Topics[0].ErrorCode)
	}
}

func TestClusterProducerIDsAreUniqueAcrossBrokers(t *testing.T) {
	c := newTestCluster(t, 3)
	seen := map[int64]int32{}
	for round := 0; round < 3; round++ {
		for id := int32(1); id <= 3; id++ {
			resp := c.do(id, kmsg.NewPtrInitProducerIDRequest()).(*kmsg.InitProducerIDResponse)
			if resp.ErrorCode != 0 {
				t.Fatalf("InitProducerId on %d: code %d", id, resp.ErrorCode)
			}
			if other, dup := seen[resp.ProducerID]; dup {
				t.Fatalf("producer id %d handed out by %d and %d", resp.ProducerID, other, id)
			}
			seen[resp.ProducerID] = id
		}
	}
}

// A broker that restarts from a metadata snapshot taken after a topic it
// replicated was deleted never sees the deletion; once its registration
// applies it removes the stale directories itself.
func TestClusterRestartFromSnapshotRemovesDeletedTopicDirs(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("gone", 1, 3, nil)
	c.produce("gone", 0, 2)
	n3 := c.nodes[2]
	c.runUntil("node 3 has the data", func() bool { return c.partitionLog(3, "gone", 0).LogEndOffset() == 2 })
	n3.kill()
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version = 4
	del.TopicNames = []string{"gone"}
	if resp := c.do(c.controller, del).(*kmsg.DeleteTopicsResponse); resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("delete: %d", resp.Topics[0].ErrorCode)
	}
	snapshot, err := c.nodes[c.controller-1].b.SnapshotMetadata()
	if err != nil {
		t.Fatal(err)
	}
	if names, _ := n3.disk.List("."); !slices.Contains(names, "gone-0") {
		t.Fatalf("node 3's directory went away while it was down: %v", names)
	}
	n3.start()
	if err := n3.b.RestoreMetadata(c.nowMs, snapshot); err != nil {
		t.Fatal(err)
	}
	n3.applied = len(c.log)
	c.runUntil("node 3 registered", func() bool { return n3.b.unfenced() })
	if names, _ := n3.disk.List("."); slices.Contains(names, "gone-0") {
		t.Fatalf("stale directory of a deleted topic left behind: %v", names)
	}
}

// The last broker of a cluster stops at once: nobody can take over its
// partitions, and there may be no quorum to fence it.
func TestClusterLastBrokerShutsDownAtOnce(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 2, 1, nil)
	c.createTopic("t", 1, 3, nil)
	for _, id := range []int32{2, 3} {
		n := c.nodes[id-1]
		n.b.BeginControlledShutdown(c.nowMs)
		c.runUntil(fmt.Sprintf("broker %d ready to stop", id), func() bool { return n.b.ShutdownReady() })
		n.kill()
	}
	last := c.nodes[0]
	last.b.BeginControlledShutdown(c.nowMs)
	if !last.b.ShutdownReady() {
		t.Fatal("the last broker waits for a handover that cannot happen")
	}
}

// A leader whose copy of a partition goes offline (a disk error) hands it
// to another ISR member instead of leaving it unavailable until restart.
func TestClusterOfflineLeaderResigns(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	c.produce("t", 0, 3)
	old := c.assignment("t", 0)
	n := c.nodes[old.Leader-1]
	n.b.takeOffline(n.b.topics["t"].partitions[0], fmt.Errorf("injected disk error"))
	c.runUntil("another leader", func() bool {
		a := c.assignment("t", 0)
		return a.Leader != old.Leader && a.Leader != metadata.NoLeader
	})
	a := c.assignment("t", 0)
	if metadataContains(a.ISR, old.Leader) || a.LeaderEpoch <= old.LeaderEpoch {
		t.Fatalf("after the resignation: %s", a.String())
	}
	if sp := c.produce("t", 0, 1); sp.ErrorCode != 0 || sp.BaseOffset != 3 {
		t.Fatalf("produce on the new leader: code %d at %d", sp.ErrorCode, sp.BaseOffset)
	}
}

// A follower whose copy went offline and is then elected (it was still in
// the ISR) resigns at once.
func TestClusterOfflineFollowerElectedResigns(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	c.produce("t", 0, 3)
	a := c.assignment("t", 0)
	// The follower next in replica order goes offline; then the leader
	// resigns, which elects it.
	var next int32
	for _, id := range a.Replicas {
		if id != a.Leader {
			next = id
			break
		}
	}
	nn := c.nodes[next-1]
	nn.b.takeOffline(nn.b.topics["t"].partitions[0], fmt.Errorf("injected disk error"))
	ln := c.nodes[a.Leader-1]
	ln.b.takeOffline(ln.b.topics["t"].partitions[0], fmt.Errorf("injected disk error"))
	c.runUntil("a leader with a working copy", func() bool {
		l := c.assignment("t", 0).Leader
		return l != metadata.NoLeader && l != a.Leader && l != next
	})
	if sp := c.produce("t", 0, 1); sp.ErrorCode != 0 && sp.ErrorCode != kerrNotEnoughReplicas {
		t.Fatalf("produce on the third replica: code %d", sp.ErrorCode)
	}
}

// A follower that was down while DeleteRecords moved its leader's log
// start past the follower's log end gets OFFSET_OUT_OF_RANGE for the
// offset it would fetch next: it must restart its log at the leader's log
// start (Kafka's truncateFullyAndStartAt) and rejoin the ISR, not fetch
// the same offset forever. When that start lies inside a batch (7: the
// second batch holds 5-9), the leader sends the whole batch and the
// follower restarts at its base (Kafka's UnexpectedAppendOffsetException
// case), then follows the leader's start again.
func TestClusterFollowerBelowLeaderLogStartRejoins(t *testing.T) {
	for _, deleteBefore := range []int64{10, 7} {
		t.Run(fmt.Sprintf("delete-before-%d", deleteBefore), func(t *testing.T) {
			c := newTestCluster(t, 3)
			c.createTopic("pad", 1, 1, nil) // placement rotates: t's leader is not the controller
			c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
			c.produce("t", 0, 5)
			a := c.assignment("t", 0)
			follower := c.followerOutsideController(a)
			c.runUntil("the follower has the first records", func() bool { return c.partitionLog(follower, "t", 0).LogEndOffset() == 5 })
			c.nodes[follower-1].kill()
			c.runUntil("ISR shrinks", func() bool { return len(c.assignment("t", 0).ISR) == 2 })
			c.produce("t", 0, 5)
			req := kmsg.NewPtrDeleteRecordsRequest()
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = "t"
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Offset = deleteBefore
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			dr := c.do(a.Leader, req).(*kmsg.DeleteRecordsResponse)
			if sp := dr.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.LowWatermark != deleteBefore {
				t.Fatalf("DeleteRecords: code %d low watermark %d", sp.ErrorCode, sp.LowWatermark)
			}
			c.nodes[follower-1].start()
			c.runUntil("the follower back in the ISR", func() bool { return len(c.assignment("t", 0).ISR) == 3 })
			c.produce("t", 0, 1)
			c.runUntil("the follower caught up and at the leader's start", func() bool {
				l := c.partitionLog(follower, "t", 0)
				return l.LogEndOffset() == 11 && l.LogStartOffset() == deleteBefore
			})
		})
	}
}

// DeleteRecords is answered only when every follower on a live broker has
// moved its log start too (Kafka's DelayedDeleteRecords): a follower
// elected next must not serve what an acknowledged DeleteRecords removed.
// A follower cut off (still registered) holds the answer back until the
// request times out.
func TestClusterDeleteRecordsWaitsForFollowers(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil) // placement rotates: t's leader is not the controller
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	c.produce("t", 0, 5)
	c.produce("t", 0, 5)
	a := c.assignment("t", 0)
	deleteBefore := func(offset int64, timeoutMs int32) func() kmsg.Response {
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.TimeoutMillis = timeoutMs
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Offset = offset
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return c.send(a.Leader, req)
	}
	answer := deleteBefore(5, 30000)
	c.runUntil("DeleteRecords answer", func() bool { return answer() != nil })
	if sp := answer().(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.LowWatermark != 5 {
		t.Fatalf("DeleteRecords: code %d low watermark %d, want 0 and 5", sp.ErrorCode, sp.LowWatermark)
	}
	for _, id := range a.Replicas {
		if start := c.partitionLog(id, "t", 0).LogStartOffset(); start < 5 {
			t.Fatalf("DeleteRecords answered while node %d's log start is %d", id, start)
		}
	}
	c.nodes[c.followerOutsideController(a)-1].isolated = true
	answer = deleteBefore(8, 1)
	c.runUntil("DeleteRecords answer", func() bool { return answer() != nil })
	if sp := answer().(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]; sp.ErrorCode != kerrRequestTimedOut {
		t.Fatalf("DeleteRecords with a follower cut off: code %d, want REQUEST_TIMED_OUT", sp.ErrorCode)
	}
}

// followerOutsideController names a replica of a that neither leads it
// nor hosts the controller, failing the test when there is none.
func (c *testCluster) followerOutsideController(a metadata.Partition) int32 {
	c.t.Helper()
	for _, id := range a.Replicas {
		if id != a.Leader && id != c.controller {
			return id
		}
	}
	c.t.Fatalf("no follower outside the controller: %s", a.String())
	return 0
}

// A follower whose copy goes offline leaves the ISR at once, before the
// leader's lag timeout, so that a resigning leader cannot hand it the
// partition (simulator seed 198: a scrub found the follower's copy
// corrupt, and the leader, whose disk filled 0.3 s later, resigned to it).
func TestClusterOfflineFollowerLeavesISR(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.ReplicaLagTimeMaxMs = 1 << 40 })
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 3, nil)
	c.produce("t", 0, 3)
	a := c.assignment("t", 0)
	var follower int32
	for _, id := range a.Replicas {
		if id != a.Leader {
			follower = id
		}
	}
	fn := c.nodes[follower-1]
	fn.b.takeOffline(fn.b.topics["t"].partitions[0], fmt.Errorf("injected disk error"))
	c.runUntil("the offline follower out of the ISR", func() bool {
		return !metadataContains(c.assignment("t", 0).ISR, follower)
	})
	if got := c.assignment("t", 0); got.Leader != a.Leader || got.LeaderEpoch != a.LeaderEpoch {
		t.Fatalf("the leader changed: %s (before %s)", got.String(), a.String())
	}
	ln := c.nodes[a.Leader-1]
	ln.b.takeOffline(ln.b.topics["t"].partitions[0], fmt.Errorf("injected disk error"))
	c.runUntil("a leader with a working copy", func() bool {
		l := c.assignment("t", 0).Leader
		return l != metadata.NoLeader && l != a.Leader
	})
	if l := c.assignment("t", 0).Leader; l == follower {
		t.Fatal("the offline follower was elected")
	}
}

// A long poll built again when it wakes must not overwrite the progress a
// newer fetch of the same follower reported (sim seed 512416381:
// a parked fetch at 77 woke after the follower had fetched at 69 and had
// it admitted to the ISR on 77).
func TestClusterStaleLongPollKeepsNewerFollowerProgress(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 3, nil)
	c.produce("t", 0, 4)
	a := c.assignment("t", 0)
	n := c.nodes[a.Leader-1]
	p := n.b.topics["t"].partitions[0]
	f := p.lead.Followers[0]
	fetchAt := func(seq uint64, offset int64) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.CurrentLeaderEpoch, rp.FetchOffset, rp.LastFetchedEpoch, rp.PartitionMaxBytes = p.leaderEpoch, offset, -1, 1<<20
		sp := kmsg.NewFetchResponseTopicPartition()
		n.b.replicaFetchPartition(c.nowMs, seq, f.ID, p, &rp, &sp, 1<<20, true)
	}
	n.b.fetchSeq += 2
	fetchAt(n.b.fetchSeq, 2)   // the newer fetch: the follower is at 2
	fetchAt(n.b.fetchSeq-1, 4) // an older long poll, built again
	if f.FetchOffset != 2 {
		t.Fatalf("follower progress %d after a stale long poll, want 2 from the newer fetch", f.FetchOffset)
	}
	fetchAt(n.b.fetchSeq+1, 4)
	if f.FetchOffset != 4 {
		t.Fatalf("follower progress %d after a newer fetch, want 4", f.FetchOffset)
	}
}

// A follower joins the ISR only once the log start it reports has reached
// the leader's: one fenced while a DeleteRecords was acknowledged (so not
// waited for) could otherwise rejoin before any fetch answer moved its
// start, and lead with records the DeleteRecords removed (sim seed
// 689150508). Here the follower is cut off but stays registered, so the
// leader's start moves while it is outside the ISR.
func TestClusterISRAdmissionWaitsForLeaderLogStart(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.ReplicaLagTimeMaxMs = 500
		cfg.SessionTimeoutMs = 1 << 40 // never fenced: only the lag check shrinks
	})
	c.createTopic("pad", 1, 1, nil) // placement rotates: t's leader is not the controller
	c.createTopic("t", 1, 3, nil)
	c.produce("t", 0, 5)
	a := c.assignment("t", 0)
	follower := c.followerOutsideController(a)
	c.runUntil("the follower has the records", func() bool { return c.partitionLog(follower, "t", 0).LogEndOffset() == 5 })
	c.nodes[follower-1].isolated = true
	c.runUntil("the lagging follower out of the ISR", func() bool { return !metadataContains(c.assignment("t", 0).ISR, follower) })

	req := deleteRecordsReq(0, "t", map[int32]int64{0: 3})
	req.TimeoutMillis = 1 // the cut-off follower holds the answer back; the start moves anyway
	c.do(a.Leader, req)
	n := c.nodes[a.Leader-1]
	p := n.b.topics["t"].partitions[0]
	if start := p.log.LogStartOffset(); start != 3 {
		t.Fatalf("leader's log start %d after DeleteRecords before 3", start)
	}
	fetch := func(logStart int64) {
		n.b.fetchSeq++
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.CurrentLeaderEpoch, rp.FetchOffset, rp.LastFetchedEpoch, rp.LogStartOffset, rp.PartitionMaxBytes = p.leaderEpoch, 5, -1, logStart, 1<<20
		sp := kmsg.NewFetchResponseTopicPartition()
		n.b.replicaFetchPartition(c.nowMs, n.b.fetchSeq, follower, p, &rp, &sp, 1<<20, true)
		if sp.LogStartOffset != 3 {
			t.Fatalf("fetch answer names log start %d, want the leader's 3", sp.LogStartOffset)
		}
	}
	fetch(0) // caught up, but its log still starts at 0
	if p.lead.ProposedISR != nil || p.lead.ISRInFlight {
		t.Fatalf("follower with log start 0 admitted below the leader's start 3: proposed ISR %v", p.lead.ProposedISR)
	}
	fetch(3) // its next fetch, after the answer moved its start
	if !metadataContains(p.lead.ProposedISR, follower) {
		t.Fatalf("follower at the leader's start and end not admitted: proposed ISR %v", p.lead.ProposedISR)
	}
}
