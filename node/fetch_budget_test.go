package node

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFetchResponseBytesMax(t *testing.T) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.MaxBytes = 50 << 20
	for _, name := range []string{"a", "b"} {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = name
		for p := range 3 {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = int32(p)
			rp.PartitionMaxBytes = 1 << 20
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	// Six partitions of 1 MiB, below MaxBytes and fetch.max.bytes.
	if got, want := fetchResponseBytesMax(req, 55<<20), int64(6<<20+7*64); got != want {
		t.Fatalf("estimate %d; want %d", got, want)
	}
	// fetch.max.bytes caps it whatever the client asks.
	req.MaxBytes = 1<<31 - 1
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			req.Topics[i].Partitions[j].PartitionMaxBytes = 1<<31 - 1
		}
	}
	if got, want := fetchResponseBytesMax(req, 16<<20), int64(16<<20+7*64); got != want {
		t.Fatalf("estimate %d; want %d", got, want)
	}
}

// TestResponseSizeBytes: a fetch response's SizeBytes is never below its
// encoding, so the writer's buffer sized from it never has to grow.
func TestResponseSizeBytes(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	for ti := range 3 {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = strings.Repeat("t", 200+ti)
		for p := range 4 {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = int32(p)
			sp.RecordBatches = make([]byte, 1000*p)
			at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			sp.AbortedTransactions = append(sp.AbortedTransactions, at)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	m := responseMessage{correlationID: 7, resp: resp}
	if got, size := len(m.AppendTo(nil)), m.SizeBytes(); got > size {
		t.Fatalf("encoded %d bytes; SizeBytes %d", got, size)
	}
	if n := (responseMessage{resp: kmsg.NewPtrMetadataResponse()}).SizeBytes(); n != 0 {
		t.Fatalf("metadata response sized %d; only fetches are", n)
	}
}
