package node

// Cluster mode: the node joins a metadata quorum (io/raftquorum, which is
// hashicorp/raft) and talks to the other brokers over their Kafka
// listeners (peer.go).
//
// Threads and ordering. The broker is only ever touched by the event loop
// goroutine. Raft calls the StateMachine from its own FSM goroutine, in log
// order; each call becomes an event:
//
//  1. Apply posts an applyEvent with a blocking send, so entries reach the
//     loop in log order and raft's apply pipeline is held back (never
//     dropped) while the loop is busy.
//  2. Snapshot and Restore post an event carrying a reply channel and wait
//     for the loop's answer, so the image is read or replaced between two
//     applies, exactly where raft expects it.
//  3. Raft restores its latest snapshot synchronously inside Open and then
//     replays the log, so the loop must already consume events while Open
//     runs: New pumps the event queue itself until Open returns (see
//     openQuorum); after that, Run's loop takes over. The FSM goroutine
//     blocks on the queue in the meantime, which only delays it.
//  4. Every send from a non-loop goroutine also watches n.done, which is
//     closed once the loop has stopped for good, so that raft's Shutdown
//     (which waits for its FSM goroutine) can never hang on a full queue.
//
// Nothing on the loop ever waits for raft: Propose runs raft's blocking
// Propose on a goroutine of its own and reports only a failure back
// (ProposalFailed); a success shows up as the entry's Apply.
//
// Leadership. The raft leader is the controller. When this node becomes
// the leader it first waits for a raft barrier, so that every entry
// committed by earlier leaders is applied to the image, and only then
// tells the broker it is the controller: the controller's soft decisions
// (which brokers are registered and heartbeating) then start from the
// whole log.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/chronik-streaming/chronik/core/driver"
	"github.com/chronik-streaming/chronik/io/logthrottle"
	"github.com/chronik-streaming/chronik/io/raftquorum"
)

// ClusterConfig makes a node a member of a cluster.
type ClusterConfig struct {
	// RaftAddr is the address the metadata quorum's transport binds, for
	// example 127.0.0.1:7001.
	RaftAddr string
	// RaftAdvertiseAddr is the raft address other voters reach this node
	// at; empty means RaftAddr (which must then be a specific IP).
	RaftAdvertiseAddr string
	// Voters maps every voter's id (its broker id, this node's included)
	// to its raft address. Every node must be given the same map.
	Voters map[int32]string
	// ControlAddr is the address the control listener binds (control.go),
	// where the other brokers send this one their requests. Empty means
	// DefaultControlAddr of this node's raft address: its host, its port
	// plus 1000. An unspecified host (0.0.0.0) is advertised to the other
	// brokers as the raft address's host.
	ControlAddr string
	// ControlledShutdownTimeout bounds how long a stop waits for the
	// controller to move this broker's leaderships away before it stops
	// anyway. Zero means 5 s.
	ControlledShutdownTimeout time.Duration
	// PeerConnsMax bounds the connections to one other broker. Zero means
	// 8.
	PeerConnsMax int
	// PeerRequestTimeout bounds one request to another broker (a replica
	// fetch gets its own long-poll wait on top). Zero means 5 s.
	PeerRequestTimeout time.Duration
	// Raft tunes the quorum; its ID, BindAddr, AdvertiseAddr, Voters, Dir
	// and Logger are filled in by the node. The zero value takes
	// raftquorum's defaults.
	Raft raftquorum.Config
}

// raftDirName is the raft state's directory inside the data directory.
// Partition directories are named "<topic>-<n>", so it never collides with
// one.
const raftDirName = "__raft"

// Defaults of ClusterConfig's zero values.
const (
	defaultControlledShutdownTimeout = 5 * time.Second
	defaultPeerConnsMax              = 8
	defaultPeerRequestTimeout        = 5 * time.Second
	// barrierTimeout bounds the wait of a new leader for the entries of
	// earlier terms to apply before it acts as the controller.
	barrierTimeout = 5 * time.Second
)

// validate checks the settings that do not depend on the broker config.
func (c *ClusterConfig) validate(nodeID int32) error {
	if c.RaftAddr == "" {
		return errors.New("cluster: the raft address is empty")
	}
	if len(c.Voters) == 0 {
		return errors.New("cluster: no voters")
	}
	if _, ok := c.Voters[nodeID]; !ok {
		return fmt.Errorf("cluster: node %d is not one of the voters %v", nodeID, slices.Sorted(maps.Keys(c.Voters)))
	}
	if c.ControlledShutdownTimeout < 0 || c.PeerConnsMax < 0 || c.PeerRequestTimeout < 0 {
		return errors.New("cluster: negative timeout or limit")
	}
	return nil
}

// Cluster events, handled on the loop (Node.handle).
type applyEvent struct{ data []byte }
type restoreEvent struct {
	data  []byte
	reply chan error
}
type snapshotEvent struct{ reply chan snapshotResult }
type snapshotResult struct {
	data []byte
	err  error
}

func (applyEvent) isEvent()    {}
func (restoreEvent) isEvent()  {}
func (snapshotEvent) isEvent() {}

// handleCluster handles a metadata event that answers raft's FSM
// goroutine; false if ev is not one.
func (n *Node) handleCluster(ev event) bool {
	switch ev := ev.(type) {
	case applyEvent:
		n.driver.ApplyMetadata(ev.data)
	case restoreEvent:
		err := n.driver.RestoreMetadata(ev.data)
		n.log.Info("restored metadata snapshot", "bytes", len(ev.data), "err", err)
		ev.reply <- err
	case snapshotEvent:
		data, err := n.driver.SnapshotMetadata()
		ev.reply <- snapshotResult{data: data, err: err}
	default:
		return false
	}
	return true
}

// postOrDrop hands an event to the loop, blocking while the inbox is
// full, unless the loop has stopped for good; it reports whether the event
// was queued.
func (n *Node) postOrDrop(ev event) bool {
	select {
	case n.events <- ev:
		return true
	case <-n.done:
		return false
	}
}

// stateMachine adapts the node to raftquorum.StateMachine; its methods run
// on raft's FSM goroutine (and Restore also inside Open).
type stateMachine Node

// Apply queues a committed entry for the loop. The bytes are copied:
// raft's log store may reuse them once Apply returns.
func (s *stateMachine) Apply(index uint64, data []byte) {
	(*Node)(s).postOrDrop(applyEvent{data: slices.Clone(data)})
}

// errNodeStopped answers a snapshot or restore asked after the loop
// stopped.
var errNodeStopped = errors.New("node: stopped")

// Snapshot encodes the image on the loop.
func (s *stateMachine) Snapshot() ([]byte, error) {
	n := (*Node)(s)
	reply := make(chan snapshotResult, 1)
	if !n.postOrDrop(snapshotEvent{reply: reply}) {
		return nil, errNodeStopped
	}
	select {
	case r := <-reply:
		return r.data, r.err
	case <-n.done:
		return nil, errNodeStopped
	}
}

// Restore replaces the image on the loop.
func (s *stateMachine) Restore(data []byte) error {
	n := (*Node)(s)
	reply := make(chan error, 1)
	if !n.postOrDrop(restoreEvent{data: slices.Clone(data), reply: reply}) {
		return errNodeStopped
	}
	select {
	case err := <-reply:
		return err
	case <-n.done:
		return errNodeStopped
	}
}

// Propose implements driver.Host: it runs raft's blocking Propose on its
// own goroutine and reports a failure back to the loop. The broker bounds
// its pending proposals, and each goroutine ends by the proposal timeout,
// so they are bounded too.
func (h *host) Propose(seq uint64, entry []byte) {
	n := (*Node)(h)
	failed := driverEvent{driver.Event{Kind: driver.EventProposalFailed, Seq: seq}}
	q := n.quorum.Load()
	timeout := time.Duration(n.cfg.Broker.ProposalTimeoutMs) * time.Millisecond
	go func() {
		if q == nil {
			n.postOrDrop(failed)
			return
		}
		if err := q.Propose(entry, timeout); err != nil {
			if !errors.Is(err, raftquorum.ErrNotLeader) {
				n.brokerLog.Info("metadata proposal failed", "seq", seq, "err", err)
			}
			n.postOrDrop(failed)
		}
	}()
}

// openQuorum opens the raft voter while the calling goroutine (New's)
// plays the event loop, because raft restores its snapshot and starts
// applying entries before Open returns.
func (n *Node) openQuorum() error {
	cc := n.cfg.Cluster
	rc := cc.Raft
	rc.ID = n.cfg.Broker.NodeID
	rc.BindAddr = cc.RaftAddr
	rc.AdvertiseAddr = cc.RaftAdvertiseAddr
	rc.Voters = maps.Clone(cc.Voters)
	rc.Dir = filepath.Join(n.cfg.DataDir, raftDirName)
	rc.Logger = n.log
	if err := os.MkdirAll(rc.Dir, 0o755); err != nil {
		return fmt.Errorf("create raft dir: %w", err)
	}
	type opened struct {
		q   *raftquorum.Quorum
		err error
	}
	done := make(chan opened, 1)
	go func() {
		q, err := raftquorum.Open(rc, (*stateMachine)(n))
		done <- opened{q, err}
	}()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return fmt.Errorf("open metadata quorum: %w", r.err)
			}
			n.quorum.Store(r.q)
			n.leaderWatchDone = make(chan struct{})
			go n.watchLeader(r.q)
			return nil
		case ev := <-n.events:
			n.handle(ev)
			n.drain()
			n.driver.Settle()
		}
	}
}

// watchLeader turns raft's leader changes into controller events. It ends
// when the quorum shuts down (the channel closes) or the loop stops.
func (n *Node) watchLeader(q *raftquorum.Quorum) {
	defer close(n.leaderWatchDone)
	self := n.cfg.Broker.NodeID
	last := int32(-1)
	for id := range q.LeaderChanges() {
		if id == self {
			// Apply everything earlier leaders committed before acting as
			// the controller. A failure means leadership is already moving
			// on; the next change arrives on the channel.
			if err := q.Barrier(barrierTimeout); err != nil {
				n.log.Warn("new metadata leader: barrier failed", "err", err)
			}
			if cur, ok := q.Leader(); !ok {
				id = -1
			} else {
				id = cur
			}
		}
		if id == last {
			continue
		}
		last = id
		n.log.Info("metadata quorum leader", "leader", id)
		if !n.postOrDrop(driverEvent{driver.Event{Kind: driver.EventControllerChanged, Controller: id}}) {
			return
		}
	}
}

// stopCluster runs after the loop has stopped for good: it releases every
// goroutine waiting to post, closes the peer connections and shuts raft
// down.
func (n *Node) stopCluster() error {
	n.doneOnce.Do(func() { close(n.done) })
	if n.peers != nil {
		n.peers.close()
	}
	q := n.quorum.Load()
	if q == nil {
		return nil
	}
	err := q.Shutdown()
	if n.leaderWatchDone != nil {
		<-n.leaderWatchDone
	}
	if err != nil {
		return fmt.Errorf("shut down metadata quorum: %w", err)
	}
	return nil
}

// repeatInterval is the least time between two lines of one repeating
// cluster message (see brokerLogger).
const repeatInterval = 30 * time.Second

// brokerRepeats are the broker's messages that repeat on every retry
// while the cluster forms or a broker restarts: registration is retried
// every heartbeat interval (250 ms) until the controller knows this
// broker's address and answers. They are routine, so they stay at info;
// brokerLogger writes the first and then one summary per repeatInterval.
var brokerRepeats = map[string]bool{
	"broker registration failed":  true,
	"broker registration refused": true,
	"metadata proposal failed":    true,
}

// brokerLogger is the broker's broker.Logger: the node's logger, with the
// messages in brokerRepeats throttled per message and controller.
type brokerLogger struct {
	log      *slog.Logger
	throttle *logthrottle.Throttle
}

func newBrokerLogger(log *slog.Logger, now func() time.Time) *brokerLogger {
	return &brokerLogger{log: log, throttle: logthrottle.MustNew(logthrottle.Config{
		Interval: repeatInterval, KeysMax: logthrottle.DefaultKeysMax, Now: now})}
}

// Info implements broker.Logger.
func (l *brokerLogger) Info(msg string, args ...any) { l.write(slog.LevelInfo, msg, args) }

// Warn implements broker.Logger.
func (l *brokerLogger) Warn(msg string, args ...any) { l.write(slog.LevelWarn, msg, args) }

// Error implements broker.Logger.
func (l *brokerLogger) Error(msg string, args ...any) { l.write(slog.LevelError, msg, args) }

func (l *brokerLogger) write(level slog.Level, msg string, args []any) {
	if !brokerRepeats[msg] {
		l.log.Log(context.Background(), level, msg, args...)
		return
	}
	key := msg
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == "controller" {
			key += fmt.Sprintf("\x00%v", args[i+1])
		}
	}
	l.throttle.Log(l.log, key, level, level, msg, args...)
}
