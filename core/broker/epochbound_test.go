package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSingleNodeRecoveryCutsGarbageEpoch is FINDINGS.md 16 at the broker:
// a power loss tears the last, unsynced batch of a partition so that its
// leader epoch (outside the CRC) is garbage, while a latent bit flip has
// made the partition's leader-epoch checkpoint unreadable. The restarted
// single node must bound recovery by the leader epoch of its own image,
// cut the torn batch, keep the acknowledged records and take produces
// again (before the fix every produce answered KAFKA_STORAGE_ERROR).
func TestSingleNodeRecoveryCutsGarbageEpoch(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.restart() // a restart moves the leadership to a new epoch: test a non-zero one
	if got := tb.produce("t", 0, 3); got != 0 {
		t.Fatalf("first produce at %d, want 0", got)
	}
	if got := tb.produce("t", 0, 2); got != 3 {
		t.Fatalf("second produce at %d, want 3", got)
	}
	p := tb.b.topics["t"].partitions[0]
	epoch := p.leaderEpoch
	if epoch <= 0 {
		t.Fatalf("leader epoch %d after a restart; the test wants a non-zero one", epoch)
	}
	acked := tb.fetchAll("t")
	segment := "t-0/00000000000000000000.log"
	synced, err := tb.disk.ReadFile(segment)
	if err != nil {
		t.Fatal(err)
	}
	// An append that is never synced: the power loss tears it.
	if _, err := p.log.Append(testBatch(tb.nowMs, 1), epoch, tb.nowMs); err != nil {
		t.Fatal(err)
	}
	f, err := tb.disk.OpenFile(segment, false)
	if err != nil {
		t.Fatal(err)
	}
	garbage := epoch | 1<<27
	if _, err := f.WriteAt([]byte{byte(garbage >> 24), byte(garbage >> 16), byte(garbage >> 8), byte(garbage)}, int64(len(synced))+12); err != nil {
		t.Fatal(err)
	}
	damaged := 0
	for _, name := range []string{"leader-epoch-checkpoint", "leader-epoch-checkpoint.job"} {
		if err := tb.disk.Corrupt("t-0/"+name, 0, 0x40); err == nil {
			damaged++
		}
	}
	if damaged == 0 {
		t.Fatal("no leader-epoch checkpoint to damage")
	}
	if err := tb.b.ReleaseDisk(); err != nil {
		t.Fatal(err)
	}
	tb.disk = tb.disk.Crash(func(n int) int { return n - 1 }) // every unsynced byte survives, torn epoch included
	tb.syncer.jobs = nil
	tb.nowMs += 1000
	tb.start()

	p = tb.b.topics["t"].partitions[0]
	if p.log == nil {
		t.Fatalf("partition offline after recovery: %v", p.offlineErr)
	}
	if got := p.log.LatestEpoch(); got > p.leaderEpoch {
		t.Fatalf("recovered latest epoch %d above the leader epoch %d", got, p.leaderEpoch)
	}
	if got := tb.fetchAll("t"); got != acked {
		t.Fatalf("after the crash the partition serves %q, want the acknowledged %q", got, acked)
	}
	if got := tb.produce("t", 0, 1); got != 5 {
		t.Fatalf("produce after recovery at %d, want 5 (the torn batch cut)", got)
	}
}

// fetchAll fetches partition 0 of topic from offset 0 and returns the
// record batches served, byte for byte.
func (tb *testBroker) fetchAll(topic string) string {
	tb.t.Helper()
	resp := tb.do(fetchRequest(topic, 0, 0, 0, 0)).(*kmsg.FetchResponse)
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		tb.t.Fatalf("fetch %s-0: error %d", topic, sp.ErrorCode)
	}
	if _, offsets := fetchedValues(tb.t, resp); len(offsets) == 0 {
		tb.t.Fatalf("fetch %s-0: no records", topic)
	}
	return string(sp.RecordBatches)
}
