package sim

import (
	"strings"
	"testing"
)

// TestOwners848: the KIP-848 group-owner rule over hand-built member
// histories (heartbeats sent and answered, releases, clock jumps), legal
// ones and ones where the coordinator gave one partition to two members.
func TestOwners848(t *testing.T) {
	p := tidp848{id: [16]byte{7}, p: 0}
	ms := func(n int64) Time { return Time(n) * Millisecond }
	type step struct {
		at     int64 // ms
		member int
		do     string // sent, ok, ok-assign-p, ok-assign-none, ok-carried, failed, release, jump
		sentAt int64
	}
	cases := []struct {
		name  string
		steps []step
		bad   bool
	}{
		{"handed on after the revocation was acknowledged, its answer still in flight", []step{
			{5, 0, "sent", 0}, {10, 0, "ok-assign-p", 5},
			{95, 0, "sent", 0}, {100, 0, "ok-assign-none", 95},
			{100, 0, "release", 0}, {100, 0, "sent", 0}, // the acknowledgement
			{101, 1, "sent", 0}, {103, 1, "ok-assign-p", 101},
			{150, 0, "ok-carried", 100}, // its answer arrives after the new owner's
		}, false},
		{"assigned to a second member while the first heartbeats on", []step{
			{5, 0, "sent", 0}, {10, 0, "ok-assign-p", 5},
			{40, 1, "sent", 0}, {50, 1, "ok-assign-p", 40},
			{300, 0, "sent", 0}, {305, 0, "ok", 300},
		}, true},
		{"assigned to a second member at once, the first never heard of again", []step{
			{5, 0, "sent", 0}, {10, 0, "ok-assign-p", 5},
			{11, 1, "sent", 0}, {12, 1, "ok-assign-p", 11},
		}, true},
		{"handed on after the first member's session ended", []step{
			{5, 0, "sent", 0}, {10, 0, "ok-assign-p", 5},
			{100, 0, "sent", 0}, {104, 0, "ok-carried", 100},
			// then it stalls: its session (1500 ms) ends by 1600.
			{1700, 1, "sent", 0}, {1702, 1, "ok-assign-p", 1700},
		}, false},
		{"handed on within the first member's session", []step{
			{5, 0, "sent", 0}, {10, 0, "ok-assign-p", 5},
			{100, 0, "sent", 0}, {104, 0, "ok-carried", 100},
			{1000, 1, "sent", 0}, {1002, 1, "ok-assign-p", 1000},
		}, true},
		{"a revocation may have started at a lost heartbeat: removed at the rebalance timeout", []step{
			{5, 0, "sent", 0}, {10, 0, "ok-assign-p", 5},
			{12, 0, "sent", 0}, {14, 0, "ok-carried", 12},
			{100, 0, "sent", 0}, {600, 0, "failed", 0},
			{700, 0, "sent", 0}, {705, 0, "ok", 700}, // owned left out: still pending
			{1150, 1, "sent", 0}, {1152, 1, "ok-assign-p", 1150},
		}, false},
		{"the revocation acknowledged cleanly: no early removal", []step{
			{5, 0, "sent", 0}, {10, 0, "ok-assign-p", 5},
			{12, 0, "sent", 0}, {14, 0, "ok-carried", 12},
			{100, 0, "sent", 0}, {600, 0, "failed", 0},
			{700, 0, "sent", 0}, {705, 0, "ok-carried", 700},
			{1150, 1, "sent", 0}, {1152, 1, "ok-assign-p", 1150},
		}, true},
		{"a coordinator's clock jumped forward", []step{
			{5, 0, "sent", 0}, {10, 0, "ok-assign-p", 5},
			{100, 0, "sent", 0}, {104, 0, "ok-carried", 100},
			{200, 1, "jump", 0}, {250, 1, "sent", 0}, {252, 1, "ok-assign-p", 250},
		}, false},
		{"fenced, then the partition handed on", []step{
			{5, 0, "sent", 0}, {10, 0, "ok-assign-p", 5},
			{100, 0, "sent", 0}, {104, 0, "ok-carried", 100},
			{400, 0, "sent", 0}, {404, 0, "release", 0}, // FENCED_MEMBER_EPOCH
			{420, 1, "sent", 0}, {430, 1, "ok-assign-p", 420},
		}, false},
	}
	for _, c := range cases {
		w := &world{}
		w.set.Groups848 = Group848Settings{SessionMs: 1500, RebalanceMs: 1000}
		w.nodes = []*simNode{{}}
		g := &world848{w: w}
		var hs []*hold848
		for i := 0; i < 2; i++ {
			m := &member848{groupMember: &groupMember{c: &client{name: []string{"k0", "k1"}[i]}, group: "cg0"}}
			hs = append(hs, g.holder(m))
		}
		owned := make([][]tidp848, 2)
		for _, s := range c.steps {
			w.s.now = ms(s.at)
			h := hs[s.member]
			switch s.do {
			case "sent":
				h.sent(w.s.now)
			case "failed":
				h.failed()
			case "ok":
				h.answered(ms(s.sentAt), true, false, false, owned[s.member], nil)
			case "ok-carried":
				h.answered(ms(s.sentAt), true, true, false, owned[s.member], nil)
			case "ok-assign-p":
				h.answered(ms(s.sentAt), true, false, true, owned[s.member], []tidp848{p})
				owned[s.member] = []tidp848{p}
			case "ok-assign-none":
				h.answered(ms(s.sentAt), true, false, true, owned[s.member], nil)
			case "release":
				h.release(owned[s.member])
				owned[s.member] = nil
			case "jump":
				w.nodes[0].clock.offset += 5 * Second
			}
		}
		w.s.now = ms(10_000)
		for _, h := range hs {
			h.release([]tidp848{p})
		}
		got := judgeOwners848(g.owned)
		switch {
		case !c.bad && got != "":
			t.Errorf("%s: legal history judged %q", c.name, got)
		case c.bad && !strings.Contains(got, "k0") || c.bad && !strings.Contains(got, "k1"):
			t.Errorf("%s: two owners not caught (got %q)", c.name, got)
		}
	}
}
