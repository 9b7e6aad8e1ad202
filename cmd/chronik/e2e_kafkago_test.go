package main

import (
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

// TestE2EKafkaGo drives the broker with segmentio/kafka-go: topic creation
// through its Conn, a Writer with acks=all and each codec, and a
// partition Reader (no consumer group) that must read back exactly what
// was written, in order.
func TestE2EKafkaGo(t *testing.T) {
	b := e2eStartBroker(t)
	ctx := e2eTestCtx(t, 60*time.Second)
	codecs := map[string]compress.Compression{
		"none": 0, "gzip": compress.Gzip, "snappy": compress.Snappy, "lz4": compress.Lz4, "zstd": compress.Zstd,
	}
	for _, name := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(name, func(t *testing.T) {
			topic := e2eUniqueTopic(t)
			conn, err := kafkago.DialContext(ctx, "tcp", b.Addr())
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if err := conn.CreateTopics(kafkago.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}); err != nil {
				conn.Close()
				t.Fatalf("create topic: %v", err)
			}
			conn.Close()
			w := &kafkago.Writer{
				Addr:         kafkago.TCP(b.Addr()),
				Topic:        topic,
				RequiredAcks: kafkago.RequireAll,
				Compression:  codecs[name],
				BatchTimeout: 5 * time.Millisecond,
				// A transport of its own: the shared default one caches
				// metadata fetched before this subtest created its topic.
				Transport: &kafkago.Transport{},
			}
			defer w.Close()
			const n = 40
			var msgs []kafkago.Message
			for i := 0; i < n; i++ {
				msgs = append(msgs, kafkago.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d-%s", i, name))})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatalf("write: %v", err)
			}
			r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{b.Addr()}, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond})
			defer r.Close()
			for i := 0; i < n; i++ {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if m.Offset != int64(i) || string(m.Key) != fmt.Sprintf("k%d", i) || string(m.Value) != fmt.Sprintf("v%d-%s", i, name) {
					t.Fatalf("record %d: offset %d key %q value %q", i, m.Offset, m.Key, m.Value)
				}
			}
		})
	}
}
