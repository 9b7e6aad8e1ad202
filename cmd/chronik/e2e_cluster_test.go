package main

// End-to-end test of a three-node cluster: three `chronik serve` processes
// with --voters, driven by franz-go. One test walks a checklist in order,
// each step logging what it does and naming itself in every failure:
//
//  1. a topic with replication factor 3 and min.insync.replicas=2 gets
//     leaders and a full ISR (creation to leaders-ready is logged, not
//     asserted);
//  2. 1000 acks=all records from an idempotent producer are acknowledged
//     and read back in order;
//  3. kill -9 of a partition leader while a producer keeps producing: the
//     producer carries on, the killed broker restarts and rejoins the ISR,
//     and every acknowledged record is read back once, at its offset;
//  4. the same with a follower;
//  5. a graceful stop of all three, after which `chronik dump` finds every
//     acknowledged record on all three replicas at the same offsets, and
//     the replicas hold identical logs;
//  6. no process log shows a panic.
//
// Timing figures (creation latency, kill to next acknowledgement) are
// logged for the record; only bounded waits decide pass or fail.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	e2eClusterSize       = 3
	e2eClusterPartitions = 3
	// e2eClusterReadyTimeout bounds the wait for the first successful
	// CreateTopics (an election, then every broker registering).
	e2eClusterReadyTimeout = 20 * time.Second
	// e2eClusterFailoverTimeout bounds a kill -9 to the next acknowledged
	// produce on the killed broker's partitions.
	e2eClusterFailoverTimeout = 15 * time.Second
	// e2eClusterISRTimeout bounds a restarted broker's return to the ISR.
	e2eClusterISRTimeout = 20 * time.Second
)

// e2eCluster is three chronik serve processes forming one cluster.
type e2eCluster struct {
	t       *testing.T
	brokers []*e2eBroker // index i has node id i+1
}

// e2eStartCluster starts the processes, then waits until each answers a
// client (which it does once the quorum has elected and applied its
// registration).
// At the end of the test the survivors get SIGTERM together, each log is
// checked for panics, and the logs are printed if the test failed.
func e2eStartCluster(t *testing.T) *e2eCluster {
	t.Helper()
	bin := e2eChronikBinary(t)
	c := &e2eCluster{t: t}
	var voters []string
	// Kafka, raft and control listener ports of every broker, distinct.
	ports := e2eFreePorts(t, 3*e2eClusterSize)
	addr := func(i int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i])) }
	raftAddrs := make([]string, e2eClusterSize)
	for i := range raftAddrs {
		raftAddrs[i] = addr(e2eClusterSize + i)
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, raftAddrs[i]))
	}
	logDir := t.TempDir()
	for i := range e2eClusterSize {
		c.brokers = append(c.brokers, &e2eBroker{
			t:       t,
			bin:     bin,
			addr:    addr(i),
			dataDir: t.TempDir(),
			nodeID:  i + 1,
			args: []string{"--raft-addr", raftAddrs[i], "--voters", strings.Join(voters, ","),
				"--controller-addr", addr(2*e2eClusterSize + i)},
			logPath: filepath.Join(logDir, fmt.Sprintf("broker-%d.log", i+1)),
		})
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, b := range c.brokers {
			if b.alive() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := b.stopWith(syscall.SIGTERM); err != nil {
						t.Errorf("stopping broker %d at test end: %v", b.nodeID, err)
					}
				}()
			}
		}
		wg.Wait()
		for _, b := range c.brokers {
			b.checkLog()
			if t.Failed() || os.Getenv("CHRONIK_E2E_CLUSTER_LOGS") != "" {
				t.Logf("broker %d log (%s):\n%s", b.nodeID, b.logPath, b.logTail(256<<10))
			}
		}
	})
	for _, b := range c.brokers {
		b.startProcess()
	}
	for _, b := range c.brokers {
		b.waitReady()
	}
	return c
}

// broker returns the process of node id.
func (c *e2eCluster) broker(id int32) *e2eBroker { return c.brokers[id-1] }

func (c *e2eCluster) seeds() []string {
	var out []string
	for _, b := range c.brokers {
		out = append(out, b.addr)
	}
	return out
}

// client returns a franz-go client seeded with every broker.
func (c *e2eCluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(c.seeds()...),
		kgo.DialTimeout(2 * time.Second),
		kgo.RetryTimeout(15 * time.Second),
		kgo.MetadataMinAge(50 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		c.t.Fatalf("kgo.NewClient: %v", err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// e2eClusterState is one Metadata view of a topic.
type e2eClusterState struct {
	controller int32
	leaders    map[int32]int32
	isr        map[int32][]int32
	replicas   map[int32][]int32
}

// e2eTopicState reads the topic's partitions from an uncached Metadata
// request to any broker; an error says why the view is incomplete.
func e2eTopicState(cl *kgo.Client, topic string) (e2eClusterState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	md, err := req.RequestWith(ctx, cl)
	if err != nil {
		return e2eClusterState{}, err
	}
	if len(md.Topics) != 1 {
		return e2eClusterState{}, fmt.Errorf("%d topics in the answer", len(md.Topics))
	}
	td := md.Topics[0]
	if err := kerr.ErrorForCode(td.ErrorCode); err != nil {
		return e2eClusterState{}, err
	}
	s := e2eClusterState{controller: md.ControllerID, leaders: map[int32]int32{}, isr: map[int32][]int32{}, replicas: map[int32][]int32{}}
	for _, p := range td.Partitions {
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			return s, fmt.Errorf("partition %d: %w", p.Partition, err)
		}
		s.leaders[p.Partition] = p.Leader
		s.isr[p.Partition] = append([]int32(nil), p.ISR...)
		s.replicas[p.Partition] = append([]int32(nil), p.Replicas...)
	}
	return s, nil
}

// e2eWaitFullISR waits (bounded) until every partition has a leader and
// all e2eClusterSize brokers in its ISR, and returns that view.
func e2eWaitFullISR(t testing.TB, step string, cl *kgo.Client, topic string, within time.Duration) e2eClusterState {
	t.Helper()
	deadline := time.Now().Add(within)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		s, err := e2eTopicState(cl, topic)
		switch {
		case err != nil:
			last = err.Error()
		case len(s.leaders) != e2eClusterPartitions:
			last = fmt.Sprintf("%d partitions, want %d", len(s.leaders), e2eClusterPartitions)
		default:
			ready := true
			for p := int32(0); p < e2eClusterPartitions; p++ {
				if s.leaders[p] < 0 || len(s.isr[p]) != e2eClusterSize {
					ready = false
					last = fmt.Sprintf("partition %d: leader %d, ISR %v", p, s.leaders[p], s.isr[p])
				}
			}
			if ready {
				return s
			}
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not an assertion
	}
	t.Fatalf("%s: topic %s has no leaders with an ISR of %d within %v: %s", step, topic, e2eClusterSize, within, last)
	return e2eClusterState{}
}

// e2eAck is what the producer was told about one record.
type e2eAck struct {
	partition int32
	offset    int64
	at        time.Time
}

// e2eAckLog collects the outcome of every produced record, by value.
type e2eAckLog struct {
	mu     sync.Mutex
	sent   map[string]time.Time // when Produce was called
	acked  map[string]e2eAck
	failed map[string]error
}

func newE2EAckLog() *e2eAckLog {
	return &e2eAckLog{sent: map[string]time.Time{}, acked: map[string]e2eAck{}, failed: map[string]error{}}
}

func (l *e2eAckLog) noteSent(r *kgo.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent[string(r.Value)] = time.Now()
}

func (l *e2eAckLog) record(r *kgo.Record, err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed[string(r.Value)] = err
		return
	}
	l.acked[string(r.Value)] = e2eAck{partition: r.Partition, offset: r.Offset, at: now}
}

// firstAckAfter returns the earliest acknowledgement, on one of
// partitions, of a record produced after t: only the cluster as it is
// after t can have acknowledged it (an answer already on its way at t
// does not count).
func (l *e2eAckLog) firstAckAfter(t time.Time, partitions []int32) (e2eAck, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best e2eAck
	found := false
	for v, a := range l.acked {
		if !l.sent[v].After(t) || !e2eContains(partitions, a.partition) {
			continue
		}
		if !found || a.at.Before(best.at) {
			best, found = a, true
		}
	}
	return best, found
}

func (l *e2eAckLog) counts() (acked, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked), len(l.failed)
}

func e2eContains(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// e2eBackgroundProducer produces records round-robin over the partitions,
// one about every 2 ms, until stopped.
type e2eBackgroundProducer struct {
	cl   *kgo.Client
	log  *e2eAckLog
	stop chan struct{}
	done chan struct{}
	sent int
}

func e2eStartBackgroundProducer(cl *kgo.Client, topic, prefix string, log *e2eAckLog) *e2eBackgroundProducer {
	p := &e2eBackgroundProducer{cl: cl, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	// Produce blocks while the client's buffer is full; closing the client
	// (test cleanup) ends such a wait. The context is never cancelled, so
	// that stopping does not fail the records still buffered.
	ctx := context.Background()
	go func() {
		defer close(p.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			r := &kgo.Record{Topic: topic, Partition: int32(i % e2eClusterPartitions), Value: []byte(fmt.Sprintf("%s-%06d", prefix, i))}
			p.sent++
			log.noteSent(r)
			cl.Produce(ctx, r, log.record)
		}
	}()
	return p
}

// finish stops producing and waits (bounded) until every record produced
// so far has an outcome.
func (p *e2eBackgroundProducer) finish(t testing.TB, step string) {
	t.Helper()
	close(p.stop)
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		acked, failed := p.log.counts()
		t.Fatalf("%s: records still unacknowledged 30 s after the producer stopped (%d sent, %d acknowledged, %d failed): %v",
			step, p.sent, acked, failed, err)
	}
}

// e2eReadTopic reads every partition from the start to its high watermark
// and returns the records by partition, in offset order.
func e2eReadTopic(t testing.TB, step string, c *e2eCluster, adm *kadm.Client, topic string) map[int32][]*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("%s: ListEndOffsets: %v", step, err)
	}
	want := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	for p := int32(0); p < e2eClusterPartitions; p++ {
		o, ok := ends.Lookup(topic, p)
		if !ok || o.Err != nil {
			t.Fatalf("%s: ListEndOffsets %s[%d]: present %v, err %v", step, topic, p, ok, o.Err)
		}
		want[p] = o.Offset
		from[p] = kgo.NewOffset().AtStart()
	}
	cl := c.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}), kgo.FetchMaxWait(200*time.Millisecond))
	defer cl.Close()
	out := map[int32][]*kgo.Record{}
	next := map[int32]int64{}
	done := func() bool {
		for p, end := range want {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: read %v of the end offsets %v within 20 s", step, next, want)
		}
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
				t.Logf("%s: fetch %s[%d]: %v (retrying)", step, e.Topic, e.Partition, e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], r)
			next[r.Partition] = r.Offset + 1
		})
	}
	return out
}

// e2eCheckAcked checks that every acknowledged record is in read exactly
// once, at its acknowledged partition and offset, that no value appears
// twice, and that offsets only grow within a partition.
func e2eCheckAcked(t testing.TB, step string, read map[int32][]*kgo.Record, acked map[string]e2eAck) {
	t.Helper()
	seen := map[string]e2eAck{}
	problems := 0
	report := func(format string, args ...any) {
		problems++
		if problems <= 20 {
			t.Errorf(step+": "+format, args...)
		}
	}
	for p, rs := range read {
		last := int64(-1)
		for _, r := range rs {
			if r.Offset <= last {
				report("partition %d: offset %d after %d", p, r.Offset, last)
			}
			last = r.Offset
			v := string(r.Value)
			if prev, dup := seen[v]; dup {
				report("record %q duplicated: at %d[%d] and %d[%d]", v, prev.partition, prev.offset, p, r.Offset)
				continue
			}
			seen[v] = e2eAck{partition: p, offset: r.Offset}
		}
	}
	for v, a := range acked {
		got, ok := seen[v]
		switch {
		case !ok:
			report("acknowledged record %q (%d[%d]) is missing", v, a.partition, a.offset)
		case got.partition != a.partition || got.offset != a.offset:
			report("acknowledged record %q at %d[%d] was read at %d[%d]", v, a.partition, a.offset, got.partition, got.offset)
		}
	}
	if problems > 20 {
		t.Errorf("%s: %d problems in all (first 20 shown)", step, problems)
	}
}

// e2eFailover produces in the background, kills victim with SIGKILL,
// waits for the next acknowledgement on the partitions it led, restarts
// it and waits for a full ISR again. It returns the time from the kill to
// that acknowledgement and the producer's outcomes.
func e2eFailover(t *testing.T, step string, c *e2eCluster, cl *kgo.Client, topic string, victim int32, prefix string) (time.Duration, *e2eAckLog) {
	t.Helper()
	before, err := e2eTopicState(cl, topic)
	if err != nil {
		t.Fatalf("%s: metadata: %v", step, err)
	}
	var led, followed []int32
	for p := int32(0); p < e2eClusterPartitions; p++ {
		if before.leaders[p] == victim {
			led = append(led, p)
		} else {
			followed = append(followed, p)
		}
	}
	// acks=all waits on the victim's partitions for a new leader and on
	// the others for the ISR to drop the victim: watch the partitions it
	// led, or, if it led none, all of them.
	watch := led
	if len(watch) == 0 {
		watch = followed
	}
	t.Logf("%s: broker %d leads partitions %v, follows %v; controller is %d", step, victim, led, followed, before.controller)

	acks := newE2EAckLog()
	producer := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(2000))
	bg := e2eStartBackgroundProducer(producer, topic, prefix, acks)
	finished := false
	defer func() {
		if !finished {
			close(bg.stop)
			<-bg.done
		}
	}()

	// Let acknowledgements flow before the kill.
	warm := time.Now().Add(10 * time.Second)
	for {
		if n, _ := acks.counts(); n >= 100 {
			break
		}
		if time.Now().After(warm) {
			a, f := acks.counts()
			t.Fatalf("%s: the producer got only %d acknowledgements (%d failures) in 10 s before the kill", step, a, f)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not an assertion
	}
	victimProc := c.broker(victim)
	victimProc.Kill()
	killedAt := time.Now() // the process is reaped: nothing it sends can arrive later
	t.Logf("%s: killed broker %d with SIGKILL", step, victim)

	var gap time.Duration
	deadline := killedAt.Add(e2eClusterFailoverTimeout)
	for {
		if a, ok := acks.firstAckAfter(killedAt, watch); ok {
			gap = a.at.Sub(killedAt)
			t.Logf("%s: kill -9 of broker %d to the first acknowledgement of a record produced after it (partition %d): %v",
				step, victim, a.partition, gap.Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			a, f := acks.counts()
			s, err := e2eTopicState(cl, topic)
			t.Fatalf("%s: no acknowledged produce on partitions %v within %v of killing broker %d (%d acknowledged, %d failed in all); metadata now: %+v %v",
				step, watch, e2eClusterFailoverTimeout, victim, a, f, s, err)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not an assertion
	}
	// Keep producing on the survivors for a moment, then bring the victim
	// back while the producer still runs.
	time.Sleep(300 * time.Millisecond) // workload duration, not an assertion
	restartAt := time.Now()
	victimProc.Restart()
	s := e2eWaitFullISR(t, step, cl, topic, e2eClusterISRTimeout)
	t.Logf("%s: broker %d restarted and back in every ISR after %v; leaders now %v", step, victim, time.Since(restartAt).Round(time.Millisecond), s.leaders)
	time.Sleep(200 * time.Millisecond) // workload duration, not an assertion
	finished = true
	bg.finish(t, step)
	a, f := acks.counts()
	t.Logf("%s: %d records sent, %d acknowledged, %d failed", step, bg.sent, a, f)
	if f > 0 {
		var sample []string
		acks.mu.Lock()
		for v, err := range acks.failed {
			if len(sample) < 5 {
				sample = append(sample, fmt.Sprintf("%s: %v", v, err))
			}
		}
		acks.mu.Unlock()
		t.Logf("%s: failed records (up to 5): %s", step, strings.Join(sample, "; "))
	}
	return gap, acks
}

// TestE2EClusterThreeNodes is the checklist in the file comment.
func TestE2EClusterThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three broker processes and kills some of them")
	}
	c := e2eStartCluster(t)
	cl := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	adm := kadm.NewClient(cl)
	topic := e2eUniqueTopic(t)
	acked := map[string]e2eAck{} // every acknowledged record of every step
	merge := func(l *e2eAckLog) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for v, a := range l.acked {
			acked[v] = a
		}
	}

	// 1. Create the topic. First wait until the cluster could: a
	// validate-only creation succeeds once a controller is elected and all
	// three brokers are registered and unfenced. The timed creation then
	// measures the cluster, not its start.
	step := "step 1 (create topic RF=3, min.insync.replicas=2)"
	minISR := "2"
	configs := map[string]*string{"min.insync.replicas": &minISR}
	deadline := time.Now().Add(e2eClusterReadyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := adm.ValidateCreateTopics(ctx, e2eClusterPartitions, e2eClusterSize, configs, topic)
		cancel()
		var topicErr error
		if err == nil {
			topicErr = resp.Error()
		}
		if err == nil && topicErr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the cluster cannot create a topic with replication factor %d after %v: %v %v", step, e2eClusterSize, e2eClusterReadyTimeout, err, topicErr)
		}
		time.Sleep(50 * time.Millisecond) // retry interval, not an assertion
	}
	// The creation goes straight to the controller, so that the figure
	// leaves out the client's routing (a stale controller costs kgo a
	// retry and its backoff). The controller comes from an uncached
	// Metadata request; a broker that answered just before an election
	// may name the wrong one, which answers NOT_CONTROLLER: ask again.
	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions = e2eClusterPartitions
	rt.ReplicationFactor = e2eClusterSize
	rc := kmsg.NewCreateTopicsRequestTopicConfig()
	rc.Name, rc.Value = "min.insync.replicas", &minISR
	rt.Configs = append(rt.Configs, rc)
	create.Topics = append(create.Topics, rt)
	var createdAt time.Time
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		if err != nil {
			cancel()
			t.Fatalf("%s: metadata: %v", step, err)
		}
		createdAt = time.Now()
		created, err := create.RequestWith(ctx, cl.Broker(int(md.ControllerID)))
		answered := time.Since(createdAt)
		cancel()
		if err != nil {
			t.Fatalf("%s: CreateTopics to the controller (broker %d): %v", step, md.ControllerID, err)
		}
		if len(created.Topics) != 1 {
			t.Fatalf("%s: CreateTopics to the controller (broker %d): %d topics in the answer", step, md.ControllerID, len(created.Topics))
		}
		code := created.Topics[0].ErrorCode
		if code == kerr.NotController.Code && attempt < 20 {
			time.Sleep(50 * time.Millisecond) // retry interval, not an assertion
			continue
		}
		if code != 0 {
			t.Fatalf("%s: CreateTopics to broker %d: %v", step, md.ControllerID, kerr.ErrorForCode(code))
		}
		t.Logf("%s: CreateTopics answered by the controller (broker %d) in %v", step, md.ControllerID, answered.Round(100*time.Microsecond))
		break
	}
	state := e2eWaitFullISR(t, step, cl, topic, 10*time.Second)
	t.Logf("%s: CreateTopics sent to leaders and ISR=3 on every partition in Metadata: %v (benchmark figure); leaders %v, controller %d",
		step, time.Since(createdAt).Round(100*time.Microsecond), state.leaders, state.controller)
	for p := int32(0); p < e2eClusterPartitions; p++ {
		if len(state.replicas[p]) != e2eClusterSize {
			t.Fatalf("%s: partition %d has replicas %v, want %d", step, p, state.replicas[p], e2eClusterSize)
		}
	}

	// 2. 1000 acks=all records from the (default) idempotent producer.
	step = "step 2 (1000 acks=all records)"
	const n = 1000
	var records []*kgo.Record
	for i := 0; i < n; i++ {
		records = append(records, &kgo.Record{Topic: topic, Partition: int32(i % e2eClusterPartitions), Value: []byte(fmt.Sprintf("first-%06d", i))})
	}
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	results := cl.ProduceSync(ctx, records...)
	cancel()
	if err := results.FirstErr(); err != nil {
		t.Fatalf("%s: produce: %v", step, err)
	}
	t.Logf("%s: produced and acknowledged in %v", step, time.Since(started).Round(time.Millisecond))
	for _, r := range records {
		acked[string(r.Value)] = e2eAck{partition: r.Partition, offset: r.Offset}
	}
	read := e2eReadTopic(t, step, c, adm, topic)
	for p := int32(0); p < e2eClusterPartitions; p++ {
		want := n / e2eClusterPartitions
		if int(p) < n%e2eClusterPartitions {
			want++
		}
		if len(read[p]) != want {
			t.Errorf("%s: partition %d holds %d records", step, p, len(read[p]))
		}
		for i, r := range read[p] {
			want := fmt.Sprintf("first-%06d", i*e2eClusterPartitions+int(p))
			if r.Offset != int64(i) || string(r.Value) != want {
				t.Fatalf("%s: partition %d position %d: offset %d value %q, want offset %d value %q", step, p, i, r.Offset, r.Value, i, want)
			}
		}
	}
	e2eCheckAcked(t, step, read, acked)
	if t.Failed() {
		return
	}

	// 3. Kill -9 a partition leader under load: first one that is not the
	// controller (a partition failover only), then the controller, which
	// leads partitions too (a metadata quorum election first, then the
	// partition failover).
	step = "step 3a (kill -9 a leader that is not the controller)"
	state, err := e2eTopicState(cl, topic)
	if err != nil {
		t.Fatalf("%s: metadata: %v", step, err)
	}
	victim := int32(-1)
	for p := int32(0); p < e2eClusterPartitions; p++ {
		if l := state.leaders[p]; l != state.controller && victim < 0 {
			victim = l
		}
	}
	if victim < 0 {
		t.Fatalf("%s: the controller %d leads every partition: %v", step, state.controller, state.leaders)
	}
	leaderGap, acks := e2eFailover(t, step, c, cl, topic, victim, "leader-kill")
	merge(acks)
	e2eCheckAcked(t, step, e2eReadTopic(t, step, c, adm, topic), acked)
	if t.Failed() {
		return
	}

	step = "step 3b (kill -9 the controller, a leader too)"
	state, err = e2eTopicState(cl, topic)
	if err != nil {
		t.Fatalf("%s: metadata: %v", step, err)
	}
	controllerGap, acks := e2eFailover(t, step, c, cl, topic, state.controller, "controller-kill")
	merge(acks)
	e2eCheckAcked(t, step, e2eReadTopic(t, step, c, adm, topic), acked)
	if t.Failed() {
		return
	}

	// 4. Kill -9 a follower under load: a broker that leads nothing if
	// there is one (restarted brokers get no leadership back).
	step = "step 4 (kill -9 a follower)"
	state, err = e2eTopicState(cl, topic)
	if err != nil {
		t.Fatalf("%s: metadata: %v", step, err)
	}
	follower := state.replicas[0][0]
	for _, id := range state.replicas[0] {
		leads := false
		for _, l := range state.leaders {
			leads = leads || l == id
		}
		if !leads {
			follower = id
			break
		}
	}
	followerGap, acks := e2eFailover(t, step, c, cl, topic, follower, "follower-kill")
	merge(acks)
	e2eCheckAcked(t, step, e2eReadTopic(t, step, c, adm, topic), acked)
	if t.Failed() {
		return
	}
	t.Logf("kill -9 to next acknowledged produce: leader %v, controller and leader %v, follower %v",
		leaderGap.Round(time.Millisecond), controllerGap.Round(time.Millisecond), followerGap.Round(time.Millisecond))

	// 5. Stop all three gracefully, the controller last: each of the
	// others completes a controlled shutdown (the controller moves its
	// leaderships away first). The controller, alone in the quorum by
	// then, cannot commit its own fencing and stops after its
	// controlled-shutdown timeout.
	step = "step 5 (graceful stop, dump every replica)"
	state, err = e2eTopicState(cl, topic)
	if err != nil {
		t.Fatalf("%s: metadata: %v", step, err)
	}
	cl.Close()
	order := []int32{}
	for id := int32(1); id <= e2eClusterSize; id++ {
		if id != state.controller {
			order = append(order, id)
		}
	}
	order = append(order, state.controller)
	for i, id := range order {
		b := c.broker(id)
		began := time.Now()
		if err := b.stopWith(syscall.SIGTERM); err != nil {
			t.Errorf("%s: broker %d did not stop cleanly: %v", step, id, err)
		}
		t.Logf("%s: broker %d: SIGTERM to exit %v", step, id, time.Since(began).Round(time.Millisecond))
		if i < len(order)-1 && !strings.Contains(b.logTail(1<<20), "controlled shutdown: leaderships moved") {
			t.Errorf("%s: broker %d stopped without completing a controlled shutdown", step, id)
		}
	}
	dumps := make([]map[int32][]e2eDumpLine, len(c.brokers))
	for i, b := range c.brokers {
		dumps[i] = map[int32][]e2eDumpLine{}
		for p := int32(0); p < e2eClusterPartitions; p++ {
			dumps[i][p] = e2eRunDump(t, b, topic, p)
		}
	}
	for i := range c.brokers {
		e2eCheckDump(t, fmt.Sprintf("%s: broker %d", step, i+1), dumps[i], acked)
	}
	for p := int32(0); p < e2eClusterPartitions; p++ {
		for i := 1; i < len(c.brokers); i++ {
			if diff := e2eDiffDumps(dumps[0][p], dumps[i][p]); diff != "" {
				t.Errorf("%s: partition %d differs between broker 1 and broker %d: %s", step, p, i+1, diff)
			}
		}
	}
	t.Logf("%s: %d acknowledged records on all %d replicas", step, len(acked), len(c.brokers))

	// 6. No panics (the cleanup checks again after the final stop).
	for _, b := range c.brokers {
		b.checkLog()
	}
}

// e2eCheckDump checks that every acknowledged record is in a replica's
// dump at its partition and offset, and that no value appears twice.
func e2eCheckDump(t testing.TB, label string, dump map[int32][]e2eDumpLine, acked map[string]e2eAck) {
	t.Helper()
	at := map[string]e2eAck{}
	problems := 0
	report := func(format string, args ...any) {
		problems++
		if problems <= 10 {
			t.Errorf(label+": "+format, args...)
		}
	}
	for p, lines := range dump {
		for _, l := range lines {
			if l.Offset == nil {
				report("partition %d: a dump line without an offset", p)
				continue
			}
			var v string
			if err := json.Unmarshal(l.Value, &v); err != nil {
				report("partition %d offset %d: value %s: %v", p, *l.Offset, l.Value, err)
				continue
			}
			if prev, dup := at[v]; dup {
				report("record %q at %d[%d] and %d[%d]", v, prev.partition, prev.offset, p, *l.Offset)
			}
			at[v] = e2eAck{partition: p, offset: *l.Offset}
		}
	}
	missing := 0
	for v, a := range acked {
		got, ok := at[v]
		if !ok {
			missing++
			report("acknowledged record %q (%d[%d]) missing", v, a.partition, a.offset)
			continue
		}
		if got.partition != a.partition || got.offset != a.offset {
			report("acknowledged record %q at %d[%d] is at %d[%d]", v, a.partition, a.offset, got.partition, got.offset)
		}
	}
	if problems > 10 {
		t.Errorf("%s: %d problems in all, %d acknowledged records missing", label, problems, missing)
	}
}

// e2eDiffDumps describes the first difference between two replicas' dumps
// of a partition, or returns "".
func e2eDiffDumps(a, b []e2eDumpLine) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if *a[i].Offset != *b[i].Offset || string(a[i].Value) != string(b[i].Value) || string(a[i].Key) != string(b[i].Key) {
			return fmt.Sprintf("line %d: offset %d value %s vs offset %d value %s", i, *a[i].Offset, a[i].Value, *b[i].Offset, b[i].Value)
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%d records vs %d", len(a), len(b))
	}
	return ""
}

// TestE2EClusterFlagErrors: serve refuses a voter list it cannot use,
// naming the problem, before binding anything.
func TestE2EClusterFlagErrors(t *testing.T) {
	bin := e2eChronikBinary(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--id", "4", "--voters", "1@127.0.0.1:7001,2@127.0.0.1:7002"}, "--id 4 is not one of the voters"},
		{[]string{"--voters", "1@127.0.0.1:7001,127.0.0.1:7002"}, "is not id@host:port"},
		{[]string{"--voters", "x@127.0.0.1:7001"}, "is not a node id"},
		{[]string{"--voters", "1@127.0.0.1"}, "missing port"},
		{[]string{"--voters", "1@127.0.0.1:7001,1@127.0.0.1:7002"}, "appears twice"},
		{[]string{"--raft-addr", "127.0.0.1:7001"}, "--raft-addr needs --voters"},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		args := append([]string{"serve", "--kafka-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("chronik %s: err %v, output %q; want a failure mentioning %q", strings.Join(args, " "), err, out, tc.want)
		}
	}
}
