package sim

import (
	"strings"
	"testing"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// TestJudgeRegister: the group-commit rule over hand-made histories of
// one (group, partition) register, legal and not.
func TestJudgeRegister(t *testing.T) {
	commit := func(v int64, call, ret Time, acked, refused bool) *groupOp {
		return &groupOp{write: true, value: v, call: call, ret: ret, acked: acked, refuse: refused, member: "g0"}
	}
	fetch := func(v int64, call, ret Time) *groupOp {
		return &groupOp{value: v, call: call, ret: ret, acked: true, member: "g1"}
	}
	fenced := func(op *groupOp) *groupOp {
		op.gen, op.fenced = 1, true
		return op
	}
	cases := []struct {
		name string
		ops  []*groupOp
		bad  string // a substring of the finding; "" for legal
	}{
		{"read of the acknowledged offset", []*groupOp{commit(5, 0, 10, true, false), fetch(5, 20, 30)}, ""},
		{"acknowledged commit lost (read lower)", []*groupOp{commit(3, 0, 5, true, false), commit(5, 6, 10, true, false), fetch(3, 20, 30)}, "returned offset 3"},
		{"acknowledged commit lost (nothing left)", []*groupOp{commit(5, 0, 10, true, false), fetch(-1, 20, 30)}, "no committed offset"},
		{"read sent before the acknowledgement", []*groupOp{commit(3, 0, 1, true, false), commit(5, 0, 10, true, false), fetch(3, 5, 30)}, ""},
		{"a later lower commit acknowledged", []*groupOp{commit(5, 0, 10, true, false), commit(3, 11, 15, true, false), fetch(3, 20, 30)}, ""},
		{"a concurrent commit of unknown outcome", []*groupOp{commit(3, 0, -1, false, false), commit(5, 1, 10, true, false), fetch(3, 20, 30)}, ""},
		{"a fenced commit is never applied", []*groupOp{commit(5, 0, 10, true, false), commit(3, 11, 12, false, true), fetch(3, 20, 30)}, "returned offset 3"},
		{"a commit answered before the acknowledged one was sent", []*groupOp{commit(3, 0, 2, true, false), commit(5, 3, 10, true, false), fetch(3, 20, 30)}, "returned offset 3"},
		{"only a fenced commit wrote the offset read", []*groupOp{commit(3, 0, 1, false, true), fetch(3, 20, 30)}, "no commit that may have applied"},
		{"an offset of a commit of unknown outcome", []*groupOp{commit(3, 0, -1, false, false), fetch(3, 20, 30)}, ""},
		{"a commit sent after the read was answered", []*groupOp{commit(5, 0, 10, true, false), fetch(3, 20, 30), commit(3, 31, 35, true, false)}, "returned offset 3"},
		{"a fenced commit acknowledged", []*groupOp{fenced(commit(3, 0, 1, true, false))}, "after a later generation had synced, was acknowledged"},
		{"a fenced commit of unknown outcome read back", []*groupOp{commit(5, 0, 1, true, false), fenced(commit(7, 2, -1, false, false)), fetch(7, 20, 30)}, "a fenced commit by g0 with generation 1"},
		{"a fenced commit refused, the offset kept", []*groupOp{commit(5, 0, 1, true, false), fenced(commit(7, 2, 3, false, true)), fetch(5, 20, 30)}, ""},
	}
	for _, c := range cases {
		got, _ := judgeRegister(c.ops, nil)
		switch {
		case c.bad == "" && got != "":
			t.Errorf("%s: legal history judged %q", c.name, got)
		case c.bad != "" && !strings.Contains(got, c.bad):
			t.Errorf("%s: got %q, want a finding with %q", c.name, got, c.bad)
		}
	}
	// Only a read sent after an acknowledged commit counts as judged.
	if _, n := judgeRegister([]*groupOp{fetch(-1, 0, 1), commit(5, 2, 10, true, false), fetch(5, 5, 12), fetch(5, 20, 30)}, nil); n != 1 {
		t.Errorf("judged %d reads, want 1", n)
	}
	// A deleted topic's offsets may go: not judged once its delete was sent.
	gone := &simTopic{name: "t001", deleteCall: 25}
	if got, _ := judgeRegister([]*groupOp{commit(5, 0, 10, true, false), fetch(-1, 20, 30)}, gone); got != "" {
		t.Errorf("deleted topic: judged %q", got)
	}
}

// TestGroupOwner: two members holding one partition in one generation is
// a finding; the same member again, or another generation, is not.
func TestGroupOwner(t *testing.T) {
	w := &world{tr: newTracer()}
	g := newGroupWorld(w)
	tp := lin.TopicPartition{Topic: "t001", Partition: 0}
	other := lin.TopicPartition{Topic: "t001", Partition: 1}
	g.synced("grp0", 1, "a", []lin.TopicPartition{tp})
	g.synced("grp0", 1, "a", []lin.TopicPartition{tp}) // a retried SyncGroup
	g.synced("grp0", 1, "b", []lin.TopicPartition{other})
	g.synced("grp0", 2, "b", []lin.TopicPartition{tp})
	g.synced("grp1", 1, "c", []lin.TopicPartition{tp})
	if len(w.failures) != 0 {
		t.Fatalf("legal assignments judged: %v", w.failures)
	}
	g.synced("grp0", 2, "a", []lin.TopicPartition{tp})
	if len(w.failures) != 1 || !strings.Contains(w.failures[0], "group-owner: group grp0 generation 2: partition") {
		t.Fatalf("failures %v: want one group-owner finding", w.failures)
	}
}

// TestBeforeQuarantine: a register whose offsets partition a media flip
// quarantined is judged up to the flip only: the commit acknowledged
// after it becomes unknown, the fetch answered after it is left out.
func TestBeforeQuarantine(t *testing.T) {
	early := &groupOp{write: true, value: 3, call: 0, ret: 5, acked: true}
	late := &groupOp{write: true, value: 5, call: 6, ret: 12, acked: true}
	read := &groupOp{value: -1, call: 20, ret: 30, acked: true}
	after := &groupOp{write: true, value: 7, call: 11, ret: 13, acked: true}
	ops := []*groupOp{early, late, read, after}
	if msg, _ := judgeRegister(ops, nil); msg == "" {
		t.Fatal("the whole history: the lost commits are not found")
	}
	cut := beforeQuarantine(ops, 10)
	if len(cut) != 2 || cut[0] != early || cut[1].value != 5 || cut[1].acked || cut[1].ret != -1 || late.acked != true {
		t.Fatalf("cut %+v: want the early commit and the late one as unknown (a copy)", cut)
	}
}
