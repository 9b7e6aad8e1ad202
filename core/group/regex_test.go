package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ownedTopics counts c's owned partitions by topic id byte.
func ownedTopics(c *cclient) map[byte]int {
	out := map[byte]int{}
	for _, p := range c.owned {
		out[p.id[15]]++
	}
	return out
}

// TestConsumerRegexSubscription: a member subscribed by regex gets the
// partitions of the topics whose whole name matches (not the others, not
// a partial match), a matching topic created later joins the assignment
// after the refresh interval, the regex survives a reload, and a regex
// that does not compile is INVALID_REGULAR_EXPRESSION.
func TestConsumerRegexSubscription(t *testing.T) {
	topics := fakeTopics{
		"orders-eu": {ID: topicID(1), Partitions: 2},
		"orders-us": {ID: topicID(2), Partitions: 3},
		"my-orders": {ID: topicID(3), Partitions: 4}, // "orders-.*" matches only part of it
	}
	cfg := testConfig()
	h := newConsumerHarness(t, cfg, topics)
	a := &cclient{id: "A", topics: []string{}, regex: "orders-.*"}
	h.beat("g", a)
	if got := ownedTopics(a); len(got) != 2 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("regex member owns %v (topic id -> partitions), want orders-eu:2 orders-us:3", got)
	}
	d := h.cgDescribe("g")
	if m := d.Members[0]; m.SubscribedTopicRegex == nil || *m.SubscribedTopicRegex != "orders-.*" {
		t.Fatalf("described regex %v", m.SubscribedTopicRegex)
	}

	// A new matching topic: not before the refresh interval, then yes.
	topics["orders-jp"] = TopicMeta{ID: topicID(4), Partitions: 1}
	h.now += 10
	h.beat("g", a)
	if ownedTopics(a)[4] != 0 {
		t.Fatalf("new topic assigned before the refresh interval: %v", a.owned)
	}
	h.now += cfg.ConsumerRegexRefreshMs
	h.settle("g", []*cclient{a})
	if got := ownedTopics(a); got[4] != 1 || len(a.owned) != 6 {
		t.Fatalf("after the refresh the member owns %v, want orders-jp's partition too (6 in all)", got)
	}

	// The regex is in the member record: a reload keeps the subscription.
	s := replayLog(t, h.log, h.now)
	s.SetTopics(topics)
	h2 := &harness{t: t, s: s, now: h.now, replies: map[ReplyRef]kmsg.Response{}, nextRef: 1000}
	h2.settle("g", []*cclient{a})
	if len(a.owned) != 6 {
		t.Fatalf("after a reload the member owns %v, want the same 6 partitions", a.owned)
	}
	if m := h2.cgDescribe("g").Members[0]; m.SubscribedTopicRegex == nil || *m.SubscribedTopicRegex != "orders-.*" {
		t.Fatalf("regex after reload: %v", m.SubscribedTopicRegex)
	}

	bad := &cclient{id: "B", regex: "orders-(", topics: []string{}}
	if r := h.cgHeartbeat("g", bad, 1, 0); r.ErrorCode != kerr.InvalidRegularExpression.Code {
		t.Fatalf("invalid regex: error %d, want INVALID_REGULAR_EXPRESSION", r.ErrorCode)
	}
	none := &cclient{id: "C"}
	if r := h.cgHeartbeat("g", none, 1, 0); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("join with neither names nor regex: error %d, want INVALID_REQUEST", r.ErrorCode)
	}
}
