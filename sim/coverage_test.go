package sim

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// TestCoverageShortfalls: a name below its minimum, or never counted,
// is a shortfall; one at or above it is not.
func TestCoverageShortfalls(t *testing.T) {
	cov := Coverage{Counts: map[string]int{"election": 10, "isr-shrink": 3}}
	got := coverageShortfalls(cov, map[string]int{"election": 10, "isr-shrink": 4, "quiet-window": 1})
	if len(got) != 2 || !strings.HasPrefix(got[0], "isr-shrink 3 times") || !strings.HasPrefix(got[1], "quiet-window 0 times") {
		t.Fatalf("shortfalls = %q", got)
	}
}

// TestCoverCommit counts elections and ISR changes between two states of
// the truth image, and nothing for a partition the commit created.
func TestCoverCommit(t *testing.T) {
	w := &world{}
	r := &raftModel{w: w, truth: metadata.NewImage()}
	for _, rec := range []metadata.Record{
		{RegisterBroker: &metadata.RegisterBroker{ID: 1, Host: "node1", Port: 9092, Incarnation: 1}},
		{RegisterBroker: &metadata.RegisterBroker{ID: 2, Host: "node2", Port: 9092, Incarnation: 1}},
		{UnfenceBroker: &metadata.UnfenceBroker{ID: 1, Incarnation: 1}},
		{UnfenceBroker: &metadata.UnfenceBroker{ID: 2, Incarnation: 1}},
	} {
		if res := r.truth.Apply(&rec); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	var before truthSnap
	before.take(r.truth)
	create := metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "a", Partitions: 1, ReplicationFactor: 2}}
	if res := r.truth.Apply(&create); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.coverCommit(&before)
	if len(w.cov.Counts) != 0 {
		t.Fatalf("a created partition counted: %v", w.cov.Counts)
	}
	before.take(r.truth)
	// Fencing the leader elects the other replica and drops it from the ISR.
	tp := r.truth.Topic("a").Assignments[0]
	fence := metadata.Record{FenceBroker: &metadata.FenceBroker{ID: tp.Leader, Incarnation: 1}}
	if res := r.truth.Apply(&fence); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.coverCommit(&before)
	if w.cov.Counts["election"] != 1 || w.cov.Counts["isr-shrink"] != 1 || w.cov.Counts["isr-expand"] != 0 {
		t.Fatalf("after fencing the leader: %v", w.cov.Counts)
	}
}

// TestCoverAnswer counts an answer carrying FENCED_LEADER_EPOCH or
// NOT_LEADER_OR_FOLLOWER once, and no other.
func TestCoverAnswer(t *testing.T) {
	w := &world{}
	fetch := func(codes ...int16) *kmsg.FetchResponse {
		r := kmsg.NewPtrFetchResponse()
		rt := kmsg.NewFetchResponseTopic()
		for _, c := range codes {
			p := kmsg.NewFetchResponseTopicPartition()
			p.ErrorCode = c
			rt.Partitions = append(rt.Partitions, p)
		}
		r.Topics = append(r.Topics, rt)
		return r
	}
	w.coverAnswer(fetch(0, errCodeFencedEpoch, errCodeNotLeader))
	w.coverAnswer(fetch(0, errCodeUnknownTopicPartition))
	if w.cov.Counts["fenced-request"] != 1 {
		t.Fatalf("fenced-request = %d, want 1", w.cov.Counts["fenced-request"])
	}
}

// TestDrawQuietWindows: two or three windows, each inside its slot of the
// fault phase with a second of faults around it, settle before judging,
// 3-5 s judged; a phase too short gets none.
func TestDrawQuietWindows(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		phase := 60 * Second
		ws := drawQuietWindows(newRand(seed, "quiet"), phase)
		if len(ws) < 2 || len(ws) > 3 {
			t.Fatalf("seed %d: %d windows", seed, len(ws))
		}
		slot := phase / Time(len(ws))
		for i, qw := range ws {
			if qw.start < Time(i)*slot+Second || qw.end > Time(i+1)*slot-Second {
				t.Fatalf("seed %d: window %d %+v outside its slot", seed, i, qw)
			}
			if qw.judge-qw.start != quietSettle || qw.end-qw.judge < 3*Second || qw.end-qw.judge > 5*Second {
				t.Fatalf("seed %d: window %d %+v", seed, i, qw)
			}
		}
	}
	if ws := drawQuietWindows(newRand(1, "quiet"), 5*Second); len(ws) != 0 {
		t.Fatalf("a 5 s phase got windows %+v", ws)
	}
}

// TestPercentile is the nearest-rank quantile.
func TestPercentile(t *testing.T) {
	var ts []Time
	for i := 100; i >= 1; i-- {
		ts = append(ts, Time(i))
	}
	if p := percentile(ts, 0.99); p != 99 {
		t.Fatalf("p99 = %d", p)
	}
	if p := percentile(ts, 0.5); p != 50 {
		t.Fatalf("p50 = %d", p)
	}
	if p := percentile(nil, 0.99); p != 0 {
		t.Fatalf("empty p99 = %d", p)
	}
}
