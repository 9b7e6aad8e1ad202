package node

// The peer network: broker.Network over TCP. A broker sends requests to
// another broker's control listener (control.go; the address the image
// gives, the Kafka listener for a registration older than the control
// listener): replica fetches, and the controller APIs (registration,
// heartbeats, ISR changes, producer-id blocks, forwarded topic creations).
// Peers speak the plain Kafka protocol, so any Kafka tool can observe them.
//
// Connections. Kafka answers requests in order on each connection, so a
// follower's replica fetch, which long-polls for up to
// replica.fetch.wait.max.ms, would hold back a heartbeat queued behind it
// on the same connection. Each request therefore has a connection to
// itself for its round trip: it takes an idle one to that address or
// dials a new one, up to PeerConnsMax per address (a semaphore; beyond
// that a request waits for a connection to come back), and returns it
// afterwards. A connection that failed in any way (dial, write, read,
// deadline, a wrong correlation id or an undecodable answer) is closed and
// the request answered with the error; the broker decides whether to
// retry. One exception: a pooled connection that turns out to be closed
// at the peer's end before any answer (the peer restarted since the
// connection was last used) never delivered the request to a live
// process, so the pool's other idle connections are dropped and the
// request goes once more over a fresh one. Without that, every stale
// connection would fail one request in turn, and a run of failed
// heartbeats could get a live broker fenced. An idle connection older than
// peerIdleMax is closed rather than reused, well before the peer's own
// idle timeout (10 minutes) could close it under a request.
//
// Every wait is bounded by the request's deadline: PeerRequestTimeout, plus
// MaxWaitMillis for a fetch. Each request runs on its own goroutine (the
// loop must never block); the broker bounds requests in flight
// (MaxPeerCalls), and each goroutine ends by its deadline, so they are
// bounded too.
//
// Framing: request header v1 (api key, version, correlation id, nullable
// client id), or v2 for flexible versions, which appends an empty tagged
// field section (the client id stays a classic nullable string); the
// response header is v0 (correlation id), or v1 for flexible versions
// (plus tagged fields), except ApiVersions, whose response header is
// always v0.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
)

const (
	// peerIdleMax is how long an unused peer connection is kept.
	peerIdleMax = time.Minute
	// peerResponseBytesMax bounds one response frame from a peer.
	peerResponseBytesMax = 256 << 20
	// peerPoolsMax bounds the addresses with a connection pool; unused
	// pools are dropped beyond it (addresses change when brokers move).
	peerPoolsMax = 256
	// apiKeyAPIVersions is ApiVersions, whose response header is always v0.
	apiKeyAPIVersions = 18
)

// errPeerNetworkClosed answers requests after the network was closed.
var errPeerNetworkClosed = errors.New("peer network closed")

// peerNetwork implements broker.Network.
type peerNetwork struct {
	log      *slog.Logger
	clientID string
	connsMax int
	timeout  time.Duration
	// deliver hands a request's outcome to the broker (on the loop).
	deliver func(id uint64, resp kmsg.Response, err error)

	corr atomic.Int32
	// ctx is cancelled by close: it ends waits and dials.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	pools  map[string]*peerPool
	conns  map[*peerConn]struct{} // every open connection, for close
}

// peerPool holds the connections to one address.
type peerPool struct {
	addr string // where its connections dial
	key  string // its key in peerNetwork.pools: address and class
	// slots holds one token per connection in use or being dialed.
	slots chan struct{}
	idle  []*peerConn // guarded by peerNetwork.mu
}

// peerConn is one connection to a peer.
type peerConn struct {
	conn      net.Conn
	idleSince time.Time
}

func newPeerNetwork(log *slog.Logger, nodeID int32, connsMax int, timeout time.Duration,
	deliver func(id uint64, resp kmsg.Response, err error)) *peerNetwork {
	ctx, cancel := context.WithCancel(context.Background())
	return &peerNetwork{
		ctx:      ctx,
		cancel:   cancel,
		log:      log,
		clientID: "chronik-broker-" + strconv.Itoa(int(nodeID)),
		connsMax: connsMax,
		timeout:  timeout,
		deliver:  deliver,
		pools:    map[string]*peerPool{},
		conns:    map[*peerConn]struct{}{},
	}
}

// Send implements broker.Network. It encodes req on the caller's goroutine
// (the loop, which owns req) and does the round trip on a new goroutine.
func (p *peerNetwork) Send(to broker.PeerAddr, id uint64, req kmsg.Request) {
	addr := net.JoinHostPort(to.Host, strconv.Itoa(int(to.Port)))
	timeout := p.timeout
	if f, ok := req.(*kmsg.FetchRequest); ok && f.MaxWaitMillis > 0 {
		timeout += time.Duration(f.MaxWaitMillis) * time.Millisecond
	}
	corr := p.corr.Add(1)
	frame := appendRequestFrame(nil, req, corr, p.clientID)
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	go func() {
		err := p.roundTrip(addr, poolClass(req), corr, frame, resp, time.Now().Add(timeout))
		if err != nil {
			p.deliver(id, nil, fmt.Errorf("broker %d at %s: API key %d v%d: %w", to.ID, addr, req.Key(), req.GetVersion(), err))
			return
		}
		p.deliver(id, resp, nil)
	}()
}

// appendRequestFrame appends the size prefix, request header and body.
func appendRequestFrame(dst []byte, req kmsg.Request, corr int32, clientID string) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // size, filled in below
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	dst = append(dst, clientID...)
	if req.IsFlexible() {
		dst = append(dst, 0) // header v2: no tagged fields
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// roundTrip sends frame to addr and decodes the answer into resp, all
// before deadline.
func (p *peerNetwork) roundTrip(addr, class string, corr int32, frame []byte, resp kmsg.Response, deadline time.Time) error {
	pool, err := p.pool(addr, class)
	if err != nil {
		return err
	}
	wait := time.NewTimer(time.Until(deadline))
	defer wait.Stop()
	select {
	case pool.slots <- struct{}{}:
	case <-wait.C:
		return fmt.Errorf("no free connection within the deadline (%d in use)", p.connsMax)
	case <-p.ctx.Done():
		return errPeerNetworkClosed
	}
	defer func() { <-pool.slots }()

	c, reused, err := p.take(pool, deadline)
	if err != nil {
		return err
	}
	unheard, err := exchange(c.conn, corr, frame, resp, deadline)
	if err == nil {
		p.putBack(pool, c)
		return nil
	}
	p.discard(c)
	if !reused || !unheard {
		return err
	}
	// A pooled connection the peer had closed: the peer restarted (or
	// closed it as idle) since it was last used, and the request never
	// reached a live process. Its other idle connections are just as
	// stale; drop them and try once more on a fresh one.
	p.dropIdle(pool)
	c, _, err = p.take(pool, deadline)
	if err != nil {
		return err
	}
	if _, err := exchange(c.conn, corr, frame, resp, deadline); err != nil {
		p.discard(c)
		return err
	}
	p.putBack(pool, c)
	return nil
}

// exchange writes one request and reads and decodes its response.
// unheard reports a failure that shows the peer's end of the connection
// was already closed: the write failed, or the read ended (end of file or
// reset) before a single byte of a response. A timeout is never unheard.
func exchange(conn net.Conn, corr int32, frame []byte, resp kmsg.Response, deadline time.Time) (unheard bool, err error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return false, err
	}
	if _, err := conn.Write(frame); err != nil {
		return !isTimeout(err), fmt.Errorf("write request: %w", err)
	}
	var size [4]byte
	if n, err := io.ReadFull(conn, size[:]); err != nil {
		closed := n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))
		return closed, fmt.Errorf("read response size: %w", err)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > peerResponseBytesMax {
		return false, fmt.Errorf("response size %d out of range", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return false, fmt.Errorf("read %d-byte response: %w", n, err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return false, fmt.Errorf("response correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	if resp.IsFlexible() && resp.Key() != apiKeyAPIVersions {
		rest, err := skipTags(body)
		if err != nil {
			return false, fmt.Errorf("response header: %w", err)
		}
		body = rest
	}
	if err := resp.ReadFrom(body); err != nil {
		return false, fmt.Errorf("decode response: %w", err)
	}
	return false, nil
}

// skipTags skips a tagged-field section.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errors.New("bad tagged field count")
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, errors.New("bad tagged field size")
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// poolClass separates replica fetches, which long-poll, from the
// control requests (heartbeats, registrations, ISR changes): each class
// has its own pool and connection limit per address, so a follower with
// many fetches in flight can never starve its own heartbeats (which got a
// live broker fenced over and over with 200 partitions per broker).
func poolClass(req kmsg.Request) string {
	if req.Key() == 1 {
		return "fetch"
	}
	return "control"
}

// pool returns the pool of class for addr, creating it.
func (p *peerNetwork) pool(addr, class string) (*peerPool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPeerNetworkClosed
	}
	key := addr + "#" + class
	if pl := p.pools[key]; pl != nil {
		return pl, nil
	}
	if len(p.pools) >= peerPoolsMax {
		for a, pl := range p.pools {
			if len(pl.slots) == 0 {
				for _, c := range pl.idle {
					p.closeLocked(c)
				}
				delete(p.pools, a)
			}
		}
	}
	pl := &peerPool{addr: addr, key: key, slots: make(chan struct{}, p.connsMax)}
	p.pools[key] = pl
	return pl, nil
}

// take returns an idle connection of pool (reused) or dials a new one.
func (p *peerNetwork) take(pool *peerPool, deadline time.Time) (c *peerConn, reused bool, err error) {
	p.mu.Lock()
	for len(pool.idle) > 0 {
		c := pool.idle[len(pool.idle)-1]
		pool.idle = pool.idle[:len(pool.idle)-1]
		if time.Since(c.idleSince) <= peerIdleMax {
			p.mu.Unlock()
			return c, true, nil
		}
		p.closeLocked(c)
	}
	p.mu.Unlock()

	ctx, cancel := context.WithDeadline(p.ctx, deadline)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", pool.addr)
	if err != nil {
		return nil, false, fmt.Errorf("dial: %w", err)
	}
	c = &peerConn{conn: conn}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		conn.Close()
		return nil, false, errPeerNetworkClosed
	}
	p.conns[c] = struct{}{}
	return c, false, nil
}

// dropIdle closes the idle connections of pool.
func (p *peerNetwork) dropIdle(pool *peerPool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range pool.idle {
		p.closeLocked(c)
	}
	clear(pool.idle)
	pool.idle = pool.idle[:0]
}

// isTimeout reports a deadline error.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// putBack returns a healthy connection to its pool.
func (p *peerNetwork) putBack(pool *peerPool, c *peerConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.pools[pool.key] != pool {
		p.closeLocked(c)
		return
	}
	c.idleSince = time.Now()
	pool.idle = append(pool.idle, c)
}

// discard closes a connection that failed.
func (p *peerNetwork) discard(c *peerConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeLocked(c)
}

func (p *peerNetwork) closeLocked(c *peerConn) {
	if _, ok := p.conns[c]; ok {
		delete(p.conns, c)
		c.conn.Close()
	}
}

// close closes every connection; requests in flight fail at once and
// later ones are answered with errPeerNetworkClosed.
func (p *peerNetwork) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.cancel()
	for c := range p.conns {
		c.conn.Close()
	}
	clear(p.conns)
	clear(p.pools)
}
