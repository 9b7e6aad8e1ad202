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

// controlledStop shuts n down as SIGTERM does in a cluster: the broker
// asks the controller to move its leaderships away, and the process
// stops gracefully once ShutdownReady (or after 10 s, as Kafka gives up
// waiting); then runs after the stop.
func (n *simNode) controlledStop(then func()) {
	w := n.w
	inc := n.inc
	n.stopping = true
	w.stats.controlledStops++
	w.logf("fault: controlled shutdown of node %d", n.id)
	w.tr.str("controlled-shutdown")
	n.post("controlled-shutdown", inc, func() { n.b.BeginControlledShutdown(n.nowMs()) })
	deadline := w.s.now + 10*Second
	var poll func()
	poll = func() {
		if n.inc != inc || !n.up {
			return // crashed meanwhile; its restart is scheduled elsewhere
		}
		if ready := n.b.ShutdownReady(); ready || w.s.now >= deadline {
			w.logf("node %d: controlled shutdown %s", n.id, map[bool]string{true: "ready", false: "timed out"}[ready])
			n.stop(true, false)
			then()
			return
		}
		w.s.after(50*Millisecond, "controlled-shutdown-poll", poll)
	}
	w.s.after(50*Millisecond, "controlled-shutdown-poll", poll)
}
