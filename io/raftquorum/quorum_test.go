package raftquorum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/chronik-streaming/chronik/internal/loopback"
)

// waitFor bounds every wait in these tests. Elections on loopback take about
// a second with the default timeouts; the bound is generous for a loaded
// two-core CI machine.
const waitFor = 15 * time.Second

// testLogger discards raft's warnings (dead peers during failover tests are
// expected) unless RAFTQUORUM_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("RAFTQUORUM_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// recorder is a StateMachine that keeps every applied entry in order.
type recorder struct {
	mu        sync.Mutex
	entries   []string
	lastIndex uint64
	restores  int
	// violation is the first broken Apply contract seen, if any.
	violation string
}

func (r *recorder) Apply(index uint64, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if index <= r.lastIndex && r.violation == "" {
		r.violation = fmt.Sprintf("Apply at index %d after index %d", index, r.lastIndex)
	}
	r.lastIndex = index
	r.entries = append(r.entries, string(data))
}

func (r *recorder) Snapshot() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.Marshal(recorderSnapshot{Entries: r.entries, LastIndex: r.lastIndex})
}

func (r *recorder) Restore(data []byte) error {
	var s recorderSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries, r.lastIndex = s.Entries, s.LastIndex
	r.restores++
	return nil
}

type recorderSnapshot struct {
	Entries   []string
	LastIndex uint64
}

func (r *recorder) state() (entries []string, restores int, violation string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.entries), r.restores, r.violation
}

// freeAddrs picks n loopback addresses with free ports. The voters'
// addresses must be known before any node starts; internal/loopback picks
// them outside the ephemeral range, where no outgoing connection takes one
// in between.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs, err := loopback.Addrs(n)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// tcpCluster runs voters on loopback TCP, each with its own Dir.
type tcpCluster struct {
	t      *testing.T
	voters map[int32]string
	dirs   map[int32]string
	tune   func(*Config)
	nodes  map[int32]*Quorum
	sms    map[int32]*recorder
}

func newTCPCluster(t *testing.T, n int, tune func(*Config)) *tcpCluster {
	c := &tcpCluster{
		t:      t,
		voters: map[int32]string{},
		dirs:   map[int32]string{},
		tune:   tune,
		nodes:  map[int32]*Quorum{},
		sms:    map[int32]*recorder{},
	}
	base := t.TempDir()
	for i, addr := range freeAddrs(t, n) {
		id := int32(i + 1)
		c.voters[id] = addr
		c.dirs[id] = filepath.Join(base, "node"+strconv.Itoa(int(id)))
	}
	t.Cleanup(func() {
		for id := range c.nodes {
			c.stop(id)
		}
	})
	return c
}

func (c *tcpCluster) config(id int32) Config {
	cfg := Config{
		ID:              id,
		BindAddr:        c.voters[id],
		Voters:          c.voters,
		Dir:             c.dirs[id],
		Logger:          testLogger(),
		WALSegmentBytes: 1 << 20,
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

// start opens node id with an empty state machine, as a restarted process
// would.
func (c *tcpCluster) start(id int32) {
	c.t.Helper()
	sm := &recorder{}
	q, err := Open(c.config(id), sm)
	if err != nil {
		c.t.Fatalf("open node %d: %v", id, err)
	}
	c.nodes[id], c.sms[id] = q, sm
}

func (c *tcpCluster) stop(id int32) {
	c.t.Helper()
	q := c.nodes[id]
	delete(c.nodes, id)
	if err := q.Shutdown(); err != nil {
		c.t.Errorf("shut down node %d: %v", id, err)
	}
}

// leader waits until exactly one running node says it is the leader and
// every running node agrees on it.
func (c *tcpCluster) leader() int32 {
	c.t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		var leaders []int32
		agree := true
		for id, q := range c.nodes {
			if q.IsLeader() {
				leaders = append(leaders, id)
			}
		}
		if len(leaders) == 1 {
			for _, q := range c.nodes {
				if l, ok := q.Leader(); !ok || l != leaders[0] {
					agree = false
				}
			}
			if agree {
				return leaders[0]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no agreed leader among %d running nodes within %s", len(c.nodes), waitFor)
	return 0
}

// propose proposes data on the leader, retrying only on ErrNotLeader (the
// one error that guarantees the entry was not appended), so that each value
// is in the log exactly once.
func (c *tcpCluster) propose(data string) {
	c.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := c.nodes[c.leader()].Propose([]byte(data), 5*time.Second)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrNotLeader) || time.Now().After(deadline) {
			c.t.Fatalf("propose %q: %v", data, err)
		}
	}
}

// waitApplied waits until every running node has applied exactly want.
func (c *tcpCluster) waitApplied(want []string) {
	c.t.Helper()
	deadline := time.Now().Add(waitFor)
	for id := range c.nodes {
		for {
			got, _, violation := c.sms[id].state()
			if violation != "" {
				c.t.Fatalf("node %d: %s", id, violation)
			}
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("node %d applied %q, want %q", id, got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func values(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

// TestReplicateFailoverRestart runs three voters on TCP loopback with the
// default timeouts: entries apply everywhere in order, killing the leader
// elects another one, and a restarted node rebuilds its state from its own
// WAL and catches up.
func TestReplicateFailoverRestart(t *testing.T) {
	c := newTCPCluster(t, 3, nil)
	// Start in reverse id order: the order must not matter.
	for _, id := range []int32{3, 2, 1} {
		c.start(id)
	}
	first := c.leader()

	// Every node's LeaderChanges reports the leader.
	for id, q := range c.nodes {
		timeout := time.After(waitFor)
		for seen := false; !seen; {
			select {
			case l := <-q.LeaderChanges():
				seen = l == first
			case <-timeout:
				t.Fatalf("node %d: LeaderChanges never reported leader %d", id, first)
			}
		}
	}

	// A follower refuses proposals with ErrNotLeader.
	for id, q := range c.nodes {
		if id == first {
			continue
		}
		if err := q.Propose([]byte("refused"), time.Second); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("propose on follower %d: got %v, want ErrNotLeader", id, err)
		}
		if err := q.Barrier(time.Second); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("barrier on follower %d: got %v, want ErrNotLeader", id, err)
		}
		break
	}

	want := values("a", 0, 10)
	for _, v := range want {
		c.propose(v)
	}
	c.waitApplied(want)

	// Kill the leader; the other two elect a new one and keep committing.
	c.stop(first)
	second := c.leader()
	if second == first {
		t.Fatalf("stopped node %d is still the leader", first)
	}
	if err := c.nodes[second].Barrier(5 * time.Second); err != nil {
		t.Fatalf("barrier on new leader %d: %v", second, err)
	}
	want = append(want, values("b", 0, 10)...)
	for _, v := range want[10:] {
		c.propose(v)
	}
	c.waitApplied(want)

	// The old leader restarts from its Dir with an empty state machine: it
	// re-applies its own log and catches up on what it missed.
	c.start(first)
	c.waitApplied(want)
	want = append(want, "c0")
	c.propose("c0")
	c.waitApplied(want)

	// A whole-cluster restart keeps everything.
	for id := range c.nodes {
		c.stop(id)
	}
	for _, id := range []int32{2, 3, 1} {
		c.start(id)
	}
	c.leader()
	want = append(want, "d0")
	c.propose("d0")
	c.waitApplied(want)
}

// TestSnapshotRestore takes snapshots early (threshold 8, 4 trailing
// entries), so that a follower that was down must be sent a snapshot
// (Restore over the network), and a restarted node restores its own snapshot
// from disk.
//
// The WAL segments are tiny on purpose: raft-wal truncates the head of the
// log only logically inside the segment being written, and still serves
// the "deleted" entries from it, so the leader would replay them to the
// lagging follower instead of sending a snapshot. Only entries in a
// segment that was sealed and deleted are really gone.
func TestSnapshotRestore(t *testing.T) {
	c := newTCPCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold = 8
		cfg.SnapshotInterval = 20 * time.Millisecond
		cfg.TrailingLogs = 4
		cfg.WALSegmentBytes = 1024
	})
	for id := range c.voters {
		c.start(id)
	}
	leader := c.leader()
	want := values("x", 0, 5)
	for _, v := range want {
		c.propose(v)
	}
	c.waitApplied(want)

	var lagging int32
	for id := range c.nodes {
		if id != leader {
			lagging = id
			break
		}
	}
	c.stop(lagging)
	want = append(want, values("y", 0, 60)...)
	for _, v := range want[5:] {
		c.propose(v)
	}
	c.waitApplied(want)

	// Wait until the leader's log no longer holds what the lagging node
	// misses: a snapshot was taken and the log compacted behind it.
	r := c.nodes[leader].raft
	deadline := time.Now().Add(waitFor)
	for {
		idx, _ := strconv.ParseUint(r.Stats()["last_snapshot_index"], 10, 64)
		if idx > r.LastIndex()-20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader took no snapshot near its log end: stats %v", r.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}

	c.start(lagging)
	c.waitApplied(want)
	if _, restores, _ := c.sms[lagging].state(); restores == 0 {
		t.Fatalf("node %d caught up without a snapshot", lagging)
	}

	// Restart the leader: it restores its own latest snapshot at Open and
	// replays the entries after it.
	c.stop(leader)
	c.start(leader)
	c.waitApplied(want)
	if _, restores, _ := c.sms[leader].state(); restores == 0 {
		t.Fatalf("restarted node %d did not restore its snapshot", leader)
	}
	want = append(want, "z")
	c.propose("z")
	c.waitApplied(want)
}

func TestOpenInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	sm := &recorder{}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no voters on first start", Config{ID: 1, BindAddr: "127.0.0.1:0", Dir: dir}},
		{"self not a voter", Config{ID: 1, BindAddr: "127.0.0.1:0", Dir: dir, Voters: map[int32]string{2: "127.0.0.1:1"}}},
		{"no dir", Config{ID: 1, BindAddr: "127.0.0.1:0", Voters: map[int32]string{1: "127.0.0.1:1"}}},
		{"no bind address", Config{ID: 1, Dir: dir, Voters: map[int32]string{1: "127.0.0.1:1"}}},
		{"lease above heartbeat", Config{ID: 1, BindAddr: "127.0.0.1:0", Dir: dir, Voters: map[int32]string{1: "127.0.0.1:1"},
			HeartbeatTimeout: 100 * time.Millisecond, LeaderLeaseTimeout: 200 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = testLogger()
			q, err := Open(tc.cfg, sm)
			if err == nil {
				_ = q.Shutdown()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestSlogAdapter checks the warn floor and the attributes.
func TestSlogAdapter(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := newSlogAdapter(logger, hclog.Warn)
	l := a.Named("raft").With("term", 3)
	l.Info("quiet")
	l.Debug("quiet")
	if l.IsInfo() || !l.IsWarn() {
		t.Fatalf("IsInfo %v IsWarn %v with a warn floor", l.IsInfo(), l.IsWarn())
	}
	l.Warn("loud", "peer", "2")
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("from the standard logger")
	out := buf.String()
	if bytes.Contains(buf.Bytes(), []byte("quiet")) {
		t.Fatalf("info or debug passed the warn floor: %s", out)
	}
	for _, want := range []string{"level=WARN", "msg=loud", "component=raft", "term=3", "peer=2", "level=ERROR", `msg="from the standard logger"`} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Fatalf("output lacks %s:\n%s", want, out)
		}
	}
	a.SetLevel(hclog.Debug)
	if !l.IsDebug() {
		t.Fatal("SetLevel on the root did not reach a derived logger")
	}
}
