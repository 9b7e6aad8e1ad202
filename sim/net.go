package sim

import lin "github.com/chronik-streaming/chronik/linearizability"

// The simulated network between clients and nodes.
//
// Every client-node pair has a link with two directions. A connection is
// TCP: each direction is FIFO without loss or duplication, so network
// "loss" shows up as a broken connection, duplication as a client retrying
// on a new connection, and reordering as independent delays on different
// connections. A cut direction holds its messages (TCP retransmits) and
// releases them in order when the cut heals, unless the connection died
// meanwhile; clients time out and reconnect. A clogged direction adds a
// large delay to every message sent during the clog.

// linkDir is one direction of a link.
type linkDir struct {
	cut       int // number of partitions cutting this direction
	clogUntil Time
	clogDelay Time
}

// link joins a dialing end and a node: a workload client and a node, or
// (peer links) one node dialing another. c2n is the direction from the
// dialing end to the node, n2c the way back. A cut between two nodes a
// and b in one direction cuts both links that carry it: a->b's c2n and
// b->a's n2c (see cutPath).
type link struct {
	name     string
	client   *client  // the dialing client; nil on a peer link
	fromNode *simNode // the dialing node of a peer link; nil otherwise
	node     *simNode
	c2n      linkDir
	n2c      linkDir
	conns    []*conn // connections on this link that may still carry messages
}

// msg is what travels on a connection: a frame, or the end of the stream
// (fin: orderly close after the data sent before it; rst: abort).
type msg struct {
	frame []byte
	fin   bool
	rst   bool
	// exact lists the partitions of a Fetch or ListOffsets answer that the
	// current, caught-up leader gave (reads.go); the client records reads of
	// other partitions as possibly stale.
	exact []lin.TopicPartition
}

// conn is one connection of a channel (a client's, or a node's to a
// peer) to one incarnation of a node.
type conn struct {
	id      uint64
	link    *link
	ch      *channel // the dialing end
	nodeInc int      // the node incarnation that accepted it
	// startCommit is the commit index of the metadata log when that node
	// process started (clusters; catchup.go).
	startCommit int

	lastC2N, lastN2C Time // FIFO: a message never overtakes an earlier one
	heldC2N, heldN2C []msg

	dead       bool // aborted: data in flight is dropped
	reset      bool // dead, and a restarted node answered it with a reset
	clientOpen bool // the client still uses it
	nodeOpen   bool // the node still serves it
	// respCap is the size of the last response frame on it: the next is
	// encoded into a new buffer of that capacity (see channel.frameCap).
	respCap int

	// Node side: request sequence numbers and responses held back until
	// every earlier request on the connection is answered (Kafka answers
	// in order; the node's wire layer does the same).
	nextReqSeq  uint64
	nextRespSeq uint64
	pending     map[uint64]respSlot
	registered  bool
}

type respSlot struct {
	frame []byte // nil for a request without a response (acks=0)
	exact []lin.TopicPartition
}

func (l *link) dir(toNode bool) *linkDir {
	if toNode {
		return &l.c2n
	}
	return &l.n2c
}

// bytesPerMicrosecond is the links' bandwidth (1 GB/s): a large fetch
// response takes longer than a small one.
const bytesPerMicrosecond = 1000

// delay draws a one-way delay for a message of size bytes sent now on d.
func (w *world) delay(d *linkDir, size int) Time {
	n := &w.set.Net
	t := n.BaseDelay + w.netRng.Exp(n.JitterMean) + Time(size/bytesPerMicrosecond)
	// Spikes are a fault: a quiet window has none (quiet.go).
	if n.SpikeProb > 0 && !w.q.on && w.netRng.Chance(n.SpikeProb) {
		t += w.netRng.Exp(n.SpikeMean)
	}
	if w.s.now < d.clogUntil {
		t += d.clogDelay
	}
	return t
}

// send puts m on c in one direction.
func (w *world) send(c *conn, toNode bool, m msg) {
	d := c.link.dir(toNode)
	if d.cut > 0 {
		if toNode {
			c.heldC2N = append(c.heldC2N, m)
		} else {
			c.heldN2C = append(c.heldN2C, m)
		}
		return
	}
	w.transmit(c, toNode, m)
}

// transmit schedules the delivery of m, after every earlier message of the
// same direction of c.
func (w *world) transmit(c *conn, toNode bool, m msg) {
	t := w.s.now + w.delay(c.link.dir(toNode), len(m.frame))
	last := &c.lastN2C
	kind := "deliver-to-client"
	if toNode {
		last, kind = &c.lastC2N, "deliver-to-node"
	}
	if t < *last {
		t = *last
	}
	*last = t
	w.s.at(t, kind, func() { w.deliver(c, toNode, m) })
}

// deliver hands m to its receiver.
func (w *world) deliver(c *conn, toNode bool, m msg) {
	ctrl := m.fin || m.rst
	if c.dead && !ctrl {
		w.tr.str("drop-dead")
		w.tr.u64(c.id)
		if n := c.link.node; toNode && n.up && n.inc != c.nodeInc && c.clientOpen && !c.reset {
			// Data for a connection of a process that lost power (nobody
			// reset it) reaches the restarted host, whose TCP answers it
			// with a reset, as a real kernel does; without it a peer that
			// reuses an idle pooled connection waits for its timeout.
			c.reset = true
			w.tr.str("reset-stale")
			w.logf("conn %d: reset by node %d's new process", c.id, n.id)
			w.send(c, false, msg{rst: true})
		}
		return
	}
	w.tr.u64(c.id)
	if toNode {
		c.link.node.receive(c, m)
	} else {
		c.ch.receive(c, m)
	}
}

// releaseHeld sends what a healed direction held, in order.
func (w *world) releaseHeld(l *link, toNode bool) {
	kept := l.conns[:0]
	for _, c := range l.conns {
		held := &c.heldN2C
		if toNode {
			held = &c.heldC2N
		}
		msgs := *held
		*held = nil
		for _, m := range msgs {
			w.transmit(c, toNode, m)
		}
		if c.clientOpen || c.nodeOpen || len(c.heldC2N)+len(c.heldN2C) > 0 {
			kept = append(kept, c)
		}
	}
	clear(l.conns[len(kept):])
	l.conns = kept
}

// abort breaks c (a network fault or a crash): data in flight is lost and
// each side that still uses it learns of the reset after a delay (if its
// direction is cut, only when the cut heals). notifyNode is false when
// the node side died with its process.
func (w *world) abort(c *conn, notifyNode bool) {
	if c.dead {
		return
	}
	c.dead = true
	c.heldC2N = nil
	c.heldN2C = nil
	w.tr.str("abort")
	w.tr.u64(c.id)
	w.logf("conn %d aborted", c.id)
	if notifyNode && c.nodeOpen {
		w.send(c, true, msg{rst: true})
	}
	if c.clientOpen {
		w.send(c, false, msg{rst: true})
	}
}

// cut adds (delta 1) or removes (delta -1) one partition's cut of one
// direction of a link; the direction heals when no partition cuts it.
func (w *world) cut(l *link, toNode bool, delta int) {
	d := l.dir(toNode)
	d.cut += delta
	if d.cut < 0 {
		d.cut = 0
	}
	if d.cut == 0 && delta < 0 {
		w.releaseHeld(l, toNode)
	}
}
