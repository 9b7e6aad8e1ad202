package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteTopic deletes a topic through DeleteTopics and fails the test on
// any error.
func (tb *testBroker) deleteTopic(name string) {
	tb.t.Helper()
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version = 5
	dt.TopicNames = []string{name}
	before := tb.send(dt) // a waiting produce is answered too
	for _, r := range tb.replier.replies[before:] {
		if resp, ok := r.resp.(*kmsg.DeleteTopicsResponse); ok {
			if code := resp.Topics[0].ErrorCode; code != 0 {
				tb.t.Fatalf("delete topic %s: error %d", name, code)
			}
			return
		}
	}
	tb.t.Fatalf("delete topic %s: no answer", name)
}

// startUnsyncedProduce sends a produce and starts its sync job without
// running it.
func (tb *testBroker) startUnsyncedProduce(topic string) {
	tb.t.Helper()
	tb.send(tb.produceRequest(topic, 0, 2))
	tb.b.Flush()
	if len(tb.syncer.jobs) != 1 {
		tb.t.Fatalf("%d sync jobs after a produce, want 1", len(tb.syncer.jobs))
	}
}

func (tb *testBroker) dirExists(dir string) bool {
	names, _ := tb.disk.List(".")
	return strings.Contains(fmt.Sprint(names), dir)
}

// A topic deleted while a sync job of its partition is in flight keeps its
// directory until the job is done: the job writes checkpoint files into
// it off the loop, and one created while the directory was being removed
// would outlive it and be read by a topic of the same name created later.
func TestDeleteTopicWaitsForSyncJob(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 2)
	tb.startUnsyncedProduce("t")
	tb.deleteTopic("t")
	if !tb.dirExists("t-0") {
		t.Fatal("directory removed while its sync job was in flight")
	}
	tb.runSyncs()
	if tb.dirExists("t-0") {
		t.Fatal("directory of the deleted topic left after its sync job was done")
	}
}

// A topic of the same name created before the job is done took the
// directory over (the old one's files were cleared as an older topic's):
// the deferred removal leaves it alone.
func TestDeferredRemovalSparesRecreatedTopic(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 2)
	tb.startUnsyncedProduce("t")
	tb.deleteTopic("t")
	tb.createTopic("t", 1, nil)
	tb.runSyncs()
	if !tb.dirExists("t-0") {
		t.Fatal("the recreated topic's directory was removed")
	}
	if off := tb.produce("t", 0, 3); off != 0 {
		t.Fatalf("first produce to the recreated topic at offset %d, want 0", off)
	}
}

// TestStaleCheckpointJobOfDeletedTopicIgnored: a periodic checkpoint job
// in flight when its topic is deleted and a same-named topic created
// lands its checkpoint files in the new directory, with a higher sequence
// than anything the new log wrote; they name the old topic (their owner),
// so the restart ignores them and the new topic keeps its acknowledged
// records (the old checkpoint's log start 6 would have cut offsets 0-2).
func TestStaleCheckpointJobOfDeletedTopicIgnored(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	for i := 0; i < 5; i++ {
		tb.produce("t", 0, 2)
	}
	tb.doAndSync(deleteRecordsReq(2, "t", map[int32]int64{0: 6}))
	tb.tick(tb.cfg.CheckpointIntervalMs) // checkpoints raise the sequence
	tb.runSyncs()
	tb.produce("t", 0, 2)
	tb.tick(tb.cfg.CheckpointIntervalMs)
	if len(tb.syncer.jobs) != 1 {
		t.Fatalf("%d jobs queued, want the periodic checkpoint's", len(tb.syncer.jobs))
	}
	tb.deleteTopic("t")
	tb.createTopic("t", 1, nil)
	if off := tb.produce("t", 0, 3); off != 0 { // runs the old job too
		t.Fatalf("first produce at %d", off)
	}
	tb.restart()
	if got := earliestOffset(tb, "t", 0); got != 0 {
		t.Fatalf("after a clean restart the recreated topic starts at %d, want 0 (acknowledged offsets 0-2 gone)", got)
	}
}
