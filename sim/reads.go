package sim

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// Which reads must be exact (clusters).
//
// Kafka lets a broker keep answering as leader until the metadata tells it
// otherwise, and a new leader's high watermark lags until its followers
// fetch, so a cluster's reads may lag the committed log (FINDINGS.md 11).
// But only then: an answer from the broker that leads the partition at the
// truth's current leader epoch, knows it, and whose high watermark has
// reached the log end it had when that leadership began (every record an
// earlier epoch committed lies below it) must be exact, as on a single node.
// The simulator knows all of that when the answer leaves the broker, and
// records every other read as Op.MayBeStale.

// exactReads lists the partitions of a Fetch or ListOffsets answer that n
// gives as the current, caught-up leader. On a single node every answer is
// exact and nothing is recorded as stale, so it returns nil there.
func (n *simNode) exactReads(resp kmsg.Response) []lin.TopicPartition {
	w := n.w
	if !w.cluster() {
		return nil
	}
	var out []lin.TopicPartition
	add := func(topic string, p int32) {
		if n.leadsCurrent(topic, p) {
			out = append(out, lin.TopicPartition{Topic: topic, Partition: p})
		}
	}
	switch r := resp.(type) {
	case *kmsg.FetchResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(t.Topic, p.Partition)
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(t.Topic, p.Partition)
			}
		}
	case *kmsg.OffsetFetchResponse, *kmsg.ConsumerGroupHeartbeatResponse:
		// Exact when n is the caught-up coordinator: it leads the group's
		// partition of the offsets topic (groupcheck.go, groups848.go).
		if t := w.raft.truth.Topic(offsetsTopic); t != nil {
			for p := int32(0); p < t.Partitions; p++ {
				add(offsetsTopic, p)
			}
		}
	}
	return out
}

// leadsCurrent reports whether n leads topic's partition p at the leader
// epoch the committed log holds now, and its high watermark has reached
// the start of that epoch.
func (n *simNode) leadsCurrent(topic string, p int32) bool {
	lead, ok := n.b.Leading(topic, p)
	if !ok {
		return false
	}
	t := n.w.raft.truth.Topic(topic)
	if t == nil || p < 0 || p >= int32(len(t.Assignments)) {
		return false
	}
	a := t.Assignments[p]
	return a.Leader == n.id && a.LeaderEpoch == lead.LeaderEpoch && lead.HighWatermark >= lead.EpochStartOffset
}

// answerMayBeStale reports whether the answer a client's callback is
// reading may lag the committed log for tp.
func (w *world) answerMayBeStale(tp lin.TopicPartition) bool {
	return w.cluster() && !slices.Contains(w.answerExact, tp)
}
