package main

// End-to-end checks of the command line itself: the data-directory lock
// between two processes, startup errors that name their cause, flag typos,
// and `chronik version`.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/io/osdisk/osdisktest"
)

// e2eRunCLI runs the binary with args to completion (bounded by 20 s, a
// liveness deadline) and returns its exit code, stdout and stderr.
func e2eRunCLI(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir() // a bare run must not leave ./chronik-data here
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("chronik %s did not exit within 20 s\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("chronik %s: %v", strings.Join(args, " "), err)
	}
	return code, stdout.String(), stderr.String()
}

// TestE2EDataDirLock: a second broker on a running broker's data directory
// exits at once, non-zero, naming the directory and the holder's pid; the
// first keeps serving, and `chronik dump` (read-only, no lock) still reads
// the running broker's directory.
func TestE2EDataDirLock(t *testing.T) {
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, e2eNewAdmin(t, b), topic, 1, nil)
	e2eProduceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte("before")})

	b.mu.Lock()
	pid := b.cmd.Process.Pid
	b.mu.Unlock()
	other := net.JoinHostPort("127.0.0.1", strconv.Itoa(e2eFreePort(t)))
	for _, addr := range []string{other, b.Addr()} { // another port, and the same one
		code, _, stderr := e2eRunCLI(t, b.bin, "serve", "--data-dir", b.dataDir, "--kafka-addr", addr)
		if code == 0 {
			t.Fatalf("second broker on %s exited 0", addr)
		}
		for _, want := range []string{"data directory " + b.dataDir + " is in use by another process", fmt.Sprintf("pid %d ", pid)} {
			if !strings.Contains(stderr, want) {
				t.Errorf("second broker on %s: stderr does not say %q:\n%s", addr, want, stderr)
			}
		}
	}

	b.RequireAlive()
	e2eProduceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte("after")})
	got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), 2, 10*time.Second)
	if string(got[0].Value) != "before" || string(got[1].Value) != "after" {
		t.Fatalf("first broker after the refused second: got %q, %q", got[0].Value, got[1].Value)
	}
	if lines := e2eRunDump(t, b, topic, 0); len(lines) < 1 {
		t.Fatalf("chronik dump on the running broker's directory printed %d records", len(lines))
	}
}

// TestE2ECLIErrors: startup and usage errors name what is wrong, and
// version prints the build's identity.
func TestE2ECLIErrors(t *testing.T) {
	bin := e2eChronikBinary(t)
	readOnly := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		setup   func(t *testing.T)
		code    int      // expected exit code
		stdout  []string // substrings of stdout
		stderr  []string // substrings of stderr
		without []string // substrings stderr must not have
	}{
		{name: "version", args: []string{"version"}, stdout: []string{"chronik ", "commit: ", "go: " + runtime.Version()}},
		{name: "--version", args: []string{"--version"}, stdout: []string{"chronik ", "commit: ", "go: " + runtime.Version()}},
		{name: "bad group setting", args: []string{"serve", "--data-dir", readOnly, "--group-max-session-timeout-ms", "5"}, code: 1,
			stderr: []string{"group.max.session.timeout.ms", "5"}},
		{name: "bad offsets retention", args: []string{"serve", "--data-dir", readOnly, "--offsets-retention-minutes", "0"}, code: 1,
			stderr: []string{"--offsets-retention-minutes 0 must be at least 1"}},
		{name: "mistyped flag", args: []string{"--dta-dir", "x"}, code: 1,
			stderr: []string{"unknown flag: --dta-dir", "did you mean --data-dir?", "chronik --help"}},
		{name: "mistyped serve flag", args: []string{"serve", "--kafka-adr", "x"}, code: 1,
			stderr: []string{"unknown flag: --kafka-adr", "did you mean --kafka-addr?", "chronik serve --help"}},
		{name: "mistyped command", args: []string{"serv"}, code: 1,
			stderr: []string{`unknown command "serv"`, `did you mean "serve"?`}},
		{name: "bad --kafka-addr", args: []string{"--kafka-addr", "nonsense"}, code: 1,
			stderr: []string{`--kafka-addr "nonsense"`}, without: []string{"advertised"}},
		{name: "bad --advertised-addr", args: []string{"--kafka-addr", "127.0.0.1:0", "--advertised-addr", "nonsense"}, code: 1,
			stderr: []string{`--advertised-addr "nonsense"`}},
		{name: "read-only data dir", args: []string{"--kafka-addr", "127.0.0.1:0", "--data-dir", readOnly}, code: 1,
			setup:   func(t *testing.T) { osdisktest.MakeReadOnly(t, readOnly) },
			stderr:  []string{"data directory " + readOnly + " is not writable"},
			without: []string{"error code"}},
		{name: "retention check interval", args: []string{"--kafka-addr", "127.0.0.1:0", "--data-dir", filepath.Join(readOnly, "x"), "--log-retention-check-interval-ms", "0"}, code: 1,
			stderr: []string{"retention check interval 0 must be > 0"}},
		{name: "scrub rate", args: []string{"--kafka-addr", "127.0.0.1:0", "--data-dir", filepath.Join(readOnly, "x"), "--log-scrub-bytes-per-sec", "-1"}, code: 1,
			stderr: []string{"scrub bytes per pass -1 must be in [0, 64 MiB]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			code, stdout, stderr := e2eRunCLI(t, bin, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			for _, bad := range tc.without {
				if strings.Contains(stderr, bad) {
					t.Errorf("stderr has %q:\n%s", bad, stderr)
				}
			}
		})
	}
}

// TestE2ERetentionCheckInterval: --log-retention-check-interval-ms reaches
// the broker: with retention.ms 500 and a check every 100 ms, the log
// start offset moves past the first records within seconds (the default
// interval, Kafka's 5 minutes, would not run in this test's lifetime).
func TestE2ERetentionCheckInterval(t *testing.T) {
	b := e2eStartBroker(t, "--log-retention-ms", "500", "--log-segment-bytes", "200", "--log-retention-check-interval-ms", "100")
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 1, nil)
	cl := e2eNewClient(t, b)
	for i := 0; i < 10; i++ { // one batch each: several segments of 200 bytes
		e2eProduceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte(strings.Repeat("x", 100))})
	}
	ctx := e2eTestCtx(t, 15*time.Second)
	for {
		l, err := adm.ListStartOffsets(ctx, topic)
		if o, ok := l.Lookup(topic, 0); err == nil && ok && o.Err == nil && o.Offset > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("log start offset still 0 after 15 s with a 100 ms retention check (last: %v)", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
