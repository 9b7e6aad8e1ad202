package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/io/wire"
)

// startNode runs a node on an ephemeral port over dir and returns its
// address and a stop function that shuts it down gracefully.
func startNode(t *testing.T, dir string) (string, func()) {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.AdvertisedPort = 0 // advertise the port actually bound
	n, err := New(Config{
		DataDir: dir,
		Broker:  cfg,
		Wire:    wire.Config{Addr: "127.0.0.1:0"},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	return n.Addr().String(), func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("node did not stop within 20 s")
		}
	}
}

// TestNodeServesAndRestarts produces through the real listener and event
// loop, stops the node gracefully, restarts it on the same directory and
// reads every record back.
func TestNodeServesAndRestarts(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startNode(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("node-test"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	var records []*kgo.Record
	for i := 0; i < n; i++ {
		records = append(records, &kgo.Record{Value: []byte(fmt.Sprint(i))})
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	producer.Close()
	stop()

	addr, stop = startNode(t, dir)
	defer stop()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"node-test": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []*kgo.Record
	for len(got) < n && ctx.Err() == nil {
		fs := consumer.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 && ctx.Err() == nil {
			t.Fatalf("fetch: %v", errs)
		}
		got = append(got, fs.Records()...)
	}
	if len(got) != n {
		t.Fatalf("read %d records after restart, want %d", len(got), n)
	}
	for i, r := range got {
		if r.Offset != int64(i) || string(r.Value) != fmt.Sprint(i) {
			t.Fatalf("record %d: offset %d value %q", i, r.Offset, r.Value)
		}
	}
}
