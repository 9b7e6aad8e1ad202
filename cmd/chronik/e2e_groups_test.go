package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// e2eGroupConsume runs members group consumers of topic in one group until
// the records seen (by value) reach want or timeout passes, commits what
// they consumed, closes them, and returns the values each record was seen
// with, in the order seen.
func e2eGroupConsume(t *testing.T, b *e2eBroker, group, topic string, members int, want int, timeout time.Duration, opts ...kgo.Opt) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var mu sync.Mutex
	seen := map[string]bool{}
	var order []string
	var wg sync.WaitGroup
	for m := range members {
		cl := e2eNewClient(t, b, append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID(fmt.Sprintf("member-%d", m))}, opts...)...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					if !seen[string(r.Value)] {
						seen[string(r.Value)] = true
					}
					order = append(order, string(r.Value))
					if len(seen) >= want {
						cancel()
					}
					mu.Unlock()
				})
				if err := cl.CommitUncommittedOffsets(context.Background()); err != nil && ctx.Err() == nil {
					t.Errorf("member %d commit: %v", m, err)
				}
			}
			if err := cl.CommitUncommittedOffsets(context.Background()); err != nil {
				t.Errorf("member %d final commit: %v", m, err)
			}
			cl.LeaveGroup()
			cl.Close()
		}()
	}
	wg.Wait()
	if len(seen) < want {
		t.Fatalf("group %s saw %d distinct records of %d", group, len(seen), want)
	}
	return order
}

// TestE2EGroupsFranz: two franz-go group members share a four-partition
// topic and together consume every record; their commits survive a broker
// restart, so a new member of the group gets only what was produced after,
// and kadm lists, describes and fetches the group's offsets.
func TestE2EGroupsFranz(t *testing.T) {
	b := e2eStartBroker(t)
	adm := e2eNewAdmin(t, b)
	topic := e2eUniqueTopic(t)
	e2eCreateTopic(t, adm, topic, 4, nil)
	cl := e2eNewClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var recs []*kgo.Record
	for i := range 200 {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%03d", i))})
	}
	e2eProduceSync(t, cl, recs...)
	group := "g-" + topic
	e2eGroupConsume(t, b, group, topic, 2, 200, 60*time.Second)

	ctx := e2eTestCtx(t, 30*time.Second)
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 200 {
		t.Fatalf("committed offsets sum to %d, want 200: %v", total, offsets)
	}

	b.Kill() // acknowledged commits survive a kill -9
	b.Restart()
	adm = e2eNewAdmin(t, b)
	cl = e2eNewClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	recs = recs[:0]
	for i := 200; i < 250; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%03d", i))})
	}
	e2eProduceSync(t, cl, recs...)
	after := e2eGroupConsume(t, b, group, topic, 1, 50, 60*time.Second)
	sort.Strings(after)
	for _, v := range after {
		if v < "v200" {
			t.Fatalf("record %s consumed again after its commit and a restart", v)
		}
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil || !slices.Contains(listed.Groups(), group) {
		t.Fatalf("list groups: %v %v", listed, err)
	}
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil || described[group].Err != nil || described[group].State != "Empty" {
		t.Fatalf("describe group: %+v %v", described[group], err)
	}
}
