package main

// Smoke tests of `chronik bench`: each subcommand runs on tiny sizes
// against both in-process targets and must print its table and summary
// with figures in them. Timing figures are never asserted (they belong
// to the bench's output, not to pass/fail).

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"
)

// runBenchCLI runs `chronik <args>` in-process and returns its stdout.
func runBenchCLI(t *testing.T, args ...string) string {
	t.Helper()
	// Bounded: the tiny workloads below finish in well under a second
	// each; the cap only keeps a wedged broker from hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, progress bytes.Buffer
	root := newRootCommand()
	root.SetArgs(append(args, "--tmp-dir", t.TempDir()))
	root.SetOut(&out)
	root.SetErr(&progress)
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("chronik %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), progress.String())
	}
	t.Logf("chronik %v:\n%s", args, out.String())
	return out.String()
}

// requireLines fails unless every pattern matches some line of out.
func requireLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).MatchString(out) {
			t.Errorf("output has no line matching %q", p)
		}
	}
}

const (
	benchNumber = `[0-9]+(\.[0-9]+)?`
)

func TestBenchProduceSmoke(t *testing.T) {
	out := runBenchCLI(t, "bench", "produce", "--records", "2000", "--warmup-records", "200", "--rounds", "2", "--ceiling")
	requireLines(t, out,
		// Two rounds of each target, each with records, rates and latencies.
		`^\s+1\s+chronik\s+2000\s+`+benchNumber+`\s+`+benchNumber+`\s+`+benchNumber+`\s+`+benchNumber+`\s+`+benchNumber,
		`^\s+2\s+kfake\s+2000\s+`+benchNumber,
		`^\s+2\s+kfake-blackhole\s+2000\s+`,
		`^\s+median\s+chronik\s+`+benchNumber,
		`^produce acks=all 1KiB x3 partitions: chronik `+benchNumber+` MB/s, kfake `+benchNumber+` MB/s, kfake-blackhole `+benchNumber+` MB/s, ratio `+benchNumber+`$`,
	)
}

func TestBenchTopicsSmoke(t *testing.T) {
	out := runBenchCLI(t, "bench", "topics", "--count", "5", "--rounds", "1")
	requireLines(t, out,
		`^\s+1\s+chronik\s+5\s+`+benchNumber+`\s+`+benchNumber+`\s+`+benchNumber,
		`^\s+1\s+kfake\s+5\s+`+benchNumber,
		`^topics create→ready \(1 partition, 5 topics\): chronik p50 `+benchNumber+` ms, kfake p50 `+benchNumber+` ms, ratio `+benchNumber,
	)
}

func TestBenchConsumeSmoke(t *testing.T) {
	out := runBenchCLI(t, "bench", "consume", "--records", "2000", "--rounds", "1")
	requireLines(t, out,
		`^\s+1\s+chronik\s+2000\s+`+benchNumber+`\s+`+benchNumber+`\s+`+benchNumber,
		`^\s+1\s+kfake\s+2000\s+`+benchNumber,
		`^consume 1KiB x3 partitions: chronik `+benchNumber+` MB/s, kfake `+benchNumber+` MB/s, ratio `+benchNumber+`$`,
	)
}

func TestBenchGroupsSmoke(t *testing.T) {
	out := runBenchCLI(t, "bench", "commits", "--count", "50", "--rounds", "1")
	requireLines(t, out,
		`^\s+1\s+chronik\s+50\s+`+benchNumber,
		`^offset commit round trip \(50 commits\): chronik p50 `+benchNumber+` ms, kfake p50 `+benchNumber+` ms, ratio `+benchNumber,
	)
	out = runBenchCLI(t, "bench", "groupjoin", "--members", "2", "--rounds", "1", "--initial-rebalance-delay-ms", "0")
	requireLines(t, out, `^group of 2: join to every member consuming: chronik `+benchNumber+` ms, kfake `+benchNumber+` ms, ratio `+benchNumber)
	out = runBenchCLI(t, "bench", "groupconsume", "--records", "2000", "--members", "2", "--rounds", "1")
	requireLines(t, out,
		`^\s+1\s+chronik\s+2000\s+`+benchNumber+`\s+`+benchNumber+`\s+`+benchNumber,
		`^group consumption, 2 members over 3 partitions: chronik `+benchNumber+` MB/s, kfake `+benchNumber+` MB/s, ratio `+benchNumber,
	)
}

// TestBenchOffsetsLogSmoke runs enough commits to roll several 16 KiB
// segments and checks the report's figures are there; whether the
// cleaner shrank the log within the short settle is not asserted.
func TestBenchOffsetsLogSmoke(t *testing.T) {
	out := runBenchCLI(t, "bench", "offsetslog", "--commits", "5000", "--partitions", "10", "--segment-bytes", "16384", "--settle", "0s")
	requireLines(t, out,
		`^uncompacted: `+benchNumber+` bytes per commit`,
		`^partition log at the last commit: `+benchNumber+` MiB; 0s later: `+benchNumber+` MiB in [0-9]+ segments$`,
		`^size after settling / uncompacted: `+benchNumber+`$`,
	)
}

// TestBenchSingleTarget checks that a single target runs alone and
// reports no ratio (there is nothing to divide by).
func TestBenchSingleTarget(t *testing.T) {
	out := runBenchCLI(t, "bench", "produce", "--target", "kfake", "--records", "500", "--warmup-records", "0", "--rounds", "1")
	requireLines(t, out, `^produce acks=all 1KiB x3 partitions: kfake `+benchNumber+` MB/s$`)
}

func TestBenchRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "produce", "--target", "nonsense"},
		{"bench", "produce", "--acks", "2"},
		{"bench", "produce", "--rounds", "0"},
		{"bench", "topics", "--count", "0"},
		{"bench", "commits", "--brokers", "0"},
		{"bench", "groupconsume", "--members", "0"},
		{"bench", "offsetslog", "--commits", "5", "--partitions", "10"},
		{"bench", "offsetslog", "--target", "kfake"},
	} {
		root := newRootCommand()
		root.SetArgs(args)
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		if err := root.Execute(); err == nil {
			t.Errorf("chronik %v: want an error", args)
		}
	}
}

func TestPercentileNearestRank(t *testing.T) {
	ds := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x)
		}
		return out
	}
	for _, tc := range []struct {
		samples       []time.Duration
		p50, p99, max time.Duration
	}{
		{ds(5), 5, 5, 5},
		{ds(3, 1, 2), 2, 3, 3},
		{ds(4, 3, 2, 1), 2, 4, 4},
		{ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 5, 10, 10},
	} {
		got := summarize(tc.samples)
		if got.p50 != tc.p50 || got.p99 != tc.p99 || got.max != tc.max {
			t.Errorf("summarize(%v) = %+v, want p50 %d p99 %d max %d", tc.samples, got, tc.p50, tc.p99, tc.max)
		}
	}
	if got := summarize(nil); got.p50 >= 0 {
		t.Errorf("summarize(nil) = %+v, want negative (no sample)", got)
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
}

// TestBenchReportLayout pins the report format: per-round rows (a run
// without samples shows "-", a capped run says so), per-target median
// rows with empty cells for columns without a median, and the summary
// with the chronik/kfake ratio of the headline column.
func TestBenchReportLayout(t *testing.T) {
	type result struct {
		throughput
		latency time.Duration
	}
	o := &benchOptions{target: benchTargetCompare, rounds: 2, fsync: true, tmpDir: "/tmp"}
	targets := []benchTarget{{name: benchTargetChronik}, {name: benchTargetKfake}}
	tp := func(records int, seconds float64, capped bool) throughput {
		return throughput{records: records, valueBytes: int64(records) * 1000, elapsed: time.Duration(seconds * float64(time.Second)), cappedByTime: capped}
	}
	results := []roundResult[result]{
		{1, benchTargetChronik, result{tp(1000, 1, false), 2 * time.Millisecond}},
		{1, benchTargetKfake, result{tp(1000, 2, false), -1}},
		{2, benchTargetKfake, result{tp(1000, 4, true), 4 * time.Millisecond}},
		{2, benchTargetChronik, result{tp(1000, 0.5, false), 3 * time.Millisecond}},
	}
	report := benchReport[result]{
		title: "bench test: fixed results",
		columns: append(throughputColumns(func(x result) throughput { return x.throughput }),
			latencyColumn("latency ms", func(x result) time.Duration { return x.latency })),
		note:           func(x result) string { return x.note() },
		headline:       "MB/s",
		headlineFormat: "%s %.1f MB/s",
		summary:        "test",
		ratioNote:      " (higher is better)",
	}
	var out bytes.Buffer
	if err := report.write(&out, o, targets, results); err != nil {
		t.Fatal(err)
	}
	want := "bench test: fixed results\n" + benchEnvironment(o) + "\n\n" +
		"   round   target  records  seconds  records/s  MB/s  latency ms\n" +
		"       1  chronik     1000     1.00       1000   1.0        2.00\n" +
		"       1    kfake     1000     2.00        500   0.5           -\n" +
		"       2    kfake     1000     4.00        250   0.2        4.00 (hit --duration)\n" +
		"       2  chronik     1000     0.50       2000   2.0        3.00\n" +
		"  median  chronik                         1500   1.5        2.50\n" +
		"  median    kfake                          375   0.4        2.00\n" +
		"\n" +
		"test: chronik 1.5 MB/s, kfake 0.4 MB/s, ratio 4.00 (higher is better)\n"
	if got := out.String(); got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
}
