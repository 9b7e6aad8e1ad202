package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestE2ESarama drives the broker with IBM/sarama, a client that
// negotiates its own version set: a sync producer with acks=all and each
// codec, an idempotent producer, and a partition consumer from the oldest
// offset that must read back exactly what was produced.
func TestE2ESarama(t *testing.T) {
	b := e2eStartBroker(t)
	codecs := []struct {
		name  string
		codec sarama.CompressionCodec
	}{
		{"none", sarama.CompressionNone},
		{"gzip", sarama.CompressionGZIP},
		{"snappy", sarama.CompressionSnappy},
		{"lz4", sarama.CompressionLZ4},
		{"zstd", sarama.CompressionZSTD},
	}
	for _, c := range codecs {
		for _, idempotent := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/idempotent=%v", c.name, idempotent), func(t *testing.T) {
				topic := e2eUniqueTopic(t)
				cfg := sarama.NewConfig()
				cfg.Version = sarama.V3_6_0_0
				cfg.Producer.RequiredAcks = sarama.WaitForAll
				cfg.Producer.Return.Successes = true
				cfg.Producer.Compression = c.codec
				cfg.Producer.Idempotent = idempotent
				if idempotent {
					cfg.Net.MaxOpenRequests = 1
				}
				cfg.Metadata.AllowAutoTopicCreation = true
				cfg.Net.DialTimeout = 5 * time.Second
				producer, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
				if err != nil {
					t.Fatalf("sarama producer: %v", err)
				}
				defer producer.Close()
				const n = 50
				var msgs []*sarama.ProducerMessage
				for i := 0; i < n; i++ {
					msgs = append(msgs, &sarama.ProducerMessage{
						Topic:   topic,
						Key:     sarama.StringEncoder(fmt.Sprintf("k%d", i)),
						Value:   sarama.StringEncoder(fmt.Sprintf("v%d-%s", i, c.name)),
						Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(fmt.Sprint(i))}},
					})
				}
				if err := producer.SendMessages(msgs); err != nil {
					t.Fatalf("SendMessages: %v", err)
				}
				for i, m := range msgs {
					if m.Offset != int64(i) {
						t.Fatalf("message %d acknowledged at offset %d", i, m.Offset)
					}
				}

				consumer, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
				if err != nil {
					t.Fatalf("sarama consumer: %v", err)
				}
				defer consumer.Close()
				pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
				if err != nil {
					t.Fatalf("ConsumePartition: %v", err)
				}
				defer pc.Close()
				deadline := time.After(20 * time.Second)
				for i := 0; i < n; i++ {
					select {
					case m := <-pc.Messages():
						wantValue := fmt.Sprintf("v%d-%s", i, c.name)
						if m.Offset != int64(i) || string(m.Key) != fmt.Sprintf("k%d", i) || string(m.Value) != wantValue {
							t.Fatalf("record %d: offset %d key %q value %q", i, m.Offset, m.Key, m.Value)
						}
						if len(m.Headers) != 1 || string(m.Headers[0].Value) != fmt.Sprint(i) {
							t.Fatalf("record %d: headers %v", i, m.Headers)
						}
					case err := <-pc.Errors():
						t.Fatalf("consume: %v", err)
					case <-deadline:
						t.Fatalf("consumed %d of %d records", i, n)
					}
				}
			})
		}
	}
}
