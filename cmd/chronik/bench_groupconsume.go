package main

// `chronik bench groupconsume`: consumption through a consumer group
// against plain partition fetches of the same records, and `chronik bench
// offsetslog`: the size of __consumer_offsets after many commits.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupConsumeOptions are the flags of `bench groupconsume`.
type groupConsumeOptions struct {
	produce        produceOptions
	members        int
	initialDelayMs int32
}

func newBenchGroupConsumeCommand(o *benchOptions) *cobra.Command {
	g := &groupConsumeOptions{}
	cmd := newBenchSubcommand(o, "groupconsume",
		"Consumption through a consumer group against plain partition fetches",
		"Fill a fresh topic (untimed), then read all of it twice: once with one kgo consumer that\n"+
			"assigns itself every partition (plain fetches), then with --members kgo ConsumerGroup\n"+
			"members of a new group (join, sync, fetch, autocommit). Each read is timed from its first\n"+
			"record to the last partition's end, so the group's join time is reported apart\n"+
			"(first record ms). A record a rebalance hands out twice is counted once.",
		func(ctx context.Context, out, progress io.Writer) error {
			return runBenchGroupConsume(ctx, out, progress, o, g)
		})
	addProduceFlags(cmd, &g.produce, 200000, false)
	cmd.Flags().IntVar(&g.members, "members", 3, "members of the consuming group")
	addInitialDelayFlag(cmd, &g.initialDelayMs, 0)
	return cmd
}

// groupConsumeResult is one run of `bench groupconsume`.
type groupConsumeResult struct {
	plain, group drainResult
}

func runBenchGroupConsume(ctx context.Context, out, progress io.Writer, o *benchOptions, g *groupConsumeOptions) error {
	if err := g.produce.validate(); err != nil {
		return err
	}
	if g.members < 1 {
		return fmt.Errorf("--members %d must be at least 1", g.members)
	}
	o.groupInitialDelayMs = g.initialDelayMs
	values := newValuePool(g.produce.recordBytes)
	work := func(ctx context.Context, rt *runningTarget) (groupConsumeResult, error) {
		return groupConsumeRun(ctx, rt, o, g, values)
	}
	mbps := func(d drainResult) float64 { return float64(d.valueBytes) / 1e6 / d.elapsed.Seconds() }
	return runBenchWorkload(ctx, out, progress, o, false, work, benchReport[groupConsumeResult]{
		title: fmt.Sprintf("bench groupconsume: a group of %d members against one plain consumer (%s)", g.members, g.produce.describe()),
		columns: []benchColumn[groupConsumeResult]{
			countColumn("records", func(x groupConsumeResult) int { return x.plain.records }),
			rateColumn("plain MB/s", "%.1f", func(x groupConsumeResult) float64 { return mbps(x.plain) }),
			rateColumn("group MB/s", "%.1f", func(x groupConsumeResult) float64 { return mbps(x.group) }),
			rateColumn("group/plain", "%.2f", func(x groupConsumeResult) float64 { return mbps(x.group) / mbps(x.plain) }),
			latencyColumn("group first record ms", func(x groupConsumeResult) time.Duration { return x.group.firstRecord }),
			countColumn("group duplicates", func(x groupConsumeResult) int { return x.group.duplicates }),
		},
		headline:       "group MB/s",
		headlineFormat: "%s %.1f MB/s",
		summary:        fmt.Sprintf("group consumption, %d members over %d partitions", g.members, g.produce.partitions),
		ratioNote:      " (higher is better for chronik)",
	})
}

// groupConsumeRun fills a topic and reads it plainly, then as a group.
func groupConsumeRun(ctx context.Context, rt *runningTarget, o *benchOptions, g *groupConsumeOptions, values *valuePool) (groupConsumeResult, error) {
	var res groupConsumeResult
	topic := benchTopicName("groupconsume")
	producer, cleanup, err := newBenchProducer(ctx, rt, &g.produce, topic)
	if err != nil {
		return res, err
	}
	defer cleanup()
	if _, err := produceN(ctx, producer, values, g.produce.records, g.produce.outstanding, o.duration); err != nil {
		return res, fmt.Errorf("fill topic: %w", err)
	}
	ends, err := partitionEnds(ctx, kadm.NewClient(producer), topic)
	if err != nil {
		return res, err
	}
	seeds := kgo.SeedBrokers(rt.seedBrokers()...)
	plain, err := kgo.NewClient(seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return res, fmt.Errorf("plain consumer: %w", err)
	}
	res.plain, err = drainPartitions(ctx, []*kgo.Client{plain}, ends, o.duration)
	plain.Close()
	if err != nil {
		return res, fmt.Errorf("plain read: %w", err)
	}
	var members []*kgo.Client
	defer func() {
		for _, m := range members {
			m.Close()
		}
	}()
	for m := range g.members {
		cl, err := kgo.NewClient(seeds, kgo.ConsumerGroup(topic+"-group"), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID(fmt.Sprintf("member-%d", m)))
		if err != nil {
			return res, fmt.Errorf("member %d: %w", m, err)
		}
		members = append(members, cl)
	}
	res.group, err = drainPartitions(ctx, members, ends, o.duration)
	if err != nil {
		return res, fmt.Errorf("group read: %w", err)
	}
	return res, nil
}

// partitionEnds lists topic's end offsets by partition.
func partitionEnds(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	lctx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
	defer cancel()
	listed, err := adm.ListEndOffsets(lctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(lo kadm.ListedOffset) { ends[lo.Partition] = lo.Offset })
	return ends, nil
}

// drainResult is one timed read of a topic up to known ends.
type drainResult struct {
	records     int   // distinct offsets read
	valueBytes  int64 // of the distinct offsets
	duplicates  int   // records read again (a rebalance moved a partition before its commit)
	firstRecord time.Duration
	elapsed     time.Duration // first record to the last partition's end
}

// drainPartitions polls every client at once until, between them, each
// partition has been read up to its end offset. It fails if that takes
// more than capDur.
func drainPartitions(ctx context.Context, clients []*kgo.Client, ends map[int32]int64, capDur time.Duration) (drainResult, error) {
	var (
		mu        sync.Mutex
		res       drainResult
		firstAt   time.Time
		next      = map[int32]int64{} // partition -> offsets read below it (reads are in order per partition)
		remaining = 0
		errs      error
	)
	for p, end := range ends {
		if end > 0 {
			remaining++
		}
		next[p] = 0
	}
	// Canceled once every partition is read, which also wakes the
	// clients still waiting in a poll.
	dctx, cancel := context.WithTimeout(ctx, capDur)
	defer cancel()
	if remaining == 0 {
		cancel()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				fetches := cl.PollRecords(dctx, 10000)
				mu.Lock()
				if remaining == 0 || dctx.Err() != nil {
					mu.Unlock()
					return
				}
				fetches.EachError(func(topic string, partition int32, err error) {
					errs = errors.Join(errs, fmt.Errorf("fetch %s[%d]: %w", topic, partition, err))
				})
				fetches.EachRecord(func(r *kgo.Record) {
					if firstAt.IsZero() {
						firstAt = time.Now()
					}
					if r.Offset < next[r.Partition] {
						res.duplicates++
						return
					}
					next[r.Partition] = r.Offset + 1
					res.records++
					res.valueBytes += int64(len(r.Value))
					if r.Offset+1 == ends[r.Partition] {
						remaining--
						if remaining == 0 {
							res.elapsed = time.Since(firstAt)
							cancel()
						}
					}
				})
				failed := errs != nil
				mu.Unlock()
				if failed {
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if errs != nil {
		return res, errs
	}
	if remaining > 0 {
		return res, fmt.Errorf("%d partitions not read to their end within %s (%d records read): %w", remaining, capDur, res.records, context.Cause(dctx))
	}
	if !firstAt.IsZero() {
		res.firstRecord = firstAt.Sub(start)
	}
	return res, nil
}

// offsetsLogOptions are the flags of `bench offsetslog`.
type offsetsLogOptions struct {
	commits      int
	partitions   int32
	segmentBytes int
	settle       time.Duration
}

func newBenchOffsetsLogCommand(o *benchOptions) *cobra.Command {
	l := &offsetsLogOptions{}
	cmd := newBenchSubcommand(o, "offsetslog",
		"The size of __consumer_offsets after many offset commits (compaction)",
		"Against an in-process Chronik node: commit --commits offsets for one group over a topic of\n"+
			"--partitions partitions (each OffsetCommit carries every partition, so --commits/--partitions\n"+
			"requests), with __consumer_offsets' segment.bytes set to --segment-bytes (Kafka's default,\n"+
			"offsets.topic.segment.bytes, is 100 MiB: a log smaller than one segment is never cleaned).\n"+
			"Reports the bytes of the group's __consumer_offsets partition's .log files after the first\n"+
			"segment's worth of commits (the uncompacted bytes per commit), at the end of the commits, and\n"+
			"after --settle more time for the cleaner; and what the log would hold without compaction.\n"+
			"kfake keeps group offsets in memory only, so this workload has no peer.",
		func(ctx context.Context, out, progress io.Writer) error {
			return runBenchOffsetsLog(ctx, out, progress, o, l)
		})
	f := cmd.Flags()
	f.IntVar(&l.commits, "commits", 1000000, "offset commits in all")
	f.Int32Var(&l.partitions, "partitions", 100, "partitions of the committed topic (offsets per commit request)")
	f.IntVar(&l.segmentBytes, "segment-bytes", 1<<20, "segment.bytes set on __consumer_offsets")
	f.DurationVar(&l.settle, "settle", 45*time.Second, "wait after the last commit for the cleaner (it runs every log.cleaner.backoff.ms, 15 s)")
	return cmd
}

func runBenchOffsetsLog(ctx context.Context, out, progress io.Writer, o *benchOptions, l *offsetsLogOptions) error {
	if l.partitions < 1 || l.commits < int(l.partitions) {
		return fmt.Errorf("--partitions %d must be at least 1 and --commits %d at least that", l.partitions, l.commits)
	}
	if l.segmentBytes < 1<<14 {
		return fmt.Errorf("--segment-bytes %d must be at least 16384", l.segmentBytes)
	}
	if o.target != benchTargetCompare && o.target != benchTargetChronik {
		return fmt.Errorf("bench offsetslog reads the broker's data directory: only --target chronik (the default) is supported")
	}
	rt, err := startChronik(o)
	if err != nil {
		return err
	}
	defer rt.stop()
	cl, err := kgo.NewClient(kgo.SeedBrokers(rt.addr))
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topic := benchTopicName("offsetslog")
	if err := createTopicReady(ctx, cl, rt, topic, l.partitions); err != nil {
		return err
	}
	group := topic + "-group"
	requests := l.commits / int(l.partitions)
	commit := func(i int) error {
		offs := kadm.Offsets{}
		for p := range l.partitions {
			offs.Add(kadm.Offset{Topic: topic, Partition: p, At: int64(i), LeaderEpoch: -1})
		}
		cctx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
		defer cancel()
		resp, err := adm.CommitOffsets(cctx, group, offs)
		if err == nil {
			err = resp.Error()
		}
		return err
	}
	// The first commit creates the offsets topic; retried until it is up.
	for err := commit(0); err != nil; err = commit(0) {
		if ctx.Err() != nil {
			return fmt.Errorf("first commit: %w", err)
		}
		time.Sleep(50 * time.Millisecond) // retry pause, not a measurement
	}
	segBytes := fmt.Sprint(l.segmentBytes)
	actx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
	altered, err := adm.AlterTopicConfigs(actx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: &segBytes}}, "__consumer_offsets")
	cancel()
	if err == nil {
		_, err = altered.On("__consumer_offsets", nil)
	}
	if err != nil {
		return fmt.Errorf("set segment.bytes on __consumer_offsets: %w", err)
	}
	dir, err := offsetsPartitionDir(rt.dataDir)
	if err != nil {
		return err
	}
	// Uncompacted bytes per commit: measured on the active segment before
	// it first fills (the cleaner never touches an active segment).
	sample := max(1, min(requests/4, l.segmentBytes/(int(l.partitions)*200)))
	start := time.Now()
	var perCommit float64
	for i := 1; i <= requests; i++ {
		if err := commit(i); err != nil {
			return fmt.Errorf("commit request %d: %w", i, err)
		}
		if i == sample {
			size, _, err := logFiles(dir)
			if err != nil {
				return err
			}
			perCommit = float64(size) / float64((i+1)*int(l.partitions))
		}
		if i%(requests/10+1) == 0 {
			fmt.Fprintf(progress, "%d of %d commit requests\n", i, requests)
		}
	}
	elapsed := time.Since(start)
	atEnd, _, err := logFiles(dir)
	if err != nil {
		return err
	}
	time.Sleep(l.settle)
	settled, segments, err := logFiles(dir)
	if err != nil {
		return err
	}
	total := (requests + 1) * int(l.partitions)
	raw := perCommit * float64(total)
	fmt.Fprintf(out, "bench offsetslog: %d commits (%d requests of %d partitions) to one group, __consumer_offsets segment.bytes %d\n",
		total, requests+1, l.partitions, l.segmentBytes)
	fmt.Fprintf(out, "%s\n\n", benchEnvironment(o))
	fmt.Fprintf(out, "commit requests: %.0f/s (%s)\n", float64(requests)/elapsed.Seconds(), elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "uncompacted: %.1f bytes per commit (first %d commits), %s for all of them\n", perCommit, (sample+1)*int(l.partitions), mib(int64(raw)))
	fmt.Fprintf(out, "partition log at the last commit: %s; %s later: %s in %d segments\n", mib(atEnd), l.settle, mib(settled), segments)
	fmt.Fprintf(out, "size after settling / uncompacted: %.4f\n", float64(settled)/raw)
	return nil
}

// offsetsPartitionDir finds the one __consumer_offsets partition
// directory under dataDir holding records.
func offsetsPartitionDir(dataDir string) (string, error) {
	var best string
	var bestSize int64
	matches, err := filepath.Glob(filepath.Join(dataDir, "*", "__consumer_offsets-*"))
	if err != nil {
		return "", err
	}
	more, _ := filepath.Glob(filepath.Join(dataDir, "__consumer_offsets-*"))
	for _, d := range append(matches, more...) {
		size, _, err := logFiles(d)
		if err != nil {
			return "", err
		}
		if size > bestSize {
			best, bestSize = d, size
		}
	}
	if best == "" {
		return "", fmt.Errorf("no __consumer_offsets partition with records under %s", dataDir)
	}
	return best, nil
}

// logFiles sums the sizes of dir's segment files (*.log) and counts them.
func logFiles(dir string) (total int64, files int, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // a segment removed by the cleaner meanwhile
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".log") {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += info.Size()
		files++
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return total, files, nil
}

// mib renders a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }
