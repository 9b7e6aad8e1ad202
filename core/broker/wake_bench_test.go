package broker

import (
	"fmt"
	"testing"
)

// BenchmarkProduceWithParkedFetches measures one acks=1 produce to a
// partition while parkedFetches consumer long polls wait on the
// partitions of another topic (issue 10, item 5: a produce wakes only the
// fetches waiting on what it changed). Each iteration is the produce, the
// flush and its sync, as the node runs them; none of the parked fetches
// may be answered.
func BenchmarkProduceWithParkedFetches(b *testing.B) {
	for _, parked := range []int{0, 10000} {
		b.Run(fmt.Sprintf("parked=%d", parked), func(b *testing.B) {
			tb := newTestBroker(b)
			tb.createTopic("hot", 1, nil)
			const idlePartitions = 100
			tb.createTopic("idle", idlePartitions, nil)
			for i := 0; i < parked; i++ {
				tb.seq++
				req := fetchRequest("idle", int32(i%idlePartitions), 0, 1, 60000)
				tb.b.HandleRequest(tb.nowMs, &Request{Conn: ConnID(2 + i), Seq: tb.seq, CorrelationID: int32(tb.seq), Msg: req})
			}
			if got := len(tb.b.waitingFetches); got != parked {
				b.Fatalf("%d fetches waiting, want %d", got, parked)
			}
			batch := testBatch(tb.nowMs, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tb.produceOnce("hot", batch)
			}
			b.StopTimer()
			if got := len(tb.b.waitingFetches); got != parked {
				b.Fatalf("%d fetches still waiting after the produces, want %d", got, parked)
			}
		})
	}
}
