package raftquorum

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/linearizability"
	"github.com/hashicorp/raft"
)

// TestTopicSetUnderFaults runs three voters over raft's in-memory transport
// and stores while a seeded nemesis partitions them (symmetric and one-way
// cuts, losing the quorum now and then) and crash-restarts them (Shutdown,
// then Open on the same in-memory stores), and four clients create, delete
// and list topics. Porcupine then checks the clients' history against
// linearizability.TopicSetModel, and every replica must converge to the same
// state after the faults heal.
//
// The seed fixes the fault schedule and the clients' choices, not the
// interleaving: raft runs on goroutines and the wall clock, so a seed does
// not replay a run exactly. It is printed (t.Log; visible with -v or on
// failure) and can be set with -raftseed=N or RAFTSEED=N.
//
// How a client learns what its command did: every command carries a unique
// id, the state machine records each command's result by id (and ignores a
// repeated id, so a client may resend a command whose outcome it does not
// know), and a client reads the result from the state machine of the node
// whose Propose returned nil, which has applied it by then. A command whose
// outcome stays unknown is recorded as TopicUnknown; the client's next
// list asks for its result, and if it was applied by then the op becomes
// known, with the list's return as its return.
func TestTopicSetUnderFaults(t *testing.T) {
	seed := faultSeed(t)
	duration := 6 * time.Second
	if testing.Short() {
		duration = 2 * time.Second
	}
	if *raftDuration > 0 {
		duration = *raftDuration
	}
	t.Logf("seed %d, %s of faults (reproduce the fault schedule with -raftseed=%d or RAFTSEED=%d)", seed, duration, seed, seed)

	c := newFaultCluster(t)
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	deadline := start.Add(duration)

	var wg sync.WaitGroup
	clients := make([]*topicClient, faultClients)
	for i := range clients {
		clients[i] = &topicClient{
			id:         i,
			c:          c,
			r:          rand.New(rand.NewPCG(uint64(seed), uint64(i)+1)),
			now:        now,
			unresolved: map[uint64]int{},
		}
		wg.Go(func() { clients[i].run(deadline) })
	}
	nemesis := &nemesis{c: c, r: rand.New(rand.NewPCG(uint64(seed), 0)), now: now}
	wg.Go(func() { nemesis.run(deadline) })
	wg.Wait()

	// Heal: reconnect everything (every node is up: the nemesis restarts a
	// node before it moves on), then let each client resolve what it can.
	c.heal()
	nemesis.log(now(), "heal (end)")
	for _, cl := range clients {
		cl.finalList()
	}

	var history []linearizability.TopicOp
	counts := map[string]int{}
	for _, cl := range clients {
		history = append(history, cl.history...)
		for _, op := range cl.history {
			counts[op.Kind.String()+" "+op.Result.String()]++
		}
	}
	t.Logf("%d ops: %v; %d faults; %d snapshot restores", len(history), counts, len(nemesis.events), c.restores.Load())
	failf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("seed %d: "+format, append([]any{seed}, args...)...)
		t.Logf("fault schedule:\n%s", strings.Join(nemesis.events, "\n"))
	}
	if counts["list ok"] == 0 {
		failf("no list succeeded: the cluster made no progress")
	}

	checkStart := time.Now()
	res, err := linearizability.CheckTopicSet(history, linearizability.Options{
		Timeout:           30 * time.Second,
		VisualizationDir:  os.TempDir(),
		VisualizationName: fmt.Sprintf("raftquorum-topicset-seed-%d.html", seed),
	})
	t.Logf("porcupine: %s in %s", res, time.Since(checkStart).Round(time.Millisecond))
	switch {
	case err != nil:
		failf("check: %v", err)
	case res.Verdict == linearizability.VerdictIllegal:
		failf("history is not linearizable: %s", res)
	case res.Verdict == linearizability.VerdictUnknown:
		// Inconclusive is neither a pass nor a failure of raft.
		t.Logf("seed %d: porcupine ran out of time; the check is inconclusive", seed)
	}

	// Every replica converges to the same state once the faults healed.
	if err := c.converge(10 * time.Second); err != nil {
		failf("replicas did not converge: %v", err)
	}
}

var (
	raftSeed     = flag.Int64("raftseed", 0, "seed of TestTopicSetUnderFaults's fault schedule (0: RAFTSEED or the clock)")
	raftDuration = flag.Duration("raftduration", 0, "how long TestTopicSetUnderFaults injects faults (0: 6s, 2s with -short)")
)

// faultSeed returns -raftseed, else RAFTSEED, else a seed from the clock.
func faultSeed(t *testing.T) int64 {
	if *raftSeed != 0 {
		return *raftSeed
	}
	if s := os.Getenv("RAFTSEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("RAFTSEED=%q: %v", s, err)
		}
		return seed
	}
	return time.Now().UnixNano()
}

const (
	faultVoters  = 3
	faultClients = 4
	// faultTopics is the pool of names the clients use: small, so that
	// creates and deletes collide often.
	faultTopics = 5
	// opBudget is how long a client keeps resending one command before it
	// records the outcome it has.
	opBudget = time.Second
	// proposeTimeout bounds each attempt.
	proposeTimeout = 250 * time.Millisecond
)

// Result codes recorded by the topic state machine.
const (
	codeOK uint8 = iota + 1
	codeExists
	codeAbsent
)

// topicResult is what the state machine recorded for one command.
type topicResult struct {
	Code uint8
	// Topics is, for a list, the set at the moment it applied, sorted.
	Topics []string `json:",omitempty"`
	// Resolved is, for a list, the result codes of the commands it asked
	// about that had been applied by then.
	Resolved map[uint64]uint8 `json:",omitempty"`
}

// topicSM is the state machine: a set of topic names plus every command's
// result by id. Commands are text: "create ID NAME", "delete ID NAME",
// "list ID [ID,ID,...]".
type topicSM struct {
	// restores counts Restore calls across the cluster, to show that the
	// snapshot paths ran.
	restores *atomic.Int64
	mu       sync.Mutex
	topics   map[string]bool
	results  map[uint64]topicResult
}

func newTopicSM(restores *atomic.Int64) *topicSM {
	return &topicSM{restores: restores, topics: map[string]bool{}, results: map[uint64]topicResult{}}
}

func (s *topicSM) Apply(_ uint64, data []byte) {
	f := strings.Fields(string(data))
	if len(f) < 2 {
		panic(fmt.Sprintf("topicSM: bad command %q", data))
	}
	id, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		panic(fmt.Sprintf("topicSM: bad command %q: %v", data, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.results[id]; dup {
		// A resent command: it already took effect once.
		return
	}
	var r topicResult
	switch f[0] {
	case "create":
		r.Code = codeOK
		if s.topics[f[2]] {
			r.Code = codeExists
		}
		s.topics[f[2]] = true
	case "delete":
		r.Code = codeOK
		if !s.topics[f[2]] {
			r.Code = codeAbsent
		}
		delete(s.topics, f[2])
	case "list":
		r.Code = codeOK
		r.Topics = sortedKeys(s.topics)
		if len(f) > 2 {
			r.Resolved = map[uint64]uint8{}
			for _, a := range strings.Split(f[2], ",") {
				asked, _ := strconv.ParseUint(a, 10, 64)
				if got, ok := s.results[asked]; ok {
					r.Resolved[asked] = got.Code
				}
			}
		}
	default:
		panic(fmt.Sprintf("topicSM: bad command %q", data))
	}
	s.results[id] = r
}

type topicSnapshot struct {
	Topics  []string
	Results map[uint64]topicResult
}

// Snapshot encodes the state; encoding/json sorts map keys, so equal
// states give equal bytes, which converge compares.
func (s *topicSM) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(topicSnapshot{Topics: sortedKeys(s.topics), Results: s.results})
}

func (s *topicSM) Restore(data []byte) error {
	var snap topicSnapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return err
	}
	s.restores.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.topics = map[string]bool{}
	for _, name := range snap.Topics {
		s.topics[name] = true
	}
	s.results = snap.Results
	if s.results == nil {
		s.results = map[uint64]topicResult{}
	}
	return nil
}

func (s *topicSM) result(id uint64) (topicResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.results[id]
	return r, ok
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// faultNode is one running voter.
type faultNode struct {
	q  *Quorum
	sm *topicSM
}

// faultCluster owns the voters, their in-memory stores (kept across
// restarts, which is what makes a restart keep the log) and the network.
type faultCluster struct {
	t      *testing.T
	voters map[int32]string
	logs   map[int32]*raft.InmemStore
	snaps  map[int32]*raft.InmemSnapshotStore
	// restores counts snapshot restores (at restart and sent by a leader).
	restores atomic.Int64

	mu    sync.Mutex
	trans map[int32]*raft.InmemTransport
	nodes map[int32]*faultNode // nil while a node is down
	// isolated nodes reach no one and no one reaches them.
	isolated map[int32]bool
	// cut[a][b] drops a's messages to b (one way).
	cut map[[2]int32]bool
}

func newFaultCluster(t *testing.T) *faultCluster {
	c := &faultCluster{
		t:        t,
		voters:   map[int32]string{},
		logs:     map[int32]*raft.InmemStore{},
		snaps:    map[int32]*raft.InmemSnapshotStore{},
		trans:    map[int32]*raft.InmemTransport{},
		nodes:    map[int32]*faultNode{},
		isolated: map[int32]bool{},
		cut:      map[[2]int32]bool{},
	}
	for id := range int32(faultVoters) {
		id++
		c.voters[id] = "n" + strconv.Itoa(int(id))
		c.logs[id] = raft.NewInmemStore()
		c.snaps[id] = raft.NewInmemSnapshotStore()
	}
	c.mu.Lock()
	for id := range c.voters {
		c.openLocked(id)
	}
	c.linkLocked()
	c.mu.Unlock()
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for id, n := range c.nodes {
			if n != nil {
				_ = n.q.Shutdown()
				c.nodes[id] = nil
			}
		}
	})
	return c
}

// openLocked starts node id on its stores with a fresh transport and an
// empty state machine, as a restarted process would.
func (c *faultCluster) openLocked(id int32) {
	_, trans := raft.NewInmemTransport(raft.ServerAddress(c.voters[id]))
	sm := newTopicSM(&c.restores)
	q, err := Open(Config{
		ID:                 id,
		Voters:             c.voters,
		Logger:             testLogger(),
		HeartbeatTimeout:   100 * time.Millisecond,
		ElectionTimeout:    100 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		// Snapshot often and keep a short log, so that a node coming back
		// from a restart or a partition is often sent a snapshot.
		SnapshotThreshold: 64,
		SnapshotInterval:  50 * time.Millisecond,
		TrailingLogs:      32,
		Transport:         trans,
		LogStore:          c.logs[id],
		StableStore:       c.logs[id],
		SnapshotStore:     c.snaps[id],
	}, sm)
	if err != nil {
		c.t.Errorf("open node %d: %v", id, err)
		return
	}
	c.trans[id] = trans
	c.nodes[id] = &faultNode{q: q, sm: sm}
}

// linkLocked makes the transports' routes match isolated and cut. A down
// node's transport stays connected: messages to it time out, as they would
// to a crashed process.
func (c *faultCluster) linkLocked() {
	for a, ta := range c.trans {
		for b, tb := range c.trans {
			if a == b {
				continue
			}
			addr := raft.ServerAddress(c.voters[b])
			if c.isolated[a] || c.isolated[b] || c.cut[[2]int32{a, b}] {
				ta.Disconnect(addr)
			} else {
				ta.Connect(addr, tb)
			}
		}
	}
}

func (c *faultCluster) heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.isolated)
	clear(c.cut)
	c.linkLocked()
}

// restart crash-restarts node id after a pause.
func (c *faultCluster) restart(id int32, down time.Duration) {
	c.mu.Lock()
	n := c.nodes[id]
	c.nodes[id] = nil
	c.mu.Unlock()
	if n != nil {
		if err := n.q.Shutdown(); err != nil {
			c.t.Errorf("shut down node %d: %v", id, err)
		}
	}
	time.Sleep(down)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.openLocked(id)
	c.linkLocked()
}

// leaderID returns a node that says it leads, or 0.
func (c *faultCluster) leaderID() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.nodes {
		if n != nil && n.q.IsLeader() {
			return id
		}
	}
	return 0
}

// pick returns the node a client should send to: one that says it leads,
// else a random running one.
func (c *faultCluster) pick(r *rand.Rand) *faultNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var up []*faultNode
	for id := range int32(faultVoters) {
		if n := c.nodes[id+1]; n != nil {
			if n.q.IsLeader() {
				return n
			}
			up = append(up, n)
		}
	}
	if len(up) == 0 {
		return nil
	}
	return up[r.IntN(len(up))]
}

// converge waits until every node's state machine holds the same state as
// the leader's after a barrier.
func (c *faultCluster) converge(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		last = c.compare()
		if last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

func (c *faultCluster) compare() error {
	leader := c.leaderID()
	if leader == 0 {
		return errors.New("no leader")
	}
	c.mu.Lock()
	nodes := maps2slice(c.nodes)
	lq := c.nodes[leader]
	c.mu.Unlock()
	if err := lq.q.Barrier(time.Second); err != nil {
		return fmt.Errorf("barrier on leader %d: %w", leader, err)
	}
	want, err := lq.sm.Snapshot()
	if err != nil {
		return err
	}
	for _, n := range nodes {
		got, err := n.sm.Snapshot()
		if err != nil {
			return err
		}
		if string(got) != string(want) {
			return fmt.Errorf("node %d state differs from leader %d's (%d vs %d bytes)", n.q.id, leader, len(got), len(want))
		}
	}
	return nil
}

func maps2slice(m map[int32]*faultNode) []*faultNode {
	var out []*faultNode
	for _, n := range m {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// topicClient issues one command at a time and records what it learned.
type topicClient struct {
	id  int
	c   *faultCluster
	r   *rand.Rand
	now func() int64
	seq uint64
	// history is this client's operations in call order.
	history []linearizability.TopicOp
	// unresolved maps the ids of commands with unknown outcomes to their
	// place in history.
	unresolved map[uint64]int
}

// outcome is how a command ended from the client's side.
type outcome uint8

const (
	// applied: Propose returned nil, the result is known.
	applied outcome = iota + 1
	// notApplied: every attempt was refused before it reached the log.
	notApplied
	// unknown: some attempt may have reached the log.
	unknown
)

func (cl *topicClient) nextID() uint64 {
	cl.seq++
	return uint64(cl.id+1)<<40 | cl.seq
}

func (cl *topicClient) run(deadline time.Time) {
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(cl.r.IntN(4)) * time.Millisecond)
		switch p := cl.r.IntN(10); {
		case p < 4:
			cl.change(linearizability.TopicCreate, "create")
		case p < 7:
			cl.change(linearizability.TopicDelete, "delete")
		default:
			cl.list(opBudget)
		}
	}
}

// change creates or deletes a random topic.
func (cl *topicClient) change(kind linearizability.TopicOpKind, verb string) {
	id := cl.nextID()
	topic := "t" + strconv.Itoa(cl.r.IntN(faultTopics))
	op := linearizability.TopicOp{Kind: kind, Client: cl.id, Topic: topic, Call: cl.now()}
	res, out := cl.do(fmt.Sprintf("%s %d %s", verb, id, topic), id, opBudget)
	op.Return = cl.now()
	switch out {
	case applied:
		op.Result = resultOf(res.Code)
	case notApplied:
		op.Result = linearizability.TopicFailed
	default:
		op.Result = linearizability.TopicUnknown
		cl.unresolved[id] = len(cl.history)
	}
	cl.history = append(cl.history, op)
}

// list reads the set and asks about this client's unresolved commands.
func (cl *topicClient) list(budget time.Duration) {
	id := cl.nextID()
	cmd := fmt.Sprintf("list %d", id)
	if len(cl.unresolved) > 0 {
		var asked []string
		for u := range cl.unresolved {
			asked = append(asked, strconv.FormatUint(u, 10))
		}
		slices.Sort(asked)
		cmd += " " + strings.Join(asked, ",")
	}
	op := linearizability.TopicOp{Kind: linearizability.TopicList, Client: cl.id, Call: cl.now()}
	res, out := cl.do(cmd, id, budget)
	op.Return = cl.now()
	if out != applied {
		op.Result = linearizability.TopicFailed
		cl.history = append(cl.history, op)
		return
	}
	op.Result, op.Topics = linearizability.TopicOK, res.Topics
	cl.history = append(cl.history, op)
	// A command this list found applied took effect after its call and
	// before this list's linearization point, so before this list returned.
	for u, code := range res.Resolved {
		i := cl.unresolved[u]
		cl.history[i].Result = resultOf(code)
		cl.history[i].Return = op.Return
		delete(cl.unresolved, u)
	}
}

// finalList runs once the faults healed, with a long budget, to resolve
// what is still unknown.
func (cl *topicClient) finalList() {
	cl.list(10 * time.Second)
}

// do sends cmd until it is applied, or the budget is spent. Resending is
// safe because the state machine applies an id once.
func (cl *topicClient) do(cmd string, id uint64, budget time.Duration) (topicResult, outcome) {
	end := time.Now().Add(budget)
	maybe := false
	for time.Now().Before(end) {
		n := cl.c.pick(cl.r)
		if n == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		err := n.q.Propose([]byte(cmd), min(proposeTimeout, time.Until(end)))
		if err == nil {
			r, ok := n.sm.result(id)
			if !ok {
				cl.c.t.Errorf("node %d: Propose of %q returned nil but its state machine has no result", n.q.id, cmd)
			}
			return r, applied
		}
		if errors.Is(err, ErrOutcomeUnknown) {
			maybe = true
		}
		time.Sleep(5 * time.Millisecond)
	}
	if maybe {
		return topicResult{}, unknown
	}
	return topicResult{}, notApplied
}

func resultOf(code uint8) linearizability.TopicResult {
	switch code {
	case codeOK:
		return linearizability.TopicOK
	case codeExists:
		return linearizability.TopicExists
	case codeAbsent:
		return linearizability.TopicAbsent
	}
	panic(fmt.Sprintf("unknown result code %d", code))
}

// nemesis injects faults on a seeded schedule.
type nemesis struct {
	c      *faultCluster
	r      *rand.Rand
	now    func() int64
	events []string
}

func (n *nemesis) log(at int64, format string, args ...any) {
	n.events = append(n.events, fmt.Sprintf("%8.3fs  ", time.Duration(at).Seconds())+fmt.Sprintf(format, args...))
}

func (n *nemesis) run(deadline time.Time) {
	c := n.c
	node := func() int32 { return int32(n.r.IntN(faultVoters)) + 1 }
	for {
		wait := time.Duration(100+n.r.IntN(300)) * time.Millisecond
		if time.Until(deadline) < wait {
			return
		}
		time.Sleep(wait)
		switch p := n.r.IntN(20); {
		case p < 5:
			c.heal()
			n.log(n.now(), "heal")
		case p < 12:
			// Isolate a random node, or the leader (if there is one).
			id := node()
			what := "node"
			if p >= 9 {
				if l := c.leaderID(); l != 0 {
					id, what = l, "leader"
				}
			}
			c.mu.Lock()
			c.isolated[id] = true
			c.linkLocked()
			c.mu.Unlock()
			n.log(n.now(), "isolate %s %d", what, id)
		case p < 14:
			from, to := node(), node()
			if from == to {
				to = from%faultVoters + 1
			}
			c.mu.Lock()
			c.cut[[2]int32{from, to}] = true
			c.linkLocked()
			c.mu.Unlock()
			n.log(n.now(), "cut %d -> %d", from, to)
		case p < 15:
			// Two isolated nodes: no quorum anywhere for a while.
			a := node()
			b := a%faultVoters + 1
			c.mu.Lock()
			c.isolated[a], c.isolated[b] = true, true
			c.linkLocked()
			c.mu.Unlock()
			n.log(n.now(), "isolate %d and %d (no quorum)", a, b)
		default:
			id, what := node(), "node"
			if p >= 18 {
				if l := c.leaderID(); l != 0 {
					id, what = l, "leader"
				}
			}
			down := time.Duration(n.r.IntN(300)) * time.Millisecond
			n.log(n.now(), "restart %s %d (down %s)", what, id, down)
			c.restart(id, down)
		}
	}
}
