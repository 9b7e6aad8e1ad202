package main

// kafka-python against the real binary, through
// testdata/kafka_python_roundtrip.py.

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// e2ePython is Debian's interpreter: python3-kafka installs for it, and it
// may not be the first python3 on PATH.
const e2ePython = "/usr/bin/python3"

func TestE2EKafkaPython(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, e2ePython, "-c", "import kafka").CombinedOutput(); err != nil {
		t.Skipf("kafka-python not importable by %s: install python3-kafka (apt-get install -y python3-kafka) (%v: %s)", e2ePython, err, bytes.TrimSpace(out))
	}
	b := e2eStartBroker(t, "--auto-create-topics=true")

	for _, compression := range []string{"none", "gzip"} {
		t.Run(compression, func(t *testing.T) {
			topic := e2eUniqueTopic(t) // not created: kafka-python's Metadata v1 auto-creates it
			const n = 200
			args := []string{"testdata/kafka_python_roundtrip.py", "--bootstrap", b.Addr(), "--topic", topic, "--count", fmt.Sprint(n), "--timeout", "60"}
			if compression != "none" {
				args = append(args, "--compression", compression)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, e2ePython, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("kafka-python round trip still running after 90s\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
			if err != nil || !strings.Contains(stdout.String(), "OK produced=") {
				t.Fatalf("kafka-python round trip: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			t.Log(strings.TrimSpace(stdout.String()))

			// What kafka-python wrote reads back the same through franz-go.
			got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), n, 15*time.Second)
			for i, r := range got {
				if string(r.Key) != fmt.Sprintf("key-%d", i) || len(r.Headers) != 2 || string(r.Headers[0].Value) != fmt.Sprint(i) {
					t.Fatalf("record %d via kgo: key %q headers %v", i, r.Key, r.Headers)
				}
			}
		})
	}
}
