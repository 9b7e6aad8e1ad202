package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/internal/loopback"
	"github.com/chronik-streaming/chronik/io/wire"
)

// freeAddr asks the kernel for a free loopback port; the window between
// closing the probe and the node binding it is accepted.
func freeAddr(t *testing.T) string {
	t.Helper()
	addrs, err := loopback.Addrs(1)
	if err != nil {
		t.Fatal(err)
	}
	return addrs[0]
}

// testCluster is a cluster of in-process nodes.
type testCluster struct {
	t      *testing.T
	voters map[int32]string
	kafka  map[int32]string
	// control holds each node's control listener address.
	control map[int32]string
	dirs    map[int32]string
	logs    map[int32]*syncBuffer
	stops   map[int32]func()
	// tune, if set, adjusts each node's cluster settings.
	tune func(*ClusterConfig)
}

// syncBuffer is a log sink shared by a node's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestCluster(t *testing.T, size int) *testCluster {
	c := &testCluster{t: t, voters: map[int32]string{}, kafka: map[int32]string{}, control: map[int32]string{}, dirs: map[int32]string{},
		logs: map[int32]*syncBuffer{}, stops: map[int32]func(){}}
	for id := int32(1); id <= int32(size); id++ {
		c.voters[id] = freeAddr(t)
		c.kafka[id] = freeAddr(t)
		c.control[id] = freeAddr(t)
		c.dirs[id] = t.TempDir()
		c.logs[id] = &syncBuffer{}
	}
	t.Cleanup(func() {
		for id, stop := range c.stops {
			if stop != nil {
				stop()
				c.stops[id] = nil
			}
		}
		if t.Failed() || os.Getenv("CHRONIK_NODE_LOGS") != "" {
			for id := int32(1); id <= int32(size); id++ {
				t.Logf("node %d log:\n%s", id, c.logs[id].String())
			}
		}
	})
	return c
}

// start runs node id (again) on its ports and directory.
func (c *testCluster) start(id int32) {
	t := c.t
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.NodeID = id
	host, port, err := net.SplitHostPort(c.kafka[id])
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdvertisedHost = host
	fmt.Sscan(port, &cfg.AdvertisedPort)
	cfg.DefaultReplicationFactor = int16(min(3, len(c.voters)))
	cc := &ClusterConfig{RaftAddr: c.voters[id], Voters: c.voters, ControlAddr: c.control[id], ControlledShutdownTimeout: time.Second}
	if c.tune != nil {
		c.tune(cc)
	}
	n, err := New(Config{
		DataDir: c.dirs[id],
		Broker:  cfg,
		Wire:    wire.Config{Addr: c.kafka[id]},
		Logger:  slog.New(slog.NewTextHandler(io.MultiWriter(c.logs[id]), &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", id),
		Cluster: cc,
	})
	if err != nil {
		t.Fatalf("start node %d: %v", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	c.stops[id] = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node %d Run: %v", id, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("node %d did not stop within 30 s", id)
		}
	}
}

// stop stops node id gracefully.
func (c *testCluster) stop(id int32) {
	c.t.Helper()
	if stop := c.stops[id]; stop != nil {
		stop()
		c.stops[id] = nil
	}
}

func (c *testCluster) seeds() []string {
	var out []string
	for id := int32(1); id <= int32(len(c.kafka)); id++ {
		out = append(out, c.kafka[id])
	}
	return out
}

// waitISR waits until every partition of topic has a leader and an ISR of
// want brokers, as Metadata shows it.
func waitISR(t *testing.T, adm *kadm.Client, topic string, want int, within time.Duration) kadm.TopicDetail {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		md, err := adm.Metadata(ctx, topic)
		cancel()
		if err != nil {
			last = err.Error()
		} else if td, ok := md.Topics[topic]; !ok || td.Err != nil || len(td.Partitions) == 0 {
			last = fmt.Sprintf("topic: present %v err %v", ok, td.Err)
		} else {
			ready := true
			for _, p := range td.Partitions {
				if p.Err != nil || p.Leader < 0 || len(p.ISR) != want {
					ready = false
					last = fmt.Sprintf("partition %d: leader %d isr %v err %v", p.Partition, p.Leader, p.ISR, p.Err)
				}
			}
			if ready {
				return td
			}
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
	}
	t.Fatalf("topic %s: no leaders with an ISR of %d within %v: %s", topic, want, within, last)
	return kadm.TopicDetail{}
}

// TestClusterReplicates runs three in-process nodes: a topic with
// replication factor 3 gets leaders and a full ISR, acks=all produces
// are acknowledged and read back, and each node stops gracefully (the
// last ones without a quorum, bounded by the controlled-shutdown
// timeout).
func TestClusterReplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := newTestCluster(t, 3)
	for id := int32(1); id <= 3; id++ {
		c.start(id)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The brokers register once a controller is elected; until then
	// CreateTopics fails (no controller, or too few brokers).
	const topic = "replicated"
	minISR := "2"
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := adm.CreateTopic(ctx, 2, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
		if err == nil && resp.Err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CreateTopics: %v / %v", err, resp.Err)
		}
		time.Sleep(100 * time.Millisecond) // retry interval, not an assertion
	}
	waitISR(t, adm, topic, 3, 10*time.Second)

	const n = 200
	var records []*kgo.Record
	for i := 0; i < n; i++ {
		records = append(records, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))})
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := map[string]int64{}
	for len(got) < n && ctx.Err() == nil {
		fs := consumer.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if _, dup := got[string(r.Value)]; dup {
				t.Errorf("record %s read twice", r.Value)
			}
			got[string(r.Value)] = r.Offset
		})
	}
	for _, r := range records {
		if off, ok := got[string(r.Value)]; !ok || off != r.Offset {
			t.Fatalf("record %s acknowledged at %d[%d], read at %d (present %v)", r.Value, r.Partition, r.Offset, off, ok)
		}
	}
	consumer.Close()

	// Stop the controller last: the others complete a controlled shutdown;
	// the controller, alone by then, waits out its (1 s) timeout.
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []int32
	for id := int32(1); id <= 3; id++ {
		if id != md.Controller {
			order = append(order, id)
		}
	}
	order = append(order, md.Controller)
	for i, id := range order {
		started := time.Now()
		c.stop(id)
		t.Logf("graceful stop of node %d took %v", id, time.Since(started))
		if i < 2 && !strings.Contains(c.logs[id].String(), "controlled shutdown: leaderships moved") {
			t.Errorf("node %d stopped without a completed controlled shutdown", id)
		}
	}
	for id := int32(1); id <= 3; id++ {
		if strings.Contains(c.logs[id].String(), "panic") {
			t.Errorf("node %d log shows a panic", id)
		}
	}
}

// TestClusterSnapshotRestore drives the raft snapshot path through the
// loop: with a snapshot every few entries, nodes take snapshots of the
// image (Snapshot on the loop), and a node restarted on its directory
// restores its latest snapshot inside Open (Restore, while New plays the
// loop) and replays the rest of the log; one stopped while the others
// moved on past their trailing logs is caught up by an installed
// snapshot. Every node then knows every topic.
func TestClusterSnapshotRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := newTestCluster(t, 3)
	c.tune = func(cc *ClusterConfig) {
		cc.Raft.SnapshotThreshold = 4
		cc.Raft.SnapshotInterval = 20 * time.Millisecond
		cc.Raft.TrailingLogs = 2
		// raft-wal drops entries for good only with their whole segment;
		// tiny segments make the compaction behind a snapshot real.
		cc.Raft.WALSegmentBytes = 1024
	}
	for id := int32(1); id <= 3; id++ {
		c.start(id)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	create := func(name string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := adm.CreateTopic(ctx, 1, -1, nil, name)
			if err == nil && resp.Err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("CreateTopics %s: %v / %v", name, err, resp.Err)
			}
			time.Sleep(50 * time.Millisecond) // retry interval, not an assertion
		}
	}
	for i := 0; i < 6; i++ {
		create(fmt.Sprintf("before-%d", i))
	}
	// Wait for a snapshot on every node.
	deadline := time.Now().Add(20 * time.Second)
	for id := int32(1); id <= 3; id++ {
		for {
			entries, _ := os.ReadDir(c.dirs[id] + "/" + raftDirName + "/snapshots")
			if len(entries) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d took no raft snapshot", id)
			}
			time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
		}
	}

	// Stop node 3 (not necessarily the controller: two remain), move on,
	// restart it.
	c.stop(3)
	waitBrokers := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := adm.ValidateCreateTopics(ctx, 1, int16(want), nil, "probe")
			if err == nil && resp.Error() == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster does not see %d brokers: %v %v", want, err, resp.Error())
			}
			time.Sleep(50 * time.Millisecond) // poll interval, not an assertion
		}
	}
	// Create topics until both survivors took a snapshot after a good
	// number of entries node 3 missed: with TrailingLogs 2 and 1 KiB WAL
	// segments, their logs no longer hold everything node 3 needs, so it
	// gets an installed snapshot.
	snapshotAfter := func(id int32, t0 time.Time) bool {
		entries, _ := os.ReadDir(c.dirs[id] + "/" + raftDirName + "/snapshots")
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.ModTime().After(t0) {
				return true
			}
		}
		return false
	}
	var missed []string
	var third time.Time
	for i := 0; ; i++ {
		name := fmt.Sprintf("during-%d", i)
		resp, err := adm.CreateTopic(ctx, 1, 2, nil, name)
		for err != nil || resp.Err != nil {
			if ctx.Err() != nil {
				t.Fatalf("CreateTopics %s: %v / %v", name, err, resp.Err)
			}
			time.Sleep(50 * time.Millisecond) // retry interval, not an assertion
			resp, err = adm.CreateTopic(ctx, 1, 2, nil, name)
		}
		missed = append(missed, name)
		if i == 15 {
			third = time.Now()
		}
		if i >= 15 && snapshotAfter(1, third) && snapshotAfter(2, third) {
			break
		}
		if i > 100 {
			t.Fatal("no raft snapshot on nodes 1 and 2 after 100 topics")
		}
		time.Sleep(10 * time.Millisecond) // pacing, not an assertion
	}
	restartAt := len(c.logs[3].String())
	c.start(3)
	waitBrokers(3)
	if !strings.Contains(c.logs[3].String(), "joined metadata quorum") {
		t.Fatal("node 3 did not rejoin")
	}

	// Node 3 itself must know every topic: ask it directly.
	direct, err := kgo.NewClient(kgo.SeedBrokers(c.kafka[3]))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		req := kmsg.NewPtrMetadataRequest()
		resp, err := req.RequestWith(ctx, direct.Broker(3))
		have := map[string]bool{}
		if err == nil {
			for _, tp := range resp.Topics {
				if tp.Topic != nil {
					have[*tp.Topic] = true
				}
			}
		}
		missing := ""
		for i := 0; i < 6; i++ {
			if name := fmt.Sprintf("before-%d", i); !have[name] && missing == "" {
				missing = name
			}
		}
		for _, name := range missed {
			if !have[name] && missing == "" {
				missing = name
			}
		}
		if missing == "" {
			if n := strings.Count(c.logs[3].String()[restartAt:], "restored metadata snapshot"); n < 2 {
				t.Errorf("node 3 restored %d snapshots after its restart; want its own at start and one installed by the leader", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 3 does not know topic %s after its restart (err %v)", missing, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not an assertion
	}
}
