package sim

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-streaming/chronik/core/bugs"
)

var (
	flagSeed     = flag.Uint64("seed", 0, "run this seed (with -seeds, the first of a range)")
	flagSeeds    = flag.Int("seeds", 0, "run this many seeds from -seed (default start: random, printed)")
	flagStop     = flag.Bool("stop-on-fail", false, "stop a -seeds sweep at the first failing seed")
	flagEventLog = flag.String("event-log", "", "write the event log of a single -seed run to this file")
	flagPhase    = flag.Duration("fault-phase", 0, "override the length of the faulty phase (virtual time)")
	flagIgnore   = flag.String("ignore-seeds", "", "comma-separated seeds a -seeds sweep skips (known failures of the baseline)")
	flagNodes    = flag.Int("nodes", 0, "force the number of nodes (1: single node; default: drawn per seed)")
	flagCatch    = flag.String("catch", "", "with -stop-on-fail: stop at the first seed with a finding matching this regexp (a checker class); other failing seeds are counted, not stopped at")
)

// catchClass is the compiled -catch regexp, nil when unset (any failure
// counts).
func catchClass() *regexp.Regexp {
	if *flagCatch == "" {
		return nil
	}
	return regexp.MustCompile(*flagCatch)
}

// caughtBy reports whether res failed with a finding of class (any
// finding when class is nil).
func caughtBy(res *Result, class *regexp.Regexp) bool {
	if res.OK() {
		return false
	}
	if class == nil {
		return true
	}
	for _, f := range res.Failures {
		if class.MatchString(f) {
			return true
		}
	}
	return false
}

// ignoredSeeds parses -ignore-seeds.
func ignoredSeeds() map[uint64]bool {
	out := map[uint64]bool{}
	for _, f := range strings.Split(*flagIgnore, ",") {
		if n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64); err == nil {
			out[n] = true
		}
	}
	return out
}

// sweepSeeds is the fixed set plain `go test ./sim` runs: enough seeds
// for coverageMinimums to mean something.
const sweepSeeds = 500

// coverageMinimums states how often the fixed sweep (sweepSeeds seeds
// from 1, one and three nodes mixed) must reach each named transition
// (Coverage.Counts, world.cover): about a third of what it reached when
// the number was set, so that noise never trips it and a change that
// stops exercising a path does. The totals each was set from are in the
// comments (500 seeds from 1, after the merge of the issue-9 branches:
// replication checkers, reads, trimmer, disk model, quiet windows,
// scrubber). The fixed sweep is deterministic: a shortfall means a change
// moved the draws or stopped a path, never chance.
var coverageMinimums = map[string]int{
	// Replication (the truth's commits, the brokers' answers and logs).
	"controller-change":                    1400,  // 4752
	"election":                             10000, // 36261
	"fenced-request":                       8000,  // 30080
	"isr-expand":                           14000, // 48212 (each judged by isr-admission)
	"isr-shrink":                           14000, // 48298
	"truncation-by-epoch":                  540,   // 1921
	"returning-follower-below-epoch-start": 3,     // 36; 9 since one replica fetch per leader (FINDINGS 21) counts fewer fetches per window (isr_admit_early still caught at seed 33)
	// Aimed faults (scenario.go, catchup.go, trim.go, quiet.go).
	"trap-catch-up":               250, // 923
	"trap-truncation":             27,  // 83
	"trap-election-kill-leader":   79,  // 237
	"trap-expansion-kill-leader":  59,  // 178
	"trap-expansion-power-joiner": 54,  // 163
	"trap-returning-follower":     11,  // 33
	"trap-lagging-follower":       33,  // 101
	"delete-records-trap":         50,  // 151
	"quiet-window":                420, // 1259
	// Reads judged (reads.go).
	"read-exact":        160000, // 487656
	"read-may-be-stale": 2300,   // 7064
	// Log starts (trim.go) and segments.
	"delete-records":              520,   // 1560
	"delete-records-out-of-range": 155,   // 466
	"retention-delete":            8300,  // 25009
	"segment-roll":                98000, // 294554
	// Disk (disk.go, mediaflip.go, the scrubber).
	"power-loss-mid-fsync": 180, // 548
	// The single node's image write as a sync job (partlog.NewFileJob):
	// a power loss while it is in flight, and a job failed by a disk
	// fault (answered KAFKA_STORAGE_ERROR, the image kept).
	// (The transactional workload's traffic moved the draws of a third
	// of the seeds: 2 and 59 in the sweep that set the txn minimums.)
	"power-loss-mid-image-write": 1,  // 12; 2
	"image-write-failed":         19, // 179; 59
	// A power loss between two steps of a sync job (syncsteps.go), set
	// from the sweep after the periodic and leader-epoch checkpoints
	// moved into sync jobs.
	"power-loss-between-checkpoint-and-data": 12, // 36
	"power-loss-between-data-and-checkpoint": 69, // 207
	// A roll's directory entries and partition.metadata moved into sync
	// jobs too: a power loss after a roll's names and before the data
	// under them, and one before partition.metadata (and any data beside
	// it) is synced.
	"power-loss-after-roll-names":  12,  // 38
	"power-loss-before-owner-file": 4,   // 12
	"dir-entry-reverted":           86,  // 258
	"fsync-failed-dropped":         188, // 565
	"fsync-failed-kept-clean":      334, // 1002
	"media-flip-replicated":        8,   // 26
	"media-flip-reported":          7,   // 21
	"media-flip-reported-differs":  3,   // 10
	"scrub-found-corrupt":          19,  // 57
	// Consumer groups (groups.go), set from the first fixed sweep with
	// the group workload.
	"group-joined":            3600,  // 10840
	"group-synced":            3400,  // 10300
	"group-commit-acked":      64000, // 192784
	"group-rebalance":         1100,  // 3525
	"group-coordinator-moved": 550,   // 1671
	"group-fetch-judged":      70000, // 212787
	// Static classic members and KIP-848 members (groups848.go), set from
	// the first fixed sweep with them (group-static-fenced, 11, is too
	// rare for a minimum: 10).
	"group-static-rejoin":   80,    // 252
	"group848-joined":       1400,  // 4149
	"group848-revoked":      460,   // 1391
	"group848-fenced":       510,   // 1530
	"group848-commit-acked": 45000, // 139818
	"group848-stale-epoch":  300,   // 980
	"group848-held":         4000,  // 12084
	// KIP-848 fenced commits (groupfence848.go), set from the first
	// fixed sweep with late commits.
	"group848-commit-fenced":         880, // 2664
	"group848-commit-fenced-refused": 880, // 2652
	// Log compaction (compaction.go, compactioncheck.go), set from the
	// first fixed sweep with the compaction workload.
	"compaction-cleaned":             6600, // 19851
	"compaction-hole-read":           4500, // 13476
	"compaction-latest-judged":       8600, // 25962
	"compaction-final-read":          157,  // 471
	"compaction-keyless-refused":     530,  // 1586
	"compaction-tombstone-expired":   40,   // 120
	"power-loss-during-clean":        56,   // 168
	"power-loss-clean-in-flight":     13,   // 41
	"power-loss-clean-swap-unsynced": 44,   // 134
	// Fenced commits (a member's previous generation, groups.go) and
	// the coordinator's refusals of them.
	"group-commit-fenced":         1600, // 4877
	"group-commit-fenced-refused": 1600, // 4869
	// Group registers porcupine found linearizable (groupreg.go).
	"group-register-linearizable": 600, // 1793
	// Members reading their partitions and the at-least-once rule
	// (groupdelivery.go).
	"group-records-delivered": 6000,  // 18343
	"group-delivery-judged":   50000, // 150604
	// Group liveness in quiet windows (grouplive.go).
	"group-live-stable": 300, // 927
	"group-live-waited": 200, // 605
	// The coordinator-move trap (groupfence.go).
	"trap-fired":             33, // 101
	"trap-deposed":           18, // 56
	"trap-truncated-pending": 16, // 49
	"trap-hw-passed-lost":    13, // 39
	"trap-commit-answered":   19, // 58
	// Leaving the ISR and uncertain copies (FINDINGS.md 25, 40, 42). The
	// last ISR member left out because its copy is uncertain,
	// uncertain-last-isr-copy, is too rare for a minimum (0 in the fixed
	// sweep; the core test TestClusterUncertainLastISRMemberDoesNotLead
	// covers it), and so is media-flip-no-good-isr-copy: its 2 came from
	// seeds 94 and 353, and the sync-job change, which moved the disk
	// draws, left 0-2 in sweeps of the same seeds (the final phase's
	// bookkeeping it counts is the simulator's own); the rest reach 1-6
	// since the synced end (FINDINGS.md 42) marks a damaged synced
	// batch's cut uncertain (uncertain-copy-not-leading's 3 came from one
	// seed, 353, and are as fragile). media-flip-copy-intact (a flipped
	// replica's copy ends equal to the others') left the list when
	// partition.metadata moved into sync jobs, which moved the draws: 0 in
	// this sweep's seeds 1-500, 14 in seeds 501-2000, 7 in 2000 seeds
	// from 771204000; before, 4-6 here.
	// synced-end-cut and uncertain-marked-cut left it too when the group
	// workload and compaction of __consumer_offsets came (issue 11): 0
	// each in seeds 1-500, 5 each in seeds 501-1500 (media-flip-copy-intact
	// 6 there); before, 3 each here. uncertain-copy-not-leading (3, all
	// from seed 353) left it when the transactional workload came (issue
	// 12), which moved that seed's draws: 0 in seeds 1-500.
	"leave-isr-asked-again":    164, // 552
	"uncertain-cut":            1,   // 3
	"uncertain-copy-caught-up": 1,   // 6
	// Transactions (txn.go, txncheck.go), set from the first fixed
	// sweep with the transactional workload.
	"txn-init":                  410,    // 1240
	"txn-committed":             6400,   // 19243
	"txn-aborted":               2700,   // 8104
	"txn-fenced":                200,    // 624
	"txn-reinit":                320,    // 962
	"txn-zombie-pause":          160,    // 484
	"txn-produce-acked":         27000,  // 83145
	"txn-read-committed-judged": 480000, // 1453948
	"txn-aborted-filtered":      100000, // 318913
	"txn-lso-judged":            430,    // 1317
	"txn-final-read":            150,    // 452
	"txn-final-judged":          18000,  // 55854
	// The rogue client's control-plane requests refused on client
	// listeners (rogue.go).
	"rogue-control-refused": 890, // 2670
}

// outDir is where failure artifacts go (porcupine HTML, event logs).
func outDir() string { return filepath.Join(os.TempDir(), "chronik-sim") }

func seedWasSet() bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			set = true
		}
	})
	return set
}

func runOptions() Options {
	return Options{
		VisualizationDir: outDir(),
		FaultPhase:       Time(*flagPhase / time.Microsecond),
		Nodes:            *flagNodes,
	}
}

// runOne runs seed, prints its line and, on failure, the findings, the
// reproduce command and where to look.
func runOne(t testing.TB, seed uint64) *Result {
	opts := runOptions()
	var logFile *os.File
	if *flagEventLog != "" {
		f, err := os.Create(*flagEventLog)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		logFile = f
		opts.EventLog = f
	}
	res := Run(seed, opts)
	say(res.Line())
	if !res.OK() {
		report(t, res, logFile == nil)
	}
	return res
}

// say prints a line on stdout and, when the test is not verbose, also on
// the controlling terminal if there is one: go test hides the output of a
// passing package unless -v is given, and the seed's line is the point of
// running one seed.
func say(line string) {
	fmt.Println(line)
	if testing.Verbose() {
		return
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		fmt.Fprintln(tty, line)
		tty.Close()
	}
}

// report prints a failed run: findings, the reproduce command, porcupine's
// visualization and an event log written by replaying the seed.
func report(t testing.TB, res *Result, writeLog bool) {
	var b []byte
	b = fmt.Appendf(b, "seed %d FAILED (%d ops, %d events, %s virtual, %s):\n", res.Seed, res.Ops, res.Events, res.SimTime, res.WallTime.Round(time.Millisecond))
	for _, f := range res.Failures {
		b = fmt.Appendf(b, "  %s\n", f)
	}
	for _, n := range res.Notes {
		b = fmt.Appendf(b, "  note: %s\n", n)
	}
	b = fmt.Appendf(b, "  faults injected: %s\n", res.Stats)
	if res.VisualizationPath != "" {
		b = fmt.Appendf(b, "  porcupine visualization: %s\n", res.VisualizationPath)
	}
	if writeLog {
		if path, err := writeEventLog(res.Seed); err == nil {
			b = fmt.Appendf(b, "  event log (replayed): %s\n", path)
		}
	}
	nodes := ""
	if *flagNodes > 0 {
		nodes = fmt.Sprintf(" -nodes=%d", *flagNodes)
	}
	b = fmt.Appendf(b, "  reproduce: go test%s ./sim -run Sim -seed=%d%s\n", bugTagsFlag(), res.Seed, nodes)
	t.Error(string(b))
}

// bugSwitches are core/bugs' switches with their build tags, every one
// of them (TestBugSwitchesListed checks against core/bugs' files).
var bugSwitches = []struct {
	on  bool
	tag string
}{
	{bugs.AckBeforeSync, "chronik_bug_ack_before_sync"},
	{bugs.CleanerDropsLatest, "chronik_bug_cleaner_drops_latest"},
	{bugs.CleanerIgnoresLag, "chronik_bug_cleaner_ignores_lag"},
	{bugs.CleanerSwapUnsynced, "chronik_bug_cleaner_swap_unsynced"},
	{bugs.CleanerTombstonesEarly, "chronik_bug_cleaner_tombstones_early"},
	{bugs.CommitBeforeCommitted, "chronik_bug_commit_before_committed"},
	{bugs.ConsumerSkipsRevocation, "chronik_bug_consumer_skips_revocation"},
	{bugs.ControlOnClientPort, "chronik_bug_control_on_client_port"},
	{bugs.CoordinatorServesBeforeLoad, "chronik_bug_coordinator_serves_before_load"},
	{bugs.DeleteRecordsNoWait, "chronik_bug_delete_records_no_wait"},
	{bugs.ElectOutsideISR, "chronik_bug_elect_outside_isr"},
	{bugs.FollowerFetchStuck, "chronik_bug_follower_fetch_stuck"},
	{bugs.FsyncFailureTrusted, "chronik_bug_fsync_failure_trusted"},
	{bugs.GenerationCheckSkipped, "chronik_bug_generation_check_skipped"},
	{bugs.HighWatermarkIgnoresFollowers, "chronik_bug_hw_ignores_followers"},
	{bugs.IgnoreMinInsync, "chronik_bug_ignore_min_insync"},
	{bugs.ImageAnsweredEarly, "chronik_bug_image_answered_early"},
	{bugs.ISRAdmitEarly, "chronik_bug_isr_admit_early"},
	{bugs.ISRNeverShrinks, "chronik_bug_isr_never_shrinks"},
	{bugs.JoinTimerIgnored, "chronik_bug_join_timer_ignored"},
	{bugs.LSOIgnoresOpenTxn, "chronik_bug_lso_ignores_open_txn"},
	{bugs.LogStartNotPersisted, "chronik_bug_log_start_not_persisted"},
	{bugs.MemberEpochCheckSkipped, "chronik_bug_member_epoch_check_skipped"},
	{bugs.NoIdempotentDedup, "chronik_bug_no_dedup"},
	{bugs.OffsetFetchSkipsAhead, "chronik_bug_offset_fetch_skips_ahead"},
	{bugs.OwnerFileUnsynced, "chronik_bug_owner_file_unsynced"},
	{bugs.PendingKeptOnMove, "chronik_bug_pending_kept_on_move"},
	{bugs.RecoveryDeclaresCorrupt, "chronik_bug_recovery_declares_corrupt"},
	{bugs.ReopenKeepsUnsynced, "chronik_bug_reopen_keeps_unsynced"},
	{bugs.ReuseOffsetAfterCrash, "chronik_bug_reuse_offset"},
	{bugs.SegmentNameUnsynced, "chronik_bug_segment_name_unsynced"},
	{bugs.ServeBeforeCatchUp, "chronik_bug_serve_before_catchup"},
	{bugs.ServePastHighWatermark, "chronik_bug_serve_past_hw"},
	{bugs.SkipCRCCheck, "chronik_bug_skip_crc"},
	{bugs.SyncCoversLaterAppends, "chronik_bug_sync_covers_later"},
	{bugs.TruncateToHighWatermark, "chronik_bug_truncate_to_hw"},
}

// bugTagsFlag is the -tags flag that switches on the deliberate bugs of
// this build, so that the reproduce command rebuilds the same broker.
func bugTagsFlag() string {
	var tags []string
	for _, b := range bugSwitches {
		if b.on {
			tags = append(tags, b.tag)
		}
	}
	if len(tags) == 0 {
		return ""
	}
	return " -tags=" + strings.Join(tags, ",")
}

// writeEventLog replays seed with the event log on. The replay is exact:
// its trace must match the failed run's.
func writeEventLog(seed uint64) (string, error) {
	if err := os.MkdirAll(outDir(), 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(outDir(), fmt.Sprintf("chronik-sim-seed-%d.log", seed))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	opts := runOptions()
	opts.EventLog = f
	opts.VisualizationDir = ""
	Run(seed, opts)
	return path, nil
}

// TestSimSweep runs one seed (-seed), a range (-seeds), or the fixed sweep.
func TestSimSweep(t *testing.T) {
	switch {
	case *flagSeeds > 0:
		start := *flagSeed
		if !seedWasSet() {
			start = uint64(time.Now().UnixNano()) % 1_000_000_000
			say(fmt.Sprintf("random start: -seed=%d", start))
		}
		sweep(t, start, *flagSeeds, *flagStop)
	case seedWasSet():
		runOne(t, *flagSeed)
	default:
		n := sweepSeeds
		if testing.Short() {
			n = 20
		}
		cov := sweep(t, 1, n, false)
		if !testing.Short() {
			requireCoverage(t, cov)
		}
	}
}

// requireCoverage fails the fixed sweep when it no longer reaches a
// transition of the catch-up path (catchup.go) or reaches a named one
// fewer times than coverageMinimums says: a change that stops reaching
// one would otherwise leave its checker idle unnoticed.
func requireCoverage(t *testing.T, cov Coverage) {
	for _, short := range coverageShortfalls(cov, coverageMinimums) {
		t.Errorf("coverage: the fixed sweep reached %s (%s)", short, cov)
	}
	for _, c := range []struct {
		name string
		n    int
	}{
		{"catch-up traps", cov.CatchUpTraps},
		{"client requests to a node whose image lags its start", cov.StaleImageRequests},
		{"client requests before a node's metadata caught up", cov.PreCatchUpRequests},
		{"parked requests released", cov.ParkedReleased},
		{"UNKNOWN_TOPIC_OR_PARTITION answers judged", cov.UnknownJudged},
		{"denials of topics created after the node's start", cov.UnknownLagging},
	} {
		if c.n == 0 {
			t.Errorf("coverage: the fixed sweep reached no %s (%s)", c.name, cov)
		}
	}
}

// sweep runs count seeds from start on every core, printing each line;
// with stop, it stops at the first failing seed (seeds below it still
// finish, so "caught after N seeds" is exact). It returns the coverage
// summed over the seeds run.
func sweep(t *testing.T, start uint64, count int, stop bool) Coverage {
	began := time.Now()
	workers := runtime.GOMAXPROCS(0)
	results := make([]*Result, count)
	ignore := ignoredSeeds()
	class := catchClass()
	var mu sync.Mutex
	next, firstFail := 0, count
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				if i >= count || (stop && i > firstFail) {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				if ignore[start+uint64(i)] {
					continue
				}
				res := Run(start+uint64(i), runOptions())
				mu.Lock()
				results[i] = res
				if *flagSeeds > 0 {
					say(res.Line())
				} else {
					fmt.Println(res.Line())
				}
				if caughtBy(res, class) && i < firstFail {
					firstFail = i
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var simTime Time
	ran, failed, outside := 0, 0, 0
	reopenSeeds, reopens := 0, 0
	var cov Coverage
	var probes []Time
	for i, res := range results {
		if res == nil {
			continue
		}
		ran++
		simTime += res.SimTime
		if res.Reopens > 0 {
			reopenSeeds++
			reopens += res.Reopens
		}
		cov.add(res.Coverage)
		probes = append(probes, res.Probes...)
		if !res.OK() {
			failed++
			if !caughtBy(res, class) {
				outside++
			}
			if !stop || i == firstFail {
				report(t, res, true)
			}
		}
	}
	wall := time.Since(began)
	say(fmt.Sprintf("sweep: %d seeds from %d, %d failed; %.1f seeds/min; %.0f sim-s per wall-s (%d workers)",
		ran, start, failed, float64(ran)/wall.Minutes(), simTime.Seconds()/wall.Seconds(), workers))
	say(fmt.Sprintf("coverage: %d seeds had partitions reopen by themselves after a full disk (%d reopens)", reopenSeeds, reopens))
	// A sweep that stops reaching a transition is a finding.
	if !stop && ran >= sweepSeeds && reopens == 0 {
		t.Errorf("coverage: no partition reopened after a full disk in %d seeds", ran)
	}
	say("coverage: " + cov.String())
	var unlisted []string
	for _, name := range sortedKeys(cov.Counts) {
		if _, ok := coverageMinimums[name]; !ok {
			unlisted = append(unlisted, name)
		}
	}
	if len(unlisted) > 0 {
		say("coverage: counted but without a minimum in coverageMinimums: " + strings.Join(unlisted, " "))
	}
	say("quiet windows: acks=all probe latencies: " + quietSummary(probes))
	if stop && firstFail < count {
		tried := 0
		for i := 0; i <= firstFail; i++ {
			if !ignore[start+uint64(i)] {
				tried++
			}
		}
		say(fmt.Sprintf("caught: first failing seed %d after %d seeds", start+uint64(firstFail), tried))
	}
	if class != nil && outside > 0 {
		say(fmt.Sprintf("failed outside the class %q: %d seeds", class, outside))
	}
	return cov
}

// coverageShortfalls lists the names of min that cov reached fewer times
// than stated, in name order.
func coverageShortfalls(cov Coverage, min map[string]int) []string {
	var out []string
	for _, name := range sortedKeys(min) {
		if got := cov.Counts[name]; got < min[name] {
			out = append(out, fmt.Sprintf("%s %d times, fewer than the %d coverageMinimums asks for", name, got, min[name]))
		}
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
