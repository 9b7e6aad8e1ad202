package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing the test after a generous
// safety timeout (a liveness bound, not a timing figure).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectNoRequest asserts that no request reaches the handler for a short
// while. A slow machine can only make this pass wrongly, never fail.
func expectNoRequest(t *testing.T, h *testHandler, why string) {
	t.Helper()
	select {
	case r := <-h.reqs:
		t.Fatalf("%s: request corr %d (%d bytes) was read", why, r.corr, len(r.frame))
	case <-time.After(200 * time.Millisecond):
	}
}

func inUse(s *Server) int64 { return s.budget.all.inUse() }

// ctxShutdown shuts s down gracefully within a safety timeout.
func ctxShutdown(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// validConn dials s and sends one small request that the handler answers
// (marking the connection valid), so that large frames are accepted.
func validConn(t *testing.T, s *Server, h *testHandler) *net.TCPConn {
	t.Helper()
	nc := dial(t, s)
	sendRequest(t, nc, 0, nil)
	r := h.waitReq(t)
	echo(r)
	mustReadResponse(t, nc)
	return nc
}

// sizedResp is a SizedMessage.
type sizedResp struct{ resp }

func (r sizedResp) SizeBytes() int { return 4 + len(r.payload) }

func TestBudgetHoldsBackReaders(t *testing.T) {
	h := newTestHandler()
	s := startServer(t, Config{QueuedMaxRequestBytes: 1 << 20}, h)
	a := validConn(t, s, h)
	b := validConn(t, s, h)
	waitFor(t, "the handshakes' bytes released", func() bool { return inUse(s) == 0 })

	// A's 900 KiB frame is read and left unanswered: it holds its bytes.
	sendRequest(t, a, 1, make([]byte, 900<<10-8))
	ra := h.waitReq(t)
	if got := inUse(s); got != 900<<10 {
		t.Fatalf("budget in use %d with a 900 KiB request in flight", got)
	}
	// B's 200 KiB frame does not fit beside it: it stays in the socket.
	sendRequest(t, b, 2, make([]byte, 200<<10-8))
	expectNoRequest(t, h, "budget spent")
	// Answering A releases its bytes; B's frame is read.
	echo(ra)
	mustReadResponse(t, a)
	rb := h.waitReq(t)
	if rb.corr != 2 || len(rb.frame) != 200<<10 {
		t.Fatalf("got corr %d with %d bytes", rb.corr, len(rb.frame))
	}
	echo(rb)
	mustReadResponse(t, b)
	waitFor(t, "budget back to zero", func() bool { return inUse(s) == 0 })
}

// TestFrameLargerThanBudget: a frame beyond the budget is read alone (its
// charge capped), never deadlocks, and waits while another large frame
// holds the large-frame third.
func TestFrameLargerThanBudget(t *testing.T) {
	h := newTestHandler()
	s := startServer(t, Config{QueuedMaxRequestBytes: 1 << 20, MaxRequestBytes: 8 << 20}, h)
	a := validConn(t, s, h)
	b := validConn(t, s, h)

	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i)
	}
	sendRequest(t, a, 1, big)
	ra := h.waitReq(t)
	if !bytes.Equal(ra.frame[8:], big) {
		t.Fatal("large frame corrupted")
	}
	if got, want := inUse(s), s.budget.frames.size; got != want {
		t.Fatalf("budget in use %d; want the large-frame third, %d", got, want)
	}
	// Small requests still get through beside it.
	sendRequest(t, b, 2, []byte("small"))
	echo(h.waitReq(t))
	mustReadResponse(t, b)
	// Another large frame waits for the first to be answered.
	go func() { _, _ = b.Write(requestFrame(3, make([]byte, 2<<20))) }()
	expectNoRequest(t, h, "large-frame third held")
	echo(ra)
	mustReadResponse(t, a)
	rb := h.waitReq(t)
	if rb.corr != 3 {
		t.Fatalf("corr %d", rb.corr)
	}
	echo(rb)
	mustReadResponse(t, b)
	waitFor(t, "budget back to zero", func() bool { return inUse(s) == 0 })
}

// TestBudgetReleasedOnEveryPath: whatever ends a connection, its bytes go
// back to the budget.
func TestBudgetReleasedOnEveryPath(t *testing.T) {
	h := newTestHandler()
	s := startServer(t, Config{QueuedMaxRequestBytes: 4 << 20}, h)

	t.Run("closed mid-frame", func(t *testing.T) {
		nc := validConn(t, s, h)
		frame := requestFrame(1, make([]byte, 1<<20))
		if _, err := nc.Write(frame[:len(frame)-1024]); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the frame's bytes reserved", func() bool { return inUse(s) == int64(len(frame)-4) })
		nc.Close()
		waitFor(t, "budget back to zero", func() bool { return inUse(s) == 0 })
	})
	t.Run("closed with requests unanswered", func(t *testing.T) {
		nc := validConn(t, s, h)
		sendRequest(t, nc, 1, make([]byte, 100))
		sendRequest(t, nc, 2, make([]byte, 200))
		r1, r2 := h.waitReq(t), h.waitReq(t)
		if got := inUse(s); got != 108+208 {
			t.Fatalf("in use %d", got)
		}
		nc.Close()
		h.waitClose(t)
		waitFor(t, "budget back to zero", func() bool { return inUse(s) == 0 })
		// Late answers on the closed connection change nothing.
		r1.c.Respond(r1.seq, sizedResp{resp{corr: 1, payload: make([]byte, 1000)}})
		r2.c.Respond(r2.seq, nil)
		if got := inUse(s); got != 0 {
			t.Fatalf("in use %d after late answers", got)
		}
	})
	t.Run("handler closes on a parse error", func(t *testing.T) {
		nc := validConn(t, s, h)
		sendRequest(t, nc, 1, make([]byte, 5000))
		r := h.waitReq(t)
		r.c.Close("malformed")
		expectClosed(t, nc)
		waitFor(t, "budget back to zero", func() bool { return inUse(s) == 0 })
	})
	t.Run("sized response charged until written", func(t *testing.T) {
		nc := validConn(t, s, h)
		sendRequest(t, nc, 1, nil)
		r := h.waitReq(t)
		// Not read by the client yet, the writer may still be on it; once
		// read, the charge must be gone.
		r.c.Respond(r.seq, sizedResp{resp{corr: 1, payload: make([]byte, 300<<10)}})
		if _, p := mustReadResponse(t, nc); len(p) != 300<<10 {
			t.Fatalf("payload %d", len(p))
		}
		waitFor(t, "budget back to zero", func() bool { return inUse(s) == 0 })
	})
	t.Run("shutdown", func(t *testing.T) {
		h := newTestHandler()
		s2 := startServer(t, Config{QueuedMaxRequestBytes: 4 << 20}, h)
		nc := validConn(t, s2, h)
		sendRequest(t, nc, 1, make([]byte, 1000))
		r := h.waitReq(t)
		go func() {
			time.Sleep(50 * time.Millisecond)
			echo(r)
		}()
		ctxShutdown(t, s2)
		if got := inUse(s2); got != 0 {
			t.Fatalf("in use %d after shutdown", got)
		}
	})
}

// TestSizedResponseHoldsBackReaders: a large response counts against the
// budget until written, so a client that does not read it keeps others'
// frames waiting.
func TestSizedResponseHoldsBackReaders(t *testing.T) {
	h := newTestHandler()
	s := startServer(t, Config{QueuedMaxRequestBytes: 4 << 20}, h)
	a := validConn(t, s, h)
	b := validConn(t, s, h)
	sendRequest(t, a, 1, nil)
	r := h.waitReq(t)
	// 24 MiB of response, more than loopback's socket buffers take in
	// while the client does not read: charged 48 MiB until written, far
	// past the budget.
	r.c.Respond(r.seq, sizedResp{resp{corr: 1, payload: make([]byte, 24<<20)}})
	if got := inUse(s); got < 48<<20 {
		t.Fatalf("in use %d; want the response's 48 MiB", got)
	}
	go func() { _, _ = b.Write(requestFrame(2, make([]byte, 1<<20))) }()
	expectNoRequest(t, h, "response not yet written")
	mustReadResponse(t, a)
	rb := h.waitReq(t)
	echo(rb)
	mustReadResponse(t, b)
	waitFor(t, "budget back to zero", func() bool { return inUse(s) == 0 })
}

func TestReserve(t *testing.T) {
	h := newTestHandler()
	var mu sync.Mutex
	reserved := map[int32]bool{}
	// Requests with corr >= 100 reserve a 1 MiB response (2 MiB, capped at
	// the response third of a 4 MiB budget) before being handed on.
	h.onRequest = func(r req) {
		if r.corr >= 100 {
			ok := r.c.Reserve(r.seq, 1<<20)
			mu.Lock()
			reserved[r.corr] = ok
			mu.Unlock()
		}
		h.reqs <- r
	}
	s := startServer(t, Config{QueuedMaxRequestBytes: 4 << 20}, h)
	a := validConn(t, s, h)
	b := validConn(t, s, h)
	sendRequest(t, a, 100, nil)
	ra := h.waitReq(t)
	if got, want := inUse(s), s.budget.responses.size; got != want {
		t.Fatalf("in use %d after a reservation of 1 MiB of response; want the response third, %d", got, want)
	}
	sendRequest(t, b, 101, nil)
	expectNoRequest(t, h, "response third reserved")
	// Small requests are not held back by reservations.
	sendRequest(t, a, 5, nil)
	echo(h.waitReq(t)) // answered out of order: written after 100
	// A small response to the reserving request releases the reservation.
	echo(ra)
	mustReadResponse(t, a)
	mustReadResponse(t, a)
	rb := h.waitReq(t)
	if rb.corr != 101 {
		t.Fatalf("corr %d", rb.corr)
	}
	mu.Lock()
	ok := reserved[100] && reserved[101]
	mu.Unlock()
	if !ok {
		t.Fatal("Reserve returned false on an open connection")
	}
	// A reservation still waiting when the connection is closed gives up.
	// (A client's own close goes unseen while the reader waits, until the
	// reservation is granted and the next read fails.)
	sendRequest(t, a, 102, nil)
	waitFor(t, "a waiting", func() bool {
		s.budget.responses.mu.Lock()
		defer s.budget.responses.mu.Unlock()
		return s.budget.responses.waiters.Len() == 1
	})
	ra.c.Close("test closes it")
	waitFor(t, "reservation given up", func() bool {
		mu.Lock()
		defer mu.Unlock()
		v, done := reserved[102]
		return done && !v
	})
	echo(rb)
	mustReadResponse(t, b)
	waitFor(t, "budget back to zero", func() bool { return inUse(s) == 0 })
	h.waitReq(t) // 102, handed on by the test handler regardless
}

// TestStalledLargeFrameLeavesRoom: a large frame that stops arriving half
// way holds only the large-frame third: small requests and response
// reservations (consumers' fetches) still get through.
func TestStalledLargeFrameLeavesRoom(t *testing.T) {
	h := newTestHandler()
	h.onRequest = func(r req) {
		if r.corr >= 100 && !r.c.Reserve(r.seq, 1<<20) {
			return
		}
		echo(r)
	}
	s := startServer(t, Config{QueuedMaxRequestBytes: 4 << 20}, h)
	a := dial(t, s)
	b := dial(t, s)
	for i, nc := range []net.Conn{a, b} {
		sendRequest(t, nc, int32(i), nil)
		mustReadResponse(t, nc)
	}
	stalled := requestFrame(1, make([]byte, 3<<20))
	if _, err := a.Write(stalled[:len(stalled)-1024]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stalled frame's charge", func() bool { return s.budget.frames.inUse() == s.budget.frames.size })
	sendRequest(t, b, 100, nil) // reserves the response third
	if corr, _ := mustReadResponse(t, b); corr != 100 {
		t.Fatalf("corr %d", corr)
	}
	sendRequest(t, b, 2, make([]byte, 1000))
	if corr, _ := mustReadResponse(t, b); corr != 2 {
		t.Fatalf("corr %d", corr)
	}
	// Another large frame waits behind the stalled one.
	go func() { _, _ = b.Write(requestFrame(3, make([]byte, 2<<20))) }()
	waitFor(t, "the second large frame waiting", func() bool {
		s.budget.frames.mu.Lock()
		defer s.budget.frames.mu.Unlock()
		return s.budget.frames.waiters.Len() == 1
	})
	a.Close()
	if corr, _ := mustReadResponse(t, b); corr != 3 {
		t.Fatalf("corr %d", corr)
	}
	waitFor(t, "budget back to zero", func() bool { return inUse(s) == 0 })
}

// logBuffer is a concurrency-safe log sink for asserting log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestProtocolHints(t *testing.T) {
	// The first bytes of a TLS 1.2/1.3 ClientHello record and of HTTP.
	tlsHello := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	tests := []struct {
		name  string
		input []byte
		want  string
	}{
		{"tls", tlsHello, "looks like a TLS ClientHello: this listener speaks plaintext Kafka"},
		{"http get", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "looks like HTTP"},
		{"http post", []byte("POST /v1 HTTP/1.1\r\n"), "looks like HTTP"},
		{"http2 preface", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "looks like HTTP"},
		// Not a known protocol: reported by size as before.
		{"other", []byte{0x7f, 0x00, 0x00, 0x00, 1, 2, 3}, "request too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			h := newTestHandler()
			s := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, h)
			nc := dial(t, s)
			if _, err := nc.Write(tc.input); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, nc)
			h.waitClose(t)
			if !strings.Contains(logs.String(), tc.want) {
				t.Fatalf("log lacks %q:\n%s", tc.want, logs.String())
			}
		})
	}
	// Only a connection's first bytes are judged: a later frame whose size
	// happens to read as "GET " is just too large.
	var hint [4]byte
	copy(hint[:], "GET ")
	if protocolHint(hint) == "" {
		t.Fatal("GET not recognised")
	}
	for _, b := range [][4]byte{{0, 0, 0, 8}, {0x16, 0x02, 0, 0}, {0x16, 0x03, 0x05, 0}} {
		if got := protocolHint(b); got != "" {
			t.Errorf("protocolHint(% x) = %q; want none", b, got)
		}
	}
}

func TestEarlyFrameLimit(t *testing.T) {
	var logs logBuffer
	h := newTestHandler()
	h.unvalidated = true
	h.onRequest = echo
	s := startServer(t, Config{MaxEarlyRequestBytes: 1024, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, h)

	// Up to the limit is fine without a valid request.
	nc := dial(t, s)
	sendRequest(t, nc, 1, make([]byte, 1024-8))
	if corr, _ := mustReadResponse(t, nc); corr != 1 {
		t.Fatalf("corr %d", corr)
	}
	// One more byte closes the connection at once: only the size prefix
	// needs to arrive.
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 1025)
	if _, err := nc.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, nc)
	h.waitClose(t)
	if !strings.Contains(logs.String(), "not yet sent a valid request") {
		t.Fatalf("log lacks the reason:\n%s", logs.String())
	}

	// Once the handler marks the connection valid, larger frames pass.
	h = newTestHandler()
	h.onRequest = echo
	s = startServer(t, Config{MaxEarlyRequestBytes: 1024}, h)
	nc = dial(t, s)
	sendRequest(t, nc, 2, nil)
	mustReadResponse(t, nc)
	sendRequest(t, nc, 3, make([]byte, 64<<10))
	if corr, p := mustReadResponse(t, nc); corr != 3 || len(p) != 64<<10 {
		t.Fatalf("corr %d, %d bytes", corr, len(p))
	}
}

func TestBudgetQueue(t *testing.T) {
	b := newBudget(100)
	never := make(chan struct{})
	if !b.acquire(60, never, never) {
		t.Fatal("acquire 60 of 100 failed")
	}
	// 50 waits; 10, arriving after it, waits too (first come, first
	// served) even though it would fit.
	got50, got10 := make(chan bool, 1), make(chan bool, 1)
	go func() { got50 <- b.acquire(50, never, never) }()
	waitFor(t, "50 queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.waiters.Len() == 1 })
	go func() { got10 <- b.acquire(10, never, never) }()
	waitFor(t, "10 queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.waiters.Len() == 2 })
	// A cancelled waiter holds nothing.
	cancel := make(chan struct{})
	gotCancelled := make(chan bool, 1)
	go func() { gotCancelled <- b.acquire(5, cancel, never) }()
	waitFor(t, "5 queued", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.waiters.Len() == 3 })
	close(cancel)
	if <-gotCancelled {
		t.Fatal("cancelled acquire succeeded")
	}
	b.release(60)
	if !<-got50 || !<-got10 {
		t.Fatal("waiters not granted")
	}
	if got := b.inUse(); got != 60 {
		t.Fatalf("in use %d; want 60", got)
	}
	// force goes past the size; acquire then waits until enough is back,
	// and a request larger than the budget is granted once it is empty.
	b.force(200)
	gotAll := make(chan bool, 1)
	go func() { gotAll <- b.acquire(100, never, never) }()
	b.release(200)
	select {
	case <-gotAll:
		t.Fatal("granted the whole budget while 60 bytes are held")
	case <-time.After(50 * time.Millisecond):
	}
	b.release(60)
	if !<-gotAll {
		t.Fatal("whole-budget acquire not granted when empty")
	}
	b.release(100)
	if got := b.inUse(); got != 0 {
		t.Fatalf("in use %d", got)
	}
}

func TestDefaultQueuedMaxRequestBytes(t *testing.T) {
	if got := parseMemTotal([]byte("MemTotal:       24684544 kB\nMemFree: 1 kB\n")); got != 24684544<<10 {
		t.Fatalf("parseMemTotal = %d", got)
	}
	for _, bad := range []string{"", "MemFree: 1 kB\n", "MemTotal: x kB\n", "MemTotal: 5 MB\n"} {
		if got := parseMemTotal([]byte(bad)); got != 0 {
			t.Errorf("parseMemTotal(%q) = %d; want 0", bad, got)
		}
	}
	d := DefaultQueuedMaxRequestBytes()
	if d < minDefaultQueuedBytes || d > maxDefaultQueuedBytes {
		t.Fatalf("default %d outside [%d, %d]", d, minDefaultQueuedBytes, maxDefaultQueuedBytes)
	}
	if err := (Config{Addr: "x", QueuedMaxRequestBytes: d}).Validate(); err != nil {
		t.Fatalf("default budget rejected: %v", err)
	}
}
