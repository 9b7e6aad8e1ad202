package coord

// The machinery of a deliberate bug (core/bugs PendingKeptOnMove, Kafka's
// KAFKA-20634), used only when its build tag is set: a shard discarded
// because its partition's leadership moved keeps its pending writes
// instead of failing them, and they complete once the partition's high
// watermark, as this broker sees it (a follower's, after it truncated the
// writes away and caught up with the new leader), passes their end. A
// normal build never calls these.

import "github.com/twmb/franz-go/pkg/kerr"

// keepPending moves the pending writes of ps, p's shard being discarded,
// aside, unanswered; the broker is not told of the discard either (it
// would answer them). At most MaxPendingWrites are kept per partition.
func (r *Runtime[S]) keepPending(p int32, ps *partState[S]) {
	if r.kept == nil {
		r.kept = map[int32][]pendingWrite{}
	}
	k := append(r.kept[p], ps.pending...)
	r.kept[p] = k[max(0, len(k)-r.cfg.MaxPendingWrites):]
	ps.pending = nil
}

// completeKept answers p's kept writes that end at or below hw, as if
// they had committed.
func (r *Runtime[S]) completeKept(p int32, hw int64) {
	k := r.kept[p]
	n := 0
	for _, w := range k {
		if w.end > hw {
			break
		}
		for _, rep := range w.replies {
			r.host.Reply(rep)
		}
		n++
	}
	if n == len(k) {
		delete(r.kept, p)
		return
	}
	r.kept[p] = k[n:]
}

// keptDiscard reports whether the discard of p with code keeps its
// pending writes (a leadership move); any other discard first answers
// the writes kept earlier, with code, so that the broker's Discarded,
// which answers every request it holds for p, never answers one twice.
func (r *Runtime[S]) keptDiscard(p int32, ps *partState[S], code int16) bool {
	if code == kerr.NotCoordinator.Code {
		r.keepPending(p, ps)
		return true
	}
	delete(r.kept, p)
	return false
}
