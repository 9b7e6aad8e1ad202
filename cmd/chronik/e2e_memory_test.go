package main

// Memory under hostile load (issue "A few connections exhaust memory"): a
// flood of connections that each declare a 100 MB frame and never finish
// it, and concurrent fetches asking for 2^31-1 bytes of a large partition.
// The broker's resident set is read from /proc/PID/status (VmRSS, VmHWM;
// VmHWM is reset through /proc/PID/clear_refs before a phase) and must stay
// within the memory budget (--queued-max-request-bytes) plus a fixed
// overhead, while a normal client keeps producing and consuming.
//
// Environment, for taking before/after figures by hand:
//
//	CHRONIK_E2E_MEMORY_MEASURE=1  pass none of the new flags, assert nothing
//	                              but liveness, use 30 flood connections and
//	                              4 fetches, and log the figures: run it with
//	                              CHRONIK_E2E_BINARY set to an older binary
//	CHRONIK_E2E_MEMORY_PARTITION_MIB  size of the fetched partition (1024)

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	e2eMemBudgetBytes   = 64 << 20  // --queued-max-request-bytes in these tests
	e2eMemOverheadBytes = 150 << 20 // allowed above the budget: runtime, GC slack, buffers, one frame past the large-frame third
	e2eMemFetchMaxBytes = 16 << 20  // --fetch-max-bytes for the fetch test
)

func e2eMemMeasureOnly() bool { return os.Getenv("CHRONIK_E2E_MEMORY_MEASURE") != "" }

// pid is the current broker process's id.
func (b *e2eBroker) pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cmd.Process.Pid
}

// e2eProcStatusKiB reads a "Field:   N kB" line of /proc/pid/status.
func e2eProcStatusKiB(t testing.TB, pid int, field string) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read /proc/%d/status: %v", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("parse %s line %q: %v", field, sc.Text(), err)
		}
		return kb
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// e2eRequireProc skips the test where /proc/self/status lacks VmHWM.
func e2eRequireProc(t *testing.T) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil || !bytes.Contains(data, []byte("VmHWM:")) {
		t.Skip("no /proc/PID/status with VmHWM here; cannot measure the broker's memory")
	}
}

// e2eResetPeakRSS resets VmHWM to the current VmRSS (Linux clear_refs 5).
func e2eResetPeakRSS(t testing.TB, pid int) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset peak RSS: %v", err)
	}
}

func e2eMiB(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// TestE2EMemoryRequestFlood: connections declaring 100 MB frames and
// sending all but the last KiB. Fresh connections are closed at once; those
// that sent a valid request first are throttled by the budget; memory
// stays bounded and a franz-go client keeps producing and consuming.
func TestE2EMemoryRequestFlood(t *testing.T) {
	e2eRequireProc(t)
	measure := e2eMemMeasureOnly()
	var args []string
	floodConns := 200
	if measure {
		floodConns = 30
	} else {
		args = []string{"--queued-max-request-bytes", strconv.Itoa(e2eMemBudgetBytes)}
	}
	b := e2eStartBroker(t, args...)
	pid := b.pid()
	startKiB := e2eProcStatusKiB(t, pid, "VmRSS")
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 1, nil)

	const frameBytes = 100 << 20
	prefix := binary.BigEndian.AppendUint32(nil, frameBytes)
	chunk := make([]byte, 256<<10)

	if !measure {
		// A fresh connection that declares 100 MB is closed after the
		// size prefix: it never reaches the budget.
		for range 20 {
			c := e2eDialRaw(t, b)
			_ = c.writeRaw(append(append([]byte(nil), prefix...), chunk...)) // may fail: the broker closes early
			if _, err := c.expectClosed(5 * time.Second); err != nil {
				t.Fatalf("fresh connection declaring %d bytes not closed: %v", frameBytes, err)
			}
		}
	}

	// Connections that sent a valid ApiVersions first, then the flood.
	conns := make([]*e2eRawConn, floodConns)
	for i := range conns {
		c := e2eDialRaw(t, b)
		if tc, ok := c.conn.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(128 << 10) // keep blocked writers' kernel memory small
		}
		corr := c.request(kmsg.NewPtrApiVersionsRequest(), 3)
		c.response(corr, &kmsg.ApiVersionsResponse{Version: 3})
		conns[i] = c
	}
	var finished atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			// Bounded: the test closes the connections when done.
			_ = c.conn.SetWriteDeadline(time.Now().Add(60 * time.Second))
			if _, err := c.conn.Write(prefix); err != nil {
				return
			}
			for left := frameBytes - 1024; left > 0; {
				n, err := c.conn.Write(chunk[:min(left, len(chunk))])
				left -= n
				if err != nil {
					return
				}
			}
			finished.Add(1)
		})
	}
	// The flood is in place once the broker has taken in a whole frame
	// but its last KiB.
	deadline := time.Now().Add(30 * time.Second)
	for finished.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no flood connection could send its 100 MB within 30 s")
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
	}

	// A normal client keeps working meanwhile.
	cl := e2eNewClient(t, b)
	const records = 100
	var rs []*kgo.Record
	for i := range records {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%d", i))})
	}
	for _, r := range rs {
		e2eProduceSync(t, cl, r)
	}
	got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), records, 15*time.Second)
	if len(got) != records {
		t.Fatalf("consumed %d records; want %d", len(got), records)
	}

	rssKiB := e2eProcStatusKiB(t, pid, "VmRSS")
	hwmKiB := e2eProcStatusKiB(t, pid, "VmHWM")
	stillBlocked := int64(floodConns) - finished.Load()
	for _, c := range conns {
		c.conn.Close()
	}
	wg.Wait()
	b.RequireAlive()
	t.Logf("flood of %d connections x %d-byte frames: broker VmRSS %s at start, %s under flood, VmHWM %s; %d connections still blocked",
		floodConns, frameBytes, e2eMiB(startKiB), e2eMiB(rssKiB), e2eMiB(hwmKiB), stillBlocked)
	if measure {
		return
	}
	if limit := int64(e2eMemBudgetBytes+e2eMemOverheadBytes) >> 10; hwmKiB > limit {
		t.Fatalf("broker peak RSS %s exceeds budget + overhead %s", e2eMiB(hwmKiB), e2eMiB(limit))
	}
	if stillBlocked == 0 {
		t.Fatal("every flood connection sent its whole frame: nothing was throttled")
	}
	if !strings.Contains(b.logTail(1<<20), "not yet sent a valid request") {
		t.Fatal("broker log does not say why fresh connections were closed")
	}
}

// TestE2EMemoryMaximalFetches: 8 concurrent fetches asking for 2^31-1
// bytes (MaxBytes and PartitionMaxBytes) of a large partition. Each answer
// is capped at --fetch-max-bytes and the broker's peak RSS stays within
// the budget plus overhead.
//
// The partition is the 1 GiB (about 3 s to write here with
// --sync-writes=false and 4 MiB batches); fetch.max.bytes is lowered to 16
// MiB so that one maximal fetch fits the test's 64 MiB budget.
// CHRONIK_E2E_MEMORY_PARTITION_MIB changes the size.
func TestE2EMemoryMaximalFetches(t *testing.T) {
	e2eRequireProc(t)
	measure := e2eMemMeasureOnly()
	partitionMiB := 1024
	if v := os.Getenv("CHRONIK_E2E_MEMORY_PARTITION_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 16 {
			t.Fatalf("CHRONIK_E2E_MEMORY_PARTITION_MIB=%q: want a number >= 16", v)
		}
		partitionMiB = n
	}
	args := []string{"--sync-writes=false", "--message-max-bytes", strconv.Itoa(16 << 20)}
	fetchers := 8
	if measure {
		fetchers = 4
	} else {
		args = append(args, "--queued-max-request-bytes", strconv.Itoa(e2eMemBudgetBytes),
			"--fetch-max-bytes", strconv.Itoa(e2eMemFetchMaxBytes))
	}
	b := e2eStartBroker(t, args...)
	pid := b.pid()
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 1, nil)

	// Fill the partition with 4 MiB batches (4 records of 1 MiB), acks=1,
	// four producers at once.
	const batchRecords, recordBytes = 4, 1 << 20
	value := strings.Repeat("0123456789abcdef", recordBytes/16)
	values := make([]string, batchRecords)
	for i := range values {
		values[i] = value
	}
	batch := e2eEncodeBatch(-1, -1, -1, time.Now().UnixMilli(), values...)
	batches := partitionMiB << 20 / len(batch)
	cl := e2eNewClient(t, b, kgo.ProducerBatchMaxBytes(16<<20))
	ctx := e2eTestCtx(t, 60*time.Second)
	details, err := adm.ListTopics(ctx, topic)
	if err != nil || details[topic].Err != nil {
		t.Fatalf("list %s: %v %v", topic, err, details[topic].Err)
	}
	id := [16]byte(details[topic].ID)
	started := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for next.Add(1) <= int64(batches) {
				req := produceRequestFor(topic, id, batch)
				resp, err := req.RequestWith(ctx, cl)
				if err == nil && resp.Topics[0].Partitions[0].ErrorCode != 0 {
					err = fmt.Errorf("produce error code %d", resp.Topics[0].Partitions[0].ErrorCode)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("produce: %v", err)
	}
	produceTook := time.Since(started)
	end := e2eEndOffset(t, adm, topic, 0)

	// The fetches.
	e2eResetPeakRSS(t, pid)
	startKiB := e2eProcStatusKiB(t, pid, "VmRSS")
	type result struct {
		bytes int
		err   error
	}
	results := make(chan result, 2*fetchers)
	started = time.Now()
	for i := range fetchers {
		c := e2eDialRaw(t, b)
		corr := c.request(kmsg.NewPtrApiVersionsRequest(), 3)
		c.response(corr, &kmsg.ApiVersionsResponse{Version: 3})
		wg.Go(func() {
			// From the start, then from the middle of the partition.
			for _, offset := range []int64{int64(i), end/2 + int64(i)} {
				n, err := e2eMaximalFetch(c, topic, offset, !measure)
				results <- result{n, err}
			}
		})
	}
	wg.Wait()
	fetchTook := time.Since(started)
	close(results)
	hwmKiB := e2eProcStatusKiB(t, pid, "VmHWM")
	largest := 0
	for r := range results {
		if r.err != nil {
			t.Fatalf("fetch: %v", r.err)
		}
		largest = max(largest, r.bytes)
		if !measure && (r.bytes == 0 || r.bytes > e2eMemFetchMaxBytes) {
			t.Fatalf("fetch response carries %d record bytes; want 1..%d (fetch.max.bytes)", r.bytes, e2eMemFetchMaxBytes)
		}
	}
	b.RequireAlive()
	t.Logf("partition of %d MiB (%d batches of %d bytes) produced in %v; %d fetchers x 2 maximal fetches in %v: largest response %d bytes; broker VmRSS %s before the fetches, VmHWM %s during them",
		partitionMiB, batches, len(batch), produceTook.Round(time.Millisecond), fetchers, fetchTook.Round(time.Millisecond),
		largest, e2eMiB(startKiB), e2eMiB(hwmKiB))
	if measure {
		return
	}
	if limit := int64(e2eMemBudgetBytes+e2eMemOverheadBytes) >> 10; hwmKiB > limit {
		t.Fatalf("broker peak RSS %s during the fetches exceeds budget + overhead %s", e2eMiB(hwmKiB), e2eMiB(limit))
	}
}

// produceRequestFor is an acks=1 produce of one batch to partition 0 of
// topic, named by name and id (kgo sends v13, which names it by id).
func produceRequestFor(topic string, id [16]byte, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = 1
	req.TimeoutMillis = 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// e2eMaximalFetch sends a fetch v12 for everything from offset (MaxBytes
// and PartitionMaxBytes 2^31-1) and returns the record bytes answered.
// With decode unset the response is only counted, not kept, so that an
// unbounded broker's answers do not fill the test's own memory.
func e2eMaximalFetch(c *e2eRawConn, topic string, offset int64, decode bool) (int, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = 1<<31 - 1
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1<<31 - 1
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	corr := c.request(req, 12)

	_ = c.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return 0, fmt.Errorf("read response size: %w", err)
	}
	n := int64(binary.BigEndian.Uint32(size[:]))
	if !decode {
		if _, err := io.CopyN(io.Discard, c.r, n); err != nil {
			return 0, fmt.Errorf("read %d-byte response: %w", n, err)
		}
		return int(n), nil
	}
	if n > e2eMemFetchMaxBytes+1<<20 {
		return 0, fmt.Errorf("response of %d bytes, far above fetch.max.bytes %d", n, e2eMemFetchMaxBytes)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, fmt.Errorf("read %d-byte response: %w", n, err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return 0, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	if err := resp.ReadFrom(body[5:]); err != nil { // correlation id, empty header tags
		return 0, fmt.Errorf("decode fetch response: %w", err)
	}
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("unexpected fetch response: error %d, %d topics", resp.ErrorCode, len(resp.Topics))
	}
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		return 0, fmt.Errorf("fetch partition error %d", sp.ErrorCode)
	}
	return len(sp.RecordBatches), nil
}
