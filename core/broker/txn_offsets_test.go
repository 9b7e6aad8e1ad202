package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnOffsetCommitThenMarker: a TxnOffsetCommit stages the offset
// (OffsetFetch returns the old one, RequireStable answers
// UNSTABLE_OFFSET_COMMIT); the commit marker written through
// writeOffsetsTxnMarker applies it once committed, an abort marker drops
// the next transaction's; both survive a restart, which replays the
// transactional batches and markers of __consumer_offsets.
func TestTxnOffsetCommitThenMarker(t *testing.T) {
	tb := groupTestBroker(t)
	tb.createTopic("t", 1, nil)
	const pid = 1000
	part := coordinatorPartition("g", 3)
	txnCommit := func(off int64) {
		t.Helper()
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.Version = 5
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = "tx", "g", pid, 0
		req.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: off, LeaderEpoch: -1}}}}
		resp := tb.sendGroup(req).(*kmsg.TxnOffsetCommitResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("TxnOffsetCommit: %d", code)
		}
	}
	fetch := func(stable bool) (int64, int16) {
		t.Helper()
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version, req.RequireStable = 8, stable
		req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}}}
		resp := tb.sendGroup(req).(*kmsg.OffsetFetchResponse)
		if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
			t.Fatalf("fetch: %+v", resp)
		}
		p := resp.Groups[0].Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	marker := func(commit bool) {
		t.Helper()
		var codes []int16
		tb.b.writeOffsetsTxnMarker(tb.nowMs, part, pid, 0, commit, 0, func(code int16) { codes = append(codes, code) })
		for i := 0; i < 50 && len(codes) == 0; i++ {
			tb.nowMs += 10
			tb.settleGroups()
		}
		if len(codes) != 1 || codes[0] != 0 {
			t.Fatalf("marker (commit %v): done %v, want one success", commit, codes)
		}
	}

	txnCommit(42)
	if off, code := fetch(false); off != -1 || code != 0 {
		t.Fatalf("staged offset visible: %d %d", off, code)
	}
	if _, code := fetch(true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("RequireStable while staged: %d", code)
	}
	marker(true)
	if off, code := fetch(true); off != 42 || code != 0 {
		t.Fatalf("after the commit marker: %d %d", off, code)
	}
	txnCommit(50)
	marker(false)
	if off, code := fetch(true); off != 42 || code != 0 {
		t.Fatalf("after the abort marker: %d %d", off, code)
	}
	txnCommit(60) // left open across the restart
	tb.restart()
	tb.settleGroups()
	if off, _ := fetch(false); off != 42 {
		t.Fatalf("after a restart: %d, want 42", off)
	}
	if _, code := fetch(true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("the open transaction's offset not staged after a restart: %d", code)
	}
	marker(true)
	if off, _ := fetch(true); off != 60 {
		t.Fatalf("commit after a restart: %d, want 60", off)
	}
}

// TestOffsetsTxnMarkerNotCoordinator: a marker for a partition this
// broker does not lead gets NOT_LEADER_OR_FOLLOWER (Kafka's answer for a
// group coordinator that is not there), never success.
func TestOffsetsTxnMarkerNotCoordinator(t *testing.T) {
	tb := groupTestBroker(t)
	var codes []int16
	tb.b.writeOffsetsTxnMarker(tb.nowMs, 99, 1, 0, true, 0, func(code int16) { codes = append(codes, code) })
	if len(codes) != 1 || codes[0] != kerrNotLeaderOrFollower {
		t.Fatalf("codes %v", codes)
	}
}
