package main

// End-to-end test: a franz-go producer with kgo's default retry settings
// (acks=all, idempotent, UnknownTopicRetries 4, no delivery timeout) keeps
// producing while one broker at a time goes through an ordinary fault:
// kill -9 and restart, SIGSTOP for a few seconds, SIGTERM and restart.
// Kafka's clients ride through all of these with retriable errors only,
// so no record may fail: a failure is an answer the client could not
// retry, such as UNKNOWN_TOPIC_OR_PARTITION from a broker that has just
// restarted and not yet caught up with the metadata log. Every
// acknowledged record must be read back once, at its offset.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// e2eRestartFault is one step of the schedule.
type e2eRestartFault int

const (
	faultKill e2eRestartFault = iota // kill -9, restart a second later
	faultStop                        // SIGSTOP for a few seconds, then SIGCONT
	faultTerm                        // SIGTERM (controlled shutdown), restart
)

func (f e2eRestartFault) String() string {
	return [...]string{"kill -9 and restart", "SIGSTOP", "SIGTERM and restart"}[f]
}

// signal sends sig to the running process without waiting for anything.
func (b *e2eBroker) signal(sig syscall.Signal) error {
	b.mu.Lock()
	cmd := b.cmd
	b.mu.Unlock()
	if cmd == nil {
		return errors.New("broker never started")
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v: %w", sig, err)
	}
	return nil
}

// pause stops the process with SIGSTOP for d, then resumes it.
func (b *e2eBroker) pause(d time.Duration) error {
	if err := b.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	time.Sleep(d) // the fault's duration, not an assertion
	return b.signal(syscall.SIGCONT)
}

// e2eCreateRF3Topic creates a topic with replication factor 3, retrying
// while the cluster is still forming, and waits for a full ISR.
func e2eCreateRF3Topic(t *testing.T, cl *kgo.Client, topic string, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(cl)
	ctx := e2eTestCtx(t, e2eClusterReadyTimeout)
	for {
		resp, err := adm.CreateTopic(ctx, e2eClusterPartitions, 3, configs, topic)
		if err == nil && resp.Err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create topic: %v / %v", err, resp.Err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, not an assertion
	}
	e2eWaitFullISR(t, "create", cl, topic, e2eClusterISRTimeout)
}

// TestE2EClusterProducerSurvivesRestarts runs the schedule in the file
// comment: two rounds of each fault, rotating the victim over the brokers.
func TestE2EClusterProducerSurvivesRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three broker processes and kills, stops and restarts them")
	}
	c := e2eStartCluster(t)
	admin := c.client()
	adm := kadm.NewClient(admin)
	topic := e2eUniqueTopic(t)
	minISR := "2"
	e2eCreateRF3Topic(t, admin, topic, map[string]*string{"min.insync.replicas": &minISR})

	// The producer: kgo's defaults for everything that decides whether a
	// record fails; only the seeds and an explicit partition per record
	// (round robin, so every partition sees every fault).
	producer, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(producer.Close)
	acks := newE2EAckLog()
	bg := e2eStartBackgroundProducer(producer, topic, "restarts", acks)
	stopped := false
	defer func() {
		if !stopped {
			close(bg.stop)
			<-bg.done
		}
	}()

	schedule := []e2eRestartFault{faultKill, faultStop, faultTerm, faultStop, faultKill, faultTerm}
	for round, fault := range schedule {
		victim := c.broker(int32(round%e2eClusterSize) + 1)
		step := fmt.Sprintf("round %d: %v of broker %d", round+1, fault, victim.nodeID)
		time.Sleep(time.Second) // workload between faults, not an assertion
		t.Logf("%s", step)
		switch fault {
		case faultKill:
			victim.Kill()
			time.Sleep(time.Second) // downtime, not an assertion
			victim.Restart()
		case faultStop:
			if err := victim.pause(time.Duration(2+round%3) * time.Second); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		case faultTerm:
			if err := victim.stopWith(syscall.SIGTERM); err != nil {
				t.Fatalf("%s: graceful stop: %v", step, err)
			}
			victim.Restart()
		}
		e2eWaitFullISR(t, step, admin, topic, e2eClusterISRTimeout)
	}
	time.Sleep(time.Second) // workload after the last fault, not an assertion
	stopped = true
	bg.finish(t, "end")

	acked, failed := acks.counts()
	t.Logf("%d records sent, %d acknowledged, %d failed", bg.sent, acked, failed)
	if failed > 0 {
		byErr := map[string]int{}
		acks.mu.Lock()
		for _, err := range acks.failed {
			byErr[err.Error()]++
		}
		acks.mu.Unlock()
		var lines []string
		for e, n := range byErr {
			lines = append(lines, fmt.Sprintf("%d × %s", n, e))
		}
		sort.Strings(lines)
		t.Errorf("%d of %d records failed with errors the default client did not retry:\n%s", failed, bg.sent, strings.Join(lines, "\n"))
	}
	// Every record has its outcome (finish flushed the producer): the
	// log no longer changes.
	read := e2eReadTopic(t, "read back", c, adm, topic)
	e2eCheckAcked(t, "read back", read, acks.acked)
}

// TestE2EClusterRestartedBrokerNeverDeniesTopics restarts a broker while
// the two others are stopped (SIGSTOP), so that it cannot learn the
// committed metadata log from the quorum, and asks it directly about a
// topic that exists. Kafka's brokers do not serve clients before their
// metadata has caught up; Chronik's must not answer
// UNKNOWN_TOPIC_OR_PARTITION for the topic either (which makes clients
// fail records), only a retriable answer, or none until it has caught up.
func TestE2EClusterRestartedBrokerNeverDeniesTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three broker processes and stops some of them")
	}
	c := e2eStartCluster(t)
	admin := c.client()
	topic := e2eUniqueTopic(t)
	e2eCreateRF3Topic(t, admin, topic, nil)

	victim := c.broker(3)
	victim.Kill()
	var paused []*e2eBroker
	defer func() {
		for _, b := range paused {
			_ = b.signal(syscall.SIGCONT)
		}
	}()
	for _, id := range []int32{1, 2} {
		if err := c.broker(id).signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP broker %d: %v", id, err)
		}
		paused = append(paused, c.broker(id))
	}
	// The victim cannot reach the quorum, so it never becomes ready in the
	// harness's sense (a Metadata answer); wait for its listener instead.
	victim.startProcess()
	for deadline := time.Now().Add(e2eBrokerReadyTimeout); ; {
		conn, err := net.DialTimeout("tcp", victim.addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted broker 3 does not listen on %s: %v", victim.addr, err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not an assertion
	}

	// Ask broker 3 alone, over a client that knows no other broker.
	cl, err := kgo.NewClient(kgo.SeedBrokers(victim.addr), kgo.DialTimeout(time.Second), kgo.RequestRetries(0),
		kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	mctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	resp, err := req.RequestWith(mctx, cl)
	cancel()
	switch {
	case err != nil:
		t.Logf("Metadata to the restarted broker before it caught up: no answer (%v)", err)
	case len(resp.Topics) != 1:
		t.Errorf("Metadata answered %d topics for one", len(resp.Topics))
	default:
		code := resp.Topics[0].ErrorCode
		t.Logf("Metadata to the restarted broker before it caught up: topic error %v", kerr.ErrorForCode(code))
		if code == kerr.UnknownTopicOrPartition.Code {
			t.Errorf("the restarted broker denied an existing topic: UNKNOWN_TOPIC_OR_PARTITION")
		} else if e := kerr.ErrorForCode(code); e != nil && !kerr.IsRetriable(e) {
			t.Errorf("the restarted broker answered a non-retriable error for an existing topic: %v", e)
		}
	}
	for _, b := range paused {
		if err := b.signal(syscall.SIGCONT); err != nil {
			t.Fatalf("SIGCONT broker %d: %v", b.nodeID, err)
		}
	}
	paused = nil
	e2eWaitFullISR(t, "resumed", admin, topic, e2eClusterISRTimeout)
	mctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err = req.RequestWith(mctx, cl)
	if err != nil {
		t.Fatalf("Metadata to broker 3 after it caught up: %v", err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("Metadata to broker 3 after it caught up: %v", kerr.ErrorForCode(code))
	}
}
