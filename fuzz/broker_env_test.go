package fuzz

// A broker over memdisk for the fuzz targets: a recording Replier, a
// Syncer whose jobs the harness runs inline, a bounded logger and a
// deterministic Random, the same shape as core/broker's testenv_test.go.

import (
	"fmt"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
)

// fuzzReply is one Replier.Reply call.
type fuzzReply struct {
	req  *broker.Request
	resp kmsg.Response
}

// recordingReplier keeps every reply and every closed connection.
type recordingReplier struct {
	replies []fuzzReply
	closed  map[broker.ConnID]string
}

func (r *recordingReplier) Reply(req *broker.Request, resp kmsg.Response) {
	r.replies = append(r.replies, fuzzReply{req: req, resp: resp})
}

func (r *recordingReplier) CloseConn(conn broker.ConnID, reason string) {
	if r.closed == nil {
		r.closed = map[broker.ConnID]string{}
	}
	if _, ok := r.closed[conn]; !ok {
		r.closed[conn] = reason
	}
}

type queuedSync struct {
	token broker.SyncToken
	job   *partlog.SyncJob
}

// queueSyncer holds sync jobs until the harness runs them.
type queueSyncer struct{ jobs []queuedSync }

func (s *queueSyncer) StartSync(token broker.SyncToken, job *partlog.SyncJob) {
	s.jobs = append(s.jobs, queuedSync{token: token, job: job})
}

// ringLogger keeps the last lines the broker logged, to print on failure.
type ringLogger struct{ lines []string }

const ringLoggerLines = 64

func (l *ringLogger) add(level, msg string, args []any) {
	if len(l.lines) == ringLoggerLines {
		l.lines = append(l.lines[:0], l.lines[1:]...)
	}
	l.lines = append(l.lines, fmt.Sprintf("%s %s %v", level, msg, args))
}
func (l *ringLogger) Info(msg string, args ...any)  { l.add("INFO", msg, args) }
func (l *ringLogger) Warn(msg string, args ...any)  { l.add("WARN", msg, args) }
func (l *ringLogger) Error(msg string, args ...any) { l.add("ERROR", msg, args) }

// fuzzTopic is the topic every fuzzed broker starts with.
const (
	fuzzTopic           = "fuzz"
	fuzzTopicPartitions = 2
	fuzzStartMs         = 1_000_000
)

// fuzzBrokerConfig keeps every limit small, so that one fuzz input cannot
// make an execution slow (thousands of partitions, long polls that pile
// up), and makes Tick do checkpoints and retention every time.
func fuzzBrokerConfig() broker.Config {
	cfg := broker.DefaultConfig()
	cfg.MaxPartitionsPerTopic = 8
	cfg.MaxTopics = 8
	cfg.MaxPendingProduces = 4
	cfg.MaxWaitingFetches = 4
	cfg.MaxFetchWaitMs = 500
	cfg.CheckpointIntervalMs = 1
	cfg.RetentionCheckIntervalMs = 1
	cfg.LogDefaults.SegmentBytes = 4096
	cfg.LogDefaults.IndexIntervalBytes = 256
	return cfg
}

// brokerEnv is one broker and its fake environment.
type brokerEnv struct {
	disk    *memdisk.Disk
	replier *recordingReplier
	syncer  *queueSyncer
	logger  *ringLogger
	b       *broker.Broker
	nowMs   int64
}

// startBroker opens a broker on d.
func startBroker(d *memdisk.Disk, nowMs int64) (*brokerEnv, error) {
	e := &brokerEnv{disk: d, replier: &recordingReplier{}, syncer: &queueSyncer{}, logger: &ringLogger{}, nowMs: nowMs}
	b, err := broker.New(fuzzBrokerConfig(), broker.Env{Disk: d, Replier: e.replier, Syncer: e.syncer, Logger: e.logger, Random: memdisk.NewSplitMix64(7)}, nowMs)
	if err != nil {
		return nil, err
	}
	e.b = b
	return e, nil
}

// runSyncs runs queued sync jobs inline, reporting each back, until the
// queue is empty. It returns false if they keep coming.
func (e *brokerEnv) runSyncs() bool {
	for range 1000 {
		if len(e.syncer.jobs) == 0 {
			return true
		}
		jobs := e.syncer.jobs
		e.syncer.jobs = nil
		for _, j := range jobs {
			e.b.SyncDone(e.nowMs, j.token, j.job, j.job.Run())
			e.b.CheckInvariants()
		}
	}
	return false
}

// settle runs syncs and group-commit flushes until nothing is left to
// sync, as the node's event loop does between batches of events.
func (e *brokerEnv) settle() bool {
	for range 100 {
		if !e.runSyncs() {
			return false
		}
		e.b.Flush()
		e.b.CheckInvariants()
		if len(e.syncer.jobs) == 0 {
			return true
		}
	}
	return false
}

// logTail formats the broker's recent log lines for a failure message.
func (e *brokerEnv) logTail() string { return strings.Join(e.logger.lines, "\n") }

// requestFrame encodes req as a frame without its size prefix, exactly
// as a client sends it and as ParseRequest takes it.
func requestFrame(req kmsg.Request, correlationID int32) []byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz-client"))
	return f.AppendRequest(nil, req, correlationID)[4:]
}

// baseDisk is a broker data directory with fuzzTopic created and some data
// in it: batches in every codec in partition 0, an idempotent producer's
// batches in partition 1. It is built once per process; each execution
// starts from a copy (memdisk.Crash(nil) of a cleanly shut down broker,
// which copies exactly the durable state).
var baseDisk = sync.OnceValue(func() *memdisk.Disk {
	d := memdisk.New()
	e, err := startBroker(d, fuzzStartMs)
	if err != nil {
		panic(fmt.Sprintf("fuzz setup: broker.New: %v", err))
	}
	seq := uint64(0)
	do := func(msg kmsg.Request) kmsg.Response {
		seq++
		before := len(e.replier.replies)
		e.b.HandleRequest(e.nowMs, &broker.Request{Conn: 1, Seq: seq, CorrelationID: int32(seq), Msg: msg})
		if !e.settle() {
			panic("fuzz setup: syncs do not settle")
		}
		if len(e.replier.closed) > 0 || len(e.replier.replies) != before+1 {
			panic(fmt.Sprintf("fuzz setup: %T not answered once (closed %v)\n%s", msg, e.replier.closed, e.logTail()))
		}
		return e.replier.replies[before].resp
	}
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fuzzTopic, fuzzTopicPartitions, 1
	ct.Topics = append(ct.Topics, rt)
	if code := do(ct).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		panic(fmt.Sprintf("fuzz setup: create topic: error %d", code))
	}
	for i, c := range rebuildCodecs {
		opts := record.DefaultBatchOptions()
		opts.Codec, opts.SnappyXerial = c.codec, c.xerial
		b := record.MustBuild(opts, sampleRecords(fuzzStartMs, i))
		resp := do(produceRequest(9, -1, fuzzTopic, 0, b)).(*kmsg.ProduceResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			panic(fmt.Sprintf("fuzz setup: produce %v: error %d", c.codec, code))
		}
		e.nowMs += 100
	}
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version = 4
	ipr := do(ip).(*kmsg.InitProducerIDResponse)
	for s := int32(0); s < 6; s += 3 {
		resp := do(produceRequest(9, -1, fuzzTopic, 1, idempotentBatch(ipr.ProducerID, ipr.ProducerEpoch, s, 3))).(*kmsg.ProduceResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			panic(fmt.Sprintf("fuzz setup: idempotent produce: error %d", code))
		}
	}
	e.b.SyncAllBlocking(e.nowMs)
	e.b.Shutdown(e.nowMs)
	return d
})

// sampleRecords are a few records with keys, null values and headers.
func sampleRecords(ts int64, seed int) []record.Record {
	return []record.Record{
		{Timestamp: ts, Key: []byte(fmt.Sprintf("k%d", seed)), Value: []byte("value")},
		{Timestamp: ts + 5, Key: nil, Value: nil},
		{Timestamp: ts - 5, Key: []byte{}, Value: []byte(strings.Repeat("x", 40*seed)), Headers: []record.RecordHeader{{Key: "h", Value: []byte("v")}}},
	}
}

// idempotentBatch is n records from producer (pid, epoch) starting at seq.
func idempotentBatch(pid int64, epoch int16, seq int32, n int) []byte {
	opts := record.DefaultBatchOptions()
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = pid, epoch, seq
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Timestamp: fuzzStartMs, Value: []byte(fmt.Sprintf("idem-%d", int(seq)+i))}
	}
	return record.MustBuild(opts, recs)
}

func produceRequest(version, acks int16, topic string, partition int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
