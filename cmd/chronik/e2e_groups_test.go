package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// e2eGroupConsume runs members group consumers of topic in one group (each
// a client from newClient) until the distinct records seen (by value)
// reach want or timeout passes, commits what they consumed, closes them,
// and returns every value seen, in the order seen. Any failed commit fails
// the test.
func e2eGroupConsume(t *testing.T, newClient func(...kgo.Opt) *kgo.Client, group, topic string, members int, want int, timeout time.Duration, opts ...kgo.Opt) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	order, err := e2eGroupMembers(ctx, newClient, group, topic, members, want, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return order
}

// e2eGroupMembers is e2eGroupConsume without a testing.T, for goroutines:
// it returns an error if a commit failed or fewer than want distinct
// records were seen before ctx ended. With logf set, a failed commit other
// than a member's last one is only logged: the client retries it with the
// next poll's offsets (a coordinator failover fails commits in flight).
func e2eGroupMembers(ctx context.Context, newClient func(...kgo.Opt) *kgo.Client, group, topic string, members int, want int, logf func(string, ...any), opts ...kgo.Opt) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	seen := map[string]bool{}
	var order []string
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for m := range members {
		cl := newClient(append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID(fmt.Sprintf("member-%d", m))}, opts...)...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					seen[string(r.Value)] = true
					order = append(order, string(r.Value))
					if len(seen) >= want {
						cancel()
					}
					mu.Unlock()
				})
				if err := cl.CommitUncommittedOffsets(context.Background()); err != nil && ctx.Err() == nil {
					if logf == nil {
						fail(fmt.Errorf("group %s member %d commit: %w", group, m, err))
					} else {
						logf("group %s member %d commit (retried with the next poll): %v", group, m, err)
					}
				}
			}
			if err := cl.CommitUncommittedOffsets(context.Background()); err != nil {
				fail(fmt.Errorf("group %s member %d final commit: %w", group, m, err))
			}
			cl.LeaveGroup()
			cl.Close()
		}()
	}
	wg.Wait()
	if len(seen) < want {
		errs = append(errs, fmt.Errorf("group %s saw %d distinct records of %d", group, len(seen), want))
	}
	return order, errors.Join(errs...)
}

// TestE2EGroupsFranz: two franz-go group members share a four-partition
// topic and together consume every record; their commits survive a broker
// restart, so a new member of the group gets only what was produced after,
// and kadm lists, describes and fetches the group's offsets. Two members
// with the range balancer, and two static members, do the same.
func TestE2EGroupsFranz(t *testing.T) {
	b := e2eStartBroker(t)
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 4, nil)
	cl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	e2eProduceValues(t, cl, topic, 0, 200)
	group := "g-" + topic
	single := func(opts ...kgo.Opt) *kgo.Client { return e2eNewClient(t, b, opts...) }
	e2eGroupConsume(t, single, group, topic, 2, 200, 60*time.Second)

	ctx := e2eTestCtx(t, 30*time.Second)
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 200 {
		t.Fatalf("committed offsets sum to %d, want 200: %v", total, offsets)
	}

	// chronik dump decodes the group's records in __consumer_offsets: its
	// latest offset records add up to the committed offsets.
	latest := map[int32]int64{}
	for p := int32(0); p < 50; p++ {
		for _, d := range e2eRunDump(t, b, "__consumer_offsets", p) {
			if d.Group != nil && d.Group.Kind == "offset" && d.Group.Key.Group == group && d.Group.Value != nil {
				latest[d.Group.Key.Partition] = d.Group.Value.Offset
			}
		}
	}
	var dumped int64
	for _, o := range latest {
		dumped += o
	}
	if dumped != 200 {
		t.Fatalf("chronik dump shows the group's latest offsets summing to %d, want 200: %v", dumped, latest)
	}

	b.Kill() // acknowledged commits survive a kill -9
	b.Restart()
	adm = e2eNewAdmin(t, b)
	cl = e2eNewClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	e2eProduceValues(t, cl, topic, 200, 250)
	after := e2eGroupConsume(t, single, group, topic, 1, 50, 60*time.Second)
	sort.Strings(after)
	for _, v := range after {
		if v < "v200" {
			t.Fatalf("record %s consumed again after its commit and a restart", v)
		}
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil || !slices.Contains(listed.Groups(), group) {
		t.Fatalf("list groups: %v %v", listed, err)
	}
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil || described[group].Err != nil || described[group].State != "Empty" {
		t.Fatalf("describe group: %+v %v", described[group], err)
	}

	// The range balancer, and static members (group.instance.id) with the
	// default cooperative-sticky one: two members share the topic and
	// commit everything.
	for _, tc := range []struct {
		name   string
		static bool
		opts   []kgo.Opt
	}{
		{"range", false, []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}},
		{"static", true, nil},
	} {
		g := tc.name + "-" + topic
		var seq int
		newClient := func(opts ...kgo.Opt) *kgo.Client {
			if tc.static {
				seq++ // members are created one after another
				opts = append(opts, kgo.InstanceID(fmt.Sprintf("static-%d", seq)))
			}
			return e2eNewClient(t, b, opts...)
		}
		e2eGroupConsume(t, newClient, g, topic, 2, 250, 60*time.Second, tc.opts...)
		offsets, err := adm.FetchOffsets(ctx, g)
		if err != nil || offsets.Error() != nil {
			t.Fatalf("%s: fetch offsets: %v %v", tc.name, err, offsets.Error())
		}
		var sum int64
		offsets.Each(func(o kadm.OffsetResponse) { sum += o.At })
		if sum != 250 {
			t.Fatalf("%s: committed offsets sum to %d, want 250: %v", tc.name, sum, offsets)
		}
	}
}

// TestE2EGroupsKcatAndPython: kcat's balanced consumer (-G) consumes a
// topic and resumes from its group's commit, also with the
// cooperative-sticky assignor and a static member id; two kcat members
// share the topic (e2eKcatPairRebalance); kafka-python's
// KafkaConsumer commits in a group, and its KafkaAdminClient lists,
// describes, fetches the offsets of and deletes groups.
func TestE2EGroupsKcatAndPython(t *testing.T) {
	kcat := e2eKcatPath(t)
	b := e2eStartBroker(t)
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 2, nil)
	// Uncompressed: kafka-python reads it without the snappy library.
	cl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	consume := func(group string, extra ...string) []string {
		args := append([]string{"-G", group, topic, "-e", "-J", "-q", "-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=100"}, extra...)
		var vals []string
		for _, r := range e2eParseKcatJSON(t, e2eKcat(t, kcat, b, "", args...)) {
			vals = append(vals, *r.Payload)
		}
		sort.Strings(vals)
		return vals
	}
	members := []struct {
		name  string
		extra []string
	}{
		{"range", nil},
		{"cooperative-sticky", []string{"-X", "partition.assignment.strategy=cooperative-sticky"}},
		{"static", []string{"-X", "group.instance.id=kcat-static-1"}},
	}
	e2eProduceValues(t, cl, topic, 0, 40)
	for _, tc := range members {
		group := "kcat-" + tc.name + "-" + topic
		if got := consume(group, tc.extra...); len(got) != 40 {
			t.Fatalf("%s: kcat -G consumed %d records, want 40: %v", tc.name, len(got), got)
		}
	}
	e2eProduceValues(t, cl, topic, 40, 50)
	for _, tc := range members {
		group := "kcat-" + tc.name + "-" + topic
		got := consume(group, tc.extra...)
		if len(got) != 10 || got[0] != "v040" || got[9] != "v049" {
			t.Fatalf("%s: kcat -G after its commit consumed %v, want v040-v049", tc.name, got)
		}
	}
	e2eKcatPairRebalance(t, b, adm, cl, topic, consume)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, e2ePython, "-c", "import kafka").CombinedOutput(); err != nil {
		t.Skipf("kafka-python not importable by %s: install python3-kafka (apt-get install -y python3-kafka) (%v: %s)", e2ePython, err, bytes.TrimSpace(out))
	}
	script := `
import sys
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
bootstrap, topic, kcat_group = sys.argv[1], sys.argv[2], sys.argv[3]
c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="py-" + topic, auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=5000)
n = sum(1 for _ in c)
c.commit()
c.close()
a = KafkaAdminClient(bootstrap_servers=bootstrap)
groups = sorted(g for g, _ in a.list_consumer_groups())
offs = a.list_consumer_group_offsets("py-" + topic)
desc = a.describe_consumer_groups([kcat_group])[0]
deleted = a.delete_consumer_groups(["py-" + topic])
after = sorted(g for g, _ in a.list_consumer_groups())
print("consumed", n)
print("committed", sum(o.offset for o in offs.values()))
print("listed", "py-" + topic in groups, kcat_group in groups)
print("described", desc.group, desc.state, desc.protocol_type)
print("deleted", deleted[0][1].__name__, "py-" + topic in after)
`
	ctx2, cancel2 := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel2()
	kcatGroup := "kcat-range-" + topic
	out, err := exec.CommandContext(ctx2, e2ePython, "-c", script, b.Addr(), topic, kcatGroup).CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-python groups: %v\n%s", err, out)
	}
	want := "consumed 70\ncommitted 70\nlisted True True\ndescribed " + kcatGroup + " Empty consumer\ndeleted NoError False\n"
	if string(out) != want {
		t.Fatalf("kafka-python groups printed:\n%s\nwant:\n%s", out, want)
	}
}

// TestE2EClusterGroups: a franz-go group on the three-node cluster; the
// coordinator's broker is killed mid-run. Every commit acknowledged before
// the kill is still there after it (the new coordinator loaded it from
// the replicated __consumer_offsets), and the group goes on to consume
// every record (at least once).
func TestE2EClusterGroups(t *testing.T) {
	c := e2eStartCluster(t)
	cl := c.client(kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	adm := kadm.NewClient(cl)
	topic := e2eUniqueTopic(t)
	ctx := e2eTestCtx(t, 120*time.Second)
	e2eCreateRF3Topic(t, cl, topic, nil)
	e2eProduceValues(t, cl, topic, 0, 300)
	group := "g-" + topic
	e2eGroupConsume(t, c.client, group, topic, 2, 150, 60*time.Second)
	before, err := adm.FetchOffsets(ctx, group)
	if err != nil || before.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, before.Error())
	}
	coords := adm.FindGroupCoordinators(ctx, group)
	if coords[group].Err != nil {
		t.Fatalf("find coordinator: %+v", coords[group])
	}
	victim := coords[group].NodeID
	c.broker(victim).Kill()
	t.Logf("killed coordinator %d", victim)

	// The next coordinator answers with every acknowledged commit.
	after := e2eClusterFetchOffsets(t, c, group)
	before.Each(func(o kadm.OffsetResponse) {
		got, ok := after.Lookup(o.Topic, o.Partition)
		if !ok || got.At < o.At {
			t.Fatalf("commit %s-%d at %d acknowledged before the kill; after it %+v", o.Topic, o.Partition, o.At, got)
		}
	})
	var committed int64
	before.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed < 150 || committed > 300 {
		t.Fatalf("committed offsets sum to %d before the kill, want 150-300", committed)
	}
	if committed < 300 {
		e2eGroupConsume(t, c.client, group, topic, 2, int(300-committed), 90*time.Second)
	}
	final := e2eClusterFetchOffsets(t, c, group)
	var total int64
	final.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 300 {
		t.Fatalf("committed offsets sum to %d after consuming everything, want 300", total)
	}
	c.broker(victim).Restart()
}

// e2eClusterFetchOffsets fetches a group's committed offsets from the
// cluster, trying again (bounded) with a new client each time: after a
// broker's kill the brokers name it as the coordinator until it is fenced
// (its session timeout), a seed may be the dead broker, and franz-go keeps
// a coordinator it cached through dial errors.
func e2eClusterFetchOffsets(t *testing.T, c *e2eCluster, group string) kadm.OffsetResponses {
	t.Helper()
	ctx := e2eTestCtx(t, 60*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		cl := c.client()
		offsets, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
		cl.Close()
		if err == nil && offsets.Error() == nil {
			return offsets
		}
		if time.Now().After(deadline) {
			t.Fatalf("no coordinator answered the offsets of %s within 30s: %v %v", group, err, offsets.Error())
		}
		time.Sleep(200 * time.Millisecond) // poll interval, not an assertion
	}
}

// TestE2EGroupsKafkaJSSaramaConfluent: kafkajs' consumer.run and admin
// (fetchOffsets, resetOffsets, listGroups, deleteGroups), sarama's
// ConsumerGroup, and confluent-kafka-python's Consumer (and its
// AdminClient's list of groups) each consume a two-partition topic through
// a group and commit.
func TestE2EGroupsKafkaJSSaramaConfluent(t *testing.T) {
	b := e2eStartBroker(t)
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 2, nil)
	cl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	const n = 40
	e2eProduceValues(t, cl, topic, 0, n)
	committed := func(group string) int64 {
		t.Helper()
		offsets, err := adm.FetchOffsets(e2eTestCtx(t, 20*time.Second), group)
		if err != nil || offsets.Error() != nil {
			t.Fatalf("fetch offsets of %s: %v %v", group, err, offsets.Error())
		}
		var total int64
		offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
		return total
	}

	t.Run("kafkajs", func(t *testing.T) {
		if why := kafkaJSMissing(); why != "" {
			t.Skip(why)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "node", "testdata/kafkajs/group.js", b.Addr(), topic, fmt.Sprint(n), "kjs-"+topic).CombinedOutput()
		want := fmt.Sprintf("consumed %d\ncommitted %d\nreset -2,-2\nlisted true\ndeleted true\n", n, n)
		if err != nil || string(out) != want {
			t.Fatalf("kafkajs group: %v\n%s\nwant:\n%s", err, out, want)
		}
	})

	t.Run("sarama", func(t *testing.T) {
		cfg := sarama.NewConfig()
		cfg.Version = sarama.V3_6_0_0
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		cfg.Consumer.Offsets.AutoCommit.Enable = false
		// The handler's Commit waits behind the fetch long poll on the same
		// connection (twice MaxWaitTime, 500 ms by default): keep it short.
		cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
		group := "sarama-" + topic
		cg, err := sarama.NewConsumerGroup([]string{b.Addr()}, group, cfg)
		if err != nil {
			t.Fatalf("sarama consumer group: %v", err)
		}
		h := &e2eSaramaHandler{want: n, done: make(chan struct{})}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			for ctx.Err() == nil {
				if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		select {
		case <-h.done:
		case <-ctx.Done():
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("sarama consume: %v", err)
		}
		if err := cg.Close(); err != nil {
			t.Fatalf("sarama close: %v", err)
		}
		if got := h.count(); got != n {
			t.Fatalf("sarama consumed %d distinct records, want %d", got, n)
		}
		if got := committed(group); got != n {
			t.Fatalf("sarama committed %d, want %d", got, n)
		}
	})

	t.Run("confluent-kafka", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, e2ePython, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
			t.Skipf("confluent-kafka not importable by %s: install python3-confluent-kafka (%v: %s)", e2ePython, err, bytes.TrimSpace(out))
		}
		script := `
import sys, time
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
bootstrap, topic, group, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe([topic])
seen = set()
deadline = time.time() + 60
while len(seen) < n and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    seen.add(m.value())
c.commit(asynchronous=False)
c.close()
print("consumed", len(seen))
a = AdminClient({"bootstrap.servers": bootstrap})
if hasattr(a, "list_consumer_groups"):  # confluent-kafka >= 2.0
    ids = [g.group_id for g in a.list_consumer_groups(request_timeout=20).result(timeout=30).valid]
else:  # older releases (Debian's 1.7) have only list_groups
    ids = [g.id for g in a.list_groups(timeout=20)]
print("listed", group in ids)
`
		group := "confluent-" + topic
		ctx2, cancel2 := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel2()
		out, err := exec.CommandContext(ctx2, e2ePython, "-c", script, b.Addr(), topic, group, fmt.Sprint(n)).CombinedOutput()
		if err != nil || string(out) != fmt.Sprintf("consumed %d\nlisted True\n", n) {
			t.Fatalf("confluent-kafka group: %v\n%s", err, out)
		}
		if got := committed(group); got != n {
			t.Fatalf("confluent-kafka committed %d, want %d", got, n)
		}
	})
}

// e2eSaramaHandler consumes until want distinct records were seen, marking
// and committing each claim's messages.
type e2eSaramaHandler struct {
	mu   sync.Mutex
	seen map[string]bool
	want int
	done chan struct{}
	once sync.Once
}

func (h *e2eSaramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *e2eSaramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *e2eSaramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.mu.Lock()
		if h.seen == nil {
			h.seen = map[string]bool{}
		}
		h.seen[string(msg.Value)] = true
		reached := len(h.seen) >= h.want
		h.mu.Unlock()
		s.MarkMessage(msg, "")
		s.Commit()
		if reached {
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

func (h *e2eSaramaHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

// TestE2ECompactedTopicRefusesKeyless: a topic created with
// cleanup.policy=compact takes keyed records and refuses a keyless one with
// INVALID_RECORD (franz-go), and describes its policy.
func TestE2ECompactedTopicRefusesKeyless(t *testing.T) {
	b := e2eStartBroker(t)
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	compact := "compact"
	e2eCreateTopic(t, adm, topic, 1, map[string]*string{"cleanup.policy": &compact})
	cl := e2eNewClient(t, b, kgo.RecordRetries(0))
	ctx := e2eTestCtx(t, 30*time.Second)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("keyed record: %v", err)
	}
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record to a compacted topic: %v, want INVALID_RECORD", err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != "compact") {
			t.Fatalf("cleanup.policy described as %v", c.Value)
		}
	}
}

// TestE2EGroupsFranzKIP848: two franz-go members opted in to KIP-848
// (kgo.ServerSideBalancer) share a four-partition topic through
// ConsumerGroupHeartbeat: together they consume every record, their
// commits (checked by member epoch) add up, and the group is listed with
// type consumer and described by ConsumerGroupDescribe.
// TestE2EGroupFlags: the serve flags of the group coordinator reach it:
// __consumer_offsets is created with --offsets-topic-num-partitions, and a
// group works with --group-initial-rebalance-delay-ms 0 (the time a lone
// member takes to consume is logged, not asserted).
func TestE2EGroupFlags(t *testing.T) {
	b := e2eStartBroker(t, "--offsets-topic-num-partitions", "3", "--group-initial-rebalance-delay-ms", "0")
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 1, nil)
	cl := e2eNewClient(t, b)
	e2eProduceValues(t, cl, topic, 0, 1)
	began := time.Now()
	single := func(opts ...kgo.Opt) *kgo.Client { return e2eNewClient(t, b, opts...) }
	e2eGroupConsume(t, single, "flags-"+topic, topic, 1, 1, 20*time.Second)
	t.Logf("one member joined and consumed in %v", time.Since(began))
	ctx := e2eTestCtx(t, 10*time.Second)
	md, err := adm.Metadata(ctx, "__consumer_offsets")
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if td, ok := md.Topics["__consumer_offsets"]; !ok || len(td.Partitions) != 3 || !td.IsInternal {
		t.Fatalf("__consumer_offsets: %+v, want 3 partitions, internal", td)
	}
	described, err := adm.DescribeGroups(ctx, "flags-"+topic)
	if err != nil || described.Error() != nil {
		t.Fatalf("describe: %v %v", err, described.Error())
	}
}

func TestE2EGroupsFranzKIP848(t *testing.T) {
	b := e2eStartBroker(t)
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 4, nil)
	cl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	e2eProduceValues(t, cl, topic, 0, 100)
	group := "g848-" + topic
	single := func(opts ...kgo.Opt) *kgo.Client { return e2eNewClient(t, b, opts...) }
	e2eGroupConsume(t, single, group, topic, 2, 100, 20*time.Second, kgo.ServerSideBalancer())

	ctx := e2eTestCtx(t, 10*time.Second)
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 100 {
		t.Fatalf("committed offsets sum to %d, want 100: %v", total, offsets)
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	if lg, ok := listed[group]; !ok || lg.GroupType != "consumer" {
		t.Fatalf("group %s listed as %+v, want type consumer", group, lg)
	}
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 || resp.Groups[0].Epoch < 2 {
		t.Fatalf("ConsumerGroupDescribe: %+v, %v", resp, err)
	}
	// chronik dump decodes the group's KIP-848 records: its epochs and
	// both members' metadata.
	types := map[string]int{}
	for p := int32(0); p < 50; p++ {
		for _, d := range e2eRunDump(t, b, "__consumer_offsets", p) {
			if cg := d.Group; cg != nil && cg.Kind == "consumer_group" && cg.ConsumerGroup.Group == group {
				types[cg.ConsumerGroup.Type]++
			}
		}
	}
	if types["ConsumerGroupMetadata"] < 2 || types["ConsumerGroupMemberMetadata"] < 2 || types["ConsumerGroupCurrentMemberAssignment"] < 2 {
		t.Fatalf("chronik dump shows the group's KIP-848 records as %v", types)
	}

	// A regex subscription (kgo sends SubscribedTopicRegex): two topics
	// that match, one that does not.
	prefix := topic + "-rx"
	for i, name := range []string{prefix + "-a", prefix + "-b", "other-" + topic} {
		e2eCreateTopic(t, adm, name, 2, nil)
		e2eProduceValues(t, cl, name, 100+50*i, 150+50*i)
	}
	seen := e2eGroupConsume(t, single, group+"-rx", "^"+regexp.QuoteMeta(prefix)+"-.*", 2, 100, 20*time.Second,
		kgo.ServerSideBalancer(), kgo.ConsumeRegex())
	for _, v := range seen {
		if v >= "v200" {
			t.Fatalf("the regex member read %s from the topic its regex does not match", v)
		}
	}
}

// e2eProduceValues produces the values v<from> up to v<to-1> (three
// digits) to topic, acknowledged.
func e2eProduceValues(t testing.TB, cl *kgo.Client, topic string, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%03d", i))})
	}
	e2eProduceSync(t, cl, recs...)
}

// e2eKcatPairRebalance: a kcat -G member of a new group consumes the
// topic's 50 records (two partitions) and commits them; a second member
// joins, and the group rebalances to one partition each; ten more records
// are shared between the two (each gets some, the second only new ones),
// and committed; with both gone, a kcat -G of the group resumes from the
// commit and gets only the ten records produced after.
func e2eKcatPairRebalance(t *testing.T, b *e2eBroker, adm *kadm.Client, cl *kgo.Client, topic string, consume func(string, ...string) []string) {
	t.Helper()
	group := "kcat-pair-" + topic
	ctx := e2eTestCtx(t, 60*time.Second)
	committed := func(ctx context.Context) (int64, error) {
		offsets, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			err = offsets.Error()
		}
		return e2eOffsetsSum(offsets, topic), err
	}
	start := time.Now()
	first := e2eStartKcatGroup(ctx, b.Addr(), topic, group, 1, nil)
	defer first.stop()
	if err := first.waitCommitted(ctx, 50, committed); err != nil {
		t.Fatalf("first kcat member: %v", err)
	}
	t.Logf("kcat pair: the first member committed 50 records %v after it started", time.Since(start).Round(time.Millisecond))
	second := e2eStartKcatGroup(ctx, b.Addr(), topic, group, 1, nil)
	defer second.stop()
	for {
		d, err := adm.DescribeGroups(ctx, group)
		if err == nil && d[group].State == "Stable" && len(d[group].Members) == 2 {
			each := true
			for _, m := range d[group].Members {
				a, ok := m.Assigned.AsConsumer()
				each = each && ok && len(a.Topics) == 1 && len(a.Topics[0].Partitions) == 1
			}
			if each {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the group did not rebalance to one partition per kcat member: %+v %v", d[group], err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, not an assertion
	}
	t.Logf("kcat pair: rebalanced to one partition each %v after the start", time.Since(start).Round(time.Millisecond))
	e2eProduceValues(t, cl, topic, 50, 60)
	var c1, c2 []int
	for {
		_, c1, err1 := first.state()
		_, c2, err2 := second.state()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		union := first.values()
		for v := range second.values() {
			union[v] = true
		}
		n, err := committed(ctx)
		if len(union) == 60 && err == nil && n == 60 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the two kcat members saw %d distinct records (%d and %d deliveries) and committed %d (%v), want 60 (50 + 10)",
				len(union), c1[0], c2[0], n, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not an assertion
	}
	t.Logf("kcat pair: the ten new records committed %v after the start", time.Since(start).Round(time.Millisecond))
	_, c1, _ = first.state()
	_, c2, _ = second.state()
	if c1[0] <= 50 || c2[0] == 0 || c2[0] > 10 {
		t.Fatalf("the first kcat member got %d records and the second %d: want the ten new ones shared, the second getting only new ones", c1[0], c2[0])
	}
	first.stop()
	second.stop()
	t.Logf("kcat pair: stopped %v after the start", time.Since(start).Round(time.Millisecond))
	e2eProduceValues(t, cl, topic, 60, 70)
	if got := consume(group); len(got) != 10 || got[0] != "v060" || got[9] != "v069" {
		t.Fatalf("kcat -G after the pair's commits consumed %v, want v060-v069", got)
	}
}
