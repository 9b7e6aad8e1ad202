package broker

import (
	"slices"
	"testing"
)

// TestReplicaView: the view reports the leader's offsets, ISR and
// min.insync.replicas, and nothing for a partition the broker lacks.
func TestReplicaView(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("v", 1, map[string]string{"min.insync.replicas": "1"})
	tb.produce("v", 0, 3)
	v, ok := tb.b.ReplicaView("v", 0)
	if !ok {
		t.Fatal("no view of v-0")
	}
	if !v.Leader || v.HighWatermark != 3 || v.LogEndOffset != 3 || v.DurableEndOffset != 3 || v.MinInsync != 1 || !slices.Equal(v.ISR, []int32{tb.cfg.NodeID}) {
		t.Fatalf("view of v-0 after 3 acknowledged records: %+v", v)
	}
	v.ISR[0] = -7 // a copy: the broker's ISR stays
	if again, _ := tb.b.ReplicaView("v", 0); again.ISR[0] != tb.cfg.NodeID {
		t.Fatalf("changing the view changed the broker: %v", again.ISR)
	}
	for _, p := range []int32{-1, 1} {
		if _, ok := tb.b.ReplicaView("v", p); ok {
			t.Fatalf("a view of partition %d, which v lacks", p)
		}
	}
	if _, ok := tb.b.ReplicaView("missing", 0); ok {
		t.Fatal("a view of a topic that does not exist")
	}
}

// TestReplicaProgressInto: the progress view agrees with the full view on
// every field it fills, zeroes the others, and reports nothing for a
// partition the broker lacks.
func TestReplicaProgressInto(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("v", 1, map[string]string{"min.insync.replicas": "1"})
	tb.produce("v", 0, 3)
	full, _ := tb.b.ReplicaView("v", 0)
	v := ReplicaView{MinInsync: 9, DurableEndOffset: 9, PartitionEpoch: 9, Uncertain: true}
	if !tb.b.ReplicaProgressInto("v", 0, &v) {
		t.Fatal("no progress view of v-0")
	}
	want := ReplicaView{Leader: full.Leader, LeaderEpoch: full.LeaderEpoch, ISR: full.ISR,
		HighWatermark: full.HighWatermark, LogEndOffset: full.LogEndOffset, EpochStartOffset: full.EpochStartOffset}
	if v.Leader != want.Leader || v.LeaderEpoch != want.LeaderEpoch || !slices.Equal(v.ISR, want.ISR) || v.HighWatermark != 3 ||
		v.LogEndOffset != 3 || v.EpochStartOffset != want.EpochStartOffset || v.MinInsync != 0 || v.DurableEndOffset != 0 || v.PartitionEpoch != 0 || v.Uncertain {
		t.Fatalf("progress view %+v, want %+v", v, want)
	}
	for _, p := range []int32{-1, 1} {
		if tb.b.ReplicaProgressInto("v", p, &v) {
			t.Fatalf("a progress view of partition %d, which v lacks", p)
		}
	}
}
