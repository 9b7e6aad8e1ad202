package broker

import (
	"testing"

	"github.com/chronik-streaming/chronik/core/record"
)

// TestLogsDecompressWithBrokerCodecs pins that the broker lends its one
// record.Codecs to every partition log it opens, so that a ListOffsets by
// timestamp inside a compressed batch reuses the broker's zstd decoder
// instead of building one (about 24 allocations) per lookup, also after a
// restart reopened the logs. Each lookup must still find the record.
func TestLogsDecompressWithBrokerCodecs(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produceOnce("t", compressedBatch(t, record.CodecZstd, tb.nowMs))
	lookupAllocs := func() float64 {
		req := tb.listOffsetInBatch("t", tb.nowMs+50)
		return testing.AllocsPerRun(20, func() { tb.handleQuietly(req) })
	}
	lent := lookupAllocs()
	tb.b.topics["t"].partitions[0].log.SetCodecs(nil) // decoders per lookup
	fresh := lookupAllocs()
	t.Logf("allocations per lookup: %.0f with the broker's codecs, %.0f with decoders per lookup", lent, fresh)
	if lent > fresh-10 {
		t.Fatalf("a lookup allocates %.0f times with the broker's codecs and %.0f with decoders built per lookup: the log does not reuse the broker's", lent, fresh)
	}
	tb.restart()
	if again := lookupAllocs(); again != lent {
		t.Fatalf("after a restart a lookup allocates %.0f times, %.0f before: the reopened log has not the broker's codecs", again, lent)
	}
}
