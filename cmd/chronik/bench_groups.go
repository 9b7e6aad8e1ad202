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
	count   int
	brokers int
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
	cmd.Flags().IntVar(&c.brokers, "brokers", 1, "with --target compare and a value above 1, also run a cluster of this many `serve` processes (offsets topic replication factor min(3, brokers))")
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
	if c.brokers < 1 {
		return fmt.Errorf("--brokers %d must be at least 1", c.brokers)
	}
	o.clusterBrokers = c.brokers
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

// joinOptions are the flags of `bench groupjoin`.
type joinOptions struct {
	members        int
	initialDelayMs int32
}

// addInitialDelayFlag registers --initial-rebalance-delay-ms. Each
// workload keeps its own value (copied into benchOptions when it runs):
// the subcommands share benchOptions, and a flag's default is written to
// its variable when the flag is defined, not when it is parsed.
func addInitialDelayFlag(cmd *cobra.Command, ms *int32, def int32) {
	cmd.Flags().Int32Var(ms, "initial-rebalance-delay-ms", def,
		"the in-process Chronik node's group.initial.rebalance.delay.ms (-1: Kafka's default, 3000); kfake has no such delay")
}

func newBenchGroupJoinCommand(o *benchOptions) *cobra.Command {
	j := &joinOptions{}
	cmd := newBenchSubcommand(o, "groupjoin",
		"Time from a group's members joining to every member consuming",
		"Create a topic with --members partitions and one record in each, then start --members\n"+
			"franz-go group consumers of one new group at once, and time until each has consumed a\n"+
			"record (every member got a partition: the join, the sync and the first fetch). Nothing is\n"+
			"committed, so a partition moved by a rebalance is read again from the start.\n"+
			"The group's initial rebalance delay is Kafka's default 3 s on Chronik unless\n"+
			"--initial-rebalance-delay-ms says otherwise; kfake has none.",
		func(ctx context.Context, out, progress io.Writer) error {
			return runBenchGroupJoin(ctx, out, progress, o, j)
		})
	cmd.Flags().IntVar(&j.members, "members", 10, "members of the group (and partitions of the topic)")
	addInitialDelayFlag(cmd, &j.initialDelayMs, -1)
	return cmd
}

// joinResult is one run of `bench groupjoin`.
type joinResult struct {
	members int
	all     time.Duration // start → the last member's first record
	first   time.Duration // start → the first member's first record
}

func runBenchGroupJoin(ctx context.Context, out, progress io.Writer, o *benchOptions, j *joinOptions) error {
	if j.members < 1 {
		return fmt.Errorf("--members %d must be at least 1", j.members)
	}
	o.groupInitialDelayMs = j.initialDelayMs
	work := func(ctx context.Context, rt *runningTarget) (joinResult, error) {
		return groupJoinRun(ctx, rt, j)
	}
	return runBenchWorkload(ctx, out, progress, o, false, work, benchReport[joinResult]{
		title: fmt.Sprintf("bench groupjoin: %d members join one group and each consumes a record", j.members),
		columns: []benchColumn[joinResult]{
			countColumn("members", func(x joinResult) int { return x.members }),
			latencyColumn("first ms", func(x joinResult) time.Duration { return x.first }),
			latencyColumn("all ms", func(x joinResult) time.Duration { return x.all }),
		},
		headline:       "all ms",
		headlineFormat: "%s %.0f ms",
		summary:        fmt.Sprintf("group of %d: join to every member consuming", j.members),
		ratioNote:      " (lower is better for chronik)",
	})
}

// groupJoinRun starts j.members consumers of a fresh group and times
// until each has a record.
func groupJoinRun(ctx context.Context, rt *runningTarget, j *joinOptions) (joinResult, error) {
	var res joinResult
	admin, err := kgo.NewClient(kgo.SeedBrokers(rt.seedBrokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return res, fmt.Errorf("admin client: %w", err)
	}
	defer admin.Close()
	topic := benchTopicName("groupjoin")
	if err := createTopicReady(ctx, admin, rt, topic, int32(j.members)); err != nil {
		return res, err
	}
	if rt.external {
		defer deleteTopics(kadm.NewClient(admin), topic)
	}
	for p := range int32(j.members) {
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")}
		if err := admin.ProduceSync(ctx, r).FirstErr(); err != nil {
			return res, fmt.Errorf("fill partition %d: %w", p, err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	got := make(chan time.Duration, j.members)
	start := time.Now()
	for m := range j.members {
		cl, err := kgo.NewClient(kgo.SeedBrokers(rt.seedBrokers()...), kgo.ConsumerGroup(topic+"-group"),
			kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.ClientID(fmt.Sprintf("member-%d", m)), kgo.DisableAutoCommit())
		if err != nil {
			return res, fmt.Errorf("member %d: %w", m, err)
		}
		defer cl.Close()
		go func() {
			for rctx.Err() == nil {
				if fs := cl.PollFetches(rctx); fs.NumRecords() > 0 {
					got <- time.Since(start)
					return
				}
			}
		}()
	}
	for m := range j.members {
		select {
		case d := <-got:
			if m == 0 {
				res.first = d
			}
			res.all = d
		case <-rctx.Done():
			return res, fmt.Errorf("%d of %d members consumed within 2m", m, j.members)
		}
	}
	res.members = j.members
	return res, nil
}
