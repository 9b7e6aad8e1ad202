package broker

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
)

// fullDisk makes every write under prefix fail with disk.ErrNoSpace
// while *full holds; other operations pass, fsync included (as on tmpfs,
// where a write that got its pages never fails later).
func fullDisk(tb *testBroker, prefix string, full *bool) {
	tb.disk.SetFault(func(op memdisk.Op, name string) error {
		if !*full || !strings.HasPrefix(name, prefix) {
			return nil
		}
		switch op {
		case memdisk.OpWriteAt, memdisk.OpWriteFileAtomic:
			return fmt.Errorf("injected: %w", disk.ErrNoSpace)
		}
		return nil
	})
}

// lastReply returns the latest reply's response.
func (tb *testBroker) lastReply() kmsg.Response {
	return tb.replier.replies[len(tb.replier.replies)-1].resp
}

// tick advances the clock by ms and runs the broker's timers.
func (tb *testBroker) tick(ms int64) {
	tb.nowMs += ms
	tb.b.Tick(tb.nowMs)
	tb.b.CheckInvariants()
}

func TestFullDiskAnswersStorageErrorAndReopens(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 3)

	// A consumer long-polls at the end of the log.
	waiting := tb.send(fetchRequest("t", 0, 3, 1, 30000))
	if len(tb.replier.replies) != waiting {
		t.Fatal("the long poll was answered before anything happened")
	}
	full := true
	fullDisk(tb, "", &full)

	// The append fails: the producer gets KAFKA_STORAGE_ERROR at once,
	// and the long poll is answered with the error, without waiting.
	tb.send(produceRequest(9, -1, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, "x")))
	var polled *kmsg.FetchResponse
	var produced *kmsg.ProduceResponse
	for _, r := range tb.replier.replies[waiting:] {
		switch r := r.resp.(type) {
		case *kmsg.FetchResponse:
			polled = r
		case *kmsg.ProduceResponse:
			produced = r
		}
	}
	if produced == nil || produced.Topics[0].Partitions[0].ErrorCode != kerrKafkaStorageError {
		t.Fatalf("produce on a full disk: %+v, want KAFKA_STORAGE_ERROR at once", produced)
	}
	if polled == nil || polled.Topics[0].Partitions[0].ErrorCode != kerrKafkaStorageError {
		t.Fatalf("the waiting fetch was not answered with KAFKA_STORAGE_ERROR: %+v", polled)
	}
	// New fetches and ListOffsets answer at once with the error.
	if code := tb.do(fetchRequest("t", 0, 0, 1, 30000)).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerrKafkaStorageError {
		t.Fatalf("fetch of the offline partition: error %d", code)
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version = 4
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "t"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	if code := tb.do(lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode; code != kerrKafkaStorageError {
		t.Fatalf("list offsets of the offline partition: error %d", code)
	}
	off := tb.b.OfflinePartitions()
	if len(off) != 1 || !off[0].Retrying || !errors.Is(off[0].Cause, disk.ErrNoSpace) {
		t.Fatalf("offline partitions %+v, want t-0 retrying for lack of space", off)
	}
	// The broker asks to be woken for the retry.
	if wake := tb.b.NextWakeMs(tb.nowMs); wake > tb.nowMs+tb.cfg.StorageRetryBackoffMs {
		t.Fatalf("next wake in %d ms, want at most the retry backoff %d", wake-tb.nowMs, tb.cfg.StorageRetryBackoffMs)
	}

	// The disk stays full: the space probe fails, so the partition stays
	// offline (no flapping) and the pause before the next attempt doubles.
	tb.tick(tb.cfg.StorageRetryBackoffMs)
	if got := tb.b.Reopened(); got != 0 {
		t.Fatalf("reopened %d times while the disk is full", got)
	}
	if wake := tb.b.NextWakeMs(tb.nowMs); wake != tb.nowMs+2*tb.cfg.StorageRetryBackoffMs {
		t.Fatalf("next wake in %d ms, want the doubled backoff %d", wake-tb.nowMs, 2*tb.cfg.StorageRetryBackoffMs)
	}

	// Space comes back: the partition reopens by itself, serves the
	// acknowledged records and appends after them.
	full = false
	tb.tick(2 * tb.cfg.StorageRetryBackoffMs)
	if got := tb.b.Reopened(); got != 1 {
		t.Fatalf("reopened %d times, want 1", got)
	}
	if vals, _ := fetchedValues(t, tb.do(fetchRequest("t", 0, 0, 0, 0)).(*kmsg.FetchResponse)); len(vals) != 3 {
		t.Fatalf("reopened partition serves %d records, want 3", len(vals))
	}
	if base := tb.produce("t", 0, 2); base != 3 {
		t.Fatalf("first append after the reopen at %d, want 3", base)
	}
	vals, offs := fetchedValues(t, tb.do(fetchRequest("t", 0, 0, 0, 0)).(*kmsg.FetchResponse))
	if fmt.Sprint(offs) != "[0 1 2 3 4]" || len(vals) != 5 {
		t.Fatalf("fetched %v at %v", vals, offs)
	}
	if off := tb.b.OfflinePartitions(); len(off) != 0 {
		t.Fatalf("still offline: %+v", off)
	}
}

// failLogSyncs makes every fsync of a segment file fail with err, the way
// Linux fails writeback: the file's dirty pages are marked clean, or
// dropped when drop is set (memdisk.FailWriteback).
func failLogSyncs(t *testing.T, tb *testBroker, drop bool, err error) {
	t.Helper()
	tb.disk.SetFault(func(op memdisk.Op, name string) error {
		if op != memdisk.OpSync || !strings.HasSuffix(name, ".log") {
			return nil
		}
		if ferr := tb.disk.FailWriteback(name, drop); ferr != nil {
			t.Fatal(ferr)
		}
		return err
	})
}

// TestFailedFsyncAnswersWaitersAndCutsUnsyncedTail: a produce waiting for
// an fsync that fails with ENOSPC is answered KAFKA_STORAGE_ERROR, and the
// reopen cuts what was never synced even though the page cache still
// shows it (Linux marks the pages clean: a later fsync would not write
// them), so records acknowledged after the reopen survive a power loss.
func TestFailedFsyncAnswersWaitersAndCutsUnsyncedTail(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 2)
	failLogSyncs(t, tb, false, fmt.Errorf("injected: %w", disk.ErrNoSpace))
	before := tb.send(produceRequest(9, 1, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, "unsynced")))
	tb.b.Flush()
	tb.runSyncs()
	if len(tb.replier.replies) != before+1 {
		t.Fatal("the produce waiting for the failed fsync was not answered")
	}
	if code := tb.lastReply().(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerrKafkaStorageError {
		t.Fatalf("produce whose fsync failed: error %d, want KAFKA_STORAGE_ERROR", code)
	}
	tb.disk.SetFault(nil)
	tb.tick(tb.cfg.StorageRetryBackoffMs)
	if tb.b.Reopened() != 1 {
		t.Fatal("partition did not reopen")
	}
	if base := tb.produce("t", 0, 1); base != 2 {
		t.Fatalf("append after the reopen at %d, want 2 (the unsynced batch cut)", base)
	}
	tb.disk = tb.disk.Crash(nil) // power loss: only synced bytes remain
	tb.syncer.jobs = nil
	tb.start()
	_, offs := fetchedValues(t, tb.do(fetchRequest("t", 0, 0, 0, 0)).(*kmsg.FetchResponse))
	if fmt.Sprint(offs) != "[0 1 2]" {
		t.Fatalf("after a power loss fetched offsets %v, want the 3 acknowledged [0 1 2]", offs)
	}
}

// TestIOErrorFsyncThenKillKeepsOnlySynced: an fsync that fails with an
// I/O error (not a full disk) leaves its pages as Linux does, dropped or
// clean but never written (memdisk.FailWriteback, "fsyncgate"). The
// partition stays offline (a failing medium) and the broker treats its
// copy as lost: after a kill -9 (page cache intact) the restarted broker
// must not trust the unsynced tail, so that what it acknowledges next
// survives a power loss together with everything acknowledged before.
func TestIOErrorFsyncThenKillKeepsOnlySynced(t *testing.T) {
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprintf("dropPages=%v", drop), func(t *testing.T) {
			tb := newTestBroker(t)
			tb.createTopic("t", 1, nil)
			tb.produce("t", 0, 2)
			failLogSyncs(t, tb, drop, errors.New("injected EIO"))
			tb.send(produceRequest(9, 1, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, "unsynced")))
			tb.b.Flush()
			tb.runSyncs()
			if code := tb.lastReply().(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerrKafkaStorageError {
				t.Fatalf("produce whose fsync failed: error %d, want KAFKA_STORAGE_ERROR", code)
			}
			tb.disk.SetFault(nil)
			tb.tick(10 * tb.cfg.StorageRetryBackoffMaxMs)
			if off := tb.b.OfflinePartitions(); len(off) != 1 || off[0].Retrying {
				t.Fatalf("after an fsync I/O error: offline %+v, want offline for good", off)
			}
			// kill -9 and restart on the same page cache.
			if err := tb.b.ReleaseDisk(); err != nil {
				t.Fatal(err)
			}
			tb.syncer.jobs = nil
			tb.start()
			tb.runSyncs()
			base := tb.produce("t", 0, 1)
			if base != 2 && base != 3 {
				t.Fatalf("append after the restart at %d", base)
			}
			tb.disk = tb.disk.Crash(nil) // power loss: only synced bytes remain
			tb.syncer.jobs = nil
			tb.start()
			_, offs := fetchedValues(t, tb.do(fetchRequest("t", 0, 0, 0, 0)).(*kmsg.FetchResponse))
			if len(offs) < 3 || offs[0] != 0 || offs[1] != 1 || offs[len(offs)-1] != base {
				t.Fatalf("after a power loss fetched offsets %v, want 0, 1 and the acknowledged %d", offs, base)
			}
		})
	}
}

func TestOtherStorageErrorsStayOffline(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.disk.SetFault(func(op memdisk.Op, name string) error {
		if op == memdisk.OpWriteAt {
			return errors.New("injected EIO")
		}
		return nil
	})
	tb.do(produceRequest(9, -1, "t", 0, batchOf(t, record.DefaultBatchOptions(), tb.nowMs, "x")))
	tb.disk.SetFault(nil)
	tb.tick(10 * tb.cfg.StorageRetryBackoffMaxMs)
	off := tb.b.OfflinePartitions()
	if len(off) != 1 || off[0].Retrying || tb.b.Reopened() != 0 {
		t.Fatalf("after an I/O error: offline %+v, reopened %d; want offline for good", off, tb.b.Reopened())
	}
}

// TestUnsyncedLostReopens: a read that finds the records above the durable
// end lost (pages a failed writeback dropped, partlog.ErrUnsyncedLost) takes
// the partition offline like a full disk: it reopens by itself, with the
// lost records cut, and is not left offline as a corrupt medium would be.
func TestUnsyncedLostReopens(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 2)
	p := tb.b.topics["t"].partitions[0]
	tb.b.takeOffline(p, fmt.Errorf("read: %w", partlog.ErrUnsyncedLost))
	off := tb.b.OfflinePartitions()
	if len(off) != 1 || !off[0].Retrying {
		t.Fatalf("offline %+v, want one partition with a reopen planned", off)
	}
	tb.tick(tb.cfg.StorageRetryBackoffMs)
	if tb.b.Reopened() != 1 || len(tb.b.OfflinePartitions()) != 0 {
		t.Fatalf("reopened %d, offline %+v; want back online", tb.b.Reopened(), tb.b.OfflinePartitions())
	}
	if base := tb.produce("t", 0, 1); base != 2 {
		t.Fatalf("append after the reopen at %d, want 2", base)
	}
}

// TestDeletesWorkOnFullDisk: the writes that must precede freeing space
// (the image of a DeleteTopics, the checkpoint of DeleteRecords and of
// retention) use the space reserve, which comes back once there is room.
func TestDeletesWorkOnFullDisk(t *testing.T) {
	for _, reserve := range []int64{0, 64 << 10} {
		t.Run(fmt.Sprintf("reserve=%d", reserve), func(t *testing.T) {
			tb := newTestBroker(t, func(c *Config) { c.SpaceReserveBytes = reserve })
			tb.createTopic("big", 1, nil)
			tb.createTopic("keep", 1, map[string]string{"segment.bytes": "1024", "retention.bytes": "2000"})
			for i := 0; i < 40; i++ {
				tb.produce("keep", 0, 5)
			}
			tb.produce("big", 0, 10)
			// Full: any write fails while the reserve is in place.
			held := func() bool { _, err := tb.disk.ReadFile(reserveFile); return err == nil }
			if held() != (reserve > 0) {
				t.Fatalf("reserve file present %v with SpaceReserveBytes %d", held(), reserve)
			}
			full := true
			tb.disk.SetFault(func(op memdisk.Op, name string) error {
				if full && (op == memdisk.OpWriteAt || op == memdisk.OpWriteFileAtomic) && (reserve == 0 || held()) {
					return fmt.Errorf("injected: %w", disk.ErrNoSpace)
				}
				return nil
			})
			dt := kmsg.NewPtrDeleteTopicsRequest()
			dt.Version = 5
			dt.TopicNames = []string{"big"}
			code := tb.do(dt).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode
			if reserve == 0 {
				if code != kerrKafkaStorageError {
					t.Fatalf("without a reserve DeleteTopics on a full disk: error %d, want KAFKA_STORAGE_ERROR", code)
				}
				return
			}
			if code != kerrNone {
				t.Fatalf("DeleteTopics on a full disk: error %d", code)
			}
			if names, _ := tb.disk.List("."); strings.Contains(fmt.Sprint(names), "big-0") {
				t.Fatalf("files of the deleted topic remain: %v", names)
			}
			if !held() {
				t.Fatal("the reserve was not restored after the delete freed space")
			}
			dr := kmsg.NewPtrDeleteRecordsRequest()
			drt := kmsg.NewDeleteRecordsRequestTopic()
			drt.Topic = "keep"
			drp := kmsg.NewDeleteRecordsRequestTopicPartition()
			drp.Offset = 90
			drt.Partitions = append(drt.Partitions, drp)
			dr.Topics = append(dr.Topics, drt)
			sp := tb.do(dr).(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]
			if sp.ErrorCode != kerrNone || sp.LowWatermark != 90 {
				t.Fatalf("DeleteRecords on a full disk: error %d, low watermark %d", sp.ErrorCode, sp.LowWatermark)
			}
			// Retention's checkpoint, written before segments go, too.
			tb.tick(tb.cfg.RetentionCheckIntervalMs)
			start := tb.b.lookupPartition("keep", 0).log.LogStartOffset()
			if start <= 90 || !held() {
				t.Fatalf("retention on a full disk: log start %d (want > 90), reserve restored %v", start, held())
			}
			full = false
			tb.restart()
			if tb.b.lookupPartition("big", 0) != nil {
				t.Fatal("the deleted topic is back after a restart")
			}
			if got := tb.b.lookupPartition("keep", 0).log.LogStartOffset(); got != start {
				t.Fatalf("log start after restart %d, want %d", got, start)
			}
		})
	}
}

// A leader whose copy went offline on a full disk resigns, reopens by
// itself, follows the new leader, catches up and rejoins the ISR.
func TestClusterFullDiskCopyRejoins(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "2"})
	c.produce("t", 0, 3)
	old := c.assignment("t", 0)
	n := c.nodes[old.Leader-1]
	n.b.takeOffline(n.b.topics["t"].partitions[0], fmt.Errorf("injected: %w", disk.ErrNoSpace))
	c.runUntil("another leader", func() bool {
		a := c.assignment("t", 0)
		return a.Leader != old.Leader && a.Leader != metadata.NoLeader
	})
	if sp := c.produce("t", 0, 2); sp.ErrorCode != 0 || sp.BaseOffset != 3 {
		t.Fatalf("produce on the new leader: code %d at %d", sp.ErrorCode, sp.BaseOffset)
	}
	c.runUntil("the reopened copy back in the ISR", func() bool {
		return metadataContains(c.assignment("t", 0).ISR, old.Leader)
	})
	if n.b.Reopened() != 1 {
		t.Fatalf("reopened %d times, want 1", n.b.Reopened())
	}
	c.runUntil("the copy caught up", func() bool {
		l := c.partitionLog(old.Leader, "t", 0)
		return l != nil && l.LogEndOffset() == 5
	})
	c.requireAgreement("t", 0)
}

// A leader whose fsync fails after its followers fetched the unsynced
// batch, and whose copy reopens before its resignation reaches the
// metadata, must not lead again at the epoch it led at: the reopen cut the
// batch, and a new batch at the same offset in the same epoch is a
// divergence that no follower's epoch check finds (simulator three-node
// seed 700096: "t005-1 differs between nodes 1 and 2 below the high
// watermark 35: batch 23-23 vs batch 23-23").
func TestClusterReopenedLeaderDoesNotReuseTheCutEpoch(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 3, nil)
	c.produce("t", 0, 3)
	old := c.assignment("t", 0)
	n := c.nodes[old.Leader-1]
	p := n.b.topics["t"].partitions[0]

	// Offset 3 reaches the followers; the leader's fsync of it is held.
	c.produceTo(old.Leader, "t", 0, 1, 1)
	held := n.syncer.jobs
	n.syncer.jobs = nil
	if len(held) != 1 {
		t.Fatalf("%d sync jobs on the leader, want 1", len(held))
	}
	c.runUntil("the followers fetched offset 3", func() bool {
		for _, id := range old.Replicas {
			if l := c.partitionLog(id, "t", 0); id != old.Leader && l.LogEndOffset() != 4 {
				return false
			}
		}
		return true
	})
	// The fsync fails with its pages dropped; the partition reopens at
	// once, before the resignation is applied anywhere.
	seg := p.dir + "/00000000000000000000.log"
	if err := n.disk.FailWriteback(seg, true); err != nil {
		t.Fatal(err)
	}
	n.b.SyncDone(c.nowMs, held[0].token, held[0].job, fmt.Errorf("injected: %w", disk.ErrNoSpace))
	n.b.retryOffline(c.nowMs + n.b.cfg.StorageRetryBackoffMaxMs)
	if p.log == nil || p.log.LogEndOffset() != 3 {
		t.Fatal("the partition did not reopen with its unsynced tail cut at 3")
	}
	if a := c.assignment("t", 0); a.Leader != old.Leader || a.LeaderEpoch != old.LeaderEpoch {
		t.Fatalf("the metadata moved on before the test could produce: %s", a.String())
	}
	if p.isLeader() {
		t.Fatalf("the reopened copy leads again at epoch %d, whose offset 3 the followers hold", p.leaderEpoch)
	}
	c.nowMs++ // a batch other than the cut one (testBatch stamps nowMs)
	answer := c.produceTo(old.Leader, "t", 0, 1, 1)
	c.runUntil("produce answer", func() bool { return answer() != nil })
	if code := answer().ErrorCode; code != kerrNotLeaderOrFollower {
		t.Fatalf("produce to the reopened copy at the cut epoch: code %d, want NOT_LEADER_OR_FOLLOWER", code)
	}
	c.runUntil("another leader", func() bool {
		a := c.assignment("t", 0)
		return a.Leader != old.Leader && a.Leader != metadata.NoLeader
	})
	if sp := c.produce("t", 0, 1); sp.ErrorCode != 0 || sp.BaseOffset != 4 {
		t.Fatalf("produce on the new leader: code %d at %d", sp.ErrorCode, sp.BaseOffset)
	}
	c.runUntil("the old leader caught up", func() bool { return p.log != nil && p.log.LogEndOffset() == 5 })
	c.requireAgreement("t", 0)
	want := readAll(t, c.partitionLog(c.assignment("t", 0).Leader, "t", 0), 5)
	if got := readAll(t, p.log, 5); !bytes.Equal(got, want) {
		t.Fatal("the old leader's copy differs from the new leader's")
	}
}

// A leader whose ISR expansion is in flight (the controller may have
// committed it, this broker has not applied it) and whose copy goes
// offline and reopens at the same leader epoch must still count the new
// member for its high watermark: the committed ISR may hold that member,
// which can be elected meanwhile (simulator three-node seed 5269: the
// reopened leader fell back to ISR [3] and acknowledged records alone,
// while the committed ISR [2 3] had elected 2, which never had them).
func TestClusterReopenedLeaderKeepsExpansionInFlight(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createTopic("pad", 1, 1, nil)
	c.createTopic("t", 1, 3, map[string]string{"min.insync.replicas": "1"})
	c.produce("t", 0, 2)
	a := c.assignment("t", 0)
	n := c.nodes[a.Leader-1]
	p := n.b.topics["t"].partitions[0]
	var joiner int32
	for _, id := range a.Replicas {
		if id != a.Leader && id != c.controller {
			joiner = id
		}
	}
	// The joiner falls out of the ISR (committed and applied everywhere).
	c.nodes[joiner-1].isolated = true
	c.runUntil("the joiner out of the ISR", func() bool {
		return !metadataContains(c.assignment("t", 0).ISR, joiner) && !metadataContains(p.isr, joiner)
	})
	// Its return: the leader's expansion is proposed and its outcome
	// unknown (as after a timed-out AlterPartition); the joiner is still
	// cut off, so it fetches nothing.
	p.lead.ProposedISR = append(append([]int32(nil), p.isr...), joiner)
	p.lead.ISRRetryAtMs = 1 << 62 // not asked again: the outcome stays unknown
	epoch := p.leaderEpoch
	// From here on the quorum commits nothing (every proposal fails), so
	// the resignation the copy asks for when it goes offline fails and it
	// keeps leading at this epoch after the reopen, as while the
	// controller is away.
	controller := c.controller
	c.controller = 0
	defer func() { c.controller = controller }()
	n.b.takeOffline(p, fmt.Errorf("injected: %w", disk.ErrNoSpace))
	n.b.retryOffline(c.nowMs + n.b.cfg.StorageRetryBackoffMaxMs)
	if !p.isLeader() || p.leaderEpoch != epoch {
		t.Fatalf("the copy did not reopen as leader at epoch %d", epoch)
	}
	if !metadataContains(p.lead.MaximalISR(p.isr), joiner) {
		t.Fatalf("maximal ISR after the reopen is %v: the expansion to %d was forgotten", p.lead.MaximalISR(p.isr), joiner)
	}
	answer := c.produceTo(a.Leader, "t", 0, 1, -1)
	// Judged while the reopened copy still leads at that epoch, and only
	// once another follower holds the new record, so that nothing but the
	// joiner holds the high watermark back.
	judged := false
	for range 50 {
		c.step()
		if !p.isLeader() || p.leaderEpoch != epoch {
			continue
		}
		for _, f := range p.lead.Followers {
			judged = judged || (f.ID != joiner && f.FetchOffset > 2)
		}
		if got := p.log.HighWatermark(); got > 2 {
			t.Fatalf("high watermark %d covers the new record without the joiner %d, a possible ISR member", got, joiner)
		}
	}
	if !judged {
		t.Fatal("no step had the reopened leader with another follower holding the new record: the test proves nothing")
	}
	if sp := answer(); sp != nil && sp.ErrorCode == 0 {
		t.Fatal("acks=all acknowledged without the joiner while its expansion was unsettled")
	}
}
