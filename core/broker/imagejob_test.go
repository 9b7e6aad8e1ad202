package broker

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// Tests of the single node's image write as a sync job (applyLocal): an
// answer to a metadata change goes out only after the image holding it is
// durable, and the installed image is always the durable one.

// createTopicsRequest is a CreateTopics of one single-partition topic.
func createTopicsRequest(name string) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
	req.Topics = append(req.Topics, rt)
	return req
}

// imageJobs counts the queued sync jobs that write the image.
func (tb *testBroker) imageJobs() int {
	n := 0
	for _, q := range tb.syncer.jobs {
		if q.token.p == nil {
			n++
		}
	}
	return n
}

// landImageJob reports the first queued image job done with err (running
// it when err is nil), as the environment would.
func (tb *testBroker) landImageJob(err error) {
	tb.t.Helper()
	for i, q := range tb.syncer.jobs {
		if q.token.p != nil {
			continue
		}
		tb.syncer.jobs = append(tb.syncer.jobs[:i], tb.syncer.jobs[i+1:]...)
		if err == nil {
			err = q.job.Run()
		}
		tb.b.SyncDone(tb.nowMs, q.token, q.job, err)
		tb.b.CheckInvariants()
		return
	}
	tb.t.Fatal("no image job queued")
}

// diskHasTopic reports whether the image file on disk holds topic name.
func (tb *testBroker) diskHasTopic(name string) bool {
	tb.t.Helper()
	data, err := tb.disk.ReadFile(imageFile)
	if err != nil {
		tb.t.Fatalf("read %s: %v", imageFile, err)
	}
	im, err := metadata.Unmarshal(data)
	if err != nil {
		tb.t.Fatalf("decode %s: %v", imageFile, err)
	}
	return im.Topic(name) != nil
}

func createCode(t *testing.T, r testReply) int16 {
	t.Helper()
	resp, ok := r.resp.(*kmsg.CreateTopicsResponse)
	if !ok {
		t.Fatalf("reply %T, want CreateTopicsResponse", r.resp)
	}
	return resp.Topics[0].ErrorCode
}

func TestCreateTopicsAnsweredAfterImageJob(t *testing.T) {
	tb := newTestBroker(t)
	tb.holdImage = true
	before := tb.send(createTopicsRequest("a"))
	if got := len(tb.replier.replies) - before; got != 0 {
		t.Fatalf("%d replies before the image job ran, want none", got)
	}
	if tb.imageJobs() != 1 || !tb.b.SyncInFlight() {
		t.Fatalf("image jobs queued %d, in flight %v; want 1, true", tb.imageJobs(), tb.b.SyncInFlight())
	}
	if tb.b.image.Topic("a") != nil || tb.b.lookupPartition("a", 0) != nil || tb.diskHasTopic("a") {
		t.Fatal("the topic is installed or on disk before its image job ran")
	}
	tb.landImageJob(nil)
	if got := len(tb.replier.replies) - before; got != 1 {
		t.Fatalf("%d replies after the image job, want 1", got)
	}
	if code := createCode(t, tb.replier.replies[before]); code != kerrNone {
		t.Fatalf("create: error %d", code)
	}
	if tb.b.image.Topic("a") == nil || tb.b.lookupPartition("a", 0) == nil || !tb.diskHasTopic("a") {
		t.Fatal("the topic is not installed and durable after its image job")
	}
	if tb.b.SyncInFlight() {
		t.Fatal("a sync is still in flight after the image job landed")
	}
}

func TestFailedImageJobAnswersStorageErrorAndKeepsImage(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("keep", 1, nil)
	tb.holdImage = true
	before := tb.send(createTopicsRequest("a"))
	tb.landImageJob(fmt.Errorf("injected: %w", errors.New("fsync failed")))
	if got := len(tb.replier.replies) - before; got != 1 {
		t.Fatalf("%d replies after the failed job, want 1", got)
	}
	if code := createCode(t, tb.replier.replies[before]); code != kerrKafkaStorageError {
		t.Fatalf("create after a failed image write: error %d, want KAFKA_STORAGE_ERROR", code)
	}
	if tb.b.image.Topic("a") != nil || tb.b.lookupPartition("a", 0) != nil || tb.b.image.Topic("keep") == nil {
		t.Fatal("a failed image write changed the installed image")
	}
	// The broker goes on: the same create succeeds once the disk works.
	tb.holdImage = false
	tb.createTopic("a", 1, nil)
	if !tb.diskHasTopic("a") || !tb.diskHasTopic("keep") {
		t.Fatal("the image on disk lacks a topic after a later write")
	}
}

func TestLocalEntriesQueueInOrder(t *testing.T) {
	tb := newTestBroker(t, func(c *Config) { c.MaxPendingProposals = 2 })
	tb.holdImage = true
	first := tb.send(createTopicsRequest("a"))
	tb.send(createTopicsRequest("b"))
	tb.send(createTopicsRequest("a")) // valid against the installed image, refused when applied after the first
	over := tb.send(createTopicsRequest("c"))
	// One write in flight, two queued (the limit); the fourth is refused.
	if got := len(tb.replier.replies) - first; got != 1 {
		t.Fatalf("%d replies with one write in flight and a full queue, want 1", got)
	}
	if code := createCode(t, tb.replier.replies[over]); code != kerrRequestTimedOut {
		t.Fatalf("create past the queue limit: error %d, want REQUEST_TIMED_OUT", code)
	}
	if tb.imageJobs() != 1 {
		t.Fatalf("%d image jobs started, want one at a time", tb.imageJobs())
	}
	tb.landImageJob(nil)
	if got := len(tb.replier.replies) - first; got != 2 || createCode(t, tb.replier.replies[first+1]) != kerrNone {
		t.Fatalf("after the first write: %d replies, want the first create answered", got)
	}
	if tb.b.image.Topic("a") == nil || tb.b.image.Topic("b") != nil || tb.diskHasTopic("b") {
		t.Fatal("the second create is installed or durable before its own write")
	}
	tb.landImageJob(nil)
	if tb.b.image.Topic("b") == nil || !tb.diskHasTopic("a") || !tb.diskHasTopic("b") {
		t.Fatal("the second write does not hold both topics")
	}
	tb.landImageJob(nil)
	if got := len(tb.replier.replies) - first; got != 4 {
		t.Fatalf("%d replies after three writes, want 4", got)
	}
	if code := createCode(t, tb.replier.replies[first+3]); code != kerrTopicAlreadyExists {
		t.Fatalf("queued duplicate create: error %d, want TOPIC_ALREADY_EXISTS", code)
	}
	if tb.imageJobs() != 0 || tb.b.SyncInFlight() {
		t.Fatal("an image job is left after the queue drained")
	}
}

func TestRestartAfterImageJobThatNeverRanKeepsOldImage(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("keep", 1, nil)
	tb.holdImage = true
	tb.send(createTopicsRequest("lost"))
	// The power goes before the job runs: nothing was answered, and the
	// disk after the crash has the previous image.
	tb.syncer.jobs = nil
	tb.disk = tb.disk.Crash(nil)
	tb.start()
	if tb.b.image.Topic("lost") != nil || tb.b.lookupPartition("lost", 0) != nil {
		t.Fatal("a topic whose image write never ran is back after a restart")
	}
	if tb.b.image.Topic("keep") == nil || tb.b.lookupPartition("keep", 0) == nil {
		t.Fatal("the previous image was not recovered")
	}
}

func TestShutdownAnswersImageWriteInFlight(t *testing.T) {
	tb := newTestBroker(t)
	tb.holdImage = true
	first := tb.send(createTopicsRequest("a"))
	tb.send(createTopicsRequest("b"))
	jobs := tb.syncer.jobs
	tb.b.Shutdown(tb.nowMs)
	if got := len(tb.replier.replies) - first; got != 2 {
		t.Fatalf("%d replies at shutdown, want both creates answered", got)
	}
	for i := range 2 {
		if code := createCode(t, tb.replier.replies[first+i]); code != kerrRequestTimedOut {
			t.Fatalf("create %d at shutdown: error %d, want REQUEST_TIMED_OUT", i, code)
		}
	}
	// The job landing later changes nothing.
	for _, q := range jobs {
		tb.b.SyncDone(tb.nowMs, q.token, q.job, q.job.Run())
	}
	if got := len(tb.replier.replies) - first; got != 2 || tb.b.SyncInFlight() {
		t.Fatalf("a late image job answered again or left a sync in flight (%d replies)", got)
	}
}
