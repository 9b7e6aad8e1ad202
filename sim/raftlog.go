package sim

// The metadata quorum of a cluster run. In production it is
// hashicorp/raft, which reads the wall clock and runs goroutines, so the
// simulator drives the brokers' metadata through this deterministic model
// of what Raft guarantees and of how it fails, as ARCHITECTURE.md says:
//
//   - One totally ordered log of committed entries, shared by every node
//     and never lost (it is the quorum's job, not the broker disks').
//   - At most one leader, the controller: a live node that reaches a
//     majority of the nodes (both directions of both links up). Only the
//     leader's proposals commit, in the order proposed, after a seeded
//     delay, and only while it keeps its majority; a proposal made to any
//     other node fails at once (hashicorp/raft's ErrNotLeader).
//   - A leader that crashes, or stays cut off from a majority for the
//     lease timeout, or steps down (a fault of its own), leaves the
//     cluster without a leader for a seeded election window. Its
//     uncommitted proposals are lost, except that a seeded prefix of them
//     may have reached a majority already and commits when the next
//     leader is elected; the proposers hear ProposalFailed, or (seeded)
//     nothing at all, and a proposal reported failed may still commit.
//   - Every node applies the committed entries in order, after its own
//     seeded delay, while it reaches the leader; a node cut off from the
//     leader lags and catches up when it reaches it again. A node far
//     behind gets the leader's snapshot installed (RestoreMetadata) when
//     one exists. The leader itself applies everything committed before it
//     is told it leads (a Raft barrier), so a new controller never acts on
//     an image older than the log.
//   - A restarted broker starts empty: it restores the node's latest
//     snapshot (taken with SnapshotMetadata every few applies; snapshots
//     survive crashes) or replays the log from the start.
//   - Each node's view of the leader (SetController) follows the truth
//     with a seeded delay: a node hears of a new leader within a heartbeat
//     or so, a deposed leader learns at once that it lost, and a node cut
//     off from the leader keeps its stale view for a detection delay.
//
// Checks: after every apply batch, snapshot and restore the node's image
// must equal, byte for byte (Marshal), the image the simulator builds by
// applying the committed log itself (truth); the truth image also tells
// the fault scenarios who leads what and the final phase whether every
// replica rejoined the ISR.

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/chronik-streaming/chronik/core/driver"
	"github.com/chronik-streaming/chronik/core/metadata"
)

// raftModel is the metadata quorum of a cluster run.
type raftModel struct {
	w   *world
	set RaftSettings
	rng *Rand

	entries [][]byte // the committed log
	// decoded[i] is entries[i] as metadata.DecodeEntry gave it (nil when
	// it does not decode): each broker applies a Clone of it
	// (ApplyDecodedMetadata) rather than decoding the JSON again, which
	// was 2.5% of a sweep.
	decoded []*metadata.Entry
	hashes  [][32]byte // hashes[i]: the truth image's hash after entries[:i+1]
	truth   *metadata.Image
	// scratch is reused to encode nodes' images compactly (every apply
	// on every node encodes one).
	scratch []byte
	// recent holds the truth's encodings after the last len(recent)
	// entries, recent[i % len] after i+1 entries (buffers reused): a node
	// that applies one of them is compared byte for byte, which costs a
	// fraction of hashing its encoding; older ones by hash.
	recent [16][]byte
	// before is the truth's partitions before the commit being applied.
	before truthSnap
	// topics is the current incarnation of every topic of the committed
	// log, with the indexes that created it (catchup.go).
	topics map[string]*topicLife

	term    int
	leader  int32 // node id, or -1 while there is none
	pending []*raftProposal
	// carry holds a deposed leader's entries that had reached a majority:
	// the next leader commits them first.
	carry []*raftProposal
	// silent holds the proposals that failed without a word (tellSilent).
	silent []*raftProposal

	lastReady     Time
	commitArmed   bool
	electionArmed bool
	stepDownArmed bool
	stepDownGen   uint64
	diverged      bool

	nodes []*raftNode // by node index
}

// raftProposal is an entry the leader accepted but has not committed.
type raftProposal struct {
	node    *simNode
	inc     int
	seq     uint64
	data    []byte
	readyAt Time
}

// raftNode is one node's side of the quorum.
type raftNode struct {
	n *simNode
	// applied counts the entries the current broker process applied (or
	// restored from a snapshot).
	applied int
	// view is the controller id last given to the broker; want, when
	// armed, the one on its way.
	view      int32
	want      int32
	viewArmed bool
	viewGen   uint64
	applyArm  bool
	// applySlow says the armed apply drew a slow delay (a fault), and
	// applyGen numbers the armed applies: a quiet window re-arms a slow
	// one (cutSlowApplies), and the old one's event then does nothing.
	applySlow bool
	applyGen  uint64
	// snap is the node's latest snapshot; it survives crashes.
	snap      *raftSnapshot
	sinceSnap int
}

type raftSnapshot struct {
	index int
	data  []byte
}

func newRaftModel(w *world, set RaftSettings, rng *Rand) *raftModel {
	r := &raftModel{w: w, set: set, rng: rng, truth: metadata.NewImage(), topics: map[string]*topicLife{}, leader: -1}
	for _, n := range w.nodes {
		rn := &raftNode{n: n, view: -1}
		r.nodes = append(r.nodes, rn)
		n.raft = rn
	}
	return r
}

func (r *raftModel) node(id int32) *simNode { return r.w.nodes[id-1] }

// reach reports whether a and b can talk: both up and both directions
// between them uncut (a node always reaches itself while up).
func (r *raftModel) reach(a, b *simNode) bool {
	if !a.up || !b.up {
		return false
	}
	return a == b || (!r.w.cutBetween(a, b) && !r.w.cutBetween(b, a))
}

// hasMajority reports whether node id reaches a majority, itself included.
func (r *raftModel) hasMajority(id int32) bool {
	n := r.node(id)
	count := 0
	for _, o := range r.w.nodes {
		if r.reach(n, o) {
			count++
		}
	}
	return count > len(r.w.nodes)/2
}

// propose is Quorum.Propose of node n.
func (r *raftModel) propose(n *simNode, seq uint64, data []byte) {
	w := r.w
	w.tr.str("raft-propose")
	w.tr.i64(int64(n.id))
	w.tr.u64(seq)
	if r.leader != n.id {
		w.logf("raft: proposal %d of node %d refused: the leader is %d", seq, n.id, r.leader)
		r.fail(&raftProposal{node: n, inc: n.inc, seq: seq}, "not the leader")
		return
	}
	p := &raftProposal{node: n, inc: n.inc, seq: seq, data: data}
	p.readyAt = max(w.s.now+r.rng.Exp(r.set.CommitDelay), r.lastReady)
	r.lastReady = p.readyAt
	r.pending = append(r.pending, p)
	r.armCommit()
}

// fail tells a proposer its proposal failed, or (seeded) nothing.
func (r *raftModel) fail(p *raftProposal, why string) {
	w := r.w
	// Silence is a fault: in a quiet window every failure is reported.
	if !w.q.on && r.rng.Chance(r.set.SilentFailProb) {
		w.tr.str("raft-proposal-silent")
		w.logf("raft: proposal %d of node %d lost without a word (%s)", p.seq, p.node.id, why)
		if len(r.silent) < maxSilentProposals {
			r.silent = append(r.silent, p)
		}
		return
	}
	r.tellFailed(p, why)
}

// maxSilentProposals bounds the silently failed proposals a quiet window
// may still report (tellSilent).
const maxSilentProposals = 1024

// tellSilent reports the proposals that failed without a word so far, as
// the quorum would have once it recovered: a quiet window heals every
// fault, this silence included (quiet.go).
func (r *raftModel) tellSilent() {
	silent := r.silent
	r.silent = nil
	for _, p := range silent {
		if p.node.inc == p.inc && p.node.up {
			r.tellFailed(p, "reported late")
		}
	}
}

// tellFailed tells p's proposer, after a short delay, that p failed.
func (r *raftModel) tellFailed(p *raftProposal, why string) {
	w := r.w
	n, inc, seq := p.node, p.inc, p.seq
	w.s.after(r.rng.Exp(Millisecond), "raft-proposal-failed", func() {
		n.post("proposal-failed", inc, func() {
			w.logf("raft: node %d hears proposal %d failed (%s)", n.id, seq, why)
			n.d.Handle(driver.Event{Kind: driver.EventProposalFailed, Seq: seq})
		})
	})
}

// armCommit schedules the commit of the leader's first pending entry.
func (r *raftModel) armCommit() {
	if r.commitArmed || len(r.pending) == 0 {
		return
	}
	r.commitArmed = true
	r.w.s.at(r.pending[0].readyAt, "raft-commit", func() {
		r.commitArmed = false
		for len(r.pending) > 0 && r.pending[0].readyAt <= r.w.s.now && r.leader >= 0 && r.hasMajority(r.leader) {
			p := r.pending[0]
			r.pending[0] = nil
			r.pending = r.pending[1:]
			r.commit(p.data)
		}
		if r.leader >= 0 && r.hasMajority(r.leader) {
			r.armCommit()
		}
		// Without a majority the entries wait; topologyChanged re-arms.
	})
}

// commit appends data to the committed log and applies it to the truth
// image.
func (r *raftModel) commit(data []byte) {
	w := r.w
	r.entries = append(r.entries, data)
	w.tr.str("raft-commit")
	w.tr.i64(int64(len(r.entries)))
	e, err := metadata.DecodeEntry(data)
	var decoded *metadata.Entry // taken before the truth applies e
	if err == nil {
		decoded = e.Clone()
	}
	r.decoded = append(r.decoded, decoded)
	if err == nil {
		if w.rogue != nil {
			w.checkRogueEntry(len(r.entries), e)
		}
		r.before.take(r.truth)
		r.noteTopics(len(r.entries), e, r.truth.ApplyEntry(e))
		w.repl.afterCommit(&r.before)
		r.coverCommit(&r.before)
	} else {
		w.logf("raft: committed entry %d does not decode: %v", len(r.entries), err)
	}
	slot := &r.recent[(len(r.entries)-1)%len(r.recent)]
	*slot = r.truth.AppendCompact((*slot)[:0])
	r.hashes = append(r.hashes, sha256.Sum256(*slot))
	if w.logw != nil {
		desc := "undecodable"
		if e != nil {
			desc = describeEntry(e)
		}
		w.logf("raft: commit %d (term %d, leader %d): %s", len(r.entries), r.term, r.leader, desc)
	}
	for _, rn := range r.nodes {
		r.pump(rn)
	}
}

// describeEntry renders an entry for the event log.
func describeEntry(e *metadata.Entry) string {
	s := fmt.Sprintf("from node %d seq %d:", e.Proposer, e.Seq)
	for _, rec := range e.Records {
		switch {
		case rec.RegisterBroker != nil:
			s += fmt.Sprintf(" register(%d,inc %d)", rec.RegisterBroker.ID, rec.RegisterBroker.Incarnation)
		case rec.FenceBroker != nil:
			s += fmt.Sprintf(" fence(%d,inc %d)", rec.FenceBroker.ID, rec.FenceBroker.Incarnation)
		case rec.UnfenceBroker != nil:
			s += fmt.Sprintf(" unfence(%d,inc %d)", rec.UnfenceBroker.ID, rec.UnfenceBroker.Incarnation)
		case rec.CreateTopic != nil:
			s += fmt.Sprintf(" create(%s,%d,rf %d)", rec.CreateTopic.Name, rec.CreateTopic.Partitions, rec.CreateTopic.ReplicationFactor)
		case rec.DeleteTopic != nil:
			s += fmt.Sprintf(" delete(%s)", rec.DeleteTopic.Name)
		case rec.CreatePartitions != nil:
			s += fmt.Sprintf(" grow(%s,%d)", rec.CreatePartitions.Name, rec.CreatePartitions.Count)
		case rec.ChangeISR != nil:
			c := rec.ChangeISR
			s += fmt.Sprintf(" isr(%s-%d,leader %d epoch %d/%d,%v)", c.Topic, c.Partition, c.Leader, c.LeaderEpoch, c.PartitionEpoch, c.ISR)
		case rec.SetTopicConfigs != nil:
			s += fmt.Sprintf(" configs(%s)", rec.SetTopicConfigs.Name)
		case rec.AllocateProducerIDs != nil:
			s += fmt.Sprintf(" pids(%d)", rec.AllocateProducerIDs.Broker)
		}
	}
	return s
}

// connected reports whether node n receives the log: it leads, or it
// reaches the leader.
func (r *raftModel) connected(n *simNode) bool {
	return r.leader >= 0 && r.reach(n, r.node(r.leader))
}

// pump schedules the next apply batch of rn when it has entries to
// apply and receives the log.
func (r *raftModel) pump(rn *raftNode) {
	n := rn.n
	if !n.up || rn.applyArm || rn.applied >= len(r.entries) || !r.connected(n) {
		return
	}
	rn.applyArm = true
	rn.applySlow = false
	inc, gen := n.inc, rn.applyGen
	d := r.rng.Exp(r.set.ApplyDelay)
	// Slow applies are a fault: a quiet window has none (quiet.go).
	if !r.w.q.on && r.rng.Chance(r.set.SlowApplyProb) {
		d += r.rng.Exp(r.set.SlowApplyDelay)
		rn.applySlow = true
	}
	r.w.s.after(d, "raft-apply", func() {
		n.post("raft-apply", inc, func() {
			if rn.applyGen != gen {
				return // re-armed by a quiet window
			}
			rn.applyArm = false
			if !r.connected(n) {
				return
			}
			r.catchUp(rn, 64)
			r.pump(rn)
		})
	})
}

// cutSlowApplies re-arms, with an ordinary delay, every apply that drew
// a slow one: a quiet window stops slow applies, including those armed
// just before it (sim seeds 512417481 and 689151167: an apply armed 1 s
// before the window for 6 s kept the controller's node from applying its
// own commits, so a restarted broker stayed fenced, or a leader's ISR
// expansion stale, for 5 s of the window).
func (r *raftModel) cutSlowApplies() {
	for _, rn := range r.nodes {
		if rn.applyArm && rn.applySlow {
			r.w.logf("raft: node %d's slow apply cut short by the quiet window", rn.n.id)
			rn.applyGen++
			rn.applyArm = false
			r.pump(rn)
		}
	}
}

// catchUp applies up to limit committed entries on rn's broker (all of
// them with limit 0), installing the leader's snapshot first when rn is
// far behind it.
func (r *raftModel) catchUp(rn *raftNode, limit int) {
	n := rn.n
	if r.leader >= 0 && len(r.entries)-rn.applied >= r.set.InstallLag {
		if s := r.nodes[r.leader-1].snap; s != nil && s.index > rn.applied {
			r.w.logf("raft: node %d installs the leader's snapshot at %d (applied %d)", n.id, s.index, rn.applied)
			r.w.tr.str("raft-install-snapshot")
			r.restore(rn, s)
		}
	}
	from := rn.applied
	checked := true // the image at rn.applied was compared
	for count := 0; rn.applied < len(r.entries) && (limit == 0 || count < limit); count++ {
		if e := r.decoded[rn.applied]; e != nil {
			n.d.ApplyDecodedMetadata(e.Clone())
		} else {
			n.d.ApplyMetadata(r.entries[rn.applied])
		}
		rn.applied++
		checked = false
		rn.sinceSnap++
		if rn.sinceSnap >= r.set.SnapshotEvery {
			rn.sinceSnap = 0
			// The snapshot outlives this batch (restores, installs): the
			// image it holds is compared like a batch's last one.
			r.checkImage(rn)
			checked = true
			// The new snapshot replaces the old one, whose bytes nothing
			// else holds (a restore decodes them into a new image, which
			// keeps none of them): it is encoded into them.
			if rn.snap == nil {
				rn.snap = &raftSnapshot{}
			}
			rn.snap.index, rn.snap.data = rn.applied, n.b.AppendSnapshotMetadata(rn.snap.data[:0])
		}
	}
	if !checked {
		r.checkImage(rn)
	}
	if rn.applied > from {
		r.w.logf("raft: node %d applied entries %d-%d", n.id, from+1, rn.applied)
	}
}

// restore gives rn's broker snapshot s.
func (r *raftModel) restore(rn *raftNode, s *raftSnapshot) {
	n := rn.n
	if err := n.d.RestoreMetadata(s.data); err != nil {
		r.w.fail("metadata: node %d cannot restore the snapshot at entry %d: %v", n.id, s.index, err)
		return
	}
	rn.applied = s.index
	r.checkImage(rn)
}

// checkImage compares rn's image with the truth after rn.applied entries.
// It runs after a restore, before each snapshot and at the end of each
// apply batch, not after every entry of a batch: encoding every node's
// image after every entry was 4% of a sweep, and a restarted node
// replays the log in batches of 64. A batch runs inside one event, so
// between two of its entries no request, peer message or timer reaches
// the broker and nothing it sends leaves; only its own reconcile sees
// the image there, and what that does to logs and replication is judged
// by the other checkers. What this gives up is a divergence that appears
// at one entry and is wholly overwritten by a later entry of the same
// batch before any snapshot (say a fence then an unfence of a broker that
// leads nothing); every divergence that lasts to the end of a batch, into
// a snapshot or out of a restore is caught as before.
func (r *raftModel) checkImage(rn *raftNode) {
	n := rn.n
	r.scratch = n.b.AppendMetadataCompact(r.scratch[:0])
	if rn.applied > 0 && !r.matchesTruth(rn.applied, r.scratch) && !r.diverged {
		r.diverged = true
		r.w.fail("metadata: node %d's image after %d entries differs from the committed log's", n.id, rn.applied)
	}
}

// matchesTruth reports whether enc is the truth's compact encoding after
// its first applied entries.
func (r *raftModel) matchesTruth(applied int, enc []byte) bool {
	if len(r.entries)-applied < len(r.recent) {
		return bytes.Equal(enc, r.recent[(applied-1)%len(r.recent)])
	}
	return sha256.Sum256(enc) == r.hashes[applied-1]
}

// nodeStarted sets up a fresh broker: it restores the node's snapshot
// (seeded) and will replay the rest of the log from the leader.
func (r *raftModel) nodeStarted(n *simNode) {
	rn := n.raft
	rn.applied, rn.view, rn.viewArmed, rn.applyArm = 0, -1, false, false
	rn.viewGen++
	if rn.snap != nil && r.rng.Chance(r.set.RestoreFrac) {
		r.w.logf("raft: node %d restores its snapshot at entry %d", n.id, rn.snap.index)
		r.w.tr.str("raft-restore")
		r.restore(rn, rn.snap)
	}
	r.topologyChanged()
}

// nodeStopped notes that a node's process ended.
func (r *raftModel) nodeStopped(n *simNode) {
	rn := n.raft
	rn.applyArm, rn.viewArmed, rn.view = false, false, -1
	rn.viewGen++
	if r.leader == n.id {
		r.depose("the leader's process stopped")
	}
	r.topologyChanged()
}

// depose ends the current leadership.
func (r *raftModel) depose(why string) {
	w := r.w
	w.tr.str("raft-depose")
	w.logf("raft: leader %d deposed (term %d): %s; %d uncommitted entries", r.leader, r.term, why, len(r.pending))
	r.leader = -1
	r.stepDownGen++
	r.stepDownArmed = false
	pending := r.pending
	r.pending = nil
	survive := 0
	if len(pending) > 0 && r.rng.Chance(r.set.SurviveProb) {
		survive = int(r.rng.Range(1, int64(len(pending))))
	}
	for i, p := range pending {
		if i < survive {
			r.carry = append(r.carry, p)
		}
		r.fail(p, "leadership lost")
	}
	r.armElection()
}

// stepDown is the fault of a leader that gives up without a cause.
func (r *raftModel) stepDown() {
	if r.leader < 0 {
		return
	}
	r.w.stats.controllerMoves++
	r.depose("stepped down")
	r.topologyChanged()
}

// armElection schedules the end of the window without a leader.
func (r *raftModel) armElection() {
	if r.electionArmed || r.leader >= 0 {
		return
	}
	r.electionArmed = true
	w := r.w
	d := Time(r.rng.Range(int64(r.set.ElectionMin), int64(r.set.ElectionMax)))
	w.s.after(d, "raft-election", func() {
		r.electionArmed = false
		if r.leader >= 0 {
			return
		}
		var cands []*simNode
		for _, n := range w.nodes {
			if n.up && r.hasMajority(n.id) {
				cands = append(cands, n)
			}
		}
		if len(cands) == 0 {
			r.armElection()
			return
		}
		n := pick(r.rng, cands)
		r.term++
		if r.term > 1 {
			w.cover("controller-change")
		}
		r.leader = n.id
		r.lastReady = w.s.now
		w.tr.str("raft-leader")
		w.tr.i64(int64(n.id))
		w.logf("raft: node %d leads (term %d); %d entries of the last term commit now", n.id, r.term, len(r.carry))
		carry := r.carry
		r.carry = nil
		for _, p := range carry {
			r.commit(p.data)
		}
		r.topologyChanged()
	})
}

// topologyChanged re-evaluates everything that depends on who is up and
// who reaches whom: step-downs, elections, commits, views and applies.
func (r *raftModel) topologyChanged() {
	switch {
	case r.leader < 0:
		r.armElection()
	case r.hasMajority(r.leader):
		r.stepDownGen++ // a pending lease expiry is moot
		r.stepDownArmed = false
		r.armCommit()
	case !r.stepDownArmed:
		r.stepDownArmed = true
		r.stepDownGen++
		gen, leader := r.stepDownGen, r.leader
		r.w.s.after(r.set.LeaseTimeout, "raft-lease", func() {
			if r.stepDownGen != gen {
				return
			}
			r.stepDownArmed = false
			if r.leader == leader && !r.hasMajority(leader) {
				r.depose("cut off from a majority")
				r.topologyChanged()
			}
		})
	}
	r.refreshViews()
	for _, rn := range r.nodes {
		r.pump(rn)
	}
}

// viewTarget is the controller id node n should believe in now.
func (r *raftModel) viewTarget(n *simNode) int32 {
	if r.connected(n) {
		return r.leader
	}
	return -1
}

// refreshViews schedules a SetController for every node whose view is
// not the truth.
func (r *raftModel) refreshViews() {
	w := r.w
	for _, rn := range r.nodes {
		n := rn.n
		if !n.up {
			continue
		}
		target := r.viewTarget(n)
		if target == rn.view {
			if rn.viewArmed {
				rn.viewArmed = false
				rn.viewGen++
			}
			continue
		}
		if rn.viewArmed && rn.want == target {
			continue
		}
		rn.viewArmed, rn.want = true, target
		rn.viewGen++
		gen, inc := rn.viewGen, n.inc
		var d Time
		switch {
		case target == n.id || rn.view == n.id:
			d = r.rng.Exp(Millisecond) // a leader knows at once that it won or lost
		case target >= 0:
			d = r.rng.Exp(r.set.HeartbeatDelay)
		default:
			d = r.rng.Exp(r.set.DetectDelay) // the stale view lasts a while
		}
		rn := rn
		w.s.after(d, "raft-view", func() {
			if rn.viewGen != gen {
				return
			}
			n.post("set-controller", inc, func() {
				if rn.viewGen != gen {
					return
				}
				rn.viewArmed = false
				if r.viewTarget(n) != target {
					r.refreshViews()
					return
				}
				if target == n.id {
					// The barrier: a new leader applies the whole committed
					// log before it acts as the controller.
					r.catchUp(rn, 0)
				}
				rn.view = target
				w.logf("raft: node %d now sees controller %d", n.id, target)
				n.d.Handle(driver.Event{Kind: driver.EventControllerChanged, Controller: target})
			})
		})
	}
}
