package partlog

import (
	"reflect"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

// getters are the exported methods of Log that never change it, so that
// CheckInvariants may skip a log on which only they were called.
var getters = map[string]bool{
	"LogStartOffset": true, "LogEndOffset": true, "DurableEndOffset": true, "CheckpointRequested": true, "HighWatermark": true,
	"EndOffsetForEpoch": true, "LatestEpoch": true, "Recovery": true, "Dir": true, "Segments": true,
	"SizeBytes": true, "Failed": true, "CheckInvariants": true, "EarliestEpochStart": true, "Uncertain": true,
	// Reads change nothing; they count a change only when they fail
	// (TestFailedReadCounted).
	"Read": true, "ReadInto": true, "AbortedTransactions": true,
	// The transaction state's getters.
	"LastStableOffset": true, "OpenTransactions": true,
	// SetCodecs only lends the log decoders (nothing CheckInvariants
	// looks at).
	"SetCodecs": true,
	// CleanInFlight only reports whether a clean job is in flight.
	"CleanInFlight": true,
}

// TestFailedReadCounted: a successful read counts no change (CheckInvariants
// may skip the log after it), a failed one does.
func TestFailedReadCounted(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	mustAppend(t, l, batchOf(3, 100, 1, 1), 1, 0)
	before := l.changes
	if _, err := l.Read(0, 1<<20, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadInto(nil, 0, 1<<20, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if l.changes != before {
		t.Fatalf("successful reads counted %d changes", l.changes-before)
	}
	if _, err := l.Read(l.LogEndOffset()+1, 1<<20, l.LogEndOffset()); err == nil {
		t.Fatal("read past the log end succeeded")
	}
	if _, err := l.ReadInto(nil, l.LogEndOffset()+1, 1<<20, l.LogEndOffset()); err == nil {
		t.Fatal("read past the log end succeeded")
	}
	if l.changes != before+2 {
		t.Fatalf("failed reads counted %d changes, want 2", l.changes-before)
	}
}

// TestChangesCounted calls every exported method of Log that is not a
// getter, with zero arguments on a fresh log, and requires it to count a
// change first thing: a new method that changes the log without counting
// would let CheckInvariants skip a changed log.
func TestChangesCounted(t *testing.T) {
	typ := reflect.TypeFor[*Log]()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		if getters[m.Name] {
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			l := openLog(t, memdisk.New(), smallConfig(), 0)
			before := l.changes
			args := []reflect.Value{reflect.ValueOf(l)}
			for j := 1; j < m.Type.NumIn(); j++ {
				args = append(args, reflect.Zero(m.Type.In(j)))
			}
			func() {
				defer func() { recover() }() // zero arguments may be refused loudly
				m.Func.Call(args)
			}()
			if l.changes == before {
				t.Fatalf("%s does not count a change: CheckInvariants would skip the log after it (or add it to getters if it never changes the log)", m.Name)
			}
		})
	}
}

// TestCheckAfterChange: a check that passed is skipped until a call that
// may change the log, and then catches what is wrong.
func TestCheckAfterChange(t *testing.T) {
	l := openLog(t, memdisk.New(), smallConfig(), 0)
	mustAppend(t, l, batchOf(3, 100, 1, 1), 1, 0)
	l.CheckInvariants()
	l.hw = l.LogEndOffset() + 1 // damage no method made
	l.CheckInvariants()         // skipped: nothing was called since the last pass
	l.SetHighWatermark(0)       // a call that may change the log (it clamps the damage away)...
	l.hw = l.LogEndOffset() + 1
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "HW <= LEO") {
			t.Fatalf("panic %v, want HW <= LEO", r)
		}
	}()
	l.CheckInvariants() // ...makes the next check run
}
