package main

// kafkajs against the real binary, through testdata/kafkajs/roundtrip.js.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaJSMissing says what to install when node or the kafkajs package
// is absent, or "" when both are there.
func kafkaJSMissing() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node not found: install Node.js, then npm ci --prefix cmd/chronik/testdata/kafkajs"
	}
	if _, err := os.Stat("testdata/kafkajs/node_modules/kafkajs"); err != nil {
		return "kafkajs not installed: run npm ci --prefix cmd/chronik/testdata/kafkajs"
	}
	return ""
}

func TestE2EKafkaJS(t *testing.T) {
	if why := kafkaJSMissing(); why != "" {
		t.Skip(why)
	}
	b := e2eStartBroker(t)
	topic := e2eUniqueTopic(t)
	const n = 20
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/kafkajs/roundtrip.js", b.Addr(), topic, fmt.Sprint(n))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stdout.String(), fmt.Sprintf("OK produced=%d", n)) {
		t.Fatalf("kafkajs round trip: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	// What kafkajs wrote reads back the same through franz-go.
	for p := int32(0); p < 2; p++ {
		got := e2eConsumeN(t, b, topic, p, kgo.NewOffset().AtStart(), n/2, 15*time.Second)
		for j, r := range got {
			i := 2*j + int(p)
			if r.Offset != int64(j) || string(r.Key) != fmt.Sprintf("key-%d", i) || string(r.Value) != fmt.Sprintf("value-%d", i) {
				t.Fatalf("partition %d record %d: offset %d key %q value %q", p, j, r.Offset, r.Key, r.Value)
			}
		}
	}
}
