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
