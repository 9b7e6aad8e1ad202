package sim

import (
	"math/rand/v2"
	"testing"
)

// TestSchedulerOrder: events run in (time, scheduling order) whatever the
// order they were scheduled in, also when scheduled while others run.
func TestSchedulerOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var s scheduler
	type key struct {
		at  Time
		seq uint64
	}
	var got []key
	for range 2000 {
		at := Time(r.IntN(500))
		s.at(at, "x", nil)
	}
	for i := 0; ; i++ {
		ev := s.pop()
		if ev == nil {
			break
		}
		got = append(got, key{ev.at, ev.seq})
		if i%3 == 0 && i < 3000 {
			s.after(Time(r.IntN(50)), "y", nil) // never before now
		}
	}
	if len(got) != 3000 {
		t.Fatalf("popped %d events, scheduled 3000", len(got))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if b.at < a.at || (b.at == a.at && b.seq < a.seq) {
			t.Fatalf("event %d (%d, seq %d) ran after (%d, seq %d)", i, b.at, b.seq, a.at, a.seq)
		}
	}
}

// BenchmarkScheduler pops and schedules one event per iteration over a
// queue of 300, about what a cluster run holds.
func BenchmarkScheduler(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	var s scheduler
	for range 300 {
		s.after(Time(r.IntN(1000000)), "x", nil)
	}
	for b.Loop() {
		s.pop()
		s.after(Time(r.IntN(1000000)), "x", nil)
	}
}
