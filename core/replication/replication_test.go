package replication

import (
	"slices"
	"testing"
)

func leaderOf(nowMs int64) *Leader {
	l := &Leader{}
	l.Begin(nowMs, 1, []int32{1, 2, 3}, 100)
	return l
}

// TestHighWatermarkWaitsForEveryISRFollower: the high watermark is the
// least durable end over the maximal ISR, and nothing until each of its
// followers has been heard from in this leadership.
func TestHighWatermarkWaitsForEveryISRFollower(t *testing.T) {
	l := leaderOf(0)
	isr := []int32{1, 2}
	if _, ok := l.HighWatermark(120, isr); ok {
		t.Fatal("a high watermark before follower 2 fetched")
	}
	l.Follower(2).RecordFetch(1, 110, 0, 120)
	if hw, ok := l.HighWatermark(120, isr); !ok || hw != 110 {
		t.Fatalf("hw %d %v, want 110 (follower 2's end)", hw, ok)
	}
	if hw, _ := l.HighWatermark(105, isr); hw != 105 {
		t.Fatalf("hw %d, want the leader's own durable end 105", hw)
	}
	// Follower 3 is outside the ISR until an expansion is in flight:
	// then it counts at once (KIP-497's maximal ISR).
	l.ProposedISR = []int32{1, 2, 3}
	if _, ok := l.HighWatermark(120, isr); ok {
		t.Fatal("the proposed member 3 did not count for the high watermark")
	}
	l.Follower(3).RecordFetch(2, 90, 0, 120)
	if hw, _ := l.HighWatermark(120, isr); hw != 90 {
		t.Fatalf("hw %d, want 90 (the proposed member's end)", hw)
	}
}

// TestCaughtUpRule: Kafka's rule, caught up at a fetch that reached the
// leader's end, or at the previous fetch when this one reached what the
// leader had then.
func TestCaughtUpRule(t *testing.T) {
	l := leaderOf(0)
	f := l.Follower(2)
	f.RecordFetch(1000, 50, 0, 100) // behind
	if f.LastCaughtUpMs != 0 {
		t.Fatalf("caught up at %d while behind", f.LastCaughtUpMs)
	}
	f.RecordFetch(2000, 100, 0, 150) // reached what the leader had at 1000
	if f.LastCaughtUpMs != 1000 {
		t.Fatalf("caught up at %d, want the previous fetch's 1000", f.LastCaughtUpMs)
	}
	f.RecordFetch(3000, 150, 0, 150)
	if f.LastCaughtUpMs != 3000 {
		t.Fatalf("caught up at %d, want 3000", f.LastCaughtUpMs)
	}
	if f.FetchOffset != 150 || f.LastFetchLeaderLEO != 150 {
		t.Fatalf("fetch offset %d, leader end %d", f.FetchOffset, f.LastFetchLeaderLEO)
	}
}

// TestMayAdmit: a follower joins the ISR only at the high watermark, at
// or past the leadership's epoch start, with its log start at the
// leader's, one change at a time and not before a retry's pause.
func TestMayAdmit(t *testing.T) {
	isr := []int32{1, 2}
	cases := []struct {
		name   string
		offset int64
		start  int64
		mod    func(*Leader)
		want   bool
	}{
		{"caught up", 100, 10, nil, true},
		{"below the high watermark", 95, 10, nil, false},
		{"below the epoch start", 99, 10, func(l *Leader) { l.EpochStartOffset = 100 }, false},
		{"log start below the leader's", 100, 5, nil, false},
		{"change in flight", 100, 10, func(l *Leader) { l.ISRInFlight = true }, false},
		{"expansion pending", 100, 10, func(l *Leader) { l.ProposedISR = []int32{1, 2, 3} }, false},
		{"retry pause", 100, 10, func(l *Leader) { l.ISRRetryAtMs = 501 }, false},
	}
	for _, c := range cases {
		l := leaderOf(0)
		l.EpochStartOffset = 90
		f := l.Follower(3)
		f.RecordFetch(500, c.offset, c.start, 100)
		if c.mod != nil {
			c.mod(l)
		}
		if got := l.MayAdmit(500, isr, f, 98, 10); got != c.want {
			t.Errorf("%s: MayAdmit = %v, want %v", c.name, got, c.want)
		}
	}
	l := leaderOf(0)
	if l.MayAdmit(0, isr, l.Follower(2), 0, 0) {
		t.Error("a follower already in the ISR admitted again")
	}
}

// TestLaggingAndWake: an ISR follower that has not caught up for longer
// than the lag limit is out; the wake-up falls just after the limit.
func TestLaggingAndWake(t *testing.T) {
	l := leaderOf(0)
	isr := []int32{1, 2, 3}
	l.Follower(2).RecordFetch(400, 100, 0, 100)
	if got := l.Lagging(1000, isr, 1000); len(got) != 0 {
		t.Fatalf("lagging %v at the limit", got)
	}
	if got := l.Lagging(1001, isr, 1000); !slices.Equal(got, []int32{3}) {
		t.Fatalf("lagging %v, want [3]", got)
	}
	if wake := l.NextWakeMs(0, 1<<62, isr, 1000); wake != 1001 {
		t.Fatalf("wake %d, want 1001 (follower 3's limit)", wake)
	}
	l.ISRRetryAtMs = 700
	if wake := l.NextWakeMs(0, 1<<62, isr, 1000); wake != 700 {
		t.Fatalf("wake %d, want the retry at 700", wake)
	}
	if wake := l.NextWakeMs(0, 1<<62, []int32{1}, 1000); wake != 700 {
		t.Fatalf("wake %d: followers outside the ISR have no lag timer", wake)
	}
}

// TestNews: a long poll ends once the follower has something new to
// hear: a high watermark it can take, or a later log start.
func TestNews(t *testing.T) {
	f := leaderOf(0).Follower(2)
	if !f.HasNews(50, 60, 0) {
		t.Fatal("nothing told yet, but no news")
	}
	f.NoteAnswer(50, 60, 0)
	if f.HasNews(50, 60, 0) || f.HasNews(70, 50, 0) {
		t.Fatal("news for what was told, or for a high watermark past the follower's offset")
	}
	if !f.HasNews(55, 60, 0) || !f.HasNews(50, 60, 1) {
		t.Fatal("a higher high watermark or log start is news")
	}
}

func TestDivergenceAndTruncation(t *testing.T) {
	if Diverges(5, 100, 5, 100) {
		t.Error("a follower at the end of the leader's epoch diverges")
	}
	if !Diverges(4, 100, 5, 90) || !Diverges(5, 80, 5, 90) {
		t.Error("an older epoch, or an end below the fetch offset, does not diverge")
	}
	if got := TruncationTarget(80, 90, true, 0); got != 80 {
		t.Errorf("target %d, want the leader's end 80", got)
	}
	if got := TruncationTarget(80, 70, true, 0); got != 70 {
		t.Errorf("target %d, want the follower's own end of the epoch 70", got)
	}
	if got := TruncationTarget(80, 0, false, 30); got != 30 {
		t.Errorf("target %d, want the log start 30 when the follower holds none of the epoch", got)
	}
}

// TestBeginResets: a new leadership knows nothing of its followers.
func TestBeginResets(t *testing.T) {
	l := leaderOf(0)
	l.Follower(2).RecordFetch(5, 100, 0, 100)
	l.Begin(10, 2, []int32{1, 2, 3}, 200)
	if l.Follower(2) != nil || l.Follower(1) == nil || l.Follower(1).FetchOffset != -1 || l.EpochStartOffset != 200 {
		t.Fatalf("after Begin: %+v", l)
	}
}

// TestFetchingGenerations: an answer to a fetch sent before a role
// change does not end the newer role's fetch; a failure pauses fetching.
func TestFetchingGenerations(t *testing.T) {
	var f Fetching
	f.InFlight = true
	gen := f.Generation
	f.NewRole()
	if !f.Ready(0) {
		t.Fatal("not ready after a new role")
	}
	f.InFlight = true
	if f.Answered(10, gen) || !f.InFlight {
		t.Fatal("an old role's answer ended the new fetch")
	}
	if !f.Answered(20, f.Generation) || f.InFlight || f.AnsweredMs != 20 {
		t.Fatalf("answer not recorded: %+v", f)
	}
	f.Backoff(20, 100)
	if f.Ready(119) || !f.Ready(120) {
		t.Fatal("backoff not kept to its end")
	}
	if wake := f.NextWakeMs(20, 1<<62, false, 500); wake != 120 {
		t.Fatalf("wake %d, want the backoff's end 120", wake)
	}
	if wake := f.NextWakeMs(200, 1<<62, true, 500); wake != 520 {
		t.Fatalf("wake %d, want the sync wait's end 520", wake)
	}
}

func TestFetchesInFlight(t *testing.T) {
	var c FetchesInFlight
	c.Add(3, 1)
	c.Add(2, 1)
	if c.To(3) != 1 || c.To(2) != 1 || c.To(1) != 0 {
		t.Fatalf("counts %v", c.All())
	}
	c.Add(3, -1)
	if got := c.All(); len(got) != 1 || got[0].Leader != 2 {
		t.Fatalf("after the answer: %v, want only leader 2", got)
	}
}
