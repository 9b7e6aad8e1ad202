package broker

import (
	"fmt"
	"testing"

	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
)

// A follower whose ask to leave the ISR found no controller asks again on
// a timer, with a pause that doubles up to its bound, even when nothing
// changes the partition's metadata meanwhile (simulator seed 689151038:
// the controller moved as the ask went out, nothing else changed the
// partition, and the corrupt copy stayed in the ISR until a blackout
// elected it).
func TestClusterOfflineFollowerAsksAgainToLeaveISR(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.ReplicaLagTimeMaxMs = 1 << 40 // only the follower's own ask takes it out
		cfg.SessionTimeoutMs = 1 << 40    // and no fencing
	})
	a, follower := c.replicatedTopic(3)
	fn := c.nodes[follower-1]
	p := fn.b.topics["t"].partitions[0]
	fn.b.SetController(c.nowMs, -1) // the controller is moving
	fn.b.takeOffline(p, fmt.Errorf("injected disk error"))
	until := c.nowMs + 5000
	c.runUntil("five seconds without a controller", func() bool { return c.nowMs >= until })
	if got := c.assignment("t", 0); !metadataContains(got.ISR, follower) || got.PartitionEpoch != a.PartitionEpoch {
		t.Fatalf("the partition changed without a controller: %s (before %s)", got.String(), a.String())
	}
	if max := fn.b.cfg.AlterPartitionRetryBackoffMaxMs; p.resignBackoffMs != max || p.resignRetryAtMs > c.nowMs+max {
		t.Fatalf("after 5 s of failed asks: pause %d ms, next ask at %d (now %d); want the bound %d", p.resignBackoffMs, p.resignRetryAtMs, c.nowMs, max)
	}
	fn.b.SetController(c.nowMs, c.controller)
	c.runUntil("the offline follower out of the ISR", func() bool {
		return !metadataContains(c.assignment("t", 0).ISR, follower)
	})
	if got := c.assignment("t", 0); got.Leader != a.Leader || got.LeaderEpoch != a.LeaderEpoch {
		t.Fatalf("the leader changed: %s (before %s)", got.String(), a.String())
	}
	// Out of the ISR, it stops asking.
	at := p.resignRetryAtMs
	until = c.nowMs + 3000
	c.runUntil("three more seconds", func() bool { return c.nowMs >= until })
	if p.resignRetryAtMs != at || p.lead.ISRInFlight {
		t.Fatalf("still asking out of the ISR: next ask at %d (was %d), in flight %v", p.resignRetryAtMs, at, p.lead.ISRInFlight)
	}
}

// replicatedTopic creates topic "t" with one partition on all three
// brokers, led outside the controller, produces n records to it, and
// returns its assignment and a follower that is not the controller.
func (c *testCluster) replicatedTopic(n int) (metadata.Partition, int32) {
	c.t.Helper()
	c.createTopic("pad", 1, 1, nil) // placement rotates: t's leader is not the controller
	c.createTopic("t", 1, 3, nil)
	c.produce("t", 0, n)
	a := c.assignment("t", 0)
	return a, c.followerOutsideController(a)
}

// damageCopy stands for what seed 689151038 did to node id's copy of
// topic-0 while it was down: its partition checkpoint became unreadable
// and a bit flipped in the records of its first batch, synced data that
// recovery, without the recovery point, cannot tell from a torn tail.
func (c *testCluster) damageCopy(id int32, topic string) {
	c.t.Helper()
	d := c.nodes[id-1].disk
	dir := partitionDir(topic, 0)
	damaged := 0
	for _, name := range partlog.CheckpointFileNames {
		if err := d.Corrupt(dir+"/"+name, 3, 0x01); err == nil {
			damaged++
		}
	}
	if damaged == 0 {
		c.t.Fatalf("no partition checkpoint of %s to damage", dir)
	}
	if err := d.Corrupt(dir+"/00000000000000000000.log", 70, 0x01); err != nil {
		c.t.Fatal(err)
	}
}

// A copy that recovery cut while its checkpoint was unreadable does not
// lead while it is the last ISR member: the partition stays offline, as
// without unclean election, instead of serving a log that may lack
// acknowledged records (simulator seed 689151038: elected 19 records
// short). A restart does not make it eligible: the mark outlives the next
// checkpoint.
func TestClusterUncertainLastISRMemberDoesNotLead(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.lastISRMember()
	if sp := c.produce("t", 0, 3); sp.ErrorCode != 0 {
		t.Fatalf("produce to the last ISR member: code %d", sp.ErrorCode)
	}
	ln := c.nodes[leader-1]
	ln.b.checkpointAll()
	ln.kill()
	c.damageCopy(leader, "t")
	for restart := 0; restart < 2; restart++ {
		ln.start()
		c.runUntil("the partition open", func() bool { return ln.b.topics["t"] != nil })
		p := ln.b.topics["t"].partitions[0]
		if p.log == nil || !p.log.Uncertain() || p.log.LogEndOffset() != 0 {
			t.Fatalf("restart %d: log %v; want the uncertain cut to 0", restart, p.log)
		}
		c.requireUncertainNotLeading(leader)
		ln.b.checkpointAll() // a good checkpoint now: only the mark remembers
		ln.kill()
	}
}

// lastISRMember creates topic t with two replicas besides the controller,
// kills one of them, and returns the other once it is the last ISR member.
func (c *testCluster) lastISRMember() int32 {
	c.t.Helper()
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 2, nil)
	a := c.assignment("t", 0)
	if len(a.Replicas) != 2 || metadataContains(a.Replicas, c.controller) {
		c.t.Fatalf("placement: %s; the test wants two replicas besides the controller", a.String())
	}
	leader, other := a.Replicas[0], a.Replicas[1]
	c.nodes[other-1].kill()
	c.runUntil("the other replica out of the ISR", func() bool {
		return len(c.assignment("t", 0).ISR) == 1
	})
	return leader
}

// requireUncertainNotLeading runs until node id, whose copy of t-0 is
// uncertain and the last ISR member, is elected again, and checks two
// seconds later that it does not lead, answers produces with
// NOT_LEADER_OR_FOLLOWER and keeps its place in the ISR.
func (c *testCluster) requireUncertainNotLeading(id int32) {
	c.t.Helper()
	n := c.nodes[id-1]
	c.runUntil("the last ISR member elected again", func() bool {
		return n.b.unfenced() && c.assignment("t", 0).Leader == id
	})
	until := c.nowMs + 2000
	c.runUntil("two seconds", func() bool { return c.nowMs >= until })
	if p := n.b.topics["t"].partitions[0]; p.role == roleLeader {
		c.t.Fatal("the uncertain copy leads")
	}
	if _, ok := n.b.Leading("t", 0); ok {
		c.t.Fatal("the uncertain copy reports leading")
	}
	if sp := c.produceTo(id, "t", 0, 1, -1)(); sp == nil || sp.ErrorCode != kerrNotLeaderOrFollower {
		c.t.Fatalf("produce to the uncertain copy answered %+v, want NOT_LEADER_OR_FOLLOWER", sp)
	}
	if got := c.assignment("t", 0); len(got.ISR) != 1 || got.ISR[0] != id {
		c.t.Fatalf("%s; the last ISR member keeps its place", got.String())
	}
}

// A copy that recovery cut while its checkpoint was unreadable catches up
// as a follower, rejoins the ISR, loses its mark for good (a restart
// finds none), and may then lead.
func TestClusterUncertainCopyLeadsAfterCatchingUp(t *testing.T) {
	c := newTestCluster(t, 3)
	a, x := c.replicatedTopic(4)
	xn := c.nodes[x-1]
	c.runUntil("every copy at 4", func() bool {
		for _, n := range c.nodes {
			if n.b.topics["t"].partitions[0].log.LogEndOffset() != 4 {
				return false
			}
		}
		return len(c.assignment("t", 0).ISR) == 3
	})
	xn.b.checkpointAll()
	xn.kill()
	c.damageCopy(x, "t")
	xn.start()
	c.runUntil("the partition open", func() bool { return xn.b.topics["t"] != nil })
	if l := c.partitionLog(x, "t", 0); !l.Uncertain() || l.LogEndOffset() != 0 {
		t.Fatalf("restart: uncertain %v, LEO %d; want the uncertain cut to 0", l.Uncertain(), l.LogEndOffset())
	}
	c.runUntil("the copy back in the ISR and certain", func() bool {
		return metadataContains(c.assignment("t", 0).ISR, x) && !c.partitionLog(x, "t", 0).Uncertain()
	})
	c.requireAgreement("t", 0)
	xn.b.checkpointAll()
	xn.kill()
	xn.start()
	c.runUntil("the partition open", func() bool { return xn.b.topics["t"] != nil })
	if l := c.partitionLog(x, "t", 0); l.Uncertain() || l.LogEndOffset() != 4 {
		t.Fatalf("after a restart: uncertain %v, LEO %d; want a certain copy at 4", l.Uncertain(), l.LogEndOffset())
	}
	// Its registration fences the previous process out of the ISR; the
	// leader admits it again once it fetched up to the high watermark.
	left := false
	c.runUntil("the copy out of the ISR and back", func() bool {
		in := metadataContains(c.assignment("t", 0).ISR, x)
		left = left || !in
		return left && in && xn.b.unfenced()
	})
	// With the leader gone, the caught-up copy may lead.
	c.nodes[a.Leader-1].kill()
	c.runUntil("a new leader", func() bool {
		l := c.assignment("t", 0).Leader
		return l != metadata.NoLeader && l != a.Leader
	})
	if got := c.assignment("t", 0); got.Leader != x {
		t.Fatalf("%s: want %d, the next replica in order, to lead", got.String(), x)
	}
	c.runUntil("the copy leading", func() bool { _, ok := xn.b.Leading("t", 0); return ok })
	if sp := c.produce("t", 0, 1); sp.ErrorCode != 0 || sp.BaseOffset != 4 {
		t.Fatalf("produce to the caught-up copy: code %d base %d", sp.ErrorCode, sp.BaseOffset)
	}
}
