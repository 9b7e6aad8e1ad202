package node

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/io/wire"
)

// logLines returns the lines of a log sink that contain substr.
func logLines(s *syncBuffer, substr string) []string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// requestFrame is a request as the handler sees it: no size prefix.
func requestFrame(req kmsg.Request, version int16, clientID string) []byte {
	req.SetVersion(version)
	return appendRequestFrame(nil, req, 7, clientID)[4:]
}

// parseErr is the error broker.ParseRequest refuses frame with, which the
// handler hands to unsupportedLog.check.
func parseErr(frame []byte) error {
	_, _, err := broker.ParseRequest(frame)
	return err
}

func apiVersionsV3(name, version string) *broker.Request {
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = name, version
	return &broker.Request{Msg: av}
}

// TestUnsupportedLogThrottled: an admin client retrying
// DescribeACLs v0 six times a second on new connections for 80 s gets
// two WARN lines (the first, and a summary a minute later with the count),
// each naming the API, the missing feature, the client id and the client
// software its ApiVersions carried; other keys and other software are
// counted apart; served versions of a served key are not "unsupported".
func TestUnsupportedLogThrottled(t *testing.T) {
	var buf syncBuffer
	now := time.Unix(1_700_000_000, 0)
	u := newUnsupportedLog(slog.New(slog.NewTextHandler(&buf, nil)), func() time.Time { return now })
	find := parseErr(requestFrame(kmsg.NewPtrDescribeACLsRequest(), 0, "kp-1"))
	for i := 0; i < 480; i++ {
		id := broker.ConnID(i + 1)
		u.sawRequest(id, apiVersionsV3("kafka-python", "2.0.2"))
		if !u.check(id, "127.0.0.1:5000", find) {
			t.Fatal("DescribeACLs v0 not reported as unsupported")
		}
		u.closed(id)
		now = now.Add(time.Second / 6)
	}
	lines := logLines(&buf, "unsupported API")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 480 retries over 80 s, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{"level=WARN", `"unsupported API: DescribeACLs v0 (ACLs are not supported)"`,
		"client_id=kp-1", `client_software="kafka-python 2.0.2"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %s", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "suppressed=360") {
		t.Errorf("summary %q does not count the 360 retries in between", lines[1])
	}
	if len(u.software) != 0 {
		t.Errorf("closed connections still remembered: %v", u.software)
	}

	// Another key, another client software, a version of a served key
	// that is not served: each a line of its own.
	u.check(1, "", parseErr(requestFrame(kmsg.NewPtrCreateACLsRequest(), 0, "kp-1")))
	u.check(2, "", find) // no ApiVersions v3 on this connection
	u.check(3, "", parseErr(requestFrame(kmsg.NewPtrSASLHandshakeRequest(), 0, "")))
	produce := requestFrame(kmsg.NewPtrProduceRequest(), 0, "")
	produce[3] = 99 // version 99
	u.check(4, "", parseErr(produce))
	for _, want := range []string{
		"CreateACLs v0 (ACLs are not supported)",
		`DescribeACLs v0 (ACLs are not supported)" client_id=kp-1 client_software=unknown`,
		"SASLHandshake v0 (SASL authentication is not supported)",
		"Produce v99 (this version is not supported)",
	} {
		if len(logLines(&buf, want)) != 1 {
			t.Errorf("want one line with %q:\n%s", want, strings.Join(logLines(&buf, "unsupported"), "\n"))
		}
	}
	// A served version that failed to parse is not an unsupported API.
	meta := requestFrame(kmsg.NewPtrMetadataRequest(), 1, "")
	if u.check(5, "", parseErr(meta[:len(meta)-2])) {
		t.Error("a truncated Metadata v1 was reported as an unsupported API")
	}
}

// TestUnsupportedAPIOverTheWire: through a real node, a client that sends
// ApiVersions v3 and then DescribeACLs v0 has its connection closed (as
// Kafka does), and three such connections log one WARN line naming the
// client software, with no INFO "closing connection" line per request.
func TestUnsupportedAPIOverTheWire(t *testing.T) {
	var buf syncBuffer
	cfg := broker.DefaultConfig()
	cfg.AdvertisedPort = 0
	n, err := New(Config{DataDir: t.TempDir(), Broker: cfg, Wire: wire.Config{Addr: "127.0.0.1:0"},
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for i := 0; i < 3; i++ {
		conn, err := net.DialTimeout("tcp", n.Addr().String(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = 3
		av.ClientSoftwareName, av.ClientSoftwareVersion = "test-client", "1.2.3"
		resp := av.ResponseKind()
		resp.SetVersion(3)
		deadline := time.Now().Add(10 * time.Second)
		if _, err := exchange(conn, 1, appendRequestFrame(nil, av, 1, "c1"), resp, deadline); err != nil {
			t.Fatalf("ApiVersions: %v", err)
		}
		find := kmsg.NewPtrDescribeACLsRequest()
		find.Version = 0
		fresp := find.ResponseKind()
		if _, err := exchange(conn, 2, appendRequestFrame(nil, find, 2, "c1"), fresp, deadline); err == nil {
			t.Fatal("DescribeACLs v0 was answered; want the connection closed")
		}
		conn.Close()
	}
	lines := logLines(&buf, "unsupported API")
	if len(lines) != 1 || !strings.Contains(lines[0], `client_software="test-client 1.2.3"`) || !strings.Contains(lines[0], "level=WARN") {
		t.Fatalf("want one WARN line naming the client software, got:\n%s", strings.Join(lines, "\n"))
	}
	if closing := logLines(&buf, "closing connection"); len(closing) != 0 {
		t.Fatalf("closing lines logged at INFO:\n%s", strings.Join(closing, "\n"))
	}
}
