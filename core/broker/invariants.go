package broker

import "fmt"

// CheckInvariants panics, naming the broken invariant, when the broker's
// internal state contradicts itself. Tests and the simulator call it after
// every step, so it checks again only the partitions changed since its
// last pass (recheck), and every partition at the first pass, after a
// metadata change (reconcile), after a pass over every log (checkpoints,
// retention, shutdown) and every checkFullEvery passes.
//
// Why a partition it skips cannot break a per-partition invariant: the
// checks read of p its waiting fetches (fetchWaiters, fetchWaitersDone,
// fetchTouched), its produce waiters, role, log, hosted, offlineErr,
// syncing, syncCandidate, leader id and epoch, cutEpoch and the log's
// state; and of the broker only the image (its assignments, this
// process's registration) and the config. Every method that writes one
// of those fields calls recheck(p): the fetch-waiter edits (a fetch that
// waits, dropWaitingFetch, touchFetches), every edit of p.waiters
// (append, completeProduceWaiters, expireProduces, failProduceWaiters,
// checkMinISRWaiters), setRole (the only writer of role), openLog (the
// only writer of a non-nil log), takeOffline and setOffline (nil log,
// cause, cutEpoch), reconcilePartition (leader id and epoch) and
// removeTopicLocal, startSync, SyncDone, Flush and markUnsynced. A log
// changes only through its methods; the broker calls the writing ones
// (Append, AppendAsFollower, Truncate*, DeleteRecordsBefore, FinishSync,
// SetConfig, SetHighWatermark, MarkUncertain, ClearUncertain, Close)
// only in functions that call recheck or markUnsynced for that
// partition, and Checkpoint, ApplyRetention, Delete and the shutdown's
// syncs in passes that call recheckAll. Reads change no log state (a
// failed one is counted as a change by partlog all the same, and
// logReadError rechecks; the scrubber's failures that matter take the
// partition offline). The image changes only in reconcile's callers,
// which recheck everything. The totals over all partitions (waiting
// fetch entries, produce requests with waiters) are kept from each
// partition's snapshot at its last check, so they equal a full walk's.
func (b *Broker) CheckInvariants() {
	if b.groupRT != nil {
		if err := b.groupRT.CheckInvariants(); err != nil {
			panic(fmt.Sprintf("broker invariant: %v", err))
		}
	}
	if b.txnRT != nil {
		if err := b.txnRT.CheckInvariants(); err != nil {
			panic(fmt.Sprintf("broker invariant: transaction coordinators: %v", err))
		}
	}
	if len(b.markersInFlight) > b.cfg.MaxTxnMarkersInFlight || len(b.markerWaits) > b.cfg.MaxTxnMarkersInFlight {
		panic(fmt.Sprintf("broker invariant: %d transaction markers in flight and %d waiting, above %d", len(b.markersInFlight), len(b.markerWaits), b.cfg.MaxTxnMarkersInFlight))
	}
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
	reg := b.image.Broker(b.cfg.NodeID) // registered and unfenced, one lookup
	registered := reg != nil && reg.Incarnation == b.member.Incarnation()
	unfenced := registered && !reg.Fenced
	// The role lists are rebuilt only after setRole: a role changed any
	// other way would hide a partition from the timers that walk them.
	checkRoles := !b.rolesStale && b.topicOrder != nil
	if b.recheckFull || b.checkIncremental >= checkFullEvery {
		b.checkAllPartitions(registered, unfenced, checkRoles)
	} else {
		b.checkChangedPartitions(registered, unfenced, checkRoles)
	}
	if len(b.checkLive) != b.pendingProduces {
		panic(fmt.Sprintf("broker invariant: %d produce requests counted as pending, %d found waiting", b.pendingProduces, len(b.checkLive)))
	}
	for _, pending := range b.checkLive {
		if n := pending.checkWaiters; pending.remaining != n {
			panic(fmt.Sprintf("broker invariant: produce request has %d partitions remaining but %d waiters", pending.remaining, n))
		}
	}
	fetchEntries := b.checkFetchEntries // waiting fetches listed by the partitions, counted once per partition
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
	// Image writes: the queue is bounded, and never waits without a write
	// in flight (one starts as soon as the previous lands), unless closed.
	if len(b.imageQueue) > b.cfg.MaxPendingProposals || (len(b.imageQueue) > 0 && b.imageJob == nil && !b.closed) {
		panic(fmt.Sprintf("broker invariant: %d local entries queued (limit %d), image write in flight %v", len(b.imageQueue), b.cfg.MaxPendingProposals, b.imageJob != nil))
	}
	// The lowest offending leader is reported, as a sorted walk would.
	worst := -1
	inFlight := b.fetchesInFlight.All()
	for i, f := range inFlight {
		if f.N != 1 && (worst < 0 || f.Leader < inFlight[worst].Leader) {
			worst = i
		}
	}
	if worst >= 0 {
		f := inFlight[worst]
		panic(fmt.Sprintf("broker invariant: %d replica fetches in flight to leader %d (one at most)", f.N, f.Leader))
	}
	if len(b.staged) != 0 {
		panic(fmt.Sprintf("broker invariant: %d metadata records staged outside a request", len(b.staged)))
	}
}

// checkFullEvery is how many incremental CheckInvariants passes run
// between two that walk every partition: a backstop for a future change
// that edits a partition without recheck, caught at most that many
// events late.
const checkFullEvery = 64

// recheck notes that p changed in a way CheckInvariants reads, so that
// its next pass checks p again.
func (b *Broker) recheck(p *partition) {
	if p.rechecked || b.recheckFull {
		return
	}
	if len(b.recheckList) >= b.recheckCap {
		b.recheckAll() // bounded: the next pass walks everything
		return
	}
	p.rechecked = true
	b.recheckList = append(b.recheckList, p)
}

// recheckAll makes the next CheckInvariants pass walk every partition.
// It stays set in a broker whose caller never checks, so recheck lists
// nothing there.
func (b *Broker) recheckAll() { b.recheckFull = true }

// checkAllPartitions checks every partition of the image, in topic
// order, and rebuilds every snapshot and total from scratch.
func (b *Broker) checkAllPartitions(registered, unfenced, checkRoles bool) {
	for _, p := range b.recheckList {
		p.rechecked = false
	}
	clear(b.recheckList) // keep no partition alive
	b.recheckList = b.recheckList[:0]
	b.recheckFull = false
	b.checkIncremental = 0
	b.checkGen++ // every older snapshot stops counting
	for _, q := range b.checkLive {
		q.checkWaiters = 0
	}
	clear(b.checkLive)
	b.checkLive = b.checkLive[:0]
	b.checkFetchEntries = 0
	// The role lists are in topic order, as this walk is.
	var leading, following []*partition
	if checkRoles {
		leading, following = b.roleLists()
	}
	li, fi := 0, 0
	count := 0
	for name := range b.image.Topics() {
		ts := b.topics[name]
		if ts == nil {
			panic(fmt.Sprintf("broker invariant: topic %q is in the image but not open", name))
		}
		if int32(len(ts.partitions)) != ts.meta.Partitions {
			panic(fmt.Sprintf("broker invariant: topic %q has %d open partitions, image says %d", name, len(ts.partitions), ts.meta.Partitions))
		}
		for _, p := range ts.partitions {
			count++
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
			b.checkPartition(p, registered, unfenced)
			b.snapshotPartition(p)
		}
	}
	if len(b.topics) != b.image.Len() {
		panic(fmt.Sprintf("broker invariant: %d open topics, %d in the image", len(b.topics), b.image.Len()))
	}
	if checkRoles && (li != len(leading) || fi != len(following)) {
		panic(fmt.Sprintf("broker invariant: cached role lists hold %d leaders and %d followers, %d and %d act so", len(leading), len(following), li, fi))
	}
	b.recheckCap = 2*count + 64
}

// checkChangedPartitions checks the partitions changed since the last
// pass and updates the totals by their new snapshots. A partition
// changed only through recheck's callers, the image did not change (that
// would have made this a full pass), so the others are as last checked.
// The role lists: with checkRoles they were built (roleLists records
// each partition's listedRole) after the last setRole, so they hold the
// partitions whose role equals listedRole, in order.
func (b *Broker) checkChangedPartitions(registered, unfenced, checkRoles bool) {
	b.checkIncremental++
	list := b.recheckList
	for _, p := range list {
		p.rechecked = false
		if p.deleted {
			b.dropSnapshot(p) // its topic left the image
			continue
		}
		if checkRoles && p.role != p.listedRole {
			panic(fmt.Sprintf("broker invariant: partition %s with role %d is listed in the cached role lists with role %d", p.dir, p.role, p.listedRole))
		}
		b.checkPartition(p, registered, unfenced)
		b.snapshotPartition(p)
	}
	clear(list) // keep no partition alive
	b.recheckList = list[:0]
}

// checkPartition checks p's own invariants against the image.
func (b *Broker) checkPartition(p *partition, registered, unfenced bool) {
	if p.fetchWaitersDone < 0 || p.fetchWaitersDone > len(p.fetchWaiters) || p.fetchTouched {
		panic(fmt.Sprintf("broker invariant: partition %s lists %d waiting fetches, %d of them answered, touched %v", p.dir, len(p.fetchWaiters), p.fetchWaitersDone, p.fetchTouched))
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
			return
		}
		if p.offlineErr == nil {
			panic(fmt.Sprintf("broker invariant: partition %s has no log and no offline cause", p.dir))
		}
		if len(p.waiters) > 0 {
			panic(fmt.Sprintf("broker invariant: offline partition %s still has %d produce waiters", p.dir, len(p.waiters)))
		}
		return
	}
	p.log.CheckInvariants()
	if b.cfg.SyncWrites && !p.syncing && !p.syncCandidate && p.needsFlush() {
		panic(fmt.Sprintf("broker invariant: partition %s has data to sync (durable end %d, log end %d, %d waiters) but the next Flush would not look at it", p.dir, p.log.DurableEndOffset(), p.log.LogEndOffset(), len(p.waiters)))
	}
	hw := p.log.HighWatermark()
	if b.cfg.SyncWrites && hw > p.log.DurableEndOffset() {
		panic(fmt.Sprintf("broker invariant: partition %s high watermark %d above durable end %d with sync writes on", p.dir, hw, p.log.DurableEndOffset()))
	}
	a := &p.topic.meta.Assignments[p.index]
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
	}
}

// snapshotPartition replaces p's share of the totals (its waiting fetch
// entries, its produce waiters' requests) by what p holds now.
func (b *Broker) snapshotPartition(p *partition) {
	b.dropSnapshot(p)
	p.checkGen = b.checkGen
	p.checkedFetchEntries = len(p.fetchWaiters) - p.fetchWaitersDone
	b.checkFetchEntries += p.checkedFetchEntries
	for _, w := range p.waiters {
		q := w.pending
		p.checkedPendings = append(p.checkedPendings, q)
		if q.checkWaiters == 0 {
			q.checkLiveIndex = len(b.checkLive)
			b.checkLive = append(b.checkLive, q)
		}
		q.checkWaiters++
	}
}

// dropSnapshot takes p's share out of the totals, if it counts (was
// taken since the last full pass).
func (b *Broker) dropSnapshot(p *partition) {
	if p.checkGen == b.checkGen {
		b.checkFetchEntries -= p.checkedFetchEntries
		for _, q := range p.checkedPendings {
			q.checkWaiters--
			if q.checkWaiters == 0 {
				last := b.checkLive[len(b.checkLive)-1]
				b.checkLive[q.checkLiveIndex] = last
				last.checkLiveIndex = q.checkLiveIndex
				b.checkLive[len(b.checkLive)-1] = nil
				b.checkLive = b.checkLive[:len(b.checkLive)-1]
			}
		}
	}
	p.checkGen = 0
	p.checkedFetchEntries = 0
	clear(p.checkedPendings) // keep no request alive
	p.checkedPendings = p.checkedPendings[:0]
}
