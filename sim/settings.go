package sim

import (
	"fmt"
	"strings"
)

// Settings are one run's fault and workload parameters, drawn from the
// seed (swarm testing: each fault kind is on in some runs and off in
// others, at a random intensity, so that rare combinations get explored
// and no single fault drowns the others). A zero duration or probability
// means the fault is off.
type Settings struct {
	// FaultPhase is how long the workload runs with faults.
	FaultPhase Time
	// Liveness bounds the final phase: from the restart after healing to
	// the end of the final drain.
	Liveness Time

	Net   NetSettings
	Crash CrashSettings
	Disk  DiskSettings
	Clock ClockSettings
	Work  WorkSettings
	Log   LogSettings
	// Trim is drawn from its own stream ("trim"): trim.go.
	Trim TrimSettings
	// Cluster is drawn from its own stream ("cluster"), so the draws
	// above are those of a single-node run of the same seed.
	Cluster ClusterSettings
	// Groups is drawn from its own stream ("groups"): groups.go.
	Groups GroupSettings
	// Groups848 is drawn from its own stream ("groups848"): groups848.go.
	Groups848 Group848Settings
	// Compact is drawn from its own stream ("compaction"): compaction.go.
	Compact CompactSettings
	// Txn is drawn from its own stream ("txn"): txn.go.
	Txn TxnSettings
}

// ClusterSettings shape a run of several nodes (Nodes > 1): the brokers'
// cluster timings, the topics' replication, the metadata quorum model
// and the scripted fault scenario.
type ClusterSettings struct {
	Nodes int
	// RF2Frac of the topics get replication factor 2, the others 3;
	// MinISR1Frac get min.insync.replicas=1, the others 2.
	RF2Frac, MinISR1Frac float64
	// Broker settings (Config fields of the same names).
	HeartbeatIntervalMs, SessionTimeoutMs, ReplicaLagTimeMaxMs int64
	ReplicaFetchWaitMaxMs                                      int32
	ProposalTimeoutMs                                          int64
	// Scenario is the scripted fault pattern run on top of the swarm
	// faults, every ScenarioEvery on average (see scenario.go).
	Scenario      string
	ScenarioEvery Time
	// MaxDown bounds the nodes the random crash fault takes down at once.
	MaxDown int
	// NodePartitionEvery and NodePartitionLen: cuts between nodes (one
	// node isolated, or one pair), symmetric or (NodeAsymmetric) one way.
	NodePartitionEvery, NodePartitionLen Time
	NodeAsymmetric                       bool
	// Blackout: once, every node loses power at the same moment.
	Blackout bool
	// Hot: a seed with every cluster fault at a high rate (drawCluster).
	Hot  bool
	Raft RaftSettings
	// CatchUpTrapProb is the chance that a node restarting during the
	// fault phase is cut off from the other nodes at once, for
	// CatchUpTrapLen on average (catchup.go).
	CatchUpTrapProb float64
	CatchUpTrapLen  Time
}

// RaftSettings shape the metadata quorum model (raftlog.go).
type RaftSettings struct {
	CommitDelay    Time    // mean time from a proposal to its commit
	ApplyDelay     Time    // mean time from a commit to a node's apply
	SlowApplyProb  float64 // an apply batch that lags by ~SlowApplyDelay more
	SlowApplyDelay Time
	ElectionMin    Time // no leader for ElectionMin..ElectionMax after a loss
	ElectionMax    Time
	LeaseTimeout   Time    // a leader cut off from a majority steps down after this
	HeartbeatDelay Time    // mean time for a node to hear of a new leader
	DetectDelay    Time    // mean time for a node cut off from the leader to forget it
	StepDownEvery  Time    // leadership changes without a fault (0: off)
	SurviveProb    float64 // a deposed leader's uncommitted entries partly commit anyway
	SilentFailProb float64 // a failed proposal is never reported (unknown outcome)
	SnapshotEvery  int     // a node snapshots its image every this many applies
	RestoreFrac    float64 // restarts that restore the node's snapshot first
	InstallLag     int     // a node this far behind gets the leader's snapshot
}

// Scenarios of a cluster run (ClusterSettings.Scenario).
const (
	scenarioSwarm              = "swarm"               // random faults only
	scenarioLeaderFailover     = "leader-failover"     // kill or power-off partition leaders
	scenarioDoubleFailover     = "double-failover"     // KIP-101: A fails, B leads, A returns, B fails
	scenarioRollingRestart     = "rolling-restart"     // controlled shutdowns one node at a time
	scenarioControllerFailover = "controller-failover" // the quorum leader crashes, is cut off or steps down
	scenarioIsolateLeader      = "isolate-leader"      // a partition leader cut off from the other nodes
)

// drawCluster draws the cluster settings; nodes > 0 forces the node count.
func drawCluster(r *Rand, nodes int) ClusterSettings {
	c := ClusterSettings{Nodes: 3}
	if r.Chance(0.3) {
		c.Nodes = 1
	}
	if nodes > 0 {
		c.Nodes = nodes
	}
	c.RF2Frac = pick(r, []float64{0, 0.25})
	c.MinISR1Frac = pick(r, []float64{0, 0.25, 0.5})
	c.HeartbeatIntervalMs = pick(r, []int64{100, 250, 500})
	c.SessionTimeoutMs = c.HeartbeatIntervalMs * pick(r, []int64{4, 6, 12})
	c.ReplicaLagTimeMaxMs = pick(r, []int64{1000, 3000, 10000})
	// Every pair is drawn, a lag bound of twice the long poll (1 s
	// against 500 ms) included: a follower keeps one fetch per leader in
	// flight, answered as soon as any of its partitions has news, so an
	// idle partition is caught up at least every long poll. (Until
	// FINDINGS.md 21 was fixed, fetches queued behind other partitions'
	// long polls and such a pair shrank healthy ISRs every second: the
	// lag bound was raised to six long polls.)
	c.ReplicaFetchWaitMaxMs = int32(pick(r, []int64{50, 500}))
	c.ProposalTimeoutMs = pick(r, []int64{2000, 10000})
	c.Scenario = pick(r, []string{scenarioSwarm, scenarioLeaderFailover, scenarioDoubleFailover,
		scenarioRollingRestart, scenarioControllerFailover, scenarioIsolateLeader})
	c.ScenarioEvery = pick(r, []Time{3 * Second, 8 * Second})
	c.MaxDown = pick(r, []int{1, 1, 2})
	if r.Chance(0.4) {
		c.NodePartitionEvery = pick(r, []Time{3 * Second, 10 * Second})
		c.NodePartitionLen = pick(r, []Time{500 * Millisecond, 4 * Second})
		c.NodeAsymmetric = r.Chance(0.5)
	}
	c.Blackout = r.Chance(0.15)
	q := &c.Raft
	q.CommitDelay = pick(r, []Time{500 * Microsecond, 3 * Millisecond, 20 * Millisecond})
	q.ApplyDelay = pick(r, []Time{100 * Microsecond, 2 * Millisecond})
	if r.Chance(0.3) {
		q.SlowApplyProb = pick(r, []float64{0.01, 0.1})
		q.SlowApplyDelay = pick(r, []Time{100 * Millisecond, Second})
	}
	q.ElectionMin = pick(r, []Time{50 * Millisecond, 150 * Millisecond})
	q.ElectionMax = q.ElectionMin + pick(r, []Time{100 * Millisecond, Second})
	q.LeaseTimeout = pick(r, []Time{100 * Millisecond, 500 * Millisecond})
	q.HeartbeatDelay = pick(r, []Time{Millisecond, 20 * Millisecond})
	q.DetectDelay = pick(r, []Time{200 * Millisecond, Second})
	if r.Chance(0.3) {
		q.StepDownEvery = pick(r, []Time{2 * Second, 10 * Second})
	}
	q.SurviveProb = pick(r, []float64{0, 0.3, 0.7})
	q.SilentFailProb = pick(r, []float64{0, 0.2, 0.5})
	q.SnapshotEvery = pick(r, []int{3, 10, 50})
	q.RestoreFrac = pick(r, []float64{0, 0.5, 1})
	q.InstallLag = pick(r, []int{5, 20, 1 << 30})
	// A hot seed piles faults up: scenario steps every second or two, up
	// to every node down at once, constant partitions between nodes and
	// quorum step-downs, and an admin at work (it found FINDINGS.md 14).
	// Drawn last, so the draws above are those of a seed that is not hot.
	if c.Hot = r.Chance(0.1); c.Hot {
		c.ScenarioEvery = pick(r, []Time{Second, 2 * Second})
		c.MaxDown = pick(r, []int{2, 3})
		c.NodePartitionEvery = pick(r, []Time{Second, 3 * Second})
		c.NodePartitionLen = pick(r, []Time{500 * Millisecond, 4 * Second})
		q.StepDownEvery = pick(r, []Time{500 * Millisecond, 2 * Second})
	}
	return c
}

// drawCatchUpTrap draws the catch-up trap's settings, from a stream of
// their own so that the other cluster settings stay as they were drawn.
func drawCatchUpTrap(r *Rand, c *ClusterSettings) {
	c.CatchUpTrapProb = pick(r, []float64{0, 0, 0.3, 0.7})
	c.CatchUpTrapLen = pick(r, []Time{Second, 4 * Second})
}

// NetSettings shape the network.
type NetSettings struct {
	BaseDelay, JitterMean Time
	SpikeProb             float64
	SpikeMean             Time
	ConnectTimeout        Time
	BreakEvery            Time // mean time between connection resets
	ClogEvery, ClogLen    Time // clogged link: ClogDelay added to each message
	ClogDelay             Time
	PartitionEvery        Time // partitions between a subset of clients and the node
	PartitionLen          Time
	Asymmetric            bool // partitions may cut one direction only
}

// CrashSettings control process stops.
type CrashSettings struct {
	Every            Time    // mean time between stops
	PowerLossFrac    float64 // stops that lose the page cache
	GracefulFrac     float64 // stops that shut down cleanly
	Torn             bool    // a power loss keeps a torn prefix of unsynced writes
	Garbage          float64 // probability that a torn tail holds a flipped byte
	DownMin, DownMax Time
}

// DiskSettings control disk faults and latency.
type DiskSettings struct {
	ReadErrProb, WriteErrProb, SyncErrProb float64
	FullEvery, FullLen                     Time
	FlipEvery                              Time // latent bit flips in index and checkpoint files
	MediaFlip                              bool // one bit flip in a segment's records (quarantines the partition)
	SyncLatency                            Time // mean fsync latency
	SyncSpikeProb                          float64
	WriteLatency                           Time // mean page-cache write time on the event loop
	WriteStallProb                         float64

	// FullSyncFailProb is the chance that an fsync of a file with unsynced
	// data fails during a full-disk window; FullSyncDropsPages picks what
	// the kernel did to those pages (memdisk.FailWriteback). Drawn from
	// their own stream (drawFullSync), so that the other settings of a
	// seed stay as they were before these existed.
	FullSyncFailProb   float64
	FullSyncDropsPages bool
	// FullOnlySyncFails makes a full disk accept writes into the page
	// cache and fail only their fsync (delayed allocation, thin
	// provisioning, NFS), the case where dirty pages pile up first.
	FullOnlySyncFails bool
}

// ClockSettings control each node's clock.
type ClockSettings struct {
	DriftPPM  int64
	JumpEvery Time
	Backward  bool // jumps may go backwards
}

// WorkSettings shape the workload.
type WorkSettings struct {
	Producers, Consumers int
	Admin                bool
	IdempotentFrac       float64
	Think                Time // mean pause between a client's operations
	AdminEvery           Time
	RequestTimeout       Time
	Backoff              Time
	MaxRetries           int
	InitialTopics        int
}

// LogSettings are broker and partition-log settings drawn per seed.
type LogSettings struct {
	SegmentBytes, IndexIntervalBytes int64
	SegmentMs                        int64
	CheckpointIntervalMs             int64
}

// drawSettings draws a run's settings from r.
func drawSettings(r *Rand) Settings {
	on := func(p float64) bool { return r.Chance(p) }
	s := Settings{FaultPhase: 60 * Second, Liveness: 30 * Second}
	n := &s.Net
	n.BaseDelay = Time(r.Range(20, 2000))
	n.JitterMean = Time(r.Range(10, 3000))
	if on(0.3) {
		n.SpikeProb = pick(r, []float64{0.001, 0.01, 0.05})
		n.SpikeMean = pick(r, []Time{20 * Millisecond, 200 * Millisecond})
	}
	n.ConnectTimeout = Second
	if on(0.5) {
		n.BreakEvery = pick(r, []Time{500 * Millisecond, 3 * Second, 15 * Second})
	}
	if on(0.3) {
		n.ClogEvery = pick(r, []Time{2 * Second, 10 * Second})
		n.ClogLen = pick(r, []Time{300 * Millisecond, 3 * Second})
		n.ClogDelay = pick(r, []Time{200 * Millisecond, 2 * Second})
	}
	if on(0.4) {
		n.PartitionEvery = pick(r, []Time{2 * Second, 10 * Second})
		n.PartitionLen = pick(r, []Time{500 * Millisecond, 5 * Second})
		n.Asymmetric = on(0.6)
	}
	c := &s.Crash
	if on(0.7) {
		c.Every = pick(r, []Time{2 * Second, 6 * Second, 20 * Second})
		c.PowerLossFrac = pick(r, []float64{0, 0.3, 0.7})
		c.GracefulFrac = pick(r, []float64{0, 0.2})
		c.Torn = on(0.7)
		if on(0.5) {
			c.Garbage = pick(r, []float64{0.2, 0.8})
		}
		c.DownMin = pick(r, []Time{10 * Millisecond, 300 * Millisecond})
		c.DownMax = c.DownMin + pick(r, []Time{100 * Millisecond, 3 * Second})
	}
	d := &s.Disk
	d.SyncLatency = pick(r, []Time{100 * Microsecond, Millisecond, 3 * Millisecond})
	d.SyncSpikeProb = pick(r, []float64{0, 0.01, 0.05})
	d.WriteLatency = pick(r, []Time{2 * Microsecond, 20 * Microsecond, 100 * Microsecond})
	d.WriteStallProb = pick(r, []float64{0, 0.001})
	if on(0.3) {
		d.ReadErrProb = pick(r, []float64{1e-4, 1e-3})
	}
	if on(0.3) {
		d.WriteErrProb = pick(r, []float64{1e-4, 1e-3})
	}
	if on(0.3) {
		d.SyncErrProb = pick(r, []float64{1e-3, 1e-2})
	}
	if on(0.2) {
		d.FullEvery = pick(r, []Time{5 * Second, 20 * Second})
		d.FullLen = pick(r, []Time{100 * Millisecond, 2 * Second})
	}
	if on(0.3) {
		d.FlipEvery = pick(r, []Time{Second, 5 * Second})
	}
	d.MediaFlip = on(0.1)
	k := &s.Clock
	if on(0.5) {
		k.DriftPPM = r.Range(-500, 500)
	}
	if on(0.4) {
		k.JumpEvery = pick(r, []Time{3 * Second, 15 * Second})
		k.Backward = on(0.5)
	}
	w := &s.Work
	w.Producers = int(r.Range(1, 4))
	w.Consumers = int(r.Range(1, 3))
	w.Admin = on(0.6)
	w.IdempotentFrac = pick(r, []float64{0, 0.5, 1})
	w.Think = pick(r, []Time{30 * Millisecond, 100 * Millisecond, 300 * Millisecond})
	w.AdminEvery = pick(r, []Time{2 * Second, 8 * Second})
	w.RequestTimeout = pick(r, []Time{500 * Millisecond, 2 * Second, 5 * Second})
	w.Backoff = pick(r, []Time{20 * Millisecond, 200 * Millisecond})
	w.MaxRetries = int(r.Range(2, 10))
	w.InitialTopics = int(r.Range(1, 3))
	l := &s.Log
	l.SegmentBytes = pick(r, []int64{1024, 8192, 65536, 1 << 30})
	l.IndexIntervalBytes = pick(r, []int64{64, 1024, 4096})
	l.SegmentMs = pick(r, []int64{500, 5000, 7 * 24 * 3600 * 1000})
	// Every checkpoint costs two fsyncs per partition on the event loop
	// (WriteFileAtomic), so short intervals with slow fsyncs saturate the
	// node; 500 ms is the shortest interval drawn.
	l.CheckpointIntervalMs = pick(r, []int64{500, 2000, 5000})
	return s
}

// drawFullSync draws the fsync-on-a-full-disk settings of a run with
// full-disk windows, and whether its final restart is a power loss should
// an fsync have failed on a full disk by then: a power loss exposes what
// the kernel never wrote (ground truth: only synced bytes survive it).
func drawFullSync(r *Rand, d *DiskSettings) (finalPowerLoss bool) {
	if d.FullEvery == 0 {
		return false
	}
	d.FullSyncFailProb = pick(r, []float64{0, 0.3, 0.9})
	d.FullSyncDropsPages = r.Chance(0.3)
	d.FullOnlySyncFails = d.FullSyncFailProb > 0 && r.Chance(0.5)
	return d.FullSyncFailProb > 0 && r.Chance(0.7)
}

func fmtTime(t Time) string {
	switch {
	case t == 0:
		return "0"
	case t%Second == 0:
		return fmt.Sprintf("%ds", t/Second)
	case t%Millisecond == 0:
		return fmt.Sprintf("%dms", t/Millisecond)
	case t >= Millisecond:
		return fmt.Sprintf("%.1fms", float64(t)/float64(Millisecond))
	}
	return fmt.Sprintf("%dus", t)
}

// String renders the settings on one line: the enabled faults with their
// intensities, then the workload and log settings.
func (s Settings) String() string {
	var parts []string
	add := func(cond bool, format string, args ...any) {
		if cond {
			parts = append(parts, fmt.Sprintf(format, args...))
		}
	}
	n := s.Net
	add(true, "delay=%s+~%s", fmtTime(n.BaseDelay), fmtTime(n.JitterMean))
	add(n.SpikeProb > 0, "spikes=%g@~%s", n.SpikeProb, fmtTime(n.SpikeMean))
	add(n.BreakEvery > 0, "conn-reset/~%s", fmtTime(n.BreakEvery))
	add(n.ClogEvery > 0, "clog/~%s(len~%s,+%s)", fmtTime(n.ClogEvery), fmtTime(n.ClogLen), fmtTime(n.ClogDelay))
	add(n.PartitionEvery > 0, "partition/~%s(len~%s,asym=%v)", fmtTime(n.PartitionEvery), fmtTime(n.PartitionLen), n.Asymmetric)
	c := s.Crash
	add(c.Every > 0, "crash/~%s(power=%g,graceful=%g,torn=%v,garbage=%g,down=%s-%s)", fmtTime(c.Every), c.PowerLossFrac, c.GracefulFrac, c.Torn, c.Garbage, fmtTime(c.DownMin), fmtTime(c.DownMax))
	d := s.Disk
	add(true, "fsync~%s(spikes=%g) write~%s(stalls=%g)", fmtTime(d.SyncLatency), d.SyncSpikeProb, fmtTime(d.WriteLatency), d.WriteStallProb)
	add(d.ReadErrProb > 0, "read-err=%g", d.ReadErrProb)
	add(d.WriteErrProb > 0, "write-err=%g", d.WriteErrProb)
	add(d.SyncErrProb > 0, "fsync-err=%g", d.SyncErrProb)
	add(d.FullEvery > 0, "disk-full/~%s(len~%s)", fmtTime(d.FullEvery), fmtTime(d.FullLen))
	add(d.FullSyncFailProb > 0, "full-fsync-fails=%g(drop-pages=%v,only-fsync=%v)", d.FullSyncFailProb, d.FullSyncDropsPages, d.FullOnlySyncFails)
	add(d.FlipEvery > 0, "flip/~%s", fmtTime(d.FlipEvery))
	add(d.MediaFlip, "media-flip")
	k := s.Clock
	add(k.DriftPPM != 0, "drift=%+dppm", k.DriftPPM)
	add(k.JumpEvery > 0, "clock-jump/~%s(back=%v)", fmtTime(k.JumpEvery), k.Backward)
	w := s.Work
	add(true, "wl=%dp/%dc/admin=%v/idem=%g/think~%s/timeout=%s", w.Producers, w.Consumers, w.Admin, w.IdempotentFrac, fmtTime(w.Think), fmtTime(w.RequestTimeout))
	l := s.Log
	add(true, "log=seg%d/idx%d/roll%dms/ckpt%dms", l.SegmentBytes, l.IndexIntervalBytes, l.SegmentMs, l.CheckpointIntervalMs)
	add(s.Trim.Every > 0, "%s", s.Trim)
	add(s.Groups.Members > 0, "%s", s.Groups)
	add(s.Groups848.Members > 0, "%s", s.Groups848)
	add(s.Compact.Topics > 0, "%s", s.Compact)
	add(s.Txn.Producers > 0, "%s", s.Txn)
	if c := s.Cluster; c.Nodes > 1 {
		add(true, "nodes=%d scenario=%s/~%s rf2=%g minisr1=%g hb=%dms/session=%dms lag=%dms fetchwait=%dms maxdown=%d",
			c.Nodes, c.Scenario, fmtTime(c.ScenarioEvery), c.RF2Frac, c.MinISR1Frac, c.HeartbeatIntervalMs, c.SessionTimeoutMs,
			c.ReplicaLagTimeMaxMs, c.ReplicaFetchWaitMaxMs, c.MaxDown)
		add(c.NodePartitionEvery > 0, "node-partition/~%s(len~%s,asym=%v)", fmtTime(c.NodePartitionEvery), fmtTime(c.NodePartitionLen), c.NodeAsymmetric)
		add(c.Blackout, "blackout")
		add(c.Hot, "hot")
		add(c.CatchUpTrapProb > 0, "catchup-trap=%g@~%s", c.CatchUpTrapProb, fmtTime(c.CatchUpTrapLen))
		q := c.Raft
		add(true, "raft=commit~%s/apply~%s/election=%s-%s/lease=%s/detect~%s/survive=%g/silent=%g/snap%d/restore=%g/install%d",
			fmtTime(q.CommitDelay), fmtTime(q.ApplyDelay), fmtTime(q.ElectionMin), fmtTime(q.ElectionMax), fmtTime(q.LeaseTimeout),
			fmtTime(q.DetectDelay), q.SurviveProb, q.SilentFailProb, q.SnapshotEvery, q.RestoreFrac, q.InstallLag)
		add(q.SlowApplyProb > 0, "raft-slow-apply=%g@~%s", q.SlowApplyProb, fmtTime(q.SlowApplyDelay))
		add(q.StepDownEvery > 0, "raft-step-down/~%s", fmtTime(q.StepDownEvery))
	}
	return strings.Join(parts, " ")
}
