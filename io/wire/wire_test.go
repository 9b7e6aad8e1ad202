package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// The tests speak a toy protocol that follows Kafka framing: a request frame
// is api key (int16), version (int16), correlation id (int32), payload; a
// response body is correlation id (int32), payload.

// resp is a test Message.
type resp struct {
	corr    int32
	payload []byte
}

func (r resp) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.corr))
	return append(dst, r.payload...)
}

// req is a request seen by the handler.
type req struct {
	c     *Conn
	seq   uint64
	corr  int32
	frame []byte
}

// testHandler records requests and closes; onRequest, when set, runs on the
// reader goroutine (for handlers that answer at once).
type testHandler struct {
	onRequest func(r req)
	// unvalidated: the handler never calls MarkValid, so the connection
	// stays under MaxEarlyRequestBytes.
	unvalidated bool
	reqs        chan req

	mu     sync.Mutex
	closed map[uint64]int // conn id -> ConnClosed calls
	closes chan uint64
}

func newTestHandler() *testHandler {
	return &testHandler{
		reqs:   make(chan req, 10000),
		closed: map[uint64]int{},
		closes: make(chan uint64, 1000),
	}
}

func (h *testHandler) HandleRequest(c *Conn, seq uint64, frame []byte) {
	r := req{c: c, seq: seq, corr: int32(binary.BigEndian.Uint32(frame[4:8])), frame: frame}
	if !h.unvalidated {
		c.MarkValid()
	}
	if h.onRequest != nil {
		h.onRequest(r)
		return
	}
	h.reqs <- r
}

func (h *testHandler) ConnClosed(c *Conn) {
	h.mu.Lock()
	h.closed[c.ID()]++
	h.mu.Unlock()
	h.closes <- c.ID()
}

// echo answers every request at once with its correlation id and payload.
func echo(r req) { r.c.Respond(r.seq, resp{corr: r.corr, payload: r.frame[8:]}) }

func (h *testHandler) closeCount(id uint64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed[id]
}

// waitReq returns the next request or fails the test after a generous
// safety timeout (never a pass/fail timing figure).
func (h *testHandler) waitReq(t *testing.T) req {
	t.Helper()
	select {
	case r := <-h.reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a request")
		return req{}
	}
}

func (h *testHandler) waitClose(t *testing.T) uint64 {
	t.Helper()
	select {
	case id := <-h.closes:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for ConnClosed")
		return 0
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startServer listens on a free loopback port and serves until the test
// ends.
func startServer(t *testing.T, cfg Config, h Handler) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := Listen(cfg, h)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v; want ErrServerClosed", err)
		}
	})
	return s
}

func dial(t *testing.T, s *Server) *net.TCPConn {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	// A safety net so a broken test fails instead of hanging.
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	return nc.(*net.TCPConn)
}

func requestFrame(corr int32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
	b = binary.BigEndian.AppendUint16(b, 18) // ApiVersions, irrelevant here
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	return append(b, payload...)
}

func sendRequest(t *testing.T, nc net.Conn, corr int32, payload []byte) {
	t.Helper()
	if _, err := nc.Write(requestFrame(corr, payload)); err != nil {
		t.Fatalf("write request %d: %v", corr, err)
	}
}

func readResponse(nc net.Conn) (int32, []byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		return 0, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		return 0, nil, err
	}
	if len(body) < 4 {
		return 0, nil, errors.New("response shorter than correlation id")
	}
	return int32(binary.BigEndian.Uint32(body)), body[4:], nil
}

func mustReadResponse(t *testing.T, nc net.Conn) (int32, []byte) {
	t.Helper()
	corr, payload, err := readResponse(nc)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return corr, payload
}

// expectClosed asserts that the server closed nc: a read ends in EOF (or a
// reset) rather than data or the test's safety deadline.
func expectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	buf := make([]byte, 1)
	n, err := nc.Read(buf)
	if n > 0 {
		t.Fatalf("read %d bytes from a connection that should be closed", n)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection was not closed by the server")
	}
	if err == nil {
		t.Fatal("read returned no error on a closed connection")
	}
}

func TestPipelinedResponsesInOrder(t *testing.T) {
	h := newTestHandler()
	s := startServer(t, Config{}, h)
	nc := dial(t, s)
	const n = 50
	for i := range n {
		sendRequest(t, nc, int32(1000+i), []byte{byte(i)})
	}
	reqs := make([]req, n)
	for i := range n {
		r := h.waitReq(t)
		if r.seq != uint64(i) || r.corr != int32(1000+i) {
			t.Fatalf("request %d: seq %d corr %d", i, r.seq, r.corr)
		}
		reqs[i] = r
	}
	// Answer in a shuffled order from many goroutines.
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for _, i := range rng.Perm(n) {
		r := reqs[i]
		wg.Go(func() { r.c.Respond(r.seq, resp{corr: r.corr, payload: r.frame[8:]}) })
	}
	wg.Wait()
	for i := range n {
		corr, payload := mustReadResponse(t, nc)
		if corr != int32(1000+i) || !bytes.Equal(payload, []byte{byte(i)}) {
			t.Fatalf("response %d: corr %d payload %v", i, corr, payload)
		}
	}
}

func TestNilResponsesSkipped(t *testing.T) {
	h := newTestHandler()
	h.onRequest = func(r req) {
		if r.seq%2 == 1 {
			r.c.Respond(r.seq, nil) // acks=0 style: no response
			return
		}
		echo(r)
	}
	s := startServer(t, Config{MaxInFlightPerConn: 2}, h)
	nc := dial(t, s)
	// More requests than slots: nil responses must free their slots.
	const n = 20
	for i := range n {
		sendRequest(t, nc, int32(i), nil)
	}
	for i := 0; i < n; i += 2 {
		corr, _ := mustReadResponse(t, nc)
		if corr != int32(i) {
			t.Fatalf("got corr %d want %d", corr, i)
		}
	}
	// The connection is still usable and nothing else arrives first.
	sendRequest(t, nc, 100, nil) // seq 20: answered
	if corr, _ := mustReadResponse(t, nc); corr != 100 {
		t.Fatalf("got corr %d want 100", corr)
	}
}

func TestOversizedFrameClosesOnlyThatConn(t *testing.T) {
	h := newTestHandler()
	h.onRequest = echo
	s := startServer(t, Config{MaxRequestBytes: 1024}, h)
	good := dial(t, s)
	bad := dial(t, s)

	sendRequest(t, good, 1, nil)
	mustReadResponse(t, good)

	// 1025 bytes claimed: one over the limit. The body never needs to be
	// sent for the server to refuse.
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 1025)
	if _, err := bad.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, bad)
	h.waitClose(t)

	// The other connection keeps working, and a frame exactly at the limit
	// is accepted.
	sendRequest(t, good, 2, make([]byte, 1024-8))
	if corr, payload := mustReadResponse(t, good); corr != 2 || len(payload) != 1024-8 {
		t.Fatalf("got corr %d, %d payload bytes", corr, len(payload))
	}
}

func TestInvalidFramesClose(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"negative size", []byte{0xff, 0xff, 0xff, 0xff}},
		{"most negative size", []byte{0x80, 0, 0, 0}},
		{"zero size", []byte{0, 0, 0, 0}},
		{"shorter than header", []byte{0, 0, 0, 7, 0, 18, 0, 0, 0, 0, 0}},
		{"larger than int32 max request", []byte{0x7f, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler()
			s := startServer(t, Config{}, h)
			nc := dial(t, s)
			if _, err := nc.Write(tt.bytes); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, nc)
			id := h.waitClose(t)
			if got := h.closeCount(id); got != 1 {
				t.Fatalf("ConnClosed called %d times", got)
			}
			if len(h.reqs) != 0 {
				t.Fatal("HandleRequest called for an invalid frame")
			}
		})
	}
}

func TestTruncatedFrame(t *testing.T) {
	h := newTestHandler()
	s := startServer(t, Config{}, h)
	nc := dial(t, s)
	// A whole request, then a frame announcing 100 bytes with only 10 sent.
	sendRequest(t, nc, 7, nil)
	b := binary.BigEndian.AppendUint32(nil, 100)
	b = append(b, make([]byte, 10)...)
	if _, err := nc.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := nc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	r := h.waitReq(t)
	if r.corr != 7 {
		t.Fatalf("corr %d", r.corr)
	}
	h.waitClose(t)
	if len(h.reqs) != 0 {
		t.Fatal("truncated frame was handed to the handler")
	}
	// Respond after close is dropped silently.
	r.c.Respond(r.seq, resp{corr: 7})
	expectClosed(t, nc)
}

func TestBackpressure(t *testing.T) {
	h := newTestHandler()
	const limit = 3
	s := startServer(t, Config{MaxInFlightPerConn: limit}, h)
	nc := dial(t, s)
	const n = 8
	for i := range n {
		sendRequest(t, nc, int32(i), nil)
	}
	var got []req
	for range limit {
		got = append(got, h.waitReq(t))
	}
	// The reader must now be parked. A short wait cannot make this check
	// fail spuriously; it can only miss a bug, which the -race and count
	// runs catch over time.
	select {
	case r := <-h.reqs:
		t.Fatalf("request seq %d read beyond MaxInFlightPerConn=%d", r.seq, limit)
	case <-time.After(100 * time.Millisecond):
	}
	// Answering a later request does not free a slot: responses leave in
	// order, so seq 0 still holds the line.
	got[2].c.Respond(got[2].seq, resp{corr: got[2].corr})
	select {
	case r := <-h.reqs:
		t.Fatalf("request seq %d read while seq 0 unanswered", r.seq)
	case <-time.After(100 * time.Millisecond):
	}
	// Answering seq 0 frees exactly one slot (seq 2 is answered but still
	// waits behind seq 1), so exactly one more request arrives.
	got[0].c.Respond(got[0].seq, resp{corr: got[0].corr})
	r := h.waitReq(t)
	if r.seq != limit {
		t.Fatalf("next request seq %d want %d", r.seq, limit)
	}
	got = append(got, r)
	select {
	case r := <-h.reqs:
		t.Fatalf("request seq %d read beyond the freed slot", r.seq)
	case <-time.After(100 * time.Millisecond):
	}
	// Answer everything else as it arrives.
	got[1].c.Respond(got[1].seq, resp{corr: got[1].corr})
	got[3].c.Respond(got[3].seq, resp{corr: got[3].corr})
	for i := limit + 1; i < n; i++ {
		r := h.waitReq(t)
		r.c.Respond(r.seq, resp{corr: r.corr})
	}
	for i := range n {
		if corr, _ := mustReadResponse(t, nc); corr != int32(i) {
			t.Fatalf("response %d has corr %d", i, corr)
		}
	}
}

func TestShutdownFlushesPendingResponses(t *testing.T) {
	h := newTestHandler()
	cfg := Config{Addr: "127.0.0.1:0", Logger: testLogger(t)}
	s, err := Listen(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()

	nc := dial(t, s)
	// A connection with nothing pending closes at once. A round trip makes
	// sure the server has accepted it before Shutdown.
	idle := dial(t, s)
	sendRequest(t, idle, 100, nil)
	ir := h.waitReq(t)
	ir.c.Respond(ir.seq, resp{corr: 100})
	mustReadResponse(t, idle)
	const n = 3
	for i := range n {
		sendRequest(t, nc, int32(i), nil)
	}
	var reqs []req
	for range n {
		reqs = append(reqs, h.waitReq(t))
	}
	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- s.Shutdown(context.Background()) }()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	expectClosed(t, idle)
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Fatal("dial succeeded after Shutdown")
	}
	// Answer out of order after Shutdown started: all three still go out.
	for _, i := range []int{2, 0, 1} {
		reqs[i].c.Respond(reqs[i].seq, resp{corr: reqs[i].corr, payload: []byte("late")})
	}
	for i := range n {
		corr, payload := mustReadResponse(t, nc)
		if corr != int32(i) || string(payload) != "late" {
			t.Fatalf("response %d: corr %d payload %q", i, corr, payload)
		}
	}
	expectClosed(t, nc)
	if err := <-shutdownErr; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Every ConnClosed has returned by the time Shutdown returns.
	if got := len(h.closes); got != 2 {
		t.Fatalf("%d ConnClosed calls, want 2", got)
	}
}

func TestShutdownDeadline(t *testing.T) {
	h := newTestHandler()
	s, err := Listen(Config{Addr: "127.0.0.1:0", Logger: testLogger(t)}, h)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	nc := dial(t, s)
	sendRequest(t, nc, 1, nil)
	r := h.waitReq(t) // never answered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v; want DeadlineExceeded", err)
	}
	if h.closeCount(r.c.ID()) != 1 {
		t.Fatal("ConnClosed not called before Shutdown returned")
	}
	expectClosed(t, nc)
	r.c.Respond(r.seq, resp{corr: 1}) // dropped, no panic
	// A second Shutdown is harmless.
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	h := newTestHandler()
	s := startServer(t, Config{IdleTimeout: 100 * time.Millisecond}, h)

	// A silent connection is closed.
	quiet := dial(t, s)
	expectClosed(t, quiet)
	h.waitClose(t)

	// A connection whose request is in flight for longer than the idle
	// timeout is not idle: the client is waiting for us.
	busy := dial(t, s)
	sendRequest(t, busy, 5, []byte("slow"))
	r := h.waitReq(t)
	time.Sleep(400 * time.Millisecond)
	r.c.Respond(r.seq, resp{corr: 5})
	if corr, _ := mustReadResponse(t, busy); corr != 5 {
		t.Fatalf("corr %d", corr)
	}
	// Once answered and silent, it is idle and closed.
	expectClosed(t, busy)
	h.waitClose(t)
}

func TestMaxConns(t *testing.T) {
	h := newTestHandler()
	h.onRequest = echo
	s := startServer(t, Config{MaxConns: 1}, h)
	first := dial(t, s)
	sendRequest(t, first, 1, nil) // the round trip proves it is registered
	mustReadResponse(t, first)
	second := dial(t, s)
	expectClosed(t, second)
	sendRequest(t, first, 2, nil)
	if corr, _ := mustReadResponse(t, first); corr != 2 {
		t.Fatalf("corr %d", corr)
	}
	// After the first leaves, a new connection is accepted.
	_ = first.Close()
	h.waitClose(t)
	third := dial(t, s)
	sendRequest(t, third, 3, nil)
	if corr, _ := mustReadResponse(t, third); corr != 3 {
		t.Fatalf("corr %d", corr)
	}
}

func TestRespondMisuseIgnored(t *testing.T) {
	h := newTestHandler()
	s := startServer(t, Config{}, h)
	nc := dial(t, s)
	sendRequest(t, nc, 1, nil)
	sendRequest(t, nc, 2, nil)
	r0, r1 := h.waitReq(t), h.waitReq(t)
	r0.c.Respond(99, resp{corr: 99}) // never issued
	r1.c.Respond(r1.seq, resp{corr: 2})
	r1.c.Respond(r1.seq, resp{corr: 22}) // duplicate
	r0.c.Respond(r0.seq, resp{corr: 1})
	r0.c.Respond(r0.seq, resp{corr: 11}) // already written or queued
	if corr, _ := mustReadResponse(t, nc); corr != 1 {
		t.Fatalf("corr %d", corr)
	}
	if corr, _ := mustReadResponse(t, nc); corr != 2 {
		t.Fatalf("corr %d", corr)
	}
	// Nothing else was written.
	sendRequest(t, nc, 3, nil)
	r2 := h.waitReq(t)
	r2.c.Respond(r2.seq, resp{corr: 3})
	if corr, _ := mustReadResponse(t, nc); corr != 3 {
		t.Fatalf("corr %d", corr)
	}
}

func TestConnCloseFromHandler(t *testing.T) {
	h := newTestHandler()
	h.onRequest = func(r req) {
		if r.corr == 2 {
			r.c.Close("test: handler rejected request")
			r.c.Close("second close is a no-op")
			return
		}
		echo(r)
	}
	s := startServer(t, Config{}, h)
	nc := dial(t, s)
	sendRequest(t, nc, 1, nil)
	mustReadResponse(t, nc)
	sendRequest(t, nc, 2, nil)
	expectClosed(t, nc)
	id := h.waitClose(t)
	if h.closeCount(id) != 1 {
		t.Fatal("ConnClosed not called exactly once")
	}
}

func TestLargeFrames(t *testing.T) {
	h := newTestHandler()
	h.onRequest = echo
	s := startServer(t, Config{MaxRequestBytes: 4 << 20, QueuedMaxRequestBytes: 4 << 20}, h)
	nc := dial(t, s)
	// A valid request first: large frames are refused before one.
	sendRequest(t, nc, 8, nil)
	mustReadResponse(t, nc)
	payload := make([]byte, 3<<20+12345) // larger than the large-frame third of a 4 MiB budget
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	go func() {
		if _, err := nc.Write(requestFrame(9, payload)); err != nil {
			t.Errorf("write large request: %v", err)
		}
	}()
	corr, got := mustReadResponse(t, nc)
	if corr != 9 || !bytes.Equal(got, payload) {
		t.Fatalf("large echo corrupted: corr %d, %d bytes", corr, len(got))
	}
	// A small one afterwards reuses the connection fine.
	sendRequest(t, nc, 10, []byte("small"))
	if corr, got := mustReadResponse(t, nc); corr != 10 || string(got) != "small" {
		t.Fatalf("corr %d payload %q", corr, got)
	}
}

// TestConcurrentConnections runs several pipelining clients while responses
// are produced by random goroutines, checking per-connection order under
// -race.
func TestConcurrentConnections(t *testing.T) {
	h := newTestHandler()
	h.onRequest = func(r req) {
		go func() {
			if r.seq%3 == 0 {
				time.Sleep(time.Duration(r.corr%5) * time.Millisecond)
			}
			echo(r)
		}()
	}
	s := startServer(t, Config{MaxInFlightPerConn: 8}, h)
	const conns, perConn = 8, 300
	var wg sync.WaitGroup
	for c := range conns {
		nc := dial(t, s)
		wg.Go(func() {
			for i := range perConn {
				if _, err := nc.Write(requestFrame(int32(c*perConn+i), []byte{byte(c)})); err != nil {
					t.Errorf("conn %d write: %v", c, err)
					return
				}
			}
		})
		wg.Go(func() {
			for i := range perConn {
				corr, payload, err := readResponse(nc)
				if err != nil {
					t.Errorf("conn %d: %v", c, err)
					return
				}
				if corr != int32(c*perConn+i) || !bytes.Equal(payload, []byte{byte(c)}) {
					t.Errorf("conn %d response %d: corr %d", c, i, corr)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestGarbageInput throws random bytes at the server. The server must
// survive (no panic, no stuck goroutine at Shutdown) and keep serving.
func TestGarbageInput(t *testing.T) {
	h := newTestHandler()
	h.onRequest = func(r req) {
		if r.seq%2 == 0 {
			r.c.Respond(r.seq, nil)
		} else {
			echo(r)
		}
	}
	s := startServer(t, Config{MaxRequestBytes: 4096}, h)
	rng := rand.New(rand.NewPCG(7, 7))
	for range 50 {
		nc := dial(t, s)
		var b []byte
		for range 1 + rng.IntN(20) {
			switch rng.IntN(3) {
			case 0: // plausible frame with random content
				size := rng.IntN(5000) - 10
				b = binary.BigEndian.AppendUint32(b, uint32(int32(size)))
				for range max(size, 0) {
					b = append(b, byte(rng.Uint32()))
				}
			case 1: // random bytes
				for range rng.IntN(64) {
					b = append(b, byte(rng.Uint32()))
				}
			case 2: // valid request
				b = append(b, requestFrame(rng.Int32(), nil)...)
			}
		}
		go func() {
			_, _ = nc.Write(b)
			_ = nc.CloseWrite()
		}()
		_, _ = io.Copy(io.Discard, nc) // until the server closes
		h.waitClose(t)
	}
	nc := dial(t, s)
	sendRequest(t, nc, 1, nil)
	sendRequest(t, nc, 2, nil) // odd seq: echoed
	if corr, _ := mustReadResponse(t, nc); corr != 2 {
		t.Fatalf("corr %d", corr)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{},
		{Addr: "x", MaxRequestBytes: -1},
		{Addr: "x", MaxRequestBytes: 7},
		{Addr: "x", MaxInFlightPerConn: -1},
		{Addr: "x", MaxConns: -1},
		{Addr: "x", IdleTimeout: -time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil; want error", c)
		}
	}
	if err := (Config{Addr: "127.0.0.1:0"}).Validate(); err != nil {
		t.Errorf("Validate(zero fields) = %v", err)
	}
	if _, err := Listen(Config{Addr: "127.0.0.1:0"}, nil); err == nil {
		t.Error("Listen with nil Handler succeeded")
	}
	d := Config{}.withDefaults()
	if d.MaxRequestBytes != 104857600 || d.MaxInFlightPerConn != DefaultMaxInFlightPerConn ||
		d.MaxConns != DefaultMaxConns || d.IdleTimeout != 10*time.Minute || d.Logger == nil {
		t.Errorf("defaults: %+v", d)
	}
}

func TestEncodePrefix(t *testing.T) {
	got, err := encode([]byte("keep"), resp{corr: 0x01020304, payload: []byte("ab")})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("keep\x00\x00\x00\x06\x01\x02\x03\x04ab")
	if !bytes.Equal(got, want) {
		t.Fatalf("encode = %q want %q", got, want)
	}
}

// BenchmarkPipelinedEcho measures round trips of small requests pipelined
// 32 deep on one loopback connection, answered on the reader goroutine.
func BenchmarkPipelinedEcho(b *testing.B) {
	h := newTestHandler()
	h.onRequest = echo
	s, err := Listen(Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}, h)
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	defer s.Shutdown(context.Background())
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	frame := requestFrame(1, make([]byte, 100))
	const depth = 32
	errc := make(chan error, 1)
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, _, err := readResponse(nc); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var batch []byte
	for i := 0; i < b.N; i += depth {
		batch = batch[:0]
		for j := i; j < min(i+depth, b.N); j++ {
			batch = append(batch, frame...)
		}
		if _, err := nc.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
