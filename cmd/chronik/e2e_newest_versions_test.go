package main

// Real-client proof of the newest versions: franz-go's kgo picks the
// highest version both sides support, so with Chronik at Kafka 4.1's
// ranges it produces with Produce v13 and consumes with Fetch v18, both
// naming topics by id. A sniffing dialer reads the request headers kgo
// writes, so the test sees the versions on the wire, not what the broker
// claims.

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// versionSniffer records the highest version of each API key written on
// the connections it dials.
type versionSniffer struct {
	mu  sync.Mutex
	max map[int16]int16
}

// dial is a kgo.Dialer whose connections report their requests to s.
func (s *versionSniffer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: s}, nil
}

// seen returns the highest version written for key, -1 if none.
func (s *versionSniffer) seen(key int16) int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.max[key]; ok {
		return v
	}
	return -1
}

// sniffConn parses the request frames written through it (a 4-byte size,
// then the API key and version) without changing them.
type sniffConn struct {
	net.Conn
	s       *versionSniffer
	pending []byte // bytes of a frame header not complete yet
	skip    int    // bytes of the current frame's body still to pass
}

// Write notes each request header in b and writes b unchanged.
func (c *sniffConn) Write(b []byte) (int, error) {
	rest := b
	for len(rest) > 0 {
		if c.skip > 0 {
			n := min(c.skip, len(rest))
			c.skip -= n
			rest = rest[n:]
			continue
		}
		need := 8 - len(c.pending) // size, key, version
		n := min(need, len(rest))
		c.pending = append(c.pending, rest[:n]...)
		rest = rest[n:]
		if len(c.pending) < 8 {
			break
		}
		size := int(binary.BigEndian.Uint32(c.pending))
		key := int16(binary.BigEndian.Uint16(c.pending[4:]))
		version := int16(binary.BigEndian.Uint16(c.pending[6:]))
		c.s.mu.Lock()
		if old, ok := c.s.max[key]; !ok || version > old {
			c.s.max[key] = version
		}
		c.s.mu.Unlock()
		c.pending = c.pending[:0]
		c.skip = size - 4 // the key and version were part of the frame
	}
	return c.Conn.Write(b)
}

// TestE2EFranzNewestVersions: kgo produces with Produce v13 and fetches
// with Fetch v18 (topic ids) against Chronik, and what it reads back is
// what it wrote.
func TestE2EFranzNewestVersions(t *testing.T) {
	b := e2eStartBroker(t)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, kadm.NewClient(e2eNewClient(t, b)), topic, 2, nil)

	sniff := &versionSniffer{max: map[int16]int16{}}
	cl := e2eNewClient(t, b, kgo.Dialer(sniff.dial), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx := e2eTestCtx(t, 20*time.Second)
	const n = 20
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte{byte(i)}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	got := map[byte]bool{}
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[r.Value[0]] = true })
	}
	if v := sniff.seen(0); v != 13 {
		t.Errorf("kgo produced with Produce v%d, want v13", v)
	}
	if v := sniff.seen(1); v != 18 {
		t.Errorf("kgo fetched with Fetch v%d, want v18", v)
	}
}
