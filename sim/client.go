package sim

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors a client call can end with besides a response.
var (
	// errTimeout: the request was sent but no response came in time; the
	// client closed the connection. Outcome unknown.
	errTimeout = errors.New("request timed out")
	// errBroken: the connection broke (reset or closed by the node) with
	// the request in flight. Outcome unknown.
	errBroken = errors.New("connection broken")
	// errNotSent: no connection could be made before the request's
	// deadline; it never left the client. Definitely not applied.
	errNotSent = errors.New("not sent: no connection")
)

// call is one request sent on a channel.
type call struct {
	req      kmsg.Request
	corr     int32
	sent     bool
	sentAt   Time // when it was transmitted
	done     bool
	noAnswer bool // acks=0 produce: no response on the wire
	cb       func(resp kmsg.Response, err error)
}

// client is one simulated Kafka client process: a channel (at most one
// connection at a time) to each node it talks to. Requests are encoded
// with kmsg exactly as a real client encodes them; responses are decoded
// with kmsg, matched to requests in order (Kafka answers in order on a
// connection) and checked against the correlation id. A request that
// times out closes its connection, failing everything in flight on it, as
// Kafka clients do.
type client struct {
	w     *world
	id    int // history client id
	name  string
	rng   *Rand
	links []*link    // by node index
	chans []*channel // by node index, made on first use
	// format is shared by the client's channels: one client id.
	format  *kmsg.RequestFormatter
	retired bool
	// route is the client's view of the cluster (leaders, controller),
	// refreshed with Metadata; unused on a single node.
	route *router
}

// channel is one dialing end's connection management towards one node:
// a workload client's, or one of a node's peer connections. It holds at
// most one connection at a time; requests wait for it while it is being
// made. traceID names the owner in the trace.
type channel struct {
	w       *world
	name    string
	traceID uint64
	link    *link
	rng     *Rand
	format  *kmsg.RequestFormatter
	// control says the channel dials the node's control listener (a
	// peer's); a client's dials the client listener.
	control bool

	conn       *conn
	connecting bool
	queue      []*call // waiting for a connection
	inflight   []*call // sent on conn, awaiting their responses in order
	corr       int32
	retired    bool
	// frameCap is the size of the last request frame: the next one is
	// encoded into a buffer of that capacity, since encoding into nil
	// grew it field by field (a tenth of the simulator's allocation).
	// Each frame gets a buffer of its own: the broker may keep slices
	// of it (a produce request's records).
	frameCap int
}

// maxFrameHint bounds the capacity a frame is encoded into from the last
// frame's size, so that one large fetch response does not make every
// small frame after it as large.
const maxFrameHint = 64 << 10

func (w *world) newClient(name string) *client {
	c := &client{
		w:      w,
		id:     len(w.clients),
		name:   name,
		rng:    w.root.Fork("client/" + name),
		format: kmsg.NewRequestFormatter(kmsg.FormatterClientID("sim-" + name)),
	}
	for _, n := range w.nodes {
		l := &link{name: name, client: c, node: n}
		if len(w.nodes) > 1 {
			l.name = fmt.Sprintf("%s-n%d", name, n.id)
		}
		w.links = append(w.links, l)
		c.links = append(c.links, l)
	}
	c.chans = make([]*channel, len(w.nodes))
	c.route = newRouter(c)
	w.clients = append(w.clients, c)
	return c
}

// channel returns the client's channel to node id.
func (c *client) channel(node int32) *channel {
	i := node - 1
	if c.chans[i] == nil {
		c.chans[i] = &channel{w: c.w, name: c.links[i].name, traceID: uint64(c.id), link: c.links[i], rng: c.rng, format: c.format, retired: c.retired}
	}
	return c.chans[i]
}

// do sends req to node and calls cb with its response or an error.
// timeout bounds the whole call, waiting for a connection included. A
// node of 0 or less (no leader or controller known) fails at once as not
// sent.
func (c *client) do(node int32, req kmsg.Request, timeout Time, noAnswer bool, cb func(kmsg.Response, error)) {
	if node <= 0 || int(node) > len(c.chans) {
		c.w.s.after(0, "client-no-route", func() { cb(nil, errNotSent) })
		return
	}
	c.channel(node).do(req, timeout, noAnswer, cb)
}

// retire stops the client for good: in-flight requests fail as after a
// broken connection, queued ones were never sent. Workload clients are
// retired before the final restart, so that nothing but the final
// phase's client touches the logs it checks.
func (c *client) retire() {
	c.retired = true
	for _, ch := range c.chans {
		if ch != nil {
			ch.retire()
		}
	}
}

// do sends req on the channel and calls cb with its response or an error.
func (ch *channel) do(req kmsg.Request, timeout Time, noAnswer bool, cb func(kmsg.Response, error)) {
	k := &call{req: req, cb: cb, noAnswer: noAnswer}
	if ch.retired {
		ch.w.s.after(0, "client-retired", func() { ch.finish(k, nil, errNotSent) })
		return
	}
	ch.w.s.after(timeout, "client-timeout", func() { ch.expire(k) })
	if ch.conn != nil {
		ch.transmit(k)
		return
	}
	ch.queue = append(ch.queue, k)
	ch.connect()
}

// busy counts the requests waiting on the channel.
func (ch *channel) busy() int { return len(ch.queue) + len(ch.inflight) }

func (ch *channel) finish(k *call, resp kmsg.Response, err error) {
	if k.done {
		return
	}
	k.done = true
	k.cb(resp, err)
}

func (ch *channel) expire(k *call) {
	if k.done {
		return
	}
	if !k.sent {
		for i, q := range ch.queue {
			if q == k {
				ch.queue = append(ch.queue[:i], ch.queue[i+1:]...)
				break
			}
		}
		ch.finish(k, nil, errNotSent)
		return
	}
	ch.closeConn(errTimeout)
}

func (ch *channel) transmit(k *call) {
	w := ch.w
	ch.corr++
	k.corr = ch.corr
	frame := ch.format.AppendRequest(make([]byte, 0, min(ch.frameCap, maxFrameHint)), k.req, k.corr)
	ch.frameCap = len(frame)
	frame = frame[4:]
	k.sent = true
	k.sentAt = w.s.now
	w.tr.str("send")
	w.tr.u64(ch.traceID)
	w.send(ch.conn, true, msg{frame: frame})
	if k.noAnswer {
		ch.finish(k, nil, nil)
		return
	}
	ch.inflight = append(ch.inflight, k)
}

// connect opens a connection: a SYN to the node and its answer, each
// subject to the link's delays and cuts. A cut direction makes the
// attempt time out; a node that is down refuses it.
func (ch *channel) connect() {
	if ch.connecting || ch.conn != nil || ch.retired {
		return
	}
	w := ch.w
	ch.connecting = true
	l := ch.link
	timeout := w.set.Net.ConnectTimeout
	start := w.s.now
	// over ends this attempt once: a SYN-ACK delayed past the timeout
	// arrives after the dialer gave up (FINDINGS 44).
	over := false
	failed := func() {
		if over {
			return
		}
		over = true
		ch.connecting = false
		w.tr.str("connect-failed")
		if len(ch.queue) > 0 && !ch.retired {
			w.s.after(w.set.Work.Backoff+ch.rng.Exp(w.set.Work.Backoff), "client-reconnect", ch.connect)
		}
	}
	if l.c2n.cut > 0 {
		w.s.at(start+timeout, "connect-timeout", failed)
		return
	}
	w.s.after(w.delay(&l.c2n, 0), "syn", func() {
		n := l.node
		if !n.up {
			if l.n2c.cut > 0 {
				w.s.at(start+timeout, "connect-timeout", failed)
				return
			}
			w.s.after(w.delay(&l.n2c, 0), "connect-refused", failed)
			return
		}
		w.nextConnID++
		cn := &conn{id: w.nextConnID, link: l, ch: ch, nodeInc: n.inc, startCommit: n.startCommit, clientOpen: true, nodeOpen: true}
		l.conns = append(l.conns, cn)
		w.conns = append(w.conns, cn)
		w.tr.str("accept")
		w.tr.u64(cn.id)
		if l.n2c.cut > 0 {
			// The SYN-ACK is lost for good: the client gives up and the
			// half-open connection is dropped.
			cn.clientOpen, cn.nodeOpen, cn.dead = false, false, true
			w.s.at(start+timeout, "connect-timeout", failed)
			return
		}
		cn.lastN2C = w.s.now
		// The dialer gives up at its timeout, as net.Dialer does, even
		// when the SYN-ACK is only late (a clog): the half-open
		// connection is dropped and the late SYN-ACK finds it dead.
		w.s.at(start+timeout, "connect-timeout", func() {
			if !over && ch.conn != cn {
				cn.clientOpen, cn.nodeOpen, cn.dead = false, false, true
				failed()
			}
		})
		w.s.after(w.delay(&l.n2c, 0), "syn-ack", func() {
			if over {
				cn.clientOpen = false
				return
			}
			if cn.dead {
				cn.clientOpen = false
				failed()
				return
			}
			over = true
			ch.connecting = false
			if ch.retired {
				cn.clientOpen = false
				w.send(cn, true, msg{fin: true})
				return
			}
			ch.conn = cn
			cn.lastC2N = w.s.now
			w.logf("%s: connected (conn %d)", ch.name, cn.id)
			queue := ch.queue
			ch.queue = nil
			for _, k := range queue {
				if !k.done {
					ch.transmit(k)
				}
			}
		})
	})
}

// retire stops the channel for good: in-flight requests fail as after a
// broken connection, queued ones were never sent.
func (ch *channel) retire() {
	ch.retired = true
	queue := ch.queue
	ch.queue = nil
	ch.closeConn(errBroken)
	for _, k := range queue {
		ch.finish(k, nil, errNotSent)
	}
}

// closeConn closes the channel's connection after err (a timeout),
// failing every request in flight on it. Requests already sent may still
// arrive at the node: TCP delivers them before the FIN.
func (ch *channel) closeConn(err error) {
	cn := ch.conn
	if cn == nil {
		return
	}
	ch.conn = nil
	cn.clientOpen = false
	ch.w.tr.str("client-close")
	ch.w.logf("%s: closing conn %d: %v", ch.name, cn.id, err)
	if !cn.dead {
		ch.w.send(cn, true, msg{fin: true})
	}
	ch.failInflight(err)
	if len(ch.queue) > 0 {
		ch.connect()
	}
}

func (ch *channel) failInflight(err error) {
	inflight := ch.inflight
	ch.inflight = nil
	for _, k := range inflight {
		ch.finish(k, nil, err)
	}
}

// receive handles a message on one of the channel's connections.
func (ch *channel) receive(cn *conn, m msg) {
	w := ch.w
	if cn != ch.conn {
		w.tr.str("client-stale")
		return
	}
	if m.fin || m.rst {
		w.tr.str("client-conn-ended")
		w.logf("%s: conn %d ended by the node side", ch.name, cn.id)
		ch.conn = nil
		cn.clientOpen = false
		ch.failInflight(errBroken)
		if len(ch.queue) > 0 {
			ch.connect()
		}
		return
	}
	if len(ch.inflight) == 0 {
		w.fail("%s: response on conn %d with no request in flight", ch.name, cn.id)
		return
	}
	// Popped by moving the rest down (a few at most): slicing the front
	// off shrank the capacity, and the next append reallocated.
	k := ch.inflight[0]
	rest := copy(ch.inflight, ch.inflight[1:])
	ch.inflight[rest] = nil
	ch.inflight = ch.inflight[:rest]
	resp, err := decodeResponse(k.req, m.frame, k.corr)
	if err != nil {
		w.fail("%s: %v", ch.name, err)
		ch.closeConn(errBroken)
		ch.finish(k, nil, errBroken)
		return
	}
	if ch.link.client != nil {
		w.judgeCatchUp(cn, k, resp)
	}
	// The callback runs inside finish: it reads which partitions the
	// answer gave exactly (answerMayBeStale) while answerExact is set.
	w.answerExact = m.exact
	w.coverAnswer(resp)
	ch.finish(k, resp, nil)
	w.answerExact = nil
}

// decodeResponse parses a response frame (without its size prefix) for
// req, checking the correlation id, with kmsg.
func decodeResponse(req kmsg.Request, frame []byte, corr int32) (kmsg.Response, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("response of %d bytes", len(frame))
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		return nil, fmt.Errorf("response correlation id %d, expected %d (key %d): responses out of order", got, corr, req.Key())
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	body := frame[4:]
	if resp.IsFlexible() && req.Key() != 18 {
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, fmt.Errorf("response header of key %d v%d: %v", req.Key(), req.GetVersion(), err)
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode response key %d v%d: %v", req.Key(), req.GetVersion(), err)
	}
	return resp, nil
}

func skipTags(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		if _, k = binary.Uvarint(b); k <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || size > uint64(len(b)-k) {
			return nil, errors.New("bad tag size")
		}
		b = b[k+int(size):]
	}
	return b, nil
}

// abandon drops a peer channel whose process ended (mode "graceful",
// "kill" or "power"): its requests are forgotten without answers (the
// broker that sent them is gone), and its connection is closed in order,
// reset, or left for the other side to time out.
func (ch *channel) abandon(mode string) {
	ch.retired = true
	ch.queue, ch.inflight = nil, nil
	cn := ch.conn
	ch.conn = nil
	if cn == nil {
		return
	}
	cn.clientOpen = false
	switch mode {
	case "graceful":
		if !cn.dead {
			ch.w.send(cn, true, msg{fin: true})
		}
	case "kill":
		ch.w.abort(cn, true)
	default:
		cn.dead = true
	}
}
