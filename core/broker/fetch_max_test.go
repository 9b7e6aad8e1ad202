package broker

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/record"
)

// produceValue appends one batch holding a single record of size bytes to
// topic-partition and returns the batch's size on disk.
func (tb *testBroker) produceValue(topic string, partition int32, size int) int {
	tb.t.Helper()
	batch := batchOf(tb.t, record.DefaultBatchOptions(), tb.nowMs, strings.Repeat("v", size))
	resp := tb.doAndSync(produceRequest(9, -1, topic, partition, batch)).(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		tb.t.Fatalf("produce: error %d", code)
	}
	return len(batch)
}

// maximalFetch asks for everything: MaxBytes and PartitionMaxBytes at
// 2^31-1, for each of the given partitions of topic.
func maximalFetch(topic string, partitions ...int32) *kmsg.FetchRequest {
	req := fetchRequest(topic, partitions[0], 0, 0, 0)
	req.MaxBytes = 1<<31 - 1
	req.Topics[0].Partitions[0].PartitionMaxBytes = 1<<31 - 1
	for _, p := range partitions[1:] {
		rp := req.Topics[0].Partitions[0]
		rp.Partition = p
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
	}
	return req
}

func TestFetchMaxBytesCapsResponse(t *testing.T) {
	// fetch.max.bytes of four and a half batches.
	batchBytes := len(batchOf(t, record.DefaultBatchOptions(), 0, strings.Repeat("v", 900)))
	capBytes := 4*batchBytes + batchBytes/2
	tb := newTestBroker(t, func(c *Config) { c.FetchMaxBytes = int32(capBytes) })
	tb.createTopic("t", 2, nil)
	for range 20 {
		if got := tb.produceValue("t", 0, 900); got != batchBytes {
			t.Fatalf("batch of %d bytes; want %d", got, batchBytes)
		}
		tb.produceValue("t", 1, 900)
	}

	// One partition: as many whole batches as fit in fetch.max.bytes.
	resp := tb.do(maximalFetch("t", 0)).(*kmsg.FetchResponse)
	got := len(resp.Topics[0].Partitions[0].RecordBatches)
	if want := 4 * batchBytes; got != want {
		t.Fatalf("fetched %d bytes; want %d (whole %d-byte batches within fetch.max.bytes %d)", got, want, batchBytes, capBytes)
	}

	// Two partitions share the cap.
	resp = tb.do(maximalFetch("t", 0, 1)).(*kmsg.FetchResponse)
	total := 0
	for _, sp := range resp.Topics[0].Partitions {
		total += len(sp.RecordBatches)
	}
	if total > capBytes || total == 0 {
		t.Fatalf("two partitions fetched %d bytes; want 1..%d", total, capBytes)
	}

	// A client asking for less than fetch.max.bytes gets its own limit.
	req := maximalFetch("t", 0)
	req.MaxBytes = int32(2 * batchBytes)
	resp = tb.do(req).(*kmsg.FetchResponse)
	if got := len(resp.Topics[0].Partitions[0].RecordBatches); got != 2*batchBytes {
		t.Fatalf("fetched %d bytes with MaxBytes %d", got, req.MaxBytes)
	}

	// MinBytes above the effective MaxBytes is lowered to it: with that much
	// available the long poll ends at once. (Whole batches fill four and
	// a half batches' worth only with four, so ask for four.)
	req = maximalFetch("t", 0)
	req.MaxBytes = int32(4 * batchBytes)
	req.MinBytes = 1<<31 - 1
	req.MaxWaitMillis = 5000
	resp = tb.do(req).(*kmsg.FetchResponse)
	if len(resp.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatal("empty response")
	}
}

// TestFetchMaxBytesFirstBatchWhole: a first batch larger than
// fetch.max.bytes is still returned whole (KIP-74), and only it.
func TestFetchMaxBytesFirstBatchWhole(t *testing.T) {
	const capBytes = 2048
	tb := newTestBroker(t, func(c *Config) { c.FetchMaxBytes = capBytes })
	tb.createTopic("t", 1, nil)
	big := tb.produceValue("t", 0, 10000)
	tb.produceValue("t", 0, 100)
	resp := tb.do(maximalFetch("t", 0)).(*kmsg.FetchResponse)
	if got := len(resp.Topics[0].Partitions[0].RecordBatches); got != big {
		t.Fatalf("fetched %d bytes; want exactly the first, %d-byte batch", got, big)
	}
	if vals, _ := fetchedValues(t, resp); len(vals) != 1 || len(vals[0]) != 10000 {
		t.Fatalf("fetched %d values", len(vals))
	}
}

func TestFetchResponseMaxBytes(t *testing.T) {
	req := kmsg.NewPtrFetchRequest()
	for _, tc := range []struct {
		version  int16
		maxBytes int32
		want     int
	}{
		{12, 1<<31 - 1, 57671680},
		{12, 1000, 1000},
		{12, 0, 57671680},  // no limit asked
		{12, -5, 57671680}, // nonsense: the broker's cap
		{2, 1000, 57671680},
	} {
		req.Version, req.MaxBytes = tc.version, tc.maxBytes
		if got := FetchResponseMaxBytes(req, 57671680); got != tc.want {
			t.Errorf("v%d MaxBytes %d: %d; want %d", tc.version, tc.maxBytes, got, tc.want)
		}
	}
	cfg := DefaultConfig()
	cfg.FetchMaxBytes = 1023
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "fetch.max.bytes") {
		t.Fatalf("Validate with fetch.max.bytes 1023: %v", err)
	}
}
