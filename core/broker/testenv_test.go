package broker

// Shared harness for broker tests: a Broker over memdisk with a recording
// Replier, a queueing Syncer, a deterministic Random and a test logger.
// Requests go in through HandleRequest exactly as the node delivers them.

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
)

// recordingReplier keeps every response and every closed connection.
type recordingReplier struct {
	replies []testReply
	closed  []string
}

type testReply struct {
	req  *Request
	resp kmsg.Response
}

func (r *recordingReplier) Reply(req *Request, resp kmsg.Response) {
	r.replies = append(r.replies, testReply{req: req, resp: resp})
}

func (r *recordingReplier) CloseConn(conn ConnID, reason string) {
	r.closed = append(r.closed, reason)
}

// queueSyncer holds sync jobs until the test runs them.
type queueSyncer struct {
	jobs []queuedSync
}

type queuedSync struct {
	token SyncToken
	job   *partlog.SyncJob
}

func (s *queueSyncer) StartSync(token SyncToken, job *partlog.SyncJob) {
	s.jobs = append(s.jobs, queuedSync{token: token, job: job})
}

// testLogger writes to the test log (shown on failure or with -v).
type testLogger struct{ t testing.TB }

func (l testLogger) log(level, msg string, args []any) {
	l.t.Helper()
	l.t.Logf("%s %s %v", level, msg, args)
}
func (l testLogger) Info(msg string, args ...any)  { l.log("INFO", msg, args) }
func (l testLogger) Warn(msg string, args ...any)  { l.log("WARN", msg, args) }
func (l testLogger) Error(msg string, args ...any) { l.log("ERROR", msg, args) }

// testBroker is a broker with its fake environment.
type testBroker struct {
	t       testing.TB
	cfg     Config
	disk    *memdisk.Disk
	replier *recordingReplier
	syncer  *queueSyncer
	random  *memdisk.SplitMix64
	b       *Broker
	nowMs   int64
	seq     uint64
	// holdImage keeps the image writes queued in the syncer after a
	// request, for a test to run (or fail) them itself; otherwise send
	// lands them at once, as a fast disk would.
	holdImage bool
}

// newTestBroker starts a broker on an empty memdisk with DefaultConfig
// adjusted by opts.
func newTestBroker(t testing.TB, opts ...func(*Config)) *testBroker {
	t.Helper()
	cfg := DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	tb := &testBroker{
		t:       t,
		cfg:     cfg,
		disk:    memdisk.New(),
		replier: &recordingReplier{},
		syncer:  &queueSyncer{},
		random:  memdisk.NewSplitMix64(1),
		nowMs:   1_000_000,
	}
	tb.start()
	return tb
}

func (tb *testBroker) start() {
	tb.t.Helper()
	b, err := New(tb.cfg, Env{Disk: tb.disk, Replier: tb.replier, Syncer: tb.syncer, Logger: testLogger{tb.t}, Random: tb.random}, tb.nowMs)
	if err != nil {
		tb.t.Fatalf("broker.New: %v", err)
	}
	tb.b = b
}

// restart shuts the broker down cleanly and opens a new one on the same
// disk, as a process restart would.
func (tb *testBroker) restart() {
	tb.t.Helper()
	tb.runSyncs()
	tb.b.SyncAllBlocking(tb.nowMs)
	tb.b.Shutdown(tb.nowMs)
	tb.syncer.jobs = nil
	tb.start()
}

// runSyncs runs every queued sync job and reports it done, until none is
// left.
func (tb *testBroker) runSyncs() {
	for len(tb.syncer.jobs) > 0 {
		jobs := tb.syncer.jobs
		tb.syncer.jobs = nil
		for _, j := range jobs {
			tb.b.SyncDone(tb.nowMs, j.token, j.job, j.job.Run())
			tb.b.CheckInvariants()
		}
	}
}

// send hands msg to the broker and returns how many replies existed before.
func (tb *testBroker) send(msg kmsg.Request) int {
	tb.seq++
	before := len(tb.replier.replies)
	tb.b.HandleRequest(tb.nowMs, &Request{Conn: 1, Seq: tb.seq, CorrelationID: int32(tb.seq), Msg: msg})
	tb.b.CheckInvariants()
	if !tb.holdImage {
		tb.runImageSyncs()
	}
	return before
}

// runImageSyncs runs the queued image writes (sync jobs of no partition)
// and reports them done, until none is left; partition jobs stay queued
// in order.
func (tb *testBroker) runImageSyncs() {
	for {
		i := slices.IndexFunc(tb.syncer.jobs, func(q queuedSync) bool { return q.token.p == nil })
		if i < 0 {
			return
		}
		j := tb.syncer.jobs[i]
		tb.syncer.jobs = slices.Delete(tb.syncer.jobs, i, i+1)
		tb.b.SyncDone(tb.nowMs, j.token, j.job, j.job.Run())
		tb.b.CheckInvariants()
	}
}

// do sends a request that must be answered at once and returns the answer.
func (tb *testBroker) do(msg kmsg.Request) kmsg.Response {
	tb.t.Helper()
	before := tb.send(msg)
	if len(tb.replier.closed) > 0 {
		tb.t.Fatalf("connection closed: %v", tb.replier.closed)
	}
	if got := len(tb.replier.replies) - before; got != 1 {
		tb.t.Fatalf("%T v%d: got %d replies, want 1", msg, msg.GetVersion(), got)
	}
	resp := tb.replier.replies[before].resp
	if resp.GetVersion() != msg.GetVersion() {
		tb.t.Fatalf("%T: response version %d, request version %d", resp, resp.GetVersion(), msg.GetVersion())
	}
	checkEncodes(tb.t, resp)
	return resp
}

// checkEncodes encodes resp at its version and decodes it again, so that
// a field the version cannot carry (a null in a non-nullable field, say)
// fails the test rather than a client.
func checkEncodes(t testing.TB, resp kmsg.Response) {
	t.Helper()
	wire := resp.AppendTo(nil)
	back := kmsg.ResponseForKey(resp.Key())
	back.SetVersion(resp.GetVersion())
	if err := back.ReadFrom(wire); err != nil {
		t.Fatalf("%T v%d does not decode after encoding: %v", resp, resp.GetVersion(), err)
	}
}

// doAndSync sends a request that may wait for syncs (produce) and runs
// flushes and syncs until it is answered.
func (tb *testBroker) doAndSync(msg kmsg.Request) kmsg.Response {
	tb.t.Helper()
	before := tb.send(msg)
	for i := 0; i < 10 && len(tb.replier.replies) == before; i++ {
		tb.b.Flush()
		tb.runSyncs()
	}
	if got := len(tb.replier.replies) - before; got != 1 {
		tb.t.Fatalf("%T: got %d replies, want 1", msg, got)
	}
	return tb.replier.replies[before].resp
}

// createTopic creates a topic through CreateTopics and fails the test on
// any error.
func (tb *testBroker) createTopic(name string, partitions int32, configs map[string]string) {
	tb.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = name
	rt.NumPartitions = partitions
	rt.ReplicationFactor = 1
	for _, k := range sortedKeys(configs) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = k
		v := configs[k]
		c.Value = &v
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp := tb.do(req).(*kmsg.CreateTopicsResponse)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		tb.t.Fatalf("create topic %s: error %d", name, code)
	}
}

// produce appends one batch of n records (acks=all) and returns its base
// offset.
func (tb *testBroker) produce(topic string, partition int32, n int) int64 {
	tb.t.Helper()
	resp := tb.doAndSync(tb.produceRequest(topic, partition, n)).(*kmsg.ProduceResponse)
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		tb.t.Fatalf("produce %s-%d: error %d", topic, partition, sp.ErrorCode)
	}
	return sp.BaseOffset
}

// produceRequest is an acks=all produce of one batch of n records.
func (tb *testBroker) produceRequest(topic string, partition int32, n int) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = testBatch(tb.nowMs, n)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// testBatch builds a v2 record batch of n small uncompressed records.
func testBatch(timestampMs int64, n int) []byte {
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Timestamp: timestampMs, Value: []byte(fmt.Sprintf("value-%d", i))}
	}
	return record.MustBuild(record.DefaultBatchOptions(), recs)
}

// setLeaderEpoch bumps a partition's leader epoch by hand, in the image
// and in the partition alike, as a failover would.
func setLeaderEpoch(p *partition, epoch int32) {
	p.topic.meta.Assignments[p.index].LeaderEpoch = epoch
	p.leaderEpoch = epoch
}
