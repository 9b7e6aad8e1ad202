package sim

// The coordinator-move trap (KAFKA-20634): a coordinator whose
// __consumer_offsets partition moves to another leader must never
// complete a write it appended as leader and lost to truncation, even
// when its high watermark (now a follower's) later passes the offsets of
// the lost records, which the new leader wrote. Apache Kafka shipped
// exactly that until 2026: successful OffsetCommit answers for commits
// silently dropped after a leadership change.
//
// The swarm faults rarely build that path: the leader must append the
// commit, be cut off before any follower fetched it, stay alive (a crash
// answers nothing), be deposed, hear of it, truncate and catch up while
// the member still waits for its answer. The trap aims at it, in the
// cluster seeds with groups that draw it (stream "group-trap"):
//
//  1. When a member sends an OffsetCommit to the node that leads its
//     group's partition in the committed log (now and then, at most
//     groupTrapBudget times a run, one at a time, never the controller's
//     node), that node is cut off from every other node, both ways, at
//     once. The cut comes as the commit leaves the member rather than
//     after the coordinator appended it: the leader hands a new record
//     to its followers' parked fetches in the very step that appends it,
//     so a cut after the append is too late; one before the request
//     arrives is the latest that keeps the record on the leader alone.
//     The member still reaches the node: it appends the commit, and its
//     high watermark cannot pass it.
//  2. The controller fences the node (no heartbeats) and elects another
//     leader; once the committed log shows it (within 100 ms), the cut
//     heals. The node hears of its
//     demotion, resigns (its pending writes must fail NOT_COORDINATOR),
//     truncates the records the new leader does not have and fetches
//     what the new leader wrote there: its high watermark passes the end
//     of its lost writes.
//
// Coverage: trap-fired (the cut), trap-deposed (another leader in the
// committed log while cut), trap-truncated-pending (the node truncated
// the partition after appending during the cut: its pending writes'
// records went), trap-hw-passed-lost (as a follower, its high watermark
// passed the end it had reached as the cut leader: the moment a kept
// pending write would complete). group-commit judges the answers: a
// commit acknowledged and then lost is a finding (bug pending_kept_on_move).

import (
	"github.com/chronik-streaming/chronik/core/broker"
	lin "github.com/chronik-streaming/chronik/linearizability"
)

// Trap parameters.
const (
	// groupTrapBudget bounds the strikes per run.
	groupTrapBudget = 4
	// groupTrapChance is the chance that a commit eligible for the trap
	// springs it.
	groupTrapChance = 0.3
	// groupTrapMaxCut bounds the cut when no other leader is elected.
	groupTrapMaxCut = 15 * Second
	// groupTrapWatch bounds the watch of the node after the heal.
	groupTrapWatch = 20 * Second
	// groupTrapPoll is how often the trap looks at the node and the log.
	groupTrapPoll = 10 * Millisecond
	// groupTrapSlack is the time, past the brokers' session timeout, that
	// the election, the heal, the node's demotion and its catch-up take
	// in the seeds that reach trap-hw-passed-lost (newGroupTrap).
	groupTrapSlack = 1500 * Millisecond
)

// groupTrap is the run's coordinator-move trap.
type groupTrap struct {
	w    *world
	rng  *Rand
	on   bool
	left int
	// strike is the strike under way (nil: none).
	strike *groupStrike
	view   brokerView
}

// groupStrike is one strike: node n, cut off as leader of tp.
type groupStrike struct {
	n   *simNode
	inc int
	tp  lin.TopicPartition
	// startEnd is n's log end of tp at the cut; cutEnd its log end when
	// the cut healed (what it appended meanwhile lies between).
	startEnd, cutEnd int64
	healed           bool
	truncated        bool
}

// newGroupTrap draws whether the run's trap is armed: in 70% of the
// cluster seeds with groups (the caller says whether the run has both)
// whose members wait for an answer long enough to see the trapped
// commit's: the cut lasts until the controller fences the node (the
// brokers' session timeout) and elects another leader, and the node then
// needs a moment to hear of it and truncate. An answer after the member
// gave up is never judged, so the trap is not armed where it would come
// too late (a request timeout below the session timeout plus
// groupTrapSlack).
func newGroupTrap(w *world, armed bool) *groupTrap {
	t := &groupTrap{w: w, rng: w.root.Fork("group-trap"), left: groupTrapBudget}
	t.on = t.rng.Chance(0.7) && armed &&
		w.set.Work.RequestTimeout >= Time(w.set.Cluster.SessionTimeoutMs)*Millisecond+groupTrapSlack
	return t
}

// answered hears the answer to a trapped commit (codes: each partition's
// error code), which reached the member in time: the judged path.
func (t *groupTrap) answered(codes []int16) {
	t.w.cover("trap-commit-answered")
	t.w.logf("scenario: coordinator-move trap: the trapped commit was answered %v", codes)
}

// commitSent hears that member m sends an OffsetCommit to node, and
// springs the trap when node leads the group's partition; it reports
// whether it did.
func (t *groupTrap) commitSent(m *groupMember, node int32) bool {
	if t == nil {
		return false
	}
	w := t.w
	if !t.on || t.left <= 0 || t.strike != nil || !w.faultsOn || w.q.on || !w.cluster() {
		return false
	}
	p := w.groups.partition(m.group)
	if p < 0 || node <= 0 || int(node) > len(w.nodes) {
		return false
	}
	tp := lin.TopicPartition{Topic: offsetsTopic, Partition: p}
	tt := w.raft.truth.Topic(offsetsTopic)
	if tt == nil || w.leaderOf(tp) != node || node == w.raft.leader || len(tt.Assignments[p].ISR) < 2 {
		return false
	}
	n := w.nodes[node-1]
	if !n.up || n.stopping || n.crashArmed != nil || !t.rng.Chance(groupTrapChance) {
		return false
	}
	v, ok := t.view.of(n, tp)
	if !ok || !v.Leader {
		return false
	}
	t.left--
	s := &groupStrike{n: n, inc: n.inc, tp: tp, startEnd: v.LogEndOffset}
	t.strike = s
	w.cover("trap-fired")
	w.logf("scenario: coordinator-move trap: %s commits to node %d, leader of %s at log end %d: cutting it off", m.c.name, n.id, tp, v.LogEndOffset)
	others := w.otherNodes(n)
	for _, o := range others {
		w.cutNodes(n, o, 1)
		w.cutNodes(o, n, 1)
	}
	gen := w.faultGen
	heal := func() {
		if s.healed {
			return
		}
		s.healed = true
		if v, ok := t.view.of(n, tp); ok && n.inc == s.inc {
			s.cutEnd = v.LogEndOffset
		}
		if w.faultGen == gen { // else healFaults cleared every cut
			for _, o := range others {
				w.cutNodes(n, o, -1)
				w.cutNodes(o, n, -1)
			}
		}
		w.logf("scenario: coordinator-move trap: node %d reconnected (log end of %s %d at the cut, %d now)", n.id, tp, s.startEnd, s.cutEnd)
		t.watch(s, w.s.now+groupTrapWatch)
	}
	deadline := w.s.now + groupTrapMaxCut
	var poll func()
	poll = func() {
		switch {
		case s.healed:
		case w.faultGen != gen || w.s.now >= deadline || n.inc != s.inc:
			heal()
		case w.leaderOf(tp) != n.id && w.leaderOf(tp) > 0:
			w.cover("trap-deposed")
			// Heal at once: the members go on with the cut node (it still
			// answers them) until it hears of its demotion, so the new
			// coordinator writes only after the heal, and the trapped
			// commit's answer counts only if it comes before the member's
			// request timeout.
			w.s.after(Time(t.rng.Range(0, int64(100*Millisecond))), "group-trap-heal", heal)
		default:
			w.s.after(groupTrapPoll, "group-trap", poll)
		}
	}
	w.s.after(groupTrapPoll, "group-trap", poll)
	return true
}

// watch follows the healed node until its high watermark of the
// partition, as a follower, passes the end it reached as the cut leader,
// or until deadline; then the trap may strike again.
func (t *groupTrap) watch(s *groupStrike, deadline Time) {
	w := t.w
	v, ok := t.view.of(s.n, s.tp)
	switch {
	case !ok || s.n.inc != s.inc || w.s.now >= deadline || s.cutEnd <= s.startEnd:
		// Restarted, gone, out of time, or nothing appended in the cut.
		t.strike = nil
	case !v.Leader && v.HighWatermark >= s.cutEnd && s.truncated:
		w.cover("trap-hw-passed-lost")
		w.logf("scenario: coordinator-move trap: node %d's high watermark of %s passed %d, the end of its lost writes", s.n.id, s.tp, s.cutEnd)
		t.strike = nil
	default:
		w.s.after(groupTrapPoll, "group-trap", func() { t.watch(s, deadline) })
	}
}

// truncated hears that node n cut the log of tp (noteTruncate).
func (t *groupTrap) truncated(n *simNode, tp lin.TopicPartition) {
	if t == nil || t.strike == nil {
		return
	}
	s := t.strike
	if s.n != n || s.tp != tp || !s.healed || s.truncated || s.cutEnd <= s.startEnd || n.inc != s.inc {
		return
	}
	s.truncated = true
	t.w.cover("trap-truncated-pending")
}

// brokerView reads a node's replica view of a partition, reusing one
// view (and its ISR slice).
type brokerView struct{ v broker.ReplicaView }

// of returns n's view of tp; false when n is down or has no such replica.
func (b *brokerView) of(n *simNode, tp lin.TopicPartition) (*broker.ReplicaView, bool) {
	if !n.up || n.b == nil || !n.b.ReplicaViewInto(tp.Topic, tp.Partition, &b.v) {
		return nil, false
	}
	return &b.v, true
}
