package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestNoFsyncOnTheEventLoop follows a new topic through creation, produce
// across segment rolls, fetch and the periodic checkpoint, and counts the
// fsyncs (files and directories) that happen inside the broker's calls,
// which run on the event loop, apart from those of the sync jobs, which
// the host runs elsewhere. Everything durable here goes through a job:
// the image, the new directories, partition.metadata, a roll's directory
// entry, the leader-epoch checkpoint and the partition checkpoint.
// (Retention, DeleteRecords and a follower's truncation still write their
// checkpoint on the loop before they delete anything: docs/architecture.md.)
func TestNoFsyncOnTheEventLoop(t *testing.T) {
	tb := newTestBroker(t)
	tb.holdImage = true
	fsyncs := func() int { return tb.disk.SyncCount() + tb.disk.DirSyncCount() }
	onLoop, inJobs := 0, 0
	call := func(f func()) {
		before := fsyncs()
		f()
		onLoop += fsyncs() - before
	}
	runJobs := func() {
		for len(tb.syncer.jobs) > 0 {
			jobs := tb.syncer.jobs
			tb.syncer.jobs = nil
			for _, j := range jobs {
				before := fsyncs()
				err := j.job.Run()
				inJobs += fsyncs() - before
				call(func() { tb.b.SyncDone(tb.nowMs, j.token, j.job, err) })
			}
		}
	}

	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "t", 3, 1
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "segment.bytes", kmsg.StringPtr("2048")
	rt.Configs = append(rt.Configs, cfg)
	create.Topics = append(create.Topics, rt)
	before := len(tb.replier.replies)
	call(func() { tb.send(create) })
	runJobs()
	if len(tb.replier.replies) != before+1 {
		t.Fatal("CreateTopics not answered after its image job")
	}

	for i := range 90 {
		call(func() { tb.send(tb.produceRequest("t", int32(i%3), 10)) })
		call(tb.b.Flush)
		runJobs()
		tb.nowMs += 10
	}
	for i := range int32(3) {
		call(func() { tb.send(fetchRequest("t", i, 0, 1, 0)) })
	}
	tb.nowMs += tb.cfg.CheckpointIntervalMs + 1
	call(func() { tb.b.Tick(tb.nowMs) })
	call(tb.b.Flush)
	runJobs()

	if got := len(tb.replier.replies) - before; got != 1+90+3 {
		t.Fatalf("%d replies, want %d", got, 1+90+3)
	}
	p := tb.b.lookupPartition("t", 0)
	if p.log.Segments() < 3 {
		t.Fatalf("partition 0 has %d segments: the test wants rolls", p.log.Segments())
	}
	for _, name := range []string{"t-0/partition-checkpoint.job", "t-0/" + partitionMetadataFile} {
		if _, err := tb.disk.ReadFile(name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if onLoop != 0 {
		t.Fatalf("%d fsyncs ran inside the broker's calls (the event loop); want 0 (%d in sync jobs)", onLoop, inJobs)
	}
	if inJobs == 0 {
		t.Fatal("no fsync ran at all: the test measures nothing")
	}
}
