package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown has been called.
var ErrServerClosed = errors.New("wire: server closed")

// Handler receives the requests and connection ends of a Server. Its methods
// run on connection goroutines, concurrently for different connections.
type Handler interface {
	// HandleRequest gets one complete request frame (size prefix stripped)
	// read from c; seq numbers the connection's requests 0, 1, 2, ... . The
	// handler owns frame. Every seq must eventually be answered with
	// c.Respond (possibly with a nil Message) or the connection stalls once
	// MaxInFlightPerConn requests are outstanding. It is called on the
	// connection's reader goroutine and must not block for long: the reader
	// reads nothing else meanwhile.
	HandleRequest(c *Conn, seq uint64, frame []byte)
	// ConnClosed is called once when a connection has ended: both its
	// goroutines have stopped, no HandleRequest for c follows, and further
	// Respond calls on c are dropped. The core uses it to forget requests
	// still waiting on c.
	ConnClosed(c *Conn)
}

// Message is a response ready to be written.
type Message interface {
	// AppendTo appends the response body, Kafka response header included
	// and the 4-byte size prefix excluded, to dst and returns the result.
	// It runs on the connection's writer goroutine.
	AppendTo(dst []byte) []byte
}

// SizedMessage is a Message that knows its encoded size in advance.
// Respond charges it to the server's budget (QueuedMaxRequestBytes) until
// it has been written, at twice its size since the message and its
// encoding coexist meanwhile, so that large responses (fetches) hold back
// the reading of new requests as large requests do. Small responses need
// not implement it.
type SizedMessage interface {
	Message
	// SizeBytes returns about how many bytes AppendTo will append.
	SizeBytes() int
}

// Server accepts Kafka client connections on one listener.
type Server struct {
	cfg Config
	h   Handler
	ln  net.Listener
	log *slog.Logger
	// budget bounds the bytes of requests and responses in flight across
	// all connections (Config.QueuedMaxRequestBytes).
	budget serverBudget

	// closed is closed when Shutdown starts; it wakes Serve out of an
	// accept-error backoff.
	closed chan struct{}

	// wg counts connections whose goroutines have not yet finished
	// (including their ConnClosed call). Add only happens under mu while
	// closing is false, so Shutdown's Wait, which starts after it set
	// closing under mu, never races with an Add from zero.
	wg sync.WaitGroup

	mu      sync.Mutex
	closing bool
	nextID  uint64
	conns   map[uint64]*Conn // open connections, at most cfg.MaxConns
}

// Listen validates cfg, binds its address and returns a Server ready to
// Serve. Zero fields of cfg take their defaults.
func Listen(cfg Config, h Handler) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("wire: nil Handler")
	}
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("wire: listen on %s: %w", cfg.Addr, err)
	}
	return &Server{
		cfg:    cfg,
		h:      h,
		ln:     ln,
		log:    cfg.Logger,
		budget: newServerBudget(cfg.QueuedMaxRequestBytes),
		closed: make(chan struct{}),
		conns:  make(map[uint64]*Conn),
	}, nil
}

// Addr returns the address the listener is bound to.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Shutdown and then returns ErrServerClosed.
// It returns another error only if the listener fails for good.
func (s *Server) Serve() error {
	s.log.Info("kafka listener started", "addr", s.ln.Addr().String(),
		"queued_max_request_bytes", s.cfg.QueuedMaxRequestBytes)
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("wire: accept on %s: %w", s.ln.Addr(), err)
			}
			// Errors such as EMFILE are transient: back off like net/http
			// does instead of spinning or giving up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.closed:
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		s.startConn(nc)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// startConn registers nc and starts its goroutines, or closes it when the
// server is shutting down or at its connection limit.
func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	if len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		s.log.Warn("connection limit reached; closing new connection",
			"remote", nc.RemoteAddr().String(), "max_conns", s.cfg.MaxConns)
		_ = nc.Close()
		return
	}
	s.nextID++
	c := newConn(s, s.nextID, nc)
	s.conns[c.id] = c
	s.wg.Add(1)
	s.mu.Unlock()
	c.log.Debug("connection accepted")
	go c.serve()
}

// connDone unregisters c; called once its goroutines have stopped.
func (s *Server) connDone(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
}

// Shutdown stops accepting connections, stops reading new requests, lets
// every connection write the responses to requests it already read, and
// closes each connection once it has nothing left to write. If ctx ends
// first, the remaining connections are closed at once and Shutdown returns
// ctx's error. In both cases every ConnClosed call has returned when
// Shutdown returns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closing
	s.closing = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	if first {
		close(s.closed)
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("closing listener", "err", err)
		}
		s.log.Info("kafka listener shutting down", "addr", s.ln.Addr().String(), "conns", len(conns))
	}
	for _, c := range conns {
		c.stopReading()
	}

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	conns = conns[:0]
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(slog.LevelWarn, "shutdown deadline passed with responses pending")
	}
	// Closing the sockets unblocks both goroutines of every connection, so
	// this wait is short unless a Handler method blocks.
	<-done
	return fmt.Errorf("wire: shutdown: %w", ctx.Err())
}
