package sim

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// router is a client's view of a cluster, as a Kafka client keeps it:
// the leader and leader epoch of each partition and the controller, all
// learned from Metadata answered by any broker, which may be stale. A
// request routed by a stale view gets NOT_LEADER_OR_FOLLOWER,
// FENCED_LEADER_EPOCH, NOT_CONTROLLER and the like; the client then asks
// for Metadata again (refresh) and retries. On a single node everything
// goes to node 1 and nothing is ever asked.
type router struct {
	c          *client
	parts      map[lin.TopicPartition]route
	controller int32
	refreshing bool
	waiters    []func()
	// stale marks a view that a request found wrong: the next use
	// refreshes it first.
	stale bool
}

// route is where a partition lives, as far as the client knows.
type route struct {
	leader int32 // -1: none known
	epoch  int32
}

func newRouter(c *client) *router {
	return &router{c: c, parts: map[lin.TopicPartition]route{}, controller: -1}
}

func (r *router) single() bool { return len(r.c.w.nodes) == 1 }

// leader returns the leader and leader epoch the client believes tp has,
// or -1 for none.
func (r *router) leader(tp lin.TopicPartition) (int32, int32) {
	if r.single() {
		return 1, -1
	}
	if rt, ok := r.parts[tp]; ok {
		return rt.leader, rt.epoch
	}
	return -1, -1
}

// controllerID is the controller as the client believes it, or -1.
func (r *router) controllerID() int32 {
	if r.single() {
		return 1
	}
	return r.controller
}

// anyNode picks a broker for requests any broker answers (Metadata,
// InitProducerId).
func (r *router) anyNode() int32 {
	if r.single() {
		return 1
	}
	return int32(r.c.rng.Intn(len(r.c.w.nodes))) + 1
}

// invalidate marks the view wrong after a routing error or a failed
// request: the next ready call refreshes it.
func (r *router) invalidate() {
	if !r.single() {
		r.stale = true
	}
}

// ready calls fn once the view is usable: at once if it is not known to
// be stale, else after a refresh (whatever its outcome).
func (r *router) ready(fn func()) {
	if r.single() || !r.stale {
		fn()
		return
	}
	r.refresh(fn)
}

// refresh asks a random broker for the metadata of every topic, or (half
// the time, as a client that asks only for the topics it uses) of every
// topic the workload ever created or tried to, by name, and rebuilds the
// view from the answer; fn, if set, runs when it is over. Concurrent
// refreshes share one request.
func (r *router) refresh(fn func()) {
	if fn != nil {
		r.waiters = append(r.waiters, fn)
	}
	if r.refreshing {
		return
	}
	r.refreshing = true
	c := r.c
	w := c.w
	req := kmsg.NewPtrMetadataRequest()
	req.Version = int16(c.rng.Range(7, 12)) // v7+ carries leader epochs
	if c.rng.Chance(0.5) && len(w.reg.topics) > 0 {
		// Named topics: a topic this broker does not know is answered
		// UNKNOWN_TOPIC_OR_PARTITION (judged by the catch-up rule).
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, t := range w.reg.topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t.name)
			req.Topics = append(req.Topics, rt)
		}
	}
	c.do(r.anyNode(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		r.refreshing = false
		if err == nil {
			r.learn(resp.(*kmsg.MetadataResponse))
		}
		waiters := r.waiters
		r.waiters = nil
		for _, fn := range waiters {
			fn()
		}
	})
}

// learn rebuilds the view from a Metadata answer.
func (r *router) learn(mr *kmsg.MetadataResponse) {
	r.stale = false
	r.controller = mr.ControllerID
	clear(r.parts)
	for _, t := range mr.Topics {
		if t.Topic == nil || t.ErrorCode != 0 {
			continue
		}
		for _, p := range t.Partitions {
			rt := route{leader: p.Leader, epoch: p.LeaderEpoch}
			if p.ErrorCode != 0 {
				rt.leader = -1
			}
			r.parts[lin.TopicPartition{Topic: *t.Topic, Partition: p.Partition}] = rt
		}
	}
}

// Kafka error codes that say the client's view of the cluster is wrong.
const (
	errCodeLeaderNotAvailable       = 5
	errCodeNotLeader                = 6
	errCodeNotEnoughReplicas        = 19
	errCodeNotEnoughAfter           = 20
	errCodeNotController            = 41
	errCodeInvalidReplicationFactor = 38
	errCodeStorage                  = 56
	errCodeFencedEpoch              = 74
	errCodeUnknownEpoch             = 76
)

// routingError reports whether code calls for a metadata refresh.
func routingError(code int16) bool {
	switch code {
	case errCodeUnknownTopicPartition, errCodeLeaderNotAvailable, errCodeNotLeader, errCodeNotController,
		errCodeStorage, errCodeFencedEpoch, errCodeUnknownEpoch, errCodeNotEnoughReplicas, errCodeNotEnoughAfter:
		return true
	}
	return false
}
