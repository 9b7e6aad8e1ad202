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
