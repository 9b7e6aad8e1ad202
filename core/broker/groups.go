package broker

// Consumer groups: the classic protocol's requests go to the group's
// coordinator shard (core/group), run by the coordinator runtime
// (core/coord) over __consumer_offsets. A group's shard is the one of its
// partition (coordinatorPartition); this broker takes a group request
// only while it leads that partition and the shard has loaded. Requests
// naming several groups (DescribeGroups, DeleteGroups, OffsetFetch v8+)
// are split by shard and their answers merged in request order.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/group"
)

// groupShard adapts a group.Shard to the runtime's Shard.
type groupShard struct{ *group.Shard }

func (g groupShard) CommitWrite(id uint64)        { g.Shard.CommitWrite(group.WriteID(id)) }
func (g groupShard) Tick(nowMs int64) coord.Write { return toWrite(g.Shard.Tick(nowMs)) }

// toWrite converts a shard's output to the runtime's.
func toWrite(out group.Out) coord.Write {
	w := coord.Write{ID: uint64(out.Write), Txn: out.Txn, ProducerID: out.ProducerID, ProducerEpoch: out.ProducerEpoch}
	if len(out.Records) > 0 {
		w.Records = make([]coord.Record, len(out.Records))
		for i, r := range out.Records {
			w.Records[i] = coord.Record{Key: r.Key, Value: r.Value}
		}
	}
	if len(out.Replies) > 0 {
		w.Replies = make([]coord.Reply, len(out.Replies))
		for i, r := range out.Replies {
			w.Replies[i] = coord.Reply{Ref: coord.ReplyRef(r.Ref), Resp: r.Resp}
		}
	}
	return w
}

// newGroupRuntime builds the group coordinators' runtime.
func (b *Broker) newGroupRuntime() (*coord.Runtime[groupShard], error) {
	cfg := b.cfg.GroupCoordinator
	return coord.New(coord.DefaultConfig(), coordHost{b: b, topic: offsetsTopic}, &b.codecs, func() groupShard {
		s := group.NewShard(cfg)
		// Member ids of this incarnation differ from those an earlier
		// one handed out and no record remembers (a failed append).
		s.SetMemberIDSalt(b.env.Random.Uint64())
		// KIP-848 groups resolve subscriptions against the live image.
		s.SetTopics(groupTopics{b})
		return groupShard{s}
	})
}

// groupRuntime is the runtime with its shard type.
func (b *Broker) groupRuntime() *coord.Runtime[groupShard] {
	return b.groupRT.(*coord.Runtime[groupShard])
}

// groupPartition returns the partition of __consumer_offsets holding
// groupID, or the error to answer with: COORDINATOR_NOT_AVAILABLE while
// the topic does not exist (its creation is started).
func (b *Broker) groupPartition(nowMs int64, groupID string) (int32, int16) {
	ts := b.topics[offsetsTopic]
	if ts == nil {
		b.ensureOffsetsTopic(nowMs)
		return 0, kerrCoordinatorNotAvailable
	}
	return coordinatorPartition(groupID, ts.meta.Partitions), kerrNone
}

// withGroup hands a request about one group to its shard: call runs the
// shard's handler with the reference its answer must carry, and the
// runtime carries out what it wrote. A group this broker does not
// coordinate, or whose shard is loading, gets groupErrorResponse.
func (b *Broker) withGroup(nowMs int64, req *Request, groupID string, call func(s *group.Shard, ref group.ReplyRef) group.Out) {
	b.withGroupThen(nowMs, req, groupID, call, nil)
}

// withGroupThen is withGroup with finish, when set, completing the
// shard's answer before it goes out.
func (b *Broker) withGroupThen(nowMs int64, req *Request, groupID string, call func(s *group.Shard, ref group.ReplyRef) group.Out, finish func(kmsg.Response) kmsg.Response) {
	var deliver func(kmsg.Response)
	if finish != nil {
		deliver = func(resp kmsg.Response) { b.reply(req, finish(resp)) }
	}
	p, code := b.groupPartition(nowMs, groupID)
	rt := b.groupRuntime()
	var s groupShard
	if code == kerrNone {
		s, code = rt.Admit(p)
	}
	if code != kerrNone {
		// The whole request's error (every topic it names), so finish,
		// which completes a shard's answer, has nothing to add.
		b.reply(req, groupErrorResponse(req.Msg, code))
		return
	}
	ref := b.coordWait(req, req.Msg, p, deliver)
	rt.Submit(nowMs, p, toWrite(call(s.Shard, group.ReplyRef(ref))))
	// The write touched the partition: its followers' long polls wake
	// now, as after a produce, not at their timeout.
	b.wakeFetches(nowMs)
}

// splitGroups hands a request naming several groups to their shards, one
// part per shard (sub builds the part naming some of the groups), and
// answers once every part has its answer: merge gets them in the order of
// the parts, which follows the groups' first appearance in groups.
func (b *Broker) splitGroups(nowMs int64, req *Request, groups []string,
	sub func(groups []string) kmsg.Request,
	call func(s *group.Shard, ref group.ReplyRef, part kmsg.Request) group.Out,
	merge func(parts []kmsg.Response) kmsg.Response,
) {
	rt := b.groupRuntime()
	partitionOf := func(g string) (int32, int16) { return b.groupPartition(nowMs, g) }
	sent := b.splitByShard(req, groups, partitionOf, sub, func(p int32, code int16, msg kmsg.Request, done func(kmsg.Response)) {
		var s groupShard
		if code == kerrNone {
			s, code = rt.Admit(p)
		}
		if code != kerrNone {
			done(groupErrorResponse(msg, code))
			return
		}
		ref := b.coordWait(req, msg, p, done)
		rt.Submit(nowMs, p, toWrite(call(s.Shard, group.ReplyRef(ref), msg)))
	}, merge)
	if sent {
		b.wakeFetches(nowMs) // the writes touched the partitions
	}
}

// clientID is the request's client id ("" when null).
func clientID(req *Request) string {
	if req.ClientID == nil {
		return ""
	}
	return *req.ClientID
}

// inRequestOrder gathers the per-group entries of the parts' answers
// (entries lists an answer's, groupOf names each) in the order the request
// named the groups, a name named twice taking its entries in turn.
func inRequestOrder[G any](names []string, parts []kmsg.Response, entries func(kmsg.Response) []G, groupOf func(G) string) []G {
	byGroup := map[string][]G{}
	for _, p := range parts {
		for _, g := range entries(p) {
			byGroup[groupOf(g)] = append(byGroup[groupOf(g)], g)
		}
	}
	var out []G
	for _, name := range names {
		if list := byGroup[name]; len(list) > 0 {
			out = append(out, list[0])
			byGroup[name] = list[1:]
		}
	}
	return out
}
