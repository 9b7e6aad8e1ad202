package sim

// Coverage of the interesting transitions: every run counts, with
// world.cover, how often it reached each of them, read from ground truth
// rather than from what the broker says it did where the simulator has
// the truth:
//
//   - the committed metadata log (the truth image): isr-shrink and
//     isr-expand (a partition's ISR lost or gained a member), election (a
//     partition got a leader at a new leader epoch), controller-change (the
//     quorum elected a leader after the first);
//   - the disk: segment-roll (a new segment file created past offset 0),
//     power-loss-mid-fsync (a power loss that struck while an fsync ran),
//     power-loss-between-checkpoint-and-data and
//     power-loss-between-data-and-checkpoint (one that struck between two
//     steps of a sync job, syncsteps.go);
//   - the network: fenced-request (an answer carrying FENCED_LEADER_EPOCH
//     or NOT_LEADER_OR_FOLLOWER reached a client or a replica);
//   - the broker's log, where only the broker knows: truncation-by-epoch
//     (a follower cutting a divergent suffix by its leader's epochs);
//   - the aimed faults: trap-truncation (the truncation trap failed a
//     leader), trap-catch-up (the catch-up trap cut off a restarted node),
//     quiet-window (a quiet window's judged period began, quiet.go).
//   - the group members' answers (groups.go): group-joined, group-synced,
//     group-commit-acked, group-rebalance (REBALANCE_IN_PROGRESS told to a
//     member), group-coordinator-moved (NOT_COORDINATOR after a successful
//     call to that coordinator), group-static-rejoin, group-static-fenced,
//     group-commit-fenced and group-commit-fenced-refused (a commit of an
//     older generation than one synced, and its refusal),
//     group-register-linearizable (groupreg.go), group-live-stable and
//     group-live-waited (grouplive.go), group-records-delivered and
//     group-delivery-judged (groupdelivery.go), and the coordinator-move trap's
//     trap-fired, trap-deposed, trap-truncated-pending, trap-hw-passed-lost
//     and trap-commit-answered (groupfence.go);
//     the KIP-848 members' (groups848.go): group848-joined,
//     group848-revoked, group848-fenced, group848-commit-acked,
//     group848-stale-epoch, group848-static-rejoin, group848-held,
//     group848-commit-fenced and group848-commit-fenced-refused (a commit
//     at an older member epoch than one its member id was answered, and
//     its refusal: groupfence848.go).
//   - the transactional workload (txn.go, txncheck.go): txn-init,
//     txn-committed and txn-aborted (an EndTxn answered ok), txn-fenced
//     (PRODUCER_FENCED or INVALID_PRODUCER_EPOCH told to a producer),
//     txn-reinit, txn-zombie-pause (a producer paused past its timeout in
//     a transaction), txn-produce-acked, txn-produce-unknown and
//     txn-end-unknown (outcomes the producer gave up on),
//     txn-read-committed-judged (records a read_committed read returned,
//     judged), txn-aborted-filtered (batches dropped by the
//     AbortedTransactions ranges), txn-lso-judged (acknowledged offsets of
//     certainly open transactions an answer's LSO was judged against),
//     txn-final-read, txn-final-judged (acknowledged writes of committed
//     transactions looked for at the end) and txn-final-unjudged.
//
// A sweep sums and prints them; coverageMinimums (sim_test.go) states how
// often a 500-seed sweep must reach each, so that a change that stops
// exercising a path fails a test instead of leaving a checker idle.

import (
	"fmt"
	"path"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// coverCommit counts the partition transitions a commit made: elections
// (a leader at a new epoch) and ISR shrinks and expansions, from the
// truth's partitions before the commit. Partitions the entry created (a
// topic of another incarnation included) are not compared.
func (r *raftModel) coverCommit(before *truthSnap) {
	w := r.w
	before.each(r.truth, func(t *metadata.Topic, i int, old *partSnap) {
		if old.id != t.ID {
			return
		}
		a := &t.Assignments[i]
		if a.LeaderEpoch > old.st.leaderEpoch && a.Leader != metadata.NoLeader {
			w.cover("election")
		}
		if missing(old.st.isr, a.ISR) {
			w.cover("isr-shrink")
		}
		if missing(a.ISR, old.st.isr) {
			w.cover("isr-expand")
		}
	})
}

// missing reports whether some member of a is not in b.
func missing(a, b []int32) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			return true
		}
	}
	return false
}

// coverAnswer counts an answer that fenced its request: a partition error
// FENCED_LEADER_EPOCH or NOT_LEADER_OR_FOLLOWER in Produce, Fetch,
// ListOffsets or OffsetForLeaderEpoch, to a client or to a replica.
func (w *world) coverAnswer(resp kmsg.Response) {
	hit := false
	partitionErrors(resp, func(_, _ string, _ int32, code int16) {
		hit = hit || code == errCodeFencedEpoch || code == errCodeNotLeader
	})
	if hit {
		w.cover("fenced-request")
	}
}

// partitionErrors calls fn with the error code of every partition of a
// Produce, Fetch, ListOffsets or OffsetForLeaderEpoch answer, naming the
// API; other answers have no per-partition codes it knows.
func partitionErrors(resp kmsg.Response, fn func(api, topic string, partition int32, code int16)) {
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fn("Produce", t.Topic, p.Partition, p.ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fn("Fetch", t.Topic, p.Partition, p.ErrorCode)
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fn("ListOffsets", t.Topic, p.Partition, p.ErrorCode)
			}
		}
	case *kmsg.OffsetForLeaderEpochResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fn("OffsetForLeaderEpoch", t.Topic, p.Partition, p.ErrorCode)
			}
		}
	}
}

// logTruncatingSuffix is the broker's log line of a follower cutting a
// divergent suffix (core/broker/replication.go), with "from" and "to".
const logTruncatingSuffix = "truncating divergent suffix"

// coverBrokerLog counts what only the broker's log tells: a follower
// truncating its log by its leader's epochs (a cut that removes records).
func (n *simNode) coverBrokerLog(msg string, args []any) {
	if msg != logTruncatingSuffix {
		return
	}
	var from, to string
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "from":
			from = fmt.Sprint(args[i+1])
		case "to":
			to = fmt.Sprint(args[i+1])
		}
	}
	if from != to {
		n.w.cover("truncation-by-epoch")
	}
}

// coverOpen counts a segment roll: a new segment file (a .log whose name,
// its base offset, is not zero) created on the disk. Called for an open
// with create; exists says the file was there already (an open, not a
// creation).
func (d *simDisk) coverOpen(name string, exists bool) {
	if exists || !strings.HasSuffix(name, ".log") || strings.Trim(strings.TrimSuffix(path.Base(name), ".log"), "0") == "" {
		return
	}
	d.w.cover("segment-roll")
}
