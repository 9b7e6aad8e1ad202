package broker

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/partlog"
)

// scrubTestBroker is a broker with small segments holding batches
// batches of three records in topic t, all synced.
func scrubTestBroker(t *testing.T, batches int, opts ...func(*Config)) *testBroker {
	t.Helper()
	tb := newTestBroker(t, opts...)
	tb.createTopic("t", 1, map[string]string{"segment.bytes": "300"})
	for i := 0; i < batches; i++ {
		tb.produce("t", 0, 3)
	}
	return tb
}

// segmentBytes is the total size of t-0's segment files.
func segmentBytes(t *testing.T, tb *testBroker) int64 {
	t.Helper()
	names, err := tb.disk.List("t-0")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	segs := 0
	for _, n := range names {
		if len(n) > 4 && n[len(n)-4:] == ".log" {
			f, err := tb.disk.OpenFile("t-0/"+n, false)
			if err != nil {
				t.Fatal(err)
			}
			size, err := f.Size()
			if err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
			total += size
			segs++
		}
	}
	if segs < 3 {
		t.Fatalf("t-0 has %d segments, want several (sealed ones below the recovery point)", segs)
	}
	return total
}

// TestScrubFindsFlippedBitNobodyReads: a bit flipped in a sealed segment
// that no client reads takes the partition offline within a few passes,
// with an error wrapping partlog.ErrCorruptSegment, and answers produces
// with KAFKA_STORAGE_ERROR afterwards.
func TestScrubFindsFlippedBitNobodyReads(t *testing.T) {
	tb := scrubTestBroker(t, 12, func(c *Config) { c.ScrubBytesPerPass = 256 })
	segmentBytes(t, tb)
	tb.tick(tb.cfg.CheckpointIntervalMs) // the recovery point passes the first segment
	// Position 70 lies in the records of the first batch (its header is
	// 61 bytes), covered by the CRC.
	if err := tb.disk.Corrupt("t-0/00000000000000000000.log", 70, 0x10); err != nil {
		t.Fatal(err)
	}
	// A round of the 12 batches takes 6 passes of 256 bytes.
	for i := 0; i < 10 && len(tb.b.OfflinePartitions()) == 0; i++ {
		tb.tick(tb.cfg.ScrubIntervalMs)
	}
	off := tb.b.OfflinePartitions()
	if len(off) != 1 || off[0].Dir != "t-0" || !errors.Is(off[0].Cause, partlog.ErrCorruptSegment) || off[0].Retrying {
		t.Fatalf("after scrub passes: offline %+v, want t-0 offline for good with ErrCorruptSegment", off)
	}
	resp := tb.doAndSync(produceRequest(9, -1, "t", 0, testBatch(tb.nowMs, 1))).(*kmsg.ProduceResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerrKafkaStorageError {
		t.Fatalf("produce to the scrubbed-offline partition: error %d, want KAFKA_STORAGE_ERROR", code)
	}
}

// TestScrubCleanLogWrapsWithoutAlarm: a clean log is read end to end in
// passes of at most the budget (plus one batch), the cursor wraps to the
// log start and keeps going, and nothing goes offline.
func TestScrubCleanLogWrapsWithoutAlarm(t *testing.T) {
	const budget = 200
	tb := scrubTestBroker(t, 12, func(c *Config) { c.ScrubBytesPerPass = budget })
	total := segmentBytes(t, tb)
	p := tb.b.topics["t"].partitions[0]
	if limit := min(p.log.HighWatermark(), p.log.DurableEndOffset()); limit != p.log.LogEndOffset() {
		t.Fatalf("scrub limit %d, log end %d: the test wants everything synced", limit, p.log.LogEndOffset())
	}
	maxBatch := int64(len(testBatch(tb.nowMs, 3)))
	passes := 0
	for {
		before, wraps := tb.b.ScrubStats()
		if wraps > 0 {
			break
		}
		if next := tb.b.NextWakeMs(tb.nowMs); next > tb.nowMs+tb.cfg.ScrubIntervalMs {
			t.Fatalf("next wake %d, a scrub pass is due by %d", next, tb.nowMs+tb.cfg.ScrubIntervalMs)
		}
		tb.tick(tb.cfg.ScrubIntervalMs)
		passes++
		after, _ := tb.b.ScrubStats()
		if read := after - before; read == 0 || read > budget+maxBatch {
			t.Fatalf("pass %d read %d bytes, want 1 to %d", passes, read, budget+maxBatch)
		}
		if passes > 100 {
			t.Fatal("the cursor never wrapped")
		}
	}
	bytes, _ := tb.b.ScrubStats()
	if bytes != total {
		t.Fatalf("a full round read %d bytes, the segments hold %d", bytes, total)
	}
	if passes < int(total/(budget+maxBatch)) {
		t.Fatalf("a full round took %d passes, fewer than the budget allows", passes)
	}
	if p.scrubOffset != p.log.LogStartOffset() {
		t.Fatalf("cursor %d after wrapping, want the log start %d", p.scrubOffset, p.log.LogStartOffset())
	}
	tb.tick(tb.cfg.ScrubIntervalMs)
	if again, _ := tb.b.ScrubStats(); again <= bytes {
		t.Fatal("scrubbing stopped after the first round")
	}
	if off := tb.b.OfflinePartitions(); len(off) != 0 {
		t.Fatalf("clean log taken offline: %+v", off)
	}
}

// TestScrubDisabled: a zero budget reads nothing and adds no wake-ups.
func TestScrubDisabled(t *testing.T) {
	tb := scrubTestBroker(t, 4, func(c *Config) { c.ScrubBytesPerPass = 0 })
	if err := tb.disk.Corrupt("t-0/00000000000000000000.log", 70, 0x10); err != nil {
		t.Fatal(err)
	}
	tb.tick(10 * tb.cfg.ScrubIntervalMs)
	if bytes, _ := tb.b.ScrubStats(); bytes != 0 || len(tb.b.OfflinePartitions()) != 0 {
		t.Fatalf("disabled scrubber read %d bytes, offline %+v", bytes, tb.b.OfflinePartitions())
	}
}

func TestScrubConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		bytes, interval int64
		ok              bool
	}{
		{1 << 20, 1000, true},
		{0, 0, true},
		{-1, 1000, false},
		{1 << 30, 1000, false},
		{1024, 0, false},
	} {
		c := DefaultConfig()
		c.ScrubBytesPerPass, c.ScrubIntervalMs = tc.bytes, tc.interval
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("bytes %d interval %d: Validate %v, want ok=%v", tc.bytes, tc.interval, err, tc.ok)
		}
	}
}

// TestScrubAfterRestartRunsAtOnce: a restarted broker scrubs at its first
// Tick, before the interval has passed, so a copy found damaged before the
// restart is reported again before it can rejoin an ISR; the damage lies
// below the recovery point, where recovery checks headers only.
func TestScrubAfterRestartRunsAtOnce(t *testing.T) {
	tb := scrubTestBroker(t, 12)
	tb.tick(tb.cfg.CheckpointIntervalMs)
	if err := tb.disk.Corrupt("t-0/00000000000000000000.log", 70, 0x10); err != nil {
		t.Fatal(err)
	}
	tb.restart()
	if off := tb.b.OfflinePartitions(); len(off) != 0 {
		t.Fatalf("recovery found the damage below the recovery point: %+v; the test wants it hidden", off)
	}
	tb.tick(1)
	off := tb.b.OfflinePartitions()
	if len(off) != 1 || !errors.Is(off[0].Cause, partlog.ErrCorruptSegment) {
		t.Fatalf("first tick after a restart: offline %+v, want t-0 with ErrCorruptSegment", off)
	}
}
