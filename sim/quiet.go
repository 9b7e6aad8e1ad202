package sim

// Quiet windows: availability judged. During the fault phase a run has two
// or three windows (drawn from their own stream, "quiet") in which every
// fault is healed and none is injected: cuts and clogs heal, the disk
// stops failing, network delay spikes, fsync spikes, write stalls and slow
// metadata applies stop, nodes that are down (or shutting down, or hold a
// partition a disk error took offline or a full disk made reopen) restart,
// proposals the quorum model failed without a word are reported failed
// (and none fails silently in the window), armed power losses and traps
// are disarmed, and the fault loops and the scenario stop until the window
// ends. After quietSettle, time for elections, registrations and followers
// to catch up, a judged period of 3-5 s begins (the window lasts until its
// probes are settled), in which the probe client (a client of its own,
// which no fault targets) sends an acks=all produce to a healthy partition
// every 50-250 ms, round robin over the partitions: a partition of a live
// topic the workload knows, not quarantined, with a leader in the
// committed log, while every node is up. A probe that meets a routing
// error (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, ...) refreshes its
// metadata and retries with a new value, as a client would.
// Judged, with the prefix "availability:":
//
//   - every probe is acknowledged within quietDeadline of its first send
//     (no timeouts, no unknown outcomes left);
//   - the 99th percentile of the acknowledged probes' latencies (first
//     send to acknowledgement) of the run is under quietP99.
//
// A slow or stuck replication path (a follower that stops fetching, an
// ISR that never expands back, a high watermark that does not advance)
// is thereby a finding rather than an unknown outcome. The probes are
// ordinary appends in the history and are checked like any other.

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// Quiet window parameters.
const (
	// quietSettle is the time between the heal and the judged period.
	quietSettle = 3 * Second
	// quietDeadline bounds one probe: its first send to its
	// acknowledgement, retries included.
	quietDeadline = 3 * Second
	// quietP99Base bounds the 99th percentile of a run's probe latencies,
	// plus twice the replica fetch long poll in a cluster (quietP99).
	quietP99Base = Second
	// maxQuietProbes bounds the probe latencies a run keeps.
	maxQuietProbes = 4096
)

// errProbeIdle closes the probe's connections at the end of a window.
var errProbeIdle = errors.New("sim: the probe is idle until the next quiet window")

// quietWindow is one window, in virtual time relative to the start of
// the fault phase: heal at start, judge from judge to end.
type quietWindow struct {
	start, judge, end Time
}

// drawQuietWindows draws two or three windows spread over a fault phase
// of length phase, one in each equal slot, with a second of faults at
// least before and after each; a phase too short for them gets fewer.
func drawQuietWindows(r *Rand, phase Time) []quietWindow {
	k := 2 + r.Intn(2)
	slot := phase / Time(k)
	var out []quietWindow
	for i := 0; i < k; i++ {
		judged := Time(r.Range(int64(3*Second), int64(5*Second)))
		length := quietSettle + judged
		room := slot - length - 2*Second
		if room <= 0 {
			continue
		}
		start := Time(i)*slot + Second + Time(r.Int63n(int64(room)))
		out = append(out, quietWindow{start: start, judge: start + quietSettle, end: start + length})
	}
	return out
}

// quietState is a run's quiet windows and the probe's measurements.
type quietState struct {
	windows []quietWindow
	// on is true from a window's heal to its end; judging from its judged
	// period's start; judgeEnd is when the judged period ends.
	on, judging bool
	judgeEnd    Time
	// deferred holds one-shot faults (blackout, media flip) that fell in
	// a window: they strike when it ends.
	deferred []func()

	probe     *client
	seq       int
	parts     []lin.TopicPartition
	next      int
	latencies []Time
	// probes counts the probes judged, skipped those not sent because no
	// partition was healthy, inflight those not settled yet (the window
	// lasts until they are).
	probes, skipped, inflight int
}

// scheduleQuietWindows arms the run's windows; called when the fault
// phase starts.
func (w *world) scheduleQuietWindows() {
	for _, qw := range w.q.windows {
		qw := qw
		w.s.after(qw.start, "quiet-begin", func() { w.quietBegin(qw) })
	}
}

// quietBegin heals every fault and stops injecting them until the window
// ends.
func (w *world) quietBegin(qw quietWindow) {
	if !w.faultsOn {
		return // the fault phase is over (or a window is on)
	}
	w.faultsOn = false
	w.q.on = true
	w.logf("phase: quiet window: faults healed until %s, judged from %s", w.s.now+qw.end-qw.start, w.s.now+qw.judge-qw.start)
	w.tr.str("quiet-begin")
	w.healFaults()
	if w.cluster() {
		w.raft.tellSilent()
		w.raft.cutSlowApplies()
	}
	for _, n := range w.nodes {
		n.crashArmed = nil
		switch {
		case n.up && (n.stopping || n.needsQuietRestart()):
			// A controlled shutdown would end inside the judged period; a
			// partition taken offline by a disk error stays offline until
			// its broker restarts; and one reopened after a full disk with
			// its tail cut does not lead again at the epoch it cut, which
			// leaves it without a working leader when it was the last ISR
			// member, until a restart (core/broker/storage.go; sim seed
			// 247). One still offline for a full disk reopens once the
			// window heals the disk, and may be such a one (sim seed
			// 911000227): restart now.
			n.stop(true, false)
			n.scheduleStart(100 * Millisecond)
		case !n.up:
			n.scheduleStart(100 * Millisecond)
		}
	}
	w.groups.liveBegin()
	w.s.after(qw.judge-qw.start, "quiet-judge", func() { w.quietJudge(w.s.now + qw.end - qw.judge) })
	w.s.after(qw.end-qw.start, "quiet-end", w.quietEnd)
}

// needsQuietRestart says n, up, holds a partition a disk error took
// offline or a full disk made reopen: quietBegin restarts such a node.
func (n *simNode) needsQuietRestart() bool {
	return len(n.b.OfflinePartitions()) > 0 || n.b.Reopened() > 0
}

// needsLateRestart is needsQuietRestart without the partitions a media
// flip damaged (quarantined), which no restart repairs.
func (n *simNode) needsLateRestart() bool {
	if n.b.Reopened() > 0 {
		return true
	}
	for _, op := range n.b.OfflinePartitions() {
		tp, ok := partitionOfPath(op.Dir + "/x")
		if _, q := n.w.quarantine[tp]; !ok || !q {
			return true
		}
	}
	return false
}

// quietLateSyncFailure restarts n when a sync failure reaches it inside a
// quiet window: the job ran, and failed, before the window healed the
// disk (the simulator may run a job at its start), but its result landed
// after quietBegin looked for nodes to restart, so the partition went
// offline in the window and, as the last ISR member reopened with its
// tail cut, stayed without a working leader (sim seed 818001270). The
// restart comes a moment later, from its own event, as quietBegin's do.
//
// A node whose only offline partitions hold a media flip's damage is left
// alone: a restart cannot repair them, and a job of such a partition that
// was queued at the start (its .txnindex rewritten by recovery) fails on
// the files the scrub closed, so every start restarted it again (seed
// 771204740: 160 restarts).
func (w *world) quietLateSyncFailure(n *simNode) {
	if !w.q.on || !n.up || n.stopping || !n.needsLateRestart() {
		return
	}
	inc := n.inc
	w.s.after(Millisecond, "quiet-restart", func() {
		if !w.q.on || n.inc != inc || !n.up || n.stopping || !n.needsLateRestart() {
			return
		}
		w.logf("quiet: node %d restarts: a sync that failed before the window reported in it", n.id)
		w.cover("quiet-late-sync-failure")
		n.stop(true, false)
		n.scheduleStart(100 * Millisecond)
	})
}

// quietEnd resumes the faults: the fault loops and the scenario are armed
// again, and deferred one-shot faults strike.
func (w *world) quietEnd() {
	if w.q.on && w.q.inflight > 0 && w.s.now < w.q.judgeEnd+quietDeadline {
		w.s.after(10*Millisecond, "quiet-end", w.quietEnd)
		return
	}
	if w.q.on && w.groups.liveWaiting() { // a group not yet settled (grouplive.go)
		w.s.after(10*Millisecond, "quiet-end", w.quietEnd)
		return
	}
	w.q.on, w.q.judging = false, false
	// The probe hangs up: a power loss before the next window would leave
	// its connections dead without a word, and a real client idle for
	// that long would have reconnected.
	for _, ch := range w.q.probe.chans {
		if ch != nil {
			ch.closeConn(errProbeIdle)
		}
	}
	if w.workloadStopped {
		return
	}
	w.logf("phase: quiet window over")
	w.tr.str("quiet-end")
	w.faultsOn = true
	w.armFaults()
	deferred := w.q.deferred
	w.q.deferred = nil
	for _, fn := range deferred {
		fn()
	}
}

// deferIfQuiet postpones a one-shot fault that fell in a quiet window to
// its end, reporting whether it did.
func (w *world) deferIfQuiet(fn func()) bool {
	if !w.q.on {
		return false
	}
	w.q.deferred = append(w.q.deferred, fn)
	return true
}

// quietJudge starts the judged period, which ends at end.
func (w *world) quietJudge(end Time) {
	if !w.q.on {
		return
	}
	w.q.judging, w.q.judgeEnd = true, end
	w.cover("quiet-window")
	w.q.probe.route.invalidate()
	w.quietProbe()
}

// quietProbe sends one probe and schedules the next until the judged
// period ends; the window lasts until every probe sent is settled.
func (w *world) quietProbe() {
	q := &w.q
	if !q.judging || w.s.now >= q.judgeEnd {
		return
	}
	if tp, ok := w.quietTarget(); ok {
		q.probes++
		q.inflight++
		w.probeSend(tp, w.s.now, 1)
	} else {
		q.skipped++
	}
	w.s.after(Time(q.probe.rng.Range(int64(50*Millisecond), int64(250*Millisecond))), "quiet-probe", w.quietProbe)
}

// quietTarget picks the next healthy partition, round robin over the
// partitions known when the judged period began (refreshed when the list
// runs out).
func (w *world) quietTarget() (lin.TopicPartition, bool) {
	q := &w.q
	for _, n := range w.nodes {
		if !n.up {
			return lin.TopicPartition{}, false
		}
	}
	for tries := 0; tries < 2; tries++ {
		for q.next < len(q.parts) {
			tp := q.parts[q.next]
			q.next++
			if w.quietHealthy(tp) {
				return tp, true
			}
		}
		q.parts, q.next = w.quietPartitions(), 0
	}
	return lin.TopicPartition{}, false
}

// quietPartitions lists the partitions of the live topics the workload
// knows, in name order.
func (w *world) quietPartitions() []lin.TopicPartition {
	var out []lin.TopicPartition
	for _, t := range w.reg.live() {
		for p := int32(0); p < t.partitions; p++ {
			out = append(out, lin.TopicPartition{Topic: t.name, Partition: p})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// quietHealthy reports whether tp should be available now: its topic is
// live (no delete sent), it is not quarantined, no replica of it took a
// media flip (a reported copy leaves the ISR for good, which may leave it
// below min.insync.replicas: NOT_ENOUGH_REPLICAS is then the right
// answer), its last ISR member is not an uncertain copy (mediaflip.go,
// uncertainLastCopy), and in a cluster the committed log gives it a
// leader.
func (w *world) quietHealthy(tp lin.TopicPartition) bool {
	t := w.reg.byName[tp.Topic]
	if t == nil || t.status != topicLive || tp.Partition >= t.partitions || w.quarantined(tp) {
		return false
	}
	for _, m := range w.mediaFlips {
		if m.tp == tp {
			return false
		}
	}
	if w.uncertainLastCopy(tp) {
		return false
	}
	return !w.cluster() || w.leaderOf(tp) > 0
}

// probeSend sends attempt number attempt of the probe first sent at
// first to tp, retrying on routing errors until quietDeadline.
func (w *world) probeSend(tp lin.TopicPartition, first Time, attempt int) {
	q := &w.q
	c := q.probe
	deadline := first + quietDeadline
	retry := func(why string) {
		if w.s.now+50*Millisecond < deadline && q.on && w.quietHealthy(tp) {
			w.s.after(50*Millisecond, "quiet-probe-retry", func() { w.probeSend(tp, first, attempt+1) })
			return
		}
		q.inflight--
		if q.on && w.quietHealthy(tp) {
			w.fail("availability: acks=all produce to %s in a quiet window not acknowledged within %s (%d attempts, last: %s)", tp, fmtTime(quietDeadline), attempt, why)
		}
	}
	c.route.ready(func() {
		node, _ := c.route.leader(tp)
		if node < 0 {
			c.route.invalidate()
			retry("no leader known")
			return
		}
		q.seq++
		values := []string{fmt.Sprintf("probe-%d", q.seq)}
		op := w.begin(lin.Op{Kind: lin.OpAppend, Client: c.id, Partition: tp, Call: int64(w.s.now), Values: values})
		req := oneBatchProduce(9, -1, int32(quietDeadline/Millisecond), tp, buildBatch(values, w.clientNowMs(), nil))
		c.do(node, req, max(deadline-w.s.now, Millisecond), false, func(resp kmsg.Response, err error) {
			if err != nil {
				c.route.invalidate()
				if err == errNotSent {
					w.complete(op, lin.OutcomeFailed)
				} else {
					w.complete(op, lin.OutcomeUnknown)
				}
				retry(err.Error())
				return
			}
			sp := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			if sp.ErrorCode == 0 {
				op.op.Offset = sp.BaseOffset
				w.complete(op, lin.OutcomeOK)
				q.inflight--
				w.logf("quiet: probe to %s acknowledged %s after its first send (%d attempts)", tp, fmtTime(w.s.now-first), attempt)
				if len(q.latencies) < maxQuietProbes {
					q.latencies = append(q.latencies, w.s.now-first)
				}
				return
			}
			switch {
			case definiteProduceFailure(sp.ErrorCode) || (w.cluster() && sp.ErrorCode == errCodeNotEnoughReplicas):
				w.complete(op, lin.OutcomeFailed)
			default:
				w.complete(op, lin.OutcomeUnknown)
			}
			if routingError(sp.ErrorCode) {
				c.route.invalidate()
			}
			retry(fmt.Sprintf("error code %d", sp.ErrorCode))
		})
	})
}

// checkQuiet judges the run's probe latencies at the end of the run.
func (w *world) checkQuiet() {
	if p99, bound := percentile(w.q.latencies, 0.99), w.quietP99(); p99 > bound {
		w.fail("availability: p99 latency of acks=all produces in quiet windows is %s over %d probes, above %s", fmtTime(p99), len(w.q.latencies), fmtTime(bound))
	}
}

// quietP99 is the bound on the p99 probe latency: quietP99Base, plus in a
// cluster twice replica.fetch.wait.max.ms. A follower keeps one fetch per
// leader in flight, so a partition that starts following that leader, or
// whose fetched records were slow to sync, waits for the one in flight
// to return, up to a long poll, and an acks=all produce with it (doc.go,
// Quiet windows).
func (w *world) quietP99() Time {
	if !w.cluster() {
		return quietP99Base
	}
	return quietP99Base + 2*Time(w.set.Cluster.ReplicaFetchWaitMaxMs)*Millisecond
}

// percentile returns the p-th quantile (nearest rank) of ts, 0 for none.
func percentile(ts []Time, p float64) Time {
	if len(ts) == 0 {
		return 0
	}
	s := append([]Time(nil), ts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// quietSummary describes the probes of a run (for the sweep's line).
func quietSummary(lat []Time) string {
	if len(lat) == 0 {
		return "no probes"
	}
	parts := []string{fmt.Sprintf("%d probes", len(lat))}
	for _, p := range []float64{0.5, 0.99, 1} {
		parts = append(parts, fmt.Sprintf("p%g=%s", p*100, fmtTime(percentile(lat, p))))
	}
	return strings.Join(parts, " ")
}
