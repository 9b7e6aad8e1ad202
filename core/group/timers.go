package group

import (
	"container/heap"
	"math"
	"sort"

	"github.com/chronik-streaming/chronik/core/bugs"
)

// Tick runs the timers due at nowMs, group by group in id order: expired
// MEMBER_ID_REQUIRED ids, members whose session ended, join phases and
// SyncGroup waits that reached their deadline, and (every
// OffsetsRetentionCheckIntervalMs) offset expiry.
func (s *Shard) Tick(nowMs int64) Out {
	var b outBuf
	// Only groups with a timer due are visited, in id order.
	var due []*group
	for len(s.timers) > 0 && s.timers[0].timerAt <= nowMs {
		due = append(due, heap.Pop(&s.timers).(*group))
	}
	sort.Slice(due, func(i, j int) bool { return due[i].id < due[j].id })
	for _, g := range due {
		s.tickGroup(nowMs, g, &b)
	}
	for _, g := range due {
		s.refresh(g.id)
	}
	s.tickConsumer(nowMs, &b)
	if s.nextCheck >= 0 && nowMs >= s.nextCheck {
		s.nextCheck = nowMs + s.cfg.OffsetsRetentionCheckIntervalMs
		s.expireOffsets(nowMs, &b)
		s.expireConsumerOffsets(nowMs, &b)
	}
	return s.finish(&b)
}

func (s *Shard) tickGroup(nowMs int64, g *group, b *outBuf) {
	if len(g.pending) > 0 {
		ids := make([]string, 0, len(g.pending))
		for id, dl := range g.pending {
			if nowMs >= dl {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			delete(g.pending, id)
			s.nPending--
		}
		if len(ids) > 0 {
			s.maybeCompleteJoin(nowMs, g, b)
		}
	}
	for _, m := range g.sortedMembers() {
		if g.members[m.id] != m || m.join != nil || m.sync != nil {
			continue
		}
		if nowMs >= m.lastSeenMs+int64(m.sessionMs) {
			s.removeMember(nowMs, g, m, b)
		}
	}
	if (g.state == stateCompleting || g.state == stateStable) && g.syncDeadlineMs > 0 && nowMs >= g.syncDeadlineMs {
		g.syncDeadlineMs = 0
		late := []*member{}
		for _, m := range g.sortedMembers() {
			if m.pendingSync {
				late = append(late, m)
			}
		}
		if len(late) > 0 {
			for _, m := range late {
				s.deleteMember(g, m, b)
			}
			s.prepareRebalance(nowMs, g, b)
		}
	}
	// Last: a rebalance started above may already be due.
	if g.state == statePreparing && nowMs >= g.joinDeadlineMs && !bugs.JoinTimerIgnored { // !bugs.JoinTimerIgnored: deliberate bug (core/bugs)
		s.completeJoin(nowMs, g, b)
	}
}

// expireOffsets writes tombstones for committed offsets past retention,
// by Kafka's rule for classic groups: an Empty group's offsets expire a
// retention period after it emptied (after their commit for a simple
// consumer's group, which has no protocol type); a Stable consumer group's
// offsets of topics it no longer subscribes to expire a retention period
// after their commit; other groups keep theirs. Offsets with a pending
// write or a staged transactional offset are left alone (Kafka's
// cleanupExpiredOffsets). An Empty group left with no offsets, and none
// staged, is removed.
func (s *Shard) expireOffsets(nowMs int64, b *outBuf) {
	for _, g := range s.sortedGroups() {
		if s.writesFull() {
			return
		}
		var subscribed map[string]bool
		switch {
		case g.state == stateEmpty:
		case g.state == stateStable && g.protocolType == "consumer":
			topics, known := g.subscribedTopics()
			if !known {
				continue
			}
			subscribed = topics
		default:
			continue
		}
		pending := s.pendingKeys(g.id)
		var expired []tp
		offs := s.offsets[g.id]
		for k, o := range offs {
			if pending[k] > 0 || subscribed[k.topic] || s.unstable(g.id, k) {
				continue
			}
			base := o.commitMs
			if g.state == stateEmpty && g.protocolType != "" && g.stateSinceMs > 0 {
				base = g.stateSinceMs
			}
			deadline := base + s.cfg.OffsetsRetentionMs
			if o.expireMs > 0 {
				deadline = o.expireMs
			}
			if nowMs >= deadline {
				expired = append(expired, k)
			}
		}
		sortTPs(expired)
		for _, k := range expired {
			b.recs = append(b.recs, Record{Key: offsetKey(g.id, k)})
			b.ops = append(b.ops, offsetOp{group: g.id, tp: k})
		}
		if g.state == stateEmpty && len(expired) == len(offs) && len(pending) == 0 && len(g.pending) == 0 && !s.hasStaged(g.id) {
			if g.written {
				b.recs = append(b.recs, Record{Key: groupKey(g.id)})
			}
			s.dropGroup(g.id)
		}
	}
}

// nextDeadline is g's earliest timer, or math.MaxInt64 for none (a
// deadline may be negative: a replayed record can hold any timeout).
func (g *group) nextDeadline() int64 {
	next := int64(math.MaxInt64)
	at := func(t int64) {
		if t < next {
			next = t
		}
	}
	for _, dl := range g.pending {
		at(dl)
	}
	for _, m := range g.members {
		if m.join == nil && m.sync == nil {
			at(m.lastSeenMs + int64(m.sessionMs))
		}
	}
	if g.state == statePreparing {
		at(g.joinDeadlineMs)
	}
	if (g.state == stateCompleting || g.state == stateStable) && g.syncDeadlineMs > 0 {
		at(g.syncDeadlineMs)
	}
	return next
}

// NextWakeMs is the earliest time Tick has work, or -1 for none.
func (s *Shard) NextWakeMs() int64 {
	next := int64(-1)
	if len(s.timers) > 0 && s.timers[0].timerAt != math.MaxInt64 {
		// A deadline before time 0 (from a replayed record's odd timeout)
		// is due now; -1 must keep meaning "nothing".
		next = max(s.timers[0].timerAt, 0)
	}
	if c := s.nextConsumerDeadline(); c >= 0 && (next < 0 || c < next) {
		next = c
	}
	if len(s.groups)+len(s.cgroups) > 0 && s.nextCheck >= 0 && (next < 0 || s.nextCheck < next) {
		next = s.nextCheck
	}
	return next
}

// refresh recomputes group id's next deadline and its place in the timer
// heap (a dropped group is already out of it). Before LoadDone it does
// nothing: LoadDone refreshes every group.
func (s *Shard) refresh(id string) {
	g := s.groups[id]
	if g == nil || !s.loaded {
		return
	}
	at := g.nextDeadline()
	switch {
	case g.heapIdx < 0:
		g.timerAt = at
		heap.Push(&s.timers, g)
	case at != g.timerAt:
		g.timerAt = at
		heap.Fix(&s.timers, g.heapIdx)
	}
}

// timerHeap is a min-heap of groups by (timerAt, id); the id breaks ties so
// that the order never depends on insertion history.
type timerHeap []*group

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].timerAt != h[j].timerAt {
		return h[i].timerAt < h[j].timerAt
	}
	return h[i].id < h[j].id
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *timerHeap) Push(x any) {
	g := x.(*group)
	g.heapIdx = len(*h)
	*h = append(*h, g)
}
func (h *timerHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	g.heapIdx = -1
	return g
}
