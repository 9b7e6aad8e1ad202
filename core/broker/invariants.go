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
	// The produce requests found waiting, in first-seen order (so a
	// failure message never depends on map order), each counting its
	// waiters in this pass.
	b.checkPass++
	order := b.checkPending[:0]
	registered, unfenced := b.registered(), b.unfenced()
	fetchEntries := 0 // waiting fetches listed by the partitions, counted once per partition
	// The role lists are rebuilt only after setRole: a role changed any
	// other way would hide a partition from the timers that walk them.
	// They are in topic order, as this walk is.
	checkRoles := !b.rolesStale && b.topicOrder != nil
	var leading, following []*partition
	if checkRoles {
		leading, following = b.roleLists()
	}
	li, fi := 0, 0
	// The open topics in name order (the cached order forEachPartition
	// uses) line up with the image's names when all is well, which saves
	// a map lookup per topic on every check; a name that does not line up
	// is looked up, so a mismatch is still reported as before.
	ordered := b.orderedTopics()
	next := 0
	for name := range b.image.Topics() {
		var ts *topicState
		if next < len(ordered) && ordered[next].meta.Name == name {
			ts = ordered[next]
			next++
		} else {
			ts = b.topics[name]
		}
		if ts == nil {
			panic(fmt.Sprintf("broker invariant: topic %q is in the image but not open", name))
		}
		if int32(len(ts.partitions)) != ts.meta.Partitions {
			panic(fmt.Sprintf("broker invariant: topic %q has %d open partitions, image says %d", name, len(ts.partitions), ts.meta.Partitions))
		}
		for _, p := range ts.partitions {
			if p.fetchWaitersDone < 0 || p.fetchWaitersDone > len(p.fetchWaiters) || p.fetchTouched {
				panic(fmt.Sprintf("broker invariant: partition %s lists %d waiting fetches, %d of them answered, touched %v", p.dir, len(p.fetchWaiters), p.fetchWaitersDone, p.fetchTouched))
			}
			fetchEntries += len(p.fetchWaiters) - p.fetchWaitersDone
			if checkRoles && p.role != roleNone {
				list, i := leading, &li
				if p.role == roleFollower {
					list, i = following, &fi
				}
				if *i >= len(list) || list[*i] != p {
					panic(fmt.Sprintf("broker invariant: partition %s with role %d is missing from the cached role lists", p.dir, p.role))
				}
				*i++
			}
			if !p.resignCand && b.clustered() && b.mayLeaveISR(p) {
				panic(fmt.Sprintf("broker invariant: partition %s may have to leave its ISR but is not a candidate for retryResigns", p.dir))
			}
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
			if b.cfg.SyncWrites && !p.syncing && !p.syncCandidate && p.needsFlush() {
				panic(fmt.Sprintf("broker invariant: partition %s has data to sync (durable end %d, log end %d, %d waiters) but the next Flush would not look at it", p.dir, p.log.DurableEndOffset(), p.log.LogEndOffset(), len(p.waiters)))
			}
			hw := p.log.HighWatermark()
			if b.cfg.SyncWrites && hw > p.log.DurableEndOffset() {
				panic(fmt.Sprintf("broker invariant: partition %s high watermark %d above durable end %d with sync writes on", p.dir, hw, p.log.DurableEndOffset()))
			}
			a := &ts.meta.Assignments[p.index]
			if p.role == roleLeader {
				if a.Leader != b.cfg.NodeID || a.LeaderEpoch != p.leaderEpoch || !unfenced {
					panic(fmt.Sprintf("broker invariant: partition %s acts as leader at epoch %d, image says leader %d epoch %d (unfenced %v)", p.dir, p.leaderEpoch, a.Leader, a.LeaderEpoch, unfenced))
				}
			} else if len(p.waiters) > 0 {
				panic(fmt.Sprintf("broker invariant: partition %s has produce waiters but does not lead", p.dir))
			}
			if p.role == roleFollower && (a.Leader == b.cfg.NodeID || a.Leader != p.leaderID || !registered) {
				panic(fmt.Sprintf("broker invariant: partition %s follows %d, image says leader %d", p.dir, p.leaderID, a.Leader))
			}
			for _, w := range p.waiters {
				if w.target > p.log.LogEndOffset() {
					panic(fmt.Sprintf("broker invariant: partition %s produce waiter target %d beyond log end %d", p.dir, w.target, p.log.LogEndOffset()))
				}
				if w.pending.checkPass != b.checkPass {
					w.pending.checkPass, w.pending.checkWaiters = b.checkPass, 0
					order = append(order, w.pending)
				}
				w.pending.checkWaiters++
			}
		}
	}
	if len(b.topics) != b.image.Len() {
		panic(fmt.Sprintf("broker invariant: %d open topics, %d in the image", len(b.topics), b.image.Len()))
	}
	if len(order) != b.pendingProduces {
		panic(fmt.Sprintf("broker invariant: %d produce requests counted as pending, %d found waiting", b.pendingProduces, len(order)))
	}
	for _, pending := range order {
		if n := pending.checkWaiters; pending.remaining != n {
			panic(fmt.Sprintf("broker invariant: produce request has %d partitions remaining but %d waiters", pending.remaining, n))
		}
	}
	clear(order) // keep no request alive through the scratch slice
	b.checkPending = order[:0]
	if len(b.deleteWaiters) > b.cfg.MaxWaitingFetches {
		panic(fmt.Sprintf("broker invariant: %d DeleteRecords waiters above the limit %d", len(b.deleteWaiters), b.cfg.MaxWaitingFetches))
	}
	if len(b.waitingFetches) > b.cfg.MaxWaitingFetches {
		panic(fmt.Sprintf("broker invariant: %d waiting fetches above the limit %d", len(b.waitingFetches), b.cfg.MaxWaitingFetches))
	}
	// Every waiting fetch is listed by each partition it names (and
	// nothing else is), and no touched partition is left unwoken: else a
	// long poll would sleep through the change that should answer it.
	for _, w := range b.waitingFetches {
		if w.done || w.woken {
			panic(fmt.Sprintf("broker invariant: waiting fetch %d is answered (%v) or mid-wake (%v) but still listed", w.seq, w.done, w.woken))
		}
		fetchEntries -= len(w.parts)
	}
	if fetchEntries != 0 || b.waking || len(b.fetchTouched) > 0 {
		panic(fmt.Sprintf("broker invariant: partitions list %d waiting fetch entries more than the waiting fetches name; %d partitions touched and not woken (waking %v)", fetchEntries, len(b.fetchTouched), b.waking))
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
	if checkRoles && (li != len(leading) || fi != len(following)) {
		panic(fmt.Sprintf("broker invariant: cached role lists hold %d leaders and %d followers, %d and %d act so", len(leading), len(following), li, fi))
	}
	if len(b.staged) != 0 {
		panic(fmt.Sprintf("broker invariant: %d metadata records staged outside a request", len(b.staged)))
	}
}
