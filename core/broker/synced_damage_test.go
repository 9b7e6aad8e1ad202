package broker

import (
	"errors"
	"testing"

	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
)

// damageSecondBatch produces two acknowledged batches of three records to
// t-0 through its leader, checkpoints the leader's log after the first
// only (recovery point 3 on disk, durable end 6), flips a bit in the
// records of the second batch, and runs until the scrubber reports the
// damage, which takes the copy offline.
func (c *testCluster) damageSecondBatch(leader int32) {
	c.t.Helper()
	ln := c.nodes[leader-1]
	if sp := c.produce("t", 0, 3); sp.ErrorCode != 0 {
		c.t.Fatalf("first produce: code %d", sp.ErrorCode)
	}
	ln.b.checkpointAll()
	if sp := c.produce("t", 0, 3); sp.ErrorCode != 0 || sp.BaseOffset != 3 {
		c.t.Fatalf("second produce: code %d at %d", sp.ErrorCode, sp.BaseOffset)
	}
	l := c.partitionLog(leader, "t", 0)
	if l.DurableEndOffset() != 6 || l.HighWatermark() != 6 {
		c.t.Fatalf("durable end %d, high watermark %d; want both at 6", l.DurableEndOffset(), l.HighWatermark())
	}
	// 70 bytes into a batch lies past its 61-byte header, under the CRC.
	first := len(readAll(c.t, l, 3))
	if err := ln.disk.Corrupt(partitionDir("t", 0)+"/00000000000000000000.log", int64(first)+70, 0x01); err != nil {
		c.t.Fatal(err)
	}
	p := ln.b.topics["t"].partitions[0]
	c.runUntil("the scrubber reporting the damage", func() bool { return p.log == nil })
	if !errors.Is(p.offlineErr, partlog.ErrCorruptSegment) {
		c.t.Fatalf("offline for %v, want ErrCorruptSegment", p.offlineErr)
	}
}

// restartCut restarts node id and checks that recovery cut its copy of
// t-0 at the damaged batch (3) and that the copy is uncertain.
func (c *testCluster) restartCut(id int32) {
	c.t.Helper()
	n := c.nodes[id-1]
	n.kill()
	n.start()
	c.runUntil("the partition known again", func() bool { return n.b.topics["t"] != nil })
	l := c.partitionLog(id, "t", 0)
	if l == nil || l.LogEndOffset() != 3 || !l.Uncertain() {
		t := c.t
		if l == nil {
			t.Fatalf("after the restart the copy is offline: %v", n.b.topics["t"].partitions[0].offlineErr)
		}
		t.Fatalf("after the restart: log end %d, uncertain %v (recovery %+v); want the damaged batch cut at 3 and the copy uncertain", l.LogEndOffset(), l.Uncertain(), l.Recovery())
	}
}

// The scrubber found damage in a synced, acknowledged batch above the
// checkpointed recovery point of the last ISR member. Recovery after a
// restart cuts that batch as a torn tail (it cannot know better), but the
// copy was marked uncertain at the report, so it does not lead, and the
// partition stays offline instead of serving a log short of acknowledged
// records (simulator seed 731000057: the copy led two records short).
func TestClusterReportedDamageLastISRMemberDoesNotLead(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.CheckpointIntervalMs = 1 << 40 // only the checkpoints the test asks for
	})
	leader := c.lastISRMember()
	c.damageSecondBatch(leader)
	c.restartCut(leader)
	c.requireUncertainNotLeading(leader)
}

// A reported copy that another ISR member can replace is cut by recovery
// after a restart, fetches the lost batch again, rejoins the ISR and is
// certain again: the damage is repaired without an operator.
func TestClusterReportedDamageRepairedFromLeader(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.CheckpointIntervalMs = 1 << 40
	})
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 2, nil)
	a := c.assignment("t", 0)
	leader, other := a.Replicas[0], a.Replicas[1]
	c.damageSecondBatch(leader)
	c.runUntil("the other replica leading alone", func() bool {
		got := c.assignment("t", 0)
		return got.Leader == other && len(got.ISR) == 1
	})
	c.restartCut(leader)
	c.runUntil("the repaired copy back in the ISR and certain", func() bool {
		l := c.partitionLog(leader, "t", 0)
		return metadataContains(c.assignment("t", 0).ISR, leader) && !l.Uncertain() && l.LogEndOffset() == 6
	})
	c.requireAgreement("t", 0)
	if got := c.assignment("t", 0); got.Leader != other || got.Leader == metadata.NoLeader {
		t.Fatalf("%s: want %d still leading", got.String(), other)
	}
}
