// Package raftquorum replicates an opaque byte log among a fixed set of
// voters with hashicorp/raft. It is the production metadata quorum: the
// controller proposes encoded metadata records, and every node applies the
// committed records, in log order, to its StateMachine.
//
// Storage is one raft-wal WAL (it serves as both raft's LogStore and its
// StableStore) in Dir/wal and raft's file snapshot store in Dir/snapshots.
// Tests can inject in-memory stores and an in-memory transport instead.
//
// # Membership
//
// The voter set is fixed by configuration. On its first start (no log, no
// term, no snapshot on disk) every node bootstraps the same configuration
// from Config.Voters. This is the documented safe way to bootstrap raft when
// every node is handed the identical voter list: whichever node wins the
// first election, the configuration it replicates is the one every node
// already has. Nodes may start in any order. On a restart a node rejoins
// from its disk and Voters is not consulted.
//
// # Outcomes of a proposal
//
// Propose returns nil only after the entry was committed and applied to the
// local StateMachine. An error wrapping ErrOutcomeUnknown means the entry may
// or may not be committed (a leader that lost leadership after appending it,
// a timeout after it was handed to raft, a shutdown): it can still appear in
// the log later, so callers must treat it like a network timeout. Any other
// error, ErrNotLeader in particular, means the entry was not appended and
// never will be.
package raftquorum

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

var (
	// ErrNotLeader is wrapped by the error of Propose or Barrier when this
	// node was not the leader (or was handing leadership over) when raft
	// received the request. The entry was not appended; retrying on the
	// leader is safe.
	ErrNotLeader = errors.New("raftquorum: not the leader")
	// ErrOutcomeUnknown is wrapped by the error of a Propose whose entry may
	// or may not be committed: leadership was lost after the entry was
	// appended, the timeout expired after raft accepted it, or the node shut
	// down meanwhile.
	ErrOutcomeUnknown = errors.New("raftquorum: outcome unknown")
	// ErrTimeout is wrapped by the error of a Propose or Barrier whose
	// timeout expired. When raft had already accepted the entry the error
	// also wraps ErrOutcomeUnknown; when raft never accepted it (the timeout
	// expired while enqueueing) it does not.
	ErrTimeout = errors.New("raftquorum: timed out")
	// ErrInvalidConfig is wrapped by the error of Open for a Config that
	// cannot work.
	ErrInvalidConfig = errors.New("raftquorum: invalid config")
)

// Defaults for the zero values of Config's tuning fields. They suit
// loopback and LAN clusters: raft's own defaults (1 s heartbeat and
// election timeouts) are sized for WANs and make a controller failover
// take seconds.
const (
	defaultHeartbeatTimeout   = 500 * time.Millisecond
	defaultElectionTimeout    = 500 * time.Millisecond
	defaultLeaderLeaseTimeout = 250 * time.Millisecond
	defaultCommitTimeout      = 20 * time.Millisecond
	defaultSnapshotThreshold  = 1024
	defaultSnapshotInterval   = 30 * time.Second
	// defaultTrailingLogs is raft's own default: the entries kept after a
	// snapshot so that a briefly absent follower catches up from the log
	// instead of needing the whole snapshot.
	defaultTrailingLogs = 10240
)

const (
	// snapshotsRetained is how many snapshots the file store keeps. Two lets
	// a snapshot being sent to a follower survive the next one being taken.
	snapshotsRetained = 2
	// transportPoolConns is how many idle connections NetworkTransport keeps
	// per peer.
	transportPoolConns = 3
	// transportTimeout bounds one RPC's I/O on the TCP transport (raft
	// scales it up for large InstallSnapshot transfers). A dead peer on a
	// LAN refuses the connection at once; this only matters for a peer that
	// black-holes packets.
	transportTimeout = 2 * time.Second
	// leaderChangesBuffer is the capacity of the LeaderChanges channel.
	leaderChangesBuffer = 16
	// observationsBuffer is the capacity of the channel raft's observer
	// writes to. Raft drops observations when it is full; that loses
	// nothing here because an observation only wakes the forwarder, which
	// then reads the current leader (see forwardLeaderChanges).
	observationsBuffer = 64
)

// Config configures one voter.
type Config struct {
	// ID is this node's id; the raft ServerID is its decimal form.
	ID int32
	// BindAddr is the TCP address raft's NetworkTransport listens on (for
	// example 127.0.0.1:7001). Unused when Transport is set.
	BindAddr string
	// AdvertiseAddr is the address other voters reach this node at. Empty
	// means the address the listener bound, which must then be a specific
	// IP (not 0.0.0.0 or ::). Unused when Transport is set.
	AdvertiseAddr string
	// Voters maps the id of every voter, this node included, to its raft
	// address. It bootstraps the cluster on a node's first start and is
	// ignored on later starts (the configuration is then in the log).
	Voters map[int32]string
	// Dir holds the WAL (Dir/wal) and the snapshots (Dir/snapshots). It is
	// created if missing. It may be empty only when LogStore, StableStore
	// and SnapshotStore are all set.
	Dir string
	// Logger receives raft's and raft-wal's messages at warn and above, with
	// a "component" attribute naming the raft subsystem. Nil means
	// slog.Default().
	Logger *slog.Logger

	// HeartbeatTimeout is how long a follower goes without hearing from the
	// leader before it starts an election (raft randomizes it up to twice
	// that). Zero means 500ms.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes before it
	// starts another election. Zero means 500ms, or HeartbeatTimeout if
	// that is longer (raft requires it to be at least HeartbeatTimeout).
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without
	// contact from a quorum. Zero means 250ms, or HeartbeatTimeout if that
	// is shorter (raft requires it to be at most HeartbeatTimeout).
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how long the leader waits before sending an empty
	// AppendEntries to spread the commit index. Zero means 20ms.
	CommitTimeout time.Duration
	// SnapshotThreshold is how many log entries since the last snapshot make
	// raft take a new one. Zero means 1024.
	SnapshotThreshold uint64
	// SnapshotInterval is how often raft checks SnapshotThreshold (randomized
	// up to twice that). Zero means 30s.
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries a snapshot leaves in the log, so that
	// a lagging follower can catch up from the log. Zero means raft's default,
	// 10240.
	TrailingLogs uint64
	// WALSegmentBytes is the size of each raft-wal segment file (raft-wal
	// preallocates it). Zero means raft-wal's default, 64 MiB. Unused when
	// LogStore is set.
	WALSegmentBytes int

	// Transport, if set, replaces the TCP transport, for example with a
	// raft.InmemTransport in tests. Shutdown closes it.
	Transport raft.Transport
	// LogStore and StableStore, if set, replace the WAL; set both or
	// neither. Tests use raft.NewInmemStore for both.
	LogStore    raft.LogStore
	StableStore raft.StableStore
	// SnapshotStore, if set, replaces the file snapshot store; tests use
	// raft.NewInmemSnapshotStore.
	SnapshotStore raft.SnapshotStore
}

// StateMachine is what the log is applied to.
//
// Apply is called in log order, once per committed entry, on raft's FSM
// goroutine. Index is the entry's raft index: it increases strictly, but
// with gaps (raft's own entries, such as configuration changes and a new
// leader's no-op, take indexes too).
//
// Snapshot and Restore move the whole state as bytes. Snapshot is called on
// the same goroutine as Apply and must return bytes that later Applies do
// not change. Restore replaces the whole state; it is called on the same
// goroutine too, both when a follower receives a snapshot from the leader
// and at Open when a snapshot is on disk.
//
// A StateMachine given to Open must be empty: on a restart the node
// rebuilds its state from its latest snapshot (Restore) and the committed
// entries after it (Apply), so entries before a restart are applied again
// after it.
type StateMachine interface {
	// Apply applies the committed entry data at index.
	Apply(index uint64, data []byte)
	// Snapshot returns the whole state as bytes.
	Snapshot() ([]byte, error)
	// Restore replaces the whole state with one that Snapshot returned.
	Restore(data []byte) error
}

// Quorum is one running voter.
type Quorum struct {
	id   int32
	raft *raft.Raft
	// wal is the store Open created, closed by Shutdown; nil when the
	// stores were injected.
	wal *wal.WAL
	// walMeta is wal's metadata store, closed after it.
	walMeta *metadb.BoltMetaDB

	observer     *raft.Observer
	observations chan raft.Observation
	changes      chan int32
	stopForward  chan struct{}
	forwardDone  chan struct{}

	shutdownOnce sync.Once
	shutdownErr  error
}

// Open starts a voter: it opens (or creates) the stores, bootstraps the
// cluster from cfg.Voters if this node has no state yet, and starts raft.
// It returns without waiting for an election.
func Open(cfg Config, sm StateMachine) (q *Quorum, err error) {
	if sm == nil {
		return nil, fmt.Errorf("%w: nil StateMachine", ErrInvalidConfig)
	}
	logger := cmp.Or(cfg.Logger, slog.Default())
	hlog := newSlogAdapter(logger.With("node", cfg.ID), hclog.Warn)
	rc, err := raftConfig(cfg, hlog)
	if err != nil {
		return nil, err
	}
	if (cfg.LogStore == nil) != (cfg.StableStore == nil) {
		return nil, fmt.Errorf("%w: set both LogStore and StableStore or neither", ErrInvalidConfig)
	}
	if cfg.Dir == "" && (cfg.LogStore == nil || cfg.SnapshotStore == nil) {
		return nil, fmt.Errorf("%w: Dir is empty", ErrInvalidConfig)
	}
	if cfg.Transport == nil && cfg.BindAddr == "" {
		return nil, fmt.Errorf("%w: BindAddr is empty", ErrInvalidConfig)
	}
	if _, ok := cfg.Voters[cfg.ID]; len(cfg.Voters) > 0 && !ok {
		return nil, fmt.Errorf("%w: node %d is not in Voters", ErrInvalidConfig, cfg.ID)
	}

	// Whatever this function opens is closed again if a later step fails.
	var closers []func() error
	defer func() {
		if err != nil {
			for _, c := range slices.Backward(closers) {
				_ = c()
			}
		}
	}()

	q = &Quorum{id: cfg.ID}
	logs, stable, snaps := cfg.LogStore, cfg.StableStore, cfg.SnapshotStore
	if logs == nil {
		walDir := filepath.Join(cfg.Dir, "wal")
		// raft-wal requires its directory to exist.
		if err := os.MkdirAll(walDir, 0o755); err != nil {
			return nil, fmt.Errorf("raftquorum: create WAL dir: %w", err)
		}
		// raft-wal v0.4.0's WAL.Close leaves its bolt metadata file open,
		// and with it the file lock that a reopen waits on forever; so the
		// metadata store is made here and closed by Shutdown.
		meta := &metadb.BoltMetaDB{}
		closers = append(closers, meta.Close)
		w, err := wal.Open(walDir,
			wal.WithMetaStore(meta),
			wal.WithLogger(hlog.Named("wal")),
			wal.WithSegmentSize(cmp.Or(cfg.WALSegmentBytes, wal.DefaultSegmentSize)))
		if err != nil {
			return nil, fmt.Errorf("raftquorum: open WAL in %s: %w", walDir, err)
		}
		closers = append(closers, w.Close)
		q.wal, q.walMeta, logs, stable = w, meta, w, w
	}
	if snaps == nil {
		// NewFileSnapshotStore creates Dir/snapshots (and Dir) itself.
		fs, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, snapshotsRetained, hlog.Named("snapshots"))
		if err != nil {
			return nil, fmt.Errorf("raftquorum: open snapshot store in %s: %w", cfg.Dir, err)
		}
		snaps = fs
	}

	trans := cfg.Transport
	if trans == nil {
		nt, err := tcpTransport(cfg, hlog)
		if err != nil {
			return nil, err
		}
		closers = append(closers, nt.Close)
		trans = nt
	} else if c, ok := trans.(raft.WithClose); ok {
		// Raft closes the transport on Shutdown; do the same when Open fails,
		// so that callers see one rule.
		closers = append(closers, c.Close)
	}
	if want, ok := cfg.Voters[cfg.ID]; ok && want != string(trans.LocalAddr()) {
		logger.Warn("raftquorum: this node's address in Voters differs from its transport's",
			"node", cfg.ID, "voters", want, "transport", trans.LocalAddr())
	}

	existing, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return nil, fmt.Errorf("raftquorum: read existing state: %w", err)
	}
	if !existing {
		if len(cfg.Voters) == 0 {
			return nil, fmt.Errorf("%w: no state on disk and no Voters to bootstrap from", ErrInvalidConfig)
		}
		if err := raft.BootstrapCluster(rc, logs, stable, snaps, trans, bootstrapConfiguration(cfg.Voters)); err != nil {
			return nil, fmt.Errorf("raftquorum: bootstrap node %d: %w", cfg.ID, err)
		}
	}

	r, err := raft.NewRaft(rc, fsm{sm: sm}, logs, stable, snaps, trans)
	if err != nil {
		return nil, fmt.Errorf("raftquorum: start raft on node %d: %w", cfg.ID, err)
	}
	q.raft = r
	q.observations = make(chan raft.Observation, observationsBuffer)
	q.observer = raft.NewObserver(q.observations, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(q.observer)
	q.changes = make(chan int32, leaderChangesBuffer)
	q.stopForward = make(chan struct{})
	q.forwardDone = make(chan struct{})
	go q.forwardLeaderChanges()
	return q, nil
}

// raftConfig builds raft's configuration from cfg, filling in defaults, and
// validates it.
func raftConfig(cfg Config, hlog hclog.Logger) (*raft.Config, error) {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(strconv.FormatInt(int64(cfg.ID), 10))
	rc.HeartbeatTimeout = cmp.Or(cfg.HeartbeatTimeout, defaultHeartbeatTimeout)
	rc.ElectionTimeout = cmp.Or(cfg.ElectionTimeout, max(defaultElectionTimeout, rc.HeartbeatTimeout))
	rc.LeaderLeaseTimeout = cmp.Or(cfg.LeaderLeaseTimeout, min(defaultLeaderLeaseTimeout, rc.HeartbeatTimeout))
	rc.CommitTimeout = cmp.Or(cfg.CommitTimeout, defaultCommitTimeout)
	rc.SnapshotThreshold = cmp.Or(cfg.SnapshotThreshold, defaultSnapshotThreshold)
	rc.SnapshotInterval = cmp.Or(cfg.SnapshotInterval, defaultSnapshotInterval)
	rc.TrailingLogs = cmp.Or(cfg.TrailingLogs, defaultTrailingLogs)
	rc.Logger = hlog.Named("raft")
	// The legacy metric names duplicate the current ones; nothing here
	// reads either.
	rc.NoLegacyTelemetry = true
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return rc, nil
}

// tcpTransport listens on cfg.BindAddr.
func tcpTransport(cfg Config, hlog hclog.Logger) (*raft.NetworkTransport, error) {
	var advertise net.Addr
	if cfg.AdvertiseAddr != "" {
		a, err := net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("raftquorum: resolve advertise address %s: %w", cfg.AdvertiseAddr, err)
		}
		advertise = a
	}
	nt, err := raft.NewTCPTransportWithLogger(cfg.BindAddr, advertise, transportPoolConns, transportTimeout, hlog.Named("raft-net"))
	if err != nil {
		return nil, fmt.Errorf("raftquorum: listen on %s: %w", cfg.BindAddr, err)
	}
	return nt, nil
}

// bootstrapConfiguration lists the voters in id order, so that every node
// writes the byte-identical configuration entry.
func bootstrapConfiguration(voters map[int32]string) raft.Configuration {
	var c raft.Configuration
	for _, id := range slices.Sorted(maps.Keys(voters)) {
		c.Servers = append(c.Servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(strconv.FormatInt(int64(id), 10)),
			Address:  raft.ServerAddress(voters[id]),
		})
	}
	return c
}

// Propose appends data to the log and blocks until it is committed and
// applied locally (nil), or fails. A zero or negative timeout waits as long
// as raft takes. See the package documentation for what each error means;
// in short, an error wrapping ErrOutcomeUnknown (every timeout after raft
// accepted the entry is one) leaves the outcome open, and ErrNotLeader
// means the entry was not appended.
func (q *Quorum) Propose(data []byte, timeout time.Duration) error {
	start := time.Now()
	f := q.raft.Apply(data, timeout)
	if err := await(f, start, timeout, true); err != nil {
		return fmt.Errorf("raftquorum: node %d: propose %d bytes: %w", q.id, len(data), err)
	}
	return nil
}

// Barrier waits until all entries committed before the call are applied
// locally (raft.Barrier). A new leader calls it before it trusts its state
// machine: entries from earlier terms are committed, and so applied, only
// once an entry of the new term commits. It fails with ErrNotLeader on a
// follower.
func (q *Quorum) Barrier(timeout time.Duration) error {
	start := time.Now()
	f := q.raft.Barrier(timeout)
	if err := await(f, start, timeout, false); err != nil {
		return fmt.Errorf("raftquorum: node %d: barrier: %w", q.id, err)
	}
	return nil
}

// await waits for f until timeout after start and sorts its error into the
// package's sentinels. proposal says whether f carries a client entry,
// whose unknown outcome matters; a barrier that failed has no outcome to
// speak of, so its errors do not wrap ErrOutcomeUnknown.
func await(f raft.Future, start time.Time, timeout time.Duration, proposal bool) error {
	var err error
	if timeout <= 0 {
		err = f.Error()
	} else {
		// raft's timeout only bounds handing the entry to raft's main loop;
		// committing it can take until the next election. Wait for the
		// future on a goroutine so that the caller's deadline holds. The
		// goroutine ends when raft resolves the future, which it does for
		// every accepted entry (committed, leadership lost, or shutdown).
		done := make(chan error, 1)
		go func() { done <- f.Error() }()
		timer := time.NewTimer(max(timeout-time.Since(start), 0))
		defer timer.Stop()
		select {
		case err = <-done:
		case <-timer.C:
			select {
			case err = <-done: // finished at the same moment: prefer the answer
			default:
				if proposal {
					return fmt.Errorf("%w after %s: %w", ErrTimeout, timeout, ErrOutcomeUnknown)
				}
				return fmt.Errorf("%w after %s", ErrTimeout, timeout)
			}
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// Raft answers these before appending anything.
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		// The entry never reached raft's main loop.
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case !proposal:
		return err
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	default:
		// Unknown to this package: assume the worst.
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
}

// Leader returns the current leader's id as this node sees it, or ok=false
// when none is known (during an election, or on a node cut off from the
// leader once it notices).
func (q *Quorum) Leader() (id int32, ok bool) {
	_, sid := q.raft.LeaderWithID()
	if sid == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(string(sid), 10, 32)
	if err != nil {
		// Every voter's ServerID is a decimal int32 (Open makes it so), so
		// this means a foreign server joined the configuration.
		return 0, false
	}
	return int32(n), true
}

// IsLeader reports whether this node is the leader now. A leader can be
// deposed at any moment without knowing it yet, so this is a hint (for
// example to route proposals), not a guarantee; Propose and Barrier are the
// checked paths.
func (q *Quorum) IsLeader() bool {
	return q.raft.State() == raft.Leader
}

// LeaderChanges returns a channel that receives the leader's id, or -1 for
// none, whenever this node's view of the leader changes. It is the same
// channel on every call, and it is closed by Shutdown.
//
// The channel holds 16 values and never blocks raft: when a reader falls
// behind, the oldest value is dropped to make room, so the newest value
// (the current view) is always delivered. The same value is never sent twice
// in a row, but a reader that fell behind can see a repeat across the values
// that were dropped (1, then 1 again with the -1 between them gone). Treat a
// receive as "the view is now this", not as a count of elections.
func (q *Quorum) LeaderChanges() <-chan int32 {
	return q.changes
}

// forwardLeaderChanges turns raft's leader observations into values on
// q.changes.
//
// An observation is only a wake-up: the forwarder reads the current leader
// itself. Raft updates the leader before it sends the observation, so the
// value read is at least as new as the observation. Raft drops an
// observation when q.observations is full, but then an earlier one is still
// queued, and when the forwarder gets to it, it reads the newest leader.
// So the last value sent is always the view after the last change.
func (q *Quorum) forwardLeaderChanges() {
	defer close(q.forwardDone)
	last := int32(-1)
	emit := func() {
		id, ok := q.Leader()
		if !ok {
			id = -1
		}
		if id == last {
			return
		}
		last = id
		sendDropOldest(q.changes, id)
	}
	// An election may have finished before the observer was registered.
	emit()
	for {
		select {
		case <-q.observations:
			emit()
		case <-q.stopForward:
			return
		}
	}
}

// sendDropOldest sends v on ch, dropping the oldest queued values while ch
// is full. It is the only sender, so the loop ends: each drop makes room
// that only this goroutine can fill.
func sendDropOldest(ch chan int32, v int32) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// Shutdown stops raft, closes the transport (an injected one too) and the
// WAL, and closes the LeaderChanges channel. It does not hand over
// leadership: the other voters elect a new leader after their heartbeat
// timeout. Later calls return the first call's result.
func (q *Quorum) Shutdown() error {
	q.shutdownOnce.Do(func() {
		var errs []error
		if err := q.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raftquorum: node %d: shut down raft: %w", q.id, err))
		}
		q.raft.DeregisterObserver(q.observer)
		close(q.stopForward)
		<-q.forwardDone
		close(q.changes)
		if q.wal != nil {
			if err := q.wal.Close(); err != nil {
				errs = append(errs, fmt.Errorf("raftquorum: node %d: close WAL: %w", q.id, err))
			}
			if err := q.walMeta.Close(); err != nil {
				errs = append(errs, fmt.Errorf("raftquorum: node %d: close WAL metadata: %w", q.id, err))
			}
		}
		q.shutdownErr = errors.Join(errs...)
	})
	return q.shutdownErr
}
