package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// e2eTxnRun drives franz-go's transactional producer through three
// transactions over partitions 0 and 1 of topic: the first committed,
// the second aborted, the third committed. A read_committed consumer
// must then read exactly the committed records (the third transaction's
// records come after the aborted ones, so reading them proves the
// consumer went past the abort), and a read_uncommitted one sees the
// aborted records too.
//
// afterFirst, when set, runs between the first transaction and the second.
func e2eTxnRun(t *testing.T, newClient func(opts ...kgo.Opt) *kgo.Client, topic string, afterFirst func(prod *kgo.Client)) {
	t.Helper()
	newProducer := func() *kgo.Client {
		return newClient(
			kgo.TransactionalID("e2e-txn-"+topic),
			kgo.TransactionTimeout(30*time.Second),
			kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
		)
	}
	prod := newProducer()
	ctx := e2eTestCtx(t, 60*time.Second)
	const perPartition = 5
	// retryAfterErr: a produce or commit error ends the attempt with an
	// abort, and the transaction is tried again by a new producer with
	// the same transactional id (whose InitProducerId fences the old one
	// and aborts what it left open), as an application restarts a failed
	// producer. Used after a broker was killed: kgo keeps the dead
	// coordinator cached, fails AddPartitionsToTxn with "unknown broker"
	// once its metadata dropped the broker, and marks the producer id
	// fatal.
	retryAfterErr := false
	txn := func(prefix string, commit kgo.TransactionEndTry) {
		t.Helper()
		var rs []*kgo.Record
		for p := int32(0); p < 2; p++ {
			for i := range perPartition {
				rs = append(rs, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("%s-%d-%d", prefix, p, i))})
			}
		}
		for attempt := 1; ; attempt++ {
			if attempt > 1 {
				prod.Close()
				prod = newProducer()
			}
			if err := prod.BeginTransaction(); err != nil {
				t.Fatalf("BeginTransaction %s: %v", prefix, err)
			}
			for _, r := range rs {
				r.Offset, r.Timestamp = 0, time.Time{}
			}
			err := prod.ProduceSync(ctx, rs...).FirstErr()
			end := commit
			if err != nil {
				end = kgo.TryAbort
			}
			endErr := prod.EndTransaction(ctx, end)
			switch {
			case err == nil && endErr == nil:
				return
			case !retryAfterErr || attempt == 3:
				t.Fatalf("transaction %s (attempt %d): produce: %v; EndTransaction(%v): %v", prefix, attempt, err, end, endErr)
			}
			t.Logf("transaction %s (attempt %d) aborted after an error, trying again: produce: %v; EndTransaction: %v", prefix, attempt, err, endErr)
		}
	}
	txn("commit1", kgo.TryCommit)
	if afterFirst != nil {
		afterFirst(prod)
		retryAfterErr = true
	}
	txn("abort", kgo.TryAbort)
	txn("commit2", kgo.TryCommit)

	// read reads until want distinct records. Under read_committed each
	// must come once (exactly once); read_uncommitted also returns the
	// records of an aborted attempt that a retry wrote again.
	read := func(level kgo.IsolationLevel, want int, once bool) map[string]bool {
		t.Helper()
		cons := newClient(
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}}),
			kgo.FetchIsolationLevel(level),
			kgo.FetchMaxWait(500*time.Millisecond),
		)
		seen := map[string]bool{}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for len(seen) < want {
			fs := cons.PollFetches(rctx)
			if rctx.Err() != nil {
				t.Fatalf("read %d of %d records before the timeout: %v", len(seen), want, seen)
			}
			for _, e := range fs.Errors() {
				if errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, context.Canceled) {
					continue
				}
				t.Fatalf("fetch %s[%d]: %v", e.Topic, e.Partition, e.Err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				v := string(r.Value)
				if seen[v] && once {
					t.Errorf("record %s read twice", v)
				}
				seen[v] = true
			})
		}
		return seen
	}
	committed := read(kgo.ReadCommitted(), 4*perPartition, true)
	for v := range committed {
		if !strings.HasPrefix(v, "commit") {
			t.Errorf("read_committed returned %s, a record of the aborted transaction", v)
		}
	}
	if len(committed) != 4*perPartition {
		t.Errorf("read_committed returned %d records, want %d", len(committed), 4*perPartition)
	}
	all := read(kgo.ReadUncommitted(), 6*perPartition, false)
	if !all["abort-0-0"] || !all["abort-1-4"] {
		t.Errorf("read_uncommitted misses the aborted records: %v", all)
	}
}

// TestE2ETransactionsSingleNode: a kgo transactional producer commits and
// aborts transactions across two partitions of one broker; read_committed
// consumers see exactly the committed records.
//
// After a stop, `chronik dump` shows the transactional id's last state in
// __transaction_state (CompleteCommit) and the markers in the topic.
func TestE2ETransactionsSingleNode(t *testing.T) {
	b := e2eStartBroker(t, "--transaction-state-log-num-partitions", "5")
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, e2eNewAdmin(t, b), topic, 2, nil)
	e2eTxnRun(t, func(opts ...kgo.Opt) *kgo.Client { return e2eNewClient(t, b, opts...) }, topic, nil)
	b.Stop()

	id := "e2e-txn-" + topic
	var last map[string]any
	for p := range 5 {
		for _, line := range e2eDumpJSON(t, b, "__transaction_state", int32(p)) {
			if rec, ok := line["txn_record"].(map[string]any); ok && rec["transactional_id"] == id {
				last = rec
			}
		}
	}
	if last == nil {
		t.Fatalf("no __transaction_state record of %s in the dump", id)
	}
	if v, _ := last["value"].(map[string]any); v == nil || v["State"] != "CompleteCommit" {
		t.Fatalf("last __transaction_state record of %s: %v, want state CompleteCommit", id, last)
	}
	var markers []string
	for _, line := range e2eDumpJSON(t, b, topic, 0) {
		if c, ok := line["control_marker"].(map[string]any); ok {
			markers = append(markers, fmt.Sprint(c["type"]))
		}
	}
	if fmt.Sprint(markers) != "[commit abort commit]" {
		t.Fatalf("markers in %s-0: %v, want commit, abort, commit", topic, markers)
	}
}

// e2eDumpJSON runs `chronik dump` on a partition of a stopped broker and
// returns its lines as JSON objects.
func e2eDumpJSON(t *testing.T, b *e2eBroker, topic string, p int32) []map[string]any {
	t.Helper()
	out, err := exec.Command(b.bin, "dump", "--data-dir", b.dataDir, "--topic", topic, "--partition", fmt.Sprint(p)).Output()
	if err != nil {
		t.Fatalf("chronik dump %s-%d: %v", topic, p, err)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("dump line is not JSON: %v: %s", err, l)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestE2ETransactionsCluster is the same on three nodes, the topic
// replicated three times: the transaction coordinator, the partitions'
// leaders and __transaction_state's leaders are spread over the brokers,
// so markers travel as WriteTxnMarkers and produce verification as
// AddPartitionsToTxn between brokers.
func TestE2ETransactionsCluster(t *testing.T) {
	c := e2eStartCluster(t)
	topic := e2eUniqueTopic(t)
	adm := kadm.NewClient(c.client())
	ctx := e2eTestCtx(t, 20*time.Second)
	resp, err := adm.CreateTopic(ctx, 2, 3, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("CreateTopics %s: %v %v", topic, err, resp.Err)
	}
	e2eWaitTopicReady(t, adm, topic, 2)
	e2eTxnRun(t, func(opts ...kgo.Opt) *kgo.Client { return c.client(opts...) }, topic, nil)
}

// TestE2ETransactionsClusterCoordinatorKilled: on three nodes, the
// transaction coordinator's broker is killed (SIGKILL) after the first
// transaction; the client finds the new coordinator (the new leader of
// the id's __transaction_state partition, which loads it from the
// replicated log) and the next transactions abort and commit as before:
// read_committed still reads exactly the committed records.
func TestE2ETransactionsClusterCoordinatorKilled(t *testing.T) {
	c := e2eStartCluster(t)
	topic := e2eUniqueTopic(t)
	adm := kadm.NewClient(c.client())
	ctx := e2eTestCtx(t, 90*time.Second)
	resp, err := adm.CreateTopic(ctx, 2, 3, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("CreateTopics %s: %v %v", topic, err, resp.Err)
	}
	e2eWaitTopicReady(t, adm, topic, 2)
	e2eTxnRun(t, func(opts ...kgo.Opt) *kgo.Client {
		return c.client(append([]kgo.Opt{kgo.RetryTimeout(45 * time.Second)}, opts...)...)
	}, topic, func(prod *kgo.Client) {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version = 3
		req.CoordinatorType, req.CoordinatorKey = 1, "e2e-txn-"+topic
		r, err := req.RequestWith(ctx, prod)
		if err != nil || r.ErrorCode != 0 {
			t.Fatalf("FindCoordinator: %v %+v", err, r)
		}
		t.Logf("killing the transaction coordinator, broker %d", r.NodeID)
		c.broker(r.NodeID).Kill()
	})
}
