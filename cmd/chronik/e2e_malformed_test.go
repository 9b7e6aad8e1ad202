package main

// Malformed input over raw TCP. Apache Kafka closes a connection whose
// frame size is negative, zero or above socket.request.max.bytes (100 MiB),
// whose header names an unknown API key, whose version is unsupported
// (except ApiVersions, which gets a v0-format UNSUPPORTED_VERSION answer)
// or whose body does not parse. After each case the broker process must
// still be up and a separate kgo client, connected throughout, must keep
// working.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestE2EMalformedInput(t *testing.T) {
	b := e2eStartBroker(t)
	// Non-idempotent so that kgo may give up on an in-flight record: a
	// broker that stops answering fails the produce in about 15s instead of
	// hanging the test.
	healthy := e2eNewClient(t, b,
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(15*time.Second),
		kgo.ProduceRequestTimeout(5*time.Second),
		kgo.RequestTimeoutOverhead(5*time.Second),
		kgo.RecordRetries(3),
	)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, kadm.NewClient(healthy), topic, 1, nil)
	var produced int64
	stillHealthy := func(t *testing.T) {
		t.Helper()
		b.RequireAlive()
		r := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("healthy-%d", produced))}
		ctx := e2eTestCtx(t, 30*time.Second)
		if err := healthy.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("healthy client's produce failed: %v (broker process alive: %v)", err, b.alive())
		}
		if r.Offset != produced {
			t.Fatalf("healthy client's record landed at offset %d, want %d", r.Offset, produced)
		}
		produced++
	}
	stillHealthy(t)

	frame := func(size uint32, payload []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, size), payload...)
	}
	header := func(key, version int16, corr int32) []byte {
		return e2eAppendRequestFrame(nil, key, version, corr, "e2e-bad", false, nil)[4:]
	}

	// Cases whose bytes alone must make the broker close the connection.
	closes := []struct {
		name string
		data []byte
	}{
		{"http-garbage", []byte("GET / HTTP/1.1\r\nHost: chronik\r\n\r\n")}, // size 0x47455420 > 100 MiB
		{"negative-size", frame(0xFFFFFFF0, []byte("abcd"))},
		{"min-int-size", frame(0x80000000, nil)},
		{"zero-size", frame(0, nil)},
		{"oversized-size-200MiB", frame(200<<20, []byte("0123456789"))},
		{"oversized-size-just-above-100MiB", frame(100<<20+1, nil)},
		{"unknown-api-key", frame(uint32(len(header(9999, 0, 7))), header(9999, 0, 7))},
		{"negative-api-key", frame(uint32(len(header(-1, 0, 8))), header(-1, 0, 8))},
		{"unsupported-version-metadata-v999", frame(uint32(len(header(3, 999, 9))), header(3, 999, 9))},
		{"unsupported-version-produce-negative", frame(uint32(len(header(0, -1, 10))), header(0, -1, 10))},
		{"header-too-short", frame(3, []byte{0, 3, 0})},
		{"client-id-longer-than-frame", frame(10, []byte{0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff})},
		{"metadata-v1-truncated-body", func() []byte {
			h := header(3, 1, 11)
			body := []byte{0, 0, 0, 5, 0} // 5 topics announced, half a string length follows
			return frame(uint32(len(h)+len(body)), append(h, body...))
		}()},
		{"produce-v3-truncated-topic-name", func() []byte {
			h := header(0, 3, 12)
			// null transactional id, acks -1, timeout 1000, one topic whose
			// name claims 32767 bytes but has 3
			body := []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0x7f, 0xff, 'a', 'b', 'c'}
			return frame(uint32(len(h)+len(body)), append(h, body...))
		}()},
	}
	// run runs one case; once the broker process is gone the remaining
	// cases would only repeat that, so the test stops.
	run := func(name string, f func(t *testing.T)) {
		t.Helper()
		t.Run(name, f)
		if !b.alive() {
			t.Fatalf("broker process died during %s: %v", name, b.exitErr())
		}
	}

	for _, c := range closes {
		run(c.name, func(t *testing.T) {
			rc := e2eDialRaw(t, b)
			if err := rc.writeRaw(c.data); err != nil && !errors.Is(err, net.ErrClosed) {
				t.Logf("write: %v (the broker may already have closed)", err)
			}
			got, err := rc.expectClosed(5 * time.Second)
			if err != nil {
				t.Errorf("broker did not close the connection within 5s (%v); Apache Kafka closes it", err)
			} else if len(got) > 0 {
				t.Errorf("broker answered %d bytes (% x) before closing; Apache Kafka closes without a response", len(got), got[:min(len(got), 32)])
			}
			stillHealthy(t)
		})
	}

	run("truncated-frame-then-eof", func(t *testing.T) {
		rc := e2eDialRaw(t, b)
		h := header(18, 0, 13)
		if err := rc.writeRaw(frame(100, h)); err != nil { // announces 100, sends fewer
			t.Fatal(err)
		}
		rc.conn.(*net.TCPConn).CloseWrite()
		got, err := rc.expectClosed(5 * time.Second)
		if err != nil {
			t.Errorf("broker did not close a half-closed connection with a truncated frame within 5s: %v", err)
		} else if len(got) > 0 {
			t.Errorf("broker answered a truncated frame with %d bytes", len(got))
		}
		stillHealthy(t)
	})

	run("truncated-frame-idle", func(t *testing.T) {
		// The broker waits for the rest of a frame without answering and
		// without disturbing anyone else.
		rc := e2eDialRaw(t, b)
		if err := rc.writeRaw(frame(100, header(18, 0, 14))); err != nil {
			t.Fatal(err)
		}
		stillHealthy(t)
		if _, _, err := rc.readFrame(300 * time.Millisecond); err == nil {
			t.Errorf("broker answered a frame it had not fully received")
		}
		stillHealthy(t)
	})

	run("api-versions-too-new", func(t *testing.T) {
		rc := e2eDialRaw(t, b)
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName = "chronik-e2e"
		req.ClientSoftwareVersion = "9.9"
		corr := rc.request(req, 127) // flexible header v2, as a newer client sends it
		got, body, err := rc.readFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("ApiVersions v127: no answer: %v", err)
		}
		if got != corr {
			t.Fatalf("ApiVersions v127: correlation id %d, want %d", got, corr)
		}
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = 0
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("ApiVersions v127: answer is not a v0 ApiVersions response: %v (% x)", err, body[:min(len(body), 64)])
		}
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Errorf("ApiVersions v127: error %v, want UNSUPPORTED_VERSION (35)", kerr.ErrorForCode(resp.ErrorCode))
		}
		var av *kmsg.ApiVersionsResponseApiKey
		for i, k := range resp.ApiKeys {
			if k.ApiKey == 18 {
				av = &resp.ApiKeys[i]
			}
		}
		if av == nil || av.MaxVersion < 3 {
			t.Errorf("ApiVersions v127: supported list %+v lacks ApiVersions up to v3 or more", resp.ApiKeys)
		}
		// Apache Kafka lists only ApiVersions itself here (its min and max
		// version), which is all a client needs to retry; more is allowed.
		// The connection stays usable: the client retries at a version the
		// broker listed.
		req2 := kmsg.NewPtrApiVersionsRequest()
		corr = rc.request(req2, 0)
		resp2 := kmsg.NewPtrApiVersionsResponse()
		resp2.Version = 0
		rc.response(corr, resp2)
		if resp2.ErrorCode != 0 || len(resp2.ApiKeys) == 0 {
			t.Errorf("ApiVersions v0 after v127 on the same connection: error %v, %d apis", kerr.ErrorForCode(resp2.ErrorCode), len(resp2.ApiKeys))
		}
		stillHealthy(t)
	})

	run("pipelined-requests-answered-in-order", func(t *testing.T) {
		// Several requests written at once must be answered in order.
		rc := e2eDialRaw(t, b)
		var buf []byte
		for i := range 20 {
			req := kmsg.NewPtrMetadataRequest()
			if i%2 == 0 {
				req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(topic)}}
			}
			req.SetVersion(4)
			buf = e2eAppendRequestFrame(buf, 3, 4, int32(100+i), "e2e-pipe", false, req.AppendTo(nil))
		}
		if err := rc.writeRaw(buf); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			resp := kmsg.NewPtrMetadataResponse()
			resp.Version = 4
			rc.response(int32(100+i), resp)
		}
		stillHealthy(t)
	})

	run("connection-churn", func(t *testing.T) {
		// Many connections at once, each closed abruptly or mid-frame.
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				switch i % 4 {
				case 0: // connect and leave
				case 1:
					c.Write(frame(50, []byte("partial")))
				case 2:
					c.Write([]byte{0, 0})
				case 3:
					if tc, ok := c.(*net.TCPConn); ok {
						tc.SetLinger(0) // RST on close
					}
					c.Write(frame(uint32(len(header(18, 0, 1))), header(18, 0, 1)))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("dial: %v", err)
		}
		stillHealthy(t)
	})

	// Finally every healthy record is there, in order.
	got := e2eConsumeN(t, b, topic, 0, kgo.NewOffset().AtStart(), int(produced), 10*time.Second)
	for i, r := range got {
		if want := fmt.Sprintf("healthy-%d", i); string(r.Value) != want || r.Offset != int64(i) {
			t.Errorf("offset %d holds %q, want %q", r.Offset, r.Value, want)
		}
	}
}
