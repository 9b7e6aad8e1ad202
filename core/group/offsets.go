package group

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
)

// pendingKeys returns the partitions of group id with an uncommitted
// offset write (a commit or a tombstone), each with the number of such
// writes. The map is the shard's own: callers only read it.
func (s *Shard) pendingKeys(id string) map[tp]int { return s.pendingOps[id] }

// commitError returns the error of an OffsetCommit for the whole request
// (0 when it may proceed), creating the group of a simple consumer.
func (s *Shard) commitError(nowMs int64, req *kmsg.OffsetCommitRequest) (*group, int16) {
	if req.Group == "" {
		return nil, kerr.InvalidGroupID.Code
	}
	if cg := s.cgroups[req.Group]; cg != nil {
		// The offsets of a KIP-848 group are keyed by its id like any
		// other's; the classic group returned only names them and is
		// not registered in s.groups.
		code := s.consumerOffsetError(req.Version, cg, req.MemberID, req.Generation, 9)
		if code == kerr.StaleMemberEpoch.Code && bugs.MemberEpochCheckSkipped { // deliberate bug (core/bugs): an older epoch's commit applied
			code = 0
		}
		return &group{id: cg.id, heapIdx: -1}, code
	}
	g := s.groups[req.Group]
	generation, memberID := req.Generation, req.MemberID
	if req.Version == 0 {
		generation, memberID = -1, ""
	}
	if g == nil {
		if generation >= 0 {
			// Kafka: from v9 the group's absence is named; older clients
			// get ILLEGAL_GENERATION, as a stale member would.
			if req.Version >= 9 {
				return nil, kerr.GroupIDNotFound.Code
			}
			return nil, kerr.IllegalGeneration.Code
		}
		if len(s.groups)+len(s.cgroups) >= s.cfg.MaxGroups {
			return nil, kerr.CoordinatorNotAvailable.Code
		}
		g = newGroup(req.Group)
		g.stateSinceMs = nowMs
		s.groups[req.Group] = g
		return g, 0
	}
	if generation < 0 && g.state == stateEmpty {
		return g, 0 // no group management (an admin client or a simple consumer)
	}
	if generation < 0 && memberID == "" && req.InstanceID == nil {
		// Without a member, commits are taken only while the group is Empty.
		return g, kerr.UnknownMemberID.Code
	}
	if code := g.validateMember(memberID, req.InstanceID); code != 0 {
		return g, code
	}
	m := g.members[memberID]
	if generation != g.generation && !bugs.GenerationCheckSkipped { // !bugs.GenerationCheckSkipped: deliberate bug (core/bugs)
		return g, kerr.IllegalGeneration.Code
	}
	if g.state == stateCompleting {
		return g, kerr.RebalanceInProgress.Code
	}
	m.lastSeenMs = nowMs
	return g, 0
}

// OffsetCommit handles an OffsetCommit request (topics by name; for v10 the
// broker fills each topic's name from its id before the call). Offsets go
// to a pending layer and become visible to OffsetFetch at CommitWrite; the
// answer waits for the write, as Kafka's does.
func (s *Shard) OffsetCommit(nowMs int64, ref ReplyRef, req *kmsg.OffsetCommitRequest) Out {
	defer s.refresh(req.Group)
	var b outBuf
	r := kmsg.NewPtrOffsetCommitResponse()
	r.Version = req.Version
	b.reply(ref, r)
	g, code := s.commitError(nowMs, req)
	if code == 0 && s.writesFull() {
		code = kerr.CoordinatorNotAvailable.Code
	}
	var pending map[tp]int
	added := map[tp]bool{}
	count := 0
	if g != nil {
		pending = s.pendingKeys(g.id)
		count = len(s.offsets[g.id])
		for k := range pending {
			if _, ok := s.offsets[g.id][k]; !ok {
				count++
			}
		}
	}
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		if req.Version >= 10 {
			rt.TopicID = t.TopicID
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = code
			key := tp{t.Topic, p.Partition}
			if code == 0 {
				_, known := s.offsets[g.id][key]
				if !known && pending[key] == 0 && !added[key] && count >= s.cfg.MaxOffsetsPerGroup {
					rp.ErrorCode = kerr.CoordinatorNotAvailable.Code
				}
			}
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			if rp.ErrorCode == 0 && len(md) > s.cfg.OffsetMetadataMaxBytes {
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			}
			if rp.ErrorCode == 0 {
				o := offset{offset: p.Offset, leaderEpoch: -1, metadata: md, commitMs: nowMs}
				if req.Version >= 6 {
					o.leaderEpoch = p.LeaderEpoch
				}
				if _, known := s.offsets[g.id][key]; !known && pending[key] == 0 && !added[key] {
					count++
					added[key] = true
				}
				b.recs = append(b.recs, Record{Key: offsetKey(g.id, key), Value: offsetValue(o)})
				b.ops = append(b.ops, offsetOp{group: g.id, tp: key, val: &o})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	return s.finish(&b)
}

// OffsetFetch answers from committed offsets only (staged transactional
// offsets are not). Versions 8+ may name several groups (the broker
// normally splits them by shard). With RequireStable (v7+) a partition
// with a staged transactional offset answers UNSTABLE_OFFSET_COMMIT, per
// partition in every version, as Kafka does.
func (s *Shard) OffsetFetch(nowMs int64, ref ReplyRef, req *kmsg.OffsetFetchRequest) Out {
	r := kmsg.NewPtrOffsetFetchResponse()
	r.Version = req.Version
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			out := kmsg.NewOffsetFetchResponseGroup()
			out.Group = rg.Group
			var topics []fetchTopic
			if rg.Topics != nil {
				topics = make([]fetchTopic, len(rg.Topics))
				for i, t := range rg.Topics {
					topics[i] = fetchTopic{t.Topic, t.TopicID, t.Partitions}
				}
			}
			res, code := s.fetchOffsets(rg.Group, topics, rg.Topics == nil, req.RequireStable)
			if cg := s.cgroups[rg.Group]; cg != nil && req.Version >= 9 && rg.MemberID != nil {
				if c := s.consumerOffsetError(req.Version, cg, *rg.MemberID, rg.MemberEpoch, 9); c != 0 {
					res, code = nil, c
				}
			}
			out.ErrorCode = code
			for _, t := range res {
				ot := kmsg.NewOffsetFetchResponseGroupTopic()
				ot.Topic = t.topic
				if req.Version >= 10 {
					ot.TopicID = t.id
				}
				for _, p := range t.parts {
					op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					op.Partition, op.Offset, op.LeaderEpoch, op.ErrorCode = p.partition, p.offset, p.leaderEpoch, p.code
					md := p.metadata
					op.Metadata = &md
					ot.Partitions = append(ot.Partitions, op)
				}
				out.Topics = append(out.Topics, ot)
			}
			r.Groups = append(r.Groups, out)
		}
		return Out{Replies: []Reply{{ref, r}}}
	}
	var topics []fetchTopic
	if req.Topics != nil {
		topics = make([]fetchTopic, len(req.Topics))
		for i, t := range req.Topics {
			topics[i] = fetchTopic{topic: t.Topic, parts: t.Partitions}
		}
	}
	res, code := s.fetchOffsets(req.Group, topics, req.Topics == nil && req.Version >= 2, req.RequireStable && req.Version >= 7)
	if req.Version >= 2 {
		r.ErrorCode = code
	}
	for _, t := range res {
		ot := kmsg.NewOffsetFetchResponseTopic()
		ot.Topic = t.topic
		for _, p := range t.parts {
			op := kmsg.NewOffsetFetchResponseTopicPartition()
			op.Partition, op.Offset, op.ErrorCode = p.partition, p.offset, p.code
			if req.Version >= 5 {
				op.LeaderEpoch = p.leaderEpoch
			}
			md := p.metadata
			op.Metadata = &md
			if req.Version < 2 && code != 0 {
				op.ErrorCode = code
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		r.Topics = append(r.Topics, ot)
	}
	return Out{Replies: []Reply{{ref, r}}}
}

type fetchTopic struct {
	topic string
	id    [16]byte
	parts []int32
}

type fetchedPart struct {
	partition   int32
	offset      int64
	leaderEpoch int32
	metadata    string
	code        int16
}

type fetchedTopic struct {
	topic string
	id    [16]byte
	parts []fetchedPart
}

// fetchOffsets reads group's committed offsets for topics, or all of them
// (sorted by topic and partition) when all is set. With stable
// (RequireStable, v7+), a partition with a staged transactional offset
// answers UNSTABLE_OFFSET_COMMIT and no offset, as Kafka's does: the
// client retries until the transaction ends.
func (s *Shard) fetchOffsets(groupID string, topics []fetchTopic, all, stable bool) ([]fetchedTopic, int16) {
	offs := s.offsets[groupID]
	var out []fetchedTopic
	get := func(k tp) fetchedPart {
		if stable && s.unstable(groupID, k) {
			return fetchedPart{partition: k.partition, offset: -1, leaderEpoch: -1, code: kerr.UnstableOffsetCommit.Code}
		}
		if o, ok := offs[k]; ok {
			if bugs.OffsetFetchSkipsAhead { // deliberate bug (core/bugs): the answer counts the commit one record too far
				o.offset++
			}
			return fetchedPart{partition: k.partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata}
		}
		return fetchedPart{partition: k.partition, offset: -1, leaderEpoch: -1}
	}
	if all {
		keys := make([]tp, 0, len(offs))
		for k := range offs {
			keys = append(keys, k)
		}
		sortTPs(keys)
		for _, k := range keys {
			if len(out) == 0 || out[len(out)-1].topic != k.topic {
				out = append(out, fetchedTopic{topic: k.topic})
			}
			last := &out[len(out)-1]
			last.parts = append(last.parts, get(k))
		}
		return out, 0
	}
	for _, t := range topics {
		ft := fetchedTopic{topic: t.topic, id: t.id}
		for _, p := range t.parts {
			ft.parts = append(ft.parts, get(tp{t.topic, p}))
		}
		out = append(out, ft)
	}
	return out, 0
}

func sortTPs(keys []tp) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].partition < keys[j].partition
	})
}

// subscribedTopics returns the topics g's members subscribe to under the
// consumer protocol, and false when that is unknown (then every topic
// counts as subscribed, as in Kafka).
func (g *group) subscribedTopics() (map[string]bool, bool) {
	topics := map[string]bool{}
	if len(g.members) == 0 {
		return topics, true
	}
	if g.protocolType != "consumer" || g.protocol == "" {
		return nil, false
	}
	for _, m := range g.members {
		md := kmsg.NewConsumerMemberMetadata()
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil, false
		}
		for _, t := range md.Topics {
			topics[t] = true
		}
	}
	return topics, true
}

// OffsetDelete deletes committed offsets of partitions the group does not
// consume (GROUP_SUBSCRIBED_TO_TOPIC for the others).
func (s *Shard) OffsetDelete(nowMs int64, ref ReplyRef, req *kmsg.OffsetDeleteRequest) Out {
	var b outBuf
	r := kmsg.NewPtrOffsetDeleteResponse()
	r.Version = req.Version
	b.reply(ref, r)
	if req.Group == "" {
		r.ErrorCode = kerr.InvalidGroupID.Code
		return s.finish(&b)
	}
	g := s.groups[req.Group]
	switch {
	case g == nil:
		r.ErrorCode = kerr.GroupIDNotFound.Code
		return s.finish(&b)
	case g.state != stateEmpty && g.protocolType != "consumer":
		r.ErrorCode = kerr.NonEmptyGroup.Code
		return s.finish(&b)
	case s.writesFull():
		r.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return s.finish(&b)
	}
	subscribed, known := g.subscribedTopics()
	pending := s.pendingKeys(g.id)
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			key := tp{t.Topic, p.Partition}
			_, committed := s.offsets[g.id][key]
			switch {
			case !known || subscribed[t.Topic]:
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			case committed || pending[key] > 0 || s.unstable(g.id, key):
				// Kafka writes the tombstone for a staged
				// transactional offset too: it drops it.
				b.recs = append(b.recs, Record{Key: offsetKey(g.id, key)})
				b.ops = append(b.ops, offsetOp{group: g.id, tp: key})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	return s.finish(&b)
}

// consumerOffsetError validates an offset commit (or a fetch naming a
// member) against a KIP-848 group as Kafka does: without a member (epoch
// below 0) only while the group is empty; otherwise the member must exist
// (UNKNOWN_MEMBER_ID), use a version of at least minVersion
// (UNSUPPORTED_VERSION) and send its current epoch: a newer one is
// FENCED_MEMBER_EPOCH, an older one STALE_MEMBER_EPOCH.
func (s *Shard) consumerOffsetError(version int16, g *cgroup, memberID string, epoch int32, minVersion int16) int16 {
	if epoch < 0 && memberID == "" {
		if len(g.members) == 0 {
			return 0
		}
		return kerr.UnknownMemberID.Code
	}
	m := g.members[memberID]
	switch {
	case m == nil || m.leftStatic:
		return kerr.UnknownMemberID.Code
	case version < minVersion:
		return kerr.UnsupportedVersion.Code
	case epoch > m.epoch:
		return kerr.FencedMemberEpoch.Code
	case epoch < m.epoch:
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}
