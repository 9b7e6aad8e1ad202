package broker

// Latency of replication seen in virtual time: the cluster harness only
// advances its clock when nothing else is left to do, so a produce that
// takes ReplicaFetchWaitMaxMs waited for a long poll to expire.

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
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

// A follower keeps one fetch per leader in flight, carrying every
// partition it follows from that leader (FINDINGS 21), and an idle
// cluster keeps it parked at the leader: at any settled moment each
// follower has exactly one fetch to each leader, and every partition it
// follows is in it.
func TestClusterOneReplicaFetchPerLeader(t *testing.T) {
	c := newTestCluster(t, 3)
	for i := 0; i < 12; i++ {
		c.createTopic(fmt.Sprintf("t%d", i), 2, 3, nil)
	}
	settleUntil := c.nowMs + 3_000
	c.runUntil("settle", func() bool { return c.nowMs > settleUntil })
	for _, n := range c.nodes {
		followed := map[int32]int{}
		n.b.forEachPartition(func(p *partition) {
			if p.role != roleFollower {
				return
			}
			followed[p.leaderID]++
			if !p.fetch.InFlight {
				t.Errorf("node %d: %s (leader %d) is in no fetch", n.id, p.dir, p.leaderID)
			}
		})
		for _, leader := range sortedKeys(followed) {
			if got := n.b.fetchesInFlight.To(leader); got != 1 {
				t.Errorf("node %d: %d fetches in flight to leader %d for %d partitions; want 1", n.id, got, leader, followed[leader])
			}
		}
		if len(followed) == 0 {
			t.Errorf("node %d follows nothing: the test proves nothing", n.id)
		}
	}
}

// The followers learn a new high watermark without waiting for their
// long poll to expire: the leader answers a follower's parked fetch as
// soon as the high watermark moves past what it told that follower.
func TestClusterFollowersLearnHighWatermarkAtOnce(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	settleUntil := c.nowMs + 2_000
	c.runUntil("settle", func() bool { return c.nowMs > settleUntil })
	a := c.assignment("t", 0)
	wait := int64(c.nodes[0].b.cfg.ReplicaFetchWaitMaxMs)
	for i := 0; i < 3; i++ {
		start := c.nowMs
		if sp := c.produce("t", 0, 1); sp.ErrorCode != 0 {
			t.Fatalf("produce: %d", sp.ErrorCode)
		}
		hw := c.partitionLog(a.Leader, "t", 0).HighWatermark()
		c.runUntil("every follower at the leader's high watermark", func() bool {
			for _, id := range a.Replicas {
				if c.partitionLog(id, "t", 0).HighWatermark() < hw {
					return false
				}
			}
			return true
		})
		if took := c.nowMs - start; took >= wait {
			t.Fatalf("round %d: the followers learned high watermark %d after %d virtual ms: they waited for a long poll (%d ms)", i, hw, took, wait)
		}
	}
}

// DeleteRecords waits for every live follower to move its log start,
// which a follower does when a fetch answer names the leader's: the
// leader answers a parked fetch at once when its log start moved, so
// the DeleteRecords is not held for a long poll.
func TestClusterDeleteRecordsAnsweredWithoutLongPoll(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	c.produce("t", 0, 5)
	settleUntil := c.nowMs + 2_000
	c.runUntil("settle", func() bool { return c.nowMs > settleUntil })
	a := c.assignment("t", 0)
	req := deleteRecordsReq(0, "t", map[int32]int64{0: 3})
	req.TimeoutMillis = 10_000
	start := c.nowMs
	dr := c.do(a.Leader, req).(*kmsg.DeleteRecordsResponse)
	if sp := dr.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.LowWatermark != 3 {
		t.Fatalf("DeleteRecords: code %d low watermark %d", sp.ErrorCode, sp.LowWatermark)
	}
	// The followers' parked fetches began at most a clock step before:
	// half a long poll tells a wait for their expiry from none.
	if took, wait := c.nowMs-start, int64(c.nodes[0].b.cfg.ReplicaFetchWaitMaxMs); took >= wait/2 {
		t.Fatalf("DeleteRecords answered after %d virtual ms: it waited for a long poll (%d ms)", took, wait)
	}
}

// A fetch's response fills its byte limit in request order, so the order
// of a follower's partitions rotates from one fetch to the next: a
// partition with a backlog at the front must not starve the ones after
// it. With room for one batch per response, an acks=all produce to a
// later partition completes while the followers still lack most of an
// earlier partition's backlog.
func TestClusterReplicaFetchOrderRotates(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.ReplicaFetchResponseMaxBytes = 1 })
	c.createTopic("t", 4, 3, map[string]string{"min.insync.replicas": "2"})
	settleUntil := c.nowMs + 2_000
	c.runUntil("settle", func() bool { return c.nowMs > settleUntil })
	// Two partitions with the same leader (four partitions, three nodes),
	// so the same fetches carry both: first then second in topic order.
	first, second := int32(-1), int32(-1)
	for i := int32(0); i < 4 && second < 0; i++ {
		for j := int32(0); j < i; j++ {
			if c.assignment("t", i).Leader == c.assignment("t", j).Leader {
				first, second = j, i
				break
			}
		}
	}
	leader := c.assignment("t", first).Leader
	// The backlog is appended at once (the requests are handled as they
	// are sent), before any follower fetches again.
	const backlog = 30
	for i := 0; i < backlog; i++ {
		c.produceTo(leader, "t", first, 1, 0)
	}
	answer := c.produceTo(leader, "t", second, 1, -1)
	c.runUntil("acks=all answer", func() bool { return answer() != nil })
	if code := answer().ErrorCode; code != 0 {
		t.Fatalf("acks=all produce to t-%d: code %d", second, code)
	}
	for _, id := range c.assignment("t", first).Replicas {
		if got := c.partitionLog(id, "t", first).LogEndOffset(); id != leader && got >= backlog {
			t.Fatalf("node %d fetched all %d batches of t-%d before t-%d's one: the first partition starved the second", id, got, first, second)
		}
	}
}
