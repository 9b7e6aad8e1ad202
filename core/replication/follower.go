package replication

// Follower side. One fetch per leader is in flight at a time, carrying
// every partition followed from that leader; the leader answers it as
// soon as any partition has records, an error or news for the follower,
// else after the long poll. Each fetch names the last epoch the follower
// holds (LastFetchedEpoch); when the leader's log diverges from it, the
// leader answers with the diverging epoch and its end offset instead of
// records (Diverges), and the follower truncates to the smaller of that
// end offset and its own end of that epoch (TruncationTarget, KIP-320 and
// KIP-595), then fetches again. The follower never truncates to its own
// high watermark.

// Diverges reports whether a follower's fetch from fetchOffset, whose
// last batch is of epoch lastFetchedEpoch, has left the leader's log: the
// leader's latest epoch at or below lastFetchedEpoch is epoch, ending at
// end. Where the follower's log stops matching is then unknown until it
// truncates and fetches again.
func Diverges(epoch int32, end int64, lastFetchedEpoch int32, fetchOffset int64) bool {
	return epoch < lastFetchedEpoch || end < fetchOffset
}

// TruncationTarget is where a follower truncates when its leader says its
// log diverges after leaderEnd, the end of the leader's epoch the
// follower's log was last seen to agree with: that end, or the
// follower's own end of that epoch (ownEnd, when it holds the epoch:
// ownHasEpoch) if smaller. A follower whose every batch is of a later
// epoch than the leader's diverging one holds none of the leader's, and
// truncates to its log start (sim stress seed 168: a follower whose log
// began with an epoch the leader never had truncated to the leader's end,
// past its own, and fetched the same divergence forever).
func TruncationTarget(leaderEnd, ownEnd int64, ownHasEpoch bool, logStart int64) int64 {
	if !ownHasEpoch {
		return logStart
	}
	return min(leaderEnd, ownEnd)
}

// Fetching is a follower's fetch state of one partition.
type Fetching struct {
	// InFlight says a fetch carrying the partition was sent and not
	// answered.
	InFlight bool
	// BackoffUntilMs is the end of the pause after a failed fetch.
	BackoffUntilMs int64
	// AnsweredMs is when the last fetch of the partition was answered:
	// the next fetch to its leader waits for the records it brought to
	// sync for at most a long poll from then.
	AnsweredMs int64
	// Generation grows with every role change, so the answer to a fetch
	// sent under an older role cannot clear a newer fetch's flag.
	Generation uint64
}

// NewRole forgets the fetch of the previous role: one in flight to the
// previous leader may never be answered (that leader may be dead), and
// its answer is ignored by its generation.
func (f *Fetching) NewRole() {
	f.BackoffUntilMs = 0
	f.InFlight = false
	f.Generation++
}

// Ready reports whether the partition may join a fetch now.
func (f *Fetching) Ready(nowMs int64) bool { return !f.InFlight && nowMs >= f.BackoffUntilMs }

// Answered ends the fetch of generation gen; false if the partition moved
// on since (a newer fetch may be in flight).
func (f *Fetching) Answered(nowMs int64, gen uint64) bool {
	if gen != f.Generation {
		return false
	}
	f.InFlight = false
	f.AnsweredMs = nowMs
	return true
}

// Backoff pauses the partition's fetching for backoffMs after a failure.
func (f *Fetching) Backoff(nowMs, backoffMs int64) { f.BackoffUntilMs = nowMs + backoffMs }

// SyncWaitEndMs is until when the next fetch to the leader waits for the
// partition's fetched records to sync: a long poll (waitMaxMs) from the
// answer that brought them, so that one slow fsync does not stop the
// other partitions.
func (f *Fetching) SyncWaitEndMs(waitMaxMs int64) int64 { return f.AnsweredMs + waitMaxMs }

// NextWakeMs lowers next to the partition's fetch timers: the end of a
// backoff, or of a wait for its sync (unsynced: it holds fetched records
// not yet durable).
func (f *Fetching) NextWakeMs(nowMs, next int64, unsynced bool, waitMaxMs int64) int64 {
	if f.InFlight {
		return next
	}
	if f.BackoffUntilMs > nowMs {
		next = min(next, f.BackoffUntilMs)
	}
	if unsynced {
		if end := f.SyncWaitEndMs(waitMaxMs); end > nowMs {
			next = min(next, end)
		}
	}
	return next
}

// LeaderFetches is the count of replica fetches in flight to one leader.
type LeaderFetches struct {
	Leader int32
	N      int
}

// FetchesInFlight counts a follower broker's replica fetches in flight
// per leader: one at most (a follower sends one fetch per leader at a
// time), an entry per leader with a fetch in flight, in the order they
// were first sent; so it holds at most one entry per broker, and a slice
// searched from the front costs less than a map for the fetcher, which
// looks every followed partition's leader up.
type FetchesInFlight struct{ list []LeaderFetches }

// To is how many replica fetches are in flight to leader.
func (c *FetchesInFlight) To(leader int32) int {
	for _, f := range c.list {
		if f.Leader == leader {
			return f.N
		}
	}
	return 0
}

// Add adds d to the fetches in flight to leader; an entry that reaches
// zero is dropped.
func (c *FetchesInFlight) Add(leader int32, d int) {
	for i := range c.list {
		if f := &c.list[i]; f.Leader == leader {
			if f.N += d; f.N == 0 {
				c.list = append(c.list[:i], c.list[i+1:]...)
			}
			return
		}
	}
	c.list = append(c.list, LeaderFetches{Leader: leader, N: d})
}

// All lists the counts, in the order the leaders were first sent to.
func (c *FetchesInFlight) All() []LeaderFetches { return c.list }
