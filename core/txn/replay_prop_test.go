package txn

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// TestReplayProperty drives a shard with random operations on a few
// transactional ids (InitProducerId with and without the producer's id and
// epoch, adds, offsets, commits and aborts with current or stale epochs,
// marker reports, timers) and checks after each that the invariants hold
// and a producer's epoch never goes down; at the end, replaying the
// records written gives the same durable state.
func TestReplayProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cfg := DefaultConfig()
		cfg.IDExpirationMs, cfg.RemoveExpiredIntervalMs, cfg.AbortTimedOutIntervalMs = 50000, 7000, 3000
		h := newHarness(t, cfg)
		ids := []string{"a", "b", "c"}
		type pe struct {
			pid   int64
			epoch int16
		}
		last := map[string]pe{}
		// cur returns id's producer id and epoch, or made-up ones.
		cur := func(id string) (int64, int16) {
			if tx := h.s.txns[id]; tx != nil {
				return tx.m.ProducerID, tx.m.ProducerEpoch
			}
			return 1, 0
		}
		n := rapid.IntRange(1, 60).Draw(rt, "ops")
		for i := 0; i < n; i++ {
			id := rapid.SampledFrom(ids).Draw(rt, "id")
			pid, epoch := cur(id)
			if rapid.Bool().Draw(rt, "stale") {
				epoch -= int16(rapid.IntRange(1, 2).Draw(rt, "back"))
			}
			switch rapid.IntRange(0, 6).Draw(rt, "op") {
			case 0:
				if rapid.Bool().Draw(rt, "expected") && h.s.txns[id] != nil {
					h.init(id, int32(rapid.IntRange(1000, 20000).Draw(rt, "timeout")), pid, epoch, 4)
				} else {
					h.init(id, int32(rapid.IntRange(1000, 20000).Draw(rt, "timeout")), -1, -1, 4)
				}
			case 1:
				h.add(3, id, pid, epoch, rapid.SampledFrom([]string{"t", "u"}).Draw(rt, "topic"), int32(rapid.IntRange(0, 1).Draw(rt, "p")))
			case 2:
				ao := kmsg.NewPtrAddOffsetsToTxnRequest()
				ao.Version, ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = 3, id, pid, epoch, "g"
				h.do(ao)
			case 3:
				h.end(int16(rapid.IntRange(0, 4).Draw(rt, "v")), id, pid, epoch, rapid.Bool().Draw(rt, "commit"))
			case 4:
				for _, mk := range h.s.PendingMarkers() {
					parts := mk.Partitions
					if rapid.Bool().Draw(rt, "partial") {
						parts = parts[:len(parts)/2]
					}
					h.apply(h.s.MarkersWritten(h.now, mk.TransactionalID, mk.ProducerID, mk.ProducerEpoch, parts))
				}
			case 5, 6:
				h.now += int64(rapid.IntRange(0, 20000).Draw(rt, "advance"))
				h.apply(h.s.Tick(h.now))
			}
			for id, tx := range h.s.txns {
				if p, ok := last[id]; ok && p.pid == tx.m.ProducerID && tx.m.ProducerEpoch < p.epoch {
					rt.Fatalf("%q: epoch of producer %d went from %d to %d", id, p.pid, p.epoch, tx.m.ProducerEpoch)
				}
				last[id] = pe{tx.m.ProducerID, tx.m.ProducerEpoch}
			}
		}
		h.checkReplay()
	})
}
