package sim

// Scripted fault scenarios of cluster runs. Each seed runs one of them
// (ClusterSettings.Scenario) on top of the swarm faults; each picks its
// targets from the committed metadata (the truth image), as an operator
// would from the cluster's state:
//
//   - leader-failover: every ScenarioEvery or so, kill -9 or power off
//     (half the power losses in the middle of an fsync) the leader of a
//     random partition; it restarts after the crash settings' downtime.
//   - double-failover (KIP-101): leader A of a partition fails; once B
//     leads it and appends for a while, A returns; as soon as A is
//     registered again, B fails too (and returns later).
//   - rolling-restart: one node after another, a controlled shutdown
//     (BeginControlledShutdown, then a graceful stop once ShutdownReady
//     or after 10 s), a restart, and a pause once it is unfenced again.
//   - controller-failover: the quorum leader's node crashes, is cut off
//     from the other nodes, or the leader steps down.
//   - isolate-leader: a partition leader is cut off from the other nodes
//     (both ways, or one way in asymmetric seeds) while its clients still
//     reach it: with min.insync.replicas 2 it must not acknowledge.

import (
	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/core/driver"
	"github.com/chronik-streaming/chronik/core/metadata"
	lin "github.com/chronik-streaming/chronik/linearizability"
)

// startScenario arms the seed's scenario for fault generation gen
// (armFaults): its steps stop when faults stop or the generation moves on.
func (w *world) startScenario(gen uint64) {
	c := &w.set.Cluster
	r := w.scenRng
	w.logf("scenario: %s", c.Scenario)
	every := func(kind string, fn func()) {
		var next func()
		next = func() {
			if !w.faultsOn || w.faultGen != gen {
				return
			}
			fn()
			w.s.after(r.Exp(c.ScenarioEvery), kind, next)
		}
		w.s.after(r.Exp(c.ScenarioEvery), kind, next)
	}
	switch c.Scenario {
	case scenarioLeaderFailover:
		every("scenario-leader-failover", w.killLeader)
	case scenarioDoubleFailover:
		w.s.after(r.Exp(c.ScenarioEvery), "scenario-double-failover", func() { w.doubleFailover(gen) })
	case scenarioRollingRestart:
		w.s.after(r.Exp(c.ScenarioEvery), "scenario-rolling-restart", func() { w.rollingRestart(gen, int(r.Intn(len(w.nodes)))) })
	case scenarioControllerFailover:
		every("scenario-controller-failover", w.controllerFailover)
	case scenarioIsolateLeader:
		every("scenario-isolate-leader", w.isolateLeader)
	}
}

// pickLeader picks a random partition whose leader (in the committed
// log) is a live node.
func (w *world) pickLeader() (lin.TopicPartition, *simNode) {
	truth := w.raft.truth
	type led struct {
		tp lin.TopicPartition
		n  *simNode
	}
	var all []led
	for _, name := range truth.TopicNames() {
		t := truth.Topic(name)
		for i, a := range t.Assignments {
			if a.Leader > 0 && w.nodes[a.Leader-1].up {
				all = append(all, led{lin.TopicPartition{Topic: name, Partition: int32(i)}, w.nodes[a.Leader-1]})
			}
		}
	}
	if len(all) == 0 {
		return lin.TopicPartition{}, nil
	}
	l := pick(w.scenRng, all)
	return l.tp, l.n
}

// leaderOf is tp's leader in the committed log (-1 for none or gone).
func (w *world) leaderOf(tp lin.TopicPartition) int32 {
	t := w.raft.truth.Topic(tp.Topic)
	if t == nil || tp.Partition >= t.Partitions {
		return -1
	}
	return t.Assignments[tp.Partition].Leader
}

// registration is node n's registration in the committed log.
func (w *world) registration(n *simNode) *metadata.Broker { return w.raft.truth.Broker(n.id) }

// hardStop is a kill -9 or a power loss (half of those in the middle of
// the node's next fsync), drawn from the scenario stream; then runs
// after the stop.
func (w *world) hardStop(n *simNode, then func()) {
	r := w.scenRng
	switch {
	case r.Chance(0.5):
		w.stopNode(n, "kill")
		then()
	case r.Chance(0.5):
		w.stopNode(n, "power")
		then()
	default:
		w.logf("fault: power loss armed for the next fsync of node %d", n.id)
		var armed func()
		armed = func() {
			w.stopNode(n, "power")
			then()
		}
		n.crashArmed = armed
		inc := n.inc
		w.s.after(Second, "scenario-power-loss", func() {
			// No fsync came (an idle node): the power goes anyway.
			if n.inc == inc && n.up && n.crashArmed != nil && w.faultsOn {
				n.crashArmed = nil
				armed()
			}
		})
	}
}

// downtime draws how long a crashed node stays down.
func (w *world) downtime() Time {
	c := &w.set.Crash
	if c.DownMax > 0 {
		return Time(w.scenRng.Range(int64(c.DownMin), int64(c.DownMax)))
	}
	return Time(w.scenRng.Range(int64(100*Millisecond), int64(2*Second)))
}

// killLeader is one step of leader-failover.
func (w *world) killLeader() {
	tp, n := w.pickLeader()
	if n == nil || n.crashArmed != nil || n.stopping {
		return
	}
	w.logf("scenario: failing node %d, leader of %s", n.id, tp)
	w.hardStop(n, func() {
		n.scheduleStart(w.downtime())
		if w.scenRng.Chance(0.5) {
			w.armTruncTrap(func() {})
		}
	})
}

// waitFor polls cond every 100 ms until it holds (then runs ok) or
// limit passes or the fault phase ends (then runs timeout).
func (w *world) waitFor(kind string, limit Time, cond func() bool, ok, timeout func()) {
	deadline := w.s.now + limit
	var poll func()
	poll = func() {
		switch {
		case !w.faultsOn || w.s.now >= deadline:
			timeout()
		case cond():
			ok()
		default:
			w.s.after(100*Millisecond, kind, poll)
		}
	}
	poll()
}

// truncTrap fires when a node cuts the log of a partition (a follower
// truncating a divergent suffix, or recovery cutting a torn tail).
type truncTrap struct {
	deadline Time
	fn       func(n *simNode, tp lin.TopicPartition)
}

// noteTruncate hears that node n shrank segment file name; it runs on
// the broker's call stack, so the traps fire from a fresh event.
func (w *world) noteTruncate(n *simNode, name string) {
	tp, ok := partitionOfPath(name)
	if !ok || n == nil {
		return
	}
	w.groups.trap.truncated(n, tp)
	kept := w.truncTraps[:0]
	for _, t := range w.truncTraps {
		switch {
		case w.s.now > t.deadline:
		default:
			fn := t.fn
			w.s.after(0, "scenario-truncation", func() { fn(n, tp) })
		}
	}
	clear(w.truncTraps[len(kept):])
	w.truncTraps = kept
}

// armTruncTrap sets, for the next 5 s, the trap of a failover: when a
// node truncates a partition's log (a follower cutting a divergent
// suffix, as followers do when leadership moves), the partition's leader
// fails within 5 ms, before that follower has fetched again. A follower
// that truncated too far (to its own high watermark, say) and then leads
// loses acknowledged records. sprung runs when the trap fires.
func (w *world) armTruncTrap(sprung func()) {
	w.truncTraps = append(w.truncTraps, truncTrap{deadline: w.s.now + 5*Second, fn: func(f *simNode, tp lin.TopicPartition) {
		w.s.after(Time(w.scenRng.Range(0, int64(5*Millisecond))), "scenario-truncation", func() {
			l := w.leaderOf(tp)
			if !w.faultsOn || l <= 0 || l == f.id || !w.nodes[l-1].up || w.nodes[l-1].stopping || w.nodes[l-1].crashArmed != nil {
				return
			}
			b := w.nodes[l-1]
			w.cover("trap-truncation")
			sprung()
			w.logf("scenario: node %d truncated %s; failing its leader, node %d", f.id, tp, b.id)
			w.hardStop(b, func() { b.scheduleStart(w.downtime()) })
		})
	}})
}

// doubleFailover runs one round of the KIP-101 scenario and schedules
// the next. Leader A of a partition fails, with the truncation trap set
// (armTruncTrap). If the trap does not fire, B takes over and appends
// for a while, A returns, and as soon as A is registered again, B fails
// too. Each returns later.
func (w *world) doubleFailover(gen uint64) {
	if !w.faultsOn || w.faultGen != gen {
		return
	}
	again := func() {
		w.s.after(w.scenRng.Exp(w.set.Cluster.ScenarioEvery), "scenario-double-failover", func() { w.doubleFailover(gen) })
	}
	tp, a := w.pickLeader()
	if a == nil || a.crashArmed != nil || a.stopping {
		again()
		return
	}
	var incA uint64
	if reg := w.registration(a); reg != nil {
		incA = reg.Incarnation
	}
	w.logf("scenario: double failover of %s: failing its leader, node %d", tp, a.id)
	w.hardStop(a, func() {
		sprung := false
		w.armTruncTrap(func() { sprung = true })
		// B takes over and appends a while; then A returns.
		w.waitFor("scenario-double-failover", 15*Second, func() bool {
			l := w.leaderOf(tp)
			return l > 0 && l != a.id && w.nodes[l-1].up
		}, func() {
			b := w.nodes[w.leaderOf(tp)-1]
			w.logf("scenario: double failover of %s: node %d leads; node %d returns soon", tp, b.id, a.id)
			w.s.after(w.scenRng.Exp(Second), "scenario-double-failover", func() {
				a.scheduleStart(0)
				w.waitFor("scenario-double-failover", 15*Second, func() bool {
					reg := w.registration(a)
					return a.up && reg != nil && reg.Incarnation != incA && !reg.Fenced
				}, func() {
					if sprung || !b.up || b.crashArmed != nil || b.stopping {
						again()
						return
					}
					w.logf("scenario: double failover of %s: node %d is back; failing node %d", tp, a.id, b.id)
					w.hardStop(b, func() { b.scheduleStart(w.downtime()) })
					again()
				}, again)
			})
		}, func() {
			a.scheduleStart(0)
			again()
		})
	})
}

// rollingRestart restarts node i (by index) with a controlled shutdown,
// waits until it is unfenced again and moves on to the next node.
func (w *world) rollingRestart(gen uint64, i int) {
	if !w.faultsOn || w.faultGen != gen {
		return
	}
	n := w.nodes[i%len(w.nodes)]
	next := func() {
		w.s.after(w.scenRng.Exp(w.set.Cluster.ScenarioEvery/2), "scenario-rolling-restart", func() { w.rollingRestart(gen, i+1) })
	}
	if !n.up || n.crashArmed != nil || n.stopping {
		next()
		return
	}
	var inc uint64
	if reg := w.registration(n); reg != nil {
		inc = reg.Incarnation
	}
	n.controlledStop(func() {
		n.scheduleStart(w.downtime())
		w.waitFor("scenario-rolling-restart", 20*Second, func() bool {
			reg := w.registration(n)
			return n.up && reg != nil && reg.Incarnation != inc && !reg.Fenced
		}, next, next)
	})
}

// controllerFailover is one step of controller-failover.
func (w *world) controllerFailover() {
	leader := w.raft.leader
	if leader < 0 {
		return
	}
	n := w.nodes[leader-1]
	switch w.scenRng.Intn(3) {
	case 0:
		if n.crashArmed != nil || n.stopping {
			return
		}
		w.logf("scenario: failing node %d, the controller", n.id)
		w.stats.controllerMoves++
		w.hardStop(n, func() { n.scheduleStart(w.downtime()) })
	case 1:
		w.logf("scenario: cutting off node %d, the controller", n.id)
		w.stats.controllerMoves++
		w.partitionNodes(n, w.otherNodes(n), w.partitionDir(), Time(w.scenRng.Range(int64(500*Millisecond), int64(5*Second))))
	default:
		w.logf("scenario: the controller (node %d) steps down", n.id)
		w.raft.stepDown()
	}
}

// isolateLeader is one step of isolate-leader.
func (w *world) isolateLeader() {
	tp, n := w.pickLeader()
	if n == nil {
		return
	}
	w.logf("scenario: cutting off node %d, leader of %s", n.id, tp)
	w.partitionNodes(n, w.otherNodes(n), w.partitionDir(), Time(w.scenRng.Range(int64(Second), int64(6*Second))))
}

func (w *world) otherNodes(n *simNode) []*simNode {
	var out []*simNode
	for _, o := range w.nodes {
		if o != n {
			out = append(out, o)
		}
	}
	return out
}

// partitionDir draws the direction of a scenario's cut: both ways, or
// one way in asymmetric seeds.
func (w *world) partitionDir() int {
	if w.set.Cluster.NodeAsymmetric && w.scenRng.Chance(0.5) {
		return 1 + w.scenRng.Intn(2)
	}
	return 0
}

// controlledShutdownTimeoutMs bounds a controlled shutdown's wait for
// the leaderships to move, as node's ControlledShutdownTimeout does
// (Kafka gives up waiting too).
const controlledShutdownTimeoutMs = 10_000

// controlledStop shuts n down as SIGTERM does in a cluster: the driver
// asks the controller to move the broker's leaderships away, and the
// process stops gracefully once the driver says they moved or the wait
// timed out (finishControlledStop); then runs after the stop.
func (n *simNode) controlledStop(then func()) {
	w := n.w
	n.stopping = true
	n.stopThen = then
	w.stats.controlledStops++
	w.logf("fault: controlled shutdown of node %d", n.id)
	w.tr.str("controlled-shutdown")
	n.post("controlled-shutdown", n.inc, func() { n.d.BeginControlledShutdown(controlledShutdownTimeoutMs) })
}

// finishControlledStop stops n, in an event of its own, once its driver
// reports the controlled shutdown over.
func (n *simNode) finishControlledStop(why driver.StopReason) {
	w := n.w
	then := n.stopThen
	if then == nil {
		return // already scheduled
	}
	n.stopThen = nil
	inc := n.inc
	w.s.after(0, "controlled-shutdown-done", func() {
		if n.inc != inc || !n.up {
			return // crashed meanwhile; its restart is scheduled elsewhere
		}
		w.logf("node %d: controlled shutdown %s", n.id, map[bool]string{true: "ready", false: "timed out"}[why == driver.ShutdownReady])
		n.stop(true, false)
		then()
	})
}

// replTraps are the aimed faults of the replication checkers
// (replcheck.go), each armed in a share of the cluster seeds from their
// own stream ("repl-traps"), so that arming them leaves the other
// streams' draws alone:
//
//   - expansion: right after the committed log grows an ISR (and the
//     admission passed its check), within 5 ms, the leader is killed
//     (kill -9) or the joiner powered off: the joiner may have to lead
//     with what it held when it was admitted, or recover it from its disk.
//   - election: as soon as a new leader takes a partition over at a new
//     leader epoch (its log line), within 1 ms and so before its
//     followers have fetched from it, it is killed: the next leader must
//     not have lost what the killed one had acknowledged as leader of the
//     epoch before.
//   - returning follower: now and then, for a partition whose whole
//     replica set is in the ISR, the next leader B is cut off from the
//     third replica C (which stays in the ISR, so that B's high watermark
//     cannot pass its epoch start until it shrinks C out) and the leader
//     A (not the controller), caught while B holds records A has not
//     synced, is powered off and returns soon: A comes back outside the ISR
//     while B's high watermark lags B's epoch start, the window of the
//     epoch-start rule of ISR admission.
//
// Each kind strikes at most replTrapBudget times a run, and never takes
// down more nodes than the crash settings allow at once.
type replTraps struct {
	w                              *world
	rng                            *Rand
	expansion, election, returning bool
	// lagging arms the lagging-follower trap (startLagging).
	lagging bool
	// viewA and viewB are returningCandidates' replica views, reused
	// (ReplicaViewInto keeps their ISR slices).
	viewA, viewB broker.ReplicaView
	left         map[string]int
}

// replTrapBudget bounds each trap kind per run.
const replTrapBudget = 3

// newReplTraps draws which traps a cluster seed arms.
func newReplTraps(w *world, rng *Rand) *replTraps {
	t := &replTraps{w: w, rng: rng, left: map[string]int{}}
	t.expansion = rng.Chance(0.35)
	t.election = rng.Chance(0.35)
	t.returning = rng.Chance(0.6)
	t.lagging = rng.Chance(0.35)
	for _, k := range []string{"expansion", "election", "returning", "lagging"} {
		t.left[k] = replTrapBudget
	}
	return t
}

// spend takes one strike of kind from the budget when the trap may take
// one more node down now.
func (t *replTraps) spend(kind string) bool {
	w := t.w
	if !w.faultsOn || t.left[kind] <= 0 {
		return false
	}
	down := 0
	for _, n := range w.nodes {
		if !n.up || n.stopping || n.crashArmed != nil {
			down++
		}
	}
	if down+1 > w.set.Cluster.MaxDown {
		return false
	}
	t.left[kind]--
	return true
}

// strike stops n (kill or power) within delay, if it is still the same
// process then, and restarts it after a short downtime.
func (t *replTraps) strike(n *simNode, kind string, delay Time, cover string) {
	w := t.w
	inc := n.inc
	w.s.after(delay, "repl-trap", func() {
		if !w.faultsOn || !n.up || n.inc != inc || n.stopping || n.crashArmed != nil {
			return
		}
		w.cover(cover)
		w.logf("scenario: %s: stopping node %d (%s)", cover, n.id, kind)
		w.stopNode(n, kind)
		n.scheduleStart(Time(t.rng.Range(int64(200*Millisecond), int64(1500*Millisecond))))
	})
}

// admitted arms the expansion trap after joiner's admission to tp's ISR
// (led by leader) committed.
func (t *replTraps) admitted(tp lin.TopicPartition, leader, joiner int32) {
	if t == nil || !t.expansion || !t.spend("expansion") {
		return
	}
	delay := Time(t.rng.Range(0, int64(5*Millisecond)))
	if t.rng.Chance(0.5) {
		t.strike(t.w.nodes[leader-1], "kill", delay, "trap-expansion-kill-leader")
	} else {
		t.strike(t.w.nodes[joiner-1], "power", delay, "trap-expansion-power-joiner")
	}
}

// leading arms the election trap when node n's broker logs that it took a
// partition over (args: the log line's) at the committed leader epoch.
func (t *replTraps) leading(n *simNode, args []any) {
	if t == nil || !t.election {
		return
	}
	var dir string
	epoch := int32(-1)
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "partition":
			dir, _ = args[i+1].(string)
		case "leader_epoch":
			epoch, _ = args[i+1].(int32)
		}
	}
	tp, ok := partitionOfPath(dir + "/")
	if !ok || epoch <= 0 {
		return // a new partition's first leader: nothing to lose yet
	}
	tt := t.w.raft.truth.Topic(tp.Topic)
	if tt == nil || tp.Partition >= tt.Partitions {
		return
	}
	if a := &tt.Assignments[tp.Partition]; a.Leader != n.id || a.LeaderEpoch != epoch || !t.spend("election") {
		return
	}
	t.strike(n, "kill", Time(t.rng.Range(0, int64(Millisecond))), "trap-election-kill-leader")
}

// startLagging arms the lagging-follower trap: now and then it cuts an
// ISR follower off from its partition's leader, both ways, for longer
// than replica.lag.time.max.ms plus the isr-shrink checker's slack, while
// both keep their links to the controller (neither is its node). The
// follower stays registered and unfenced, so only the leader's lag check
// can take it out of the ISR, which the isr-shrink rule then judges. The
// other faults rarely build this: a node partition usually cuts the
// controller off too, and fencing does the shrinking.
func (t *replTraps) startLagging() {
	if t == nil || !t.lagging {
		return
	}
	t.every(10*Second, "lagging", t.laggingFollower)
}

// every runs strike at exponentially spread times of the given mean while
// faults are on and the trap kind has strikes left.
func (t *replTraps) every(mean Time, kind string, strike func()) {
	w := t.w
	event := "repl-trap-" + kind
	var next func()
	next = func() {
		if !w.faultsOn || t.left[kind] <= 0 {
			return
		}
		strike()
		w.s.after(t.rng.Exp(mean), event, next)
	}
	w.s.after(t.rng.Exp(mean), event, next)
}

// laggingFollower strikes the lagging-follower trap once, if a partition
// qualifies (leader and an ISR follower up, neither the controller's
// node, no cut between them yet).
func (t *replTraps) laggingFollower() {
	w := t.w
	truth := w.raft.truth
	type cand struct{ leader, follower *simNode }
	var cands []cand
	for _, name := range truth.TopicNames() {
		for _, a := range truth.Topic(name).Assignments {
			if a.Leader <= 0 || a.Leader == w.raft.leader || !w.nodes[a.Leader-1].up {
				continue
			}
			for _, f := range a.ISR {
				if f != a.Leader && f != w.raft.leader && w.nodes[f-1].up && !w.cutBetween(w.nodes[a.Leader-1], w.nodes[f-1]) {
					cands = append(cands, cand{w.nodes[a.Leader-1], w.nodes[f-1]})
				}
			}
		}
	}
	if len(cands) == 0 {
		return
	}
	c := pick(t.rng, cands)
	t.left["lagging"]--
	lag := Time(w.brokerCfg.ReplicaLagTimeMaxMs) * Millisecond
	w.cover("trap-lagging-follower")
	w.logf("scenario: lagging follower: cutting node %d off from its leader %d", c.follower.id, c.leader.id)
	w.partitionNodes(c.leader, []*simNode{c.follower}, 0, lag+isrShrinkSlack+Time(t.rng.Range(int64(Second), int64(3*Second))))
}

// startReturning schedules the returning-follower trap.
func (t *replTraps) startReturning() {
	if t == nil || !t.returning {
		return
	}
	t.every(8*Second, "returning", t.returningFollower)
}

// returningFollower runs one strike of the returning-follower trap. It
// watches for up to three seconds (every 2 ms: the window is an fsync
// long) for a partition whose next leader holds records the leader has
// not synced yet, so that the leader, powered off, comes back below the
// next leader's epoch start, and strikes the first it finds.
func (t *replTraps) returningFollower() {
	w := t.w
	deadline := w.s.now + 3*Second
	var poll func()
	poll = func() {
		if !w.faultsOn {
			return
		}
		if ripe := t.returningCandidates(); len(ripe) > 0 {
			t.strikeReturning(pick(t.rng, ripe))
		} else if w.s.now < deadline {
			w.s.after(2*Millisecond, "repl-trap-returning", poll)
		}
	}
	poll()
}

// returningCand is a partition the returning-follower trap may strike:
// leader a, next leader b, third replica c.
type returningCand struct {
	tp      lin.TopicPartition
	a, b, c *simNode
}

// returningCandidates lists the ripe partitions: the whole replica set
// (of three or more) is up and in the ISR, the leader is not the
// controller (whose failover would delay its return) and the next leader
// holds records past the leader's durable end.
func (t *replTraps) returningCandidates() (ripe []returningCand) {
	w := t.w
	truth := w.raft.truth
	for _, name := range truth.TopicNames() {
		tt := truth.Topic(name)
		for i := range tt.Assignments {
			p := &tt.Assignments[i]
			if p.Leader <= 0 || p.Leader == w.raft.leader || len(p.Replicas) < 3 || len(p.ISR) != len(p.Replicas) {
				continue
			}
			var othersBuf [4]*simNode // replicas besides the leader, on the stack
			others := othersBuf[:0]
			ok := true
			for _, id := range p.Replicas {
				n := w.nodes[id-1]
				if !n.up || n.stopping || n.crashArmed != nil {
					ok = false
				}
				if id != p.Leader {
					others = append(others, n)
				}
			}
			if !ok {
				continue
			}
			// The next leader is the first ISR member in replica order.
			c := returningCand{lin.TopicPartition{Topic: name, Partition: int32(i)}, w.nodes[p.Leader-1], others[0], others[1]}
			va, vb := &t.viewA, &t.viewB
			okA := c.a.b.ReplicaViewInto(name, int32(i), va)
			okB := c.b.b.ReplicaViewInto(name, int32(i), vb)
			if okA && okB && va.DurableEndOffset >= 0 && vb.LogEndOffset > va.DurableEndOffset {
				ripe = append(ripe, c)
			}
		}
	}
	return ripe
}

// strikeReturning cuts c.b off from c.c, powers c.a off and restarts it
// soon.
func (t *replTraps) strikeReturning(c returningCand) {
	w := t.w
	if !t.spend("returning") {
		return
	}
	lag := Time(w.brokerCfg.ReplicaLagTimeMaxMs) * Millisecond
	w.cover("trap-returning-follower")
	w.logf("scenario: returning follower on %s: cutting node %d off from node %d, powering off leader %d", c.tp, c.b.id, c.c.id, c.a.id)
	w.partitionNodes(c.b, []*simNode{c.c}, 0, lag+Time(t.rng.Range(int64(500*Millisecond), int64(2*Second))))
	w.stopNode(c.a, "power")
	c.a.scheduleStart(Time(t.rng.Range(int64(50*Millisecond), int64(400*Millisecond))))
}
