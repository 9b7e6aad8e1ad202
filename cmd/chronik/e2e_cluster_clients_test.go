package main

// Real clients other than franz-go against a three-node cluster: kcat
// (librdkafka), confluent-kafka-python and kafka-python. Each bootstraps
// from a single broker that is not necessarily the controller nor the
// leader, so it must follow Metadata to the right brokers; kcat also
// produces across a kill -9 of the partition leader.

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

func TestE2EClusterOtherClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three broker processes")
	}
	c := e2eStartCluster(t)
	cl := c.client()
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Ready once a validate-only creation with replication factor 3
	// succeeds: a controller is elected and all three brokers are
	// registered and unfenced.
	deadline := time.Now().Add(e2eClusterReadyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := adm.ValidateCreateTopics(ctx, 1, 3, nil, "ready-probe")
		cancel()
		if err == nil && resp.Error() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ready after %v: %v", e2eClusterReadyTimeout, err)
		}
		time.Sleep(50 * time.Millisecond) // retry interval, not an assertion
	}

	t.Run("kcat", func(t *testing.T) {
		kcat := e2eKcatPath(t)
		topic := e2eUniqueTopic(t)
		mis := "2"
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// e2eWaitFullISR expects e2eClusterPartitions partitions; kcat uses partition 0.
		if resp, err := adm.CreateTopic(ctx, e2eClusterPartitions, 3, map[string]*string{"min.insync.replicas": &mis}, topic); err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", topic, err, resp.Err)
		}
		state := e2eWaitFullISR(t, "kcat topic", cl, topic, 30*time.Second)
		// Bootstrap from a broker that does not lead the partition.
		var entry *e2eBroker
		for _, b := range c.brokers {
			if int32(b.nodeID) != state.leaders[0] {
				entry = b
				break
			}
		}
		var in strings.Builder
		for i := 0; i < 50; i++ {
			fmt.Fprintf(&in, "k%d:before-%d\n", i, i)
		}
		e2eKcat(t, kcat, entry, in.String(), "-P", "-t", topic, "-p", "0", "-K", ":", "-X", "acks=all")

		// kill -9 the leader, produce again through the survivors.
		leader := c.broker(state.leaders[0])
		leader.Kill()
		var entryAfter *e2eBroker
		for _, b := range c.brokers {
			if b != leader {
				entryAfter = b
				break
			}
		}
		in.Reset()
		for i := 0; i < 50; i++ {
			fmt.Fprintf(&in, "k%d:after-%d\n", i, i)
		}
		// librdkafka reports the refused connections to the dead broker
		// (which Metadata still lists until it is fenced) as errors; only
		// a failed delivery counts here.
		e2eKcatTolerant(t, kcat, entryAfter, in.String(), "-P", "-t", topic, "-p", "0", "-K", ":", "-X", "acks=all",
			"-X", "message.timeout.ms=30000")
		out := e2eKcatTolerant(t, kcat, entryAfter, "", "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-J")
		recs := e2eParseKcatJSON(t, out)
		if len(recs) != 100 {
			t.Fatalf("kcat consumed %d records, want 100", len(recs))
		}
		for i, r := range recs {
			want := fmt.Sprintf("before-%d", i)
			if i >= 50 {
				want = fmt.Sprintf("after-%d", i-50)
			}
			if r.Offset != int64(i) || r.Payload == nil || *r.Payload != want {
				t.Fatalf("record %d: offset %d payload %s, want %q", i, r.Offset, e2eShowStrPtr(r.Payload), want)
			}
		}
		leader.Restart()
		e2eWaitFullISR(t, "kcat leader back", cl, topic, 30*time.Second)
	})

	python := func(t *testing.T, module, script string, args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, e2ePython, "-c", "import "+module).CombinedOutput(); err != nil {
			t.Skipf("%s not importable by %s: install python3-%s (%v: %s)", module, e2ePython, strings.ReplaceAll(module, "_", "-"), err, bytes.TrimSpace(out))
		}
		cmd := exec.CommandContext(ctx, e2ePython, append([]string{script}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil || !strings.Contains(stdout.String(), "OK produced=") {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
		}
		t.Log(strings.TrimSpace(stdout.String()))
	}
	t.Run("confluent-kafka-python", func(t *testing.T) {
		python(t, "confluent_kafka", "testdata/confluent_kafka_roundtrip.py", "--bootstrap", c.brokers[1].Addr(),
			"--topic", e2eUniqueTopic(t), "--count", "300", "--timeout", "45", "--replication-factor", "3")
	})
	t.Run("kafka-python", func(t *testing.T) {
		// The topic is auto-created (replication factor 3 in a cluster)
		// through a broker that may not be the controller.
		python(t, "kafka", "testdata/kafka_python_roundtrip.py", "--bootstrap", c.brokers[2].Addr(),
			"--topic", e2eUniqueTopic(t), "--count", "200", "--timeout", "60")
	})
}
