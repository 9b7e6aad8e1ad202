package main

// Every real client's group consumer against the three-node cluster, with
// the broker that coordinates the groups killed (-9) mid-run: kcat -G (two
// members, range; two static members, cooperative-sticky), kafka-python,
// confluent-kafka-python, kafkajs, sarama, franz-go classic (range; static
// cooperative-sticky) and franz-go KIP-848. The clients run at the same time
// on one cluster, each in its own group; the group names are chosen so
// that one broker coordinates every group, so one kill hits them all.
//
// The run, for every client at once:
//
//  1. the first half of the records is produced to a replication-factor-3
//     topic; each client's consumer starts and consumes and commits it (the
//     test waits until a fresh client reads those commits);
//  2. the coordinator's broker is killed; the next coordinator must answer
//     every commit acknowledged before the kill;
//  3. the second half is produced; each consumer goes on (its client finds
//     the new coordinator) until it has seen every record at least once and
//     commits;
//  4. a fresh client reads the group's committed offsets: they equal the
//     end offsets; then the Python and kafkajs admin clients read, list,
//     describe, reset and delete their groups through the new coordinator.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// e2eFailoverClient is one client's group consumer in the failover run.
type e2eFailoverClient struct {
	name  string
	group string // chosen by the test so that the victim coordinates it
	// run consumes env.topic through the group until it has seen env.total
	// distinct values and committed them, closes env.finished, waits for
	// env.checked (the test has read the final commits), does any admin
	// steps and returns. It runs in its own goroutine: failures are
	// returned, never t.Fatal.
	run func(ctx context.Context, env e2eFailoverEnv) error
}

// e2eFailoverEnv is what a client's run gets.
type e2eFailoverEnv struct {
	seeds    []string
	topic    string
	group    string
	total    int
	finished chan struct{} // closed by finish
	// finish is called by run once it has consumed and committed.
	finish  func()
	checked chan struct{} // closed by the test after the final offsets check
	// committed reads the group's committed offsets (sum over the topic's
	// partitions) with a fresh client.
	committed func(ctx context.Context) (int64, error)
	logf      func(string, ...any)
}

// TestE2EClusterGroupClientsCoordinatorKilled runs the file comment's
// schedule.
func TestE2EClusterGroupClientsCoordinatorKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three broker processes and runs every client")
	}
	const half = 30 // records per phase
	c := e2eStartCluster(t)
	cl := c.client(kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	topic := e2eUniqueTopic(t)
	e2eCreateRF3Topic(t, cl, topic, nil)
	e2eProduceValues(t, cl, topic, 0, half)

	clients := e2eFailoverClients(t, c)
	victim := e2eChooseGroups(t, cl, topic, clients)
	t.Logf("broker %d coordinates all %d groups", victim, len(clients))

	// Every run returns by this deadline (or, past consumption, once its
	// checked channel is closed), so no wait below is unbounded.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	envs := make([]e2eFailoverEnv, len(clients))
	var wg sync.WaitGroup
	defer func() {
		cancel() // ends every client still running (an early failure)
		for i := range envs {
			select {
			case <-envs[i].checked:
			default:
				close(envs[i].checked)
			}
		}
		wg.Wait()
	}()
	results := make([]chan error, len(clients))
	start := time.Now()
	for i, fc := range clients {
		envs[i] = e2eFailoverEnv{
			seeds: c.seeds(), topic: topic, group: fc.group, total: 2 * half,
			finished: make(chan struct{}), checked: make(chan struct{}),
			committed: func(ctx context.Context) (int64, error) {
				o, err := e2eGroupOffsets(ctx, c, fc.group)
				return e2eOffsetsSum(o, topic), err
			},
			logf: func(format string, args ...any) {
				t.Logf("%v %s: %s", time.Since(start).Round(time.Millisecond), fc.name, fmt.Sprintf(format, args...))
			},
		}
		envs[i].finish = func() {
			t.Logf("%s finished %v after the clients started", fc.name, time.Since(start).Round(time.Millisecond))
			close(envs[i].finished)
		}
		results[i] = make(chan error, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] <- fc.run(ctx, envs[i])
		}()
	}
	failed := map[int]bool{}
	fail := func(i int, format string, args ...any) {
		t.Errorf("%s (group %s): %s", clients[i].name, clients[i].group, fmt.Sprintf(format, args...))
		failed[i] = true
	}
	// A client that returned already has failed (it cannot have seen the
	// second half).
	returned := func(i int) bool {
		select {
		case err := <-results[i]:
			fail(i, "ended before the second half was produced: %v", err)
			return true
		default:
			return false
		}
	}

	// 1. Every group commits the first half.
	waiting := map[int]bool{}
	for i := range clients {
		waiting[i] = true
	}
	for len(waiting) > 0 && ctx.Err() == nil && time.Since(start) < 60*time.Second {
		for i := range waiting {
			if returned(i) {
				delete(waiting, i)
				continue
			}
			if n, err := envs[i].committed(ctx); err == nil && n == half {
				t.Logf("%s committed the first half %v after the clients started", clients[i].name, time.Since(start).Round(time.Millisecond))
				delete(waiting, i)
			}
		}
		time.Sleep(100 * time.Millisecond) // poll interval, not an assertion
	}
	for i := range waiting {
		fail(i, "the first %d records were not all committed within 60 s", half)
	}
	if len(failed) == len(clients) {
		t.FailNow()
	}
	t.Logf("every group committed the first half %v after the clients started", time.Since(start).Round(time.Millisecond))

	// 2. Kill the coordinator; every acknowledged commit survives.
	before := map[int]kadm.OffsetResponses{}
	for i := range clients {
		if !failed[i] {
			before[i] = e2eClusterFetchOffsets(t, c, clients[i].group)
		}
	}
	c.broker(victim).Kill()
	killedAt := time.Now()
	t.Logf("killed the coordinator, broker %d", victim)
	for i, b := range before {
		after := e2eClusterFetchOffsets(t, c, clients[i].group)
		b.Each(func(o kadm.OffsetResponse) {
			if got, ok := after.Lookup(o.Topic, o.Partition); !ok || got.At < o.At {
				fail(i, "commit %s[%d] at %d acknowledged before the kill; after it: %+v (present %v)", o.Topic, o.Partition, o.At, got, ok)
			}
		})
	}
	t.Logf("the next coordinators answered every group's commits %v after the kill", time.Since(killedAt).Round(time.Millisecond))

	// 3. The second half, through the survivors.
	e2eProduceValues(t, c.client(kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression())), topic, half, 2*half)

	// 4. Each consumer finishes; its group's commits equal the end offsets;
	// then its admin steps (if any) run.
	ends := e2eClusterEndOffsets(t, c, topic)
	for i, fc := range clients {
		if failed[i] {
			continue
		}
		// run always returns by ctx's deadline, so this wait ends.
		select {
		case <-envs[i].finished:
		case err := <-results[i]:
			fail(i, "ended without finishing: %v", err)
			continue
		}
		final := e2eClusterFetchOffsets(t, c, fc.group)
		for p, end := range ends {
			if got, ok := final.Lookup(topic, p); !ok || got.At != end {
				fail(i, "committed offset of %s[%d] after the run: %+v (present %v), want the end offset %d", topic, p, got, ok, end)
			}
		}
		close(envs[i].checked) // its admin steps run while the next is checked
	}
	for i := range clients {
		if !failed[i] {
			if err := <-results[i]; err != nil {
				fail(i, "%v", err)
			}
		}
	}
}

// e2eFailoverClients lists the clients of the failover run; the groups are
// filled in by e2eChooseGroups.
func e2eFailoverClients(t *testing.T, c *e2eCluster) []*e2eFailoverClient {
	// static gives each member a group.instance.id of its own.
	franz := func(members int, static bool, opts ...kgo.Opt) func(context.Context, e2eFailoverEnv) error {
		return func(ctx context.Context, env e2eFailoverEnv) error {
			var seq atomic.Int32
			newClient := func(o ...kgo.Opt) *kgo.Client {
				if static {
					o = append(o, kgo.InstanceID(fmt.Sprintf("%s-static-%d", env.group, seq.Add(1))))
				}
				return c.client(o...)
			}
			if _, err := e2eGroupMembers(ctx, newClient, env.group, env.topic, members, env.total, env.logf, opts...); err != nil {
				return err
			}
			env.finish()
			e2eWaitChecked(env)
			return nil
		}
	}
	kcat := func(extra func(member int) []string) func(context.Context, e2eFailoverEnv) error {
		return func(ctx context.Context, env e2eFailoverEnv) error {
			g := e2eStartKcatGroup(ctx, strings.Join(env.seeds, ","), env.topic, env.group, 2, extra)
			err := g.waitCommitted(ctx, env.total, env.committed)
			if stderr := g.stop(); err != nil {
				return fmt.Errorf("%w; kcat stderr:\n%s", err, stderr)
			}
			env.finish()
			e2eWaitChecked(env)
			return nil
		}
	}
	all := []*e2eFailoverClient{
		{name: "kcat range", run: kcat(nil)},
		{name: "kcat cooperative-sticky static", run: kcat(func(m int) []string {
			return []string{"-X", "partition.assignment.strategy=cooperative-sticky", "-X", fmt.Sprintf("group.instance.id=kcat-static-%d", m)}
		})},
		{name: "kafka-python", run: func(ctx context.Context, env e2eFailoverEnv) error {
			want := fmt.Sprintf("committed %d\nlisted True\ndescribed Empty consumer\ndeleted NoError False\n", env.total)
			return e2eFailoverScript(ctx, env, want, e2ePython, "testdata/kafka_python_group.py")
		}},
		{name: "confluent-kafka", run: func(ctx context.Context, env e2eFailoverEnv) error {
			return e2eFailoverScript(ctx, env, "listed True\n", e2ePython, "testdata/confluent_kafka_group.py")
		}},
		{name: "kafkajs", run: func(ctx context.Context, env e2eFailoverEnv) error {
			// resetOffsets to the earliest commits -2 for each partition.
			want := fmt.Sprintf("committed %d\nreset -2,-2,-2\nlisted true\ndeleted true\n", env.total)
			return e2eFailoverScript(ctx, env, want, "node", "testdata/kafkajs/group_failover.js")
		}},
		{name: "sarama", run: e2eFailoverSarama},
		{name: "franz-go range", run: franz(2, false, kgo.Balancers(kgo.RangeBalancer()))},
		{name: "franz-go cooperative-sticky static", run: franz(2, true, kgo.Balancers(kgo.CooperativeStickyBalancer()))},
		{name: "franz-go KIP-848", run: franz(2, false, kgo.ServerSideBalancer())},
	}
	// A client that is not installed is left out (CI installs them all).
	var out []*e2eFailoverClient
	for _, fc := range all {
		if why := e2eClientMissing(fc.name); why != "" {
			t.Logf("%s left out: %s", fc.name, why)
			continue
		}
		out = append(out, fc)
	}
	return out
}

// e2eClientMissing says why the named client cannot run here ("" if it can).
func e2eClientMissing(name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	python := func(module string) string {
		if out, err := exec.CommandContext(ctx, e2ePython, "-c", "import "+module).CombinedOutput(); err != nil {
			return fmt.Sprintf("%s not importable by %s (%v: %s)", module, e2ePython, err, bytes.TrimSpace(out))
		}
		return ""
	}
	switch {
	case strings.HasPrefix(name, "kcat"):
		if _, err := exec.LookPath("kcat"); err != nil {
			return "kcat not on PATH: install kcat"
		}
	case name == "kafka-python":
		return python("kafka")
	case name == "confluent-kafka":
		return python("confluent_kafka")
	case name == "kafkajs":
		return kafkaJSMissing()
	}
	return ""
}

// e2eWaitChecked waits for the test's final offsets check (the test closes
// checked when it ends, whatever happened).
func e2eWaitChecked(env e2eFailoverEnv) {
	<-env.checked
}

// e2eChooseGroups names each client's group so that one broker, the
// victim it returns, coordinates them all: the candidates are
// "<client>-<topic>-<n>" and the first one whose FindCoordinator answer is
// the victim wins.
func e2eChooseGroups(t *testing.T, cl *kgo.Client, topic string, clients []*e2eFailoverClient) int32 {
	t.Helper()
	const candidates = 40 // a third of them, on average, fit
	var names []string
	for _, fc := range clients {
		for n := range candidates {
			names = append(names, fmt.Sprintf("%s-%s-%d", strings.ReplaceAll(fc.name, " ", "-"), topic, n))
		}
	}
	adm := kadm.NewClient(cl)
	ctx := e2eTestCtx(t, 30*time.Second)
	var coords kadm.FindCoordinatorResponses
	for {
		// The first lookup creates __consumer_offsets; its partitions get
		// leaders shortly after (COORDINATOR_NOT_AVAILABLE until then).
		coords = adm.FindGroupCoordinators(ctx, names...)
		if coords.Error() == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("find the coordinators: %v", coords.Error())
		}
		time.Sleep(100 * time.Millisecond) // poll interval, not an assertion
	}
	victim := coords[names[0]].NodeID
	for i, fc := range clients {
		for _, name := range names[i*candidates : (i+1)*candidates] {
			if coords[name].NodeID == victim {
				fc.group = name
				break
			}
		}
		if fc.group == "" {
			t.Fatalf("none of %d group names for %s is coordinated by broker %d", candidates, fc.name, victim)
		}
	}
	return victim
}

// e2eGroupOffsets reads a group's committed offsets once with a fresh
// client (a client that has cached the killed coordinator would keep
// dialing it).
func e2eGroupOffsets(ctx context.Context, c *e2eCluster, group string) (kadm.OffsetResponses, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.DialTimeout(time.Second), kgo.RetryTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("new client: %w", err)
	}
	defer cl.Close()
	offsets, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err == nil {
		err = offsets.Error()
	}
	return offsets, err
}

// e2eOffsetsSum is the sum of the committed offsets of topic's partitions.
func e2eOffsetsSum(o kadm.OffsetResponses, topic string) int64 {
	var sum int64
	o.Each(func(r kadm.OffsetResponse) {
		if r.Topic == topic && r.At > 0 {
			sum += r.At
		}
	})
	return sum
}

// e2eClusterEndOffsets returns the end offset of each of topic's
// partitions, read with a fresh client.
func e2eClusterEndOffsets(t *testing.T, c *e2eCluster, topic string) map[int32]int64 {
	t.Helper()
	cl := c.client()
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListEndOffsets(e2eTestCtx(t, 30*time.Second), topic)
	if err != nil || listed.Error() != nil {
		t.Fatalf("list end offsets of %s: %v %v", topic, err, listed.Error())
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	if len(ends) != e2eClusterPartitions {
		t.Fatalf("end offsets of %d partitions, want %d: %v", len(ends), e2eClusterPartitions, ends)
	}
	return ends
}

// e2eKcatGroup is kcat -G members of one group, run in the background.
type e2eKcatGroup struct {
	mu      sync.Mutex
	seen    map[string]bool
	counts  []int // deliveries per member
	procs   []*exec.Cmd
	stderrs []*bytes.Buffer
	readers sync.WaitGroup
	errs    []error

	stopOnce sync.Once
	stopped  string // stop's result
}

// e2eStartKcatGroup starts members kcat -G consumers of topic in group
// (auto commit every 100 ms, from the earliest offset without a commit);
// extra, if set, gives a member's extra arguments. It does not wait for
// them to join.
func e2eStartKcatGroup(ctx context.Context, brokers, topic, group string, members int, extra func(member int) []string) *e2eKcatGroup {
	g := &e2eKcatGroup{seen: map[string]bool{}, counts: make([]int, members)}
	for m := range members {
		args := []string{"-b", brokers, "-G", group, topic, "-J", "-q", "-u", "-X", "auto.offset.reset=earliest",
			"-X", "auto.commit.interval.ms=100", "-X", "client.id=kcat-" + fmt.Sprint(m)}
		if extra != nil {
			args = append(args, extra(m)...)
		}
		cmd := exec.CommandContext(ctx, "kcat", args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, fmt.Errorf("start kcat member %d: %w", m, err))
			g.mu.Unlock()
			continue
		}
		g.procs = append(g.procs, cmd)
		g.stderrs = append(g.stderrs, &stderr)
		g.readers.Add(1)
		go func() {
			defer g.readers.Done()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				var r e2eKcatRecord
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Payload == nil {
					g.mu.Lock()
					g.errs = append(g.errs, fmt.Errorf("kcat member %d printed %q: %v", m, sc.Text(), err))
					g.mu.Unlock()
					continue
				}
				g.mu.Lock()
				g.seen[*r.Payload] = true
				g.counts[m]++
				g.mu.Unlock()
			}
		}()
	}
	return g
}

// state returns the distinct values seen, the deliveries per member and
// the errors so far.
func (g *e2eKcatGroup) state() (int, []int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen), append([]int(nil), g.counts...), errors.Join(g.errs...)
}

// waitCommitted waits until the members have seen total distinct values
// and committed reports total (kcat commits in the background).
func (g *e2eKcatGroup) waitCommitted(ctx context.Context, total int, committed func(context.Context) (int64, error)) error {
	for {
		seen, _, err := g.state()
		if err != nil {
			return err
		}
		if seen >= total {
			if n, err := committed(ctx); err == nil && n == int64(total) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			n, err := committed(context.Background())
			return fmt.Errorf("kcat members saw %d distinct values of %d; committed %d (%v)", seen, total, n, err)
		case <-time.After(100 * time.Millisecond): // poll interval, not an assertion
		}
	}
}

// values returns a copy of the distinct values seen.
func (g *e2eKcatGroup) values() map[string]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]bool, len(g.seen))
	for v := range g.seen {
		out[v] = true
	}
	return out
}

// stop ends the members (SIGTERM: kcat leaves the group and exits), waits
// for them and returns their stderr. Calls after the first return the
// same.
func (g *e2eKcatGroup) stop() string {
	g.stopOnce.Do(func() {
		for _, p := range g.procs {
			_ = p.Process.Signal(syscall.SIGTERM)
		}
		g.readers.Wait()
		var out strings.Builder
		for i, p := range g.procs {
			err := p.Wait()
			fmt.Fprintf(&out, "member %d (exit %v):\n%s\n", i, err, g.stderrs[i])
		}
		g.stopped = out.String()
	})
	return g.stopped
}

// e2eFailoverScript runs a client script (argv: BOOTSTRAP TOPIC GROUP TOTAL
// TIMEOUT_S) that prints "consumed DISTINCT DELIVERIES" once it has seen
// and committed every value, then waits for a line on stdin before its
// admin steps, whose output must be wantAfter.
func e2eFailoverScript(ctx context.Context, env e2eFailoverEnv, wantAfter string, argv ...string) error {
	args := append(argv[1:], strings.Join(env.seeds, ","), env.topic, env.group, fmt.Sprint(env.total), "90")
	cmd := exec.CommandContext(ctx, argv[0], args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("stdout pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %v: %w", argv, err)
	}
	r := bufio.NewReader(stdout)
	first, err := r.ReadString('\n')
	var distinct, deliveries int
	if _, scanErr := fmt.Sscanf(first, "consumed %d %d\n", &distinct, &deliveries); err != nil || scanErr != nil || distinct != env.total {
		rest, _ := io.ReadAll(r)
		werr := cmd.Wait()
		return fmt.Errorf("printed %q (want consumed %d ...) then %q; exit %v; stderr:\n%s", first, env.total, rest, werr, stderr.String())
	}
	env.logf("consumed %d distinct values in %d deliveries", distinct, deliveries)
	env.finish()
	e2eWaitChecked(env)
	if ctx.Err() != nil {
		return ctx.Err() // the test ended early; the script was killed
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		return fmt.Errorf("write stdin: %w", err)
	}
	rest, _ := io.ReadAll(r)
	if os.Getenv("CHRONIK_E2E_CLIENT_LOGS") != "" {
		defer func() { env.logf("stderr:\n%s", stderr.String()) }()
	}
	if err := cmd.Wait(); err != nil || string(rest) != wantAfter {
		return fmt.Errorf("admin steps printed:\n%s\nwant:\n%s\nexit %v; stderr:\n%s", rest, wantAfter, err, stderr.String())
	}
	return nil
}

// e2eFailoverSarama consumes through a sarama ConsumerGroup (marking each
// message, auto commit every 100 ms, and a commit after each message).
func e2eFailoverSarama(ctx context.Context, env e2eFailoverEnv) error {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	// The handler's Commit waits behind the fetch long poll on the same
	// connection (twice MaxWaitTime, 500 ms by default): keep it short.
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	if os.Getenv("CHRONIK_E2E_CLIENT_LOGS") != "" {
		sarama.Logger = e2eLogfWriter(env.logf)
	}
	cg, err := sarama.NewConsumerGroup(env.seeds, env.group, cfg)
	if err != nil {
		return fmt.Errorf("sarama consumer group: %w", err)
	}
	h := &e2eSaramaHandler{want: env.total, done: make(chan struct{})}
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		last := ""
		for runCtx.Err() == nil {
			// Consume returns at every rebalance (and with an error when a
			// join fails, for example while the coordinator moves); the
			// loop joins again, as sarama's examples do.
			if err := cg.Consume(runCtx, []string{env.topic}, h); err != nil && runCtx.Err() == nil {
				if err.Error() != last {
					env.logf("Consume: %v (joining again; repeats not logged)", err)
					last = err.Error()
				}
				time.Sleep(100 * time.Millisecond) // back off before joining again
			}
		}
		errc <- nil
	}()
	select {
	case <-h.done:
	case <-ctx.Done():
	}
	stop()
	<-errc
	// Close commits the marked offsets (auto commit is on).
	if err := cg.Close(); err != nil {
		return fmt.Errorf("sarama close: %w", err)
	}
	if got := h.count(); got != env.total {
		return fmt.Errorf("sarama consumed %d distinct values, want %d", got, env.total)
	}
	env.finish()
	e2eWaitChecked(env)
	return nil
}

type e2eLogfWriter func(string, ...any)

func (f e2eLogfWriter) Print(v ...any)                 { f("%s", fmt.Sprint(v...)) }
func (f e2eLogfWriter) Printf(format string, v ...any) { f(format, v...) }
func (f e2eLogfWriter) Println(v ...any)               { f("%s", fmt.Sprint(v...)) }
