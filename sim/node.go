package sim

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/core/driver"
	"github.com/chronik-streaming/chronik/core/partlog"
)

// simNode is one simulated Chronik process: the production driver
// (core/driver, which node/ runs too) in a simulated world, with the
// simulator's scheduler as its event loop. Requests, sync completions,
// closed connections, metadata entries and peer answers come in as
// events; after each one it settles the driver (group commit, timers) and
// arms a timer for the wake-up the driver asks for. It is the driver's
// host: sync jobs complete after a seeded latency (the fsync itself takes
// effect at the job's start or at its completion, drawn per job),
// replies and peer requests travel the simulated network, proposals go to
// the quorum model. A crash drops the driver and every connection; a
// restart recovers from the disk alone.
type simNode struct {
	w     *world
	id    int32
	cfg   broker.Config
	disk  *simDisk
	clock nodeClock

	d *driver.Driver
	// b is d's broker, for the checkers' inspection only: every call that
	// changes it goes through d. Both are nil while the node is down.
	b  *broker.Broker
	up bool
	// inTick is set while the broker's Tick runs (retention's place).
	inTick bool
	inc    int // incarnation, bumped by every stop; stale events check it
	conns  map[broker.ConnID]*conn

	inflight []*pendingSync

	timerPending bool
	timerAt      Time
	timerGen     uint64
	startGen     uint64

	startedAt Time
	// startCommit is the commit index of the metadata log when this
	// process started, caughtUp whether the broker has said its metadata
	// caught up (clusters; catchup.go).
	startCommit int
	caughtUp    bool
	random      *Rand
	// stopping: a controlled shutdown is under way; stopThen runs once
	// it has stopped the node.
	stopping bool
	stopThen func()
	// busyUntil is when the event loop is free again: writes to the page
	// cache and the synchronous fsyncs of WriteFileAtomic take seeded
	// time on the loop, and events that arrive meanwhile wait.
	busyUntil Time
	// crashArmed, when set, is a crash to run in the middle of the next
	// fsync.
	crashArmed   func()
	backlog      []backlogEntry
	backlogArmed bool
	draining     bool

	// Cluster runs: the node's side of the quorum model, its links to the
	// other nodes (by node index, nil for itself) and its pools of peer
	// connections, which die with the process.
	raft       *raftNode
	peerLinks  []*link
	pools      []*peerPool
	peerRng    *Rand
	peerFormat *kmsg.RequestFormatter
}

// post runs fn on the node's event loop, at once or when the loop is
// free, then settles the node, unless incarnation inc ended meanwhile.
// It is for events that reach the broker from outside (quorum, peers);
// it never runs inside a broker call.
//
// A deferred post is posted again from the backlog (a closure made only
// then: one naming itself cost two allocations at every post).
func (n *simNode) post(kind string, inc int, fn func()) {
	if n.inc != inc || !n.up {
		return
	}
	if n.deferIfBusy(kind, func() { n.post(kind, inc, fn) }) {
		return
	}
	n.w.tr.str(kind)
	fn()
	n.settle()
}

// backlogEntry is an event that waits for the loop.
type backlogEntry struct {
	kind string
	fn   func()
}

// deferIfBusy queues fn, in arrival order, for when the loop is free and
// reports whether it did. One backlog per node keeps the order of events
// that wait (requests of one connection above all) even when the loop's
// busy time grows while they wait.
func (n *simNode) deferIfBusy(kind string, fn func()) bool {
	if n.draining || (n.w.s.now >= n.busyUntil && len(n.backlog) == 0) {
		return false
	}
	n.backlog = append(n.backlog, backlogEntry{kind, fn})
	n.armBacklog()
	return true
}

func (n *simNode) armBacklog() {
	if n.backlogArmed {
		return
	}
	n.backlogArmed = true
	inc := n.inc
	n.w.s.at(max(n.busyUntil, n.w.s.now), "node-backlog", func() {
		if n.inc != inc {
			return
		}
		n.backlogArmed = false
		for len(n.backlog) > 0 {
			if n.w.s.now < n.busyUntil {
				n.armBacklog()
				return
			}
			e := n.backlog[0]
			n.backlog[0] = backlogEntry{}
			n.backlog = n.backlog[1:]
			n.w.tr.str(e.kind)
			n.draining = true
			e.fn()
			n.draining = false
		}
	})
}

// spend makes the loop busy for d more.
func (n *simNode) spend(d Time) {
	n.busyUntil = max(n.busyUntil, n.w.s.now) + d
}

type pendingSync struct {
	token broker.SyncToken
	job   *partlog.SyncJob
	done  bool
	// ran: the fsync took effect at its start (job.Run already ran) and
	// its result is err; landing the job must report that result, not
	// run it again (a second fsync "succeeds" without writing pages the
	// first one failed to write and left clean).
	ran bool
	err error
}

// nodeClock is the node's view of the wall clock: virtual time plus an
// offset that drifts and jumps (forward, and backward when the settings
// allow it).
type nodeClock struct {
	baseMs   int64
	offset   Time
	driftPPM int64
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (c *nodeClock) skewed(t Time) int64 {
	return int64(t) + int64(c.offset) + int64(t)*c.driftPPM/1_000_000
}

// nowMs is the node's wall clock in milliseconds at virtual time t.
func (c *nodeClock) nowMs(t Time) int64 { return c.baseMs + floorDiv(c.skewed(t), 1000) }

// when returns the first virtual time at or after from at which the
// node's clock reads at least ms.
func (c *nodeClock) when(from Time, ms int64) Time {
	target := (ms - c.baseMs) * 1000
	t := Time(float64(target-int64(c.offset)) / (1 + float64(c.driftPPM)/1e6))
	if t < from {
		t = from
	}
	for c.nowMs(t) < ms {
		t += Microsecond
		if d := ms - c.nowMs(t); d > 2 {
			t += Time(d-1) * Millisecond / 2
		}
	}
	return t
}

func (n *simNode) nowMs() int64 { return n.clock.nowMs(n.w.s.now) }

// start opens the broker on the disk, as node.New and the top of
// node.Run do. A failure (an injected read error on the image, say) is
// retried after a second, as a supervisor would.
func (n *simNode) start() {
	w := n.w
	env := n.env()
	if w.logw != nil {
		w.logf("node %d: disk before start:%s", n.id, n.disk.describe())
	}
	d, err := driver.New(driver.Config{Broker: n.cfg, Clustered: w.raft != nil, CheckInvariants: true}, env, (*nodeHost)(n))
	w.tr.str("node-start")
	if err != nil {
		w.tr.str(err.Error())
		w.logf("node %d: start failed: %v", n.id, err)
		w.stats.startFailures++
		if w.workloadStopped {
			w.fail("liveness: node %d failed to start with faults healed: %v", n.id, err)
		}
		// Through scheduleStart: a start planned meanwhile (a restart
		// by a fault or a quiet window) supersedes this retry, and a node
		// that is up by then is left alone (sim seed 20018: two retry
		// chains, one of which kept failing on the lock of the process
		// the other had started).
		n.scheduleStart(Second)
		return
	}
	n.d, n.b = d, d.Broker()
	n.up = true
	n.conns = map[broker.ConnID]*conn{}
	n.startedAt = w.s.now
	n.pools = nil
	n.caughtUp = false
	w.repl.nodeStarted(n)
	w.logf("node %d: started (incarnation %d)", n.id, n.inc)
	if w.raft != nil {
		n.startCommit = len(w.raft.entries)
		w.raft.nodeStarted(n)
		w.catchUpTrap(n)
	}
	// node.Run settles first too: recovered page-cache data is synced
	// before consumers see it.
	n.settle()
}

// env is what the broker takes from this node directly (the driver
// supplies the rest). broker.New takes the disk's lock (memdisk's, through
// simDisk) and stop gives it back, so a second broker on a live node's
// disk is refused.
func (n *simNode) env() broker.Env {
	return broker.Env{Disk: n.disk, Logger: (*nodeLogger)(n), Random: n.random}
}

// settle ends a batch of events, as node.Run does after each batch: the
// driver settles (group commit, timers, invariant checks) and the node's
// timer is armed for the wake-up it asks for. A finished controlled
// shutdown stops the node in an event of its own, after this one.
func (n *simNode) settle() {
	if !n.up {
		return
	}
	n.inTick = true // retention runs here (trim.go's coverage)
	next := n.d.Settle()
	n.inTick = false
	if next.Stop != driver.Running {
		n.finishControlledStop(next.Stop)
	}
	now := n.nowMs()
	at := n.clock.when(n.w.s.now+Microsecond, max(next.WakeMs, now+1))
	if n.timerPending && n.timerAt <= at {
		return
	}
	n.timerGen++
	gen, inc := n.timerGen, n.inc
	n.timerPending, n.timerAt = true, at
	n.w.s.at(at, "node-timer", func() { n.fireTimer(gen, inc) })
}

// fireTimer is the node timer settle armed (generation gen of
// incarnation inc). A method, not a closure that names itself for the
// backlog: that one cost a second allocation at every settle.
func (n *simNode) fireTimer(gen uint64, inc int) {
	if n.inc != inc || gen != n.timerGen {
		return
	}
	if n.deferIfBusy("node-timer", func() { n.fireTimer(gen, inc) }) {
		return
	}
	n.timerPending = false
	n.settle()
}

// stop ends the process. graceful mirrors node.shutdown: the syncs in
// flight land, everything is synced, waiting requests are answered, logs
// are checkpointed and closed, connections closed in order. Otherwise it
// is a kill: the broker's memory is gone and connections are reset
// (rst=false models a machine that vanished without resetting them).
func (n *simNode) stop(graceful, rst bool) {
	if !n.up {
		return
	}
	w := n.w
	w.tr.str("node-stop")
	w.stats.reopens += n.b.Reopened()
	if graceful {
		// Index, not range: a job landing here may start another (the
		// next queued image write, a partition's next sync), which
		// node.shutdown waits for too (SyncInFlight).
		for i := 0; i < len(n.inflight); i++ {
			ps := n.inflight[i]
			if !ps.done {
				ps.done = true
				err := ps.err
				if !ps.ran {
					err = n.runJob(ps.job)
				}
				n.d.Handle(driver.Event{Kind: driver.EventSyncDone, Token: ps.token, Job: ps.job, Err: err})
			}
		}
		n.d.Shutdown()
	}
	mode := "power"
	switch {
	case graceful:
		mode = "graceful"
	case rst:
		mode = "kill"
	}
	for _, p := range n.pools {
		for _, ch := range p.chans {
			ch.abandon(mode)
		}
	}
	n.pools = nil
	n.inflight = nil
	n.crashArmed = nil
	n.stopping = false
	n.stopThen = nil
	n.backlog = nil
	n.backlogArmed = false
	n.busyUntil = 0
	// The process is gone, and with it its lock on the disk (Shutdown
	// already gave it back on a graceful stop).
	if err := n.d.ReleaseDisk(); err != nil {
		w.fail("node %d: release disk lock: %v", n.id, err)
	}
	n.d, n.b = nil, nil
	n.up = false
	oldInc := n.inc
	n.inc++
	n.timerPending = false
	for _, c := range w.conns {
		if c.link.node != n || c.nodeInc != oldInc || !c.nodeOpen {
			continue
		}
		c.nodeOpen = false
		switch {
		case graceful:
			w.send(c, false, msg{fin: true})
		case rst:
			w.abort(c, false)
		default:
			// The machine vanished: nobody resets the connection; the
			// client finds out through its timeouts.
			c.dead = true
		}
	}
	n.conns = nil
	if w.raft != nil {
		w.raft.nodeStopped(n)
	}
}

// receive handles a message arriving on c.
func (n *simNode) receive(c *conn, m msg) {
	w := n.w
	if n.deferIfBusy("deliver-to-node", func() { n.receive(c, m) }) {
		return
	}
	if !n.up || c.nodeInc != n.inc || !c.nodeOpen {
		w.tr.str("node-drop")
		return
	}
	if m.fin || m.rst {
		w.tr.str("node-conn-closed")
		c.nodeOpen = false
		if c.registered {
			delete(n.conns, broker.ConnID(c.id))
			n.d.Handle(driver.Event{Kind: driver.EventConnClosed, Conn: broker.ConnID(c.id)})
		}
		n.settle()
		return
	}
	w.tr.str("request")
	w.tr.bytes(m.frame)
	req, early, err := broker.ParseRequest(m.frame)
	if err != nil {
		w.logf("node %d: conn %d: %v", n.id, c.id, err)
		n.closeConn(c, err.Error())
		return
	}
	if !c.registered {
		c.registered = true
		c.pending = map[uint64]respSlot{}
		n.conns[broker.ConnID(c.id)] = c
	}
	seq := c.nextReqSeq
	c.nextReqSeq++
	if early != nil {
		n.respond(c, seq, respSlot{frame: broker.EncodeResponse(nil, req.CorrelationID, early)})
		return
	}
	req.Conn = broker.ConnID(c.id)
	req.Seq = seq
	if c.ch.control {
		req.Listener = broker.ListenerControl // a peer's connection
	}
	n.noteClientRequest(c)
	if w.logw != nil {
		w.logf("node %d: conn %d request %d key %d v%d corr %d", n.id, c.id, seq, req.Msg.Key(), req.Msg.GetVersion(), req.CorrelationID)
	}
	w.repl.onRequest(n, req)
	n.d.Handle(driver.Event{Kind: driver.EventRequest, Request: req})
	n.settle()
}

// respond queues the response to request seq of c and sends every
// response that is now next in order.
func (n *simNode) respond(c *conn, seq uint64, slot respSlot) {
	if seq == c.nextRespSeq && len(c.pending) == 0 {
		// The usual case, the next answer with none held back: sent
		// without a trip through the map (the loop below would take it
		// straight out again and find nothing after it).
		c.nextRespSeq++
		n.sendResponse(c, slot)
		return
	}
	if _, dup := c.pending[seq]; dup || seq < c.nextRespSeq {
		n.w.fail("node %d: request %d on conn %d answered twice", n.id, seq, c.id)
		return
	}
	c.pending[seq] = slot
	for {
		slot, ok := c.pending[c.nextRespSeq]
		if !ok {
			return
		}
		delete(c.pending, c.nextRespSeq)
		c.nextRespSeq++
		n.sendResponse(c, slot)
	}
}

// sendResponse sends the response that was c's next (its number is
// c.nextRespSeq-1); a request without one (acks=0) sends nothing.
func (n *simNode) sendResponse(c *conn, slot respSlot) {
	if n.w.logw != nil {
		n.w.logf("node %d: conn %d response %d (%d bytes, busy until %s)", n.id, c.id, c.nextRespSeq-1, len(slot.frame), n.busyUntil)
	}
	if slot.frame != nil {
		n.w.tr.str("response")
		n.w.tr.bytes(slot.frame)
		n.w.send(c, false, msg{frame: slot.frame, exact: slot.exact})
	}
}

// closeConn closes c from the node's side, as wire.Conn.Close does; the
// broker hears about it as a separate event, as from node.ConnClosed.
func (n *simNode) closeConn(c *conn, reason string) {
	if !c.nodeOpen {
		return
	}
	w := n.w
	w.tr.str("node-close-conn")
	w.tr.str(reason)
	w.logf("node %d: closing conn %d: %s", n.id, c.id, reason)
	c.nodeOpen = false
	w.send(c, false, msg{fin: true})
	if c.registered {
		delete(n.conns, broker.ConnID(c.id))
		inc := n.inc
		var closed func()
		closed = func() {
			if n.deferIfBusy("node-conn-closed", closed) {
				return
			}
			if n.up && n.inc == inc {
				n.d.Handle(driver.Event{Kind: driver.EventConnClosed, Conn: broker.ConnID(c.id)})
				n.settle()
			}
		}
		w.s.after(0, "node-conn-closed", closed)
	}
}

func sortedConnIDs(m map[broker.ConnID]*conn) []broker.ConnID {
	ids := make([]broker.ConnID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
	return ids
}

// nodeHost is the node as the driver's world (driver.Host).
type nodeHost simNode

// NowMs implements driver.Host: the node's skewed clock.
func (h *nodeHost) NowMs() int64 { return (*simNode)(h).nowMs() }

func (h *nodeHost) Reply(req *broker.Request, resp kmsg.Response) {
	n := (*simNode)(h)
	n.w.repl.onReply(n, req, resp)
	c := n.conns[req.Conn]
	if c == nil || !c.nodeOpen {
		n.w.tr.str("reply-to-closed")
		return
	}
	var slot respSlot
	if resp != nil {
		slot.frame = broker.EncodeResponse(make([]byte, 0, min(c.respCap, maxFrameHint)), req.CorrelationID, resp)
		c.respCap = len(slot.frame)
		if c.link.client != nil {
			slot.exact = n.exactReads(resp)
		}
	}
	n.respond(c, req.Seq, slot)
}

func (h *nodeHost) CloseConn(id broker.ConnID, reason string) {
	n := (*simNode)(h)
	n.noteBrokerClose(reason)
	if c := n.conns[id]; c != nil {
		n.closeConn(c, reason)
	}
}

// StartSync runs job when its seeded latency has passed, then SyncDone
// is delivered, unless the process died meanwhile (then the fsync never
// happened).
func (h *nodeHost) StartSync(token broker.SyncToken, job *partlog.SyncJob) {
	n := (*simNode)(h)
	w := n.w
	ps := &pendingSync{token: token, job: job}
	n.inflight = append(n.inflight, ps)
	inc := n.inc
	lat := n.disk.syncLatency()
	// A real fsync makes durable at least what was written before it was
	// called; writes made while it runs may or may not be included. The
	// simulator picks per job: the fsync takes effect at its start (later
	// appends stay unsynced) or at its completion (they are included).
	var prefix []partlog.SyncStep // steps run before an armed power loss (syncsteps.go)
	if crash := n.crashArmed; crash != nil && w.faultsOn {
		n.crashArmed = nil
		prefix = n.disk.powerLossPrefix(job)
		w.s.after(max(lat/2, Microsecond), "fault-crash-mid-fsync", func() {
			if n.inc == inc && n.up && w.faultsOn {
				w.cover("power-loss-mid-fsync")
				if fileJob(job) {
					w.cover("power-loss-mid-image-write")
				}
				if prefix != nil {
					n.runPrefix(job, prefix)
				}
				crash()
			}
		})
	}
	atStart := n.disk.rng.Chance(0.5)
	if atStart && prefix == nil {
		ps.ran, ps.err = true, n.runJob(job)
	}
	var done func()
	done = func() {
		if n.inc != inc || !n.up || ps.done {
			return
		}
		if n.deferIfBusy("sync-done", done) {
			return
		}
		ps.done = true
		for i, p := range n.inflight {
			if p == ps {
				n.inflight = append(n.inflight[:i], n.inflight[i+1:]...)
				break
			}
		}
		err := ps.err
		if !ps.ran {
			err = n.runJob(job)
		}
		w.tr.str("sync")
		if err != nil {
			w.tr.str(err.Error())
			if fileJob(job) {
				w.cover("image-write-failed")
			}
		}
		n.d.Handle(driver.Event{Kind: driver.EventSyncDone, Token: token, Job: job, Err: err})
		n.settle()
		if err != nil {
			w.quietLateSyncFailure(n)
		}
	}
	w.s.after(lat, "sync-done", done)
}

// nodeLogger records the broker's log lines in the trace (and the event
// log when one is kept).
type nodeLogger simNode

func (l *nodeLogger) log(level, msg string, args []any) {
	n := (*simNode)(l)
	w := n.w
	w.tr.str(level)
	w.tr.str(msg)
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, a)
	}
	w.tr.str(b.String())
	w.logf("node %d %s %s %s", n.id, level, msg, b.String())
	n.noteBrokerLog(msg, args)
	n.checkOffline(msg, args)
	switch msg {
	case logExpandingISR:
		w.repl.onExpandingISR(n, args)
	case logLeadingPartition:
		w.repl.traps.leading(n, args)
	case logAskingAgainToLeaveISR:
		w.cover("leave-isr-asked-again")
	case logUncertainNotLeading:
		w.cover("uncertain-copy-not-leading")
	case logUncertainCaughtUp:
		w.cover("uncertain-copy-caught-up")
	case logRecoveredWithRepairs:
		w.noteRecoveredWithRepairs(n.id, args)
	case logCompactedPartition:
		w.compact.onCleaned(n, args) // compactioncheck.go
	}
}

func (l *nodeLogger) Info(msg string, args ...any)  { l.log("INFO", msg, args) }
func (l *nodeLogger) Warn(msg string, args ...any)  { l.log("WARN", msg, args) }
func (l *nodeLogger) Error(msg string, args ...any) { l.log("ERROR", msg, args) }

// Propose hands a metadata entry to the quorum model.
func (h *nodeHost) Propose(seq uint64, entry []byte) {
	n := (*simNode)(h)
	n.w.raft.propose(n, seq, entry)
}

// Send sends a request to another broker over the simulated network,
// encoded with kmsg, on pools of connections per peer and purpose (see
// peerPool).
func (h *nodeHost) Send(to broker.PeerAddr, id uint64, req kmsg.Request) {
	n := (*simNode)(h)
	w := n.w
	inc := n.inc
	answer := func(resp kmsg.Response, err error) {
		n.post("peer-response", inc, func() {
			n.d.Handle(driver.Event{Kind: driver.EventPeerResponse, PeerCall: id, PeerResp: resp, Err: err})
		})
	}
	if to.ID < 1 || int(to.ID) > len(w.nodes) || to.ID == n.id {
		w.s.after(0, "peer-no-route", func() { answer(nil, fmt.Errorf("sim: no route to broker %d", to.ID)) })
		return
	}
	w.tr.str("peer-send")
	w.tr.i64(int64(to.ID))
	w.tr.i64(int64(req.Key()))
	n.pool(to.ID, req.Key()).pick(n).do(req, peerTimeout(req), false, answer)
}

// peerTimeout is how long a node waits for another broker's answer
// before it closes the connection: a replica fetch's long poll plus two
// seconds, three seconds for the rest (a registration or an ISR change
// waits for its metadata commit).
func peerTimeout(req kmsg.Request) Time {
	if f, ok := req.(*kmsg.FetchRequest); ok {
		return Time(f.MaxWaitMillis)*Millisecond + 2*Second
	}
	return 3 * Second
}

// maxPeerConns bounds one pool's connections.
const maxPeerConns = 4

// peerPool is a node's connections to one peer for one purpose (API
// key): a connection answers its requests in order (as io/wire does), so
// a long-polling replica fetch must not hold up a heartbeat, and two
// fetches to the same leader should not wait for each other. A request
// takes an idle connection, or opens one more up to maxPeerConns, or
// queues on the least busy.
type peerPool struct {
	to    int32
	key   int16
	chans []*channel
}

func (n *simNode) pool(to int32, key int16) *peerPool {
	for _, p := range n.pools {
		if p.to == to && p.key == key {
			return p
		}
	}
	p := &peerPool{to: to, key: key}
	n.pools = append(n.pools, p)
	return p
}

func (p *peerPool) pick(n *simNode) *channel {
	var best *channel
	for _, ch := range p.chans {
		if ch.busy() == 0 {
			return ch
		}
		if best == nil || ch.busy() < best.busy() {
			best = ch
		}
	}
	if len(p.chans) < maxPeerConns {
		l := n.peerLinks[p.to-1]
		ch := &channel{w: n.w, name: fmt.Sprintf("%s/key%d#%d", l.name, p.key, len(p.chans)), traceID: 1000 + uint64(n.id),
			link: l, rng: n.peerRng, format: n.peerFormat, control: true}
		p.chans = append(p.chans, ch)
		return ch
	}
	return best
}
