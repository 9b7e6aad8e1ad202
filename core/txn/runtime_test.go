package txn

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/record"
)

// memLog is one __transaction_state partition as the broker holds it, for
// the runtime.
type memLog struct {
	batches [][]byte
	end     int64
	replies []coord.Reply
}

func (l *memLog) Append(_ int64, _ int32, _ int32, batch []byte) (int64, error) {
	b := append([]byte(nil), batch...)
	record.SetBaseOffset(b, l.end)
	h, err := record.ParseHeader(b)
	if err != nil {
		return 0, err
	}
	l.batches = append(l.batches, b)
	l.end = h.NextOffset()
	return l.end, nil
}

func (l *memLog) Read(_ int32, offset int64, _ int) ([]byte, error) {
	var out []byte
	for _, b := range l.batches {
		if h, _ := record.ParseHeader(b); h.NextOffset() > offset {
			out = append(out, b...)
		}
	}
	return out, nil
}

func (l *memLog) AppendTxnMarker(int64, int32, int32, coord.TxnMarker) (int64, int16, error) {
	return 0, 0, errors.New("memLog: no markers in __transaction_state")
}

func (l *memLog) Reply(r coord.Reply)          { l.replies = append(l.replies, r) }
func (l *memLog) Discarded(int32, int16)       {}
func (l *memLog) Warn(msg string, args ...any) {}

// TestUnderRuntime runs the shard in the coordinator runtime: answers wait
// for the high watermark, markers carry the leader epoch, a resignation
// fails what is pending, and a new leader resumes the markers from the
// log.
func TestUnderRuntime(t *testing.T) {
	l := &memLog{}
	ids := &fakeIDs{next: 1000}
	var epoch int32 = 5
	rt, err := coord.New(coord.DefaultConfig(), l, new(record.Codecs), func() *Shard {
		s := NewShard(DefaultConfig(), ids, fakeTopics{})
		s.SetCoordinatorEpoch(epoch)
		return s
	})
	if err != nil {
		t.Fatal(err)
	}
	rt.Lead(0, 0, epoch, 0, 0, 0)
	submit := func(ref coord.ReplyRef, req kmsg.Request) {
		t.Helper()
		s, code := rt.Admit(0)
		if code != 0 {
			t.Fatalf("admit: %d", code)
		}
		w, _ := s.Handle(0, ref, req)
		rt.Submit(0, 0, w)
		if err := rt.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	}
	id := "a"
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version, ip.TransactionalID, ip.TransactionTimeoutMillis = 4, &id, 60000
	submit(1, ip)
	if len(l.replies) != 0 {
		t.Fatal("answered before the high watermark passed the write")
	}
	rt.Advance(0, 0, 0, l.end, l.end)
	if len(l.replies) != 1 || l.replies[0].Resp.(*kmsg.InitProducerIDResponse).ProducerID != 1000 {
		t.Fatalf("replies %+v", l.replies)
	}
	submit(2, addReq(3, "a", 1000, 0, "t", 0, 1))
	et := kmsg.NewPtrEndTxnRequest()
	et.Version, et.TransactionalID, et.ProducerID, et.Commit = 3, "a", 1000, true
	submit(3, et)
	s, _ := rt.Loaded(0)
	if len(s.PendingMarkers()) != 0 {
		t.Fatal("markers before the PrepareCommit is committed")
	}
	rt.Advance(0, 0, 0, l.end, l.end)
	mk := s.PendingMarkers()
	if len(mk) != 1 || mk[0].CoordinatorEpoch != 5 || len(l.replies) != 3 {
		t.Fatalf("markers %+v, %d replies", mk, len(l.replies))
	}
	// A second transaction's EndTxn is pending when the leadership moves.
	id2 := "b"
	ip.TransactionalID = &id2
	submit(4, ip)
	rt.Advance(0, 0, 0, l.end, l.end)
	submit(5, addReq(3, "b", 1001, 0, "u", 0))
	rt.Resign(0)
	last := l.replies[len(l.replies)-1]
	if last.Ref != 5 || last.Resp.(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("pending answer after resigning: %+v", last)
	}
	// A new leader (here: this broker again, at a later epoch) resumes
	// the markers of the PrepareCommit from the log.
	epoch = 6
	rt.Lead(0, 0, epoch, 0, l.end, l.end)
	s, ok := rt.Loaded(0)
	if !ok {
		t.Fatal("not loaded")
	}
	mk = s.PendingMarkers()
	if len(mk) != 1 || mk[0].TransactionalID != "a" || !mk[0].Commit || mk[0].CoordinatorEpoch != 6 || len(mk[0].Partitions) != 2 {
		t.Fatalf("markers after reload: %+v", mk)
	}
	rt.Submit(0, 0, s.MarkersWritten(0, "a", 1000, 0, mk[0].Partitions))
	rt.Advance(0, 0, 0, l.end, l.end)
	if s.txns["a"].m.State != CompleteCommit || s.txns["b"].m.State != Ongoing {
		t.Fatalf("a %s b %s", s.txns["a"].m.State, s.txns["b"].m.State)
	}
	if err := rt.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}
