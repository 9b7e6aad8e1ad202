package main

// confluent-kafka-python (librdkafka) against the real binary, through
// testdata/confluent_kafka_roundtrip.py.

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestE2EConfluentKafkaPython(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, e2ePython, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
		t.Skipf("confluent-kafka not importable by %s: install python3-confluent-kafka (apt-get install -y python3-confluent-kafka) (%v: %s)", e2ePython, err, bytes.TrimSpace(out))
	}
	b := e2eStartBroker(t)
	cmd := exec.CommandContext(ctx, e2ePython, "testdata/confluent_kafka_roundtrip.py", "--bootstrap", b.Addr(), "--topic", e2eUniqueTopic(t), "--count", "300", "--timeout", "30")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("confluent-kafka round trip still running after 90s\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	if err != nil || !strings.Contains(stdout.String(), "OK produced=300 consumed=300") {
		t.Fatalf("confluent-kafka round trip: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Log(strings.TrimSpace(stdout.String()))
}
