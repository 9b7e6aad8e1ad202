package main

// `chronik bench cluster`: the three figures of a replicated cluster,
// measured on real processes on loopback (this binary's own `serve`):
//
//   - topic creation to leaders-ready, p50 and p99, replication factor 3;
//   - the time from kill -9 of a partition leader to the next
//     acknowledged acks=all produce, with the brokers' default settings;
//   - acks=all produce throughput with replication factor 3 as a ratio of
//     a single node's, both measured in the same run, rounds interleaved.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/internal/loopback"
)

// clusterBenchOptions are the flags of `bench cluster`.
type clusterBenchOptions struct {
	brokers   int
	topics    int
	failovers int
	produce   produceOptions
}

func newBenchClusterCommand(o *benchOptions) *cobra.Command {
	c := &clusterBenchOptions{}
	cmd := newBenchSubcommand(o, "cluster", "Topic creation, leader failover and replicated produce on a 3-process cluster",
		"Start a cluster of this binary's `serve` processes on loopback ports and measure: topic creation\n"+
			"to leaders-ready (replication factor 3, --topics topics); the time from kill -9 of a partition\n"+
			"leader to the next acknowledged acks=all produce (--failovers times, restarting the killed broker\n"+
			"and waiting for it to rejoin the ISR in between); and acks=all produce throughput with replication\n"+
			"factor 3 against a single node process, --rounds rounds interleaved, reported as a ratio.",
		func(ctx context.Context, out, progress io.Writer) error {
			return runBenchCluster(ctx, out, progress, o, c)
		})
	f := cmd.Flags()
	f.IntVar(&c.brokers, "brokers", 3, "brokers in the cluster (all of them metadata voters)")
	f.IntVar(&c.topics, "topics", 100, "topics created for the creation latency figure")
	f.IntVar(&c.failovers, "failovers", 5, "leader kills for the failover figure")
	addProduceFlags(cmd, &c.produce, 50000, true)
	return cmd
}

// procBroker is one `chronik serve` process of a bench cluster.
type procBroker struct {
	id        int
	kafkaAddr string
	args      []string
	logPath   string
	cmd       *exec.Cmd
	done      chan struct{}
}

// procCluster is a set of broker processes.
type procCluster struct {
	brokers []*procBroker
	dir     string
	// keep leaves the directory (data and logs) in place on stop, for a
	// run that failed.
	keep bool
}

// startProcCluster starts n brokers; n == 1 is a single node without a
// quorum, n > 1 a cluster whose brokers are all voters.
func startProcCluster(o *benchOptions, n int, name string) (*procCluster, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary: %w", err)
	}
	dir, err := os.MkdirTemp(o.tmpDir, "chronik-bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	addrs, err := loopback.Addrs(3 * n) // Kafka, raft and control listeners; outside the ephemeral range, so a killed broker's ports stay free for its restart
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var voters []string
	for i := 0; i < n; i++ {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, addrs[n+i]))
	}
	c := &procCluster{dir: dir}
	for i := 0; i < n; i++ {
		b := &procBroker{id: i + 1, kafkaAddr: addrs[i], logPath: filepath.Join(dir, fmt.Sprintf("broker-%d.log", i+1))}
		b.args = []string{"serve", "--id", strconv.Itoa(i + 1), "--kafka-addr", addrs[i],
			"--data-dir", filepath.Join(dir, fmt.Sprintf("data-%d", i+1)), "--log-level", o.logLevel,
			"--sync-writes=" + strconv.FormatBool(o.fsync)}
		if n > 1 {
			b.args = append(b.args, "--raft-addr", addrs[n+i], "--controller-addr", addrs[2*n+i], "--voters", strings.Join(voters, ","))
		}
		c.brokers = append(c.brokers, b)
	}
	for _, b := range c.brokers {
		if err := b.start(exe); err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

func (b *procBroker) start(exe string) error {
	logFile, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, b.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start broker %d: %w", b.id, err)
	}
	b.cmd, b.done = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(b.done)
	}()
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (b *procBroker) kill() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Kill()
	<-b.done
	b.cmd = nil
}

// stop sends SIGTERM (a controlled shutdown) and waits, killing after a
// bound; then removes the data.
func (c *procCluster) stop() {
	for _, b := range c.brokers {
		if b.cmd != nil {
			_ = b.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, b := range c.brokers {
		if b.cmd == nil {
			continue
		}
		select {
		case <-b.done:
		case <-time.After(benchStopTimeout):
			b.kill()
		}
		b.cmd = nil
	}
	if !c.keep {
		os.RemoveAll(c.dir)
	}
}

func (c *procCluster) seeds() []string {
	var out []string
	for _, b := range c.brokers {
		out = append(out, b.kafkaAddr)
	}
	return out
}

// waitReady polls Metadata until every broker is listed.
func (c *procCluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A fresh client each time: kgo keeps what an early answer (before
		// every broker registered) said about the cluster.
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
		if err != nil {
			return err
		}
		md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
		cl.Close()
		if err == nil && len(md.Brokers) == len(c.brokers) && md.Controller >= 0 {
			return nil
		}
		if time.Now().After(deadline) {
			c.keep = true
			return fmt.Errorf("cluster not ready within 30s (brokers %v, err %v); logs in %s", md.Brokers, err, c.dir)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runBenchCluster(ctx context.Context, out, progress io.Writer, o *benchOptions, c *clusterBenchOptions) (err error) {
	if err := c.produce.validate(); err != nil {
		return err
	}
	if c.brokers < 3 {
		return fmt.Errorf("--brokers %d: replication factor 3 needs at least 3", c.brokers)
	}
	fmt.Fprintf(out, "bench cluster: %d brokers on loopback, fsync %v\n", c.brokers, o.fsync)

	cluster, err := startProcCluster(o, c.brokers, "cluster")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			cluster.keep = true
			err = fmt.Errorf("%w (cluster logs kept in %s)", err, cluster.dir)
		}
		cluster.stop()
	}()
	if err := cluster.waitReady(ctx); err != nil {
		return err
	}
	rt := &runningTarget{addr: cluster.brokers[0].kafkaAddr, seeds: cluster.seeds(), replication: 3}

	creation, err := benchTopicCreation(ctx, progress, rt, c.topics)
	if err != nil {
		return fmt.Errorf("topic creation: %w", err)
	}
	fmt.Fprintf(out, "topic creation to leaders-ready (RF 3, 1 partition, %d topics): p50 %s ms  p99 %s ms  max %s ms\n",
		c.topics, ms(creation.p50), ms(creation.p99), ms(creation.max))

	failovers, err := benchFailovers(ctx, progress, cluster, c.failovers)
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	fo := summarize(failovers)
	fmt.Fprintf(out, "kill -9 of the leader to the next acknowledged acks=all produce (%d kills): p50 %s ms  max %s ms  samples %v\n",
		len(failovers), ms(fo.p50), ms(fo.max), roundedMs(failovers))

	if err := waitReplicable(ctx, cluster.seeds(), 3); err != nil {
		return err
	}
	// Throughput: the same producer workload against the cluster (RF 3,
	// min.insync.replicas 2) and a single node process, interleaved.
	mis := "2"
	rt.topicConfigs = map[string]*string{"min.insync.replicas": &mis}
	values := newValuePool(c.produce.recordBytes)
	var clusterMBs, singleMBs []float64
	for round := 0; round < o.rounds; round++ {
		for _, which := range roundOrder(round) {
			var target *runningTarget
			var single *procCluster
			if which == "cluster" {
				target = rt
			} else {
				single, err = startProcCluster(o, 1, "single")
				if err != nil {
					return err
				}
				if err := single.waitReady(ctx); err != nil {
					single.stop()
					return err
				}
				target = &runningTarget{addr: single.brokers[0].kafkaAddr}
			}
			res, err := produceRun(ctx, target, o, &c.produce, values, "cluster-"+which)
			if single != nil {
				single.stop()
			}
			if err != nil {
				return fmt.Errorf("%s produce: %w", which, err)
			}
			fmt.Fprintf(progress, "round %d %s: %.1f MB/s, record p50 %s ms p99 %s ms\n", round+1, which, res.mbPerSec(), ms(res.recordLatency.p50), ms(res.recordLatency.p99))
			if which == "cluster" {
				clusterMBs = append(clusterMBs, res.mbPerSec())
			} else {
				singleMBs = append(singleMBs, res.mbPerSec())
			}
		}
	}
	cm, sm := median(clusterMBs), median(singleMBs)
	fmt.Fprintf(out, "produce acks=all %s x%d partitions, %d records: RF 3 cluster %.1f MB/s, single node %.1f MB/s (medians of %d rounds), ratio %.2f\n",
		formatSize(c.produce.recordBytes), c.produce.partitions, c.produce.records, cm, sm, o.rounds, cm/sm)
	return nil
}

func roundOrder(round int) []string {
	if round%2 == 0 {
		return []string{"cluster", "single"}
	}
	return []string{"single", "cluster"}
}

func roundedMs(ds []time.Duration) []string {
	var out []string
	for _, d := range ds {
		out = append(out, ms(d))
	}
	return out
}

// benchTopicCreation creates n topics one after another and returns the
// latency from the CreateTopics call to every partition having a leader.
func benchTopicCreation(ctx context.Context, progress io.Writer, rt *runningTarget, n int) (latencySummary, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(rt.seedBrokers()...))
	if err != nil {
		return latencySummary{}, err
	}
	defer cl.Close()
	var samples []time.Duration
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("bench-create-%d-%d", time.Now().UnixNano(), i)
		start := time.Now()
		if err := createTopicReady(ctx, cl, rt, name, 1); err != nil {
			return latencySummary{}, err
		}
		samples = append(samples, time.Since(start))
	}
	fmt.Fprintf(progress, "created %d topics\n", n)
	return summarize(samples), nil
}

// benchFailovers produces acks=all records one at a time to a replicated
// topic and kills the partition leader k times, measuring from each kill
// to the first acknowledgement after it. The killed broker is restarted
// and back in the ISR before the next kill.
func benchFailovers(ctx context.Context, progress io.Writer, cluster *procCluster, k int) ([]time.Duration, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	topic := fmt.Sprintf("bench-failover-%d", time.Now().UnixNano())
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.seeds()...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(50*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.RecordDeliveryTimeout(30*time.Second))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	mis := "2"
	rt := &runningTarget{replication: 3, topicConfigs: map[string]*string{"min.insync.replicas": &mis}}
	if err := createTopicReady(ctx, cl, rt, topic, 1); err != nil {
		return nil, err
	}
	// acks holds (send, acknowledgement) times of every record; records go
	// one at a time, so the first acknowledgement of a record sent after a
	// kill cannot be an answer the dead leader had already sent.
	type ack struct{ sent, acked time.Time }
	var (
		acksMu sync.Mutex
		acks   []ack
	)
	firstAckSentAfter := func(t time.Time) (time.Time, bool) {
		acksMu.Lock()
		defer acksMu.Unlock()
		for i := len(acks) - 1; i >= 0 && acks[i].sent.After(t); i-- {
			if i == 0 || !acks[i-1].sent.After(t) {
				return acks[i].acked, true
			}
		}
		return time.Time{}, false
	}
	var failed atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			rec := &kgo.Record{Value: []byte(strconv.Itoa(i))}
			sent := time.Now()
			if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				if ctx.Err() == nil {
					failed.Store(err)
				}
				return
			}
			acksMu.Lock()
			acks = append(acks, ack{sent: sent, acked: time.Now()})
			acksMu.Unlock()
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	var samples []time.Duration
	for i := 0; i < k; i++ {
		leader, isr, err := partitionLeader(ctx, adm, topic)
		if err != nil {
			return nil, err
		}
		if len(isr) != len(cluster.brokers) {
			return nil, fmt.Errorf("ISR %v before kill %d", isr, i+1)
		}
		time.Sleep(300 * time.Millisecond) // let acknowledgements flow
		victim := cluster.brokers[leader-1]
		killed := time.Now()
		victim.kill()
		var acked time.Time
		for {
			var ok bool
			if acked, ok = firstAckSentAfter(killed); ok {
				break
			}
			if err, _ := failed.Load().(error); err != nil {
				return nil, fmt.Errorf("producer failed after kill %d: %w", i+1, err)
			}
			if time.Since(killed) > 60*time.Second {
				return nil, fmt.Errorf("no acknowledgement within 60s of killing broker %d", leader)
			}
			time.Sleep(time.Millisecond)
		}
		d := acked.Sub(killed)
		samples = append(samples, d)
		fmt.Fprintf(progress, "kill %d: broker %d, next ack after %s ms\n", i+1, leader, ms(d))
		if err := victim.start(exe); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, isr, err := partitionLeader(ctx, adm, topic)
			if err == nil && len(isr) == len(cluster.brokers) {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("broker %d not back in the ISR within 60s (ISR %v, %v)", leader, isr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err, _ := failed.Load().(error); err != nil {
		return nil, err
	}
	return samples, nil
}

// partitionLeader returns partition 0's leader and ISR.
func partitionLeader(ctx context.Context, adm *kadm.Client, topic string) (int32, []int32, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return -1, nil, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return -1, nil, errors.New("topic not in metadata yet")
	}
	p := td.Partitions[0]
	if p.Leader < 0 {
		return -1, nil, errors.New("no leader")
	}
	return p.Leader, p.ISR, nil
}

// waitReplicable waits until a topic with replication factor rf could be
// created: the controller sees rf unfenced brokers (a restarted broker is
// fenced until its first heartbeat after registering).
func waitReplicable(ctx context.Context, seeds []string, rf int16) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
		if err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := kadm.NewClient(cl).ValidateCreateTopics(actx, 1, rf, nil, "bench-probe")
		cancel()
		cl.Close()
		if err == nil && resp.Error() == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replication factor %d not possible within 60s: %v", rf, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clusterTargetName names the --brokers target of a workload.
func clusterTargetName(brokers int) string { return fmt.Sprintf("chronik-%dn", brokers) }

// startClusterTarget runs a workload's cluster target: brokers `serve`
// processes on loopback whose topics are created with replication factor
// min(3, brokers), as the offsets topic is.
func startClusterTarget(ctx context.Context, o *benchOptions, brokers int) (*runningTarget, error) {
	cluster, err := startProcCluster(o, brokers, "cluster")
	if err != nil {
		return nil, err
	}
	if err := cluster.waitReady(ctx); err != nil {
		cluster.stop()
		return nil, err
	}
	stop := func() error { cluster.stop(); return nil }
	return &runningTarget{addr: cluster.brokers[0].kafkaAddr, seeds: cluster.seeds(), replication: int16(min(3, brokers)), stop: stop}, nil
}
