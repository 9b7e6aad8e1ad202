package broker

import "fmt"

// CheckInvariants panics, naming the broken invariant, when the broker's
// internal state contradicts itself. Tests and the simulator call it after
// every step; it walks every partition, so production code does not.
func (b *Broker) CheckInvariants() {
	if len(b.parked) > 0 && b.caughtUp() {
		panic(fmt.Sprintf("broker invariant: %d client requests parked although the metadata has caught up", len(b.parked)))
	}
	if len(b.parked) > b.cfg.MaxParkedRequests {
		panic(fmt.Sprintf("broker invariant: %d parked requests exceed the limit %d", len(b.parked), b.cfg.MaxParkedRequests))
	}
	for i := 1; i < len(b.parked); i++ {
		if b.parked[i].deadlineMs < b.parked[i-1].deadlineMs {
			panic("broker invariant: parked request deadlines out of arrival order")
		}
	}
	waiting := map[*pendingProduce]int{}
	var order []*pendingProduce // first-seen order, so a failure message never depends on map order
	for name := range b.image.Topics() {
		ts := b.topics[name]
		if ts == nil {
			panic(fmt.Sprintf("broker invariant: topic %q is in the image but not open", name))
		}
		if int32(len(ts.partitions)) != ts.meta.Partitions {
			panic(fmt.Sprintf("broker invariant: topic %q has %d open partitions, image says %d", name, len(ts.partitions), ts.meta.Partitions))
		}
		for _, p := range ts.partitions {
			if p.log == nil {
				if p.role != roleNone {
					panic(fmt.Sprintf("broker invariant: partition %s without a log has role %d", p.dir, p.role))
				}
				if !p.hosted {
					if len(p.waiters) > 0 {
						panic(fmt.Sprintf("broker invariant: partition %s is not hosted here but has produce waiters", p.dir))
					}
					continue
				}
				if p.offlineErr == nil {
					panic(fmt.Sprintf("broker invariant: partition %s has no log and no offline cause", p.dir))
				}
				if len(p.waiters) > 0 {
					panic(fmt.Sprintf("broker invariant: offline partition %s still has %d produce waiters", p.dir, len(p.waiters)))
				}
				continue
			}
			p.log.CheckInvariants()
			hw := p.log.HighWatermark()
			if b.cfg.SyncWrites && hw > p.log.DurableEndOffset() {
				panic(fmt.Sprintf("broker invariant: partition %s high watermark %d above durable end %d with sync writes on", p.dir, hw, p.log.DurableEndOffset()))
			}
			a := &ts.meta.Assignments[p.index]
			if p.role == roleLeader {
				if a.Leader != b.cfg.NodeID || a.LeaderEpoch != p.leaderEpoch || !b.unfenced() {
					panic(fmt.Sprintf("broker invariant: partition %s acts as leader at epoch %d, image says leader %d epoch %d (unfenced %v)", p.dir, p.leaderEpoch, a.Leader, a.LeaderEpoch, b.unfenced()))
				}
			} else if len(p.waiters) > 0 {
				panic(fmt.Sprintf("broker invariant: partition %s has produce waiters but does not lead", p.dir))
			}
			if p.role == roleFollower && (a.Leader == b.cfg.NodeID || a.Leader != p.leaderID || !b.registered()) {
				panic(fmt.Sprintf("broker invariant: partition %s follows %d, image says leader %d", p.dir, p.leaderID, a.Leader))
			}
			for _, w := range p.waiters {
				if w.target > p.log.LogEndOffset() {
					panic(fmt.Sprintf("broker invariant: partition %s produce waiter target %d beyond log end %d", p.dir, w.target, p.log.LogEndOffset()))
				}
				if waiting[w.pending] == 0 {
					order = append(order, w.pending)
				}
				waiting[w.pending]++
			}
		}
	}
	if len(b.topics) != b.image.Len() {
		panic(fmt.Sprintf("broker invariant: %d open topics, %d in the image", len(b.topics), b.image.Len()))
	}
	if len(waiting) != b.pendingProduces {
		panic(fmt.Sprintf("broker invariant: %d produce requests counted as pending, %d found waiting", b.pendingProduces, len(waiting)))
	}
	for _, pending := range order {
		if n := waiting[pending]; pending.remaining != n {
			panic(fmt.Sprintf("broker invariant: produce request has %d partitions remaining but %d waiters", pending.remaining, n))
		}
	}
	if len(b.deleteWaiters) > b.cfg.MaxWaitingFetches {
		panic(fmt.Sprintf("broker invariant: %d DeleteRecords waiters above the limit %d", len(b.deleteWaiters), b.cfg.MaxWaitingFetches))
	}
	if len(b.waitingFetches) > b.cfg.MaxWaitingFetches {
		panic(fmt.Sprintf("broker invariant: %d waiting fetches above the limit %d", len(b.waitingFetches), b.cfg.MaxWaitingFetches))
	}
	if b.nextProducerID > b.producerIDBlockEnd {
		panic(fmt.Sprintf("broker invariant: next producer id %d beyond the allocated block's end %d", b.nextProducerID, b.producerIDBlockEnd))
	}
	if len(b.proposals) > b.cfg.MaxPendingProposals || len(b.peerCalls) > b.cfg.MaxPeerCalls {
		panic(fmt.Sprintf("broker invariant: %d proposals and %d peer calls in flight, limits %d and %d", len(b.proposals), len(b.peerCalls), b.cfg.MaxPendingProposals, b.cfg.MaxPeerCalls))
	}
	// Unsorted scan (this runs after every event); the lowest offending
	// leader is reported, so the message never depends on map order.
	bad := false
	for _, n := range b.fetchesInFlight {
		bad = bad || n != 1
	}
	if bad {
		for _, leader := range sortedKeys(b.fetchesInFlight) {
			if n := b.fetchesInFlight[leader]; n != 1 {
				panic(fmt.Sprintf("broker invariant: %d replica fetches in flight to leader %d (one at most)", n, leader))
			}
		}
	}
	if len(b.staged) != 0 {
		panic(fmt.Sprintf("broker invariant: %d metadata records staged outside a request", len(b.staged)))
	}
}
