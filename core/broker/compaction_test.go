package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/record"
)

// keyedProduce is an acks=all produce of one batch of keyed records
// (a nil key where keys[i] is "").
func (tb *testBroker) keyedProduce(topic string, keys, values []string) *kmsg.ProduceResponse {
	tb.t.Helper()
	recs := make([]record.Record, len(keys))
	for i := range keys {
		recs[i] = record.Record{Timestamp: tb.nowMs, Value: []byte(values[i])}
		if keys[i] != "" {
			recs[i].Key = []byte(keys[i])
		}
	}
	req := tb.produceRequest(topic, 0, 1)
	req.Topics[0].Partitions[0].Records = record.MustBuild(record.DefaultBatchOptions(), recs)
	return tb.doAndSync(req).(*kmsg.ProduceResponse)
}

// TestCompactedTopic: a topic with cleanup.policy compact refuses keyless
// records (INVALID_RECORD); its cleaner, run as a job off the loop, keeps
// the latest record of each key at its offset, and reads skip the rest.
func TestCompactedTopic(t *testing.T) {
	tb := newTestBroker(t, func(c *Config) { c.CleanerBackoffMs = 1000 })
	tb.createTopic("c", 1, map[string]string{"cleanup.policy": "compact", "segment.bytes": "1024", "min.cleanable.dirty.ratio": "0.01"})
	if resp := tb.keyedProduce("c", []string{"k1", ""}, []string{"a", "b"}); resp.Topics[0].Partitions[0].ErrorCode != 87 {
		t.Fatalf("keyless record on a compacted topic: error %d, want INVALID_RECORD", resp.Topics[0].Partitions[0].ErrorCode)
	}
	latest := map[string]int64{}
	for i := range 60 {
		key := fmt.Sprintf("k%d", i%5)
		resp := tb.keyedProduce("c", []string{key}, []string{fmt.Sprintf("v%02d-%s", i, key)})
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 {
			t.Fatalf("produce %d: error %d", i, sp.ErrorCode)
		}
		latest[key] = sp.BaseOffset
		tb.nowMs += 10
	}
	p := tb.b.lookupPartition("c", 0)
	segments := p.log.Segments()
	tb.nowMs += tb.cfg.CleanerBackoffMs
	tb.b.Tick(tb.nowMs)
	if len(tb.syncer.jobs) != 1 || tb.syncer.jobs[0].job.Clean() == nil || !p.cleaning {
		t.Fatalf("after the cleaner's backoff: %d jobs queued, cleaning %v", len(tb.syncer.jobs), p.cleaning)
	}
	tb.runSyncs()
	if p.cleaning || tb.b.cleanInFlight {
		t.Fatal("the clean job landed but the partition still counts as cleaning")
	}
	resp := tb.do(fetchRequest("c", 0, 0, 1, 0)).(*kmsg.FetchResponse)
	values, offsets := fetchedValues(t, resp)
	if len(values) >= 60 {
		t.Fatalf("%d records after cleaning %d segments: nothing was removed", len(values), segments)
	}
	for i := 1; i < len(offsets); i++ {
		if offsets[i] <= offsets[i-1] {
			t.Fatalf("offsets not increasing after cleaning: %v", offsets)
		}
	}
	for key, off := range latest {
		found := false
		for i, o := range offsets {
			if o == off && values[i][len(values[i])-len(key):] == key {
				found = true
			}
		}
		if !found {
			t.Fatalf("the latest record of %s (offset %d) is gone after cleaning: %v %v", key, off, offsets, values)
		}
	}
}
