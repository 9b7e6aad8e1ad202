package sim

import "testing"

// regressionSeeds are seeds that showed real Chronik bugs (FINDINGS.md)
// with the simulator as it is now; the bugs are fixed and the seeds must
// pass. A seed is tied to the simulator's draws: after a change to the
// simulator a seed may no longer reach the same state, so a passing seed
// is a cheap guard, not a proof (the sweeps are the real test).
var regressionSeeds = []struct {
	seed  uint64
	nodes int // the node count the seed ran with
	bug   string
}{
	// Each of these failed on the core of 2b28601 (before the fixes) with
	// the simulator as it is now. FINDINGS.md 4 (segment names not made
	// durable) has no seed at this simulator: 5500 seeds on that core
	// showed only the epoch bug.
	{128, 1, "FINDINGS.md 5: a flipped leader-epoch bit in a torn tail took the partition offline for good"},
	{330, 1, "FINDINGS.md 5: the same"},
	{429, 1, "FINDINGS.md 5: the same"},
	{670, 1, "FINDINGS.md 5: the same"},
	// Cluster bugs (FINDINGS.md 7-10), each checked against the core with
	// its fix reverted, with the simulator of 58c07f8.
	{15, 3, "FINDINGS.md 7: a read error while a produce woke fetches left a waiter on an offline partition"},
	{24, 3, "FINDINGS.md 7: the same, a nil log dereferenced"},
	{1358, 3, "FINDINGS.md 8 and 10: an ISR expansion with an unknown outcome dropped from the maximal ISR"},
	{1588, 3, "FINDINGS.md 9: a restarted follower took its durable end as high watermark and served uncommitted records"},
	// Found at the simulator of 786c94f (seed 20225 of the finding no
	// longer reaches the state there): fails on that core, passes with
	// the fix.
	{103980, 1, "FINDINGS.md 16: a torn tail's garbage leader epoch with the epoch checkpoint unreadable took the partition offline for good"},
	// Drawn node count (0): the seed is a three-node one as drawn.
	{778497, 0, "FINDINGS.md 15: the final drain ended on a new leader's lagging high watermark, below its own acknowledged record"},
	// Full-disk recovery (hw-storage); each fails on the core of 12462bf.
	{40700, 1, "FINDINGS.md 17: a read checked the unsynced batch past its limit, whose pages a failed fsync had dropped, and took the partition offline for good"},
	{700096, 0, "FINDINGS.md 18: a leader reopened after a full disk led again at the epoch whose tail it cut, and wrote another batch at a replicated offset"},
	{512417421, 0, "FINDINGS.md 22: a cluster replica's recovery cut damaged synced data and the shortened copy led"},
	{512417429, 0, "FINDINGS.md 22: the same"},
	{198, 0, "FINDINGS.md 20: a resigning leader handed the partition to a follower whose copy a scrub had just found corrupt"},
	{689150508, 0, "FINDINGS.md 27: a follower fenced during a DeleteRecords rejoined the ISR before it had the new log start, and led from below the acknowledged low watermark"},
	{5269, 0, "FINDINGS.md 19: a leader reopened after a full disk forgot its ISR expansion in flight and acknowledged alone what the committed ISR's next leader never had"},
	// Fails on the core of 5c076d3.
	{689151038, 0, "FINDINGS.md 25: a corrupt follower copy whose ask to leave the ISR found no controller stayed in it; recovery without its unreadable checkpoint cut the damage as a torn tail, and the copy led 19 records short"},
	// A checker bug, not Chronik's (linearizability/growth.go before
	// 2b9c8b2): a single-node seed as drawn.
	{689300192, 0, "FINDINGS.md 41: porcupine undecided: one step walked 20 million sets of unread acks=0 appends to fill a gap only all of them fill"},
	// Fails on the core of 221f4e7.
	{731000057, 0, "FINDINGS.md 40: a copy the scrubber had reported damaged in a synced batch above its checkpointed recovery point was cut there as a torn tail at its restart, and the last ISR member led two acknowledged records short"},
	// Fails on the core of 651d51a (with the synced-end file written but
	// not trusted by recovery, the trace being the fixed one's).
	{818001154, 0, "FINDINGS.md 42: a media flip in a synced, acknowledged batch above the checkpointed recovery point, struck together with a blackout, was cut as a torn tail, and the last ISR member led short"},
	{818001270, 3, "FINDINGS.md 43: a sync that failed on a full disk before a quiet window reported inside it, after the window had looked for nodes to restart, and the last ISR member of t001-1 stayed without a working leader through the judged period"},
	// Fails with the connect of the merge of the sync-job change (no
	// timeout for a late SYN-ACK in sim/client.go).
	// Fail with the driver of 735176e (the wall clock passed as it is).
	{7044, 0, "FINDINGS.md 45: node 1's clock stepped back 6 s just before a quiet window stretched its pending fetch backoff, and acks=all probes to t001-0 took 1.8 s"},
	{30009, 0, "FINDINGS.md 45: node 2's clock stepped back 7 s just before a quiet window; its follower of t012-0 fetched again only 6.4 s into the window and probes failed NOT_ENOUGH_REPLICAS"},
	{771204639, 0, "issue 11: replicas of __consumer_offsets compact their own copies, so the batch a joiner holds below the high watermark may hold fewer records (another CRC) than the leader's; the isr-admission check compared bytes"},
	// Consumer groups (issue 11): each fails on the core of 43be19f.
	{1, 0, "FINDINGS.md 46: a coordinator write left the offsets partition's long polls unwoken (broker invariant)"},
	{132, 0, "FINDINGS.md 47: an append that took the offsets partition offline answered its requests twice"},
	{20141, 0, "FINDINGS.md 44: a SYN-ACK a clog delayed by 11 s kept node 1's peer channel connecting past the dialer's timeout, and every acks=all probe of a quiet window failed with NOT_ENOUGH_REPLICAS"},
}

// TestRegressionSeeds replays the seeds of known bugs.
func TestRegressionSeeds(t *testing.T) {
	for _, r := range regressionSeeds {
		opts := runOptions()
		opts.Nodes = r.nodes
		res := Run(r.seed, opts)
		if !res.OK() {
			t.Errorf("seed %d (%s) fails again; first finding: %s\n  reproduce: go test ./sim -run Sim -seed=%d -nodes=%d", r.seed, r.bug, res.Failures[0], r.seed, r.nodes)
		}
	}
}
