package sim

import (
	"fmt"
	"slices"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// Media flips in a cluster.
//
// A single node cannot survive a flipped bit in acknowledged records, so
// there the partition is quarantined (faultMediaFlip). In a cluster the
// other replicas hold good copies: clients read from the leader, so every
// history check keeps the partition, and the damaged copy itself must end
// up either repaired (the final replica comparison finds it equal to the
// others, for instance after recovery cut the bad batch and the replica
// fetched it again) or reported (the broker found the bad CRC, answered
// KAFKA_STORAGE_ERROR and took that replica offline, as Kafka does with a
// failed log directory). What Chronik does: a read of the bad batch (a
// consumer's or a follower's fetch from that replica as leader) fails its
// CRC check and takes the replica offline (the leader resigns); recovery
// CRC-checks batches from the recovery point on and cuts a bad one as a
// torn tail, after which the replica fetches it again; and the broker's
// background scrubber (core/broker/scrub.go) reads every synced batch
// below the high watermark in turn, so a bad batch below the recovery
// point of a follower that nobody reads is reported too (FINDINGS.md 20).
// Failures of this rule start with "media-flip:".

// mediaFlip is one bit flipped in the stored records of a replica whose
// partition has other in-sync copies.
type mediaFlip struct {
	node       int32
	tp         lin.TopicPartition
	file       string
	pos        int64
	base, last int64 // the batch the flip hit
	reported   bool
	at         Time // when it struck
}

// String names the flip for messages.
func (m *mediaFlip) String() string {
	return fmt.Sprintf("node %d, %s position %d (batch %d-%d)", m.node, m.file, m.pos, m.base, m.last)
}

// flipChecked decides whether a flip of node's copy of tp stays in the
// checks: in a cluster, when the committed ISR holds another replica.
func (w *world) flipChecked(node int32, tp lin.TopicPartition) bool {
	isr := w.committedISR(tp)
	return len(isr) >= 2 && slices.Contains(isr, node)
}

// committedISR returns tp's ISR in the committed metadata log; nil for a
// single node, or when the topic or the partition is gone.
func (w *world) committedISR(tp lin.TopicPartition) []int32 {
	if !w.cluster() {
		return nil
	}
	t := w.raft.truth.Topic(tp.Topic)
	if t == nil || tp.Partition < 0 || tp.Partition >= int32(len(t.Assignments)) {
		return nil
	}
	return t.Assignments[tp.Partition].ISR
}

// quarantined reports whether a media flip left tp without a good copy
// (it left the history checks at the flip).
func (w *world) quarantined(tp lin.TopicPartition) bool {
	_, q := w.quarantine[tp]
	return q
}

// flipOf returns the flip of node's copy of tp, or nil.
func (w *world) flipOf(node int32, tp lin.TopicPartition) *mediaFlip {
	for _, m := range w.mediaFlips {
		if m.node == node && m.tp == tp {
			return m
		}
	}
	return nil
}

// noteCorruptOffline records that node took its copy of the partition in
// dir offline for corrupt data: the broker reported a flip. It returns
// false when no flip was injected there.
func (w *world) noteCorruptOffline(node int32, dir string) bool {
	tp, ok := partitionOfPath(dir + "/")
	if !ok {
		return false
	}
	m := w.flipOf(node, tp)
	if m == nil {
		return false
	}
	w.reportFlip(m, fmt.Sprintf("%s is offline on node %d", tp, node))
	return true
}

// reportFlip records, once, that m's broker reported the flip.
func (w *world) reportFlip(m *mediaFlip, how string) {
	if !m.reported {
		m.reported = true
		w.cover("media-flip-reported")
		w.logf("media flip reported: %s", how)
	}
}

// noteUncertainCut records that node's recovery cut its copy of the
// partition in dir at offset at and marked it uncertain (it may lack
// synced records, and does not lead before it has caught up): when that
// cut removed a batch a media flip hit, the broker reported the flip, as
// recovery that keeps the damage as corrupt does (a flip in a synced
// batch above the checkpointed recovery point, found below the synced
// end: FINDINGS.md 42).
func (w *world) noteUncertainCut(node int32, dir string, at int64) {
	tp, ok := partitionOfPath(dir + "/")
	if !ok {
		return
	}
	if m := w.flipOf(node, tp); m != nil && !m.reported && at <= m.base {
		w.reportFlip(m, fmt.Sprintf("recovery cut %s at %d on node %d and marked it uncertain", tp, at, node))
	}
}

// noGoodISRCopy reports whether every member of tp's committed ISR holds
// a copy damaged by a media flip that its broker reported.
func (w *world) noGoodISRCopy(tp lin.TopicPartition) bool {
	// A single node has no committed ISR: its damaged partition is
	// quarantined at the flip.
	isr := w.committedISR(tp)
	for _, id := range isr {
		if m := w.flipOf(id, tp); m == nil || !m.reported {
			return false
		}
	}
	return len(isr) > 0
}

// copyKey names one node's copy of a partition.
type copyKey struct {
	tp   lin.TopicPartition
	node int32
}

// uncertainLastCopy reports whether tp's committed ISR is one replica
// whose broker does not lead it because recovery cut its copy while the
// partition checkpoint was unreadable (core/broker's uncertain copy: the
// cut may have dropped synced records), and the simulator did flip a bit
// of that copy's checkpoint. Nobody may lead then until an operator acts,
// as in Kafka without unclean leader election (FINDINGS.md 25); the
// partition is left out of the quiet windows' probes and of the final
// phase.
func (w *world) uncertainLastCopy(tp lin.TopicPartition) bool {
	isr := w.committedISR(tp)
	if len(isr) != 1 || !w.ckptFlips[copyKey{tp, isr[0]}] {
		return false
	}
	n := w.nodes[isr[0]-1]
	if !n.up {
		return false
	}
	v, ok := n.b.ReplicaView(tp.Topic, tp.Partition)
	return ok && v.Uncertain
}

// flipReported reports whether a media flip on some copy of tp was
// reported by its broker (the copy went offline as corrupt).
func (w *world) flipReported(tp lin.TopicPartition) bool {
	for _, m := range w.mediaFlips {
		if m.tp == tp && m.reported {
			return true
		}
	}
	return false
}

// reportedOffline reports whether node's copy of tp had a flip the broker
// reported and is offline now: the final phase does not wait for it to
// rejoin the ISR (it would not before an operator acts).
func (w *world) reportedOffline(node int32, tp lin.TopicPartition) bool {
	m := w.flipOf(node, tp)
	if m == nil || !m.reported {
		return false
	}
	n := w.nodes[node-1]
	if !n.up {
		return false
	}
	for _, p := range n.b.OfflinePartitions() {
		if p.Dir == tp.String() {
			return true
		}
	}
	return false
}

// flipBelowLogStart reports whether m hit a batch wholly below the log
// start that its replica's partition checkpoint records (read at the end,
// after a clean stop): DeleteRecords or retention moved the start past it
// inside the same segment, so no read, fetch or scrub of that copy can
// reach the batch, and the broker has nothing to report (seed 689150130:
// a flip in batch 61-65 of a segment whose log start was 68). Recovery
// without the checkpoint would start at the segment's base and make the
// batch readable again, but a fetch or the scrubber would then find it.
func (w *world) flipBelowLogStart(m *mediaFlip) bool {
	start, ok := w.nodes[m.node-1].disk.logStart(m.tp)
	return ok && m.last < start
}

// judgeFlippedCopy applies the rule to a flipped replica whose committed
// prefix differs from the good copies (or could not be read, err): the
// broker must have reported it.
func (w *world) judgeFlippedCopy(m *mediaFlip, hw int64, diff string) {
	if m.reported {
		w.cover("media-flip-reported-differs")
		return
	}
	w.fail("media-flip: %s: the damaged copy of %s still differs from the other replicas below the high watermark %d (%s), and the broker never reported it (no storage error, never taken offline)", m, m.tp, hw, diff)
}

// noteRecoveredWithRepairs reads a node's "partition recovered with
// repairs" log line: a cut below the synced end, and an uncertain cut,
// which may report a flip (noteUncertainCut).
func (w *world) noteRecoveredWithRepairs(node int32, args []any) {
	uncertain, ckptCorrupt := false, false
	truncatedAt, syncedEnd := int64(-1), int64(-1)
	var dir string
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "truncated_at":
			truncatedAt, _ = args[i+1].(int64)
		case "synced_end":
			syncedEnd, _ = args[i+1].(int64)
		case "uncertain":
			uncertain = args[i+1] == true
		case "checkpoint_corrupt":
			ckptCorrupt = args[i+1] == true
		case "partition":
			dir = fmt.Sprint(args[i+1])
		}
	}
	cut := truncatedAt >= 0
	if cut && truncatedAt < syncedEnd {
		// Recovery cut records its synced end vouches for
		// (FINDINGS.md 42): only damage can do that.
		w.cover("synced-end-cut")
	}
	if cut && uncertain {
		w.noteUncertainCut(node, dir, truncatedAt)
	}
	switch {
	case cut && uncertain && ckptCorrupt:
		w.cover("uncertain-cut")
	case cut && uncertain:
		// A readable checkpoint: the copy was marked before this open,
		// mostly when its damage was reported before the restart
		// (FINDINGS.md 40).
		w.cover("uncertain-marked-cut")
	}
}
