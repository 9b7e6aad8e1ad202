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
	live := w.reg.live()
	switch x := r.Float64(); {
	case x < 0.35:
		a.create(int32(r.Range(1, 3)))
	case x < 0.5 && len(live) > 2:
		a.delete(pick(r, live))
	case x < 0.65 && len(live) > 0:
		a.grow(pick(r, live))
	case x < 0.75 && len(live) > 0:
		a.alter(pick(r, live))
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

// create creates a topic with a fresh name. In a cluster the request
// goes to the controller, with replication factor 3 (or 2) and
// min.insync.replicas 2 (or 1), and is retried, with the same name,
// until an answer settles it: NOT_CONTROLLER, a timeout or a broken
// connection may follow a proposal that commits later, and then a retry's
// TOPIC_ALREADY_EXISTS is this create's success.
func (a *admin) create(partitions int32) {
	w := a.c.w
	w.reg.next++
	t := &simTopic{name: fmt.Sprintf("t%03d", w.reg.next), partitions: partitions, maxPartitions: partitions, created: partitions, status: topicMaybe}
	w.reg.add(t)
	a.createWith(t, createRequest(a.c.rng, t.name, partitions))
}

// createWith sends req, a CreateTopics request for t alone, as create
// does: in a cluster with the replication factor and min.insync.replicas
// drawn for it, retried until settled. The compaction workload creates
// its topics through it too (compaction.go).
func (a *admin) createWith(t *simTopic, req *kmsg.CreateTopicsRequest) {
	w := a.c.w
	if w.cluster() {
		r := a.c.rng
		rt := &req.Topics[0]
		rt.ReplicationFactor = 3
		if r.Chance(w.set.Cluster.RF2Frac) {
			rt.ReplicationFactor = 2
		}
		rt.ReplicationFactor = min(rt.ReplicationFactor, int16(len(w.nodes)))
		minISR := "2"
		if r.Chance(w.set.Cluster.MinISR1Frac) {
			minISR = "1"
		}
		t.minISR = minISR
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = "min.insync.replicas"
		c.Value = &minISR
		rt.Configs = append(rt.Configs, c)
	}
	a.createAttempt(t, req, 0, false)
}

func (a *admin) createAttempt(t *simTopic, req *kmsg.CreateTopicsRequest, attempt int, uncertain bool) {
	w := a.c.w
	route := a.c.route
	route.ready(func() {
		a.c.do(route.controllerID(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
			code := int16(-1)
			if err == nil {
				cr := resp.(*kmsg.CreateTopicsResponse)
				if len(cr.Topics) != 1 {
					w.fail("admin: create %s: %d topics in the response", t.name, len(cr.Topics))
					return
				}
				code = cr.Topics[0].ErrorCode
			}
			if !w.cluster() {
				switch {
				case err != nil:
					w.logf("admin: create %s: %v", t.name, err)
					// unknown: stays topicMaybe
				case code == 0:
					t.status = topicLive
					t.createdAt = w.s.now
				case code == errCodeTopicAlreadyExists:
					w.fail("admin: create %s: TOPIC_ALREADY_EXISTS for a name never used before", t.name)
				default:
					w.logf("admin: create %s: error %d", t.name, code)
				}
				return
			}
			if err != nil || routingError(code) {
				route.invalidate()
			}
			switch {
			case err == nil && code == 0:
				t.status = topicLive
				t.createdAt = w.s.now
				return
			case err == nil && code == errCodeTopicAlreadyExists:
				if !uncertain {
					w.fail("admin: create %s: TOPIC_ALREADY_EXISTS for a name never used before", t.name)
					return
				}
				// An earlier attempt of this create committed.
				t.status = topicLive
				t.createdAt = w.s.now
				return
			}
			// Retry: a definite refusal (no connection, too few brokers
			// unfenced yet) keeps the create certain, anything else may
			// have committed.
			definite := err == errNotSent || code == errCodeInvalidReplicationFactor
			uncertain = uncertain || !definite
			if attempt+1 >= 20 || w.workloadStopped {
				w.logf("admin: create %s: giving up (error %d, %v)", t.name, code, err)
				return
			}
			w.s.after(250*Millisecond, "admin-create-retry", func() { a.createAttempt(t, req, attempt+1, uncertain) })
		})
	})
}

// grow adds partitions to a live topic (CreatePartitions). Producers and
// consumers use the new partitions once the answer is ok; until then the
// topic may have either count.
func (a *admin) grow(t *simTopic) {
	w := a.c.w
	r := a.c.rng
	target := t.partitions + int32(r.Range(1, 2))
	t.maxPartitions = max(t.maxPartitions, target)
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Version = int16(r.Range(0, 3))
	req.TimeoutMillis = 5000
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic = t.name
	rt.Count = target
	req.Topics = append(req.Topics, rt)
	a.c.do(a.c.route.controllerID(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if err != nil {
			a.c.route.invalidate()
			return
		}
		cr := resp.(*kmsg.CreatePartitionsResponse)
		if len(cr.Topics) == 1 && routingError(cr.Topics[0].ErrorCode) {
			a.c.route.invalidate()
		}
		if len(cr.Topics) == 1 && cr.Topics[0].ErrorCode == 0 && target > t.partitions {
			t.partitions = target
			t.grows = append(t.grows, topicGrow{count: target, at: w.s.now})
		}
	})
}

// alter changes a log setting of a live topic (IncrementalAlterConfigs):
// it reaches open logs at once and must change nothing a client sees.
func (a *admin) alter(t *simTopic) {
	w := a.c.w
	r := a.c.rng
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Version = int16(r.Range(0, 1))
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeTopic
	res.ResourceName = t.name
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	switch r.Intn(3) {
	case 0:
		c.Name, c.Value = "segment.bytes", kmsg.StringPtr(fmt.Sprint(pick(r, []int{512, 4096, 1 << 20})))
	case 1:
		c.Name, c.Value = "segment.ms", kmsg.StringPtr(fmt.Sprint(pick(r, []int{1000, 60000})))
	default:
		c.Name, c.Value = "index.interval.bytes", kmsg.StringPtr(fmt.Sprint(pick(r, []int{64, 4096})))
	}
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	a.c.do(a.c.route.controllerID(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if err != nil {
			a.c.route.invalidate()
		} else if ar := resp.(*kmsg.IncrementalAlterConfigsResponse); len(ar.Resources) == 1 && routingError(ar.Resources[0].ErrorCode) {
			a.c.route.invalidate()
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
	a.c.do(a.c.route.controllerID(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if err != nil {
			a.c.route.invalidate()
			return
		}
		dr := resp.(*kmsg.DeleteTopicsResponse)
		if len(dr.Topics) == 1 && dr.Topics[0].ErrorCode == 0 {
			t.status = topicDeleted
			t.deletedAt = w.s.now
		} else if len(dr.Topics) == 1 && routingError(dr.Topics[0].ErrorCode) {
			a.c.route.invalidate()
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
	a.c.do(a.c.route.anyNode(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if err != nil {
			if done != nil {
				done(nil)
			}
			return
		}
		mr := resp.(*kmsg.MetadataResponse)
		if w.cluster() {
			if req.Version >= 1 {
				a.c.route.learn(mr)
			}
			a.checkClusterListing(mr)
			if done != nil {
				done(nil)
			}
			return
		}
		listed := map[string]int32{}
		for _, t := range mr.Topics {
			if t.Topic == nil || t.ErrorCode != 0 || internalTopic(*t.Topic) {
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
			case listed[n] < t.partitionsAt(call) || listed[n] > t.maxPartitions:
				w.fail("metadata check: topic %s has %d partitions, want %d to %d", n, listed[n], t.partitionsAt(call), t.maxPartitions)
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

// checkClusterListing checks a cluster's Metadata answer against what
// holds whatever node answered: any node may lag the metadata log, so
// only a topic that was never created, or more partitions than were ever
// asked for, is wrong. (The committed log itself is checked against the
// acknowledged creates and deletes at the end: checkFinalTopics.)
func (a *admin) checkClusterListing(mr *kmsg.MetadataResponse) {
	w := a.c.w
	for _, t := range mr.Topics {
		if t.Topic == nil || t.ErrorCode != 0 || internalTopic(*t.Topic) {
			continue // the internal topic is the group coordinators' (groups.go)
		}
		st := w.reg.byName[*t.Topic]
		switch {
		case st == nil:
			w.fail("metadata check: topic %s listed but never created", *t.Topic)
		case int32(len(t.Partitions)) > st.maxPartitions:
			w.fail("metadata check: topic %s has %d partitions, at most %d were ever asked for", *t.Topic, len(t.Partitions), st.maxPartitions)
		}
	}
}
