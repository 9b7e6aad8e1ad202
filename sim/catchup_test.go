package sim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// TestCatchUpDenials checks which answers count as denials.
func TestCatchUpDenials(t *testing.T) {
	pr := kmsg.NewPtrProduceResponse()
	pt := kmsg.NewProduceResponseTopic()
	pt.Topic = "a"
	for i, code := range []int16{0, errCodeUnknownTopicPartition, errCodeNotLeader} {
		p := kmsg.NewProduceResponseTopicPartition()
		p.Partition, p.ErrorCode = int32(i), code
		pt.Partitions = append(pt.Partitions, p)
	}
	pr.Topics = append(pr.Topics, pt)
	mr := kmsg.NewPtrMetadataResponse()
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic, mt.ErrorCode = kmsg.StringPtr("b"), errCodeUnknownTopicPartition
	mr.Topics = append(mr.Topics, mt)
	ar := kmsg.NewPtrIncrementalAlterConfigsResponse()
	for _, typ := range []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeTopic} {
		r := kmsg.NewIncrementalAlterConfigsResponseResource()
		r.ResourceType, r.ResourceName, r.ErrorCode = typ, "c", errCodeUnknownTopicPartition
		ar.Resources = append(ar.Resources, r)
	}
	for _, tc := range []struct {
		resp kmsg.Response
		want []string
	}{
		{pr, []string{"a/1"}},
		{mr, []string{"b/-1"}},
		{ar, []string{"c/-1"}}, // the broker resource is not a topic
	} {
		var got []string
		for _, d := range denials(nil, tc.resp) {
			got = append(got, fmt.Sprintf("%s/%d", d.topic, d.partition))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%T: denials %v, want %v", tc.resp, got, tc.want)
		}
	}
}

// commitRecords commits one entry of records to the model's truth, as
// raftModel.commit does, and returns its index.
func commitRecords(r *raftModel, recs ...metadata.Record) int {
	r.entries = append(r.entries, nil)
	e := &metadata.Entry{Records: recs}
	r.noteTopics(len(r.entries), e, r.truth.ApplyEntry(e))
	return len(r.entries)
}

// TestCatchUpClusterRule checks the cluster rule against a committed log
// with a topic created, grown, deleted and created again.
func TestCatchUpClusterRule(t *testing.T) {
	w := &world{tr: newTracer()}
	w.raft = &raftModel{w: w, truth: metadata.NewImage(), topics: map[string]*topicLife{}}
	n := &simNode{w: w, id: 2, raft: &raftNode{}}
	commitRecords(w.raft,
		metadata.Record{RegisterBroker: &metadata.RegisterBroker{ID: 1, Host: "h", Port: 1, Incarnation: 1}},
		metadata.Record{UnfenceBroker: &metadata.UnfenceBroker{ID: 1, Incarnation: 1}})
	created := commitRecords(w.raft, metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "t", ID: metadata.TopicID{1}, Partitions: 1, ReplicationFactor: 1}})
	grown := commitRecords(w.raft, metadata.Record{CreatePartitions: &metadata.CreatePartitions{Name: "t", ID: metadata.TopicID{1}, Count: 2}})
	// A refused record (the name exists) changes nothing.
	commitRecords(w.raft, metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "t", ID: metadata.TopicID{2}, Partitions: 5, ReplicationFactor: 1}})

	judge := func(start int, d denial) string {
		w.failures, w.cov = nil, Coverage{}
		w.judgeClusterDenial(n, &conn{startCommit: start}, d)
		switch {
		case len(w.failures) > 0:
			return "fail"
		case w.cov.UnknownLagging > 0:
			return "lagging"
		case w.cov.UnknownGone > 0:
			return "gone"
		}
		return "?"
	}
	for _, tc := range []struct {
		start int
		d     denial
		want  string
	}{
		{created, denial{"t", -1, "x"}, "fail"},
		{created - 1, denial{"t", -1, "x"}, "lagging"},
		{created, denial{"t", 0, "x"}, "fail"},
		{created, denial{"t", 1, "x"}, "lagging"}, // grown after the start
		{grown, denial{"t", 1, "x"}, "fail"},
		{grown, denial{"t", 2, "x"}, "gone"}, // never created
		{grown, denial{"u", -1, "x"}, "gone"},
	} {
		if got := judge(tc.start, tc.d); got != tc.want {
			t.Errorf("start %d, %s-%d: %s, want %s", tc.start, tc.d.topic, tc.d.partition, got, tc.want)
		}
	}
	deleted := commitRecords(w.raft, metadata.Record{DeleteTopic: &metadata.DeleteTopic{Name: "t", ID: metadata.TopicID{1}}})
	if got := judge(grown, denial{"t", 0, "x"}); got != "gone" {
		t.Errorf("after the delete: %s, want gone", got)
	}
	again := commitRecords(w.raft, metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "t", ID: metadata.TopicID{3}, Partitions: 1, ReplicationFactor: 1}})
	if got := judge(deleted, denial{"t", 0, "x"}); got != "lagging" {
		t.Errorf("created again after the start: %s, want lagging", got)
	}
	if got := judge(again, denial{"t", 0, "x"}); got != "fail" {
		t.Errorf("created again before the start: %s, want fail", got)
	}
	if !strings.Contains(judgeMessage(w, n, again), "node 2 denied partition t-0") {
		t.Errorf("finding does not name the node and partition: %q", judgeMessage(w, n, again))
	}
}

func judgeMessage(w *world, n *simNode, start int) string {
	w.failures = nil
	w.judgeClusterDenial(n, &conn{startCommit: start}, denial{"t", 0, "x"})
	if len(w.failures) == 0 {
		return ""
	}
	return w.failures[0]
}

// TestCatchUpSingleRule checks the single-node rule: acknowledged before
// the request was sent, and never sent a delete.
func TestCatchUpSingleRule(t *testing.T) {
	w := &world{tr: newTracer()}
	w.reg = registry{byName: map[string]*simTopic{}}
	live := &simTopic{name: "a", created: 2, status: topicLive, createdAt: Second}
	deleting := &simTopic{name: "b", created: 2, status: topicDeleting, createdAt: Second}
	w.reg.add(live)
	w.reg.add(deleting)
	n := &simNode{w: w, id: 1}
	for _, tc := range []struct {
		topic     string
		partition int32
		sentAt    Time
		want      bool
	}{
		{"a", 0, 2 * Second, true},
		{"a", -1, 2 * Second, true},
		{"a", 1, 2 * Second, true},
		{"a", 2, 2 * Second, false}, // never acknowledged
		{"a", 0, Second, false},     // sent with the create's answer in flight
		{"b", 0, 2 * Second, false}, // a delete was sent
		{"c", 0, 2 * Second, false}, // never created
	} {
		w.failures = nil
		w.judgeSingleDenial(n, &call{sentAt: tc.sentAt}, denial{tc.topic, tc.partition, "x"})
		if got := len(w.failures) > 0; got != tc.want {
			t.Errorf("%s-%d sent at %s: failed %v, want %v", tc.topic, tc.partition, tc.sentAt, got, tc.want)
		}
	}
}
