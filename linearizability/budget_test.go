package linearizability

import "testing"

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
