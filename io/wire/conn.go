package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// Buffer sizes per connection. 32 KiB each keeps 4096 idle connections
	// under 256 MiB while still coalescing small responses into few writes.
	readBufferBytes  = 32 << 10
	writeBufferBytes = 32 << 10
	// maxRetainedScratchBytes: the writer keeps its encode buffer between
	// responses unless one large response grew it beyond this, so one big
	// fetch does not pin memory for the connection's lifetime.
	maxRetainedScratchBytes = 1 << 20
)

// aLongTimeAgo is a read deadline in the past: setting it makes a blocked
// Read return at once.
var aLongTimeAgo = time.Unix(1, 0)

var (
	// errReadStopped ends the reader gracefully during Shutdown.
	errReadStopped = errors.New("wire: reading stopped for shutdown")
	// errIdle ends the reader when the connection has been idle too long.
	errIdle = errors.New("wire: connection idle")
)

// Conn is one client connection. Its methods are safe for concurrent use.
type Conn struct {
	id     uint64
	srv    *Server
	nc     net.Conn
	remote string
	log    *slog.Logger

	// slots is a semaphore with one token per request read but not yet
	// written (or skipped): the reader puts a token in before reading a
	// frame, the writer takes one out per response consumed.
	slots chan struct{}
	// wake tells the writer that the response at nextWrite may be ready
	// or that the reader stopped. Capacity 1: one pending signal suffices
	// because the writer drains everything ready each time it wakes.
	wake chan struct{}
	// done is closed by closeWith; it stops both goroutines.
	done chan struct{}
	// stopRead is closed by stopReading (Shutdown); stopFlag mirrors it for
	// the deadline handshake in connReader.Read.
	stopRead chan struct{}
	stopFlag atomic.Bool
	// lastWriteNanos is the wall time of the writer's last flush, so that
	// the idle timer restarts when a long-running request is answered.
	lastWriteNanos atomic.Int64
	// valid is set by MarkValid: the connection has sent a request that
	// parsed, so frames up to MaxRequestBytes are read from it.
	valid atomic.Bool

	mu            sync.Mutex
	closed        bool
	readerStopped bool   // the reader has exited: no request after nextSeq-1
	nextSeq       uint64 // seq the next request read gets
	nextWrite     uint64 // seq of the next response to write
	// ring is the reorder buffer: the entry for seq is ring[seq%len(ring)].
	// Only seqs in [nextWrite, nextSeq) are live, and nextSeq-nextWrite
	// never exceeds len(ring) because each live seq holds a slot.
	ring []entry
	// held is everything this connection holds from the server's budget:
	// the charges of the ring's entries, of the frame the reader is
	// reading and of the responses the writer is writing. Each is released
	// when done with; whatever is left when the connection ends (closed
	// mid-frame, mid-write, with requests unanswered) is released then.
	held charge
}

// entry is one reorder-buffer cell.
type entry struct {
	responded bool
	m         Message // nil with responded set: no response to write
	// charge is what the request (until answered) or its response (until
	// written) holds from the budget.
	charge charge
}

// pending is a response taken from the reorder buffer for writing.
type pending struct {
	m      Message
	charge charge
}

func newConn(s *Server, id uint64, nc net.Conn) *Conn {
	remote := nc.RemoteAddr().String()
	return &Conn{
		id:       id,
		srv:      s,
		nc:       nc,
		remote:   remote,
		log:      s.log.With("conn_id", id, "remote", remote),
		slots:    make(chan struct{}, s.cfg.MaxInFlightPerConn),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		stopRead: make(chan struct{}),
		ring:     make([]entry, s.cfg.MaxInFlightPerConn),
	}
}

// ID returns the connection's identifier, unique within its Server and
// never 0.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr returns the client's address as text.
func (c *Conn) RemoteAddr() string { return c.remote }

// MarkValid tells the connection that it has sent a valid request (one
// that parsed), which lifts the MaxEarlyRequestBytes bound on its frames.
// The handler calls it from HandleRequest, so that it applies from the
// next frame on.
func (c *Conn) MarkValid() { c.valid.Store(true) }

// Reserve charges request seq, before it is handled, for a response of up
// to responseBytes (as SizedMessage.SizeBytes would report it), waiting
// while the server's budget is spent; the charge replaces the frame's and
// lasts until the response is written. It lets a handler hold back a
// request whose response may be large (a fetch) before building it,
// instead of finding out after. It must be called from HandleRequest,
// before seq can be answered; it returns false if the connection closed
// meanwhile, and the handler should then drop the request.
//
// The frame's charge is released before waiting, so a waiting reader
// holds nothing: two readers can never each hold part of the budget while
// waiting for the other's.
func (c *Conn) Reserve(seq uint64, responseBytes int64) bool {
	want := responseCost(responseBytes)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if seq < c.nextWrite || seq >= c.nextSeq || c.ring[seq%uint64(len(c.ring))].responded {
		c.mu.Unlock()
		c.log.Error("Reserve for a request that is not outstanding or already answered; ignored", "seq", seq)
		return true
	}
	e := &c.ring[seq%uint64(len(c.ring))]
	if e.charge.all >= want {
		c.mu.Unlock()
		return true
	}
	old := e.charge
	e.charge = charge{}
	c.held = c.held.minus(old)
	c.mu.Unlock()
	c.srv.budget.release(old)

	got, ok := c.srv.budget.acquireResponse(want, c.done, nil)
	if !ok {
		return false
	}
	c.mu.Lock()
	c.held = c.held.plus(got)
	if !c.closed {
		// Nothing answers seq before Reserve returns, so the entry is
		// still seq's and unanswered.
		c.ring[seq%uint64(len(c.ring))].charge = got
	}
	c.mu.Unlock()
	return true
}

// responseCost is what a response of size bytes is charged: the message
// and its encoding both exist while it is written.
func responseCost(size int64) int64 { return 2 * max(size, 0) }

// releaseHeld returns ch, held by this connection, to the budget.
func (c *Conn) releaseHeld(ch charge) {
	if ch == (charge{}) {
		return
	}
	c.mu.Lock()
	c.held = c.held.minus(ch)
	c.mu.Unlock()
	c.srv.budget.release(ch)
}

// Respond supplies the response to request seq. It may be called from any
// goroutine and in any order; responses are written in seq order. m == nil
// means the request gets no response (acks=0 produce) but still frees its
// slot. Respond never blocks on the network. Calls after the connection
// closed are dropped; a seq that is not outstanding or already answered is a
// caller bug and is logged and ignored.
func (c *Conn) Respond(seq uint64, m Message) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if seq < c.nextWrite || seq >= c.nextSeq {
		next, written := c.nextSeq, c.nextWrite
		c.mu.Unlock()
		c.log.Error("Respond for a request that is not outstanding; ignored",
			"seq", seq, "next_seq", next, "next_write", written)
		return
	}
	e := &c.ring[seq%uint64(len(c.ring))]
	if e.responded {
		c.mu.Unlock()
		c.log.Error("duplicate Respond; ignored", "seq", seq)
		return
	}
	e.responded = true
	e.m = m
	// The request is answered: its frame is done with. A sized response
	// is charged from now until written, past the budget if need be (it
	// exists already); readers then wait until enough has been written.
	c.srv.budget.release(e.charge)
	c.held = c.held.minus(e.charge)
	e.charge = charge{}
	if sm, ok := m.(SizedMessage); ok {
		e.charge = c.srv.budget.forceResponse(responseCost(int64(sm.SizeBytes())))
		c.held = c.held.plus(e.charge)
	}
	ready := seq == c.nextWrite
	c.mu.Unlock()
	if ready {
		c.signalWriter()
	}
}

// Close logs reason at Info with the connection's id and remote address and
// closes the socket. Responses not yet written are dropped. It is
// idempotent; only the first call logs.
func (c *Conn) Close(reason string) {
	c.closeWith(slog.LevelInfo, reason)
}

// CloseQuiet is Close for a reason the caller has logged itself (with its
// own rate limit): the closing line is at debug level.
func (c *Conn) CloseQuiet(reason string) {
	c.closeWith(slog.LevelDebug, reason)
}

// closeWith closes the connection once, logging reason at level with attrs.
func (c *Conn) closeWith(level slog.Level, reason string, attrs ...any) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	clear(c.ring) // drop references to unwritten responses
	c.mu.Unlock()
	close(c.done)
	c.log.Log(context.Background(), level, "closing connection", append([]any{"reason", reason}, attrs...)...)
	if err := c.nc.Close(); err != nil {
		c.log.Debug("closing socket", "err", err)
	}
}

func (c *Conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Conn) signalWriter() {
	select {
	case c.wake <- struct{}{}:
	default: // a signal is already pending
	}
}

// stopReading makes the reader exit without closing the connection, so the
// writer can still flush responses to requests already read.
//
// Handshake with connReader.Read, which does SetReadDeadline(future), then
// loads stopFlag, then reads: here we store stopFlag, then set a past
// deadline. Either Read's load sees the flag, or the load happened before
// the store, in which case our past deadline is set after Read's future one
// and the blocked Read returns a timeout, after which Read checks the flag
// again. So the reader never sleeps through a shutdown.
func (c *Conn) stopReading() {
	if !c.stopFlag.CompareAndSwap(false, true) {
		return
	}
	close(c.stopRead)
	_ = c.nc.SetReadDeadline(aLongTimeAgo)
}

// serve runs the connection: the reader on a new goroutine, the writer on
// this one, then the ConnClosed callback once both are gone.
func (c *Conn) serve() {
	defer c.srv.wg.Done()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.readLoop()
	}()
	c.writeLoop()
	// The writer only returns after the connection is closed, which makes
	// the reader's Read or slot wait return.
	<-readerDone
	// Both goroutines are gone and Respond drops calls on a closed
	// connection: nothing changes held any more.
	c.mu.Lock()
	left := c.held
	c.held = charge{}
	c.mu.Unlock()
	c.srv.budget.release(left)
	c.srv.connDone(c)
	c.srv.h.ConnClosed(c)
	c.log.Debug("connection ended")
}

// readLoop reads request frames until the connection closes or reading is
// stopped for shutdown.
func (c *Conn) readLoop() {
	defer func() {
		c.mu.Lock()
		c.readerStopped = true
		c.mu.Unlock()
		// The writer decides whether the connection is drained.
		c.signalWriter()
	}()
	br := bufio.NewReaderSize(&connReader{c: c}, readBufferBytes)
	maxBytes := c.srv.cfg.MaxRequestBytes
	earlyBytes := min(c.srv.cfg.MaxEarlyRequestBytes, maxBytes)
	var sizeBuf [4]byte
	for first := true; ; first = false {
		// Take the slot before reading, so that at the limit the request
		// stays in the socket and TCP pushes back on the client.
		select {
		case c.slots <- struct{}{}:
		case <-c.done:
			return
		case <-c.stopRead:
			return
		}
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			c.readFailed(err, false)
			return
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		early := !c.valid.Load()
		if first {
			// A client pointed at the wrong port or with the wrong
			// security settings: say so instead of "request too large".
			if hint := protocolHint(sizeBuf); hint != "" {
				c.closeWith(slog.LevelWarn, hint, "first_bytes", fmt.Sprintf("% x", sizeBuf[:]))
				return
			}
		}
		switch {
		case size < 0:
			c.closeWith(slog.LevelWarn, "invalid size", "size", size)
			return
		case size > maxBytes:
			c.closeWith(slog.LevelWarn, "request too large", "size", size, "max_request_bytes", maxBytes)
			return
		case early && size > earlyBytes:
			c.closeWith(slog.LevelWarn, "request too large for a connection that has not yet sent a valid request",
				"size", size, "max_early_request_bytes", earlyBytes)
			return
		case size < minRequestBytes:
			c.closeWith(slog.LevelWarn, "request shorter than the request header", "size", size, "min_bytes", minRequestBytes)
			return
		}
		// Reserve before reading (and allocating): with the budget spent
		// the body stays in the socket.
		ch, ok := c.srv.budget.acquireFrame(int64(size), c.done, c.stopRead)
		if !ok {
			return
		}
		c.mu.Lock()
		c.held = c.held.plus(ch)
		c.mu.Unlock()
		frame := make([]byte, size)
		if _, err := io.ReadFull(br, frame); err != nil {
			c.releaseHeld(ch)
			c.readFailed(err, true)
			return
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return // serve releases what the connection holds
		}
		seq := c.nextSeq
		c.nextSeq++
		c.ring[seq%uint64(len(c.ring))].charge = ch
		c.mu.Unlock()
		c.srv.h.HandleRequest(c, seq, frame)
	}
}

// protocolHint names the protocol that a connection's first four bytes
// suggest when it is not Kafka, or returns "". Read as a Kafka size
// prefix, each of these is a frame of hundreds of megabytes.
func protocolHint(first [4]byte) string {
	// A TLS record: content type 22 (handshake), then the record layer
	// version 3.x (x = 0 for SSL 3.0 up to 4 for TLS 1.3's 3.4 drafts).
	if first[0] == 0x16 && first[1] == 0x03 && first[2] <= 0x04 {
		return "looks like a TLS ClientHello: this listener speaks plaintext Kafka"
	}
	switch string(first[:]) {
	case "GET ", "POST", "PUT ", "HEAD", "PRI ", "DELE", "OPTI", "PATC", "CONN", "TRAC":
		// PRI is the HTTP/2 connection preface.
		return "looks like HTTP: this listener speaks the Kafka protocol"
	}
	return ""
}

// readFailed ends the reader after err, closing the connection unless the
// error is the graceful shutdown stop. midFrame reports whether a frame had
// started, so that EOF there is a truncated frame.
func (c *Conn) readFailed(err error, midFrame bool) {
	switch {
	case c.isClosed():
		// Close already logged the reason; the error is its consequence.
	case errors.Is(err, errReadStopped):
		// Shutdown: the writer flushes and closes.
	case errors.Is(err, errIdle):
		c.closeWith(slog.LevelInfo, "idle timeout", "idle_timeout", c.srv.cfg.IdleTimeout)
	case errors.Is(err, io.EOF) && !midFrame:
		c.closeWith(slog.LevelDebug, "client closed the connection")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		c.closeWith(slog.LevelDebug, "client closed the connection inside a frame")
	default:
		c.closeWith(slog.LevelInfo, "read failed", "err", err)
	}
}

// connReader is the reader goroutine's view of the socket. It implements
// the idle timeout with read deadlines below bufio, so that a deadline that
// expires without the connection being idle is retried transparently, even
// in the middle of a frame.
type connReader struct {
	c *Conn
}

// Read reads from the socket. It returns errIdle when nothing was read for
// IdleTimeout while no request was in flight and nothing was written, and
// errReadStopped once stopReading was called.
func (r *connReader) Read(p []byte) (int, error) {
	c := r.c
	idle := c.srv.cfg.IdleTimeout
	deadline := time.Now().Add(idle)
	for {
		// Order matters: deadline, then flag, then Read (see stopReading).
		if err := c.nc.SetReadDeadline(deadline); err != nil {
			return 0, fmt.Errorf("set read deadline: %w", err)
		}
		if c.stopFlag.Load() {
			return 0, errReadStopped
		}
		n, err := c.nc.Read(p)
		if n > 0 {
			if isTimeout(err) {
				err = nil // the next Read re-arms the deadline
			}
			return n, err
		}
		if !isTimeout(err) {
			return 0, err
		}
		if c.stopFlag.Load() {
			return 0, errReadStopped
		}
		now := time.Now()
		c.mu.Lock()
		inFlight := c.nextSeq != c.nextWrite
		c.mu.Unlock()
		if inFlight {
			// The client is waiting for us (a long-poll fetch, a join
			// group); silence from it is not idleness.
			deadline = now.Add(idle)
			continue
		}
		if last := time.Unix(0, c.lastWriteNanos.Load()); now.Sub(last) < idle {
			deadline = last.Add(idle)
			continue
		}
		return 0, errIdle
	}
}

func isTimeout(err error) bool {
	return err != nil && errors.Is(err, os.ErrDeadlineExceeded)
}

// connWriter gives each socket write a deadline, so a client that stops
// reading cannot block the writer (and hold its slots) forever.
type connWriter struct {
	c *Conn
}

// Write writes p to the socket within IdleTimeout.
func (w *connWriter) Write(p []byte) (int, error) {
	if err := w.c.nc.SetWriteDeadline(time.Now().Add(w.c.srv.cfg.IdleTimeout)); err != nil {
		return 0, fmt.Errorf("set write deadline: %w", err)
	}
	return w.c.nc.Write(p)
}

// writeLoop writes responses in seq order until the connection closes, or
// until the reader has stopped and every request read has been answered.
func (c *Conn) writeLoop() {
	bw := bufio.NewWriterSize(&connWriter{c: c}, writeBufferBytes)
	batch := make([]pending, 0, len(c.ring))
	var scratch []byte
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		for {
			var drained bool
			batch, drained = c.takeReady(batch[:0])
			if len(batch) == 0 {
				// Nothing more is ready: now is the time to flush, so
				// responses that became ready together share a write.
				if bw.Buffered() > 0 {
					if err := bw.Flush(); err != nil {
						c.writeFailed(err)
						return
					}
					c.lastWriteNanos.Store(time.Now().UnixNano())
				}
				if drained {
					c.closeWith(slog.LevelDebug, "shutdown: all responses written")
					return
				}
				break
			}
			for i, p := range batch {
				batch[i] = pending{}
				if m := p.m; m != nil {
					if sm, ok := m.(SizedMessage); ok && cap(scratch) < sm.SizeBytes()+4 {
						// One allocation of the right size, instead of
						// append's doublings leaving garbage behind.
						scratch = make([]byte, 0, sm.SizeBytes()+4)
					}
					var err error
					scratch, err = encode(scratch[:0], m)
					if err != nil {
						c.closeWith(slog.LevelError, "cannot encode response", "err", err)
						return
					}
					if _, err := bw.Write(scratch); err != nil {
						c.writeFailed(err)
						return
					}
					if cap(scratch) > maxRetainedScratchBytes {
						scratch = nil
					}
				}
				// Written (into bw, flushed when the batch is done, or
				// by bw itself for large responses): the charge goes.
				c.releaseHeld(p.charge)
				<-c.slots // never blocks: this response's request holds a token
			}
		}
	}
}

// takeReady appends to batch the responses that are ready in seq order
// starting at nextWrite, removing them from the reorder buffer. drained
// reports that the reader has stopped and nothing is outstanding.
func (c *Conn) takeReady(batch []pending) ([]pending, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return batch, false
	}
	n := uint64(len(c.ring))
	for c.nextWrite != c.nextSeq {
		e := &c.ring[c.nextWrite%n]
		if !e.responded {
			break
		}
		batch = append(batch, pending{m: e.m, charge: e.charge})
		*e = entry{}
		c.nextWrite++
	}
	return batch, c.readerStopped && c.nextWrite == c.nextSeq
}

func (c *Conn) writeFailed(err error) {
	if c.isClosed() {
		return
	}
	if isTimeout(err) {
		c.closeWith(slog.LevelInfo, "write timed out; client not reading", "err", err)
		return
	}
	c.closeWith(slog.LevelInfo, "write failed", "err", err)
}

// encode appends m to dst behind its 4-byte big-endian size prefix.
func encode(dst []byte, m Message) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = m.AppendTo(dst)
	size := len(dst) - start - 4
	if size > math.MaxInt32 {
		return dst[:start], fmt.Errorf("response of %d bytes exceeds the int32 size prefix", size)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(size))
	return dst, nil
}
