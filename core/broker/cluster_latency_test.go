package broker

// Latency of replication seen in virtual time: the cluster harness only
// advances its clock when nothing else is left to do, so a produce that
// takes ReplicaFetchWaitMaxMs waited for a long poll to expire.

import (
	"fmt"
	"testing"
)

// With many idle partitions followed from the same leader, an acks=all
// produce must not wait for the followers' long polls to time out.
func TestClusterAcksAllLatencyWithIdlePartitions(t *testing.T) {
	c := newTestCluster(t, 3)
	for i := 0; i < 30; i++ {
		c.createTopic(fmt.Sprintf("idle-%d", i), 1, 3, nil)
	}
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	settleUntil := c.nowMs + 5_000
	c.runUntil("settle", func() bool { return c.nowMs > settleUntil })
	for i := 0; i < 5; i++ {
		start := c.nowMs
		sp := c.produce("t", 0, 1)
		if sp.ErrorCode != 0 {
			t.Fatalf("produce: %d", sp.ErrorCode)
		}
		if took := c.nowMs - start; took >= int64(c.nodes[0].b.cfg.ReplicaFetchWaitMaxMs) {
			t.Fatalf("produce %d took %d virtual ms: it waited for a long poll", i, took)
		}
	}
}
