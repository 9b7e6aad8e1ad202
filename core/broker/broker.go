// Package broker is Chronik's Kafka broker as a pure state machine: it owns
// the topics and their partition logs, answers Kafka requests (decoded kmsg
// values), and schedules the fsyncs that acknowledgements wait for.
//
// Every entry point takes the current time as nowMs and runs to completion
// on the caller's goroutine; effects leave through the interfaces in Env.
// The node package calls it from a single event loop, the simulator from
// its scheduler.
package broker

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/controller"
	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/membership"
	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
	"github.com/chronik-streaming/chronik/core/replication"
)

// ConnID identifies a client connection for the lifetime of the process.
type ConnID uint64

// Replier delivers responses to client connections.
type Replier interface {
	// Reply answers req with resp. A nil resp means the request gets no
	// response on the wire (acks=0 produce); the environment must still
	// release the request's slot so later responses are not held back.
	Reply(req *Request, resp kmsg.Response)
	// CloseConn closes a client connection after a protocol violation,
	// logging reason.
	CloseConn(conn ConnID, reason string)
}

// Syncer runs fsyncs off the event loop.
type Syncer interface {
	// StartSync runs job.Run() asynchronously and then delivers
	// Broker.SyncDone(nowMs, token, job, err) on the event loop.
	StartSync(token SyncToken, job *partlog.SyncJob)
}

// Logger is the structured logger core writes to; *slog.Logger satisfies
// it. Core never formats time itself, so the simulator can supply a
// deterministic implementation.
type Logger interface {
	// Info logs a routine event.
	Info(msg string, args ...any)
	// Warn logs something unusual that the broker handled.
	Warn(msg string, args ...any)
	// Error logs a failure that needs an operator's attention.
	Error(msg string, args ...any)
}

// Random is the broker's only source of randomness (topic ids).
type Random interface {
	// Uint64 returns a uniformly distributed 64-bit value.
	Uint64() uint64
}

// Env is everything the broker needs from its environment.
type Env struct {
	Disk    disk.Disk
	Replier Replier
	Syncer  Syncer
	Logger  Logger
	Random  Random
	// Quorum and Network make the broker a member of a cluster: its
	// metadata comes from the quorum's log and it replicates partitions
	// with other brokers. Both nil: a single node whose metadata log is
	// the image file in the data directory.
	Quorum  Quorum
	Network Network
	// DiskLock is a lock the driver already holds on Disk (a disk.Locker)
	// and keeps for the process's life, beyond the broker's. Nil: New
	// takes the lock itself when Disk is a disk.Locker, and ReleaseDisk
	// gives it back.
	DiskLock disk.Lock
}

// SyncToken identifies what a sync job belongs to: a partition, or (p
// nil) the single node's metadata image (applyLocal). It is opaque to the
// environment, which hands it back in SyncDone.
type SyncToken struct {
	p *partition
	// cleanOf is set for a compaction job (partlog.NewCleanSyncJob): the
	// log that started it, which alone may finish it (the partition may
	// have reopened its log meanwhile).
	cleanOf *partlog.Log
}

// Broker is a single Kafka broker.
type Broker struct {
	cfg   Config
	env   Env
	image *metadata.Image
	// topics holds the live partitions of every topic in image, by name.
	topics map[string]*topicState

	// nextProducerID is the next id InitProducerId hands out and
	// producerIDBlockEnd the end of the block the controller allocated to
	// this broker; ids are never reused, even after a crash, because each
	// block is recorded in the metadata log before it is used.
	nextProducerID     int64
	producerIDBlockEnd int64
	// producerIDWaiters are InitProducerId requests waiting for a block.
	producerIDWaiters    []*Request
	producerIDBlockAsked bool

	// Cluster roles: the controller (core/controller), this process's
	// membership (core/membership), the metadata log (cluster.go),
	// replication (replication.go).
	controllerID    int32
	ctrl            *controller.Controller
	proposals       map[uint64]*proposal
	nextProposalSeq uint64
	// imageJob is the single node's image write in flight, imageQueue the
	// local entries waiting for it (at most MaxPendingProposals), in
	// order (applyLocal). imageInline runs image writes on the loop
	// instead: New's registration must be applied before New returns.
	imageJob       *imageWrite
	imageQueue     []localEntry
	imageInline    bool
	peerCalls      map[uint64]*peerCall
	nextPeerCallID uint64
	member         *membership.Member
	// nowMs is the time of the entry point running now (observeNow).
	nowMs int64
	// metadataCaughtUp says this process's registration has applied, so
	// the image holds every topic committed before the process started
	// (catchup.go); until then client requests wait in parked. The stale
	// partition directories of a cluster broker are cleared at that moment.
	metadataCaughtUp bool
	parked           []parkedRequest
	// hwRaised lists partitions whose high watermark rose since the last
	// settle; waking fetches is re-entrant safe only through it.
	hwRaised []*partition
	// topicOrder caches the open topics sorted by name; nil when stale.
	topicOrder []*topicState
	// fetchesInFlight counts replica fetches in flight per leader: one at
	// most (runFetchers).
	fetchesInFlight replication.FetchesInFlight
	// replicaFetchRound counts replica fetches sent; it rotates their
	// partition order (sendReplicaFetch).
	replicaFetchRound uint64
	// staged collects the metadata records of the admin request being
	// handled (stage, finishStaged).
	staged []metadata.Record
	// groupRT runs the group coordinators' shards (core/coord) over
	// __consumer_offsets; coordWaiting holds the requests waiting for a
	// coordinator's answer, by the reference the runtime hands back.
	groupRT      coordRuntime
	coordWaiting map[coord.ReplyRef]*coordWaiter
	nextCoordRef uint64
	// txnRT runs the transaction coordinators' shards (core/txn) over
	// __transaction_state; the marker state is txn_markers.go's.
	txnRT coordRuntime
	txnMarkers
	// producerIDBlockWanted: a transaction coordinator found no producer
	// id at hand, so a block is asked for even with no InitProducerId
	// waiting (serveProducerIDs).
	producerIDBlockWanted bool
	// Compaction (compaction.go): anyCompacted says some topic has
	// cleanup.policy compact (set by reconcile); one clean job runs at a
	// time, broker-wide (Kafka's log.cleaner.threads 1), started at most
	// every CleanerBackoffMs; cleanCursor rotates the partitions tried.
	anyCompacted  bool
	cleanInFlight bool
	lastCleanMs   int64
	cleanCursor   int
	// internalCreating names the internal topics whose creation is on its
	// way (ensureInternalTopic), so that FindCoordinator does not start
	// another.
	internalCreating map[string]bool
	// waking says wakeFetches is running; fetchTouched lists the
	// partitions touched since (touchFetches), whose long polls the next
	// wake builds again.
	waking       bool
	fetchTouched []*partition
	// syncCandidates are the partitions Flush looks at (markUnsynced),
	// each once (partition.syncCandidate).
	syncCandidates []*partition
	// syncSpare is the other buffer of syncCandidates (Flush).
	syncSpare []*partition
	// leading and following cache the partitions by role (roleLists);
	// rolesStale says a role changed since they were built.
	leading, following []*partition
	rolesStale         bool
	// resigning lists the partitions this broker must ask to take it out
	// of their ISR (mustLeaveISR; rebuilt by retryResigns' scan, added to
	// by resignOffline), so that NextWakeMs need not walk every partition
	// for the next ask.
	resigning []*partition
	// resignCands lists, in topic-name then index order, every partition
	// for which mustLeaveISR could hold (mayLeaveISR), so that
	// retryResigns, which runs after every event, visits those instead of
	// every partition; resignScratch is its copy for one pass.
	resignCands, resignScratch []*partition
	// The incremental CheckInvariants (invariants.go): recheckList holds
	// the partitions changed since the last pass (recheck), recheckFull
	// says the next pass walks every partition, checkGen numbers the full
	// passes, checkIncremental counts the passes since the last one.
	// checkFetchEntries and checkLive are the totals the partitions'
	// snapshots (partition.checkedFetchEntries, checkedPendings) add up
	// to: the waiting-fetch entries, and the produce requests with a
	// waiter. recheckCap bounds recheckList (a caller that never checks
	// leaves recheckFull set, so nothing is listed at all).
	recheckList       []*partition
	recheckFull       bool
	recheckCap        int
	checkGen          uint64
	checkIncremental  int
	checkFetchEntries int
	checkLive         []*pendingProduce
	// fetchPartsSeen numbers the waiting fetches as they register with
	// their partitions (partition.fetchSeen dedupes a partition named
	// twice).
	fetchPartsSeen uint64

	// codecs is the compression state every partition log decompresses
	// batches with (timestamp lookups; partlog.Log.SetCodecs): one per
	// broker, as its logs run on its one event loop.
	codecs record.Codecs

	pendingProduces int // produce requests waiting for a sync
	waitingFetches  []*waitingFetch
	// fetchSeq numbers fetch requests as they arrive (replication.go:
	// a follower's progress comes from its newest fetch only).
	fetchSeq uint64
	// fetchTopicIndex, fetchTopicCounts and fetchTopicOf are
	// sendReplicaFetch's scratch.
	fetchTopicIndex  map[string]int
	fetchTopicCounts []int
	fetchTopicOf     []int
	// configsUnchanged tells the next reconcile that no topic's config
	// overrides changed since the last one, so that every topic's
	// logConfig still holds (applyMetadataEntry sets it for an entry
	// without SetTopicConfigs; reconcile clears it).
	configsUnchanged bool
	// fetchGroups is runFetchers' scratch (nil while a call holds it).
	fetchGroups []leaderParts
	// deleteWaiters are DeleteRecords partitions waiting for the
	// followers' log starts (21_delete_records.go); at most
	// MaxWaitingFetches.
	deleteWaiters []*deleteWaiter

	// offlineRetries counts partitions with a reopen planned (storage.go);
	// it may run high until the next retry pass recounts.
	offlineRetries int
	// reopened counts partitions that came back by themselves after a
	// full disk (Reopened).
	reopened int
	// reserveHeld says the space reserve file is in place (storage.go).
	reserveHeld bool

	// scrub is the background scrubber's progress (scrub.go).
	scrub scrubState

	lastCheckpointMs int64
	lastRetentionMs  int64
	lastBackgroundMs int64
	closed           bool
	// ownLock is the disk lock New took (nil when the driver holds one).
	ownLock disk.Lock
}

// topicState is a topic and its open partitions.
type topicState struct {
	meta       *metadata.Topic
	partitions []*partition
	logConfig  partlog.Config
}

// partition is one partition of a topic on this broker.
type partition struct {
	topic *topicState
	index int32
	dir   string
	log   *partlog.Log // nil while offline
	// offlineErr says why log is nil (failed recovery, failed sync).
	offlineErr error
	// hosted says this broker is a replica of the partition (its log is
	// open, or offline with offlineErr set).
	hosted bool
	// The partition's state in the image, as this broker acts on it.
	role           partitionRole
	leaderID       int32
	leaderEpoch    int32
	partitionEpoch int32
	replicas       []int32
	isr            []int32
	// lead is the leader's state (core/replication): followers' progress,
	// the log end when this leadership began, an ISR change in flight.
	lead replication.Leader
	// resignRetryAtMs is when this broker may ask again to leave the ISR
	// of a partition whose copy cannot serve (resignOffline), after a
	// pause of resignBackoffMs that doubles while the image shows it in.
	resignRetryAtMs int64
	resignBackoffMs int64
	// resignListed says p is on Broker.resigning.
	resignListed bool
	// resignCand says p is on Broker.resignCands.
	resignCand bool
	// fetch is the follower's fetch state (core/replication): a fetch in
	// flight, a pause after a failed one, when the last was answered.
	fetch replication.Fetching

	syncing bool // a sync job is in flight
	// cleaning: a compaction job of this partition is in flight
	// (compaction.go); the partition's directory stays until it lands.
	cleaning bool
	// removeDirAtSyncDone: the partition's topic was deleted while a
	// sync job was in flight; its directory goes at SyncDone
	// (removeDeletedDir).
	removeDirAtSyncDone bool
	// lastAppendEnd is the end offset of the latest append, which a produce
	// waits for the high watermark to reach.
	lastAppendEnd int64
	deleted       bool // the topic was deleted; ignore late sync results
	// durableAtFailure is the durable end the log had reached when it
	// failed (-1: unknown); a reopen cuts what lies above it
	// (partlog.Reopen).
	durableAtFailure int64
	// cutEpoch is the leader epoch this broker led at when its log failed
	// with records above the durable end (-1: none). The reopen cuts them,
	// but followers may have fetched them: leading again at that epoch
	// would write other records at the same offsets in the same epoch,
	// which no follower's epoch check can tell apart (storage.go).
	cutEpoch int32
	// retryAtMs is when an offline partition whose cause was a full disk
	// is reopened next (0: never), planned at retryFromMs after a pause
	// of retryBackoffMs (storage.go).
	retryAtMs, retryFromMs, retryBackoffMs int64
	// waiters are produce requests waiting for the high watermark to pass
	// their batch, in append order (so ascending targets).
	waiters []produceWaiter
	// scrubOffset is where the background scrubber reads p's log next
	// (scrub.go).
	scrubOffset int64
	// fetchWaiters are the long-polling fetches that name p, in arrival
	// order; fetchWaitersDone of them were answered since the list was
	// last compacted (01_fetch.go). fetchTouched says p is in
	// Broker.fetchTouched; fetchSeen is the last waiting fetch that
	// registered with p.
	fetchWaiters     []*waitingFetch
	fetchWaitersDone int
	fetchTouched     bool
	fetchSeen        uint64
	// syncCandidate says p is in Broker.syncCandidates.
	syncCandidate bool
	// CheckInvariants' bookkeeping: rechecked says p is on
	// Broker.recheckList; listedRole is p's role when the role lists were
	// last built; checkGen is the full pass p's snapshot (its waiting
	// fetch entries and its produce waiters' requests) belongs to.
	rechecked           bool
	listedRole          partitionRole
	checkGen            uint64
	checkedFetchEntries int
	checkedPendings     []*pendingProduce
}

// New opens (recovering from disk) the broker's state. It refuses a disk
// that another live broker holds (disk.ErrLocked): two writers of one log
// would lose acknowledged records.
func New(cfg Config, env Env, nowMs int64) (_ *Broker, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	if env.Disk == nil || env.Replier == nil || env.Syncer == nil || env.Logger == nil || env.Random == nil {
		return nil, errors.New("broker: incomplete environment")
	}
	if (env.Quorum == nil) != (env.Network == nil) {
		return nil, errors.New("broker: a cluster needs both a quorum and a network")
	}
	var ownLock disk.Lock
	if l, ok := env.Disk.(disk.Locker); ok && env.DiskLock == nil {
		if ownLock, err = l.Lock(); err != nil {
			return nil, fmt.Errorf("broker: lock the data directory: %w", err)
		}
		defer func() {
			if err != nil {
				_ = ownLock.Release()
			}
		}()
	}
	b := &Broker{
		cfg:              cfg,
		env:              env,
		topics:           map[string]*topicState{},
		lastCheckpointMs: nowMs,
		lastRetentionMs:  nowMs,
		lastCleanMs:      nowMs,
		lastBackgroundMs: nowMs,
		scrub:            scrubState{lastMs: nowMs},
		nowMs:            nowMs,
		controllerID:     -1,
		proposals:        map[uint64]*proposal{},
		coordWaiting:     map[coord.ReplyRef]*coordWaiter{},
		peerCalls:        map[uint64]*peerCall{},
		image:            metadata.NewImage(),
		ownLock:          ownLock,
		recheckFull:      true,
	}
	b.ctrl = controller.New(controller.Config{SessionTimeoutMs: b.cfg.SessionTimeoutMs}, (*controllerHost)(b))
	var inc uint64
	for inc == 0 {
		inc = env.Random.Uint64() >> 1 // fits the int64 broker epoch
	}
	b.member = membership.New(b.membershipConfig(), inc, (*memberHost)(b))
	groupRT, err := b.newGroupRuntime()
	if err != nil {
		return nil, fmt.Errorf("broker: group coordinators: %w", err)
	}
	b.groupRT = groupRT
	txnRT, err := b.newTxnRuntime()
	if err != nil {
		return nil, fmt.Errorf("broker: transaction coordinators: %w", err)
	}
	b.txnRT = txnRT
	if b.clustered() {
		// The image arrives through RestoreMetadata and ApplyMetadata as
		// the quorum replays its log; partitions open as it names them.
		return b, nil
	}
	if err := b.loadImage(); err != nil {
		return nil, err
	}
	b.reconcile(nowMs)
	b.removeOrphanDirs()
	b.findReserve()
	b.keepReserve()
	// Register this process and lead again: the new incarnation fences the
	// old one, so every partition moves to a new leader epoch.
	var failed int16
	b.imageInline = true
	b.propose(nowMs, []metadata.Record{
		{RegisterBroker: &metadata.RegisterBroker{ID: cfg.NodeID, Host: cfg.AdvertisedHost, Port: max(cfg.AdvertisedPort, 1), Incarnation: b.member.Incarnation()}},
		{UnfenceBroker: &metadata.UnfenceBroker{ID: cfg.NodeID, Incarnation: b.member.Incarnation()}},
	}, func(_ int64, results []metadata.Result, code int16) {
		failed = code
		for _, r := range results {
			if r.Err != nil && failed == kerrNone {
				failed = kerrInvalidRequest
			}
		}
	})
	b.imageInline = false
	if failed != kerrNone {
		return nil, fmt.Errorf("register node %d in the metadata image: error code %d", cfg.NodeID, failed)
	}
	return b, nil
}

const imageFile = "metadata.json"

// imageState is what the broker persists besides the topics.
func (b *Broker) loadImage() error {
	data, err := b.env.Disk.ReadFile(imageFile)
	switch {
	case errors.Is(err, disk.ErrNotExist):
		b.image = metadata.NewImage()
		return b.saveImage()
	case err != nil:
		return fmt.Errorf("read %s: %w", imageFile, err)
	}
	im, err := metadata.Unmarshal(data)
	if err != nil {
		// Refuse to start rather than guess: deleting or recreating topics
		// from a damaged image could lose data.
		return fmt.Errorf("load %s: %w", imageFile, err)
	}
	// Images written before clusters existed have no assignments: this
	// node holds every partition.
	im.AssignAllTo(b.cfg.NodeID)
	b.image = im
	return nil
}

func (b *Broker) saveImage() error {
	data, err := b.image.Marshal()
	if err != nil {
		return err
	}
	if err := b.env.Disk.WriteFileAtomic(imageFile, data); err != nil {
		return fmt.Errorf("write %s: %w", imageFile, err)
	}
	return nil
}

// partitionDir is Kafka's directory name for a partition.
func partitionDir(topic string, p int32) string { return fmt.Sprintf("%s-%d", topic, p) }

// partitionMetadataFile names the file in a partition directory that
// records its topic id, as Kafka's partition.metadata does: a directory
// left by an older topic of the same name (deleted while this broker was
// down) is recognised and cleared instead of being served as the new one.
const partitionMetadataFile = "partition.metadata"

// openPartition opens (recovering) the log of a partition this broker
// replicates. A partition whose recovery fails stays offline
// (KAFKA_STORAGE_ERROR) instead of failing the broker; when the cause was
// a full disk it is retried (storage.go).
func (b *Broker) openPartition(ts *topicState, i int32, nowMs int64) *partition {
	p := &partition{topic: ts, index: i, dir: partitionDir(ts.meta.Name, i), hosted: true, leaderID: metadata.NoLeader, durableAtFailure: -1, cutEpoch: -1}
	data, err := b.env.Disk.ReadFile(p.dir + "/" + partitionMetadataFile)
	if err == nil && string(data) != partitionMetadata(ts) {
		b.env.Logger.Warn("clearing partition directory of an older topic", "partition", p.dir, "found", string(data))
		if err := b.env.Disk.RemoveAll(p.dir); err != nil {
			b.setOffline(p, fmt.Errorf("clear directory of an older topic: %w", err))
			return p
		}
	}
	b.openLog(nowMs, p)
	return p
}

// epochBound is the largest leader epoch a stored batch of p can carry,
// for recovery to cut a torn batch whose epoch field (outside the CRC)
// is garbage (partlog.OpenBounds, FINDINGS.md 16); -1 when unknown.
//
// On a single node it is the partition's leader epoch in the image: the
// image is local and authoritative, and applyLocal's image write lands
// (durably, atomically) before afterApply lets the broker lead at a new epoch,
// so no batch was ever stamped with a later one. A restart loads that
// same file.
//
// In a cluster the image at open time may be older than the data: the
// quorum restores a snapshot first and replays the entries after it
// later, while a batch this broker stored before a restart was written by
// a leader at an epoch committed since that snapshot. Bounding by such an
// image could cut synced, acknowledged records past the checkpointed
// recovery point, so a cluster broker passes no bound and relies on the
// leader-epoch checkpoint's bound only.
func (b *Broker) epochBound(p *partition) int32 {
	if b.clustered() {
		return -1
	}
	as := p.topic.meta.Assignments
	if p.index < 0 || int(p.index) >= len(as) {
		return -1
	}
	return as[p.index].LeaderEpoch
}

// partitionMetadata is the content of a partition's partitionMetadataFile.
func partitionMetadata(ts *topicState) string { return "topic_id: " + ts.meta.ID.String() + "\n" }

// openLog opens p's log from disk, cutting anything above
// p.durableAtFailure (partlog.Reopen), and reports whether p is online.
// On failure p is offline with the cause set.
func (b *Broker) openLog(nowMs int64, p *partition) bool {
	bounds := partlog.OpenBounds{
		DurableEnd: p.durableAtFailure, MaxLeaderEpoch: b.epochBound(p),
		KeepSyncedDamage: b.clustered(), MarkUncertainCut: b.clustered(), TrackSyncedEnd: b.clustered(),
		// A deleted topic's sync job may still write checkpoint files
		// into the directory after this topic took it over.
		Owner: p.topic.meta.ID.String(),
	}
	// Written by Open when missing and synced by the next job, ahead of
	// any data: a new partition costs the event loop no fsync.
	bounds.OwnerFile, bounds.OwnerFileData = partitionMetadataFile, []byte(partitionMetadata(p.topic))
	log, err := partlog.Reopen(b.env.Disk, p.dir, p.topic.logConfig, nowMs, bounds)
	if err == nil {
		log.SetCodecs(&b.codecs)
		if err = log.RewriteUnsynced(); err != nil {
			_ = log.Close()
		}
	}
	if err != nil {
		b.setOffline(p, fmt.Errorf("recovery failed: %w", err))
		return false
	}
	if info := log.Recovery(); info.TruncatedAt >= 0 || info.CheckpointCorrupt || info.SegmentsDeleted > 0 || info.Uncertain {
		b.env.Logger.Warn("partition recovered with repairs", "partition", p.dir,
			"truncated_at", info.TruncatedAt, "truncated_bytes", info.TruncatedBytes, "cause", info.Cause,
			"lost_durable_data", info.LostDurableData, "segments_deleted", info.SegmentsDeleted,
			"checkpoint_corrupt", info.CheckpointCorrupt, "recovery_point", info.RecoveryPoint,
			"uncertain", info.Uncertain, "synced_end", info.SyncedEnd, "log_end_offset", log.LogEndOffset())
	}
	// Records past the recovery point may be only in the page cache (a
	// killed process leaves it intact) or on disk already; either way they
	// are not known to be durable. Rewritten above (RewriteUnsynced: pages
	// a failed fsync left clean would not be written by a sync), they are
	// synced now, before the partition
	// serves anything: otherwise the high watermark would start at the
	// checkpointed recovery point, below offsets acknowledged before the
	// crash, and a consumer could be told an acknowledged record does not
	// exist yet (a stale read the simulator caught, seed 21).
	if job, ok := log.StartSync(); ok {
		err := job.Run()
		log.FinishSync(job, err)
		if err != nil {
			// p.durableAtFailure stays: this log's durable end starts at
			// the checkpointed recovery point, below records that may
			// have been acknowledged (synced before a crash, or before the
			// failure that led to this reopen), so it must not become the
			// next reopen's cut.
			_ = log.Close()
			b.setOffline(p, fmt.Errorf("recovery failed: sync recovered data: %w", err))
			return false
		}
	}
	p.log = log
	b.recheck(p)
	if log.Uncertain() {
		b.noteResignCandidate(p)
	}
	b.markUnsynced(p)
	p.offlineErr = nil
	p.durableAtFailure = -1
	b.scrub.soon = true
	p.retryAtMs = 0
	switch {
	case b.clustered():
		// In a cluster the high watermark is the one a leader announced
		// (recovery restored it from the checkpoint): records past it may
		// never have been committed, and a broker that restarts and then
		// leads must not serve them (sim three-node seed 312: a restarted
		// follower took its whole log as its high watermark, led, served
		// offsets its ISR peer never had, and later truncated them).
	case !b.cfg.SyncWrites:
		p.log.SetHighWatermark(p.log.LogEndOffset())
	default:
		p.log.SetHighWatermark(p.log.DurableEndOffset())
	}
	return true
}

// removeOrphanDirs deletes partition directories of topics that are not in
// the image: leftovers of a delete that crashed half way, or of a create
// that crashed before its image write (that create was never acknowledged).
func (b *Broker) removeOrphanDirs() {
	names, err := b.env.Disk.List(".")
	if err != nil {
		b.env.Logger.Warn("list data dir", "err", err)
		return
	}
	for _, name := range names {
		topic, part, ok := splitPartitionDir(name)
		if !ok {
			continue
		}
		if ts := b.topics[topic]; ts != nil && part < int32(len(ts.partitions)) && ts.partitions[part].hosted {
			continue
		}
		b.env.Logger.Warn("removing partition directory of unknown topic", "dir", name)
		if err := b.env.Disk.RemoveAll(name); err != nil {
			b.env.Logger.Warn("remove orphan", "dir", name, "err", err)
		}
	}
}

// splitPartitionDir parses "topic-N".
func splitPartitionDir(name string) (string, int32, bool) {
	for i := len(name) - 1; i > 0; i-- {
		c := name[i]
		if c == '-' {
			if i == len(name)-1 {
				return "", 0, false
			}
			var n int64
			for _, d := range name[i+1:] {
				n = n*10 + int64(d-'0')
				if n > 1<<31-1 {
					return "", 0, false
				}
			}
			return name[:i], int32(n), validTopicName(name[:i]) == nil
		}
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	return "", 0, false
}

// topicNames returns live topic names sorted.
func (b *Broker) topicNames() []string { return b.image.TopicNames() }

// lookupPartition finds a partition by topic name.
func (b *Broker) lookupPartition(topic string, p int32) *partition {
	ts := b.topics[topic]
	if ts == nil || p < 0 || p >= int32(len(ts.partitions)) {
		return nil
	}
	return ts.partitions[p]
}

// highWatermark is what consumers may read up to.
func (p *partition) highWatermark() int64 {
	if p.log == nil {
		return -1
	}
	return p.log.HighWatermark()
}

// Tick runs timers: expired long-polls, background syncs, checkpoints and
// retention. The node calls it at NextWakeMs or sooner.
func (b *Broker) Tick(nowMs int64) {
	b.observeNow(nowMs)
	if b.closed {
		return
	}
	b.expireParked(nowMs)
	b.expireFetches(nowMs)
	b.expireProduces(nowMs)
	b.retryOffline(nowMs)
	b.expireProposals(nowMs)
	b.ctrl.Tick(nowMs)
	b.member.Tick(nowMs)
	b.retryResigns(nowMs)
	b.shrinkISRs(nowMs)
	b.scrubTick(nowMs)
	b.runFetchers(nowMs)
	b.tickCoordinators(nowMs)
	b.startClean(nowMs)
	b.settle(nowMs)
	if !b.cfg.SyncWrites && nowMs-b.lastBackgroundMs >= b.cfg.BackgroundSyncMs {
		b.lastBackgroundMs = nowMs
		b.forEachPartition(func(p *partition) { b.startSync(p) })
	}
	if nowMs-b.lastCheckpointMs >= b.cfg.CheckpointIntervalMs {
		b.lastCheckpointMs = nowMs
		b.requestCheckpoints()
		b.keepReserve()
	}
	if nowMs-b.lastRetentionMs >= b.cfg.RetentionCheckIntervalMs {
		b.lastRetentionMs = nowMs
		b.applyRetention(nowMs)
	}
}

// NextWakeMs is the latest time by which Tick must run again.
func (b *Broker) NextWakeMs(nowMs int64) int64 {
	next := b.lastCheckpointMs + b.cfg.CheckpointIntervalMs
	if r := b.lastRetentionMs + b.cfg.RetentionCheckIntervalMs; r < next {
		next = r
	}
	if !b.cfg.SyncWrites {
		if s := b.lastBackgroundMs + b.cfg.BackgroundSyncMs; s < next {
			next = s
		}
	}
	for _, w := range b.waitingFetches {
		if w.deadlineMs < next {
			next = w.deadlineMs
		}
	}
	if len(b.parked) > 0 {
		next = min(next, b.parked[0].deadlineMs)
	}
	for _, w := range b.deleteWaiters {
		next = min(next, w.deadlineMs)
	}
	next = b.retryNextWakeMs(nowMs, next)
	next = b.scrubNextWakeMs(next)
	next = b.clusterNextWakeMs(nowMs, next)
	if b.anyCompacted && !b.cleanInFlight {
		next = min(next, b.lastCleanMs+b.cfg.CleanerBackoffMs)
	}
	if c := b.coordinatorsWakeMs(nowMs); c >= 0 {
		next = min(next, c)
	}
	if next < nowMs {
		next = nowMs
	}
	return next
}

// forEachPartition visits every partition in topic-name order. The
// order is cached (reconcile rebuilds it): sorting the names on every call
// cost more than the visits with hundreds of topics, since Flush,
// NextWakeMs and the fetchers run after every event.
func (b *Broker) forEachPartition(fn func(p *partition)) {
	for _, ts := range b.orderedTopics() {
		for _, p := range ts.partitions {
			fn(p)
		}
	}
}

// setRole changes p's role; the role lists (roleLists) are rebuilt at
// their next use.
func (b *Broker) setRole(p *partition, r partitionRole) {
	if p.role != r {
		p.role = r
		b.rolesStale = true
		b.recheck(p)
	}
}

// roleLists returns the partitions this broker leads and those it
// follows, each in topic-name order (cached; rebuilt after a role or
// topic change). The timers that concern only leaders or followers walk
// these instead of every partition after every event.
func (b *Broker) roleLists() (leading, following []*partition) {
	if b.rolesStale || b.topicOrder == nil {
		// New slices: a pass over the old ones may still be running
		// (alterISR can apply metadata on the controller's own node).
		b.leading, b.following = nil, nil
		b.forEachPartition(func(p *partition) {
			p.listedRole = p.role
			switch p.role {
			case roleLeader:
				b.leading = append(b.leading, p)
			case roleFollower:
				b.following = append(b.following, p)
			}
		})
		b.rolesStale = false
	}
	return b.leading, b.following
}

// orderedTopics returns the open topics sorted by name (cached).
func (b *Broker) orderedTopics() []*topicState {
	if b.topicOrder == nil {
		b.topicOrder = make([]*topicState, 0, len(b.topics))
		for _, name := range sortedKeys(b.topics) {
			b.topicOrder = append(b.topicOrder, b.topics[name])
		}
	}
	return b.topicOrder
}

// requestCheckpoints is the periodic checkpoint: every log whose
// checkpoint would change asks its next sync job to write it after its
// fsyncs (partlog.Log.RequestCheckpoint), off the event loop, and a sync
// starts now where none is in flight (else the next one, which Flush
// starts after SyncDone, carries it: needsFlush).
func (b *Broker) requestCheckpoints() {
	b.forEachPartition(func(p *partition) {
		if p.log == nil {
			return
		}
		due, err := p.log.RequestCheckpoint()
		if err != nil {
			b.env.Logger.Warn("checkpoint failed", "partition", p.dir, "err", err)
		}
		if !due {
			return
		}
		b.recheck(p)
		b.startSync(p)
		if !p.syncing {
			b.markUnsynced(p)
		}
	})
}

// checkpointAll writes every log's checkpoint now, on the loop: for a
// clean shutdown, after the last syncs.
func (b *Broker) checkpointAll() {
	b.recheckAll() // every log's recovery point may move
	b.forEachPartition(func(p *partition) {
		if p.log == nil {
			return
		}
		if err := p.log.Checkpoint(); err != nil {
			b.env.Logger.Warn("checkpoint failed", "partition", p.dir, "err", err)
		}
	})
}

func (b *Broker) applyRetention(nowMs int64) {
	b.recheckAll() // every log may lose segments
	b.forEachPartition(func(p *partition) {
		if p.log == nil {
			return
		}
		var n int
		start := p.log.LogStartOffset()
		err := b.withSpace("retention checkpoint", func() (err error) {
			n, err = p.log.ApplyRetention(nowMs)
			return err
		})
		if p.log != nil && p.log.LogStartOffset() != start {
			b.touchFetches(p) // a long poll below the new start gets its error
		}
		if p.log != nil {
			b.markUnsynced(p)
		}
		if err != nil {
			b.env.Logger.Warn("retention failed", "partition", p.dir, "err", err)
			return
		}
		if n > 0 {
			b.env.Logger.Info("retention deleted segments", "partition", p.dir, "segments", n, "log_start_offset", p.log.LogStartOffset())
		}
	})
	b.keepReserve() // the pass may have used the reserve and freed room
	b.wakeFetches(nowMs)
}

// Flush starts a sync for every partition with unsynced writes and no sync
// in flight. The node calls it after draining a batch of events, so that
// one fsync covers everything appended meanwhile (group commit).
func (b *Broker) Flush() {
	if b.closed || !b.cfg.SyncWrites {
		return
	}
	// Only partitions written to (or synced) since they last had nothing
	// to sync can have something to sync now (markUnsynced): scanning
	// every partition here, after every event, cost more than the syncs.
	// The list is double-buffered: startSync may report a sync done at
	// once, which marks again, into the other slice (syncSpare, taken
	// here, so a nested Flush could not share it).
	cands := b.syncCandidates
	b.syncCandidates = b.syncSpare[:0]
	b.syncSpare = nil
	defer func() {
		if b.syncSpare == nil {
			clear(cands) // keep no partition alive
			b.syncSpare = cands[:0]
		}
	}()
	for _, p := range cands {
		b.recheck(p)
		p.syncCandidate = false
		if !p.needsFlush() {
			continue
		}
		b.startSync(p)
		if !p.syncing {
			b.markUnsynced(p) // e.g. acks=all waiters on synced data: checked again next time
		}
	}
}

// needsFlush is Flush's condition for starting a sync of p.
func (p *partition) needsFlush() bool {
	return len(p.waiters) > 0 || (p.log != nil && (p.log.DurableEndOffset() < p.log.LogEndOffset() || p.log.CheckpointRequested()))
}

// markUnsynced records that p's log was written or synced, so that the
// next Flush looks at it (a no-op without sync writes, where Flush does
// nothing and Tick syncs every partition in the background).
func (b *Broker) markUnsynced(p *partition) {
	b.recheck(p) // every caller has just written or synced p's log
	if !b.cfg.SyncWrites || p.syncCandidate {
		return
	}
	p.syncCandidate = true
	b.syncCandidates = append(b.syncCandidates, p)
}

func (b *Broker) startSync(p *partition) {
	if p.syncing || p.log == nil {
		return
	}
	job, ok := p.log.StartSync()
	if !ok {
		return
	}
	p.syncing = true
	b.recheck(p)
	b.env.Syncer.StartSync(SyncToken{p: p}, job)
}

// SyncDone reports the end of a sync job started through Syncer.
func (b *Broker) SyncDone(nowMs int64, token SyncToken, job *partlog.SyncJob, err error) {
	b.observeNow(nowMs)
	p := token.p
	if p == nil {
		if !b.closed {
			b.imageWritten(nowMs, job, err)
			b.settle(nowMs)
		}
		return
	}
	if token.cleanOf != nil {
		b.cleanDone(nowMs, token, job, err)
		return
	}
	p.syncing = false
	b.recheck(p)
	if p.removeDirAtSyncDone && !p.cleaning {
		b.removeDeletedDir(p)
	}
	if p.deleted || p.log == nil || b.closed {
		return
	}
	b.finishSync(nowMs, p, job, err)
	b.settle(nowMs)
	if p.role == roleFollower {
		b.runFetchers(nowMs)
	}
}

// removeDeletedDir removes the directory of a deleted topic's partition
// whose removal waited for the sync job that was in flight
// (removeTopicLocal): the job writes checkpoint files into it off the
// loop, and one created while the directory was being removed would
// outlive it, to be read by a topic of the same name created later.
// A partition of such a topic that uses the directory already took it
// over (openPartition clears a directory of an older topic), so it is
// left alone then.
func (b *Broker) removeDeletedDir(p *partition) {
	p.removeDirAtSyncDone = false
	if q := b.lookupPartition(p.topic.meta.Name, p.index); q != nil && q != p && q.hosted {
		return
	}
	if err := b.env.Disk.RemoveAll(p.dir); err != nil {
		b.env.Logger.Warn("delete partition files", "partition", p.dir, "err", err)
	}
}

// finishSync applies a sync result: the durable end moves, and with sync
// writes the high watermark follows it; a failure takes p offline.
func (b *Broker) finishSync(nowMs int64, p *partition, job *partlog.SyncJob, err error) {
	if err != nil && bugs.FsyncFailureTrusted && job.Run() == nil {
		// Deliberate bug (core/bugs): the retried fsync "succeeds"
		// without writing the pages the failed one left clean.
		err = nil
	}
	p.log.FinishSync(job, err)
	b.markUnsynced(p) // writes made during the sync wait for the next one
	if err != nil {
		b.takeOffline(p, fmt.Errorf("fsync: %w", err))
		return
	}
	// Writes reach the disk again: a later failure starts its retries
	// from the shortest pause.
	p.retryBackoffMs = 0
	if p.role == roleLeader {
		b.updateLeaderHW(p)
		// acks=1 waits for the leader's own sync only.
		b.hwRaised = append(b.hwRaised, p)
	}
}

// takeOffline closes a failed partition: its waiting produces fail with
// KAFKA_STORAGE_ERROR, its long-polling fetches are answered with that
// error at the next settle, and it answers every later request with it
// until it is recovered from disk: by a reopen once writes succeed again
// when the cause was a full disk (storage.go), else by a restart.
//
// In a cluster, a leader also hands the partition over: it asks the
// controller to take it out of the ISR (AlterPartition without itself), so
// another ISR member leads instead of the partition staying unavailable
// until this broker restarts. A follower stops fetching and drops out of
// the ISR after replica.lag.time.max.ms, as in Kafka.
//
// A cluster copy found damaged (partlog.ErrCorruptSegment) is first
// marked uncertain, durably (markSyncedDamage).
func (b *Broker) takeOffline(p *partition, cause error) {
	wasLeader := p.role == roleLeader
	b.recheck(p)
	if p.log != nil {
		p.durableAtFailure = p.log.DurableEndOffset()
		if wasLeader && b.clustered() && p.log.LogEndOffset() > p.durableAtFailure {
			p.cutEpoch = max(p.cutEpoch, p.leaderEpoch)
		}
		if b.clustered() && errors.Is(cause, partlog.ErrCorruptSegment) {
			b.markSyncedDamage(p, cause)
		}
		_ = p.log.Close()
		p.log = nil
	}
	b.setRole(p, roleNone)
	b.coordinatorRoleChanged(p)
	b.setOffline(p, cause)
	b.failProduceWaiters(p, kerrKafkaStorageError)
	// Long polls waiting on p get the error at once, from settle: waking
	// them here could run in the middle of a produce request's loop.
	b.hwRaised = append(b.hwRaised, p)
	if wasLeader || (p.leaderID != b.cfg.NodeID && p.leaderID != metadata.NoLeader) {
		b.resignOffline(b.nowMs, p) // a follower leaves the ISR (replication.go)
	}
}

// markSyncedDamage marks a cluster copy that a read or the scrubber just
// found damaged as uncertain (partlog.Log.MarkUncertain), durably, before
// it is reported offline. A read reports ErrCorruptSegment only below the
// log's durable end (damage above it is partlog.ErrUnsyncedLost), so the
// batch was synced and may have been acknowledged; but the checkpointed
// recovery point trails the durable end by up to CheckpointIntervalMs, and
// with the log closed no later checkpoint catches up. Recovery after a
// restart then takes the damaged batch, above that recovery point, for a
// torn tail and cuts it, and the copy, when it is still the last ISR
// member, would lead without acknowledged records (simulator seed
// 731000057: a media flip at 51, reported, the recovery point at 51, a cut
// to 51 below the high watermark 53). Marked, the reopened copy is an
// uncertain one, like a copy cut without its checkpoint (FINDINGS.md 25):
// it does not lead until a leader has admitted it to the ISR again, so a
// cut copy fetches what it lost from another replica, and the last ISR
// member leaves the partition offline. A batch below the checkpointed
// recovery point is kept as corrupt by recovery instead
// (partlog.OpenBounds.KeepSyncedDamage). A single node keeps Kafka's cut:
// it has no other copy.
//
// If the mark cannot be written the copy is reported all the same; the
// warning says a restart may cut the damage silently.
func (b *Broker) markSyncedDamage(p *partition, cause error) {
	why := fmt.Sprintf("synced data found damaged below the durable end %d: %v", p.durableAtFailure, cause)
	if err := p.log.MarkUncertain(why); err != nil {
		b.env.Logger.Warn("could not mark a damaged copy uncertain: a restart may cut the damage as a torn tail",
			"partition", p.dir, "durable_end_offset", p.durableAtFailure, "err", err)
	}
}

// ConnClosed drops the long-polling fetches of a closed connection.
func (b *Broker) ConnClosed(conn ConnID) {
	b.parked = slices.DeleteFunc(b.parked, func(pr parkedRequest) bool { return pr.req.Conn == conn })
	b.waitingFetches = slices.DeleteFunc(b.waitingFetches, func(w *waitingFetch) bool {
		if w.req.Conn != conn {
			return false
		}
		b.dropWaitingFetch(w)
		return true
	})
	b.deleteWaiters = slices.DeleteFunc(b.deleteWaiters, func(w *deleteWaiter) bool { return w.pending.req.Conn == conn })
}

// Shutdown answers every waiting fetch, syncs nothing itself (the node
// drains sync jobs first), checkpoints and closes all logs.
func (b *Broker) Shutdown(nowMs int64) {
	b.observeNow(nowMs)
	if b.closed {
		return
	}
	waiting := b.waitingFetches
	b.waitingFetches = nil // answering can wake fetches, which edits the list
	for _, w := range waiting {
		if !w.done {
			b.answerFetch(nowMs, w)
		}
	}
	b.finishDeleteWaiters(func(*deleteWaiter) (int16, bool) { return kerrNotLeaderOrFollower, true })
	// Parked requests get no answer: their connections close with the
	// listener, and the clients retry elsewhere.
	b.parked = nil
	b.failImageWrites(nowMs, kerrRequestTimedOut)
	for _, seq := range sortedKeys(b.proposals) {
		p := b.proposals[seq]
		delete(b.proposals, seq)
		p.done(nowMs, nil, kerrRequestTimedOut)
	}
	b.failProducerIDWaiters(kerrRequestTimedOut)
	b.recheckAll() // every log closes
	b.checkpointAll()
	b.forEachPartition(func(p *partition) {
		b.failProduceWaiters(p, kerrRequestTimedOut)
		if p.log != nil {
			if err := p.log.Close(); err != nil {
				b.env.Logger.Warn("close log", "partition", p.dir, "err", err)
			}
		}
	})
	b.closed = true
	if err := b.ReleaseDisk(); err != nil {
		b.env.Logger.Warn("release data directory lock", "err", err)
	}
}

// ReleaseDisk gives back the disk lock New took, if it took one. Shutdown
// calls it; a driver that models a killed process calls it instead (the
// kernel releases a real process's lock when it dies).
func (b *Broker) ReleaseDisk() error {
	if b.ownLock == nil {
		return nil
	}
	l := b.ownLock
	b.ownLock = nil
	return l.Release()
}

// SyncAllBlocking is used on graceful shutdown: it runs every pending sync
// job inline so the final checkpoint records a recovery point at the log
// end and restart needs no scan. An image write is never pending here
// without being in flight (applyLocal starts one as soon as the previous
// lands); one in flight is the host's to land first (SyncInFlight counts
// it), and Shutdown answers it REQUEST_TIMED_OUT if the host gave up.
func (b *Broker) SyncAllBlocking(nowMs int64) {
	b.observeNow(nowMs)
	b.recheckAll() // every log may sync
	b.forEachPartition(func(p *partition) {
		if p.log == nil || p.syncing {
			return
		}
		job, ok := p.log.StartSync()
		if !ok {
			return
		}
		b.finishSync(nowMs, p, job, job.Run())
	})
}

// SyncInFlight reports whether any sync job is outstanding, the image
// write included (entries queued behind it start when it lands).
func (b *Broker) SyncInFlight() bool {
	inFlight := b.imageJob != nil
	b.forEachPartition(func(p *partition) { inFlight = inFlight || p.syncing || p.cleaning })
	return inFlight
}

// sortedKeys returns a map's keys in order, so that no output depends on
// Go's map iteration order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
