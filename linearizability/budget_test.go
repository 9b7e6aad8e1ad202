package linearizability

import (
	"fmt"
	"testing"
)

// TestStepBudget checks that the step budget decides deterministically:
// a search that needs more is undecided (never illegal, never a pass), the
// units used do not depend on the run, and an illegal partition stays
// illegal next to an undecided one.
func TestStepBudget(t *testing.T) {
	legal := []Op{
		app(1, 0, 10, 0, "a"),
		appUnknown(2, 5, 15, "b"),
		appUnknown(3, 6, 16, "c", "d"),
		app(1, 20, 30, 1, "e"),
		read(4, 40, 50, 0, 4, "a", "e"),
		endOffset(4, 60, 70, 4),
	}
	full, err := CheckLinearizability(legal, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if full.Verdict != VerdictOK || full.Steps == 0 {
		t.Fatalf("unbounded: %s, %d steps; want ok and some steps", full, full.Steps)
	}
	again, _ := CheckLinearizability(legal, Options{})
	if again.Steps != full.Steps {
		t.Errorf("steps %d then %d: the budget must not depend on the run", full.Steps, again.Steps)
	}
	enough, _ := CheckLinearizability(legal, Options{StepBudget: full.Steps})
	if enough.Verdict != VerdictOK {
		t.Errorf("budget of exactly the steps needed: %s, want ok", enough)
	}
	short, _ := CheckLinearizability(legal, Options{StepBudget: full.Steps - 1})
	if short.Verdict != VerdictUndecided || len(short.Undecided) != 1 || short.Undecided[0] != tp0 {
		t.Errorf("budget one short: %s, want undecided on %s", short, tp0)
	}

	other := TopicPartition{Topic: "u", Partition: 0}
	mixed := append(append([]Op(nil), legal...),
		on(other, app(1, 0, 10, 0, "x")),
		on(other, read(2, 20, 30, 0, 0)),
	)
	res, _ := CheckLinearizability(mixed, Options{StepBudget: full.Steps - 1})
	if res.Verdict != VerdictIllegal || len(res.Undecided) != 1 || len(res.Unlinearized) != 2 {
		t.Errorf("illegal next to undecided: %s, want illegal with %s undecided", res, tp0)
	}
}

// manyUnreadUnknowns is a partition with 96 unknown appends no read saw
// (lengths 1 to 4) between acknowledged appends, with three gaps only they
// can fill: the kind of history the simulator once left to the offset
// checks. Checked exactly (every choice of which appends fill a gap kept
// apart) it needs more than DefaultStepBudget.
func manyUnreadUnknowns() []Op {
	h := []Op{app(1, 0, 5, 0, "a")}
	for i := range 96 {
		vals := make([]string, 1+i%4)
		for j := range vals {
			vals[j] = fmt.Sprintf("u%d-%d", i, j)
		}
		h = append(h, appUnknown(2+i%3, int64(10+i), int64(11+i), vals...))
	}
	// 40 unread offsets after "a", then "b"; 35 more, then "c"; 30 more,
	// then "d".
	h = append(h,
		endOffset(6, 200, 210, 41),
		app(1, 220, 230, 41, "b"),
		endOffset(6, 240, 250, 77),
		app(1, 260, 270, 77, "c"),
		endOffset(6, 280, 290, 108),
		app(1, 300, 310, 108, "d"),
		read(7, 320, 330, 77, 109, "c"),
	)
	return h
}

// TestManyUnreadUnknownsDecided checks that a partition with many unread
// unknown-outcome appends is checked, well within the default budget, and
// that a violation in it is still found.
func TestManyUnreadUnknownsDecided(t *testing.T) {
	legal := manyUnreadUnknowns()
	res, err := CheckLinearizability(legal, Options{StepBudget: DefaultStepBudget})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictOK {
		t.Fatalf("legal history: %s", res)
	}
	t.Logf("legal: %d steps", res.Steps)
	// The current leader later answers with a high watermark below "c",
	// which was acknowledged.
	illegal := append(manyUnreadUnknowns(), read(8, 400, 410, 0, 108, "a"))
	res, err = CheckLinearizability(illegal, Options{StepBudget: DefaultStepBudget})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != VerdictIllegal {
		t.Fatalf("lagging read from the current leader: %s, want illegal", res)
	}
	// A gap larger than every unread append together cannot be filled.
	short := append(manyUnreadUnknowns(), endOffset(6, 420, 430, 109+300))
	res, _ = CheckLinearizability(short, Options{StepBudget: DefaultStepBudget})
	if res.Verdict != VerdictIllegal {
		t.Fatalf("end offset past every pending append: %s, want illegal", res)
	}
}
