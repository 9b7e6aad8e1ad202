package sim

import (
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	lin "github.com/chronik-streaming/chronik/linearizability"
)

// Options tune a run; the zero value is the standard scenario.
type Options struct {
	// EventLog, if set, receives a human-readable line per notable event
	// (connections, faults, history, broker log lines).
	EventLog io.Writer
	// VisualizationDir is where porcupine's HTML goes when a history is
	// not linearizable; empty means none is written.
	VisualizationDir string
	// FaultPhase overrides the length of the faulty phase.
	FaultPhase Time
	// Nodes, if set, overrides the number of nodes drawn for the seed
	// (1: a single node with its local metadata log; more: a cluster).
	Nodes int
}

// Result is the outcome of one run.
type Result struct {
	Seed     uint64
	Settings string
	// Trace is the hash of everything that happened; equal seeds at the
	// same commit give equal traces.
	Trace string
	// Failures are the checkers' findings; empty means the run passed.
	Failures []string
	// Notes are things worth knowing that are not failures (a
	// quarantined partition).
	Notes []string
	// VisualizationPath is porcupine's HTML for an illegal history.
	VisualizationPath string
	// CheckSteps is the most step-budget units porcupine used on one
	// partition (linearizability.Options.StepBudget).
	CheckSteps int64

	Events   uint64
	Ops      int
	SimTime  Time
	WallTime time.Duration // the whole run
	SimWall  time.Duration // the simulation, without the checks
	Stats    string
	// Reopens counts partitions that came back by themselves after a
	// full disk (coverage of the broker's storage retry).
	Reopens int
	// Coverage counts the transitions the run reached (coverage.go).
	Coverage Coverage
	// Probes are the latencies of the quiet windows' acknowledged probes
	// (quiet.go).
	Probes []Time
}

// OK reports whether the run passed.
func (r *Result) OK() bool { return len(r.Failures) == 0 }

// Line is the one-line summary printed for every run.
func (r *Result) Line() string {
	status := "ok"
	if !r.OK() {
		status = "FAIL"
	}
	return fmt.Sprintf("seed=%d %s faults={%s} trace=%s (%d ops, %d events, %.1fs virtual in %s, checks %s, %d steps)", r.Seed, status, r.Settings, r.Trace, r.Ops, r.Events, r.SimTime.Seconds(), r.SimWall.Round(time.Millisecond), (r.WallTime - r.SimWall).Round(time.Millisecond), r.CheckSteps)
}

type stats struct {
	kills, powerLosses, graceful, resets, partitions int
	diskFaults, flips, mediaFlips, garbage           int
	clockJumps, startFailures                        int
	// Cluster runs.
	nodePartitions, controlledStops, controllerMoves int

	// fsyncFull counts fsyncs failed by a full disk, fsyncFailed those
	// failed by an injected I/O error (both leave their pages as
	// memdisk.FailWriteback does); reopens the partitions that came back
	// by themselves after one (coverage).
	fsyncFull, fsyncFailed, reopens int
}

func (s stats) String() string {
	out := fmt.Sprintf("kills=%d power-losses=%d graceful=%d resets=%d partitions=%d disk-faults=%d flips=%d media-flips=%d torn-garbage=%d clock-jumps=%d start-failures=%d",
		s.kills, s.powerLosses, s.graceful, s.resets, s.partitions, s.diskFaults, s.flips, s.mediaFlips, s.garbage, s.clockJumps, s.startFailures)
	if s.fsyncFull+s.reopens > 0 {
		out += fmt.Sprintf(" fsync-full=%d reopens=%d", s.fsyncFull, s.reopens)
	}
	if s.fsyncFailed > 0 {
		out += fmt.Sprintf(" fsync-failed=%d", s.fsyncFailed)
	}
	if s.nodePartitions+s.controlledStops+s.controllerMoves > 0 {
		out += fmt.Sprintf(" node-partitions=%d controlled-stops=%d controller-moves=%d", s.nodePartitions, s.controlledStops, s.controllerMoves)
	}
	return out
}

// world is one run: the scheduler, the network, the nodes, the clients,
// the workload's knowledge and the history.
type world struct {
	seed      uint64
	set       Settings
	s         scheduler
	tr        *tracer
	root      *Rand
	netRng    *Rand
	faultRng  *Rand
	brokerCfg broker.Config
	// raft is the metadata quorum of a cluster run (nil on a single node);
	// startGap is when the workload and the faults start.
	raft     *raftModel
	startGap Time
	// rogue sends control-plane requests to client listeners (rogue.go);
	// nil in the seeds without one.
	rogue      *rogue
	scenRng    *Rand
	truncTraps []truncTrap

	nodes      []*simNode
	clients    []*client
	links      []*link
	conns      []*conn
	nextConnID uint64

	reg registry
	// answerExact is, while a client's callback runs, the partitions its
	// answer gave exactly (see reads.go).
	answerExact []lin.TopicPartition
	history     []lin.Op
	open        []*pendingOp
	failures    []string
	notes       []string

	// faultsOn is true while faults are injected: the fault phase outside
	// its quiet windows; faultGen counts the arming and healing of faults,
	// so that loops and heals from before a quiet window stay moot.
	faultsOn        bool
	faultGen        uint64
	q               quietState
	workloadStopped bool
	diskFullUntil   Time
	// quarantine holds the partitions a media flip left without a good
	// copy, with the flip's time.
	quarantine map[lin.TopicPartition]Time
	// mediaFlips are the flips that stay checked (clusters, mediaflip.go).
	mediaFlips []*mediaFlip
	// ckptFlips marks the copies whose partition checkpoint took a bit
	// flip (faultFlip), which can make recovery cut them uncertain
	// (mediaflip.go, uncertainLastCopy).
	ckptFlips map[copyKey]bool
	done      bool
	// deletes are the acknowledged DeleteRecords per partition (trim.go).
	deletes map[lin.TopicPartition][]ackedStart
	// deleteSent is when the last DeleteRecords of each partition was sent;
	// deleteInFlight counts those not answered yet, and retrying the
	// idempotent appends being retried after an attempt that may have
	// landed (trim.go's mayTrim and the trimmer keep them apart).
	deleteSent     map[lin.TopicPartition]Time
	deleteInFlight map[lin.TopicPartition]int
	retrying       map[lin.TopicPartition]int

	// finalPowerIfFsyncFull makes the final restart a power loss when an
	// fsync failed (on a full disk or with an I/O error) during the run
	// (drawFullSync).
	finalPowerIfFsyncFull bool

	final     *finalizer
	finalPlan string

	logw  io.Writer
	stats stats
	cov   Coverage
	// trapRng draws the catch-up trap (catchup.go), apart from the other
	// fault streams so that arming it leaves their draws alone.
	trapRng *Rand
	// repl holds the replication checkers and their traps (replcheck.go).
	repl *replChecker
	// trimTrapRng draws trim.go's trap, for the same reason.
	trimTrapRng *Rand
	// groups is the group workload and its checkers (groups.go,
	// groupcheck.go).
	groups *groupWorld
	// g848 is the KIP-848 group workload and its owner checker
	// (groups848.go).
	g848 *world848
	// compact is the compaction workload and its checker (compaction.go,
	// compactioncheck.go); nil in the seeds without it.
	compact *compactWorld
	// txn is the transactional workload and its checker (txn.go,
	// txncheck.go); nil in the seeds without it.
	txn *txnWorld
}

// startGap is when faults and the workload start on a single node, after
// the initial topics were created; a cluster first elects a controller
// and registers its brokers (clusterStartGap).
const (
	startGap        = Second
	clusterStartGap = 4 * Second
)

func newWorld(seed uint64, opts Options) *world {
	root := newRand(seed, "root")
	w := &world{
		seed:           seed,
		set:            drawSettings(root.Fork("settings")),
		tr:             newTracer(),
		root:           root,
		netRng:         root.Fork("net"),
		faultRng:       root.Fork("faults"),
		quarantine:     map[lin.TopicPartition]Time{},
		ckptFlips:      map[copyKey]bool{},
		deletes:        map[lin.TopicPartition][]ackedStart{},
		deleteSent:     map[lin.TopicPartition]Time{},
		deleteInFlight: map[lin.TopicPartition]int{},
		retrying:       map[lin.TopicPartition]int{},
		logw:           opts.EventLog,
		startGap:       startGap,
		trapRng:        root.Fork("catchup-trap"),
		trimTrapRng:    root.Fork("trim-trap"),
	}
	w.set.Cluster = drawCluster(root.Fork("cluster"), opts.Nodes)
	w.set.Trim = drawTrim(root.Fork("trim"))
	w.set.Groups = drawGroups(root.Fork("groups"))
	w.set.Groups.Static = drawGroupsStatic(root.Fork("groups-static"), w.set.Groups)
	w.set.Groups848 = drawGroups848(root.Fork("groups848"))
	w.set.Compact = drawCompaction(root.Fork("compaction"))
	w.set.Txn = drawTxn(root.Fork("txn"))
	drawCatchUpTrap(root.Fork("catchup"), &w.set.Cluster)
	if opts.FaultPhase > 0 {
		w.set.FaultPhase = opts.FaultPhase
	}
	w.q.windows = drawQuietWindows(root.Fork("quiet"), w.set.FaultPhase)
	cluster := w.set.Cluster.Nodes > 1
	if cluster {
		w.startGap = clusterStartGap
		w.set.Liveness = 60 * Second
		if w.set.Cluster.Hot {
			w.set.Work.Admin = true
			w.set.Work.AdminEvery = Second
		}
	}
	w.reg = registry{byName: map[string]*simTopic{}, known: map[lin.TopicPartition]int64{}}
	cfg := broker.DefaultConfig()
	cfg.AutoCreateTopics = false // topic names are never reused
	cfg.CheckpointIntervalMs = w.set.Log.CheckpointIntervalMs
	cfg.LogDefaults.SegmentBytes = w.set.Log.SegmentBytes
	cfg.LogDefaults.IndexIntervalBytes = w.set.Log.IndexIntervalBytes
	cfg.LogDefaults.SegmentMs = w.set.Log.SegmentMs
	// The simulated disk is full for a window of time, not for lack of
	// bytes: a reserve would free nothing. Reopens after a full disk are
	// retried often enough that the final-restart check (checkReopened)
	// can expect them done a second after the window closed.
	cfg.SpaceReserveBytes = 0
	// Groups (groups.go): a small offsets topic, and timeouts short
	// enough for rebalances inside the fault phase.
	cfg.OffsetsTopicPartitions = simOffsetsPartitions
	cfg.GroupCoordinator.InitialRebalanceDelayMs = simInitialRebalanceDelay
	cfg.GroupCoordinator.MinSessionTimeoutMs = simMinSessionTimeoutMs
	w.set.Groups848.apply(&cfg)
	cfg.StorageRetryBackoffMaxMs = 400
	if w.set.Trim.Every > 0 {
		cfg.RetentionCheckIntervalMs = w.set.Trim.RetentionCheckIntervalMs
	}
	if cluster {
		c := &w.set.Cluster
		cfg.HeartbeatIntervalMs = c.HeartbeatIntervalMs
		cfg.SessionTimeoutMs = c.SessionTimeoutMs
		cfg.ReplicaLagTimeMaxMs = c.ReplicaLagTimeMaxMs
		cfg.ReplicaFetchWaitMaxMs = c.ReplicaFetchWaitMaxMs
		cfg.ProposalTimeoutMs = c.ProposalTimeoutMs
	}
	if w.set.Compact.Topics > 0 {
		cfg.CleanerBackoffMs = w.set.Compact.CleanerBackoffMs
	}
	if w.set.Txn.Producers > 0 {
		// A small __transaction_state, and timed-out transactions
		// aborted within a second.
		cfg.TransactionStateLogNumPartitions = 3
		cfg.TxnCoordinator.AbortTimedOutIntervalMs = 500
	}
	w.brokerCfg = cfg

	for i := 1; i <= w.set.Cluster.Nodes; i++ {
		cr := root.Fork(fmt.Sprintf("clock/%d", i))
		n := &simNode{
			w:      w,
			id:     int32(i),
			cfg:    cfg,
			disk:   newSimDisk(w, root.Fork(fmt.Sprintf("disk/%d", i)), root.Fork(fmt.Sprintf("disk/%d/fsync-fail", i))),
			clock:  nodeClock{baseMs: 1_700_000_000_000, offset: Time(cr.Range(-int64(2*Second), int64(2*Second))), driftPPM: w.set.Clock.DriftPPM},
			random: root.Fork(fmt.Sprintf("node/%d/random", i)),
		}
		n.cfg.NodeID = int32(i)
		if cluster {
			n.cfg.AdvertisedHost = fmt.Sprintf("node%d", i)
			n.peerRng = root.Fork(fmt.Sprintf("peers/%d", i))
			n.peerFormat = kmsg.NewRequestFormatter(kmsg.FormatterClientID(fmt.Sprintf("chronik-node-%d", i)))
		}
		n.disk.node = n
		n.disk.stepRng = root.Fork(fmt.Sprintf("disk/%d/sync-steps", i))
		w.nodes = append(w.nodes, n)
	}
	adm := w.newClient("admin")
	var producers []*client
	for i := 0; i < w.set.Work.Producers; i++ {
		producers = append(producers, w.newClient(fmt.Sprintf("p%d", i)))
	}
	var consumers []*client
	for i := 0; i < w.set.Work.Consumers; i++ {
		consumers = append(consumers, w.newClient(fmt.Sprintf("c%d", i)))
	}
	fin := w.newClient("final")
	w.final = &finalizer{w: w, c: fin}
	w.q.probe = w.newClient("probe")
	var trim *client // created last: the other clients keep their ids
	if w.set.Trim.Every > 0 {
		trim = w.newClient("trimmer")
	}
	w.groups = newGroupWorld(w)
	w.groups.members = w.newGroupMembers() // after every other client: they keep their ids
	w.g848 = newWorld848(w)                // after those
	w.groups.trap = newGroupTrap(w, cluster && w.set.Groups.Members > 0)
	w.groups.vizDir = opts.VisualizationDir
	if cluster {
		for _, a := range w.nodes {
			a.peerLinks = make([]*link, len(w.nodes))
			for _, b := range w.nodes {
				if a != b {
					l := &link{name: fmt.Sprintf("n%d->n%d", a.id, b.id), fromNode: a, node: b}
					a.peerLinks[b.id-1] = l
					w.links = append(w.links, l)
				}
			}
		}
		w.raft = newRaftModel(w, w.set.Cluster.Raft, root.Fork("raft"))
		w.scenRng = root.Fork("scenario")
	}
	w.repl = newReplChecker(w)
	if cluster {
		w.repl.traps = newReplTraps(w, root.Fork("repl-traps"))
	}
	w.rogue = w.newRogue(root.Fork("rogue")) // rogue.go; nil in most seeds
	w.compact = newCompactWorld(w)           // after every other client: they keep their ids
	w.txn = newTxnWorld(w)                   // after those

	// Boot: the nodes start, the admin creates the initial topics, then
	// faults and the workload begin.
	w.s.at(0, "boot", func() {
		for _, n := range w.nodes {
			n.start()
		}
		a := &admin{c: adm}
		for i := 0; i < w.set.Work.InitialTopics; i++ {
			a.create(int32(adm.rng.Range(1, 3)))
		}
		w.s.at(w.startGap, "start", func() {
			w.faultsOn = true
			w.startFaults()
			var desc []string
			for _, c := range producers {
				desc = append(desc, c.name+":"+w.newProducer(c).desc())
			}
			for _, c := range consumers {
				desc = append(desc, c.name+":"+w.newConsumer(c).desc())
			}
			if w.set.Work.Admin {
				w.newAdmin(adm)
			}
			if trim != nil {
				w.newTrimmer(trim)
			}
			for _, m := range w.groups.members {
				m.start()
			}
			for _, m := range w.g848.members {
				m.start()
			}
			w.compact.start()
			w.txn.start()
			w.logf("workload: %s", strings.Join(desc, "; "))
		})
		w.s.at(w.startGap+w.set.FaultPhase, "heal", w.heal)
	})
	w.finalPlan = pick(root.Fork("final"), []string{"graceful", "kill"})
	w.finalPowerIfFsyncFull = drawFullSync(root.Fork("full-sync"), &w.set.Disk)
	return w
}

// cluster reports whether the run has several nodes.
func (w *world) cluster() bool { return w.raft != nil }

// cutBetween reports whether the direction from node a to node b is cut.
func (w *world) cutBetween(a, b *simNode) bool { return a.peerLinks[b.id-1].c2n.cut > 0 }

// cutNodes adds (delta 1) or removes (delta -1) a cut of the direction
// from node a to node b: both links that carry it (a's connections to b
// and the answers on b's connections to a). The quorum model hears of it.
func (w *world) cutNodes(a, b *simNode, delta int) {
	w.cut(a.peerLinks[b.id-1], true, delta)
	w.cut(b.peerLinks[a.id-1], false, delta)
	w.raft.topologyChanged()
}

func (w *world) logf(format string, args ...any) {
	if w.logw != nil {
		fmt.Fprintf(w.logw, "%s %s\n", w.s.now, fmt.Sprintf(format, args...))
	}
}

// fail records a checker failure.
func (w *world) fail(format string, args ...any) {
	msg := fmt.Sprintf("[%s] ", w.s.now) + fmt.Sprintf(format, args...)
	w.tr.str("fail")
	w.tr.str(msg)
	w.logf("FAIL %s", msg)
	if len(w.failures) < 50 {
		w.failures = append(w.failures, msg)
	}
}

func (w *world) notef(format string, args ...any) {
	msg := fmt.Sprintf("[%s] ", w.s.now) + fmt.Sprintf(format, args...)
	w.logf("NOTE %s", msg)
	w.notes = append(w.notes, msg)
}

// clientNowMs is the clients' (correct) wall clock.
func (w *world) clientNowMs() int64 { return 1_700_000_000_000 + int64(w.s.now/Millisecond) }

// syncLatency draws how long an fsync of this disk takes.
func (sd *simDisk) syncLatency() Time {
	d := &sd.w.set.Disk
	r := sd.rng
	t := r.Exp(d.SyncLatency)
	// Spikes are a fault: a quiet window has none (quiet.go).
	if d.SyncSpikeProb > 0 && !sd.w.q.on && r.Chance(d.SyncSpikeProb) {
		t += r.Exp(50 * Millisecond)
	}
	return t
}

// scheduleStart restarts the node after d; a later call supersedes it.
func (n *simNode) scheduleStart(d Time) {
	n.startGen++
	gen := n.startGen
	n.w.s.after(d, "node-start", func() {
		if n.startGen == gen && !n.up {
			n.start()
		}
	})
}

// heal ends the fault phase: faults stop, cuts and clogs heal, the
// workload stops issuing operations. A second later every node restarts
// (gracefully or killed, drawn per seed) and the final phase begins.
func (w *world) heal() {
	w.faultsOn = false
	w.workloadStopped = true
	w.q.on, w.q.judging, w.q.deferred = false, false, nil
	w.tr.str("heal-all")
	w.logf("phase: faults healed, workload stopped")
	w.healFaults()
	if w.finalPowerIfFsyncFull && w.stats.fsyncFull+w.stats.fsyncFailed > 0 {
		w.finalPlan = "power"
	}
	w.s.after(Second, "final-restart", func() {
		w.logf("phase: final restart (%s)", w.finalPlan)
		for _, c := range w.clients {
			if c != w.final.c {
				c.retire()
			}
		}
		w.checkReopened()
		for _, n := range w.nodes {
			switch {
			case !n.up:
			case w.finalPlan == "power":
				w.compact.onPowerLoss(n)
				n.stop(false, true)
				w.stats.powerLosses++
				w.stats.garbage += n.disk.powerLoss(w.set.Crash.Torn, w.set.Crash.Garbage)
			default:
				n.stop(w.finalPlan == "graceful", true)
			}
			n.scheduleStart(100 * Millisecond)
		}
		deadline := w.s.now + w.set.Liveness
		w.s.at(deadline, "liveness-deadline", func() {
			if !w.done {
				w.fail("liveness: the final phase did not finish within %s of the restart: %s", fmtTime(w.set.Liveness), w.final.where())
				w.done = true
			}
		})
		w.s.after(200*Millisecond, "final-begin", w.final.begin)
	})
}

// finalizer runs the liveness phase: list the topics, then for every
// partition of every existing topic produce one record with acks=all and
// drain the partition from its log start to its high watermark. Everything it
// does is in the history (the drain's reads are Final). A cluster then
// waits for every replica to rejoin the ISR and compares the replicas'
// logs (replicas.go).
type finalizer struct {
	w      *world
	c      *client
	k      *consumer
	parts  []lin.TopicPartition
	hws    map[lin.TopicPartition]int64
	i      int
	values int
	stage  string
	// ackedEnd is the end of the final record acknowledged on the
	// partition being drained: a high watermark below it is stale (a new
	// leader whose followers have not fetched yet) and cannot end a drain.
	ackedEnd int64
	// groupsRead: the groups' committed offsets were read once more
	// (groups.go finalFetch).
	groupsRead bool
	// compactRead: the compacted partitions were read in full
	// (compactioncheck.go finalRead).
	compactRead bool
	// txnRead: the transactional partitions were read (txncheck.go
	// finalRead).
	txnRead bool
}

func (f *finalizer) where() string {
	if f.i < len(f.parts) {
		last := ""
		if f.k != nil {
			last = f.k.lastErr
		}
		return fmt.Sprintf("stage %s at partition %s (%d of %d), last error %q", f.stage, f.parts[f.i], f.i+1, len(f.parts), last)
	}
	if f.stage == "replicas" {
		return "stage replicas: " + f.w.replicasBehind(f.parts)
	}
	return "stage " + f.stage
}

func (f *finalizer) begin() {
	w := f.w
	f.stage = "metadata"
	f.hws = map[lin.TopicPartition]int64{}
	f.k = &consumer{c: f.c, final: true, maxWait: 0, partMax: 1 << 20, report: f.drained}
	if w.cluster() {
		// The partitions are those of the committed log (the truth image)
		// that the workload knows of; the client finds their leaders.
		w.checkFinalTopics()
		truth := w.raft.truth
		for _, name := range truth.TopicNames() {
			if t := w.reg.byName[name]; t == nil || t.private() {
				continue // (compacted topics: compaction.go reads them; txn.go's: txncheck.go)
			}
			for p := int32(0); p < truth.Topic(name).Partitions; p++ {
				tp := lin.TopicPartition{Topic: name, Partition: p}
				if _, q := w.quarantine[tp]; !q {
					f.parts = append(f.parts, tp)
				}
			}
		}
		f.next()
		return
	}
	a := &admin{c: f.c}
	a.metadata(func(listed map[string]int32) {
		if w.done {
			return
		}
		if listed == nil {
			w.s.after(200*Millisecond, "final-begin", f.begin)
			return
		}
		names := make([]string, 0, len(listed))
		for n := range listed {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			if t := w.reg.byName[name]; t == nil || t.private() {
				continue // (compacted topics: compaction.go reads them; txn.go's: txncheck.go)
			}
			for p := int32(0); p < listed[name]; p++ {
				tp := lin.TopicPartition{Topic: name, Partition: p}
				if _, q := w.quarantine[tp]; !q {
					f.parts = append(f.parts, tp)
				}
			}
		}
		f.next()
	})
}

func (f *finalizer) next() {
	w := f.w
	if w.done {
		return
	}
	if f.i >= len(f.parts) && !f.groupsRead {
		f.stage = "groups"
		w.groups.finalFetch(f.c, func() {
			f.groupsRead = true
			f.next()
		})
		return
	}
	if f.i >= len(f.parts) && !f.compactRead {
		f.stage = "compaction"
		w.compact.finalRead(f.c, func() {
			f.compactRead = true
			f.next()
		})
		return
	}
	if f.i >= len(f.parts) && !f.txnRead {
		f.stage = "txn"
		w.txn.finalRead(f.c, func() {
			f.txnRead = true
			f.next()
		})
		return
	}
	if f.i >= len(f.parts) {
		w.logf("phase: final drain complete")
		if w.cluster() {
			f.stage = "replicas"
			f.awaitReplicas()
			return
		}
		f.stage = "done"
		w.done = true
		return
	}
	f.produce(f.parts[f.i])
}

// awaitReplicas waits until every replica of every checked partition is
// in its ISR (in the committed log), then compares the replicas' logs.
func (f *finalizer) awaitReplicas() {
	w := f.w
	if w.done {
		return
	}
	if behind := w.replicasBehind(f.parts); behind != "" {
		w.s.after(200*Millisecond, "final-replicas", f.awaitReplicas)
		return
	}
	w.logf("phase: every replica is in its ISR; comparing the replicas' logs")
	w.compareReplicas(f.parts, f.hws)
	f.stage = "done"
	w.done = true
}

// giveUp leaves tp, at f.parts[f.i], out of the final phase: every copy
// in its committed ISR was damaged by a media flip and reported (offline
// as corrupt), so no replica may serve it until an operator acts, as in
// Kafka without unclean leader election. It is quarantined from its first
// flip on, like a single node's damaged partition.
func (f *finalizer) giveUp(tp lin.TopicPartition) {
	w := f.w
	at := Time(-1)
	for _, m := range w.mediaFlips {
		if m.tp == tp && (at < 0 || m.at < at) {
			at = m.at
		}
	}
	if _, q := w.quarantine[tp]; !q {
		w.quarantine[tp] = at
	}
	w.cover("media-flip-no-good-isr-copy")
	f.leaveOut(tp, "has no good copy in its ISR (media flips reported on every member)")
}

// leaveOut drops tp, at f.parts[f.i], from the final phase, saying why.
func (f *finalizer) leaveOut(tp lin.TopicPartition, why string) {
	f.w.logf("phase: %s %s; left out of the final phase", tp, why)
	f.parts = append(f.parts[:f.i], f.parts[f.i+1:]...)
	f.next()
}

// produce appends one value to tp, retrying with new values until one is
// acknowledged.
func (f *finalizer) produce(tp lin.TopicPartition) {
	w := f.w
	f.stage = "produce"
	r := f.c.route
	r.ready(func() {
		if w.done {
			return
		}
		if w.noGoodISRCopy(tp) {
			f.giveUp(tp)
			return
		}
		if w.uncertainLastCopy(tp) {
			// Nothing is quarantined: the history so far stays checked,
			// and no replica serves the partition any more.
			w.cover("uncertain-last-isr-copy")
			f.leaveOut(tp, "has one ISR member, whose copy recovery cut while a flip had made its checkpoint unreadable (it does not lead)")
			return
		}
		node, _ := r.leader(tp)
		if node < 0 {
			r.invalidate()
			f.k.lastErr = "no leader known"
			w.s.after(200*Millisecond, "final-produce", func() { f.produce(tp) })
			return
		}
		f.values++
		values := []string{fmt.Sprintf("final-%d", f.values)}
		op := w.begin(lin.Op{Kind: lin.OpAppend, Client: f.c.id, Partition: tp, Call: int64(w.s.now), Values: values})
		req := oneBatchProduce(9, -1, 5000, tp, buildBatch(values, w.clientNowMs(), nil))
		f.c.do(node, req, 5*Second, false, func(resp kmsg.Response, err error) {
			if w.done {
				w.complete(op, lin.OutcomeUnknown)
				return
			}
			if err == nil {
				sp := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
				if sp.ErrorCode == 0 {
					op.op.Offset = sp.BaseOffset
					w.complete(op, lin.OutcomeOK)
					f.ackedEnd = sp.BaseOffset + 1
					f.drain(tp)
					return
				}
				f.k.lastErr = fmt.Sprintf("produce error code %d", sp.ErrorCode)
				if sp.ErrorCode == errCodeNotEnoughReplicas && w.flipReported(tp) {
					// A copy a media flip damaged is offline for good and
					// out of the ISR, which may leave too few replicas:
					// NOT_ENOUGH_REPLICAS is the right answer until an
					// operator acts. The drain still reads what is there.
					w.complete(op, lin.OutcomeFailed)
					f.ackedEnd = 0
					f.drain(tp)
					return
				}
				if definiteProduceFailure(sp.ErrorCode) || (w.cluster() && sp.ErrorCode == errCodeNotEnoughReplicas) {
					w.complete(op, lin.OutcomeFailed)
				} else {
					w.complete(op, lin.OutcomeUnknown)
				}
				if routingError(sp.ErrorCode) {
					r.invalidate()
				}
			} else {
				f.k.lastErr = err.Error()
				r.invalidate()
				if err == errNotSent {
					w.complete(op, lin.OutcomeFailed)
				} else {
					w.complete(op, lin.OutcomeUnknown)
				}
			}
			w.s.after(200*Millisecond, "final-produce", func() { f.produce(tp) })
		})
	})
}

// drain asks tp's leader for its earliest offset (the log start) and
// reads from there. The answer must not be below any acknowledged
// DeleteRecords (checkEarliest); retention may move the start on while the
// drain runs, and a read answered OFFSET_OUT_OF_RANGE starts it over.
func (f *finalizer) drain(tp lin.TopicPartition) {
	w := f.w
	f.stage = "drain"
	k := f.k
	k.tp, k.seek, k.active = tp, true, true
	req := earliestRequest(tp)
	r := f.c.route
	r.ready(func() {
		node, _ := r.leader(tp)
		call := w.s.now
		op := w.begin(lin.Op{Kind: lin.OpStartOffset, Client: f.c.id, Partition: tp, Call: int64(call)})
		f.c.do(node, req, 5*Second, false, func(resp kmsg.Response, err error) {
			if w.done {
				w.complete(op, lin.OutcomeFailed)
				return
			}
			code := int16(-1)
			if err == nil {
				if lr := resp.(*kmsg.ListOffsetsResponse); len(lr.Topics) == 1 && len(lr.Topics[0].Partitions) == 1 {
					sp := lr.Topics[0].Partitions[0]
					code, op.op.Offset = sp.ErrorCode, sp.Offset
				}
			}
			if err != nil || routingError(code) {
				r.invalidate()
			}
			if code != 0 {
				w.complete(op, lin.OutcomeFailed)
				k.lastErr = fmt.Sprintf("earliest offset: error %d (%v)", code, err)
				w.s.after(200*Millisecond, "final-earliest", func() { f.drain(tp) })
				return
			}
			w.complete(op, lin.OutcomeOK)
			w.checkEarliest("final drain", tp, call, op.op.Offset, true)
			k.pos = op.op.Offset
			k.fetch()
		})
	})
}

// drained hears the end of one drain read.
func (f *finalizer) drained(ok bool, hw int64) {
	w := f.w
	if w.done {
		return
	}
	k := f.k
	switch {
	case !ok && k.lastErr == "OFFSET_OUT_OF_RANGE":
		w.s.after(200*Millisecond, "final-earliest", func() { f.drain(k.tp) })
	case !ok:
		w.s.after(200*Millisecond, "final-fetch", k.fetch)
	case k.pos >= hw && hw < f.ackedEnd:
		// A lagging high watermark (sim seed 778497: the leader changed
		// right after acknowledging the final record, and the new leader's
		// high watermark stayed at 0 until its followers fetched): ask again.
		w.s.after(200*Millisecond, "final-fetch", k.fetch)
	case k.pos >= hw:
		f.hws[k.tp] = hw
		f.i++
		f.next()
	default:
		k.fetch()
	}
}

// Run executes one seed and checks it.
func Run(seed uint64, opts Options) (res *Result) {
	start := time.Now()
	w := newWorld(seed, opts)
	res = &Result{Seed: seed, Settings: w.set.String()}
	w.logf("seed=%d settings: %s", seed, res.Settings)
	hardStop := w.startGap + w.set.FaultPhase + 2*Second + w.set.Liveness + 10*Second
	func() {
		defer func() {
			if r := recover(); r != nil {
				w.fail("panic: %v\n%s", r, debug.Stack())
			}
		}()
		for !w.done {
			ev := w.s.pop()
			if ev == nil {
				w.fail("simulation ran out of events before the final phase finished")
				break
			}
			if ev.at > hardStop {
				w.fail("simulation did not finish by %s", hardStop)
				break
			}
			w.s.handled++
			w.tr.i64(int64(ev.at))
			w.tr.u64(ev.seq)
			w.tr.str(ev.kind)
			ev.fn()
		}
	}()
	res.Trace = w.tr.sum()
	res.Events = w.s.handled
	res.SimTime = w.s.now
	res.SimWall = time.Since(start)
	for _, n := range w.nodes {
		if n.up {
			w.stats.reopens += n.b.Reopened()
		}
	}
	w.checkQuiet()
	w.check(opts, res)
	res.Failures = w.failures
	res.Probes = w.q.latencies
	res.Notes = w.notes
	res.Ops = len(w.history)
	res.Reopens = w.stats.reopens
	res.Stats = w.stats.String()
	res.Coverage = w.cov
	res.WallTime = time.Since(start)
	return res
}

// check runs the history checkers: the offset checks and porcupine, on
// every partition, up to the flip for one quarantined by a media flip.
func (w *world) check(opts Options, res *Result) {
	for _, p := range w.open {
		if !p.open {
			continue
		}
		if p.op.Kind == lin.OpAppend {
			w.complete(p, lin.OutcomeUnknown)
		} else {
			w.complete(p, lin.OutcomeFailed)
		}
	}
	w.groups.check()
	w.g848.check()
	w.groups.checkDelivery()
	hist := make([]lin.Op, 0, len(w.history)+16) // room for a few retention markers
	for _, op := range w.history {
		if at, q := w.quarantine[op.Partition]; q {
			var keep bool
			if op, keep = beforeFlip(op, at); !keep {
				continue
			}
		}
		hist = append(hist, op)
	}
	hist = append(hist, w.retentionMarkers(hist, w.final.c.id)...)
	// Validated once for both checks.
	valid, err := lin.NewValidHistory(hist)
	var findings []lin.Finding
	if err == nil {
		findings, err = valid.CheckOffsets()
	}
	if err != nil {
		w.fail("history check error (a simulator bug, not necessarily Chronik's): %v", err)
		return
	}
	for _, f := range findings {
		if f.Kind == lin.DeletedWrite {
			w.fail("log-start: offset check: %s", f)
			continue
		}
		w.fail("offset check: %s", f)
	}
	lr, err := valid.CheckLinearizability(lin.Options{
		// A cluster's reads are Kafka's: a deposed leader that has not yet
		// heard of its successor keeps serving its last high watermark, and
		// a new leader's lags until its followers fetch, so a read may miss
		// records committed elsewhere (never return uncommitted ones). Each
		// read says whether it may (Op.MayBeStale, reads.go); the rest are
		// held to the exact rules.
		Model: lin.ModelOptions{PerReplicaLogStart: w.cluster()},
		// Never a wall-clock timeout: the verdict must not depend on
		// machine speed. A search past the budget fails as undecided.
		StepBudget:        lin.DefaultStepBudget,
		VisualizationDir:  opts.VisualizationDir,
		VisualizationName: fmt.Sprintf("chronik-sim-seed-%d.html", w.seed),
	})
	if err != nil {
		w.fail("linearizability check error: %v", err)
	}
	res.CheckSteps = lr.Steps
	switch lr.Verdict {
	case lin.VerdictIllegal, lin.VerdictUndecided, lin.VerdictUnknown:
		w.fail("%s", lr)
		res.VisualizationPath = lr.VisualizationPath
	}
}

// beforeFlip cuts the history of a quarantined partition at its flip
// (at): it returns op as the checks see it, and whether they see it at
// all. What was called before the flip stays, and what was answered after
// it is cut as if the history ended there: an append acknowledged after
// the flip becomes unknown (the damage may have cost it), a read or
// end-offset query answered after it is left out. A cut of a legal history
// is legal, so nothing that the flip explains can fail the checks.
func beforeFlip(op lin.Op, at Time) (lin.Op, bool) {
	if op.Call >= int64(at) {
		return op, false
	}
	if op.Return < int64(at) {
		return op, true
	}
	if op.Kind != lin.OpAppend {
		return op, false
	}
	if op.Outcome == lin.OutcomeOK {
		op.Outcome, op.Offset = lin.OutcomeUnknown, 0
	}
	return op, true
}
