package broker

import (
	"errors"
	"testing"

	"github.com/chronik-streaming/chronik/core/partlog"
)

// A cluster copy that the scrubber found damaged in a batch it had synced
// but not yet checkpointed stays offline as corrupt across a restart: the
// report writes the recovery point past the batch first, so recovery keeps
// the damage (KeepSyncedDamage) instead of cutting it as a torn tail.
// Simulator seed 731000057: the cut left the last ISR member two
// acknowledged records short, and it led.
func TestClusterReportedDamageSurvivesRestart(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.CheckpointIntervalMs = 1 << 40 // only the checkpoints the test asks for
	})
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 2, nil)
	a := c.assignment("t", 0)
	if len(a.Replicas) != 2 || metadataContains(a.Replicas, c.controller) {
		t.Fatalf("placement: %s; the test wants two replicas besides the controller", a.String())
	}
	leader, other := a.Replicas[0], a.Replicas[1]
	c.nodes[other-1].kill()
	c.runUntil("the other replica out of the ISR", func() bool {
		return len(c.assignment("t", 0).ISR) == 1
	})
	ln := c.nodes[leader-1]
	if sp := c.produce("t", 0, 3); sp.ErrorCode != 0 {
		t.Fatalf("first produce: code %d", sp.ErrorCode)
	}
	ln.b.checkpointAll() // recovery point 3
	if sp := c.produce("t", 0, 3); sp.ErrorCode != 0 || sp.BaseOffset != 3 {
		t.Fatalf("second produce: code %d at %d", sp.ErrorCode, sp.BaseOffset)
	}
	l := c.partitionLog(leader, "t", 0)
	if l.DurableEndOffset() != 6 || l.HighWatermark() != 6 {
		t.Fatalf("durable end %d, high watermark %d; want both at 6", l.DurableEndOffset(), l.HighWatermark())
	}
	// Flip a bit in the records of the second batch (acknowledged, synced,
	// above the checkpointed recovery point): 70 bytes into a batch lies
	// past its 61-byte header, under the CRC.
	first := len(readAll(t, l, 3))
	if err := ln.disk.Corrupt(partitionDir("t", 0)+"/00000000000000000000.log", int64(first)+70, 0x01); err != nil {
		t.Fatal(err)
	}
	p := ln.b.topics["t"].partitions[0]
	c.runUntil("the scrubber reporting the damage", func() bool { return p.log == nil })
	if !errors.Is(p.offlineErr, partlog.ErrCorruptSegment) {
		t.Fatalf("offline for %v, want ErrCorruptSegment", p.offlineErr)
	}

	ln.kill()
	ln.start()
	c.runUntil("the partition known again", func() bool { return ln.b.topics["t"] != nil })
	p = ln.b.topics["t"].partitions[0]
	if p.log != nil {
		t.Fatalf("after the restart the damaged copy opened with log end %d (recovery %+v); want it offline as corrupt", p.log.LogEndOffset(), p.log.Recovery())
	}
	if !errors.Is(p.offlineErr, partlog.ErrCorruptSegment) {
		t.Fatalf("after the restart: offline for %v, want ErrCorruptSegment", p.offlineErr)
	}
	c.runUntil("the last ISR member elected again", func() bool {
		return ln.b.unfenced() && c.assignment("t", 0).Leader == leader
	})
	if sp := c.produceTo(leader, "t", 0, 1, -1)(); sp == nil || sp.ErrorCode == 0 {
		t.Fatalf("produce to the damaged last ISR member answered %+v, want an error", sp)
	}
	if got := c.assignment("t", 0); len(got.ISR) != 1 || got.ISR[0] != leader {
		t.Fatalf("%s; the last ISR member keeps its place", got.String())
	}
}
