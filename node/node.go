// Package node wires one Chronik broker: the pure core, run by the shared
// driver (core/driver, which the simulator runs too), plus a real
// environment (io/osdisk files, io/wire connections, the wall clock and
// fsync goroutines). It owns the single-threaded event loop's goroutine:
// every call into the driver happens on it; the I/O goroutines only move
// bytes and completions into it through a bounded channel.
package node

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/driver"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/io/osdisk"
	"github.com/chronik-streaming/chronik/io/raftquorum"
	"github.com/chronik-streaming/chronik/io/wire"
)

// Config configures a node.
type Config struct {
	DataDir string
	Broker  broker.Config
	Wire    wire.Config
	Logger  *slog.Logger
	// EventQueueLength bounds the loop's inbox; producers of events block
	// when it is full, which pushes back on client connections.
	EventQueueLength int
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration
	// Cluster, if set, makes the node a member of a cluster (cluster.go):
	// its metadata comes from a raft quorum kept in DataDir/__raft and it
	// replicates partitions with the other brokers. Nil runs a single node
	// whose metadata is the image file in DataDir.
	Cluster *ClusterConfig
}

// Node is one running broker.
type Node struct {
	cfg    Config
	log    *slog.Logger
	driver *driver.Driver
	server *wire.Server
	// control is the control listener (control.go); nil on a single node.
	control *wire.Server
	events  chan event

	mu    sync.Mutex
	conns map[broker.ConnID]*wire.Conn

	// Cluster mode (cluster.go, peer.go); zero on a single node.
	quorum          atomic.Pointer[raftquorum.Quorum]
	peers           *peerNetwork
	leaderWatchDone chan struct{}
	// done is closed once the loop has stopped for good; goroutines that
	// post events give up then (postOrDrop).
	done     chan struct{}
	doneOnce sync.Once
	// diskLock is held on DataDir from New until Run returns.
	diskLock disk.Lock
	// unsupported logs requests for APIs the broker does not serve.
	unsupported *unsupportedLog
	// brokerLog is the broker's logger: cfg.Logger, with repeating
	// cluster messages throttled.
	brokerLog *brokerLogger
}

// event is something for the loop to do.
type event interface{ isEvent() }

// driverEvent is an event the driver takes as it is (driver.Handle).
type driverEvent struct{ driver.Event }

// requestEvent is the most frequent driver event, a request: a struct of
// one pointer, which an interface holds without an allocation (a
// driverEvent is copied to the heap at every post).
type requestEvent struct{ req *broker.Request }

func (driverEvent) isEvent()  {}
func (requestEvent) isEvent() {}

// New opens the data directory, recovers the broker and binds the Kafka
// listener. Serving starts with Run.
func New(cfg Config) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.EventQueueLength <= 0 {
		cfg.EventQueueLength = 4096
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.Cluster != nil {
		cc := *cfg.Cluster
		if err := cc.validate(cfg.Broker.NodeID); err != nil {
			return nil, err
		}
		if cc.ControlledShutdownTimeout == 0 {
			cc.ControlledShutdownTimeout = defaultControlledShutdownTimeout
		}
		if cc.PeerConnsMax == 0 {
			cc.PeerConnsMax = defaultPeerConnsMax
		}
		if cc.PeerRequestTimeout == 0 {
			cc.PeerRequestTimeout = defaultPeerRequestTimeout
		}
		cfg.Cluster = &cc
	}
	d, err := osdisk.New(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open data dir %s: %w", cfg.DataDir, err)
	}
	// Before anything else uses the directory: an unwritable one is
	// reported in those words, and one that another broker uses is
	// refused (two brokers on one directory overwrite each other's logs).
	// The lock is held until Run returns, past the quorum's shutdown,
	// which writes DataDir/__raft.
	if err := d.CheckWritable(); err != nil {
		return nil, err
	}
	lock, err := d.Lock()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = lock.Release()
		}
	}()
	n := &Node{
		cfg:      cfg,
		log:      cfg.Logger,
		events:   make(chan event, cfg.EventQueueLength),
		conns:    map[broker.ConnID]*wire.Conn{},
		done:     make(chan struct{}),
		diskLock: lock,
	}
	n.unsupported = newUnsupportedLog(cfg.Logger, time.Now)
	n.brokerLog = newBrokerLogger(cfg.Logger, time.Now)
	var seed [16]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("seed random source: %w", err)
	}
	env := broker.Env{
		Disk:     d,
		Logger:   n.brokerLog,
		Random:   rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
		DiskLock: lock,
	}
	if cc := cfg.Cluster; cc != nil {
		n.peers = newPeerNetwork(cfg.Logger, cfg.Broker.NodeID, cc.PeerConnsMax, cc.PeerRequestTimeout,
			func(id uint64, resp kmsg.Response, err error) {
				n.postOrDrop(driverEvent{driver.Event{Kind: driver.EventPeerResponse, PeerCall: id, PeerResp: resp, Err: err}})
			})
	}
	// Bind before recovering so that a port conflict fails fast and an
	// ephemeral port (0) can be advertised as the one actually bound.
	wcfg := cfg.Wire
	wcfg.Logger = cfg.Logger
	server, err := wire.Listen(wcfg, (*handler)(n))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	n.server = server
	bcfg := cfg.Broker
	if tcp, ok := server.Addr().(*net.TCPAddr); ok && bcfg.AdvertisedPort == 0 {
		bcfg.AdvertisedPort = int32(tcp.Port)
	}
	if cfg.Cluster != nil {
		if err := n.listenControl(&bcfg); err != nil {
			_ = server.Shutdown(context.Background())
			return nil, err
		}
	}
	started := time.Now()
	drv, err := driver.New(driver.Config{Broker: bcfg, Clustered: cfg.Cluster != nil}, env, (*host)(n))
	if err != nil {
		n.shutdownListeners()
		return nil, fmt.Errorf("start broker: %w", err)
	}
	n.driver = drv
	n.log.Info("recovered data directory", "dir", cfg.DataDir, "took", time.Since(started).String())
	if cfg.Cluster != nil {
		if err := n.openQuorum(); err != nil {
			n.shutdownBroker()
			_ = n.stopCluster()
			n.shutdownListeners()
			return nil, err
		}
		n.log.Info("joined metadata quorum", "raft_addr", cfg.Cluster.RaftAddr, "voters", len(cfg.Cluster.Voters))
	}
	return n, nil
}

// Addr is the bound Kafka listener address.
func (n *Node) Addr() net.Addr { return n.server.Addr() }

func nowMs() int64 { return time.Now().UnixMilli() }

// Run serves until ctx is cancelled, then shuts down gracefully: in a
// cluster, first a controlled shutdown (the controller moves this broker's
// leaderships away, bounded by ControlledShutdownTimeout); then stop
// accepting, finish the syncs in flight, sync everything, answer waiting
// requests, checkpoint, close; in a cluster, finally leave the quorum.
func (n *Node) Run(ctx context.Context) error {
	err := n.run(ctx)
	if cerr := n.stopCluster(); cerr != nil && err == nil {
		err = cerr
	}
	if lerr := n.diskLock.Release(); lerr != nil && err == nil {
		err = lerr
	}
	return err
}

func (n *Node) run(ctx context.Context) error {
	serveErr := make(chan error, 2)
	go func() { serveErr <- n.server.Serve() }()
	if n.control != nil {
		go func() { serveErr <- n.control.Serve() }()
	}
	n.log.Info("serving Kafka", "addr", n.server.Addr().String(), "node_id", n.cfg.Broker.NodeID)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	stop := ctx.Done()
	for {
		// The driver's loop body: the batch handled last (or none) is
		// settled, then the loop sleeps until an event or the wake-up.
		next := n.driver.Settle()
		switch next.Stop {
		case driver.ShutdownReady:
			n.log.Info("controlled shutdown: leaderships moved")
			return n.shutdown()
		case driver.ShutdownTimedOut:
			n.log.Warn("controlled shutdown timed out; stopping anyway", "timeout", n.cfg.Cluster.ControlledShutdownTimeout.String())
			return n.shutdown()
		}
		timer.Reset(time.Duration(next.WakeMs-nowMs()) * time.Millisecond)
		select {
		case <-stop:
			if n.cfg.Cluster == nil {
				return n.shutdown()
			}
			n.log.Info("controlled shutdown: asking the controller to move leaderships away")
			n.driver.BeginControlledShutdown(n.cfg.Cluster.ControlledShutdownTimeout.Milliseconds())
			stop = nil
		case err := <-serveErr:
			n.shutdownBroker()
			return fmt.Errorf("kafka listener stopped: %w", err)
		case ev := <-n.events:
			n.handle(ev)
			n.drain()
		case <-timer.C:
		}
	}
}

// maxBatchEvents bounds how many queued events one loop turn handles before
// flushing, so a flood of requests cannot starve timers.
const maxBatchEvents = 1024

// drain handles whatever else is queued, up to the batch bound; the
// caller settles the batch (driver.Settle).
func (n *Node) drain() {
	for i := 0; i < maxBatchEvents; i++ {
		select {
		case ev := <-n.events:
			n.handle(ev)
		default:
			i = maxBatchEvents
		}
	}
}

func (n *Node) handle(ev event) {
	switch ev := ev.(type) {
	case requestEvent:
		n.driver.Handle(driver.Event{Kind: driver.EventRequest, Request: ev.req})
		return
	case driverEvent:
		n.driver.Handle(ev.Event)
		return
	}
	if !n.handleCluster(ev) {
		panic(fmt.Sprintf("node: unknown event %T", ev))
	}
}

func (n *Node) shutdown() error {
	n.log.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
	defer cancel()
	serverDone := make(chan error, 1)
	go func() {
		err := n.server.Shutdown(ctx)
		if n.control != nil {
			if cerr := n.control.Shutdown(ctx); err == nil {
				err = cerr
			}
		}
		serverDone <- err
	}()
	// Let the syncs in flight land so their produces are answered.
	for n.driver.SyncInFlight() && ctx.Err() == nil {
		select {
		case ev := <-n.events:
			n.handle(ev)
		case <-ctx.Done():
		}
	}
	n.shutdownBroker()
	// Keep consuming events so that reader goroutines blocked on the inbox
	// can finish; the closed broker turns requests away.
	for {
		select {
		case err := <-serverDone:
			n.log.Info("stopped")
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("shutdown listener: %w", err)
			}
			return nil
		case ev := <-n.events:
			n.handle(ev)
		}
	}
}

// shutdownListeners closes the listeners of a node that never ran.
func (n *Node) shutdownListeners() {
	_ = n.server.Shutdown(context.Background())
	if n.control != nil {
		_ = n.control.Shutdown(context.Background())
	}
}

func (n *Node) shutdownBroker() { n.driver.Shutdown() }

// post hands an event to the loop, blocking while the inbox is full.
func (n *Node) post(ev event) { n.events <- ev }

// handler adapts the node to wire.Handler.
type handler Node

// HandleRequest decodes a frame on the connection's reader goroutine.
func (h *handler) HandleRequest(c *wire.Conn, seq uint64, frame []byte) {
	(*Node)(h).handleFrame(c, broker.ConnID(c.ID()), seq, frame, broker.ListenerClient)
}

// handleFrame decodes a frame that arrived on listener, on the
// connection's reader goroutine, and posts it to the loop as connection
// id's.
func (n *Node) handleFrame(c *wire.Conn, id broker.ConnID, seq uint64, frame []byte, listener broker.Listener) {
	req, early, err := broker.ParseRequest(frame)
	if err != nil {
		if n.unsupported.check(id, c.RemoteAddr(), err) {
			c.CloseQuiet(err.Error()) // logged by check, throttled
			return
		}
		c.Close(err.Error())
		return
	}
	n.unsupported.sawRequest(id, req)
	c.MarkValid() // larger frames are now accepted (wire.Config.MaxEarlyRequestBytes)
	if f, ok := req.Msg.(*kmsg.FetchRequest); ok && !c.Reserve(seq, fetchResponseBytesMax(f, n.cfg.Broker.FetchMaxBytes)) {
		return // closed while waiting for room in the memory budget
	}
	if early != nil {
		c.Respond(seq, responseMessage{correlationID: req.CorrelationID, resp: early})
		return
	}
	n.mu.Lock()
	n.conns[id] = c
	n.mu.Unlock()
	req.Conn = id
	req.Seq = seq
	req.Listener = listener
	switch req.Msg.(type) {
	case *kmsg.JoinGroupRequest, *kmsg.ConsumerGroupHeartbeatRequest:
		req.ClientHost = clientHost(c.RemoteAddr())
	}
	n.post(requestEvent{req})
}

// ConnClosed forgets the connection and tells the broker.
func (h *handler) ConnClosed(c *wire.Conn) {
	(*Node)(h).connClosed(broker.ConnID(c.ID()))
}

// connClosed forgets connection id and tells the broker.
func (n *Node) connClosed(id broker.ConnID) {
	n.mu.Lock()
	delete(n.conns, id)
	n.mu.Unlock()
	n.unsupported.closed(id)
	n.post(driverEvent{driver.Event{Kind: driver.EventConnClosed, Conn: id}})
}

func (n *Node) conn(id broker.ConnID) *wire.Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conns[id]
}

// responseMessage encodes a response on the connection's writer goroutine.
type responseMessage struct {
	correlationID int32
	resp          kmsg.Response
}

// fetchResponseBytesMax bounds the size of a response to r (bar a first
// batch above the limits, KIP-74, charged when the response is ready):
// the connection reserves it before the broker builds the response, so
// that concurrent large fetches wait for memory instead of all being
// built at once.
func fetchResponseBytesMax(r *kmsg.FetchRequest, fetchMaxBytes int32) int64 {
	const partitionOverheadBytes = 64 // ids, offsets, error code
	var partitions, records int64
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			partitions++
			records += int64(max(p.PartitionMaxBytes, 0))
		}
	}
	records = min(records, int64(broker.FetchResponseMaxBytes(r, fetchMaxBytes)))
	return records + partitionOverheadBytes*(partitions+1)
}

// SizeBytes implements wire.SizedMessage: fetch responses, the only large
// ones, are charged to the listener's memory budget until written.
func (m responseMessage) SizeBytes() int {
	f, ok := m.resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 64
	for _, t := range f.Topics {
		n += 32 + len(t.Topic)
		for _, p := range t.Partitions {
			n += 64 + len(p.RecordBatches)
		}
	}
	return n
}

// AppendTo implements wire.Message.
func (m responseMessage) AppendTo(dst []byte) []byte {
	return broker.EncodeResponse(dst, m.correlationID, m.resp)
}

// host is the node as the driver's world (driver.Host). Its methods run on
// the loop, between two driver calls.
type host Node

// NowMs implements driver.Host: the wall clock.
func (h *host) NowMs() int64 { return nowMs() }

// Reply hands a response to its connection's writer.
func (h *host) Reply(req *broker.Request, resp kmsg.Response) {
	c := (*Node)(h).conn(req.Conn)
	if c == nil {
		return // the connection is gone; nobody to answer
	}
	if resp == nil {
		c.Respond(req.Seq, nil)
		return
	}
	c.Respond(req.Seq, responseMessage{correlationID: req.CorrelationID, resp: resp})
}

// CloseConn closes a connection after a protocol violation.
func (h *host) CloseConn(id broker.ConnID, reason string) {
	if c := (*Node)(h).conn(id); c != nil {
		c.Close(reason)
	}
}

// StartSync runs job on a goroutine of its own and posts its completion.
// At most one job per partition is in flight (the broker guarantees it),
// so the number of goroutines is bounded by the number of partitions.
func (h *host) StartSync(token broker.SyncToken, job *partlog.SyncJob) {
	n := (*Node)(h)
	go func() {
		err := job.Run()
		n.post(driverEvent{driver.Event{Kind: driver.EventSyncDone, Token: token, Job: job, Err: err}})
	}()
}

// Send hands a request for another broker to the peer connections.
func (h *host) Send(to broker.PeerAddr, id uint64, req kmsg.Request) {
	(*Node)(h).peers.Send(to, id, req)
}

// clientHost is a client's address as Kafka shows it in a group member's
// description: "/" and the IP, without the port.
func clientHost(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return "/" + host
	}
	return "/" + remote
}
