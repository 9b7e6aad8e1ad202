package sim

// Replication checkers, judged from the simulator's global view: every
// replica's durable log (memdisk's synced contents on its simDisk), the
// committed metadata (the truth image) and every epoch. Each failure
// message starts with its checker's prefix:
//
//   - isr-admission: when the committed log grows a partition's ISR
//     (a ChangeISR applied to the truth), every joiner's fetch offset that
//     the leader saw before it asked, and the joiner's durable log at the
//     commit, reach the leader's epoch start offset and its high
//     watermark at the time it asked, and the joiner's batch just below
//     that offset is the leader's (same offsets, epoch and CRC).
//   - isr-shrink: a follower stays in the committed ISR at most
//     replica.lag.time.max.ms plus isrShrinkSlack after it was last
//     caught up to its leader's log end (Kafka's rule, from the replica
//     fetches the leader received: a fetch at the leader's end, or at the
//     end the leader had at the follower's previous fetch). Judged only
//     while the leader could act: its process is up and leads at the
//     committed leader and partition epochs, the quorum has a leader (the
//     controller) with a majority, the leader's controller view names it,
//     the links between the two are neither cut nor clogged and the
//     leader's clock did not jump; the slack starts when all of that
//     began to hold.
//   - min-insync: an acks=all produce is acknowledged only if the
//     committed ISR its leader had applied (its image, which the image
//     check proves equal to a prefix of the committed log) held
//     min.insync.replicas members when the batch was appended and when it
//     was acknowledged (judged for requests of one partition, whose
//     answer goes out when it completes); NOT_ENOUGH_REPLICAS (refused
//     before the append) only when it did not at the append, and
//     NOT_ENOUGH_REPLICAS_AFTER_APPEND only when it did.
//   - hw-durable: a high watermark a broker serves in a fetch answer
//     (to a client or a follower) never passes a record that a member of
//     the committed ISR, or the serving broker, lacks durably: each holds
//     in its synced log the same batch (offsets, epoch, CRC) just below it.
//     Judged each time a partition's served high watermark passes the
//     highest one judged before.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/core/metadata"
	lin "github.com/chronik-streaming/chronik/linearizability"
)

// isrShrinkSlack is how long past replica.lag.time.max.ms a lagging
// follower may stay in the committed ISR while its leader can act: the
// leader's lag check, an AlterPartition lost with a reset connection (the
// peer timeout is 3 s), a refusal as stale and its retry, the commit.
const isrShrinkSlack = 5 * Second

// askKey names the ISR expansion asks of one leader for one partition.
type askKey struct {
	tp     lin.TopicPartition
	leader int32
}

// replKey names one follower of one partition as one leader sees it.
// Keyed by the leader too: a follower may still fetch from its deposed
// leader (a request in flight, or both with a stale view) after it
// fetched from the new one, and the deposed leader's record must not
// hide the new leader's (seeds 20173 and 689150508: the late fetch
// replaced the record and the new leader's admission was judged as if
// it had seen no fetch, "the leader saw -1").
type replKey struct {
	tp       lin.TopicPartition
	follower int32
	leader   int32
}

// fetchSeen is what a partition's leader received in its latest replica
// fetch from one follower during one leadership (the leader is in its
// replKey).
type fetchSeen struct {
	epoch  int32
	offset int64
	// prevAt and prevLEO: when the latest fetch arrived and the leader's
	// log end then; caughtUp: when the follower was last caught up.
	prevAt   Time
	prevLEO  int64
	caughtUp Time
}

// isrAsk is an ISR change a leader sent to the controller, with what the
// leader saw when it first asked for it.
type isrAsk struct {
	leader                      int32
	leaderEpoch, partitionEpoch int32
	isr                         []int32
	hw, epochStart              int64
	at                          Time
	// fetched holds, per member of isr, the offset of its latest fetch
	// the leader received in this leadership (-1: none).
	fetched map[int32]int64
}

// appendSnap is the ISR a leader had applied when it handled one
// partition of an acks=all produce.
type appendSnap struct {
	tp     lin.TopicPartition
	leader bool
	isr    []int32
	min    int32
}

// hwMark is the highest served high watermark judged so far for one
// incarnation of a partition.
type hwMark struct {
	id metadata.TopicID
	hw int64
}

// shrinkWatch is how long a partition's leader could act (see the
// isr-shrink rule); since < 0 when it cannot now.
type shrinkWatch struct {
	leader int32
	epoch  int32
	since  Time
	judged map[int32]bool // followers already reported in this window
}

// replChecker holds the checkers' state. Its maps grow with partitions
// times nodes (fetches, asks, marks, watches) or with requests in flight
// (produces, emptied at each answer and when the process stops).
type replChecker struct {
	w        *world
	fetches  map[replKey]*fetchSeen
	asks     map[askKey]*isrAsk
	produces []map[*broker.Request][]appendSnap // by node index
	marks    map[string][]hwMark                // by topic name, then partition index
	watches  map[lin.TopicPartition]*shrinkWatch
	jumpedAt []Time // last clock jump, by node index
	traps    *replTraps
	// view is noteReplicaFetch's scratch: its ISR buffer is reused for
	// every replica fetch seen.
	view broker.ReplicaView
}

func newReplChecker(w *world) *replChecker {
	rc := &replChecker{
		w:        w,
		fetches:  map[replKey]*fetchSeen{},
		asks:     map[askKey]*isrAsk{},
		produces: make([]map[*broker.Request][]appendSnap, len(w.nodes)),
		marks:    map[string][]hwMark{},
		watches:  map[lin.TopicPartition]*shrinkWatch{},
		jumpedAt: make([]Time, len(w.nodes)),
	}
	for i := range rc.produces {
		rc.produces[i] = map[*broker.Request][]appendSnap{}
	}
	return rc
}

// isrShrinkTick is how often the isr-shrink rule is judged.
const isrShrinkTick = 250 * Millisecond

// start arms the isr-shrink judge and the returning-follower trap when
// the fault phase begins (clusters).
func (rc *replChecker) start() {
	w := rc.w
	var tick func()
	tick = func() {
		if w.done {
			return
		}
		rc.tick()
		w.s.after(isrShrinkTick, "repl-check", tick)
	}
	w.s.after(isrShrinkTick, "repl-check", tick)
	rc.traps.startReturning()
	rc.traps.startLagging()
}

// nodeStarted forgets the produces of the node's previous process.
func (rc *replChecker) nodeStarted(n *simNode) {
	clear(rc.produces[n.id-1])
}

// clockJumped notes a jump of n's clock (the lag check runs on it).
func (rc *replChecker) clockJumped(n *simNode) { rc.jumpedAt[n.id-1] = rc.w.s.now }

// onRequest runs when node n is about to handle req: replica fetches
// (the followers' progress a leader sees) and acks=all produces (the ISR
// at the append).
func (rc *replChecker) onRequest(n *simNode, req *broker.Request) {
	switch r := req.Msg.(type) {
	case *kmsg.FetchRequest:
		if r.ReplicaID >= 0 && rc.w.cluster() {
			for _, t := range r.Topics {
				for i := range t.Partitions {
					rc.noteReplicaFetch(n, r.ReplicaID, lin.TopicPartition{Topic: t.Topic, Partition: t.Partitions[i].Partition}, &t.Partitions[i])
				}
			}
		}
	case *kmsg.ProduceRequest:
		if r.Acks != -1 {
			return
		}
		var snaps []appendSnap
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				tp := lin.TopicPartition{Topic: t.Topic, Partition: p.Partition}
				v, ok := n.b.ReplicaView(tp.Topic, tp.Partition)
				snaps = append(snaps, appendSnap{tp: tp, leader: ok && v.Leader, isr: v.ISR, min: v.MinInsync})
			}
		}
		rc.produces[n.id-1][req] = snaps
	}
}

// noteReplicaFetch records one partition of a follower's fetch as the
// leader receives it, with Kafka's caught-up rule.
func (rc *replChecker) noteReplicaFetch(n *simNode, follower int32, tp lin.TopicPartition, rp *kmsg.FetchRequestTopicPartition) {
	v := &rc.view
	// Only the fields ReplicaProgressInto fills are read below.
	ok := n.b.ReplicaProgressInto(tp.Topic, tp.Partition, v)
	if !ok || !v.Leader || (rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch != v.LeaderEpoch) || rp.FetchOffset > v.LogEndOffset {
		return
	}
	now := rc.w.s.now
	k := replKey{tp, follower, n.id}
	s := rc.fetches[k]
	if s == nil || s.epoch != v.LeaderEpoch {
		s = &fetchSeen{epoch: v.LeaderEpoch, prevLEO: -1}
		rc.fetches[k] = s
	}
	switch {
	case rp.FetchOffset >= v.LogEndOffset:
		s.caughtUp = now
	case s.prevLEO >= 0 && rp.FetchOffset >= s.prevLEO && s.prevAt > s.caughtUp:
		s.caughtUp = s.prevAt
	}
	s.prevAt, s.prevLEO, s.offset = now, v.LogEndOffset, rp.FetchOffset
	// The window the epoch-start rule of ISR admission is about: a
	// follower outside the ISR has reached the new leader's high
	// watermark, which still lags the leader's epoch start.
	if !slices.Contains(v.ISR, follower) && v.HighWatermark < v.EpochStartOffset && rp.FetchOffset >= v.HighWatermark && rp.FetchOffset < v.EpochStartOffset {
		rc.w.cover("returning-follower-below-epoch-start")
	}
}

// logExpandingISR is the broker's log line when a leader asks the
// controller to add a follower to an ISR (core/broker/replication.go);
// the ask may go over the network or, on the controller's own node, to
// itself, so the log line is where every first ask is seen.
const logExpandingISR = "expanding ISR"

// logLeadingPartition is the broker's log line when it takes a partition
// over as its leader (the election trap, scenario.go).
const logLeadingPartition = "leading partition"

// Broker log lines of the ISR exit of copies that cannot serve and of
// copies recovery cut without their checkpoint (core/broker
// replication.go), counted as coverage: an offline copy asking again on
// its timer, an uncertain copy elected but not leading, and one admitted
// to the ISR again.
const (
	logAskingAgainToLeaveISR = "asking again to leave the ISR"
	logUncertainNotLeading   = "not leading an uncertain copy (it may lack synced records)"
	logUncertainCaughtUp     = "uncertain copy caught up: back in the ISR, eligible to lead"
	// logRecoveredWithRepairs reports a repair at open; with uncertain
	// true and a cut (truncated_at >= 0), recovery marked a cut it made
	// without the checkpoint (checkpoint_corrupt true), or cut a copy
	// marked before the open (a damage report, FINDINGS.md 40).
	logRecoveredWithRepairs = "partition recovered with repairs"
)

// onExpandingISR records what leader n saw when it first asked for an
// ISR expansion (its log line, whose arguments name the partition
// directory, the follower and the new ISR).
func (rc *replChecker) onExpandingISR(n *simNode, args []any) {
	var dir string
	var isr []int32
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "partition":
			dir, _ = args[i+1].(string)
		case "isr":
			isr, _ = args[i+1].([]int32)
		}
	}
	tp, ok := partitionOfPath(dir + "/")
	if !ok || isr == nil {
		return
	}
	v, ok := n.b.ReplicaView(tp.Topic, tp.Partition)
	if !ok {
		return
	}
	a := &isrAsk{leader: n.id, leaderEpoch: v.LeaderEpoch, partitionEpoch: v.PartitionEpoch, isr: append([]int32(nil), isr...),
		hw: v.HighWatermark, epochStart: v.EpochStartOffset, at: rc.w.s.now, fetched: map[int32]int64{}}
	for _, id := range isr {
		a.fetched[id] = -1
		if s := rc.fetches[replKey{tp, id, n.id}]; s != nil && s.epoch == v.LeaderEpoch {
			a.fetched[id] = s.offset
		}
	}
	// Keyed by the asking leader too: a deposed leader's late ask must not
	// hide the current leader's (sim seed 455).
	rc.asks[askKey{tp, n.id}] = a
}

// partState is a partition's leader, epochs and ISR in the truth.
type partState struct {
	leader, leaderEpoch, partitionEpoch int32
	isr                                 []int32
}

// truthSnap holds the truth's partitions as they were before a commit,
// in topic-name and index order, for the rules and counters that compare
// a commit's before and after (isr-admission, coverCommit). One is reused
// for every commit: two maps per commit were 1.5% of a cluster run.
type truthSnap struct {
	parts []partSnap
	isrs  []int32 // the ISRs, copied (applies change them in place)
}

// partSnap is one partition of a truthSnap.
type partSnap struct {
	name  string
	id    metadata.TopicID
	index int
	st    partState
}

// take captures every partition of im, overwriting what s held.
func (s *truthSnap) take(im *metadata.Image) {
	s.parts, s.isrs = s.parts[:0], s.isrs[:0]
	for name, t := range im.Topics() {
		for i := range t.Assignments {
			a := &t.Assignments[i]
			s.isrs = append(s.isrs, a.ISR...)
			// When the arena grows, the copies already made stay valid
			// in the old array, which nothing writes any more.
			n := len(s.isrs)
			isr := s.isrs[n-len(a.ISR) : n : n]
			s.parts = append(s.parts, partSnap{name: name, id: t.ID, index: i, st: partState{a.Leader, a.LeaderEpoch, a.PartitionEpoch, isr}})
		}
	}
}

// each calls fn, in topic-name and index order, for every partition of im
// that s held (the same topic name and index; the topic id may differ),
// with its state then.
func (s *truthSnap) each(im *metadata.Image, fn func(t *metadata.Topic, i int, old *partSnap)) {
	j := 0
	for name, t := range im.Topics() {
		for j < len(s.parts) && s.parts[j].name < name {
			j++
		}
		// s.parts[j:] starts with name's partitions 0, 1, ..., if any.
		for i := range t.Assignments {
			k := j + i
			if k >= len(s.parts) || s.parts[k].name != name {
				break
			}
			fn(t, i, &s.parts[k])
		}
	}
}

// afterCommit judges the ISR expansions of one committed entry, given
// the truth's partitions before it.
func (rc *replChecker) afterCommit(before *truthSnap) {
	before.each(rc.w.raft.truth, func(t *metadata.Topic, i int, old *partSnap) {
		a := &t.Assignments[i]
		if a.Leader != old.st.leader || a.LeaderEpoch != old.st.leaderEpoch {
			return
		}
		for _, id := range a.ISR {
			if !slices.Contains(old.st.isr, id) {
				rc.judgeAdmission(lin.TopicPartition{Topic: t.Name, Partition: int32(i)}, a, old.st, id)
			}
		}
	})
}

// judgeAdmission checks the isr-admission rule for joiner, which the
// committed log has just added to tp's ISR (now a; before: old).
func (rc *replChecker) judgeAdmission(tp lin.TopicPartition, a *metadata.Partition, old partState, joiner int32) {
	w := rc.w
	if w.quarantined(tp) {
		return
	}
	ask := rc.asks[askKey{tp, a.Leader}]
	if ask == nil || ask.leader != a.Leader || ask.leaderEpoch != a.LeaderEpoch || ask.partitionEpoch != old.partitionEpoch || !sameIDs(ask.isr, a.ISR) {
		w.fail("isr-admission: %s: node %d joined the committed ISR %v (leader %d, epoch %d) that its leader never asked for", tp, joiner, a.ISR, a.Leader, a.LeaderEpoch)
		return
	}
	leader, j := w.nodes[a.Leader-1], w.nodes[joiner-1]
	var ref []byte
	need := max(ask.epochStart, ask.hw)
	if need > 0 {
		if b, ok := batchAt(leader.disk, tp, need-1, false); ok {
			ref = b
		}
	}
	var held []byte
	if need > 0 {
		held, _ = batchAt(j.disk, tp, need-1, true)
	}
	if held == nil && need > 0 && w.trimmedPast(j.disk, tp, need-1) {
		held = []byte{} // trimmed past need-1: nothing there to compare
		ref = nil
	}
	if w.flipOf(joiner, tp) != nil || w.flipOf(a.Leader, tp) != nil {
		// A copy with a media flip holds other bytes by design;
		// mediaflip.go judges it (repaired or reported). Only the offsets
		// are judged here.
		ref, held = nil, []byte{}
	}
	if ref != nil && held != nil && compactedTopic(tp) && sameCleanedBatch(ref, held) {
		// Each replica's cleaner compacts its own copy: the batch holding
		// the offset may hold fewer records, and another CRC, on one of
		// them, or span other offsets (emptied batches merged). The
		// records' own agreement is the final drain's (compactioncheck.go
		// for the compaction workload's topics).
		held = ref
	}
	if msg := admissionVerdict(ask.fetched[joiner], ask.hw, ask.epochStart, ref, held); msg != "" {
		w.fail("isr-admission: %s: node %d joined the committed ISR %v of leader %d at epoch %d (asked at %s): %s", tp, joiner, a.ISR, a.Leader, a.LeaderEpoch, ask.at, msg)
		return
	}
	rc.traps.admitted(tp, a.Leader, joiner)
}

// admissionVerdict judges one ISR admission: fetched is the joiner's
// fetch offset the leader saw before it asked (-1: none), hw and
// epochStart the leader's when it asked; ref is the leader's batch just
// below max(hw, epochStart) and held the joiner's durable one there (nil:
// absent). It returns "" when the admission is sound.
func admissionVerdict(fetched, hw, epochStart int64, ref, held []byte) string {
	need := max(hw, epochStart)
	if fetched < need {
		return fmt.Sprintf("its fetch offset the leader saw was %d, below the leader's high watermark %d or epoch start %d", fetched, hw, epochStart)
	}
	if need == 0 {
		return ""
	}
	if held == nil {
		return fmt.Sprintf("it does not hold offset %d durably (the leader's high watermark %d, epoch start %d)", need-1, hw, epochStart)
	}
	if ref != nil && !sameBatch(ref, held) {
		return fmt.Sprintf("its durable batch at offset %d differs from the leader's: %s vs %s", need-1, describeBatch(held), describeBatch(ref))
	}
	return ""
}

// onReply judges a response node n is about to send: served high
// watermarks (fetch) and acks=all answers (produce).
func (rc *replChecker) onReply(n *simNode, req *broker.Request, resp kmsg.Response) {
	switch r := resp.(type) {
	case *kmsg.FetchResponse:
		if !rc.w.cluster() {
			return
		}
		// The truth and the marks of a topic are looked up once for all
		// its partitions: nothing in judgeServedHW changes the truth, and
		// the topic's marks slice is sized to its partitions before use.
		truth := rc.w.raft.truth
		for _, t := range r.Topics {
			var top *metadata.Topic
			var marks []hwMark
			looked := false
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 && p.HighWatermark > 0 {
					if !looked {
						looked = true
						if top = truth.Topic(t.Topic); top != nil {
							marks = rc.topicMarks(t.Topic, top.Partitions)
						}
					}
					rc.judgeServedHW(n, top, marks, lin.TopicPartition{Topic: t.Topic, Partition: p.Partition}, p.HighWatermark)
				}
			}
		}
	case *kmsg.ProduceResponse:
		snaps, ok := rc.produces[n.id-1][req]
		if !ok {
			return
		}
		delete(rc.produces[n.id-1], req)
		// A request's answer goes out when its last partition completes:
		// the ISR at the answer is the one a partition completed with only
		// when it is the only one.
		single := len(r.Topics) == 1 && len(r.Topics[0].Partitions) == 1
		// A transactional produce's NOT_ENOUGH_REPLICAS may be its
		// verification's retriable coordinator error (KIP-890 part 1,
		// core/broker/txn_verify.go produceVerifyCode), whatever the ISR.
		pr, _ := req.Msg.(*kmsg.ProduceRequest)
		txnl := pr != nil && pr.TransactionID != nil
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				tp := lin.TopicPartition{Topic: t.Topic, Partition: p.Partition}
				for _, s := range snaps {
					if s.tp != tp || !s.leader {
						continue
					}
					atAnswer := s.isr
					if now, ok := n.b.ReplicaView(tp.Topic, tp.Partition); ok && single {
						atAnswer = now.ISR
					}
					if txnl {
						// Its append waits for the verification (a later
						// event): only the ISR at the answer is known, and
						// only an acknowledgement is judged by it.
						if p.ErrorCode == 0 && single && int32(len(atAnswer)) < s.min {
							rc.w.fail("min-insync: node %d, %s (base offset %d): transactional acks=all acknowledged with ISR %v, below min.insync.replicas=%d", n.id, tp, p.BaseOffset, atAnswer, s.min)
						}
						continue
					}
					if msg := minInsyncVerdict(p.ErrorCode, s.isr, atAnswer, s.min); msg != "" {
						rc.w.fail("min-insync: node %d, %s (base offset %d): %s", n.id, tp, p.BaseOffset, msg)
					}
				}
			}
		}
	}
}

// minInsyncVerdict judges one partition of an acks=all produce answer:
// atAppend and atAnswer are the committed ISR the leader had applied when
// it handled the request and when it answered (for a request of one
// partition; else atAppend again). "" when sound.
func minInsyncVerdict(code int16, atAppend, atAnswer []int32, min int32) string {
	enough := int32(len(atAppend)) >= min
	switch code {
	case 0:
		if !enough {
			return fmt.Sprintf("acks=all acknowledged, but the batch was appended with ISR %v, below min.insync.replicas=%d", atAppend, min)
		}
		if int32(len(atAnswer)) < min {
			return fmt.Sprintf("acks=all acknowledged with ISR %v, below min.insync.replicas=%d", atAnswer, min)
		}
	case errCodeNotEnoughReplicas:
		if enough {
			return fmt.Sprintf("NOT_ENOUGH_REPLICAS (refused before the append) with ISR %v, which holds min.insync.replicas=%d", atAppend, min)
		}
	case errCodeNotEnoughAfter:
		if !enough {
			return fmt.Sprintf("NOT_ENOUGH_REPLICAS_AFTER_APPEND, but the ISR at the append %v was already below min.insync.replicas=%d: the batch should have been refused before it (NOT_ENOUGH_REPLICAS)", atAppend, min)
		}
	}
	return ""
}

// topicMarks returns the marks of topic name by partition index, with
// room for parts partitions (the slice is the map's: writes through it
// stay).
func (rc *replChecker) topicMarks(name string, parts int32) []hwMark {
	marks := rc.marks[name]
	if int32(len(marks)) < parts {
		marks = append(marks, make([]hwMark, int(parts)-len(marks))...)
		rc.marks[name] = marks
	}
	return marks
}

// judgeServedHW checks the hw-durable rule for a high watermark that
// node n serves for tp: t is tp's topic in the truth (nil: none) and
// marks its topicMarks.
func (rc *replChecker) judgeServedHW(n *simNode, t *metadata.Topic, marks []hwMark, tp lin.TopicPartition, hw int64) {
	w := rc.w
	if t == nil || tp.Partition >= t.Partitions || w.quarantined(tp) {
		return
	}
	if m := marks[tp.Partition]; m.id == t.ID && hw <= m.hw {
		return
	}
	marks[tp.Partition] = hwMark{id: t.ID, hw: hw}
	a := &t.Assignments[tp.Partition]
	dir := tp.String() // once for every disk looked at below
	own, _ := batchAtDir(n.disk, dir, hw-1, true)
	ref := own
	if w.flipOf(n.id, tp) != nil {
		ref = nil // its bytes are judged by mediaflip.go
	}
	var buf [8]int32 // room for any replication factor the sim uses, on the stack
	members := append(buf[:0], a.ISR...)
	if slices.Contains(a.Replicas, n.id) && !slices.Contains(members, n.id) {
		members = append(members, n.id)
	}
	slices.Sort(members)
	for _, id := range members {
		if w.flipOf(id, tp) != nil {
			continue // a flipped copy: mediaflip.go
		}
		held := own // the serving node's, read above (n is w.nodes[n.id-1])
		if id != n.id {
			held, _ = batchAtDir(w.nodes[id-1].disk, dir, hw-1, true)
		}
		if held == nil && w.trimmedPastDir(w.nodes[id-1].disk, tp, dir, hw-1) {
			continue
		}
		if ref != nil && held != nil && compactedTopic(tp) && sameCleanedBatch(ref, held) {
			continue // each replica's cleaner rewrites its own copy (judgeAdmission)
		}
		if msg := hwDurableVerdict(hw, ref, held); msg != "" {
			w.fail("hw-durable: node %d served high watermark %d of %s (committed ISR %v, leader %d epoch %d), but node %d %s", n.id, hw, tp, a.ISR, a.Leader, a.LeaderEpoch, id, msg)
			return
		}
	}
}

// hwDurableVerdict judges one replica against a served high watermark:
// held is its durable batch holding offset hw-1 (nil: none), ref the
// serving broker's. "" when sound.
func hwDurableVerdict(hw int64, ref, held []byte) string {
	switch {
	case held == nil:
		return fmt.Sprintf("does not hold offset %d durably", hw-1)
	case ref != nil && !sameBatch(ref, held):
		return fmt.Sprintf("holds a different batch at offset %d durably: %s vs %s", hw-1, describeBatch(held), describeBatch(ref))
	}
	return ""
}

// tick judges the isr-shrink rule for every partition of the truth; it
// runs every isrShrinkTick of a cluster run.
func (rc *replChecker) tick() {
	w := rc.w
	truth := w.raft.truth
	now := w.s.now
	lag := Time(w.brokerCfg.ReplicaLagTimeMaxMs) * Millisecond
	for _, name := range truth.TopicNames() {
		t := truth.Topic(name)
		for i := range t.Assignments {
			a := &t.Assignments[i]
			tp := lin.TopicPartition{Topic: name, Partition: int32(i)}
			wt := rc.watches[tp]
			if wt == nil {
				wt = &shrinkWatch{since: -1}
				rc.watches[tp] = wt
			}
			if !rc.leaderCanAct(tp, a) {
				wt.since = -1
				continue
			}
			if wt.since < 0 || wt.leader != a.Leader || wt.epoch != a.LeaderEpoch {
				*wt = shrinkWatch{leader: a.Leader, epoch: a.LeaderEpoch, since: now}
				continue
			}
			if w.quarantined(tp) {
				continue
			}
			for _, f := range a.ISR {
				if f == a.Leader || wt.judged[f] {
					continue
				}
				from := wt.since
				if s := rc.fetches[replKey{tp, f, a.Leader}]; s != nil && s.epoch == a.LeaderEpoch && s.caughtUp > from {
					from = s.caughtUp
				}
				if msg := shrinkVerdict(now, from, lag); msg != "" {
					if wt.judged == nil {
						wt.judged = map[int32]bool{}
					}
					wt.judged[f] = true
					w.fail("isr-shrink: %s: follower %d is still in the committed ISR %v of leader %d (epoch %d): %s (the leader could act since %s)",
						tp, f, a.ISR, a.Leader, a.LeaderEpoch, msg, wt.since)
				}
			}
		}
	}
}

// shrinkVerdict judges a follower last caught up (or first judgeable) at
// from, still in the ISR at now. "" when sound.
func shrinkVerdict(now, from, lag Time) string {
	if now-from > lag+isrShrinkSlack {
		return fmt.Sprintf("it was last caught up to the leader's log end at %s, %s ago (replica.lag.time.max.ms %s, slack %s)", from, now-from, lag, isrShrinkSlack)
	}
	return ""
}

// leaderCanAct reports whether tp's leader (in the truth) can shrink its
// ISR now: see the isr-shrink rule.
func (rc *replChecker) leaderCanAct(tp lin.TopicPartition, a *metadata.Partition) bool {
	w := rc.w
	if a.Leader <= 0 || len(a.ISR) < 2 {
		return false
	}
	l := w.nodes[a.Leader-1]
	if !l.up || l.stopping || l.b == nil || w.s.now-rc.jumpedAt[l.id-1] < Second {
		return false
	}
	v, ok := l.b.ReplicaView(tp.Topic, tp.Partition)
	if !ok || !v.Leader || v.LeaderEpoch != a.LeaderEpoch || v.PartitionEpoch != a.PartitionEpoch {
		return false
	}
	c := w.raft.leader
	if c <= 0 || !w.nodes[c-1].up || !w.raft.hasMajority(c) || w.raft.nodes[l.id-1].view != c {
		return false
	}
	if c == l.id {
		return true
	}
	lk := l.peerLinks[c-1]
	for _, d := range []*linkDir{&lk.c2n, &lk.n2c} {
		if d.cut > 0 || d.clogUntil > w.s.now {
			return false
		}
	}
	return true
}

// segmentBase is the base offset of a segment file name under dir, false
// for any other file.
func segmentBase(dir, name string) (int64, bool) {
	if !inSegmentDir(dir, name) {
		return 0, false
	}
	base, err := strconv.ParseInt(name[strings.LastIndexByte(name, '/')+1:len(name)-len(".log")], 10, 64)
	return base, err == nil
}

// inSegmentDir reports whether name is a .log file under dir, without
// allocating: it runs for every name of a partition whenever the segment
// index is rebuilt.
func inSegmentDir(dir, name string) bool {
	return len(name) > len(dir)+1 && name[len(dir)] == '/' && strings.HasPrefix(name, dir) && strings.HasSuffix(name, ".log")
}

// trimmedPast reports whether d's durable copy of tp starts past off, at a
// segment a trim could have reached: DeleteRecords (acknowledged, or one
// still in flight: the leader moves its start before the followers
// answer) or retention (trim.go). Such a copy no longer holds off, by
// design.
func (w *world) trimmedPast(d *simDisk, tp lin.TopicPartition, off int64) bool {
	return w.trimmedPastDir(d, tp, tp.String(), off)
}

// trimmedPastDir is trimmedPast given tp's directory name, dir.
func (w *world) trimmedPastDir(d *simDisk, tp lin.TopicPartition, dir string, off int64) bool {
	segs := d.segmentFilesOf(d.md(dir), dir, true)
	lowest := int64(-1)
	if len(segs) > 0 {
		lowest = segs[0].base
	}
	if lowest <= off {
		return false
	}
	return w.deleteInFlight[tp] > 0 || lowest <= w.trimBound(tp)
}

// batchAt returns the batch of tp's log on disk d that holds offset off:
// from the synced contents when durable, else from the current ones;
// false when there is none. The slice aliases the disk: read it at once.
// The segment lists come from the disk's index (segindex.go), rebuilt only
// when a name changed: the hw-durable rule calls this on every new high
// watermark served.
func batchAt(d *simDisk, tp lin.TopicPartition, off int64, durable bool) ([]byte, bool) {
	return batchAtDir(d, tp.String(), off, durable)
}

// batchAtDir is batchAt given the partition's directory name, dir.
func batchAtDir(d *simDisk, dir string, off int64, durable bool) ([]byte, bool) {
	md := d.md(dir)
	seg, ok := segmentHolding(d.segmentFilesOf(md, dir, durable), off)
	if !ok {
		return nil, false
	}
	var data []byte
	if durable {
		data, ok = md.Synced(seg.name)
	} else {
		data, ok = md.Current(seg.name)
	}
	if !ok {
		return nil, false
	}
	return findBatch(data, off)
}

// findBatch walks the batch framing of a segment's bytes to the batch
// holding offset off.
func findBatch(data []byte, off int64) ([]byte, bool) {
	pos := 0
	for pos+61 <= len(data) {
		b := data[pos:]
		base := int64(be64(b[0:]))
		length := int(be32(b[8:]))
		size := 12 + length
		if length < 49 || pos+size > len(data) {
			return nil, false
		}
		last := base + int64(be32(b[23:]))
		if base <= off && off <= last {
			return b[:size], true
		}
		if base > off {
			return nil, false
		}
		pos += size
	}
	return nil, false
}

// sameBatch compares two batches by base offset, last offset delta,
// partition leader epoch and CRC.
func sameBatch(a, b []byte) bool {
	return be64(a) == be64(b) && be32(a[23:]) == be32(b[23:]) && be32(a[12:]) == be32(b[12:]) && be32(a[17:]) == be32(b[17:])
}

// sameCleanedBatch reports whether two batches that hold the same offset,
// on two replicas of a compacted topic, were written at the same leader
// epoch: whatever records each replica's cleaner left in them, and however
// it merged emptied batches (partlog's mergeEmpty joins consecutive ones
// of one epoch, so their bounds differ: sim seed 109, batch 165-168 on a
// follower against 159-168 on its leader).
func sameCleanedBatch(a, b []byte) bool {
	return be32(a[12:]) == be32(b[12:])
}

// compactedTopic reports whether the simulator's brokers compact tp's
// topic (cleanup.policy compact): the internal topics and the compaction
// workload's topics (compaction.go).
func compactedTopic(tp lin.TopicPartition) bool {
	return internalTopic(tp.Topic) || isCompactTopic(tp.Topic)
}

// describeBatch renders a batch's identity for a failure message.
func describeBatch(b []byte) string {
	base := int64(be64(b))
	return fmt.Sprintf("batch %d-%d epoch %d crc %08x", base, base+int64(be32(b[23:])), int32(be32(b[12:])), be32(b[17:]))
}

// sameIDs compares two broker id lists as sets.
func sameIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
