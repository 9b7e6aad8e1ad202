package sim

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// admin creates topics (never reusing a name), deletes some, and lists
// topics with Metadata, checking that the list agrees with every create
// and delete acknowledged before the request was sent.
type admin struct {
	c *client
}

func (w *world) newAdmin(c *client) *admin {
	a := &admin{c: c}
	w.s.after(c.rng.Exp(w.set.Work.AdminEvery), "admin", a.step)
	return a
}

func (a *admin) step() {
	w := a.c.w
	if w.workloadStopped {
		return
	}
	defer w.s.after(a.c.rng.Exp(w.set.Work.AdminEvery), "admin", a.step)
	r := a.c.rng
	switch x := r.Float64(); {
	case x < 0.45:
		a.create(int32(r.Range(1, 3)))
	case x < 0.65 && len(w.reg.live()) > 2:
		a.delete(pick(r, w.reg.live()))
	default:
		a.metadata(nil)
	}
}

// createRequest builds a CreateTopics request for one topic; some topics
// get small segments through a topic config.
func createRequest(r *Rand, name string, partitions int32) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = int16(r.Range(0, 7))
	req.TimeoutMillis = 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = name
	rt.NumPartitions = partitions
	rt.ReplicationFactor = 1
	if r.Chance(0.3) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = "segment.bytes"
		v := fmt.Sprint(pick(r, []int{512, 2048, 65536}))
		c.Value = &v
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// create creates a topic with a fresh name.
func (a *admin) create(partitions int32) {
	w := a.c.w
	w.reg.next++
	t := &simTopic{name: fmt.Sprintf("t%03d", w.reg.next), partitions: partitions, status: topicMaybe}
	w.reg.add(t)
	req := createRequest(a.c.rng, t.name, partitions)
	a.c.do(req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if err != nil {
			w.logf("admin: create %s: %v", t.name, err)
			return // unknown: stays topicMaybe
		}
		cr := resp.(*kmsg.CreateTopicsResponse)
		if len(cr.Topics) != 1 {
			w.fail("admin: create %s: %d topics in the response", t.name, len(cr.Topics))
			return
		}
		switch code := cr.Topics[0].ErrorCode; code {
		case 0:
			t.status = topicLive
			t.createdAt = w.s.now
		case errCodeTopicAlreadyExists:
			w.fail("admin: create %s: TOPIC_ALREADY_EXISTS for a name never used before", t.name)
		default:
			w.logf("admin: create %s: error %d", t.name, code)
		}
	})
}

// delete deletes a live topic; producers and consumers stop choosing it
// at once.
func (a *admin) delete(t *simTopic) {
	w := a.c.w
	t.status = topicDeleting
	t.deleteCall = w.s.now
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = int16(a.c.rng.Range(0, 5))
	req.TimeoutMillis = 5000
	req.TopicNames = []string{t.name}
	dt := kmsg.NewDeleteTopicsRequestTopic()
	name := t.name
	dt.Topic = &name
	req.Topics = append(req.Topics, dt)
	a.c.do(req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if err != nil {
			return
		}
		dr := resp.(*kmsg.DeleteTopicsResponse)
		if len(dr.Topics) == 1 && dr.Topics[0].ErrorCode == 0 {
			t.status = topicDeleted
			t.deletedAt = w.s.now
		}
	})
}

// metadata lists every topic and checks the answer against acknowledged
// creates and deletes. done, if set, receives the topics listed (nil on a
// failed request).
func (a *admin) metadata(done func(map[string]int32)) {
	w := a.c.w
	req := kmsg.NewPtrMetadataRequest()
	req.Version = int16(a.c.rng.Range(0, 12))
	if req.Version == 0 {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	call := w.s.now
	a.c.do(req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if err != nil {
			if done != nil {
				done(nil)
			}
			return
		}
		mr := resp.(*kmsg.MetadataResponse)
		listed := map[string]int32{}
		for _, t := range mr.Topics {
			if t.Topic == nil || t.ErrorCode != 0 {
				continue
			}
			listed[*t.Topic] = int32(len(t.Partitions))
		}
		names := make([]string, 0, len(listed))
		for n := range listed {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t := w.reg.byName[n]
			switch {
			case t == nil:
				w.fail("metadata check: topic %s listed but never created", n)
			case t.status == topicDeleted && t.deletedAt < call:
				w.fail("metadata check: topic %s listed after its delete was acknowledged at %s", n, t.deletedAt)
			case listed[n] != t.partitions:
				w.fail("metadata check: topic %s has %d partitions, created with %d", n, listed[n], t.partitions)
			}
		}
		for _, t := range w.reg.topics {
			if _, ok := listed[t.name]; !ok && t.status == topicLive && t.createdAt < call {
				w.fail("metadata check: topic %s (created, acknowledged at %s) missing at %s", t.name, t.createdAt, call)
			}
		}
		if done != nil {
			done(listed)
		}
	})
}
