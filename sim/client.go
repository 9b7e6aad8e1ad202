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

// call is one request of a client.
type call struct {
	req      kmsg.Request
	corr     int32
	sent     bool
	done     bool
	noAnswer bool // acks=0 produce: no response on the wire
	cb       func(resp kmsg.Response, err error)
}

// client is one simulated Kafka client process with one connection to
// the node at a time. Requests are encoded with kmsg exactly as a real
// client encodes them; responses are decoded with kmsg, matched to
// requests in order (Kafka answers in order on a connection) and checked
// against the correlation id. A request that times out closes the
// connection, failing everything in flight on it, as Kafka clients do.
type client struct {
	w    *world
	id   int // history client id
	name string
	rng  *Rand
	link *link

	conn       *conn
	connecting bool
	queue      []*call // waiting for a connection
	inflight   []*call // sent on conn, awaiting their responses in order
	corr       int32
	format     *kmsg.RequestFormatter
	retired    bool
}

func (w *world) newClient(name string, l *link) *client {
	c := &client{
		w:      w,
		id:     len(w.clients),
		name:   name,
		rng:    w.root.Fork("client/" + name),
		link:   l,
		format: kmsg.NewRequestFormatter(kmsg.FormatterClientID("sim-" + name)),
	}
	l.client = c
	w.clients = append(w.clients, c)
	return c
}

// do sends req and calls cb with its response or an error. timeout bounds
// the whole call, waiting for a connection included.
func (c *client) do(req kmsg.Request, timeout Time, noAnswer bool, cb func(kmsg.Response, error)) {
	k := &call{req: req, cb: cb, noAnswer: noAnswer}
	if c.retired {
		// Workload clients are retired before the final restart, so that
		// nothing but the final phase's client touches the logs it checks.
		c.w.s.after(0, "client-retired", func() { c.finish(k, nil, errNotSent) })
		return
	}
	c.w.s.after(timeout, "client-timeout", func() { c.expire(k) })
	if c.conn != nil {
		c.transmit(k)
		return
	}
	c.queue = append(c.queue, k)
	c.connect()
}

func (c *client) finish(k *call, resp kmsg.Response, err error) {
	if k.done {
		return
	}
	k.done = true
	k.cb(resp, err)
}

func (c *client) expire(k *call) {
	if k.done {
		return
	}
	if !k.sent {
		for i, q := range c.queue {
			if q == k {
				c.queue = append(c.queue[:i], c.queue[i+1:]...)
				break
			}
		}
		c.finish(k, nil, errNotSent)
		return
	}
	c.closeConn(errTimeout)
}

func (c *client) transmit(k *call) {
	w := c.w
	c.corr++
	k.corr = c.corr
	frame := c.format.AppendRequest(nil, k.req, k.corr)[4:]
	k.sent = true
	w.tr.str("send")
	w.tr.u64(uint64(c.id))
	w.send(c.conn, true, msg{frame: frame})
	if k.noAnswer {
		c.finish(k, nil, nil)
		return
	}
	c.inflight = append(c.inflight, k)
}

// connect opens a connection: a SYN to the node and its answer, each
// subject to the link's delays and cuts. A cut direction makes the
// attempt time out; a node that is down refuses it.
func (c *client) connect() {
	if c.connecting || c.conn != nil {
		return
	}
	w := c.w
	c.connecting = true
	l := c.link
	timeout := w.set.Net.ConnectTimeout
	start := w.s.now
	failed := func() {
		c.connecting = false
		w.tr.str("connect-failed")
		if len(c.queue) > 0 {
			w.s.after(w.set.Work.Backoff+c.rng.Exp(w.set.Work.Backoff), "client-reconnect", c.connect)
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
		cn := &conn{id: w.nextConnID, link: l, nodeInc: n.inc, clientOpen: true, nodeOpen: true}
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
		w.s.after(w.delay(&l.n2c, 0), "syn-ack", func() {
			if cn.dead {
				cn.clientOpen = false
				failed()
				return
			}
			c.connecting = false
			if c.retired {
				cn.clientOpen = false
				w.send(cn, true, msg{fin: true})
				return
			}
			c.conn = cn
			cn.lastC2N = w.s.now
			w.logf("%s: connected (conn %d)", c.name, cn.id)
			queue := c.queue
			c.queue = nil
			for _, k := range queue {
				if !k.done {
					c.transmit(k)
				}
			}
		})
	})
}

// retire stops the client for good: in-flight requests fail as after a
// broken connection, queued ones were never sent.
func (c *client) retire() {
	c.retired = true
	queue := c.queue
	c.queue = nil
	c.closeConn(errBroken)
	for _, k := range queue {
		c.finish(k, nil, errNotSent)
	}
}

// closeConn closes the client's connection after err (a timeout), failing
// every request in flight on it. Requests already sent may still arrive
// at the node: TCP delivers them before the FIN.
func (c *client) closeConn(err error) {
	cn := c.conn
	if cn == nil {
		return
	}
	c.conn = nil
	cn.clientOpen = false
	c.w.tr.str("client-close")
	c.w.logf("%s: closing conn %d: %v", c.name, cn.id, err)
	if !cn.dead {
		c.w.send(cn, true, msg{fin: true})
	}
	c.failInflight(err)
	if len(c.queue) > 0 {
		c.connect()
	}
}

func (c *client) failInflight(err error) {
	inflight := c.inflight
	c.inflight = nil
	for _, k := range inflight {
		c.finish(k, nil, err)
	}
}

// receive handles a message on one of the client's connections.
func (c *client) receive(cn *conn, m msg) {
	w := c.w
	if cn != c.conn {
		w.tr.str("client-stale")
		return
	}
	if m.fin || m.rst {
		w.tr.str("client-conn-ended")
		w.logf("%s: conn %d ended by the node side", c.name, cn.id)
		c.conn = nil
		cn.clientOpen = false
		c.failInflight(errBroken)
		if len(c.queue) > 0 {
			c.connect()
		}
		return
	}
	if len(c.inflight) == 0 {
		w.fail("%s: response on conn %d with no request in flight", c.name, cn.id)
		return
	}
	k := c.inflight[0]
	c.inflight = c.inflight[1:]
	resp, err := decodeResponse(k.req, m.frame, k.corr)
	if err != nil {
		w.fail("%s: %v", c.name, err)
		c.closeConn(errBroken)
		c.finish(k, nil, errBroken)
		return
	}
	c.finish(k, resp, nil)
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
