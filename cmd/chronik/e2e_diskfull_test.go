package main

// A full disk against the real binary: the data directory is a small
// tmpfs, filled by producing until writes fail with ENOSPC.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// e2eDiskFullAnswerBound is how long a request touching a full disk may
// take to be answered: far below the 30 s the test's long polls and
// produce timeouts would wait, so an answer within it was not a timeout.
const e2eDiskFullAnswerBound = 10 * time.Second

// e2eMountTmpfs mounts a tmpfs of size (mount(8) syntax) on a fresh
// directory, unmounted when the test ends; it skips the test where
// mounting is not allowed.
func e2eMountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("this test needs root and mount(8) to mount a tmpfs: mount: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// e2eFillDisk writes a file in dir until the file system is full and
// returns how many bytes it took.
func e2eFillDisk(t *testing.T, dir string) int64 {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "zz-filler"))
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return 0
		}
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			return n
		}
		if err != nil {
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
}

// e2eDiskFullKcat starts kcat -C -e on topic-0 and returns a function
// that waits (bounded) for it to exit and returns the offsets it printed;
// nil when kcat is not installed.
func e2eDiskFullKcat(t *testing.T, b *e2eBroker, topic string) func() []string {
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Log("kcat not found on PATH: the kcat -C -e check is skipped")
		return nil
	}
	ctx := e2eTestCtx(t, time.Minute)
	cmd := exec.CommandContext(ctx, path, "-b", b.Addr(), "-t", topic, "-p", "0", "-C", "-e", "-o", "beginning", "-q", "-f", "%o\n")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kcat: %v", err)
	}
	return func() []string {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("kcat -C -e: %v; stderr:\n%s", err, stderr.String())
			}
		case <-time.After(e2eDiskFullAnswerBound):
			t.Fatalf("kcat -C -e still running %v after the partition came back; stderr:\n%s", e2eDiskFullAnswerBound, stderr.String())
		}
		return strings.Fields(stdout.String())
	}
}

// diskFullProduce sends one acks=all batch of values to topic-0 on c.
func diskFullProduce(c *e2eRawConn, topic string, values []string) int32 {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = e2eEncodeBatch(-1, -1, -1, time.Now().UnixMilli(), values...)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return c.request(req, 9)
}

// diskFullFetch sends a long poll for topic-0 at offset on c.
func diskFullFetch(c *e2eRawConn, topic string, offset int64) int32 {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 30000
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = offset
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return c.request(req, 12)
}

// TestE2EDiskFull fills a tmpfs data directory. Producers and the long
// poll waiting on the partition get KAFKA_STORAGE_ERROR at once (not a
// timeout); DeleteTopics of another topic succeeds on the full disk (the
// space reserve); once the file system grows, the partition serves and
// takes writes again without a restart, and every acknowledged record is
// read back exactly once at its offset.
func TestE2EDiskFull(t *testing.T) {
	mnt := e2eMountTmpfs(t, "8m")
	// The later --data-dir wins over the harness's own.
	b := e2eStartBroker(t, "--data-dir", mnt)
	adm := e2eNewAdmin(t, b)
	ctx := e2eTestCtx(t, time.Minute)
	topic, victim := e2eUniqueTopic(t), e2eUniqueTopic(t)+"-victim"
	e2eCreateTopic(t, adm, victim, 1, nil)
	e2eCreateTopic(t, adm, topic, 1, nil)
	e2eWaitTopicReady(t, adm, victim, 1)
	e2eWaitTopicReady(t, adm, topic, 1)
	// Uncompressed, so that deleting the topic frees what it took.
	cl := e2eNewClient(t, b, kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := strings.Repeat("v", 4000)
	var victimRecs []*kgo.Record
	for i := 0; i < 500; i++ { // 2 MB, freed by deleting the topic
		victimRecs = append(victimRecs, &kgo.Record{Topic: victim, Value: []byte(value)})
	}
	e2eProduceSync(t, cl, victimRecs...)

	// Produce 64 KB batches until the disk is full. The long poll sent
	// first on the same connection waits at the log end; responses come
	// back in request order.
	c := e2eDialRaw(t, b)
	acked := map[int64]string{} // offset -> value of every acknowledged record
	next := int64(0)
	seq := 0
	batch := func() []string {
		var vs []string
		for range 16 {
			seq++
			vs = append(vs, fmt.Sprintf("%08d-%s", seq, value))
		}
		return vs
	}
	full := false
	for i := 0; i < 1000 && !full; i++ {
		values := batch()
		began := time.Now()
		fcorr := diskFullFetch(c, topic, next)
		pcorr := diskFullProduce(c, topic, values)
		fresp := kmsg.NewPtrFetchResponse()
		fresp.Version = 12
		c.response(fcorr, fresp)
		presp := kmsg.NewPtrProduceResponse()
		presp.Version = 9
		c.response(pcorr, presp)
		took := time.Since(began)
		sp := presp.Topics[0].Partitions[0]
		fp := fresp.Topics[0].Partitions[0]
		switch sp.ErrorCode {
		case 0:
			if sp.BaseOffset != next {
				t.Fatalf("batch %d acknowledged at %d, want %d", i, sp.BaseOffset, next)
			}
			for j, v := range values {
				acked[next+int64(j)] = v
			}
			next += int64(len(values))
		case 56: // KAFKA_STORAGE_ERROR
			full = true
			if fp.ErrorCode != 56 {
				t.Fatalf("the long poll waiting on the full partition got error %d, want KAFKA_STORAGE_ERROR (56)", fp.ErrorCode)
			}
			if took > e2eDiskFullAnswerBound {
				t.Fatalf("produce and long poll answered after %v on a full disk", took)
			}
			t.Logf("disk full after %d acknowledged records; produce and long poll answered KAFKA_STORAGE_ERROR in %v", len(acked), took.Round(time.Millisecond))
		default:
			t.Fatalf("produce batch %d: error %d", i, sp.ErrorCode)
		}
	}
	if !full {
		t.Fatal("the 8 MB disk never filled up")
	}

	// Whatever space the failed batch left, the test takes: the disk is
	// now full to the last page.
	filled := e2eFillDisk(t, mnt)
	t.Logf("filled the last %d bytes of the disk", filled)
	// A consumer of the offline partition (kcat -C -e, which hung for 10
	// minutes against a broker that needed a restart) waits while the
	// partition is offline, as with Kafka, and finishes once it is back.
	ackedWhenFull := len(acked)
	kcat := e2eDiskFullKcat(t, b, topic)

	if resp, err := adm.DeleteTopic(ctx, victim); err != nil || resp.Err != nil {
		t.Fatalf("DeleteTopics on a full disk: %v / %v", err, resp.Err)
	}
	if !strings.Contains(b.logTail(1<<20), "released the space reserve") {
		t.Errorf("DeleteTopics succeeded, but the log does not show it needed the space reserve")
	}
	if _, err := os.Stat(filepath.Join(mnt, victim+"-0")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("files of the deleted topic remain: %v", err)
	}

	// Grow the file system: without a restart the partition takes writes
	// again (it reopens by itself once a retry finds room).
	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	deadline := time.Now().Add(e2eDiskFullAnswerBound)
	for produced := 0; produced < 3; {
		values := batch()
		pcorr := diskFullProduce(c, topic, values)
		presp := kmsg.NewPtrProduceResponse()
		presp.Version = 9
		c.response(pcorr, presp)
		sp := presp.Topics[0].Partitions[0]
		switch {
		case sp.ErrorCode == 0:
			for j, v := range values {
				acked[sp.BaseOffset+int64(j)] = v
			}
			produced++
		case sp.ErrorCode == 56 && time.Now().Before(deadline):
			time.Sleep(50 * time.Millisecond) // the retry backoff; poll interval only
		default:
			t.Fatalf("produce after the disk grew: error %d", sp.ErrorCode)
		}
	}
	b.RequireAlive()
	if kcat != nil {
		offsets := kcat()
		if len(offsets) < ackedWhenFull {
			t.Fatalf("kcat -C -e read %d records, want at least the %d acknowledged before the disk filled", len(offsets), ackedWhenFull)
		}
		for i, o := range offsets {
			if o != fmt.Sprint(i) {
				t.Fatalf("kcat -C -e: record %d at offset %s", i, o)
			}
		}
		t.Logf("kcat -C -e, started while the partition was offline, read %d records and exited", len(offsets))
	}

	// Every acknowledged record, exactly once, at its offset.
	end := e2eEndOffset(t, adm, topic, 0)
	recs := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), int(end), 20*time.Second)
	seen := map[string]int64{}
	for _, r := range recs {
		v := string(r.Value)
		if at, dup := seen[v]; dup {
			t.Fatalf("record %.8s at offsets %d and %d", v, at, r.Offset)
		}
		seen[v] = r.Offset
	}
	for off, v := range acked {
		if at, ok := seen[v]; !ok || at != off {
			t.Fatalf("acknowledged record %.8s at offset %d: read back at %d (found %v)", v, off, at, ok)
		}
	}
	t.Logf("%d acknowledged records read back at their offsets (%d records in the log)", len(acked), len(recs))
}
