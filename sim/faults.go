package sim

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/chronik-streaming/chronik/core/partlog"
	lin "github.com/chronik-streaming/chronik/linearizability"
)

// startFaults starts the fault phase: the recurring faults (armFaults),
// the one-shot ones (a blackout, a media flip) and the quiet windows
// (quiet.go).
func (w *world) startFaults() {
	s := &w.set
	r := w.faultRng
	w.armFaults()
	if w.cluster() && s.Cluster.Blackout {
		at := w.s.now + Time(r.Range(int64(5*Second), int64(s.FaultPhase-5*Second)))
		w.s.at(at, "fault-blackout", w.faultBlackout)
	}
	if s.Disk.MediaFlip {
		at := w.s.now + Time(r.Range(int64(5*Second), int64(s.FaultPhase-5*Second)))
		w.s.at(at, "fault-media-flip", w.faultMediaFlip)
	}
	w.scheduleQuietWindows()
	if w.cluster() {
		// Once per run: the checkers' tick and the returning-follower
		// trap (which watches w.faultsOn itself) outlive quiet windows.
		w.repl.start()
	}
}

// armFaults arms the fault director: one recurring event per enabled
// fault kind, each drawing its intervals and targets from the faults
// stream, and the cluster's scenario. They stop when faults stop
// (w.faultsOn false: a quiet window or the end of the fault phase); a
// quiet window's end arms them again, and the generation keeps the
// earlier loops from running twice.
func (w *world) armFaults() {
	s := &w.set
	r := w.faultRng
	w.faultGen++
	gen := w.faultGen
	every := func(mean Time, kind string, fn func()) {
		if mean <= 0 {
			return
		}
		var next func()
		next = func() {
			if !w.faultsOn || w.faultGen != gen {
				return
			}
			fn()
			w.s.after(r.Exp(mean), kind, next)
		}
		w.s.after(r.Exp(mean), kind, next)
	}
	every(s.Net.BreakEvery, "fault-conn-reset", w.faultConnReset)
	every(s.Net.ClogEvery, "fault-clog", w.faultClog)
	every(s.Net.PartitionEvery, "fault-partition", w.faultPartition)
	every(s.Crash.Every, "fault-crash", w.faultCrash)
	every(s.Disk.FullEvery, "fault-disk-full", func() {
		w.diskFullUntil = w.s.now + r.Exp(s.Disk.FullLen)
		w.tr.str("disk-full")
		w.logf("fault: disk full until %s", w.diskFullUntil)
	})
	every(s.Disk.FlipEvery, "fault-flip", w.faultFlip)
	every(s.Clock.JumpEvery, "fault-clock-jump", w.faultClockJump)
	if w.cluster() {
		c := &s.Cluster
		every(c.NodePartitionEvery, "fault-node-partition", w.faultNodePartition)
		every(c.Raft.StepDownEvery, "fault-raft-step-down", w.raft.stepDown)
		w.startScenario(gen)
	}
}

// healFaults heals what faults left in place: the full disk, clogs and
// cuts (held messages are released in order); the generation makes the
// pending heals of those cuts moot. Down nodes are the caller's.
func (w *world) healFaults() {
	w.faultGen++
	w.diskFullUntil = 0
	w.truncTraps = nil
	for _, l := range w.links {
		for _, toNode := range []bool{true, false} {
			d := l.dir(toNode)
			d.clogUntil = 0
			if d.cut > 0 {
				d.cut = 0
				w.releaseHeld(l, toNode)
			}
		}
	}
	if w.cluster() {
		w.raft.topologyChanged()
	}
}

func (w *world) liveConns() []*conn {
	kept := w.conns[:0]
	var live []*conn
	for _, c := range w.conns {
		if c.clientOpen || c.nodeOpen {
			kept = append(kept, c)
			if c.clientOpen && c.nodeOpen && !c.dead {
				live = append(live, c)
			}
		}
	}
	clear(w.conns[len(kept):])
	w.conns = kept
	return live
}

func (w *world) faultConnReset() {
	live := w.liveConns()
	if len(live) == 0 {
		return
	}
	c := pick(w.faultRng, live)
	w.logf("fault: reset conn %d", c.id)
	w.stats.resets++
	w.abort(c, true)
}

func (w *world) faultClog() {
	r := w.faultRng
	l := pick(r, w.links)
	until := w.s.now + r.Exp(w.set.Net.ClogLen)
	dirs := []*linkDir{&l.c2n, &l.n2c}
	switch r.Intn(3) {
	case 0:
		dirs = dirs[:1]
	case 1:
		dirs = dirs[1:]
	}
	for _, d := range dirs {
		d.clogUntil = until
		d.clogDelay = w.set.Net.ClogDelay/2 + r.Exp(w.set.Net.ClogDelay/2)
	}
	w.tr.str("clog")
	w.logf("fault: clog %s until %s", l.name, until)
}

// faultPartition cuts the links of a random subset of clients from the
// node, both directions or (asymmetric) one, and heals them later.
func (w *world) faultPartition() {
	r := w.faultRng
	type cutDir struct {
		l      *link
		toNode bool
	}
	var cuts []cutDir
	for _, l := range w.links {
		if l.client == nil || l.client == w.final.c || l.client == w.q.probe || !r.Chance(0.5) {
			continue
		}
		switch {
		case w.set.Net.Asymmetric && r.Chance(0.5):
			cuts = append(cuts, cutDir{l, r.Chance(0.5)})
		default:
			cuts = append(cuts, cutDir{l, true}, cutDir{l, false})
		}
	}
	if len(cuts) == 0 {
		return
	}
	var desc []string
	for _, c := range cuts {
		w.cut(c.l, c.toNode, 1)
		d := "->"
		if !c.toNode {
			d = "<-"
		}
		desc = append(desc, c.l.name+d)
	}
	w.stats.partitions++
	w.tr.str("partition")
	w.tr.str(strings.Join(desc, ","))
	heal := w.s.now + r.Exp(w.set.Net.PartitionLen)
	w.logf("fault: partition %v until %s", desc, heal)
	gen := w.faultGen
	w.s.at(heal, "heal-partition", func() {
		if w.faultGen != gen {
			return // healFaults cleared every cut
		}
		for _, c := range cuts {
			w.cut(c.l, c.toNode, -1)
		}
		w.tr.str("heal")
	})
}

// faultCrash stops the node: a kill (page cache survives), a power loss
// (unsynced data lost, torn tails, maybe garbage in them) or a graceful
// shutdown; it restarts after a seeded downtime. Syncs are fast next to
// the workload, so a power loss at a random moment rarely finds unsynced
// data: half of them wait for the node's next fsync and strike while it
// runs.
func (w *world) faultCrash() {
	n := w.nodes[0]
	if w.cluster() {
		if n = w.crashTarget(); n == nil {
			return
		}
	}
	w.crashNode(n)
}

// crashTarget picks a live node for the random crash fault, as long as
// fewer than MaxDown nodes are down.
func (w *world) crashTarget() *simNode {
	var up []*simNode
	for _, n := range w.nodes {
		if n.up && n.crashArmed == nil && !n.stopping {
			up = append(up, n)
		}
	}
	if len(w.nodes)-len(up) >= w.set.Cluster.MaxDown || len(up) == 0 {
		return nil
	}
	return pick(w.faultRng, up)
}

// crashNode stops n as the crash settings draw.
func (w *world) crashNode(n *simNode) {
	r := w.faultRng
	if !n.up || n.crashArmed != nil {
		return
	}
	c := &w.set.Crash
	x := r.Float64()
	switch {
	case x < c.GracefulFrac:
		w.crash(n, "graceful")
	case x < c.GracefulFrac+c.PowerLossFrac:
		if r.Chance(0.5) {
			w.logf("fault: power loss armed for the next fsync of node %d", n.id)
			n.crashArmed = func() { w.crash(n, "power") }
			return
		}
		w.crash(n, "power")
	default:
		w.crash(n, "kill")
	}
}

func (w *world) crash(n *simNode, kind string) {
	c := &w.set.Crash
	w.stopNode(n, kind)
	n.scheduleStart(Time(w.faultRng.Range(int64(c.DownMin), int64(c.DownMax))))
}

// stopNode stops n: "graceful", "power" (a power loss: unsynced data is
// lost) or "kill" (kill -9).
func (w *world) stopNode(n *simNode, kind string) {
	c := &w.set.Crash
	switch kind {
	case "graceful":
		w.logf("fault: graceful restart of node %d", n.id)
		w.stats.graceful++
		n.stop(true, false)
	case "power":
		w.logf("fault: power loss of node %d", n.id)
		w.stats.powerLosses++
		w.compact.onPowerLoss(n) // compactioncheck.go
		n.stop(false, false)
		w.stats.garbage += n.disk.powerLoss(c.Torn, c.Garbage)
	default:
		w.logf("fault: kill -9 of node %d", n.id)
		w.stats.kills++
		n.stop(false, true)
	}
}

// faultFlip flips a bit in an index or checkpoint file: damage recovery
// and reads must survive without losing acknowledged data.
func (w *world) faultFlip() {
	n := w.someNode()
	targets := n.disk.safeFlipTargets()
	if len(targets) == 0 {
		return
	}
	name := pick(w.faultRng, targets)
	if off, ok := n.disk.flipBit(name); ok {
		w.stats.flips++
		w.tr.str("flip")
		w.tr.str(name)
		w.tr.i64(off)
		w.logf("fault: bit flip in %s at %d", name, off)
		if partlog.IsCheckpointFile(path.Base(name)) {
			if tp, ok := partitionOfPath(name); ok {
				w.ckptFlips[copyKey{tp, n.id}] = true
			}
		}
	}
}

// faultMediaFlip flips a bit inside the records of a stored batch. A
// single node cannot survive media corruption of acknowledged data, so the
// partition is quarantined: what its clients did from then on is left out
// of the linearizability and offset checks, and it is left out of the
// final drain. What is still checked for it: the history up to the flip
// (appends called and reads answered before it), that no corrupt batch
// (client-side CRC) and no offset past the high watermark is ever served,
// and that invariants hold. In a cluster, a flip of a replica
// whose partition has another in-sync copy quarantines nothing
// (mediaflip.go).
func (w *world) faultMediaFlip() {
	if w.deferIfQuiet(w.faultMediaFlip) || !w.faultsOn {
		return
	}
	n := w.someNode()
	r := w.faultRng
	type target struct {
		name string
		b    segmentBatch
	}
	var targets []target
	for _, name := range n.disk.segmentFiles() {
		data, err := n.disk.md(name).ReadFile(name)
		if err != nil {
			continue
		}
		for _, b := range segmentBatches(data) {
			// A batch the cleaner emptied is its 61-byte header
			// alone: no record bytes to flip.
			if b.size > 61 {
				targets = append(targets, target{name, b})
			}
		}
	}
	if len(targets) == 0 {
		return
	}
	t := pick(r, targets)
	off := t.b.pos + 61 + r.Int63n(t.b.size-61)
	if err := n.disk.md(t.name).Corrupt(t.name, off, byte(1<<r.Intn(8))); err != nil {
		return
	}
	tp, ok := partitionOfPath(t.name)
	if !ok {
		return
	}
	w.stats.mediaFlips++
	w.tr.str("media-flip")
	w.tr.str(t.name)
	w.tr.i64(off)
	if w.flipChecked(n.id, tp) {
		// Other replicas hold good copies: everything stays checked, and
		// this copy must be repaired or reported (mediaflip.go).
		w.mediaFlips = append(w.mediaFlips, &mediaFlip{node: n.id, tp: tp, file: t.name, pos: off, base: t.b.baseOffset, last: t.b.last, at: w.s.now})
		w.cover("media-flip-replicated")
		w.logf("fault: media flip in %s at position %d (batch %d-%d) on node %d; other replicas hold %s", t.name, off, t.b.baseOffset, t.b.last, n.id, tp)
		return
	}
	if _, already := w.quarantine[tp]; !already {
		w.quarantine[tp] = w.s.now
	}
	w.notef("media flip in %s at position %d (batch %d-%d): %s quarantined from the checks of what followed", t.name, off, t.b.baseOffset, t.b.last, tp)
}

// partitionOfPath parses "topic-3/000...0.log".
func partitionOfPath(name string) (lin.TopicPartition, bool) {
	dir := path.Dir(name)
	i := strings.LastIndexByte(dir, '-')
	if i <= 0 {
		return lin.TopicPartition{}, false
	}
	p, err := strconv.Atoi(dir[i+1:])
	if err != nil {
		return lin.TopicPartition{}, false
	}
	return lin.TopicPartition{Topic: dir[:i], Partition: int32(p)}, true
}

// faultClockJump moves a node's clock: forward by seconds, or backward
// (wall clocks do that when NTP steps them).
func (w *world) faultClockJump() {
	r := w.faultRng
	n := w.someNode()
	d := Time(r.Range(int64(Second), int64(30*Second)))
	if w.set.Clock.Backward && r.Chance(0.5) {
		d = -Time(r.Range(int64(100*Millisecond), int64(5*Second)))
	}
	n.clock.offset += d
	w.repl.clockJumped(n)
	w.compact.clockJumped(n, d) // compactioncheck.go
	w.txn.clockJumped(n, d)     // txncheck.go
	w.stats.clockJumps++
	w.tr.str("clock-jump")
	w.tr.i64(int64(d))
	w.logf("fault: clock of node %d jumps by %s", n.id, d)
	if !n.deferIfBusy("clock-jump", n.settle) {
		n.settle()
	}
}

// someNode picks the target of a fault that any node may suffer (the
// single node without a draw).
func (w *world) someNode() *simNode {
	if len(w.nodes) == 1 {
		return w.nodes[0]
	}
	return pick(w.faultRng, w.nodes)
}

// faultNodePartition cuts the network between nodes: one node from all
// the others, or one pair, in both directions or (asymmetric settings)
// in one; it heals later. Clients keep reaching every node.
func (w *world) faultNodePartition() {
	r := w.faultRng
	c := &w.set.Cluster
	a := pick(r, w.nodes)
	var others []*simNode
	for _, b := range w.nodes {
		if b != a && (len(others) == 0 || r.Chance(0.5)) {
			others = append(others, b)
		}
	}
	dir := 0 // both ways
	if c.NodeAsymmetric && r.Chance(0.5) {
		dir = 1 + r.Intn(2) // 1: a->others only, 2: others->a only
	}
	w.partitionNodes(a, others, dir, r.Exp(c.NodePartitionLen))
}

// partitionNodes cuts a from others (dir 0: both ways, 1: a->others, 2:
// others->a) for length.
func (w *world) partitionNodes(a *simNode, others []*simNode, dir int, length Time) {
	var desc []string
	apply := func(delta int) {
		for _, b := range others {
			if dir != 2 {
				w.cutNodes(a, b, delta)
			}
			if dir != 1 {
				w.cutNodes(b, a, delta)
			}
		}
	}
	for _, b := range others {
		desc = append(desc, fmt.Sprintf("n%d", b.id))
	}
	arrow := []string{"<->", "->", "<-"}[dir]
	apply(1)
	w.stats.nodePartitions++
	w.tr.str("node-partition")
	w.tr.i64(int64(a.id))
	w.tr.i64(int64(dir))
	w.logf("fault: node partition n%d%s%s for %s", a.id, arrow, strings.Join(desc, ","), length)
	gen := w.faultGen
	w.s.after(length, "heal-node-partition", func() {
		if w.faultGen != gen {
			return // healFaults cleared every cut
		}
		apply(-1)
		w.tr.str("heal-nodes")
		w.logf("fault: node partition n%d%s%s healed", a.id, arrow, strings.Join(desc, ","))
	})
}

// faultBlackout cuts the power of every node at once (a data centre
// losing power): each loses what it had not synced, with torn tails as
// the crash settings say, and restarts after its own downtime. Since an
// acknowledged record is durable on every ISR member, none may be lost.
func (w *world) faultBlackout() {
	if w.deferIfQuiet(w.faultBlackout) || !w.faultsOn {
		return
	}
	w.logf("fault: blackout")
	w.tr.str("blackout")
	for _, n := range w.nodes {
		if n.up {
			w.crash(n, "power")
		}
	}
}
