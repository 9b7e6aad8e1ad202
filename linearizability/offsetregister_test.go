package linearizability

import "testing"

// TestCheckRegister: the fenced register model over hand-made histories.
func TestCheckRegister(t *testing.T) {
	w := func(v int64, call, ret int64) RegisterOp {
		return RegisterOp{Client: 0, Write: true, Value: v, Fence: 1, Call: call, Return: ret}
	}
	fenced := func(op RegisterOp) RegisterOp { op.Fenced = true; return op }
	r := func(v int64, call, ret int64) RegisterOp {
		return RegisterOp{Client: 1, Value: v, Call: call, Return: ret}
	}
	cases := []struct {
		name string
		ops  []RegisterOp
		want Verdict
	}{
		{"nothing committed", []RegisterOp{r(-1, 0, 1)}, VerdictOK},
		{"read after ack", []RegisterOp{w(5, 0, 10), r(5, 20, 30)}, VerdictOK},
		{"acked commit lost", []RegisterOp{w(5, 0, 10), r(-1, 20, 30)}, VerdictIllegal},
		{"rolled back to an earlier commit", []RegisterOp{w(3, 0, 5), w(5, 6, 10), r(3, 20, 30)}, VerdictIllegal},
		{"concurrent read sees either", []RegisterOp{w(3, 0, 5), w(5, 6, 10), r(3, 7, 30)}, VerdictOK},
		{"unknown outcome applied late", []RegisterOp{w(3, 0, 5), w(5, 6, -1), r(3, 20, 30), r(5, 40, 50)}, VerdictOK},
		{"unknown outcome cannot go back", []RegisterOp{w(3, 0, 5), w(5, 6, -1), r(5, 20, 30), r(3, 40, 50)}, VerdictIllegal},
		{"fenced commit acknowledged", []RegisterOp{fenced(w(7, 0, 5))}, VerdictIllegal},
		{"fenced commit of unknown outcome read back", []RegisterOp{w(5, 0, 1), fenced(w(7, 2, -1)), r(7, 20, 30)}, VerdictIllegal},
		{"fenced commit of unknown outcome not applied", []RegisterOp{w(5, 0, 1), fenced(w(7, 2, -1)), r(5, 20, 30)}, VerdictOK},
		{"a value nobody wrote", []RegisterOp{r(9, 0, 1)}, VerdictIllegal},
	}
	for _, c := range cases {
		res, err := CheckRegister(c.ops, 0, "")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Verdict != c.want {
			t.Errorf("%s: verdict %s, want %s", c.name, res.Verdict, c.want)
		}
	}
	// A budget too small for the history is undecided, never ok.
	var many []RegisterOp
	for i := int64(0); i < 20; i++ {
		many = append(many, w(i, 0, -1))
	}
	for i := int64(0); i < 20; i++ {
		many = append(many, r(i, 100+2*i, 101+2*i)) // every value read: none dropped
	}
	if res, _ := CheckRegister(many, 50, ""); res.Verdict != VerdictUndecided {
		t.Errorf("tiny budget: verdict %s, want undecided", res.Verdict)
	}
	// Writes of unknown outcome whose values no fetch returned are left
	// out of the search: 60 of them beside a short history cost a few
	// steps, and the verdict is the history's without them.
	unread := []RegisterOp{w(1, 0, 5), r(1, 6, 7)}
	for i := int64(100); i < 160; i++ {
		unread = append(unread, w(i, 1, -1))
	}
	legal := append(append([]RegisterOp{}, unread...), r(1, 8, 9), w(2, 10, 11), r(2, 12, 13))
	if res, _ := CheckRegister(legal, 200, ""); res.Verdict != VerdictOK {
		t.Errorf("unread unknown writes: verdict %s (%d steps), want ok", res.Verdict, res.Steps)
	}
	illegal := append(append([]RegisterOp{}, unread...), r(-1, 8, 9))
	if res, _ := CheckRegister(illegal, 200, ""); res.Verdict != VerdictIllegal {
		t.Errorf("unread unknown writes, a lost commit: verdict %s (%d steps), want illegal", res.Verdict, res.Steps)
	}
	if _, err := CheckRegister([]RegisterOp{r(1, 5, -1)}, 0, ""); err == nil {
		t.Errorf("a fetch without an answer was accepted")
	}
}
