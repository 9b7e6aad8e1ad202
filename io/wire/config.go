// Package wire is Chronik's Kafka TCP front end. It moves bytes only: it
// splits each connection's byte stream into request frames (the 4-byte
// big-endian size prefix of the Kafka protocol), hands every frame to a
// Handler, and writes responses back in request order. It knows nothing
// else about Kafka; decoding, dispatch and every Kafka error live above it.
//
// # Per-connection model
//
// Each connection has one reader goroutine and one writer goroutine.
//
//   - The reader takes an in-flight slot, reads one frame, numbers it with
//     the connection's next sequence number (0, 1, 2, ...) and calls
//     Handler.HandleRequest. With all MaxInFlightPerConn slots taken it stops
//     reading, so a client that pipelines faster than the broker answers is
//     held back by TCP flow control instead of by memory.
//   - Before reading a frame's body the reader reserves the frame's size
//     from the server-wide budget (Config.QueuedMaxRequestBytes) and, while
//     the budget is spent, waits without reading: memory is bounded
//     server-wide, not per connection. The bytes go back when the request
//     is answered, or when the connection ends, whatever path it takes.
//     Large responses count too: a handler reserves room for a response
//     before building it (Conn.Reserve), and a SizedMessage is charged
//     from Respond until written.
//   - Until the handler has called Conn.MarkValid (the connection sent a
//     request that parsed), frames above MaxEarlyRequestBytes close the
//     connection; a first frame that looks like TLS or HTTP is reported as
//     such.
//   - Conn.Respond may be called from any goroutine, in any order. Responses
//     wait in a reorder buffer (one entry per slot) until every earlier
//     sequence number has been answered, because Kafka clients match
//     responses to requests by position on the connection.
//   - The writer encodes ready responses in sequence order into a buffered
//     writer, frees their slots, and flushes only when no further response is
//     ready, so a burst of answers goes out in few system calls.
package wire

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults applied by Listen to zero fields of Config.
const (
	// DefaultMaxRequestBytes matches Kafka's socket.request.max.bytes.
	DefaultMaxRequestBytes = 100 << 20
	// DefaultMaxInFlightPerConn bounds requests read but not yet answered on
	// one connection. Kafka clients default to 5 in-flight produce requests
	// per connection, so 64 never throttles a well-behaved client.
	DefaultMaxInFlightPerConn = 64
	// DefaultMaxConns bounds open client connections.
	DefaultMaxConns = 4096
	// DefaultIdleTimeout matches Kafka's connections.max.idle.ms.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxEarlyRequestBytes matches Kafka's
	// sasl.server.max.receive.size, its bound on frames read before a
	// connection has authenticated.
	DefaultMaxEarlyRequestBytes = 512 << 10
	// minQueuedMaxRequestBytes is the smallest budget accepted: below it
	// ordinary requests would be read one at a time.
	minQueuedMaxRequestBytes = 1 << 20
)

// minRequestBytes is the smallest valid request frame: the request header's
// api key (int16), api version (int16) and correlation id (int32).
const minRequestBytes = 8

// Config configures a Server. Zero fields take the defaults above; negative
// values are rejected by Validate.
type Config struct {
	// Addr is the TCP listen address, for example "127.0.0.1:9092". Port 0
	// picks a free port; Server.Addr reports it.
	Addr string
	// MaxRequestBytes is the largest request frame accepted, size prefix
	// excluded (Kafka's socket.request.max.bytes). A larger frame closes its
	// connection.
	MaxRequestBytes int32
	// MaxInFlightPerConn bounds requests read but not yet answered on one
	// connection; reading pauses at the limit. Worst-case buffered request
	// memory per connection is MaxInFlightPerConn * MaxRequestBytes.
	MaxInFlightPerConn int
	// MaxConns bounds open connections; connections beyond it are closed
	// right after accept, with a log line.
	MaxConns int
	// QueuedMaxRequestBytes bounds the memory of requests read but not yet
	// answered and of responses not yet written, server-wide (Kafka's
	// queued.max.request.bytes, which counts requests only). A connection
	// reserves a frame's size before reading its body, and waits, leaving
	// the bytes in the socket so that TCP pushes back on the client, while
	// the budget is spent. Responses are charged ahead of time
	// (Conn.Reserve) or when handed to Respond (SizedMessage), and
	// released once written. Frames above 1 MiB, which a client can leave
	// half sent, may hold at most a third of the budget together, and
	// responses, which a client can read slowly, another third, so that
	// neither starves the other and small requests always have a third. A
	// frame larger than its third is read alone among large frames (not
	// refused): the worst case is then two thirds of the budget plus
	// MaxRequestBytes. Zero means DefaultQueuedMaxRequestBytes(), sized to
	// the machine.
	QueuedMaxRequestBytes int64
	// MaxEarlyRequestBytes is the largest frame accepted from a connection
	// that has not yet sent a valid request (Conn.MarkValid), so that a
	// client speaking another protocol, or garbage, cannot make the broker
	// wait for a 100 MB frame. Zero means DefaultMaxEarlyRequestBytes.
	MaxEarlyRequestBytes int32
	// IdleTimeout closes a connection that has sent nothing, has no request
	// in flight and has been written nothing for this long. It also bounds
	// how long a single write may block on a client that stopped reading.
	IdleTimeout time.Duration
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports whether c is usable, treating zero fields as their
// defaults.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("Addr is empty"))
	}
	if c.MaxRequestBytes < 0 || (c.MaxRequestBytes > 0 && c.MaxRequestBytes < minRequestBytes) {
		errs = append(errs, fmt.Errorf("MaxRequestBytes %d: want 0 (default) or at least %d", c.MaxRequestBytes, minRequestBytes))
	}
	if c.MaxInFlightPerConn < 0 {
		errs = append(errs, fmt.Errorf("MaxInFlightPerConn %d is negative", c.MaxInFlightPerConn))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("MaxConns %d is negative", c.MaxConns))
	}
	if c.QueuedMaxRequestBytes < 0 || (c.QueuedMaxRequestBytes > 0 && c.QueuedMaxRequestBytes < minQueuedMaxRequestBytes) {
		errs = append(errs, fmt.Errorf("QueuedMaxRequestBytes %d: want 0 (machine-sized default) or at least %d", c.QueuedMaxRequestBytes, minQueuedMaxRequestBytes))
	}
	if c.MaxEarlyRequestBytes < 0 || (c.MaxEarlyRequestBytes > 0 && c.MaxEarlyRequestBytes < minRequestBytes) {
		errs = append(errs, fmt.Errorf("MaxEarlyRequestBytes %d: want 0 (default) or at least %d", c.MaxEarlyRequestBytes, minRequestBytes))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("IdleTimeout %v is negative", c.IdleTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wire: invalid config: %w", err)
	}
	return nil
}

// withDefaults returns c with zero fields replaced by defaults.
func (c Config) withDefaults() Config {
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxInFlightPerConn == 0 {
		c.MaxInFlightPerConn = DefaultMaxInFlightPerConn
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.QueuedMaxRequestBytes == 0 {
		c.QueuedMaxRequestBytes = DefaultQueuedMaxRequestBytes()
	}
	if c.MaxEarlyRequestBytes == 0 {
		c.MaxEarlyRequestBytes = DefaultMaxEarlyRequestBytes
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
