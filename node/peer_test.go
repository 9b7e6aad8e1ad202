package node

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/io/wire"
)

// peerResult is one delivered answer of the peer network.
type peerResult struct {
	id   uint64
	resp kmsg.Response
	err  error
	at   time.Time
}

// newTestPeerNetwork returns a peer network whose answers arrive on the
// returned channel, closed when the test ends.
func newTestPeerNetwork(t *testing.T, connsMax int, timeout time.Duration) (*peerNetwork, chan peerResult) {
	t.Helper()
	results := make(chan peerResult, 64)
	p := newPeerNetwork(slog.New(slog.NewTextHandler(io.Discard, nil)), 99, connsMax, timeout,
		func(id uint64, resp kmsg.Response, err error) {
			results <- peerResult{id: id, resp: resp, err: err, at: time.Now()}
		})
	t.Cleanup(p.close)
	return p, results
}

func peerAddrOf(t *testing.T, addr string) broker.PeerAddr {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return broker.PeerAddr{ID: 1, Host: host, Port: int32(n)}
}

func waitPeerResult(t *testing.T, results chan peerResult, within time.Duration) peerResult {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(within):
		t.Fatalf("no answer from the peer network within %v", within)
		return peerResult{}
	}
}

// TestPeerNetworkAgainstNode sends requests of flexible and classic
// versions through the peer client to a real node: ApiVersions (whose
// response header stays v0 even when flexible), Metadata, Produce and a
// long-polling Fetch that must not hold back a request sent after it.
func TestPeerNetworkAgainstNode(t *testing.T) {
	addr, stop := startNode(t, t.TempDir())
	defer stop()
	to := peerAddrOf(t, addr)
	p, results := newTestPeerNetwork(t, 4, 5*time.Second)

	for _, v := range []int16{0, 2, 3} { // v3 is flexible
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "chronik-test", "0"
		p.Send(to, uint64(v), req)
		r := waitPeerResult(t, results, 10*time.Second)
		if r.err != nil {
			t.Fatalf("ApiVersions v%d: %v", v, r.err)
		}
		resp := r.resp.(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 || resp.GetVersion() != v {
			t.Fatalf("ApiVersions v%d: error %d, %d keys, version %d", v, resp.ErrorCode, len(resp.ApiKeys), resp.GetVersion())
		}
	}

	// Create a topic through a real client, then fetch it through the peer
	// client.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("peer-test"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("one")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	for _, v := range []int16{1, 9, 12} { // v9 and up are flexible
		req := kmsg.NewPtrMetadataRequest()
		req.Version = v
		rt := kmsg.NewMetadataRequestTopic()
		topic := "peer-test"
		rt.Topic = &topic
		req.Topics = append(req.Topics, rt)
		p.Send(to, 100+uint64(v), req)
		r := waitPeerResult(t, results, 10*time.Second)
		if r.err != nil {
			t.Fatalf("Metadata v%d: %v", v, r.err)
		}
		resp := r.resp.(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Brokers) != 1 {
			t.Fatalf("Metadata v%d: %+v", v, resp)
		}
	}

	// A long poll at the end of the log (1 s) and, behind it, a Metadata
	// request: the Metadata answer must come first, on another connection.
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 12
	fetch.ReplicaID = -1
	fetch.MaxWaitMillis = 1000
	fetch.MinBytes = 1
	fetch.MaxBytes = 1 << 20
	fetch.SessionEpoch = -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "peer-test"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset = 1
	fp.CurrentLeaderEpoch = -1
	fp.LastFetchedEpoch = -1
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	sent := time.Now()
	p.Send(to, 200, fetch)
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	p.Send(to, 201, md)
	first := waitPeerResult(t, results, 10*time.Second)
	second := waitPeerResult(t, results, 10*time.Second)
	if first.id != 201 || second.id != 200 {
		t.Fatalf("answers arrived as %d then %d; want the Metadata (201) before the long poll (200)", first.id, second.id)
	}
	if first.err != nil || second.err != nil {
		t.Fatalf("errors: metadata %v, fetch %v", first.err, second.err)
	}
	if waited := second.at.Sub(sent); waited < 900*time.Millisecond {
		t.Fatalf("the long poll came back after %v; want about its 1 s wait", waited)
	}
	fr := second.resp.(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 || fr.Topics[0].Partitions[0].HighWatermark != 1 {
		t.Fatalf("fetch response: %+v", fr)
	}

	// Fetch from offset 0 returns the record.
	fetch.Topics[0].Partitions[0].FetchOffset = 0
	p.Send(to, 202, fetch)
	r := waitPeerResult(t, results, 10*time.Second)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if sp := r.resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]; sp.ErrorCode != 0 || len(sp.RecordBatches) == 0 {
		t.Fatalf("fetch at 0: error %d, %d bytes", sp.ErrorCode, len(sp.RecordBatches))
	}

	// Everything went over at most the two connections used concurrently.
	p.mu.Lock()
	open := len(p.conns)
	p.mu.Unlock()
	if open < 1 || open > 2 {
		t.Fatalf("%d connections open, want 1 or 2", open)
	}
}

// TestPeerNetworkErrors: an unreachable peer, a peer that never answers
// (the deadline) and a network closed under a request each deliver exactly
// one error.
func TestPeerNetworkErrors(t *testing.T) {
	// Unreachable: a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p, results := newTestPeerNetwork(t, 2, 300*time.Millisecond)
	p.Send(peerAddrOf(t, dead), 1, kmsg.NewPtrApiVersionsRequest())
	if r := waitPeerResult(t, results, 5*time.Second); r.err == nil || r.id != 1 {
		t.Fatalf("unreachable peer: id %d err %v", r.id, r.err)
	}

	// Silent: accepts and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			go io.Copy(io.Discard, c)
		}
	}()
	start := time.Now()
	p.Send(peerAddrOf(t, silent.Addr().String()), 2, kmsg.NewPtrApiVersionsRequest())
	r := waitPeerResult(t, results, 5*time.Second)
	if r.err == nil || r.id != 2 {
		t.Fatalf("silent peer: id %d err %v", r.id, r.err)
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("silent peer answered after %v; want about the 300 ms deadline", took)
	}

	// Closed under a request: a longer deadline, then close.
	p2, results2 := newTestPeerNetwork(t, 2, time.Minute)
	p2.Send(peerAddrOf(t, silent.Addr().String()), 3, kmsg.NewPtrApiVersionsRequest())
	time.Sleep(100 * time.Millisecond) // let the request reach the wire; not an assertion
	p2.close()
	if r := waitPeerResult(t, results2, 5*time.Second); r.err == nil || r.id != 3 {
		t.Fatalf("closed network: id %d err %v", r.id, r.err)
	}
	p2.Send(peerAddrOf(t, silent.Addr().String()), 4, kmsg.NewPtrApiVersionsRequest())
	if r := waitPeerResult(t, results2, 5*time.Second); r.err == nil || r.id != 4 {
		t.Fatalf("send after close: id %d err %v", r.id, r.err)
	}
}

// TestPeerNetworkPeerRestarted: after the peer restarts on the same
// address, the pooled connections to it are dead; the next request must
// still succeed (on a fresh connection) instead of failing once per stale
// connection, which would cost a broker its heartbeats.
func TestPeerNetworkPeerRestarted(t *testing.T) {
	addr := freeAddr(t)
	dir := t.TempDir()
	start := func() func() {
		cfg := broker.DefaultConfig()
		cfg.AdvertisedPort = 0
		n, err := New(Config{DataDir: dir, Broker: cfg, Wire: wire.Config{Addr: addr}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	stop := start()
	to := peerAddrOf(t, addr)
	p, results := newTestPeerNetwork(t, 4, 5*time.Second)
	// Three requests at once leave three idle connections in the pool.
	for i := uint64(1); i <= 3; i++ {
		p.Send(to, i, kmsg.NewPtrApiVersionsRequest())
	}
	for i := 0; i < 3; i++ {
		if r := waitPeerResult(t, results, 10*time.Second); r.err != nil {
			t.Fatalf("before the restart: %v", r.err)
		}
	}
	p.mu.Lock()
	idle := len(p.pools[addr+"#control"].idle)
	p.mu.Unlock()
	stop()
	stop = start()
	defer stop()
	for i := uint64(10); i < 13; i++ {
		p.Send(to, i, kmsg.NewPtrApiVersionsRequest())
		if r := waitPeerResult(t, results, 10*time.Second); r.err != nil {
			t.Fatalf("request %d after the restart (%d idle connections before it): %v", i, idle, r.err)
		}
	}
}
