package main

// `chronik bench`: an operator tool that measures end-to-end throughput and
// latency with franz-go (kgo) as the client. Benchmark machines are noisy,
// so every run compares Chronik against franz-go's kfake measured in the
// same process, with the targets interleaved round by round, and the
// figure we report is the ratio chronik/kfake rather than an absolute
// number.
//
// Each run of a target starts it fresh (a new temporary data directory,
// a new topic) so that no round inherits the previous round's files or
// page cache state; startup and shutdown are never timed.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/io/wire"
	"github.com/chronik-streaming/chronik/node"
)

// Target names accepted by --target besides a HOST:PORT.
const (
	benchTargetCompare   = "compare"
	benchTargetChronik   = "chronik"
	benchTargetKfake     = "kfake"
	benchTargetBlackhole = "kfake-blackhole" // only added by --ceiling
)

// Bounds on the waits that are not the measured work itself, so that a
// wedged broker fails the bench instead of hanging it.
const (
	benchStopTimeout   = 30 * time.Second // target shutdown
	benchFlushTimeout  = 60 * time.Second // draining records already handed to kgo
	benchReadyTimeout  = 10 * time.Second // a new topic getting leaders
	benchAdminTimeout  = 30 * time.Second // one admin request (create, delete)
	benchLeaderPollGap = time.Millisecond // sleep between metadata polls after the first few
)

// benchOptions are the flags shared by every bench subcommand.
type benchOptions struct {
	target     string
	rounds     int
	duration   time.Duration
	fsync      bool
	tmpDir     string
	logLevel   string
	cpuProfile string
	traceFile  string
	// clusterBrokers, when above 1, adds a target of that many `serve`
	// processes on loopback to --target compare (set by the workloads
	// that offer --brokers).
	clusterBrokers int
	// groupInitialDelayMs overrides the in-process Chronik node's
	// group.initial.rebalance.delay.ms when not negative.
	groupInitialDelayMs int32
}

// produceOptions are the workload flags of `bench produce` (and the setup
// phase of `bench consume`).
type produceOptions struct {
	records       int
	recordBytes   int
	partitions    int32
	acks          string
	idempotent    bool
	linger        time.Duration
	batchMaxBytes int32
	compression   string
	outstanding   int
	warmupRecords int
	ceiling       bool
}

func newBenchCommand() *cobra.Command {
	o := &benchOptions{groupInitialDelayMs: -1}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce/consume throughput and topic creation latency against kfake",
		Long: "Measure end-to-end throughput and latency with franz-go as the client.\n\n" +
			"By default (--target compare) every workload runs against an in-process Chronik node and\n" +
			"an in-process franz-go kfake cluster, both single-broker with data in a fresh temporary\n" +
			"directory and fsync before acknowledging, alternating between them for --rounds rounds.\n" +
			"Machines are noisy, so the figure to quote is the ratio chronik/kfake of the medians.",
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.target, "target", benchTargetCompare, "compare (chronik and kfake, interleaved), chronik, kfake, or HOST:PORT of a running broker")
	pf.IntVar(&o.rounds, "rounds", 5, "how many times each target runs the workload; rounds alternate which target goes first")
	pf.DurationVar(&o.duration, "duration", 2*time.Minute, "cap on the measured phase of one run; a run that hits it reports what it completed")
	pf.BoolVar(&o.fsync, "fsync", true, "in-process targets fsync before acknowledging (Chronik SyncWrites, kfake.SyncWrites)")
	pf.StringVar(&o.tmpDir, "tmp-dir", os.TempDir(), "parent directory of the in-process targets' fresh data directories (pick the disk to measure)")
	pf.StringVar(&o.logLevel, "log-level", "warn", "log level of the in-process Chronik node")
	pf.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (client, broker and kfake share this process) to this file")
	pf.StringVar(&o.traceFile, "trace", "", "write a runtime execution trace of the whole run to this file; 'go tool trace -pprof=syscall FILE' shows where time blocks off-CPU (fsync)")
	cmd.AddCommand(newBenchProduceCommand(o), newBenchTopicsCommand(o), newBenchConsumeCommand(o), newBenchClusterCommand(o), newBenchCommitsCommand(o), newBenchGroupJoinCommand(o),
		newBenchGroupConsumeCommand(o), newBenchOffsetsLogCommand(o))
	return cmd
}

// newBenchSubcommand is a bench subcommand: no arguments, and run (the
// workload) inside runBench.
func newBenchSubcommand(o *benchOptions, use, short, long string, run func(ctx context.Context, out, progress io.Writer) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runBench(cmd, o, run) },
	}
}

// addProduceFlags registers the producer workload flags. The kgo options
// are passed explicitly (not left to kgo's defaults) so a reported figure
// names every setting that produced it.
func addProduceFlags(cmd *cobra.Command, p *produceOptions, records int, warmup bool) {
	f := cmd.Flags()
	f.IntVar(&p.records, "records", records, "records measured per run")
	f.IntVar(&p.recordBytes, "record-bytes", 1024, "bytes of random value per record (no key)")
	f.Int32Var(&p.partitions, "partitions", 3, "partitions of the fresh topic each run creates")
	f.StringVar(&p.acks, "acks", "all", "producer acks: all, 1 or 0 (1 and 0 turn idempotence off)")
	f.BoolVar(&p.idempotent, "idempotent", true, "idempotent producer (applies only with --acks all)")
	f.DurationVar(&p.linger, "linger", 10*time.Millisecond, "kgo.ProducerLinger")
	f.Int32Var(&p.batchMaxBytes, "batch-max-bytes", 1000012, "kgo.ProducerBatchMaxBytes")
	f.StringVar(&p.compression, "compression", "none", "kgo.ProducerBatchCompression: none, snappy, lz4, zstd or gzip (values are random, so none is the honest default)")
	f.IntVar(&p.outstanding, "outstanding", 4096, "records handed to kgo but not yet acknowledged, at most; bounds client buffering while keeping the pipeline full")
	if warmup {
		f.IntVar(&p.warmupRecords, "warmup-records", 5000, "records produced and acknowledged before measuring (connections, producer id, first segment)")
	}
}

func newBenchProduceCommand(o *benchOptions) *cobra.Command {
	p := &produceOptions{}
	cmd := newBenchSubcommand(o, "produce",
		"Produce throughput (records/s, MB/s) and per-record produce latency",
		"Create a fresh topic (kadm), warm up, then produce --records records with one kgo producer,\n"+
			"keeping up to --outstanding records in flight (async Produce plus Flush) so the client is\n"+
			"not the bottleneck. Reports records/s, MB/s of record values (1 MB = 10^6 bytes), p50/p99\n"+
			"of per-record latency (Produce call to acknowledgement, client queueing included) and\n"+
			"p50/p99 of produce request round trips (kgo's BrokerE2E, write start to response read).",
		func(ctx context.Context, out, progress io.Writer) error {
			return runBenchProduce(ctx, out, progress, o, p)
		})
	addProduceFlags(cmd, p, 200000, true)
	cmd.Flags().BoolVar(&p.ceiling, "ceiling", false, "also run kfake with BlackholeProduce (acknowledges without storing): the client-and-loopback ceiling")
	return cmd
}

// topicsOptions are the flags of `bench topics`.
type topicsOptions struct {
	count int
}

func newBenchTopicsCommand(o *benchOptions) *cobra.Command {
	t := &topicsOptions{}
	cmd := newBenchSubcommand(o, "topics",
		"Topic creation latency: CreateTopics until every partition has a leader",
		"Create --count topics one at a time (kadm CreateTopics, 1 partition, replication factor 1).\n"+
			"For each, time the CreateTopics round trip and create→ready, where ready means a Metadata\n"+
			"request lists a leader for every partition of the topic. Reports p50/p99/max per run.",
		func(ctx context.Context, out, progress io.Writer) error {
			return runBenchTopics(ctx, out, progress, o, t)
		})
	cmd.Flags().IntVar(&t.count, "count", 200, "topics created per run")
	return cmd
}

func newBenchConsumeCommand(o *benchOptions) *cobra.Command {
	p := &produceOptions{}
	cmd := newBenchSubcommand(o, "consume",
		"Fetch throughput of records produced just before (the produce phase is not timed)",
		"Create a fresh topic and produce --records records into it (untimed, same producer settings\n"+
			"as `bench produce`), then time one kgo consumer reading them all from the start.",
		func(ctx context.Context, out, progress io.Writer) error {
			return runBenchConsume(ctx, out, progress, o, p)
		})
	// No warm-up flag: the untimed fill already warms the connection and
	// the producer, and the consumer is fresh either way.
	addProduceFlags(cmd, p, 200000, false)
	return cmd
}

// runBench does what every subcommand shares: validation, SIGINT handling
// and the optional CPU profile and execution trace around the workload.
func runBench(cmd *cobra.Command, o *benchOptions, run func(ctx context.Context, out, progress io.Writer) error) error {
	if o.rounds < 1 {
		return fmt.Errorf("--rounds %d must be at least 1", o.rounds)
	}
	if o.duration <= 0 {
		return fmt.Errorf("--duration %s must be positive", o.duration)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	// The defers run when the workload returns: the trace stops before
	// the CPU profile, each before its file is closed.
	for _, rec := range []struct {
		path, what string
		start      func(io.Writer) error
		stop       func()
	}{
		{o.cpuProfile, "cpu profile", pprof.StartCPUProfile, pprof.StopCPUProfile},
		{o.traceFile, "trace", trace.Start, trace.Stop},
	} {
		if rec.path == "" {
			continue
		}
		f, err := os.Create(rec.path)
		if err != nil {
			return fmt.Errorf("create %s: %w", rec.what, err)
		}
		defer f.Close()
		if err := rec.start(f); err != nil {
			return fmt.Errorf("start %s: %w", rec.what, err)
		}
		defer rec.stop()
	}
	return run(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr())
}

// benchTarget is a broker a workload runs against. start brings up a fresh
// instance (or, for an external broker, just names its address).
type benchTarget struct {
	name  string
	start func(ctx context.Context) (*runningTarget, error)
}

// runningTarget is one started target.
type runningTarget struct {
	addr string
	// seeds, when set, are all the brokers of a cluster target (addr is
	// one of them); replication is the replication factor of the topics
	// workloads create (1 when zero) and topicConfigs their configs.
	seeds        []string
	replication  int16
	topicConfigs map[string]*string
	// external targets outlive the bench, so workloads delete what they
	// created; in-process targets lose their data directory on stop.
	external bool
	// dataDir is an in-process Chronik node's data directory ("" for
	// other targets).
	dataDir string
	stop    func() error
}

// seedBrokers are the addresses a client starts from.
func (rt *runningTarget) seedBrokers() []string {
	if len(rt.seeds) > 0 {
		return rt.seeds
	}
	return []string{rt.addr}
}

// resolveTargets turns --target (and --ceiling) into the targets to run.
func resolveTargets(o *benchOptions, ceiling bool) ([]benchTarget, error) {
	chronik := benchTarget{name: benchTargetChronik, start: func(ctx context.Context) (*runningTarget, error) { return startChronik(o) }}
	fake := benchTarget{name: benchTargetKfake, start: func(ctx context.Context) (*runningTarget, error) { return startKfake(o, false) }}
	var targets []benchTarget
	switch o.target {
	case benchTargetCompare:
		targets = []benchTarget{chronik, fake}
	case benchTargetChronik:
		targets = []benchTarget{chronik}
	case benchTargetKfake:
		targets = []benchTarget{fake}
	default:
		if _, _, err := net.SplitHostPort(o.target); err != nil {
			return nil, fmt.Errorf("--target %q is not compare, chronik, kfake or HOST:PORT: %w", o.target, err)
		}
		addr := o.target
		targets = []benchTarget{{name: addr, start: func(context.Context) (*runningTarget, error) {
			return &runningTarget{addr: addr, external: true, stop: func() error { return nil }}, nil
		}}}
	}
	if o.clusterBrokers > 1 && o.target == benchTargetCompare {
		targets = append(targets, benchTarget{name: clusterTargetName(o.clusterBrokers), start: func(ctx context.Context) (*runningTarget, error) {
			return startClusterTarget(ctx, o, o.clusterBrokers)
		}})
	}
	if ceiling {
		targets = append(targets, benchTarget{name: benchTargetBlackhole, start: func(context.Context) (*runningTarget, error) { return startKfake(o, true) }})
	}
	return targets, nil
}

// startChronik runs an in-process Chronik node on an ephemeral loopback
// port with a fresh data directory and Kafka-like defaults.
func startChronik(o *benchOptions) (*runningTarget, error) {
	level, err := parseLogLevel(o.logLevel)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.tmpDir, "chronik-bench-chronik-")
	if err != nil {
		return nil, fmt.Errorf("chronik data dir: %w", err)
	}
	cfg := broker.DefaultConfig()
	cfg.SyncWrites = o.fsync
	if o.groupInitialDelayMs >= 0 {
		cfg.GroupCoordinator.InitialRebalanceDelayMs = o.groupInitialDelayMs
	}
	// Port 0 tells the node to advertise the port it actually bound.
	cfg.AdvertisedHost, cfg.AdvertisedPort = "127.0.0.1", 0
	if err := cfg.Validate(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("chronik config: %w", err)
	}
	n, err := node.New(node.Config{
		DataDir: dir,
		Broker:  cfg,
		Wire:    wire.Config{Addr: "127.0.0.1:0"},
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start chronik node: %w", err)
	}
	// The node gets its own context, not the bench's: on SIGINT we still
	// stop it through stop() so its shutdown is orderly and bounded.
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	stop := func() error {
		cancel()
		defer os.RemoveAll(dir)
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("chronik node: %w", err)
			}
			return nil
		case <-time.After(benchStopTimeout):
			return fmt.Errorf("chronik node did not stop within %s", benchStopTimeout)
		}
	}
	return &runningTarget{addr: n.Addr().String(), dataDir: dir, stop: stop}, nil
}

// startKfake runs an in-process single-broker kfake cluster. With
// blackhole it stores nothing (BlackholeProduce) and has no data
// directory; otherwise it persists to a fresh directory, fsyncing every
// batch when --fsync is on.
func startKfake(o *benchOptions, blackhole bool) (*runningTarget, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	var dir string
	if blackhole {
		opts = append(opts, kfake.BlackholeProduce())
	} else {
		var err error
		dir, err = os.MkdirTemp(o.tmpDir, "chronik-bench-kfake-")
		if err != nil {
			return nil, fmt.Errorf("kfake data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(dir))
		if o.fsync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	stop := func() error {
		if dir != "" {
			defer os.RemoveAll(dir)
		}
		done := make(chan struct{})
		go func() { c.Close(); close(done) }()
		select {
		case <-done:
			return nil
		case <-time.After(benchStopTimeout):
			return fmt.Errorf("kfake did not stop within %s", benchStopTimeout)
		}
	}
	return &runningTarget{addr: c.ListenAddrs()[0], stop: stop}, nil
}

// roundResult is one target's figures in one round.
type roundResult[R any] struct {
	round  int
	target string
	result R
}

// runRounds runs work once per target per round, never two at a time.
// Round r starts with target r mod len(targets), so with two targets the
// order alternates and a drift in machine speed (thermal, a neighbour)
// does not always land on the same one.
func runRounds[R any](ctx context.Context, progress io.Writer, o *benchOptions, targets []benchTarget,
	work func(ctx context.Context, t *runningTarget) (R, error)) ([]roundResult[R], error) {
	var results []roundResult[R]
	for r := 0; r < o.rounds; r++ {
		for k := range targets {
			tg := targets[(r+k)%len(targets)]
			if err := ctx.Err(); err != nil {
				return results, fmt.Errorf("interrupted: %w", err)
			}
			fmt.Fprintf(progress, "round %d/%d: %s ...\n", r+1, o.rounds, tg.name)
			rt, err := tg.start(ctx)
			if err != nil {
				return results, fmt.Errorf("round %d: %w", r+1, err)
			}
			// Collect the previous run's garbage now rather than during
			// this run's measured phase.
			runtime.GC()
			res, err := work(ctx, rt)
			stopErr := rt.stop()
			if err != nil {
				return results, fmt.Errorf("round %d, %s: %w", r+1, tg.name, err)
			}
			if stopErr != nil {
				return results, fmt.Errorf("round %d, stop %s: %w", r+1, tg.name, stopErr)
			}
			results = append(results, roundResult[R]{round: r + 1, target: tg.name, result: res})
		}
	}
	return results, nil
}

// ---------------------------------------------------------------------------
// produce

// throughput is what one timed produce or consume run moved.
type throughput struct {
	records      int
	valueBytes   int64
	elapsed      time.Duration
	cappedByTime bool
}

func (t throughput) recordsPerSec() float64 { return float64(t.records) / t.elapsed.Seconds() }
func (t throughput) mbPerSec() float64      { return float64(t.valueBytes) / 1e6 / t.elapsed.Seconds() }

// note marks a run that stopped at --duration, after its row's cells.
func (t throughput) note() string {
	if t.cappedByTime {
		return " (hit --duration)"
	}
	return ""
}

// produceResult is what one measured produce run achieved.
type produceResult struct {
	throughput
	recordLatency latencySummary // Produce call to acknowledgement
	requestRTT    latencySummary // produce request write to response read
	requests      int
}

func (p *produceOptions) validate() error {
	switch {
	case p.records < 1:
		return fmt.Errorf("--records %d must be at least 1", p.records)
	case p.recordBytes < 0:
		return fmt.Errorf("--record-bytes %d must be >= 0", p.recordBytes)
	case p.partitions < 1:
		return fmt.Errorf("--partitions %d must be at least 1", p.partitions)
	case p.outstanding < 1:
		return fmt.Errorf("--outstanding %d must be at least 1", p.outstanding)
	case p.warmupRecords < 0:
		return fmt.Errorf("--warmup-records %d must be >= 0", p.warmupRecords)
	case p.batchMaxBytes < 1:
		return fmt.Errorf("--batch-max-bytes %d must be at least 1", p.batchMaxBytes)
	}
	if _, err := p.kgoOptions(); err != nil {
		return err
	}
	return nil
}

// kgoOptions maps the workload flags onto producer options.
func (p *produceOptions) kgoOptions() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.ProducerLinger(p.linger),
		kgo.ProducerBatchMaxBytes(p.batchMaxBytes),
		// Above --outstanding, so our own bound is the one that applies
		// and Produce never blocks inside kgo.
		kgo.MaxBufferedRecords(p.outstanding + 1),
	}
	switch p.acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		return nil, fmt.Errorf("--acks %q must be all, 1 or 0", p.acks)
	}
	if !p.isIdempotent() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	switch p.compression {
	case "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	default:
		return nil, fmt.Errorf("--compression %q must be none, snappy, lz4, zstd or gzip", p.compression)
	}
	return opts, nil
}

// isIdempotent reports whether the producer runs idempotent: only with
// acks=all, which kgo requires for idempotence.
func (p *produceOptions) isIdempotent() bool {
	return p.idempotent && (p.acks == "all" || p.acks == "-1")
}

// describe is the workload in one line, for the table header.
func (p *produceOptions) describe() string {
	return fmt.Sprintf("%d records x %s random values, %d partitions, acks=%s, idempotent=%t, linger %s, batch max %d B, compression %s, outstanding %d",
		p.records, formatSize(p.recordBytes), p.partitions, p.acks, p.isIdempotent(), p.linger, p.batchMaxBytes, p.compression, p.outstanding)
}

func runBenchProduce(ctx context.Context, out, progress io.Writer, o *benchOptions, p *produceOptions) error {
	if err := p.validate(); err != nil {
		return err
	}
	values := newValuePool(p.recordBytes)
	work := func(ctx context.Context, t *runningTarget) (produceResult, error) {
		return produceRun(ctx, t, o, p, values, "produce")
	}
	columns := append(throughputColumns(func(x produceResult) throughput { return x.throughput }),
		latencyColumn("record p50 ms", func(x produceResult) time.Duration { return x.recordLatency.p50 }),
		latencyColumn("record p99 ms", func(x produceResult) time.Duration { return x.recordLatency.p99 }),
		countColumn("requests", func(x produceResult) int { return x.requests }),
		latencyColumn("request p50 ms", func(x produceResult) time.Duration { return x.requestRTT.p50 }),
		latencyColumn("request p99 ms", func(x produceResult) time.Duration { return x.requestRTT.p99 }),
	)
	return runBenchWorkload(ctx, out, progress, o, p.ceiling, work, benchReport[produceResult]{
		title:          fmt.Sprintf("bench produce: %s, warmup %d", p.describe(), p.warmupRecords),
		columns:        columns,
		note:           produceResult.note,
		headline:       "MB/s",
		headlineFormat: "%s %.1f MB/s",
		summary:        fmt.Sprintf("produce acks=%s %s x%d partitions", p.acks, formatSize(p.recordBytes), p.partitions),
	})
}

// produceRun creates a fresh topic on t, warms up, then produces the
// measured records and returns their figures. what names the phase in
// errors and the topic name.
func produceRun(ctx context.Context, t *runningTarget, o *benchOptions, p *produceOptions, values *valuePool, what string) (produceResult, error) {
	var res produceResult
	hook := &requestRTTHook{}
	cl, cleanup, err := newBenchProducer(ctx, t, p, benchTopicName(what), kgo.WithHooks(hook))
	if err != nil {
		return res, err
	}
	defer cleanup()

	if p.warmupRecords > 0 {
		if _, err := produceN(ctx, cl, values, p.warmupRecords, p.outstanding, o.duration); err != nil {
			return res, fmt.Errorf("warm up: %w", err)
		}
	}
	hook.reset(true)
	m, err := produceN(ctx, cl, values, p.records, p.outstanding, o.duration)
	if err != nil {
		return res, err
	}
	rtts := hook.reset(false)
	res = produceResult{
		throughput: throughput{
			records:      len(m.latencies),
			valueBytes:   int64(len(m.latencies)) * int64(p.recordBytes),
			elapsed:      m.elapsed,
			cappedByTime: m.capped,
		},
		recordLatency: summarize(m.latencies),
		requestRTT:    summarize(rtts),
		requests:      len(rtts),
	}
	if res.records == 0 {
		return res, fmt.Errorf("no record acknowledged within --duration %s", o.duration)
	}
	return res, nil
}

// newBenchProducer creates topic on rt, waits until every partition has
// a leader, and returns a producer client (the workload's kgo options
// plus extra) whose records go to it. cleanup deletes the topic from an
// external target, then closes the client.
func newBenchProducer(ctx context.Context, rt *runningTarget, p *produceOptions, topic string, extra ...kgo.Opt) (cl *kgo.Client, cleanup func(), err error) {
	opts, err := p.kgoOptions()
	if err != nil {
		return nil, nil, err
	}
	opts = append(opts, kgo.SeedBrokers(rt.seedBrokers()...), kgo.DefaultProduceTopic(topic))
	cl, err = kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("producer client: %w", err)
	}
	adm := kadm.NewClient(cl)
	if err := createTopicReady(ctx, cl, rt, topic, p.partitions); err != nil {
		cl.Close()
		return nil, nil, err
	}
	cleanup = func() {
		if rt.external {
			deleteTopics(adm, topic)
		}
		cl.Close()
	}
	return cl, cleanup, nil
}

// produceMeasurement is the raw outcome of produceN.
type produceMeasurement struct {
	latencies []time.Duration // one per acknowledged record, in send order
	elapsed   time.Duration   // first Produce to last acknowledgement
	capped    bool            // stopped early at the duration cap
}

// produceN produces n records on cl, at most outstanding unacknowledged
// at a time, stopping early (but still waiting for the records already
// sent) once capDur has passed. The first failed record fails the run:
// a benchmark that silently drops records measures nothing.
func produceN(ctx context.Context, cl *kgo.Client, values *valuePool, n, outstanding int, capDur time.Duration) (produceMeasurement, error) {
	var m produceMeasurement
	latencies := make([]time.Duration, n)
	slots := make(chan struct{}, outstanding)
	var (
		failed   atomic.Bool
		errOnce  sync.Once
		firstErr error
	)
	deadline := time.Now().Add(capDur)
	start := time.Now()
	sent := 0
	for ; sent < n; sent++ {
		if failed.Load() || ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		// Checked every 256 records: a clock read per record would cost
		// little, but there is no need for finer stops.
		if sent&255 == 0 && time.Now().After(deadline) {
			m.capped = true
			break
		}
		i := sent
		began := time.Now()
		// The record's context is the bench's, not the cap's: a record
		// handed to kgo is always waited for, never cancelled half way.
		cl.Produce(ctx, &kgo.Record{Value: values.value(i)}, func(_ *kgo.Record, err error) {
			latencies[i] = time.Since(began)
			if err != nil {
				errOnce.Do(func() { firstErr = err })
				failed.Store(true)
			}
			<-slots
		})
	}
	fctx, cancel := context.WithTimeout(ctx, benchFlushTimeout)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		return m, fmt.Errorf("flush %d records: %w", sent, err)
	}
	m.elapsed = time.Since(start)
	if failed.Load() {
		return m, fmt.Errorf("produce: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return m, fmt.Errorf("interrupted: %w", err)
	}
	m.latencies = latencies[:sent]
	return m, nil
}

// requestRTTHook collects the round trip of every produce request:
// kgo's BrokerE2E from the start of the write to the end of reading the
// response. Unlike per-record latency, this excludes client-side
// queueing, so it is closest to what the broker itself costs.
type requestRTTHook struct {
	mu       sync.Mutex
	enabled  bool
	produces []time.Duration
}

// maxRequestSamples bounds the hook's memory; a run of 200000 1 KiB
// records sends a few thousand produce requests.
const maxRequestSamples = 1 << 20

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (h *requestRTTHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	const produceKey = 0
	if key != produceKey || e2e.WriteErr != nil || e2e.ReadErr != nil {
		return
	}
	h.mu.Lock()
	if h.enabled && len(h.produces) < maxRequestSamples {
		h.produces = append(h.produces, e2e.DurationE2E())
	}
	h.mu.Unlock()
}

// reset returns the samples so far and starts afresh, collecting or not.
func (h *requestRTTHook) reset(enabled bool) []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.produces
	h.produces, h.enabled = nil, enabled
	return s
}

// valuePool hands out record values: windows into one buffer of random
// bytes, so values are incompressible and generating them costs nothing
// in the measured loop. kgo only reads a value, so sharing is safe.
type valuePool struct {
	buf  []byte
	size int
}

func newValuePool(size int) *valuePool {
	const randomBytes = 4 << 20
	buf := make([]byte, randomBytes+size)
	var seed [32]byte
	now := uint64(time.Now().UnixNano())
	for i := range 8 {
		seed[i] = byte(now >> (8 * i))
	}
	_, _ = rand.NewChaCha8(seed).Read(buf) // ChaCha8.Read never fails
	return &valuePool{buf: buf, size: size}
}

// value returns record i's value, starting at a pseudo-random offset so
// neighbouring records differ.
func (v *valuePool) value(i int) []byte {
	span := uint64(len(v.buf) - v.size + 1)
	off := (uint64(i) * 0x9E3779B97F4A7C15 >> 11) % span
	return v.buf[off : off+uint64(v.size)]
}

// ---------------------------------------------------------------------------
// topics

// topicsResult is one run of topic creations.
type topicsResult struct {
	topics  int
	elapsed time.Duration
	create  latencySummary // CreateTopics round trip
	ready   latencySummary // CreateTopics sent → Metadata lists a leader for every partition
}

func runBenchTopics(ctx context.Context, out, progress io.Writer, o *benchOptions, t *topicsOptions) error {
	if t.count < 1 {
		return fmt.Errorf("--count %d must be at least 1", t.count)
	}
	work := func(ctx context.Context, rt *runningTarget) (topicsResult, error) {
		return topicsRun(ctx, rt, o, t)
	}
	return runBenchWorkload(ctx, out, progress, o, false, work, benchReport[topicsResult]{
		title: fmt.Sprintf("bench topics: %d topics created one at a time, 1 partition, replication factor 1; ready = Metadata lists a leader", t.count),
		columns: []benchColumn[topicsResult]{
			countColumn("topics", func(x topicsResult) int { return x.topics }),
			secondsColumn(func(x topicsResult) time.Duration { return x.elapsed }),
			rateColumn("topics/s", "%.0f", func(x topicsResult) float64 { return float64(x.topics) / x.elapsed.Seconds() }),
			latencyColumn("create p50 ms", func(x topicsResult) time.Duration { return x.create.p50 }),
			latencyColumn("create p99 ms", func(x topicsResult) time.Duration { return x.create.p99 }),
			latencyColumn("ready p50 ms", func(x topicsResult) time.Duration { return x.ready.p50 }),
			latencyColumn("ready p99 ms", func(x topicsResult) time.Duration { return x.ready.p99 }),
			latencyColumn("ready max ms", func(x topicsResult) time.Duration { return x.ready.max }),
		},
		headline:       "ready p50 ms",
		headlineFormat: "%s p50 %.2f ms",
		summary:        fmt.Sprintf("topics create→ready (1 partition, %d topics)", t.count),
		ratioNote:      " (lower is better for chronik)",
	})
}

// topicsRun creates t.count topics one after the other and times each.
func topicsRun(ctx context.Context, rt *runningTarget, o *benchOptions, t *topicsOptions) (topicsResult, error) {
	var res topicsResult
	cl, err := kgo.NewClient(kgo.SeedBrokers(rt.seedBrokers()...))
	if err != nil {
		return res, fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Open the connection and learn the broker before the first timed
	// creation, so the first sample does not include a dial.
	if _, err := adm.BrokerMetadata(ctx); err != nil {
		return res, fmt.Errorf("first metadata: %w", err)
	}
	prefix := benchTopicName("topics")
	names := make([]string, 0, t.count)
	if rt.external {
		defer func() { deleteTopics(adm, names...) }()
	}
	var creates, readies []time.Duration
	deadline := time.Now().Add(o.duration)
	start := time.Now()
	for i := 0; i < t.count && time.Now().Before(deadline); i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		began := time.Now()
		if err := createTopic(ctx, adm, rt, name, 1); err != nil {
			return res, err
		}
		names = append(names, name)
		created := time.Since(began)
		if err := waitLeaders(ctx, cl, name, 1); err != nil {
			return res, err
		}
		creates = append(creates, created)
		readies = append(readies, time.Since(began))
	}
	res = topicsResult{topics: len(readies), elapsed: time.Since(start), create: summarize(creates), ready: summarize(readies)}
	return res, nil
}

// createTopic creates one topic with replication factor 1.
func createTopic(ctx context.Context, adm *kadm.Client, rt *runningTarget, topic string, partitions int32) error {
	actx, cancel := context.WithTimeout(ctx, benchAdminTimeout)
	defer cancel()
	resp, err := adm.CreateTopic(actx, partitions, max(rt.replication, 1), rt.topicConfigs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// createTopicReady creates a topic and waits until it has leaders, so a
// workload's first records do not race the topic into existence.
func createTopicReady(ctx context.Context, cl *kgo.Client, rt *runningTarget, topic string, partitions int32) error {
	if err := createTopic(ctx, kadm.NewClient(cl), rt, topic, partitions); err != nil {
		return err
	}
	return waitLeaders(ctx, cl, topic, partitions)
}

// waitLeaders polls Metadata until every one of the topic's partitions
// lists a leader. The first few polls go back to back, because on a
// single node the answer is usually there at once and a sleep would
// dominate the figure; after that it polls every millisecond, until
// benchReadyTimeout. Each poll is a real Metadata request: kadm's
// Metadata answers from kgo's cache (up to MetadataMinAge old), which
// would time the cache instead of the broker.
func waitLeaders(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	deadline := time.Now().Add(benchReadyTimeout)
	var last error
	for attempt := 0; ; attempt++ {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		switch {
		case err != nil:
			last = err
		case len(resp.Topics) != 1:
			last = fmt.Errorf("%d topics in the answer", len(resp.Topics))
		case resp.Topics[0].ErrorCode != 0:
			last = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
		case int32(len(resp.Topics[0].Partitions)) != partitions:
			last = fmt.Errorf("%d of %d partitions listed", len(resp.Topics[0].Partitions), partitions)
		default:
			last = nil
			for _, pd := range resp.Topics[0].Partitions {
				if pd.ErrorCode != 0 || pd.Leader < 0 {
					last = fmt.Errorf("partition %d: leader %d: %v", pd.Partition, pd.Leader, kerr.ErrorForCode(pd.ErrorCode))
					break
				}
			}
			if last == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("topic %s leaders: %w", topic, ctx.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s: no leader for every partition within %s: %w", topic, benchReadyTimeout, last)
		}
		if attempt >= 10 {
			time.Sleep(benchLeaderPollGap)
		}
	}
}

// deleteTopics removes what a run created on an external broker. Best
// effort: a failure leaves a topic behind but does not void the figures.
func deleteTopics(adm *kadm.Client, topics ...string) {
	if len(topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), benchAdminTimeout)
	defer cancel()
	_, _ = adm.DeleteTopics(ctx, topics...)
}

// ---------------------------------------------------------------------------
// consume

// consumeResult is one timed read of a topic.
type consumeResult struct {
	throughput
	firstRecord time.Duration // poll start to the first record
}

func runBenchConsume(ctx context.Context, out, progress io.Writer, o *benchOptions, p *produceOptions) error {
	if err := p.validate(); err != nil {
		return err
	}
	values := newValuePool(p.recordBytes)
	work := func(ctx context.Context, rt *runningTarget) (consumeResult, error) {
		return consumeRun(ctx, rt, o, p, values)
	}
	columns := append(throughputColumns(func(x consumeResult) throughput { return x.throughput }),
		latencyColumn("first record ms", func(x consumeResult) time.Duration { return x.firstRecord }),
	)
	return runBenchWorkload(ctx, out, progress, o, false, work, benchReport[consumeResult]{
		title:          fmt.Sprintf("bench consume: one kgo consumer reads from the start what was just produced (%s)", p.describe()),
		columns:        columns,
		note:           consumeResult.note,
		headline:       "MB/s",
		headlineFormat: "%s %.1f MB/s",
		summary:        fmt.Sprintf("consume %s x%d partitions", formatSize(p.recordBytes), p.partitions),
	})
}

// consumeRun fills a fresh topic (untimed) and times reading it back.
func consumeRun(ctx context.Context, rt *runningTarget, o *benchOptions, p *produceOptions, values *valuePool) (consumeResult, error) {
	var res consumeResult
	topic := benchTopicName("consume")
	producer, cleanup, err := newBenchProducer(ctx, rt, p, topic)
	if err != nil {
		return res, err
	}
	defer cleanup()
	m, err := produceN(ctx, producer, values, p.records, p.outstanding, o.duration)
	if err != nil {
		return res, fmt.Errorf("fill topic: %w", err)
	}
	want := len(m.latencies)

	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(rt.seedBrokers()...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return res, fmt.Errorf("consumer client: %w", err)
	}
	defer consumer.Close()
	pctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	start := time.Now()
	for res.records < want {
		fetches := consumer.PollRecords(pctx, 10000)
		if pctx.Err() != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("interrupted: %w", ctx.Err())
			}
			res.cappedByTime = true
			break
		}
		var fetchErr error
		fetches.EachError(func(topic string, partition int32, err error) {
			fetchErr = errors.Join(fetchErr, fmt.Errorf("fetch %s[%d]: %w", topic, partition, err))
		})
		if fetchErr != nil {
			return res, fetchErr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if res.records == 0 {
				res.firstRecord = time.Since(start)
			}
			res.records++
			res.valueBytes += int64(len(r.Value))
		})
	}
	res.elapsed = time.Since(start)
	if res.records == 0 {
		return res, fmt.Errorf("no record consumed within --duration %s", o.duration)
	}
	if res.records > want {
		return res, fmt.Errorf("consumed %d records, more than the %d produced", res.records, want)
	}
	return res, nil
}

// ---------------------------------------------------------------------------
// report

// runBenchWorkload runs work on every target for --rounds rounds, then
// writes the report: a table row per round and target, a median row per
// target and a one-line summary.
func runBenchWorkload[R any](ctx context.Context, out, progress io.Writer, o *benchOptions, ceiling bool,
	work func(ctx context.Context, rt *runningTarget) (R, error), report benchReport[R]) error {
	targets, err := resolveTargets(o, ceiling)
	if err != nil {
		return err
	}
	results, err := runRounds(ctx, progress, o, targets, work)
	if err != nil {
		return err
	}
	return report.write(out, o, targets, results)
}

// benchReport says how a workload's results are reported.
type benchReport[R any] struct {
	title   string // first line: the workload and its settings
	columns []benchColumn[R]
	// note, if set, follows the last cell of a round's row.
	note func(R) string
	// headline is the header of the column whose per-target median the
	// summary quotes, each target's as headlineFormat (name, median).
	headline       string
	headlineFormat string
	summary        string // the summary line before the per-target figures
	ratioNote      string // follows the chronik/kfake ratio of the headline
}

// benchColumn is one figure of the table. A column with a median shows,
// in each target's median row, the median over its rounds of median(x)
// in medianFormat; one without leaves that cell empty.
type benchColumn[R any] struct {
	header       string
	cell         func(R) string
	median       func(R) float64
	medianFormat string
}

// countColumn is a whole number per round, with no median.
func countColumn[R any](header string, count func(R) int) benchColumn[R] {
	return benchColumn[R]{header: header, cell: func(x R) string { return strconv.Itoa(count(x)) }}
}

// secondsColumn is the measured time of a round, with no median.
func secondsColumn[R any](elapsed func(R) time.Duration) benchColumn[R] {
	return benchColumn[R]{header: "seconds", cell: func(x R) string { return fmt.Sprintf("%.2f", elapsed(x).Seconds()) }}
}

// rateColumn is a figure shown in format in both kinds of row.
func rateColumn[R any](header, format string, value func(R) float64) benchColumn[R] {
	return benchColumn[R]{header: header, cell: func(x R) string { return fmt.Sprintf(format, value(x)) }, median: value, medianFormat: format}
}

// latencyColumn is a latency in milliseconds ("-" for a round without
// samples).
func latencyColumn[R any](header string, latency func(R) time.Duration) benchColumn[R] {
	return benchColumn[R]{header: header, cell: func(x R) string { return ms(latency(x)) },
		median: func(x R) float64 { return msf(latency(x)) }, medianFormat: "%.2f"}
}

// throughputColumns are the leading columns of produce and consume.
func throughputColumns[R any](get func(R) throughput) []benchColumn[R] {
	return []benchColumn[R]{
		countColumn("records", func(x R) int { return get(x).records }),
		secondsColumn(func(x R) time.Duration { return get(x).elapsed }),
		rateColumn("records/s", "%.0f", func(x R) float64 { return get(x).recordsPerSec() }),
		rateColumn("MB/s", "%.1f", func(x R) float64 { return get(x).mbPerSec() }),
	}
}

// write prints the report of results to out.
func (rep benchReport[R]) write(out io.Writer, o *benchOptions, targets []benchTarget, results []roundResult[R]) error {
	fmt.Fprintln(out, rep.title)
	fmt.Fprintf(out, "%s\n\n", benchEnvironment(o))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "round\ttarget\t")
	for _, c := range rep.columns {
		fmt.Fprintf(tw, "%s\t", c.header)
	}
	fmt.Fprintln(tw)
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%s\t", r.round, r.target)
		for _, c := range rep.columns {
			fmt.Fprintf(tw, "%s\t", c.cell(r.result))
		}
		note := ""
		if rep.note != nil {
			note = rep.note(r.result)
		}
		fmt.Fprintln(tw, note)
	}
	headlines := map[string]float64{}
	for _, tg := range targets {
		fmt.Fprintf(tw, "median\t%s\t", tg.name)
		for _, c := range rep.columns {
			if c.median == nil {
				fmt.Fprint(tw, "\t")
				continue
			}
			var xs []float64
			for _, r := range results {
				if r.target == tg.name {
					xs = append(xs, c.median(r.result))
				}
			}
			m := median(xs)
			if c.header == rep.headline {
				headlines[tg.name] = m
			}
			fmt.Fprintf(tw, c.medianFormat+"\t", m)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	fmt.Fprintln(out)
	parts := make([]string, 0, len(targets))
	for _, tg := range targets {
		parts = append(parts, fmt.Sprintf(rep.headlineFormat, tg.name, headlines[tg.name]))
	}
	summary := rep.summary + ": " + strings.Join(parts, ", ")
	if o.target == benchTargetCompare {
		summary += fmt.Sprintf(", ratio %.2f", headlines[benchTargetChronik]/headlines[benchTargetKfake]) + rep.ratioNote
		for _, tg := range targets {
			if tg.name != benchTargetChronik && tg.name != benchTargetKfake && tg.name != benchTargetBlackhole {
				summary += fmt.Sprintf(", %s/kfake %.2f", tg.name, headlines[tg.name]/headlines[benchTargetKfake])
			}
		}
	}
	fmt.Fprintln(out, summary)
	return nil
}

// ---------------------------------------------------------------------------
// figures

// latencySummary holds the percentiles we report of a set of samples.
type latencySummary struct {
	p50, p99, max time.Duration
}

// summarize computes nearest-rank percentiles (no interpolation: every
// reported figure is a latency that some record actually had).
func summarize(samples []time.Duration) latencySummary {
	if len(samples) == 0 {
		return latencySummary{p50: -1, p99: -1, max: -1}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return latencySummary{p50: percentile(s, 0.50), p99: percentile(s, 0.99), max: s[len(s)-1]}
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(max(rank-1, 0), len(sorted)-1)]
}

// median of the per-round figures; NaN when there are none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ms formats a duration as milliseconds with two decimals, "-" when
// there was no sample.
func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return strconv.FormatFloat(msf(d), 'f', 2, 64)
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// formatSize prints 1024 as 1KiB, otherwise bytes.
func formatSize(n int) string {
	if n > 0 && n%1024 == 0 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	return fmt.Sprintf("%dB", n)
}

// benchEnvironment is a line of context needed to compare reports.
func benchEnvironment(o *benchOptions) string {
	return fmt.Sprintf("rounds %d (interleaved), fsync %t (in-process targets), data under %s, GOMAXPROCS %d, %s %s/%s",
		o.rounds, o.fsync, o.tmpDir, runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// benchTopicName is a fresh topic name; the nanosecond suffix keeps
// reruns against an external broker from colliding.
func benchTopicName(what string) string {
	return fmt.Sprintf("chronik-bench-%s-%d", what, time.Now().UnixNano())
}
