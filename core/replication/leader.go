// Package replication holds the rules of Kafka-style leader/follower
// replication of one partition, as pure state and decisions: a leader's
// view of its followers (their fetch positions, when each last caught up),
// the high watermark that view allows, when a follower may join the ISR
// and when one must leave it, and where a follower whose log diverged
// from its leader's truncates to.
//
// The broker (core/broker) owns the partitions and does the I/O: it
// serves and sends the replica fetches, appends and truncates the logs,
// and proposes the ISR changes these rules call for to the controller.
//
// Leader. Every follower fetch reports the follower's log end offset,
// and with sync writes followers only fetch once everything they hold is
// synced, so the fetch offset is a durable offset: the high watermark,
// the minimum over the ISR of those offsets and the leader's own durable
// end, therefore covers only records on the disks of every ISR member.
// While an ISR expansion is in flight the new member already counts for
// the high watermark (the "maximal ISR" of KIP-497), so the high
// watermark never depends on an ISR the controller has not yet committed.
package replication

import (
	"github.com/chronik-streaming/chronik/core/bugs"
)

// Follower is a leader's view of one follower, from its fetches.
type Follower struct {
	ID int32
	// FetchOffset is the follower's durable log end offset as of its
	// last fetch; -1 until it fetches from this leadership, or while its
	// position is unknown (a diverging or out-of-range fetch).
	FetchOffset int64
	// LastCaughtUpMs is the last time the follower had everything the
	// leader had (Kafka's lastCaughtUpTimeMs).
	LastCaughtUpMs     int64
	LastFetchMs        int64
	LastFetchLeaderLEO int64
	// LogStart is the follower's log start offset as of its last fetch;
	// -1 until it fetches from this leadership (DeleteRecords waits for
	// it).
	LogStart int64
	// FetchSeq is the arrival number of the fetch the fields above come
	// from: an older fetch (a long poll built again after a newer one
	// arrived) does not speak for the follower's progress.
	FetchSeq uint64
	// HWSent and StartSent are the high watermark and log start this
	// leader last told the follower; -1 until then.
	HWSent, StartSent int64
}

// Leader is a leader's replication state of one partition, for one
// leadership.
type Leader struct {
	// Followers are the other replicas, in the assignment's order.
	Followers []*Follower
	// EpochStartOffset is the log end when this leadership began.
	EpochStartOffset int64
	// ISRInFlight says an ISR change was sent and not answered.
	ISRInFlight bool
	// ProposedISR is an expansion whose outcome is unknown: it counts for
	// the high watermark until an answer or the image settles it.
	ProposedISR []int32
	// ISRRetryAtMs is when a failed ISR change may be sent again.
	ISRRetryAtMs int64
}

// Begin starts a leadership at log end logEnd: every other replica's
// progress is unknown, and each counts as caught up now (as Kafka does),
// so none is dropped from the ISR before it could fetch.
func (l *Leader) Begin(nowMs int64, self int32, replicas []int32, logEnd int64) {
	l.EpochStartOffset = logEnd
	l.Followers = nil // a walk of the old list may still be under way
	for _, id := range replicas {
		if id != self {
			l.Followers = append(l.Followers, &Follower{ID: id, FetchOffset: -1, LastCaughtUpMs: nowMs, LastFetchMs: nowMs,
				LastFetchLeaderLEO: -1, LogStart: -1, HWSent: -1, StartSent: -1})
		}
	}
}

// Follower returns the view of follower id, or nil.
func (l *Leader) Follower(id int32) *Follower {
	for _, f := range l.Followers {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// MaximalISR is isr plus the members of an expansion in flight.
func (l *Leader) MaximalISR(isr []int32) []int32 {
	if l.ProposedISR != nil {
		return l.ProposedISR
	}
	return isr
}

// RecordFetch records a fetch from offset fetchOffset (the newest one the
// follower sent) when the leader's log ended at leaderLEO, with Kafka's
// rule for being caught up: the follower fetched everything the leader
// had at this fetch, or at its previous one. The latest report counts,
// not the largest: a follower that lost data (a power loss without sync
// writes) must not keep counting for it.
func (f *Follower) RecordFetch(nowMs, fetchOffset, logStart, leaderLEO int64) {
	if fetchOffset >= leaderLEO {
		f.LastCaughtUpMs = nowMs
	} else if fetchOffset >= f.LastFetchLeaderLEO && f.LastFetchMs > f.LastCaughtUpMs {
		f.LastCaughtUpMs = f.LastFetchMs
	}
	f.LastFetchMs, f.LastFetchLeaderLEO = nowMs, leaderLEO
	f.FetchOffset = fetchOffset
	f.LogStart = logStart
}

// HighWatermark is the high watermark the maximal ISR allows: the least
// of ownEnd (the leader's durable end, or its log end without sync
// writes) and the fetch offsets of the followers in it. ok is false while
// one of them has not been heard from in this leadership.
func (l *Leader) HighWatermark(ownEnd int64, isr []int32) (hw int64, ok bool) {
	hw = ownEnd
	isr = l.MaximalISR(isr)
	for _, f := range l.Followers {
		if !contains(isr, f.ID) {
			continue
		}
		if bugs.HighWatermarkIgnoresFollowers { // deliberate bug (core/bugs): count only the leader
			continue
		}
		if f.FetchOffset < 0 {
			return 0, false
		}
		hw = min(hw, f.FetchOffset)
	}
	return hw, true
}

// MayAdmit reports whether follower f may be proposed into the ISR now,
// given the leader's high watermark hw and log start logStart (whether
// the image shows f's broker unfenced is the broker's to check).
func (l *Leader) MayAdmit(nowMs int64, isr []int32, f *Follower, hw, logStart int64) bool {
	if l.ISRInFlight || l.ProposedISR != nil || nowMs < l.ISRRetryAtMs || contains(isr, f.ID) {
		return false
	}
	if f.FetchOffset < hw {
		return false
	}
	// Kafka's second condition: a new leader's high watermark may lag its
	// epoch start (records of the previous epoch, committed there, that
	// no follower has confirmed here yet), so reaching the high watermark
	// alone does not prove the follower holds them.
	if f.FetchOffset < l.EpochStartOffset && !bugs.ISRAdmitEarly { // deliberate bug (core/bugs): drop the epoch-start rule
		return false
	}
	// A follower whose log still starts below the leader's has not yet
	// had a fetch answer naming the leader's start (a DeleteRecords
	// acknowledged while it was fenced, so it was not waited for); it
	// moves there at its next answer and reports it at its next fetch.
	// Admitted before, it could lead with records that DeleteRecords
	// removed (sim seed 689150508: fenced during the DeleteRecords, it
	// rejoined on a fetch whose long poll the leader's crash cut short,
	// and led from start 60 after a DeleteRecords acknowledged with 62).
	// Kafka admits it (no such rule); Chronik promises more: an
	// acknowledged DeleteRecords holds for every later leader.
	return f.LogStart >= logStart
}

// Lagging returns the ISR followers that have not caught up for longer
// than lagMaxMs (replica.lag.time.max.ms), in the followers' order.
func (l *Leader) Lagging(nowMs int64, isr []int32, lagMaxMs int64) []int32 {
	var out []int32
	for _, f := range l.Followers {
		if bugs.ISRNeverShrinks { // deliberate bug (core/bugs): no lag check
			break
		}
		if contains(isr, f.ID) && nowMs-f.LastCaughtUpMs > lagMaxMs {
			out = append(out, f.ID)
		}
	}
	return out
}

// NextWakeMs lowers next to the leader's next timer: an ISR change's
// retry, or the moment an ISR follower would start to lag.
func (l *Leader) NextWakeMs(nowMs, next int64, isr []int32, lagMaxMs int64) int64 {
	if l.ISRRetryAtMs > nowMs {
		next = min(next, l.ISRRetryAtMs)
	}
	for _, f := range l.Followers {
		if contains(isr, f.ID) {
			next = min(next, f.LastCaughtUpMs+lagMaxMs+1)
		}
	}
	return next
}

// HasNews reports whether an answer carrying high watermark hw and log
// start logStart to a fetch from fetchOffset tells the follower something
// it was not told: the high watermark it can take (at most its fetch
// offset) or the log start moved past what it heard. News ends a replica
// fetch's long poll.
func (f *Follower) HasNews(hw, fetchOffset, logStart int64) bool {
	return min(hw, fetchOffset) > f.HWSent || logStart > f.StartSent
}

// NoteAnswer records what an answer told the follower (see HasNews).
func (f *Follower) NoteAnswer(hw, fetchOffset, logStart int64) {
	f.HWSent = max(f.HWSent, min(hw, fetchOffset))
	f.StartSent = max(f.StartSent, logStart)
}

// contains reports whether id is in ids (a loop the compiler inlines,
// on the leader's per-fetch path).
func contains(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
