package sim

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// deliberateBugs are the switches of core/bugs with their build tags.
var deliberateBugs = []struct{ tag, what string }{
	{"chronik_bug_ack_before_sync", "produce answered before its fsync"},
	{"chronik_bug_serve_past_hw", "fetch serves records past the high watermark"},
	{"chronik_bug_skip_crc", "no CRC check in recovery or reads"},
	{"chronik_bug_reuse_offset", "recovery drops synced data past the checkpoint (offsets reused)"},
	{"chronik_bug_no_dedup", "idempotent producer sequences not checked"},
	{"chronik_bug_sync_covers_later", "a finished fsync counts appends made while it ran"},
	{"chronik_bug_hw_ignores_followers", "the high watermark advances before followers have the data"},
	{"chronik_bug_truncate_to_hw", "a follower truncates to its own high watermark instead of by epoch"},
	{"chronik_bug_elect_outside_isr", "a fenced leader is replaced by any unfenced replica, in the ISR or not"},
	{"chronik_bug_reopen_keeps_unsynced", "a partition reopened after a full disk keeps its tail past the last good fsync"},
	{"chronik_bug_serve_before_catchup", "a restarted cluster broker answers clients before its registration has applied"},
	{"chronik_bug_log_start_not_persisted", "recovery forgets the log start: records deleted by DeleteRecords come back"},
	{"chronik_bug_delete_records_no_wait", "DeleteRecords answered before the followers have the new log start"},
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
	base := goTestSweep(t, "", "")
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
		out := goTestSweep(t, bug.tag, strings.Join(ignore, ","))
		m := caught.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("%s (%s): not caught within %d seeds", bug.tag, bug.what, bugHuntSeeds)
			table = append(table, fmt.Sprintf("%-30s NOT CAUGHT", bug.tag))
			continue
		}
		table = append(table, fmt.Sprintf("%-30s caught after %3s seeds (seed %s): %s", bug.tag, m[2], m[1], firstFinding(out)))
	}
	t.Logf("deliberate bugs (%s):\n%s", time.Since(began).Round(time.Second), strings.Join(table, "\n"))
}

// goTestSweep runs the sweep in a child go test built with tag.
func goTestSweep(t *testing.T, tag, ignore string) string {
	args := []string{"test", "-count=1", "-timeout=30m", "-run=^TestSimSweep$"}
	if tag != "" {
		args = append(args, "-tags="+tag)
	}
	args = append(args, ".", "-v", fmt.Sprintf("-seeds=%d", bugHuntSeeds), "-seed=1")
	if tag != "" {
		args = append(args, "-stop-on-fail")
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

// firstFinding extracts the first checker message of a failed sweep,
// preferring a safety finding to the liveness one that a run records
// first when it also failed to finish.
func firstFinding(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "FAILED (") {
			continue
		}
		var msg string
		for _, f := range lines[i+1:] {
			f = strings.TrimSpace(f)
			if !strings.HasPrefix(f, "[") {
				break
			}
			if msg == "" || (strings.Contains(msg, "] liveness:") && !strings.Contains(f, "] liveness:")) {
				msg = f
			}
		}
		if len(msg) > 160 {
			msg = msg[:160] + "..."
		}
		if msg != "" {
			return msg
		}
	}
	return "?"
}
