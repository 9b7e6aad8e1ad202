package txn

import (
	"math"
	"sort"

	"github.com/chronik-streaming/chronik/core/coord"
)

// Tick runs the timers due at nowMs, in transactional-id order: it
// completes transactions whose markers are all written (one with no
// partitions has none to wait for), aborts Ongoing transactions past
// their timeout (every AbortTimedOutIntervalMs) with the epoch bumped, so
// that the producer that ran one is fenced (PrepareEpochFence, as Kafka),
// and removes transactional ids idle for IDExpirationMs (every
// RemoveExpiredIntervalMs) with a tombstone. All its records go in one
// write.
func (s *Shard) Tick(nowMs int64) coord.Write {
	var b outBuf
	if !s.loaded || s.writesFull() {
		return coord.Write{}
	}
	for _, t := range s.completable() {
		s.complete(nowMs, t, &b)
	}
	if nowMs >= s.nextAbortCheck {
		s.nextAbortCheck = nowMs + s.cfg.AbortTimedOutIntervalMs
		s.abortTimedOut(nowMs, &b)
	}
	if nowMs >= s.nextExpiryCheck {
		s.nextExpiryCheck = nowMs + s.cfg.RemoveExpiredIntervalMs
		s.expireIDs(nowMs, &b)
	}
	return s.finish(&b)
}

// abortTimedOut aborts the Ongoing transactions that started more than
// their timeout ago. A timeout of MaxInt32 is a two-phase-commit
// transaction's (KIP-939), which never times out.
func (s *Shard) abortTimedOut(nowMs int64, b *outBuf) {
	if s.counts[Ongoing] == 0 {
		return
	}
	for _, id := range s.sortedIDs() {
		t := s.txns[id]
		if t.m.State != Ongoing || t.m.TimeoutMs == math.MaxInt32 || t.m.StartMs+int64(t.m.TimeoutMs) >= nowMs {
			continue
		}
		s.fenceAndAbort(nowMs, t, b)
		s.write(b, t)
	}
}

// expireIDs removes the transactional ids with no transaction open that
// were last updated IDExpirationMs ago or more.
func (s *Shard) expireIDs(nowMs int64, b *outBuf) {
	if s.counts[Empty]+s.counts[CompleteCommit]+s.counts[CompleteAbort] == 0 {
		return
	}
	for _, id := range s.sortedIDs() {
		t := s.txns[id]
		if !t.m.State.expirable() || t.m.LastUpdateMs > nowMs-s.cfg.IDExpirationMs {
			continue
		}
		s.setState(t, Dead) // checks the transition; Dead is never kept
		b.tombstone(id)
		s.drop(id)
	}
}

// NextWakeMs is the earliest time Tick has work, or -1 for none: now (0)
// while a transaction waits only for its completion record, else the next
// check for timed-out transactions (while any is Ongoing) or for expired
// ids (while any may expire).
func (s *Shard) NextWakeMs() int64 {
	if !s.loaded {
		return -1
	}
	if !s.writesFull() && s.hasCompletable() {
		return 0
	}
	next := int64(-1)
	if s.counts[Ongoing] > 0 {
		next = s.nextAbortCheck
	}
	if s.counts[Empty]+s.counts[CompleteCommit]+s.counts[CompleteAbort] > 0 && (next < 0 || s.nextExpiryCheck < next) {
		next = s.nextExpiryCheck
	}
	return next
}

func sortStrings(ss []string) { sort.Strings(ss) }

// sortTxns sorts ts by transactional id.
func sortTxns(ts []*txnState) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].m.TransactionalID < ts[j].m.TransactionalID })
}
