package main

// Durability across kill -9 and graceful restarts, and `chronik dump`.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// e2eReadAll consumes every partition of topic from the start up to its
// current end offset and returns the records per partition.
func e2eReadAll(t testing.TB, b *e2eBroker, adm *kadm.Client, topic string, partitions int32) map[int32][]*kgo.Record {
	t.Helper()
	out := make(map[int32][]*kgo.Record)
	for p := range partitions {
		end := e2eEndOffset(t, adm, topic, p)
		if end == 0 {
			continue
		}
		out[p] = e2eConsumeN(t, b, topic, p, kgo.NewOffset().AtStart(), int(end), 30*time.Second)
	}
	return out
}

// TestE2EKillRestart produces with acks=all from a goroutine, kills the
// broker with SIGKILL mid-stream, restarts it on the same directory and
// checks that every acknowledged record is there exactly once, at the
// offset it was acknowledged at, with dense offsets. It does this for
// several rounds, so later rounds crash a log that was itself recovered.
func TestE2EKillRestart(t *testing.T) {
	b := e2eStartBroker(t, "--sync-writes=true")
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	const partitions = 2
	e2eCreateTopic(t, adm, topic, partitions, nil)

	type ack struct {
		partition int32
		offset    int64
	}
	acked := make(map[string]ack) // every record acknowledged in any round
	pad := strings.Repeat("p", 100)
	next := 0 // next record number

	for round := 1; round <= 4; round++ {
		var (
			mu         sync.Mutex
			roundAcked = make(map[string]ack)
		)
		pcl, err := kgo.NewClient(
			kgo.SeedBrokers(b.Addr()),
			kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent by default
			kgo.MaxBufferedRecords(1000),
			kgo.ProducerBatchMaxBytes(16<<10), // many small batches in flight
			kgo.RecordDeliveryTimeout(5*time.Second),
			kgo.DialTimeout(time.Second),
		)
		if err != nil {
			t.Fatal(err)
		}
		pctx, stopProducing := context.WithCancel(context.Background())
		producerDone := make(chan struct{})
		first := next
		go func() {
			defer close(producerDone)
			for i := first; pctx.Err() == nil; i++ {
				v := fmt.Sprintf("rec-%08d-%s", i, pad)
				pcl.Produce(pctx, &kgo.Record{Key: []byte(v[:12]), Value: []byte(v)}, func(r *kgo.Record, err error) {
					if err == nil {
						mu.Lock()
						roundAcked[string(r.Value)] = ack{r.Partition, r.Offset}
						mu.Unlock()
					}
				})
			}
		}()
		nacked := func() int {
			mu.Lock()
			defer mu.Unlock()
			return len(roundAcked)
		}

		// Kill once some records are acknowledged, while the producer
		// is still sending.
		want := 1500 * round
		deadline := time.Now().Add(30 * time.Second)
		for nacked() < want {
			if time.Now().After(deadline) {
				stopProducing()
				t.Fatalf("round %d: only %d records acknowledged within 30s", round, nacked())
			}
			time.Sleep(5 * time.Millisecond) // poll interval
		}
		b.Kill()
		killedAt := nacked()
		// Odd rounds: the producer is closed while the broker is down, so
		// nothing is written after the restart until the checks below.
		// Even rounds: restart while the producer still has batches in
		// flight; its retries must be deduplicated by the producer state
		// the broker recovers from the log.
		inFlightRestart := round%2 == 0
		if inFlightRestart {
			b.Restart()
		}
		stopProducing()
		select {
		case <-producerDone:
		case <-time.After(15 * time.Second):
			t.Fatalf("round %d: producer goroutine did not stop within 15s", round)
		}
		closeStart := time.Now()
		closed := make(chan struct{})
		go func() {
			if inFlightRestart {
				fctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				pcl.Flush(fctx)
			}
			pcl.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: producer client did not close within 30s", round)
		}
		t.Logf("round %d: producer closed in %v", round, time.Since(closeStart).Round(time.Millisecond))
		if !inFlightRestart {
			b.Restart()
		}
		mu.Lock()
		for k, v := range roundAcked {
			acked[k] = v
		}
		roundCount := len(roundAcked)
		mu.Unlock()

		adm = e2eNewAdmin(t, b)
		e2eWaitTopicReady(t, adm, topic, partitions)
		// Right after the restart, each partition's end offset (high
		// watermark) already covers every acknowledged offset.
		maxAcked := map[int32]int64{}
		for _, a := range acked {
			maxAcked[a.partition] = max(maxAcked[a.partition], a.offset+1)
		}
		for p := range int32(partitions) {
			if end := e2eEndOffset(t, adm, topic, p); end < maxAcked[p] {
				t.Errorf("round %d: partition %d: ListOffsets(latest) after restart is %d, but offset %d was acknowledged (%s)",
					round, p, end, maxAcked[p]-1, e2eDiagnoseEnd(t, b, adm, topic, p, maxAcked[p]))
			}
		}
		all := e2eReadAll(t, b, adm, topic, partitions)
		for p := range int32(partitions) {
			if n := int64(len(all[p])); n < maxAcked[p] {
				t.Errorf("round %d: partition %d: %d records readable after restart, but offset %d was acknowledged", round, p, n, maxAcked[p]-1)
			}
		}

		seen := make(map[string]ack)
		total := 0
		for p := range int32(partitions) {
			for i, r := range all[p] {
				if r.Offset != int64(i) {
					t.Fatalf("round %d: partition %d: record %d has offset %d; offsets must be dense from 0", round, p, i, r.Offset)
				}
				v := string(r.Value)
				if prev, dup := seen[v]; dup {
					t.Errorf("round %d: %.12s stored twice: partition %d offset %d and partition %d offset %d", round, v, prev.partition, prev.offset, p, r.Offset)
				}
				seen[v] = ack{p, r.Offset}
				total++
			}
		}
		missing := 0
		for v, a := range acked {
			got, ok := seen[v]
			switch {
			case !ok:
				missing++
				if missing <= 10 {
					t.Errorf("round %d: acknowledged record %.12s (partition %d offset %d) lost after kill -9", round, v, a.partition, a.offset)
				}
			case got != a:
				t.Errorf("round %d: acknowledged record %.12s moved from partition %d offset %d to partition %d offset %d", round, v, a.partition, a.offset, got.partition, got.offset)
			}
		}
		if missing > 0 {
			t.Fatalf("round %d: %d of %d acknowledged records lost", round, missing, len(acked))
		}
		t.Logf("round %d: %d acknowledged this round (%d when SIGKILL was sent); after restart %d stored, %d acknowledged in all",
			round, roundCount, killedAt, total, len(acked))
		// Number the next round's records after everything this round
		// may have sent, acknowledged or not.
		mu.Lock()
		for v := range seen {
			var n int
			if _, err := fmt.Sscanf(v, "rec-%08d-", &n); err == nil && n >= next {
				next = n + 1
			}
		}
		mu.Unlock()
		next += 1 << 20
	}

	// The restarted broker accepts new writes after the recovered tail.
	cl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(partitions) {
		end := e2eEndOffset(t, adm, topic, p)
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte("after-restart")}
		e2eProduceSync(t, cl, r)
		if r.Offset != end {
			t.Errorf("partition %d: first record after restart at offset %d, want %d", p, r.Offset, end)
		}
	}
}

// e2eDiagnoseEnd explains a too-low end offset: whether it catches up
// within 3 s, and how many records `chronik dump` finds on disk.
func e2eDiagnoseEnd(t testing.TB, b *e2eBroker, adm *kadm.Client, topic string, p int32, want int64) string {
	t.Helper()
	start := time.Now()
	end := int64(-1)
	for time.Since(start) < 3*time.Second {
		if end = e2eEndOffset(t, adm, topic, p); end >= want {
			break
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	onDisk := len(e2eRunDump(t, b, topic, p))
	if end >= want {
		return fmt.Sprintf("it reached %d after %v; chronik dump shows %d records on disk", end, time.Since(start).Round(time.Millisecond), onDisk)
	}
	return fmt.Sprintf("still %d after 3s; chronik dump shows %d records on disk", end, onDisk)
}

// TestE2EGracefulRestart stops the broker with SIGTERM (exit status 0),
// restarts it and checks that topics, partitions, configs, records, log
// start offsets and deletions all survived, and that writes continue.
func TestE2EGracefulRestart(t *testing.T) {
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	adm := kadm.NewClient(cl)
	topic, gone := e2eUniqueTopic(t), e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 3, map[string]*string{"retention.ms": kadm.StringPtr("3600000")})
	e2eCreateTopic(t, adm, gone, 1, nil)

	want := e2eTestRecords(topic, 90, time.Now().Add(-time.Minute))
	for i, r := range want {
		r.Partition = int32(i % 3)
	}
	e2eProduceSync(t, cl, want...)
	ctx := e2eTestCtx(t, 60*time.Second)
	var dels kadm.Offsets
	dels.Add(kadm.Offset{Topic: topic, Partition: 0, At: 5})
	if rs, err := adm.DeleteRecords(ctx, dels); err != nil || rs.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, rs.Error())
	}
	if rs, err := adm.DeleteTopics(ctx, gone); err != nil || rs.Error() != nil {
		t.Fatalf("DeleteTopics: %v %v", err, rs.Error())
	}
	e2eWaitTopicGone(t, adm, gone)
	cl.Close()

	b.Stop()
	b.Restart()

	cl = e2eNewClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm = kadm.NewClient(cl)
	e2eWaitTopicReady(t, adm, topic, 3)
	e2eExpectConfig(t, e2eDescribeTopicConfig(t, adm, topic), "retention.ms", "3600000", true)
	md, err := adm.Metadata(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	if td := md.Topics[gone]; td.Err == nil {
		t.Errorf("deleted topic %s is back after restart", gone)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 5 {
		t.Errorf("partition 0 log start offset after restart: %d, want 5", o.Offset)
	}
	for p := range int32(3) {
		if end := e2eEndOffset(t, adm, topic, p); end != 30 {
			t.Errorf("partition %d end offset after restart: %d, want 30", p, end)
		}
		from := int64(0)
		if p == 0 {
			from = 5
		}
		got := e2eConsumeN(t, b, topic, p, kgo.NewOffset().AtStart(), int(30-from), 20*time.Second)
		for i, r := range got {
			idx := int(from+int64(i))*3 + int(p)
			if r.Offset != from+int64(i) {
				t.Fatalf("partition %d: offset %d at position %d", p, r.Offset, i)
			}
			if err := e2eSameRecord(want[idx], r); err != nil {
				t.Errorf("partition %d offset %d: %v", p, r.Offset, err)
			}
		}
	}

	// Writes continue where the log ended, with a fresh idempotent producer.
	r := &kgo.Record{Topic: topic, Partition: 1, Value: []byte("after restart")}
	e2eProduceSync(t, cl, r)
	if r.Offset != 30 {
		t.Errorf("first record after restart at offset %d, want 30", r.Offset)
	}
	// A second graceful cycle, with SIGINT (Ctrl-C), no traffic in between.
	cl.Close()
	b.StopWith(syscall.SIGINT)
	b.Restart()
	adm = e2eNewAdmin(t, b)
	e2eWaitTopicReady(t, adm, topic, 3)
	if end := e2eEndOffset(t, adm, topic, 1); end != 31 {
		t.Errorf("partition 1 end offset after second restart: %d, want 31", end)
	}
}

// e2eDumpLine is one line of `chronik dump`; key and value are
// json.RawMessage so that null and absent can be told apart.
type e2eDumpLine struct {
	Offset    *int64          `json:"offset"`
	Timestamp *int64          `json:"timestamp"`
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	// Group is the decoded record of __consumer_offsets.
	Group *struct {
		Kind string `json:"kind"`
		Key  struct {
			Group     string
			Topic     string
			Partition int32
		} `json:"key"`
		Value *struct{ Offset int64 } `json:"value"`
		// ConsumerGroup is a KIP-848 record.
		ConsumerGroup *struct {
			Type, Group, Member string
			Epoch               int32
		} `json:"consumer_group"`
	} `json:"group_record"`
}

func e2eRunDump(t testing.TB, b *e2eBroker, topic string, p int32) []e2eDumpLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, "dump", "--data-dir", b.dataDir, "--topic", topic, "--partition", fmt.Sprint(p))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chronik dump --topic %s --partition %d: %v\nstderr:\n%s", topic, p, err, stderr.String())
	}
	if e2ePanicRE.Match(stderr.Bytes()) {
		t.Errorf("chronik dump stderr shows a panic:\n%s", stderr.String())
	}
	var out []e2eDumpLine
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var d e2eDumpLine
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatalf("dump line is not JSON: %v: %s", err, line)
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading dump output: %v", err)
	}
	return out
}

// e2eDumpMatches compares a dump line's field with the record bytes: JSON
// null for nil, else a JSON string holding exactly the bytes.
func e2eDumpMatches(raw json.RawMessage, want []byte) error {
	if raw == nil {
		return errors.New("field absent")
	}
	if want == nil {
		if string(raw) != "null" {
			return fmt.Errorf("got %s, want null", raw)
		}
		return nil
	}
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil || s == nil {
		return fmt.Errorf("got %s, want the string %q", raw, want)
	}
	if *s != string(want) {
		return fmt.Errorf("got %q, want %q", *s, want)
	}
	return nil
}

// TestE2EDump checks `chronik dump` against what was produced, on a
// stopped broker and on a running one, across codecs and a log start
// offset moved by DeleteRecords.
func TestE2EDump(t *testing.T) {
	b := e2eStartBroker(t)
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 2, nil)
	want := e2eTestRecords(topic, 40, time.Now().Add(-time.Minute))
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
	for i := 0; i < 40; i += 8 { // five batches per partition, one per codec
		pcl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(codecs[i/8]))
		for j := i; j < i+8; j++ {
			want[j].Partition = int32(j % 2)
		}
		e2eProduceSync(t, pcl, want[i:i+8]...)
		pcl.Close()
	}
	byPartition := map[int32][]*kgo.Record{}
	for _, r := range want {
		byPartition[r.Partition] = append(byPartition[r.Partition], r)
	}
	ctx := e2eTestCtx(t, 30*time.Second)
	var dels kadm.Offsets
	dels.Add(kadm.Offset{Topic: topic, Partition: 1, At: 3})
	if rs, err := adm.DeleteRecords(ctx, dels); err != nil || rs.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, rs.Error())
	}

	check := func(t *testing.T) {
		for p := range int32(2) {
			lines := e2eRunDump(t, b, topic, p)
			recs := byPartition[p]
			first := 0
			if p == 1 && len(lines) > 0 && *lines[0].Offset == 3 {
				first = 3 // dump may omit records below the log start offset
			}
			if len(lines) != len(recs)-first {
				t.Fatalf("partition %d: dump printed %d records, want %d (or %d)", p, len(lines), len(recs), len(recs)-3)
			}
			for i, d := range lines {
				r := recs[first+i]
				if d.Offset == nil || d.Timestamp == nil {
					t.Fatalf("partition %d line %d lacks offset or timestamp", p, i)
				}
				if *d.Offset != int64(first+i) {
					t.Errorf("partition %d line %d: offset %d, want %d", p, i, *d.Offset, first+i)
				}
				if *d.Timestamp != r.Timestamp.UnixMilli() {
					t.Errorf("partition %d offset %d: timestamp %d, want %d", p, *d.Offset, *d.Timestamp, r.Timestamp.UnixMilli())
				}
				if err := e2eDumpMatches(d.Key, r.Key); err != nil {
					t.Errorf("partition %d offset %d: key: %v", p, *d.Offset, err)
				}
				if err := e2eDumpMatches(d.Value, r.Value); err != nil {
					t.Errorf("partition %d offset %d: value: %v", p, *d.Offset, err)
				}
			}
		}
	}
	t.Run("running", check)
	b.Stop()
	t.Run("stopped", check)
}

// TestE2EBareDefaults runs `chronik` with no arguments: it serves on
// 127.0.0.1:9092 and keeps its data in ./chronik-data, across a restart.
func TestE2EBareDefaults(t *testing.T) {
	b := e2eStartBareBroker(t)
	cl := e2eNewClient(t, b, kgo.AllowAutoTopicCreation())
	topic := e2eUniqueTopic(t)
	r := &kgo.Record{Topic: topic, Value: []byte("defaults")}
	e2eProduceSync(t, cl, r)
	cl.Close()
	b.Stop()
	if _, err := os.Stat(filepath.Join(b.workDir, "chronik-data")); err != nil {
		t.Fatalf("a bare chronik did not keep its data in ./chronik-data: %v", err)
	}
	b.Restart()
	got := e2eConsumeN(t, b, topic, r.Partition, kgo.NewOffset().AtStart(), 1, 10*time.Second)
	if string(got[0].Value) != "defaults" {
		t.Fatalf("after restart %s[%d] holds %q", topic, r.Partition, got[0].Value)
	}
	lines := e2eRunDump(t, b, topic, r.Partition)
	if len(lines) != 1 {
		t.Fatalf("chronik dump on ./chronik-data printed %d records, want 1", len(lines))
	}
}
