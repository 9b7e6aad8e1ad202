package fuzz

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/group"
	"github.com/chronik-streaming/chronik/core/txn"
)

// fuzzProducerIDs hands out producer ids from 1<<20 on.
type fuzzProducerIDs struct{ next int64 }

func (f *fuzzProducerIDs) AllocateProducerID() (int64, int16) {
	f.next++
	return 1<<20 + f.next, 0
}

// fuzzTxnTopics: topics t (3 partitions) and u (2); offsets in partition 1.
type fuzzTxnTopics struct{}

func (fuzzTxnTopics) PartitionExists(topic string, p int32) bool {
	return (topic == "t" && p >= 0 && p < 3) || (topic == "u" && p >= 0 && p < 2)
}
func (fuzzTxnTopics) OffsetsPartition(string) (int32, bool) { return 1, true }

// txnDriver runs one shard as the runtime would, committing every write at
// once and keeping the records written.
type txnDriver struct {
	t    testing.TB
	s    *txn.Shard
	log  []group.Record
	ref  coord.ReplyRef
	now  int64
	seen map[string][2]int64 // id -> producer id, epoch last described
}

func (d *txnDriver) apply(w coord.Write, what string) []coord.Reply {
	d.t.Helper()
	for _, r := range w.Records {
		d.log = append(d.log, group.Record{Key: r.Key, Value: r.Value})
	}
	if w.ID != 0 {
		d.s.CommitWrite(w.ID)
	}
	if err := d.s.CheckInvariants(); err != nil {
		d.t.Fatalf("after %s: %v", what, err)
	}
	for _, rep := range w.Replies {
		wire := rep.Resp.AppendTo(nil)
		back := kmsg.ResponseForKey(rep.Resp.Key())
		back.SetVersion(rep.Resp.GetVersion())
		if err := back.ReadFrom(wire); err != nil {
			d.t.Fatalf("%T v%d does not decode after encoding: %v", rep.Resp, rep.Resp.GetVersion(), err)
		}
	}
	return w.Replies
}

func (d *txnDriver) do(req kmsg.Request) kmsg.Response {
	d.t.Helper()
	d.ref++
	w, ok := d.s.Handle(d.now, d.ref, req)
	if !ok {
		d.t.Fatalf("%T not served", req)
	}
	reps := d.apply(w, "request")
	if len(reps) != 1 {
		d.t.Fatalf("%T: %d replies", req, len(reps))
	}
	return reps[0].Resp
}

// describeAll lists every id and describes it; producer epochs of one
// producer id must never go down.
func (d *txnDriver) describeAll() []kmsg.DescribeTransactionsResponseTransactionState {
	d.t.Helper()
	l := kmsg.NewPtrListTransactionsRequest()
	var ids []string
	for _, st := range d.do(l).(*kmsg.ListTransactionsResponse).TransactionStates {
		ids = append(ids, st.TransactionalID)
	}
	dr := kmsg.NewPtrDescribeTransactionsRequest()
	dr.TransactionalIDs = ids
	states := d.do(dr).(*kmsg.DescribeTransactionsResponse).TransactionStates
	for _, st := range states {
		if st.ErrorCode != 0 {
			d.t.Fatalf("listed %q does not describe: %d", st.TransactionalID, st.ErrorCode)
		}
		if prev, ok := d.seen[st.TransactionalID]; ok && prev[0] == st.ProducerID && int64(st.ProducerEpoch) < prev[1] {
			d.t.Fatalf("%q: epoch went from %d to %d for producer %d", st.TransactionalID, prev[1], st.ProducerEpoch, st.ProducerID)
		}
		d.seen[st.TransactionalID] = [2]int64{st.ProducerID, int64(st.ProducerEpoch)}
	}
	return states
}

// seedTxnRecords are the records of a committed, an aborted-by-fence and
// an open transaction, written by a shard.
func seedTxnRecords(t testing.TB) []group.Record {
	d := &txnDriver{t: t, s: txn.NewShard(txn.DefaultConfig(), &fuzzProducerIDs{}, fuzzTxnTopics{}), now: 1000, seen: map[string][2]int64{}}
	d.s.LoadDone(d.now)
	for _, id := range []string{"a", "b", "c"} {
		ip := kmsg.NewPtrInitProducerIDRequest()
		ip.Version, ip.TransactionalID, ip.TransactionTimeoutMillis = 4, &id, 60000
		r := d.do(ip).(*kmsg.InitProducerIDResponse)
		ap := kmsg.NewPtrAddPartitionsToTxnRequest()
		ap.Version, ap.TransactionalID, ap.ProducerID, ap.ProducerEpoch = 3, id, r.ProducerID, r.ProducerEpoch
		ap.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
		d.do(ap)
	}
	et := kmsg.NewPtrEndTxnRequest()
	et.Version, et.TransactionalID, et.ProducerID, et.Commit = 3, "a", 1<<20+1, true
	d.do(et)
	b := "b"
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version, ip.TransactionalID, ip.TransactionTimeoutMillis = 4, &b, 60000
	d.do(ip)
	for _, mk := range d.s.PendingMarkers() {
		d.apply(d.s.MarkersWritten(d.now, mk.TransactionalID, mk.ProducerID, mk.ProducerEpoch, mk.Partitions), "markers")
	}
	return d.log
}

// FuzzTxnReplay feeds arbitrary __transaction_state records to
// txn.Shard.Replay, then drives the loaded shard with requests built from
// what it describes (adds, offsets, commits, aborts, re-inits, verify-only
// checks), marker reports and timers. Nothing may panic, the invariants
// must hold after each step, every answer must encode, a producer's epoch
// never goes down, and replaying the loaded records plus everything the
// shard wrote gives a shard that describes the same.
func FuzzTxnReplay(f *testing.F) {
	recs := seedTxnRecords(f)
	f.Add(groupLog(recs...))
	f.Add(groupLog(recs[len(recs)-3:]...))
	f.Add(groupLog(group.Record{Key: txn.KeyBytes("a")}, recs[0]))
	f.Add([]byte{0, 3, 0, 0, 1, 0, 0, 0, 2, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := txn.DefaultConfig()
		cfg.MaxTransactionalIDs = 64
		cfg.IDExpirationMs, cfg.RemoveExpiredIntervalMs = 1<<22, 1<<20
		ids := &fuzzProducerIDs{}
		s := txn.NewShard(cfg, ids, fuzzTxnTopics{})
		loaded := splitGroupLog(data)
		for _, r := range loaded {
			_ = s.Replay(r.Key, r.Value)
			if err := s.CheckInvariants(); err != nil {
				t.Fatalf("after replaying key %x value %x: %v", r.Key, r.Value, err)
			}
		}
		d := &txnDriver{t: t, s: s, now: 5000, seen: map[string][2]int64{}}
		s.SetCoordinatorEpoch(1)
		s.LoadDone(d.now)
		for round := 0; round < 3; round++ {
			for i, st := range d.describeAll() {
				if i >= 8 {
					break
				}
				id, pid, epoch := st.TransactionalID, st.ProducerID, st.ProducerEpoch
				switch (round + i) % 4 {
				case 0:
					ap := kmsg.NewPtrAddPartitionsToTxnRequest()
					ap.Version, ap.TransactionalID, ap.ProducerID, ap.ProducerEpoch = 3, id, pid, epoch
					ap.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: "u", Partitions: []int32{0, 1}}}
					d.do(ap)
					ao := kmsg.NewPtrAddOffsetsToTxnRequest()
					ao.Version, ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = 3, id, pid, epoch, "g"
					d.do(ao)
				case 1:
					et := kmsg.NewPtrEndTxnRequest()
					et.Version, et.TransactionalID, et.ProducerID, et.ProducerEpoch, et.Commit = 4, id, pid, epoch, i%2 == 0
					d.do(et)
				case 2:
					ip := kmsg.NewPtrInitProducerIDRequest()
					ip.Version, ip.TransactionalID, ip.TransactionTimeoutMillis, ip.ProducerID, ip.ProducerEpoch = 5, &id, 30000, pid, epoch
					d.do(ip)
				case 3:
					ap := kmsg.NewPtrAddPartitionsToTxnRequest()
					ap.Version = 5
					ap.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{{TransactionalID: id, ProducerID: pid, ProducerEpoch: epoch,
						VerifyOnly: true, Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "t", Partitions: []int32{0}}}}}
					d.do(ap)
				}
			}
			fresh := "new"
			ip := kmsg.NewPtrInitProducerIDRequest()
			ip.Version, ip.TransactionalID, ip.TransactionTimeoutMillis = 4, &fresh, 1000
			d.do(ip)
			for _, mk := range s.PendingMarkers() {
				d.apply(s.MarkersWritten(d.now, mk.TransactionalID, mk.ProducerID, mk.ProducerEpoch, mk.Partitions), "markers")
			}
			d.now += 1 << 21
			d.apply(s.Tick(d.now), "tick")
			if w := s.NextWakeMs(); w != -1 && w <= d.now {
				t.Fatalf("after Tick(%d) NextWakeMs is %d: the runtime would spin", d.now, w)
			}
		}
		// Write -> replay -> the same state.
		want := d.describeAll()
		r := txn.NewShard(cfg, ids, fuzzTxnTopics{})
		for _, rec := range append(loaded, d.log...) {
			_ = r.Replay(rec.Key, rec.Value)
		}
		r.LoadDone(d.now)
		d2 := &txnDriver{t: t, s: r, now: d.now, seen: map[string][2]int64{}}
		if got := d2.describeAll(); !reflect.DeepEqual(got, want) {
			t.Fatalf("replay differs:\n got %+v\nwant %+v", got, want)
		}
	})
}
