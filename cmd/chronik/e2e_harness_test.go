package main

// End-to-end harness: builds the chronik binary once per test process, runs
// it as a real child process on a loopback port with a fresh data directory,
// and offers helpers to stop it gracefully, kill it with SIGKILL and restart
// it on the same directory and port. Real Kafka clients (franz-go, kcat,
// kafka-python) then talk to it over TCP.
//
// Every wait in this file is bounded. Nothing sleeps to decide pass or fail.
//
// Environment:
//
//	CHRONIK_E2E_BINARY  use this prebuilt binary instead of building ./cmd/chronik
//
// This file owns TestMain for package main: it only removes the temporary
// directory that holds the built binary once the tests have run.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/internal/loopback"
)

const (
	e2eBrokerReadyTimeout = 15 * time.Second // from exec to the first answered ApiVersions
	e2eBrokerStopTimeout  = 15 * time.Second // from SIGTERM (or SIGKILL) to process exit
	e2eBrokerNodeID       = 1                // the --id every test broker gets
)

var (
	e2eBinDir  string // temporary directory holding the built binary (removed by TestMain)
	e2eBinOnce sync.Once
	e2eBinPath string
	e2eBinErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eBinDir != "" {
		os.RemoveAll(e2eBinDir)
	}
	os.Exit(code)
}

// e2eChronikBinary returns the path of a chronik binary built from this
// package's sources (once per test process), or CHRONIK_E2E_BINARY.
func e2eChronikBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHRONIK_E2E_BINARY"); p != "" {
		return p
	}
	e2eBinOnce.Do(func() {
		e2eBinDir, e2eBinErr = os.MkdirTemp("", "chronik-e2e-bin-")
		if e2eBinErr != nil {
			return
		}
		e2eBinPath = filepath.Join(e2eBinDir, "chronik")
		// Bounded: a cold build of the whole module on 2 cores takes well
		// under this.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", e2eBinPath, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			e2eBinErr = fmt.Errorf("go build ./cmd/chronik: %w\n%s", err, out)
		}
	})
	if e2eBinErr != nil {
		t.Fatalf("cannot build the chronik binary: %v", e2eBinErr)
	}
	return e2eBinPath
}

// e2eFreePort returns a free loopback port (internal/loopback: outside the
// ephemeral range, so no outgoing connection takes it before the broker
// binds it, nor while a stopped broker is down before its restart).
func e2eFreePort(t testing.TB) int {
	t.Helper()
	return e2eFreePorts(t, 1)[0]
}

// e2eFreePorts returns n distinct free loopback ports (a cluster needs
// nine).
func e2eFreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := loopback.Ports(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// broker is one chronik child process, restartable on the same port and
// data directory.
type e2eBroker struct {
	t       testing.TB
	bin     string
	addr    string
	dataDir string
	args    []string // extra serve flags
	nodeID  int      // --id; 0 means e2eBrokerNodeID
	bare    bool     // run the binary with no arguments at all (defaults)
	workDir string   // the process's working directory ("" = the test's)
	logPath string
	starts  int

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current process has exited
	waitErr error         // the current process's exit status, once done
}

// e2eStartBroker starts a broker with a fresh data directory on a free loopback
// port and waits until it answers. extraArgs are appended to the serve flags.
// The broker is stopped (SIGTERM) when the test ends; its stderr is printed
// if the test failed, and the test fails if stderr shows a panic.
func e2eStartBroker(t *testing.T, extraArgs ...string) *e2eBroker {
	t.Helper()
	bin := e2eChronikBinary(t)
	logDir := t.TempDir()
	b := &e2eBroker{
		t:       t,
		bin:     bin,
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(e2eFreePort(t))),
		dataDir: t.TempDir(),
		args:    extraArgs,
		logPath: filepath.Join(logDir, "broker.log"),
	}
	t.Cleanup(func() {
		if b.alive() {
			if err := b.stopWith(syscall.SIGTERM); err != nil {
				t.Errorf("stopping broker at test end: %v", err)
			}
		}
		b.checkLog()
		if t.Failed() {
			t.Logf("broker log (%s):\n%s", b.logPath, b.logTail(256<<10))
		}
	})
	b.start()
	return b
}

// e2eStartBareBroker runs the binary with no arguments in a fresh working
// directory: it must serve on 127.0.0.1:9092 with its data in
// ./chronik-data. The test is skipped when port 9092 is taken.
func e2eStartBareBroker(t *testing.T) *e2eBroker {
	t.Helper()
	bin := e2eChronikBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:9092")
	if err != nil {
		t.Skipf("port 9092 is in use here (%v); cannot check the default listener", err)
	}
	ln.Close()
	work := t.TempDir()
	b := &e2eBroker{
		t:       t,
		bin:     bin,
		addr:    "127.0.0.1:9092",
		dataDir: filepath.Join(work, "chronik-data"),
		bare:    true,
		workDir: work,
		logPath: filepath.Join(t.TempDir(), "broker.log"),
	}
	t.Cleanup(func() {
		if b.alive() {
			if err := b.stopWith(syscall.SIGTERM); err != nil {
				t.Errorf("stopping broker at test end: %v", err)
			}
		}
		b.checkLog()
		if t.Failed() {
			t.Logf("broker log (%s):\n%s", b.logPath, b.logTail(256<<10))
		}
	})
	b.start()
	return b
}

// Addr is the broker's host:port.
func (b *e2eBroker) Addr() string { return b.addr }

func (b *e2eBroker) serveArgs() []string {
	if b.bare {
		return nil
	}
	id := b.nodeID
	if id == 0 {
		id = e2eBrokerNodeID
	}
	args := []string{"serve", "--id", strconv.Itoa(id), "--kafka-addr", b.addr, "--data-dir", b.dataDir}
	return append(args, b.args...)
}

// start execs the broker and waits until a client's Ping (a Metadata
// request) succeeds.
func (b *e2eBroker) start() {
	b.t.Helper()
	b.startProcess()
	b.waitReady()
}

// startProcess execs the broker without waiting for it to answer: a
// cluster broker answers clients only once the quorum has caught it up,
// which needs the other brokers.
func (b *e2eBroker) startProcess() {
	t := b.t
	t.Helper()
	b.mu.Lock()
	if b.cmd != nil && !e2eIsClosed(b.done) {
		b.mu.Unlock()
		t.Fatalf("broker already running")
	}
	b.starts++
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.mu.Unlock()
		t.Fatalf("open broker log: %v", err)
	}
	fmt.Fprintf(logf, "===== e2e: start #%d: %s %s\n", b.starts, b.bin, strings.Join(b.serveArgs(), " "))
	cmd := exec.Command(b.bin, b.serveArgs()...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = b.workDir
	cmd.SysProcAttr = e2eChildProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		b.mu.Unlock()
		t.Fatalf("start broker: %v", err)
	}
	done := make(chan struct{})
	b.cmd, b.done, b.waitErr = cmd, done, nil
	b.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		b.mu.Lock()
		b.waitErr = err
		b.mu.Unlock()
		close(done)
	}()
}

func (b *e2eBroker) waitReady() {
	t := b.t
	t.Helper()
	deadline := time.Now().Add(e2eBrokerReadyTimeout)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DialTimeout(time.Second))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer cl.Close()
	var lastErr error
	for time.Now().Before(deadline) {
		if !b.alive() {
			t.Fatalf("broker exited before becoming ready (%v); log:\n%s", b.exitErr(), b.logTail(64<<10))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		lastErr = cl.Ping(ctx)
		cancel()
		if lastErr == nil {
			return
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not an assertion
	}
	t.Fatalf("broker at %s not ready within %v: %v; log:\n%s", b.addr, e2eBrokerReadyTimeout, lastErr, b.logTail(64<<10))
}

func e2eIsClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// alive reports whether the current broker process is still running.
func (b *e2eBroker) alive() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cmd != nil && !e2eIsClosed(b.done)
}

func (b *e2eBroker) exitErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waitErr
}

// stopWith sends sig and waits (bounded) for the process to exit. It returns
// the process's exit error (nil for exit status 0). A process that ignores
// SIGTERM is killed after e2eBrokerStopTimeout and reported as an error.
func (b *e2eBroker) stopWith(sig syscall.Signal) error {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.mu.Unlock()
	if cmd == nil {
		return errors.New("broker never started")
	}
	if e2eIsClosed(done) {
		return fmt.Errorf("broker had already exited: %v", b.exitErr())
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v: %w", sig, err)
	}
	select {
	case <-done:
	case <-time.After(e2eBrokerStopTimeout):
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(e2eBrokerStopTimeout):
		}
		return fmt.Errorf("broker did not exit within %v of %v; killed", e2eBrokerStopTimeout, sig)
	}
	return b.exitErr()
}

// Stop stops the broker gracefully (SIGTERM) and fails the test unless it
// exits with status 0 within e2eBrokerStopTimeout.
func (b *e2eBroker) Stop() {
	b.t.Helper()
	b.StopWith(syscall.SIGTERM)
}

// StopWith is Stop with another signal (SIGINT is graceful too).
func (b *e2eBroker) StopWith(sig syscall.Signal) {
	b.t.Helper()
	if err := b.stopWith(sig); err != nil {
		b.t.Fatalf("graceful stop (%v): %v", sig, err)
	}
	b.checkLog()
}

// Kill sends SIGKILL and waits for the process to be gone.
func (b *e2eBroker) Kill() {
	b.t.Helper()
	err := b.stopWith(syscall.SIGKILL)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		b.t.Fatalf("kill -9: %v", err)
	}
}

// Restart starts the broker again on the same port and data directory.
func (b *e2eBroker) Restart() {
	b.t.Helper()
	b.start()
}

// RequireAlive fails the test if the broker process has exited.
func (b *e2eBroker) RequireAlive() {
	b.t.Helper()
	if !b.alive() {
		b.t.Fatalf("broker process exited: %v", b.exitErr())
	}
}

var e2ePanicRE = regexp.MustCompile(`panic|fatal error`)

// checkLog fails the test if the broker's output shows a panic or a Go
// runtime fatal error.
func (b *e2eBroker) checkLog() {
	b.t.Helper()
	data, err := os.ReadFile(b.logPath)
	if err != nil {
		return
	}
	if loc := e2ePanicRE.FindIndex(data); loc != nil {
		start := max(0, loc[0]-2048)
		end := min(len(data), loc[1]+16<<10)
		b.t.Errorf("broker output contains %q:\n%s", data[loc[0]:loc[1]], data[start:end])
	}
}

// logTail returns at most n bytes from the end of the broker's output.
func (b *e2eBroker) logTail(n int) string {
	data, err := os.ReadFile(b.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(data) > n {
		data = append([]byte("...(truncated)...\n"), data[len(data)-n:]...)
	}
	return string(data)
}

// ---- clients ----

// e2eTestCtx returns a context that ends after d or when the test ends.
func e2eTestCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// e2eNewClient returns a franz-go client seeded with the broker, closed when
// the test ends.
func e2eNewClient(t testing.TB, b *e2eBroker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(b.Addr()),
		kgo.DialTimeout(2 * time.Second),
		kgo.RetryTimeout(10 * time.Second),
		kgo.MetadataMinAge(50 * time.Millisecond),
		// No RecordDeliveryTimeout here: kgo measures it from the record's
		// timestamp, and tests produce records with timestamps in the past.
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func e2eNewAdmin(t testing.TB, b *e2eBroker) *kadm.Client {
	t.Helper()
	return kadm.NewClient(e2eNewClient(t, b))
}

var e2eTopicSeq atomic.Int64

// e2eUniqueTopic returns a topic name unique within this test process, derived
// from the test's name so the broker log is easy to read.
func e2eUniqueTopic(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, strings.TrimPrefix(t.Name(), "TestE2E"))
	if len(name) > 180 {
		name = name[:180]
	}
	return fmt.Sprintf("%s-%d", name, e2eTopicSeq.Add(1))
}

// e2eCreateTopic creates a topic and fails the test on any error.
func e2eCreateTopic(t testing.TB, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx := e2eTestCtx(t, 15*time.Second)
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	if resp.Err != nil {
		t.Fatalf("CreateTopics %s: %v (%s)", topic, resp.Err, resp.ErrMessage)
	}
	e2eWaitTopicReady(t, adm, topic, partitions)
}

// e2eWaitTopicReady waits (bounded) until metadata shows the topic with the
// given number of partitions, each with a leader.
func e2eWaitTopicReady(t testing.TB, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		md, err := adm.Metadata(ctx, topic)
		cancel()
		if err == nil {
			td, ok := md.Topics[topic]
			switch {
			case !ok:
				last = "topic missing from metadata"
			case td.Err != nil:
				last = td.Err.Error()
			case int32(len(td.Partitions)) != partitions:
				last = fmt.Sprintf("%d partitions, want %d", len(td.Partitions), partitions)
			default:
				ready := true
				for _, p := range td.Partitions {
					if p.Err != nil || p.Leader < 0 {
						ready = false
						last = fmt.Sprintf("partition %d: leader %d err %v", p.Partition, p.Leader, p.Err)
					}
				}
				if ready {
					return
				}
			}
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not an assertion
	}
	t.Fatalf("topic %s not ready within 10s: %s", topic, last)
}

// e2eProduceSync produces records and fails the test on any error. It returns
// the records with offsets filled in.
func e2eProduceSync(t testing.TB, cl *kgo.Client, rs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	ctx := e2eTestCtx(t, 20*time.Second)
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return rs
}

// e2eConsumeN consumes partition p of topic from offset 'from' until it has
// n records, failing the test after timeout. Extra records that arrive in
// the same fetch are returned too, so callers can detect duplicates.
func e2eConsumeN(t testing.TB, b *e2eBroker, topic string, p int32, from kgo.Offset, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := e2eNewClient(t, b,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: from}}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	defer cl.Close()
	ctx := e2eTestCtx(t, timeout)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records from %s[%d] before %v timeout", len(out), n, topic, p, timeout)
		}
		for _, e := range fs.Errors() {
			if errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, context.Canceled) {
				continue
			}
			t.Fatalf("fetch %s[%d]: %v", e.Topic, e.Partition, e.Err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// e2eEndOffset returns the high watermark of topic[p] via ListOffsets.
func e2eEndOffset(t testing.TB, adm *kadm.Client, topic string, p int32) int64 {
	t.Helper()
	ctx := e2eTestCtx(t, 10*time.Second)
	l, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	o, ok := l.Lookup(topic, p)
	if !ok || o.Err != nil {
		t.Fatalf("ListEndOffsets %s[%d]: ok=%v err=%v", topic, p, ok, o.Err)
	}
	return o.Offset
}

// ---- records ----

// e2eTestRecords returns n distinct records with keys, values, headers and
// millisecond timestamps, some with a null key, one with a null value and
// one with an empty value, so round trips exercise every field.
func e2eTestRecords(topic string, n int, base time.Time) []*kgo.Record {
	rs := make([]*kgo.Record, n)
	for i := range rs {
		r := &kgo.Record{
			Topic:     topic,
			Key:       []byte(fmt.Sprintf("key-%d", i)),
			Value:     []byte(fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%37))),
			Timestamp: time.UnixMilli(base.UnixMilli() + int64(i)*7),
			Headers: []kgo.RecordHeader{
				{Key: "h1", Value: []byte(fmt.Sprintf("hv-%d", i))},
				{Key: "h-empty", Value: []byte{}},
			},
		}
		switch i % 10 {
		case 3:
			r.Key = nil
		case 5:
			r.Headers = nil
		case 7:
			r.Value = []byte{}
		case 9:
			r.Value = nil
		}
		rs[i] = r
	}
	return rs
}

// e2eSameRecord compares the fields a consumer sees: key, value (nil vs empty
// matters), headers and timestamp (ms).
func e2eSameRecord(want, got *kgo.Record) error {
	var diffs []string
	if !e2eBytesEqualNil(want.Key, got.Key) {
		diffs = append(diffs, fmt.Sprintf("key %s, want %s", e2eShowBytes(got.Key), e2eShowBytes(want.Key)))
	}
	if !e2eBytesEqualNil(want.Value, got.Value) {
		diffs = append(diffs, fmt.Sprintf("value %s, want %s", e2eShowBytes(got.Value), e2eShowBytes(want.Value)))
	}
	if want.Timestamp.UnixMilli() != got.Timestamp.UnixMilli() {
		diffs = append(diffs, fmt.Sprintf("timestamp %d, want %d", got.Timestamp.UnixMilli(), want.Timestamp.UnixMilli()))
	}
	if len(want.Headers) != len(got.Headers) {
		diffs = append(diffs, fmt.Sprintf("%d headers, want %d", len(got.Headers), len(want.Headers)))
	} else {
		for i := range want.Headers {
			if want.Headers[i].Key != got.Headers[i].Key || !bytes.Equal(want.Headers[i].Value, got.Headers[i].Value) {
				diffs = append(diffs, fmt.Sprintf("header %d = %q:%q, want %q:%q", i, got.Headers[i].Key, got.Headers[i].Value, want.Headers[i].Key, want.Headers[i].Value))
			}
		}
	}
	if diffs != nil {
		return errors.New(strings.Join(diffs, "; "))
	}
	return nil
}

func e2eBytesEqualNil(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func e2eShowBytes(b []byte) string {
	if b == nil {
		return "null"
	}
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + "..."
	}
	return strconv.Quote(string(b))
}

// e2eEncodeBatch builds an uncompressed v2 record batch (CRC32C filled in) as
// a producer would send it.
func e2eEncodeBatch(pid int64, epoch int16, seq int32, firstTimestampMs int64, values ...string) []byte {
	var records []byte
	for i, v := range values {
		rec := kmsg.Record{
			TimestampDelta64: int64(i),
			OffsetDelta:      int32(i),
			Key:              []byte(fmt.Sprintf("k%d", i)),
			Value:            []byte(v),
		}
		body := rec.AppendTo(nil)[1:] // drop the zero Length varint
		records = binary.AppendVarint(records, int64(len(body)))
		records = append(records, body...)
	}
	batch := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(values) - 1),
		FirstTimestamp:       firstTimestampMs,
		MaxTimestamp:         firstTimestampMs + int64(len(values)-1),
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(len(values)),
		Records:              records,
	}
	raw := batch.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12))
	crc := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(raw[17:21], crc)
	return raw
}

// e2eBatchHeaders splits a fetch response's record set into batch headers.
func e2eBatchHeaders(t testing.TB, set []byte) []kmsg.RecordBatch {
	t.Helper()
	var out []kmsg.RecordBatch
	for len(set) >= 12 {
		length := int(int32(binary.BigEndian.Uint32(set[8:12])))
		if length <= 0 || 12+length > len(set) {
			break // a partial trailing batch is allowed in fetch responses
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(set[:12+length]); err != nil {
			t.Fatalf("decode record batch: %v", err)
		}
		out = append(out, b)
		set = set[12+length:]
	}
	return out
}

// ---- raw Kafka connections ----

// e2eRawConn is a bare TCP connection speaking Kafka framing, for requests at
// pinned versions and for malformed input.
type e2eRawConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	corr int32
}

func e2eDialRaw(t testing.TB, b *e2eBroker) *e2eRawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", b.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return &e2eRawConn{t: t, conn: c, r: bufio.NewReader(c)}
}

// writeRaw writes bytes as they are, with a bounded deadline.
func (c *e2eRawConn) writeRaw(p []byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write(p)
	return err
}

// request frames req at the given version with a correct header (flexible
// or not, per kmsg) and returns the correlation id used.
func (c *e2eRawConn) request(req kmsg.Request, version int16) int32 {
	c.t.Helper()
	req.SetVersion(version)
	c.corr++
	frame := e2eAppendRequestFrame(nil, req.Key(), version, c.corr, "e2e-raw", req.IsFlexible(), req.AppendTo(nil))
	if err := c.writeRaw(frame); err != nil {
		c.t.Fatalf("write request: %v", err)
	}
	return c.corr
}

// e2eAppendRequestFrame appends size + request header (v1, or v2 when
// flexible) + body.
func e2eAppendRequestFrame(dst []byte, key, version int16, corr int32, clientID string, flexible bool, body []byte) []byte {
	var h []byte
	h = binary.BigEndian.AppendUint16(h, uint16(key))
	h = binary.BigEndian.AppendUint16(h, uint16(version))
	h = binary.BigEndian.AppendUint32(h, uint32(corr))
	h = binary.BigEndian.AppendUint16(h, uint16(len(clientID)))
	h = append(h, clientID...)
	if flexible {
		h = append(h, 0) // no tagged fields
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(h)+len(body)))
	dst = append(dst, h...)
	return append(dst, body...)
}

// readFrame reads one response frame (bounded by timeout) and returns the
// correlation id and the rest of the frame.
func (c *e2eRawConn) readFrame(timeout time.Duration) (int32, []byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return 0, nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > 64<<20 {
		return 0, nil, fmt.Errorf("bad response size %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return 0, nil, fmt.Errorf("read %d-byte response: %w", n, err)
	}
	return int32(binary.BigEndian.Uint32(buf[:4])), buf[4:], nil
}

// response reads the response to a request sent with request() and decodes
// it into resp (whose version must be set), skipping the flexible response
// header's tagged fields where needed (never for ApiVersions).
func (c *e2eRawConn) response(corr int32, resp kmsg.Response) {
	c.t.Helper()
	got, body, err := c.readFrame(10 * time.Second)
	if err != nil {
		c.t.Fatalf("read response to key %d v%d: %v", resp.Key(), resp.GetVersion(), err)
	}
	if got != corr {
		c.t.Fatalf("response correlation id %d, want %d", got, corr)
	}
	if resp.IsFlexible() && resp.Key() != 18 {
		if len(body) == 0 || body[0] != 0 {
			c.t.Fatalf("flexible response header: expected empty tagged fields, got % x", body[:min(len(body), 8)])
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decode response key %d v%d: %v (body % x)", resp.Key(), resp.GetVersion(), err, body[:min(len(body), 64)])
	}
}

// expectClosed waits (bounded) for the broker to close the connection,
// draining and returning any bytes it sent first.
func (c *e2eRawConn) expectClosed(timeout time.Duration) ([]byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	data, err := io.ReadAll(c.r)
	if err == nil || errors.Is(err, syscall.ECONNRESET) {
		return data, nil // EOF or reset: closed
	}
	return data, err
}
