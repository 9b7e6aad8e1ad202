package sim

// The trimmer moves log start offsets during the run: DeleteRecords to
// partition leaders, and topic config changes that make retention delete
// segments (small segment.bytes, retention.ms, retention.bytes) mid-run.
// This file also holds the log-start checks ("log-start:" failures) and
// the ground-truth coverage of segment rolls and retention deletes.

import (
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	lin "github.com/chronik-streaming/chronik/linearizability"
)

// TrimSettings shape the trimmer. Drawn from their own stream ("trim"),
// so that turning it on leaves every other draw of the seed alone.
type TrimSettings struct {
	// Every is the mean pause between trimmer steps; 0 turns it off.
	Every Time
	// DeleteFrac of the steps send DeleteRecords; the others alter a
	// topic's segment and retention configs.
	DeleteFrac float64
	// RetentionCheckIntervalMs is the brokers' log.retention.check.interval.ms
	// in seeds with the trimmer (Kafka's default, 5 minutes, never runs in
	// a 60 s phase).
	RetentionCheckIntervalMs int64
}

// drawTrim draws the trimmer's settings: on in half the seeds.
func drawTrim(r *Rand) TrimSettings {
	if !r.Chance(0.5) {
		return TrimSettings{}
	}
	return TrimSettings{
		Every:                    pick(r, []Time{Second, 3 * Second}),
		DeleteFrac:               pick(r, []float64{0.3, 0.6}),
		RetentionCheckIntervalMs: pick(r, []int64{300, 1000, 3000}),
	}
}

// String renders the settings for the run's settings line.
func (t TrimSettings) String() string {
	return fmt.Sprintf("trim/~%s(delete=%g,retention-check=%dms)", fmtTime(t.Every), t.DeleteFrac, t.RetentionCheckIntervalMs)
}

// trimmer is the client that sends DeleteRecords and alters log configs.
type trimmer struct {
	c *client
}

// ackedStart is one acknowledged DeleteRecords: from at on, the partition's
// log start is at least start.
type ackedStart struct {
	at    Time
	start int64
}

func (w *world) newTrimmer(c *client) *trimmer {
	t := &trimmer{c: c}
	w.s.after(c.rng.Exp(w.set.Trim.Every), "trim", t.step)
	return t
}

func (t *trimmer) step() {
	w := t.c.w
	if w.workloadStopped {
		return
	}
	defer w.s.after(t.c.rng.Exp(w.set.Trim.Every), "trim", t.step)
	r := t.c.rng
	live := w.reg.live()
	if len(live) == 0 {
		return
	}
	topic := pick(r, live)
	if r.Chance(w.set.Trim.DeleteFrac) {
		tp := lin.TopicPartition{Topic: topic.name, Partition: int32(r.Intn(int(topic.partitions)))}
		// Not while an idempotent retry whose first attempt may have
		// landed is on its way: a DeleteRecords could delete that
		// attempt and its producer's state before the retry arrives,
		// and the retry would append a second copy (sim seed 9223).
		if w.retrying[tp] == 0 {
			t.deleteRecords(tp)
		}
		return
	}
	t.alter(topic)
}

// deleteRecords asks the partition's leader to move its log start: to the
// high watermark (-1), to an offset at or below the high watermark the
// workload has seen, or past it (which must be OFFSET_OUT_OF_RANGE unless
// the high watermark got there first).
func (t *trimmer) deleteRecords(tp lin.TopicPartition) {
	w := t.c.w
	r := t.c.rng
	known := w.reg.known[tp]
	var offset int64
	switch x := r.Float64(); {
	case x < 0.2:
		offset = -1
	case x < 0.35:
		offset = known + r.Range(1, 20)
	case x < 0.45:
		offset = known
	default:
		offset = max(0, known-r.Range(0, 200))
	}
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.Version = int16(r.Range(0, 2))
	req.TimeoutMillis = 5000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = tp.Topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition = tp.Partition
	rp.Offset = offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	route := t.c.route
	route.ready(func() {
		if w.retrying[tp] > 0 {
			// Such a retry may have begun while the view refreshed
			// (sim seed 911001199): the rule of step holds at the send.
			return
		}
		node, _ := route.leader(tp)
		call := w.s.now
		op := w.begin(lin.Op{Kind: lin.OpDeleteRecords, Client: t.c.id, Partition: tp, Call: int64(call), Offset: offset})
		w.deleteSent[tp] = call
		w.deleteInFlight[tp]++
		t.c.do(node, req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
			w.deleteInFlight[tp]--
			if err != nil {
				route.invalidate()
				if err == errNotSent {
					w.complete(op, lin.OutcomeFailed)
				} else {
					w.complete(op, lin.OutcomeUnknown)
				}
				return
			}
			dr := resp.(*kmsg.DeleteRecordsResponse)
			if len(dr.Topics) != 1 || len(dr.Topics[0].Partitions) != 1 {
				w.fail("trimmer: delete records %s: %d topics in the response", tp, len(dr.Topics))
				w.complete(op, lin.OutcomeUnknown)
				return
			}
			sp := dr.Topics[0].Partitions[0]
			if routingError(sp.ErrorCode) {
				route.invalidate()
			}
			switch sp.ErrorCode {
			case 0:
				op.op.LogStart = sp.LowWatermark
				w.complete(op, lin.OutcomeOK)
				w.ackedDelete(tp, call, offset, sp.LowWatermark)
			case errCodeOffsetOutOfRange:
				// Checked before anything changes.
				w.complete(op, lin.OutcomeFailed)
				w.cover("delete-records-out-of-range")
			case errCodeUnknownTopicPartition, errCodeLeaderNotAvailable:
				// Refused before the log is touched.
				w.complete(op, lin.OutcomeFailed)
			default:
				// NOT_LEADER_OR_FOLLOWER and REQUEST_TIMED_OUT may end a
				// wait for the followers after the leader moved its own
				// start (sim seed 7143, -nodes=3); KAFKA_STORAGE_ERROR may
				// follow a checkpoint that landed.
				w.complete(op, lin.OutcomeUnknown)
			}
		})
	})
}

// mayTrim reports whether tp's log start may have moved since t:
// retention is on for its topic, or a DeleteRecords was sent since or is
// still unanswered. An
// idempotent producer does not retry a batch that may have landed then
// (sendTo): Chronik drops a producer's state when retention or
// DeleteRecords deletes its last batch (partlog's producerTable.trimBelow,
// and a restart rebuilds it from the segments left) and then accepts any
// sequence from it, so the retry would append a second copy (sim seed
// 1023). Kafka did the same before KIP-360 (2.5), which keeps the state
// until the producer expires (FINDINGS.md 33).
func (w *world) mayTrim(tp lin.TopicPartition, t Time) bool {
	if topic := w.reg.byName[tp.Topic]; topic != nil && topic.retentionSince != 0 {
		return true
	}
	return (w.deleteSent[tp] >= t && w.deleteSent[tp] > 0) || w.deleteInFlight[tp] > 0
}

// deletedDirs names the partition directories that were sent a
// DeleteRecords (safeFlipTargets spares their checkpoints).
func (w *world) deletedDirs() map[string]bool {
	out := make(map[string]bool, len(w.deleteSent))
	for tp := range w.deleteSent {
		out[tp.String()] = true
	}
	return out
}

// ackedDelete checks an acknowledged DeleteRecords (sent at call, for
// offset) and records its low watermark.
func (w *world) ackedDelete(tp lin.TopicPartition, call Time, offset, lowWatermark int64) {
	if offset >= 0 && lowWatermark < offset {
		w.fail("log-start: DeleteRecords %s before %d acknowledged with low watermark %d, below the offset asked for", tp, offset, lowWatermark)
	}
	prev := w.ackedStartBefore(tp, w.s.now+1)
	if !w.cluster() && lowWatermark < w.ackedStartBefore(tp, call) {
		w.fail("log-start: DeleteRecords %s answered low watermark %d, below %d acknowledged before it was sent (the start went back)", tp, lowWatermark, w.ackedStartBefore(tp, call))
	}
	if lowWatermark > prev {
		w.cover("delete-records")
		w.trimTrap(tp)
	}
	w.deletes[tp] = append(w.deletes[tp], ackedStart{at: w.s.now, start: lowWatermark})
	w.reg.learn(tp, lowWatermark)
}

// trimTrap, in a cluster's fault phase and for 30% of the DeleteRecords
// that moved a start (its own stream, "trim-trap"), kills the partition's
// leader right after the answer: a follower that does not have the new
// start yet may lead next, and the final drain's earliest check tells
// whether the answer waited for it.
func (w *world) trimTrap(tp lin.TopicPartition) {
	if !w.cluster() || !w.faultsOn || w.workloadStopped || !w.trimTrapRng.Chance(0.3) {
		return
	}
	t := w.raft.truth.Topic(tp.Topic)
	if t == nil || tp.Partition >= t.Partitions {
		return
	}
	leader := t.Assignments[tp.Partition].Leader
	if leader <= 0 || int(leader) > len(w.nodes) {
		return
	}
	n := w.nodes[leader-1]
	if !n.up || n.stopping || n.crashArmed != nil {
		return
	}
	w.cover("delete-records-trap")
	w.logf("trim trap: failing node %d, leader of %s, right after a DeleteRecords", n.id, tp)
	w.stopNode(n, "kill")
	n.scheduleStart(Time(w.trimTrapRng.Range(int64(300*Millisecond), int64(2*Second))))
}

// ackedStartBefore is the highest low watermark of a DeleteRecords of tp
// acknowledged before t: the least log start offset a read at t may see.
func (w *world) ackedStartBefore(tp lin.TopicPartition, t Time) int64 {
	var start int64
	for _, d := range w.deletes[tp] {
		if d.at < t {
			start = max(start, d.start)
		}
	}
	return start
}

// trimBound is how far anything in the run could have moved tp's log
// start: unbounded once a retention bound was sent for its topic,
// otherwise the furthest DeleteRecords not known to have failed (its
// answered low watermark, the offset it asked for, or unbounded for the
// high watermark). The same rule as the offset checks' (lin.DeletedWrite).
func (w *world) trimBound(tp lin.TopicPartition) int64 {
	if t := w.reg.byName[tp.Topic]; t != nil && t.retentionSince != 0 {
		return math.MaxInt64
	}
	var b int64
	for _, op := range w.history {
		if op.Kind != lin.OpDeleteRecords || op.Partition != tp {
			continue
		}
		switch {
		case op.Outcome == lin.OutcomeOK:
			b = max(b, op.LogStart)
		case op.Outcome == lin.OutcomeUnknown && op.Offset >= 0:
			b = max(b, op.Offset)
		case op.Outcome == lin.OutcomeUnknown:
			return math.MaxInt64
		}
	}
	return b
}

// checkEarliest checks an earliest offset (ListOffsets -2) answered for a
// request sent at call: never below a DeleteRecords acknowledged before
// the call. On a single node every answer is judged; in a cluster only the
// final drain's (a deposed leader may still answer with its own, older
// start): the broker acknowledges DeleteRecords once every follower on a
// live broker has the new start, as Kafka does, so whichever replica
// leads at the end has it too.
func (w *world) checkEarliest(who string, tp lin.TopicPartition, call Time, earliest int64, final bool) {
	if w.cluster() && !final {
		return
	}
	if want := w.ackedStartBefore(tp, call); earliest < want {
		w.fail("log-start: %s: earliest offset of %s is %d, below the low watermark %d of a DeleteRecords acknowledged before", who, tp, earliest, want)
	}
}

// alter changes segment.bytes, retention.ms and retention.bytes of a
// topic: with IncrementalAlterConfigs, or (a quarter of the time) with the
// legacy AlterConfigs, which replaces every override (so it repeats
// min.insync.replicas). A retention bound counts from the moment it is
// sent: whatever the answer, it may be in force (retentionSince).
func (t *trimmer) alter(topic *simTopic) {
	w := t.c.w
	r := t.c.rng
	type setting struct{ name, value string }
	var set []setting
	for _, c := range []struct {
		name   string
		values []int64
	}{
		{"segment.bytes", []int64{512, 1024, 4096, 1 << 20}},
		{"retention.ms", []int64{2000, 10000, 30000, -1}},
		{"retention.bytes", []int64{1024, 4096, 32768, -1}},
	} {
		if r.Chance(0.5) {
			v := pick(r, c.values)
			set = append(set, setting{c.name, strconv.FormatInt(v, 10)})
			if strings.HasPrefix(c.name, "retention.") && v >= 0 && topic.retentionSince == 0 {
				topic.retentionSince = max(w.s.now, 1)
			}
		}
	}
	if len(set) == 0 {
		return
	}
	var req kmsg.Request
	if r.Chance(0.25) {
		if topic.minISR != "" {
			set = append(set, setting{"min.insync.replicas", topic.minISR})
		}
		legacy := kmsg.NewPtrAlterConfigsRequest()
		legacy.Version = int16(r.Range(0, 2))
		res := kmsg.NewAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic.name
		for _, s := range set {
			res.Configs = append(res.Configs, kmsg.AlterConfigsRequestResourceConfig{Name: s.name, Value: kmsg.StringPtr(s.value)})
		}
		legacy.Resources = append(legacy.Resources, res)
		req = legacy
	} else {
		incr := kmsg.NewPtrIncrementalAlterConfigsRequest()
		incr.Version = int16(r.Range(0, 1))
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic.name
		for _, s := range set {
			res.Configs = append(res.Configs, kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: s.name, Value: kmsg.StringPtr(s.value)})
		}
		incr.Resources = append(incr.Resources, res)
		req = incr
	}
	route := t.c.route
	t.c.do(route.controllerID(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		code := int16(0)
		switch ar := resp.(type) {
		case *kmsg.AlterConfigsResponse:
			if len(ar.Resources) == 1 {
				code = ar.Resources[0].ErrorCode
			}
		case *kmsg.IncrementalAlterConfigsResponse:
			if len(ar.Resources) == 1 {
				code = ar.Resources[0].ErrorCode
			}
		}
		if err != nil || routingError(code) {
			route.invalidate()
		}
	})
}

// retentionMarkers returns one retention marker per partition of the
// history whose topic had a retention bound sent (retentionSince): the
// history's record of when retention may have started deleting.
func (w *world) retentionMarkers(hist []lin.Op, client int) []lin.Op {
	seen := map[lin.TopicPartition]bool{}
	var out []lin.Op
	for _, op := range hist {
		t := w.reg.byName[op.Partition.Topic]
		if t == nil || t.retentionSince == 0 || seen[op.Partition] {
			continue
		}
		seen[op.Partition] = true
		at := int64(t.retentionSince)
		out = append(out, lin.Op{Kind: lin.OpRetention, Client: client, Partition: op.Partition, Call: at, Return: at, Outcome: lin.OutcomeOK})
	}
	return out
}

// firstLog returns the first segment (.log) file name in name's
// directory as the names sort (their zero-padded base offsets), "" when
// there is none. It walks the names unsorted: it runs at every segment
// created or removed.
func (d *simDisk) firstLog(name string) string {
	first := ""
	d.md(name).EachFile(path.Dir(name), func(n string) {
		if strings.HasSuffix(n, ".log") && (first == "" || n < first) {
			first = n
		}
	})
	return first
}

// noteSegmentCreate counts a roll, seen from the simulated disk: a new
// segment file created next to an older one. Called before the open, on
// name's mount m; exists says the file is there already. Any older
// segment will do, so the walk stops at the first one found instead of
// looking for the first (firstLog).
func (d *simDisk) noteSegmentCreate(m *memdisk.Disk, name string, exists bool) {
	file := path.Base(name)
	if !strings.HasSuffix(file, ".log") || exists {
		return
	}
	if m.AnyFile(path.Dir(name), func(n string) bool { return strings.HasSuffix(n, ".log") && n < file }) {
		d.w.cover("segment-roll")
	}
}

// noteSegmentRemoved counts a retention delete, seen from the simulated
// disk: during a broker tick (where retention runs), a partition's oldest
// segment file went while newer ones stay. Called after the removal.
func (d *simDisk) noteSegmentRemoved(name string) {
	file := path.Base(name)
	if d.node == nil || !d.node.inTick || !strings.HasSuffix(file, ".log") {
		return
	}
	if first := d.firstLog(name); first != "" && first > file {
		d.w.cover("retention-delete")
	}
}
