package main

// `chronik bench commits`: offset-commit latency of a consumer group, one
// commit at a time, against Chronik and kfake in the same run.

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// commitsOptions are the flags of `bench commits`.
type commitsOptions struct {
	count int
}

func newBenchCommitsCommand(o *benchOptions) *cobra.Command {
	c := &commitsOptions{}
	cmd := newBenchSubcommand(o, "commits",
		"Offset-commit latency of a consumer group (OffsetCommit round trip)",
		"Create a topic of one partition, then commit an offset for it to one group --count times,\n"+
			"one commit at a time (kadm CommitOffsets, no group membership), timing each round trip.\n"+
			"The first commit, which creates the coordinator's internal topic, is not timed.\n"+
			"Reports p50/p99/max per run.",
		func(ctx context.Context, out, progress io.Writer) error {
			return runBenchCommits(ctx, out, progress, o, c)
		})
	cmd.Flags().IntVar(&c.count, "count", 2000, "commits per run")
	return cmd
}

// commitsResult is one run of `bench commits`.
type commitsResult struct {
	commits int
	elapsed time.Duration
	commit  latencySummary
}

func runBenchCommits(ctx context.Context, out, progress io.Writer, o *benchOptions, c *commitsOptions) error {
	if c.count < 1 {
		return fmt.Errorf("--count %d must be at least 1", c.count)
	}
	work := func(ctx context.Context, rt *runningTarget) (commitsResult, error) {
		return commitsRun(ctx, rt, o, c)
	}
	return runBenchWorkload(ctx, out, progress, o, false, work, benchReport[commitsResult]{
		title: fmt.Sprintf("bench commits: %d offset commits one at a time to one group", c.count),
		columns: []benchColumn[commitsResult]{
			countColumn("commits", func(x commitsResult) int { return x.commits }),
			secondsColumn(func(x commitsResult) time.Duration { return x.elapsed }),
			rateColumn("commits/s", "%.0f", func(x commitsResult) float64 { return float64(x.commits) / x.elapsed.Seconds() }),
			latencyColumn("commit p50 ms", func(x commitsResult) time.Duration { return x.commit.p50 }),
			latencyColumn("commit p99 ms", func(x commitsResult) time.Duration { return x.commit.p99 }),
			latencyColumn("commit max ms", func(x commitsResult) time.Duration { return x.commit.max }),
		},
		headline:       "commit p50 ms",
		headlineFormat: "%s p50 %.2f ms",
		summary:        fmt.Sprintf("offset commit round trip (%d commits)", c.count),
		ratioNote:      " (lower is better for chronik)",
	})
}

// commitsRun commits c.count increasing offsets and times each.
func commitsRun(ctx context.Context, rt *runningTarget, o *benchOptions, c *commitsOptions) (commitsResult, error) {
	var res commitsResult
	cl, err := kgo.NewClient(kgo.SeedBrokers(rt.seedBrokers()...))
	if err != nil {
		return res, fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topic := benchTopicName("commits")
	if err := createTopicReady(ctx, cl, rt, topic, 1); err != nil {
		return res, err
	}
	if rt.external {
		defer deleteTopics(adm, topic)
	}
	group := topic + "-group"
	commit := func(offset int64) error {
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: offset, LeaderEpoch: -1})
		cctx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
		defer cancel()
		resp, err := adm.CommitOffsets(cctx, group, offs)
		if err == nil {
			err = resp.Error()
		}
		return err
	}
	// The first commit creates the internal topic and finds the
	// coordinator: retried, untimed.
	for err := commit(0); err != nil; err = commit(0) {
		if ctx.Err() != nil {
			return res, fmt.Errorf("first commit: %w", err)
		}
		time.Sleep(50 * time.Millisecond) // retry pause, not a measurement
	}
	var samples []time.Duration
	deadline := time.Now().Add(o.duration)
	start := time.Now()
	for i := 1; i <= c.count && time.Now().Before(deadline); i++ {
		began := time.Now()
		if err := commit(int64(i)); err != nil {
			return res, fmt.Errorf("commit %d: %w", i, err)
		}
		samples = append(samples, time.Since(began))
	}
	return commitsResult{commits: len(samples), elapsed: time.Since(start), commit: summarize(samples)}, nil
}
