package sim

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Checker classes: the findings a deliberate bug must be caught by, as
// regexps over a run's failures. A liveness timeout or a panic is no
// catch: a bug that only stalls the final drain would hide behind any slow
// seed.
const (
	// classLostData: acknowledged records missing, moved or replaced
	// (the replica comparison, the offset checks, porcupine), or a high
	// watermark served past what an ISR member holds durably
	// (replcheck.go: the loss before it happens).
	classLostData = `replicas: |offset check: (lost-write|wrong-ack-offset|nonmonotonic)|linearizability: illegal|hw-durable: `
	// classServedPastHW: the client-side check of every fetch.
	classServedPastHW = `at or past the high watermark`
	// classCorruptServed: a batch failing its CRC reached a client.
	classCorruptServed = `corrupt batch served`
	// classDuplicate: the offset checks' duplicate values.
	classDuplicate = `offset check: duplicate`
	// classCatchUp: catchup.go's ground-truth rule.
	classCatchUp = `catch-up: `
	// classRecovery: recovery declared synced data corrupt where no media
	// flip was injected (disk.go checkOffline).
	classRecovery = `recovery: `
	// classDiskTruth: the broker trusted bytes the disk never received:
	// a read or a recovery found them corrupt, or records acknowledged on
	// them were lost.
	classDiskTruth = `corrupt-read: |` + classRecovery + `|` + classLostData
	// classISRAdmission, classISRShrink, classMinInsync: the replication
	// checkers of replcheck.go.
	classISRAdmission = `isr-admission: `
	classISRShrink    = `isr-shrink: `
	classMinInsync    = `min-insync: `
	// classAvailability: quiet windows (quiet.go): acks=all must succeed
	// quickly once every fault healed.
	classAvailability = `availability: `
	// classLogStart: the log-start rules (trim.go, the model's start).
	classLogStart = `log-start: `
	// classRogueControl: the rogue client's rules (rogue.go): no answer
	// to a control-plane request on a client listener, no committed
	// registration of a broker outside the cluster.
	classRogueControl = `rogue-control: `
	// classGroupCommit: groupcheck.go's register of committed offsets.
	classGroupCommit = `group-commit: `
	// classGroupState: either group checker (groupcheck.go): the register
	// of committed offsets, or one owner per partition and generation.
	// A coordinator that loads a compacted log missing a key's latest
	// record forgets a commit or reuses a generation.
	classGroupState = `group-(commit|owner): `
	// classGroupOwner848: the KIP-848 owner check (groups848.go), whose
	// groups are named cg*.
	classGroupOwner848 = `group-owner: group cg`
	// classCompaction: the compaction workload's checker
	// (compactioncheck.go); the cleaner's bugs show there first, and in
	// the groups' state when __consumer_offsets is cleaned.
	classCompaction = `compaction: |` + classGroupState
	// classGroupLive: grouplive.go's liveness of groups in quiet windows.
	classGroupLive = `group-live: `
	// classGroupDelivery: groupdelivery.go's at-least-once rule, or the
	// register of committed offsets, which sees an offset no commit wrote
	// (whichever fires first in a run).
	classGroupDelivery = `group-(delivery|commit): `
	// classTxn: the transactional workload's checkers (txncheck.go).
	classTxn = `txn: `
)

// deliberateBugs are the switches of core/bugs with their build tags and
// the checker class that must catch each.
var deliberateBugs = []struct{ tag, what, class string }{
	{"chronik_bug_ack_before_sync", "produce answered before its fsync", classLostData},
	{"chronik_bug_serve_past_hw", "fetch serves records past the high watermark", classServedPastHW},
	{"chronik_bug_skip_crc", "no CRC check in recovery or reads", classCorruptServed},
	{"chronik_bug_reuse_offset", "recovery drops synced data past the checkpoint (offsets reused)", classLostData},
	{"chronik_bug_no_dedup", "idempotent producer sequences not checked", classDuplicate},
	{"chronik_bug_sync_covers_later", "a finished fsync counts appends made while it ran", classLostData},
	{"chronik_bug_hw_ignores_followers", "the high watermark advances before followers have the data", classLostData},
	{"chronik_bug_truncate_to_hw", "a follower truncates to its own high watermark instead of by epoch", classLostData},
	{"chronik_bug_elect_outside_isr", "a fenced leader is replaced by any unfenced replica, in the ISR or not", classLostData},
	{"chronik_bug_reopen_keeps_unsynced", "a partition reopened after a full disk keeps its tail past the last good fsync", classLostData},
	{"chronik_bug_serve_before_catchup", "a restarted cluster broker answers clients before its registration has applied", classCatchUp},
	{"chronik_bug_recovery_declares_corrupt", "recovery's scan of a synced segment stops one byte short and declares it corrupt", classRecovery},
	{"chronik_bug_fsync_failure_trusted", "after a failed fsync the broker retries it and trusts the page cache (fsyncgate)", classDiskTruth},
	{"chronik_bug_segment_name_unsynced", "a segment created by a roll gets no directory fsync", classLostData},
	{"chronik_bug_isr_admit_early", "a follower joins the ISR on reaching the high watermark, below the leader's epoch start", classISRAdmission},
	{"chronik_bug_isr_never_shrinks", "a leader never drops a lagging follower from the ISR", classISRShrink},
	{"chronik_bug_ignore_min_insync", "acks=all answered while the ISR is below min.insync.replicas", classMinInsync},
	{"chronik_bug_follower_fetch_stuck", "a follower whose replica fetch failed stops fetching until its leader changes", classAvailability},
	{"chronik_bug_log_start_not_persisted", "recovery ignores the checkpointed log start: records deleted inside the first segment come back", classLogStart},
	{"chronik_bug_delete_records_no_wait", "DeleteRecords answered before the followers moved their log start", classLogStart},
	{"chronik_bug_control_on_client_port", "the client listener serves the control plane (AlterPartition, BrokerRegistration, ...)", classRogueControl},
	{"chronik_bug_owner_file_unsynced", "an existing directory's partition.metadata is taken as durable and never synced", classLostData},
	{"chronik_bug_image_answered_early", "a single node answers a metadata change before its image write is durable", classCatchUp},
	{"chronik_bug_commit_before_committed", "the coordinator runtime answers a write's requests before the high watermark passes it", classGroupCommit},
	{"chronik_bug_consumer_skips_revocation", "a KIP-848 member gets partitions before their previous owner released them", classGroupOwner848},
	{"chronik_bug_cleaner_drops_latest", "the log cleaner removes a key's latest record (of a compacted topic, __consumer_offsets too)", classCompaction},
	{"chronik_bug_cleaner_tombstones_early", "the cleaner removes tombstones without waiting for delete.retention.ms", classCompaction},
	{"chronik_bug_cleaner_ignores_lag", "the cleaner cleans segments younger than min.compaction.lag.ms", classCompaction},
	{"chronik_bug_cleaner_swap_unsynced", "the cleaner renames a cleaned segment over the original before fsyncing it", classDiskTruth + `|compaction: `},
	{"chronik_bug_generation_check_skipped", "a classic OffsetCommit with a stale generation is applied instead of refused ILLEGAL_GENERATION", classGroupCommit},
	{"chronik_bug_coordinator_serves_before_load", "a new coordinator shard ends its load before replaying its partition and serves from empty state", classGroupCommit},
	{"chronik_bug_join_timer_ignored", "a join phase's timer (initial delay, rebalance timeout) never ends it", classGroupLive},
	{"chronik_bug_pending_kept_on_move", "a coordinator keeps its pending writes across a leadership move and completes them when its HW passes their end (KAFKA-20634)", classGroupCommit},
	{"chronik_bug_member_epoch_check_skipped", "a KIP-848 OffsetCommit with an older member epoch is applied instead of refused STALE_MEMBER_EPOCH", classGroupCommit},
	{"chronik_bug_offset_fetch_skips_ahead", "OffsetFetch answers the committed offset plus one: a consumer starting there skips a record", classGroupDelivery},
	{"chronik_bug_lso_ignores_open_txn", "the last stable offset is the high watermark even while a transaction is open", classTxn},
}

// bugHuntSeeds is how many seeds each deliberate bug may take.
const bugHuntSeeds = 200

// TestBugsCaught proves the simulator catches real mistakes: for each
// deliberate bug it builds the package with the bug's tag and sweeps
// seeds until a checker fails, within bugHuntSeeds seeds. Seeds that fail
// without any deliberate bug (real bugs still open) are run first and
// skipped, so that each catch is the deliberate bug's. It compiles the
// package once per tag (about 15 s in all with a warm build cache), so it
// is part of plain `go test ./...` but skipped with -short or with
// CHRONIK_BUG_HUNT=0:
//
//	go test ./sim -run TestBugsCaught -v
func TestBugsCaught(t *testing.T) {
	if testing.Short() || os.Getenv("CHRONIK_BUG_HUNT") == "0" {
		t.Skip("deliberate-bug hunt skipped (-short or CHRONIK_BUG_HUNT=0)")
	}
	began := time.Now()
	base := goTestSweep(t, "", "", "")
	baseFail := regexp.MustCompile(`(?m)^seed=(\d+) FAIL`).FindAllStringSubmatch(base, -1)
	var ignore []string
	for _, m := range baseFail {
		ignore = append(ignore, m[1])
	}
	if len(ignore) > 0 {
		t.Logf("baseline (no deliberate bug): %d of %d seeds fail and are skipped: %s", len(ignore), bugHuntSeeds, strings.Join(ignore, ","))
	}
	caught := regexp.MustCompile(`caught: first failing seed (\d+) after (\d+) seeds`)
	var table []string
	for _, bug := range deliberateBugs {
		out := goTestSweep(t, bug.tag, bug.class, strings.Join(ignore, ","))
		m := caught.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("%s (%s): not caught by its checker class %q within %d seeds", bug.tag, bug.what, bug.class, bugHuntSeeds)
			table = append(table, fmt.Sprintf("%-30s NOT CAUGHT", bug.tag))
			continue
		}
		table = append(table, fmt.Sprintf("%-30s caught after %3s seeds (seed %s): %s", bug.tag, m[2], m[1], firstFinding(out, bug.class)))
	}
	t.Logf("deliberate bugs (%s):\n%s", time.Since(began).Round(time.Second), strings.Join(table, "\n"))
}

// goTestSweep runs the sweep in a child go test built with tag, stopping
// at the first seed with a finding of class.
func goTestSweep(t *testing.T, tag, class, ignore string) string {
	args := []string{"test", "-count=1", "-timeout=30m", "-run=^TestSimSweep$"}
	if tag != "" {
		args = append(args, "-tags="+tag)
	}
	args = append(args, ".", "-v", fmt.Sprintf("-seeds=%d", bugHuntSeeds), "-seed=1")
	if tag != "" {
		args = append(args, "-stop-on-fail", "-catch="+class)
	}
	if ignore != "" {
		args = append(args, "-ignore-seeds="+ignore)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CHRONIK_BUG_HUNT=0")
	out, err := cmd.CombinedOutput()
	if err != nil && tag == "" && !strings.Contains(string(out), "sweep:") {
		t.Fatalf("baseline sweep did not run: %v\n%s", err, out)
	}
	return string(out)
}

// firstFinding extracts the first finding of class in the report of the
// seed that caught the bug.
func firstFinding(out, class string) string {
	re := regexp.MustCompile(class)
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "FAILED (") {
			continue
		}
		for _, f := range lines[i+1:] {
			f = strings.TrimSpace(f)
			if !strings.HasPrefix(f, "[") {
				break
			}
			if re.MatchString(f) {
				if len(f) > 160 {
					f = f[:160] + "..."
				}
				return f
			}
		}
	}
	return "?"
}

// TestBugSwitchesListed: every switch of core/bugs (a *_on.go file with
// its build tag) is in the bug hunt's table and in the reproduce line's
// list, so that a new deliberate bug cannot be left unhunted.
func TestBugSwitchesListed(t *testing.T) {
	files, err := filepath.Glob("../core/bugs/*_on.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no core/bugs/*_on.go files: %v", err)
	}
	hunted := map[string]bool{}
	for _, b := range deliberateBugs {
		hunted[b.tag] = true
	}
	flagged := map[string]bool{}
	for _, b := range bugSwitches {
		flagged[b.tag] = true
	}
	tagRE := regexp.MustCompile(`//go:build (chronik_bug_[a-z_]+)`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := tagRE.FindSubmatch(src)
		if m == nil {
			t.Errorf("%s: no //go:build chronik_bug_* line", f)
			continue
		}
		tag := string(m[1])
		if !hunted[tag] {
			t.Errorf("%s: %s is not in deliberateBugs (bugs_test.go)", f, tag)
		}
		if !flagged[tag] {
			t.Errorf("%s: %s is not in bugSwitches (sim_test.go)", f, tag)
		}
	}
}
