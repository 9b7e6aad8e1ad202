package broker

import (
	"fmt"
	"strings"
	"testing"
)

// wantInvariantPanic runs f and fails unless it panics with a message
// containing want.
func wantInvariantPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), want) {
			t.Fatalf("panic %v, want one containing %q", r, want)
		}
	}()
	f()
}

// TestCheckInvariantsIncremental: between full passes CheckInvariants
// checks the partitions named by recheck, and the totals over every
// partition (pending produces, waiting fetch entries) on every pass.
func TestCheckInvariantsIncremental(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 2, nil)
	tb.b.recheckAll()
	tb.b.CheckInvariants()
	if tb.b.recheckFull || tb.b.checkIncremental != 0 {
		t.Fatalf("after a pass: full %v, incremental passes %d; want the next pass incremental", tb.b.recheckFull, tb.b.checkIncremental)
	}
	tb.b.CheckInvariants()
	if tb.b.checkIncremental != 1 || len(tb.b.recheckList) != 0 {
		t.Fatalf("incremental passes %d, %d listed; want 1 and none", tb.b.checkIncremental, len(tb.b.recheckList))
	}

	p := tb.b.topics["t"].partitions[1]
	p.fetchWaitersDone = -1
	tb.b.recheck(p)
	wantInvariantPanic(t, "waiting fetches", tb.b.CheckInvariants)
	p.fetchWaitersDone = 0

	// A count no partition's change names is still checked at once.
	tb.b.pendingProduces++
	wantInvariantPanic(t, "counted as pending", tb.b.CheckInvariants)
	tb.b.pendingProduces--

	// A waiting fetch entry a partition does not list.
	tb.b.CheckInvariants()
	p.fetchWaiters = append(p.fetchWaiters, &waitingFetch{})
	tb.b.recheck(p)
	wantInvariantPanic(t, "waiting fetch entries", tb.b.CheckInvariants)
}
