package group

// Transactional offset commits (TxnOffsetCommit, KIP-98 and KIP-447), as
// Kafka's new group coordinator keeps them:
//
//   - A TxnOffsetCommit writes ordinary OffsetCommit records, as one
//     transactional batch carrying the producer's id and epoch (Out.Txn).
//   - Once that write commits (or when replay meets such a batch), its
//     offsets are staged for the producer: OffsetFetch does not return
//     them, and one with RequireStable answers UNSTABLE_OFFSET_COMMIT for
//     their partitions.
//   - The producer's end-transaction marker in this partition
//     (ReplayEndTxn, live once the marker is committed, or on replay)
//     applies them on commit, each only over an older committed offset
//     (Kafka compares the records' log offsets), or drops them on abort.
//   - A tombstone of a partition (OffsetDelete, DeleteGroups, expiry)
//     drops the staged offsets of that partition too; those commands and
//     expiry treat a partition with staged offsets as they treat one with
//     an uncommitted write.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
)

// TxnOffsetCommit handles a TxnOffsetCommit request (v0-v5): the offsets
// are written as a transactional batch of the request's producer and
// staged once it commits; the answer waits for the write, as Kafka's
// does. From v3 the request names the member, fenced as an OffsetCommit
// is (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID; for a
// KIP-848 group the generation is the member epoch), except that a
// transactional commit is taken while a classic group rebalances and
// from a member-less request in any state, as in Kafka. Verifying that
// the producer's transaction holds the group (KIP-890) is the
// transaction coordinator's business; the log refuses a producer epoch
// older than one it has seen.
func (s *Shard) TxnOffsetCommit(nowMs int64, ref ReplyRef, req *kmsg.TxnOffsetCommitRequest) Out {
	defer s.refresh(req.Group)
	var b outBuf
	r := kmsg.NewPtrTxnOffsetCommitResponse()
	r.Version = req.Version
	b.reply(ref, r)
	code := s.txnCommitError(nowMs, req)
	if code == 0 && s.writesFull() {
		code = kerr.CoordinatorNotAvailable.Code
	}
	room := s.cfg.MaxTxnOffsets - s.nStaged - s.txnInFlight
	for _, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = code
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			switch {
			case rp.ErrorCode != 0:
			case len(md) > s.cfg.OffsetMetadataMaxBytes:
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			case room <= 0:
				rp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			default:
				room--
				o := offset{offset: p.Offset, leaderEpoch: -1, metadata: md, commitMs: nowMs}
				if req.Version >= 2 {
					o.leaderEpoch = p.LeaderEpoch
				}
				key := tp{t.Topic, p.Partition}
				b.recs = append(b.recs, Record{Key: offsetKey(req.Group, key), Value: offsetValue(o)})
				b.ops = append(b.ops, offsetOp{group: req.Group, tp: key, val: &o, txn: true, pid: req.ProducerID})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	if len(b.recs) > 0 {
		b.txn, b.pid, b.epoch = true, req.ProducerID, req.ProducerEpoch
	}
	return s.finish(&b)
}

// txnCommitError returns the error of a TxnOffsetCommit for the whole
// request (0 when it may proceed), creating the group of a simple
// consumer, by Kafka's validateTransactionalOffsetCommit.
func (s *Shard) txnCommitError(nowMs int64, req *kmsg.TxnOffsetCommitRequest) int16 {
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	if req.ProducerID < 0 || req.ProducerEpoch < 0 {
		// No transactional batch can carry it (the log would refuse
		// it): Kafka's transaction verification answers so.
		return kerr.InvalidProducerIDMapping.Code
	}
	generation, memberID, instanceID := req.Generation, req.MemberID, req.InstanceID
	if req.Version < 3 {
		generation, memberID, instanceID = -1, "", nil
	}
	if cg := s.cgroups[req.Group]; cg != nil {
		code := s.consumerOffsetError(req.Version, cg, memberID, generation, 0)
		if code == kerr.StaleMemberEpoch.Code {
			// Kafka answers an older member epoch with ILLEGAL_GENERATION
			// here: transactional clients know no epochs.
			code = kerr.IllegalGeneration.Code
			if bugs.MemberEpochCheckSkipped { // deliberate bug (core/bugs): an older epoch's commit applied
				code = 0
			}
		}
		return code
	}
	g := s.groups[req.Group]
	if g == nil {
		if generation >= 0 {
			return kerr.IllegalGeneration.Code
		}
		if len(s.groups)+len(s.cgroups) >= s.cfg.MaxGroups {
			return kerr.CoordinatorNotAvailable.Code
		}
		g = newGroup(req.Group)
		g.stateSinceMs = nowMs
		s.groups[req.Group] = g
		return 0
	}
	if generation < 0 && g.state == stateEmpty {
		return 0
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if code := g.validateMember(memberID, instanceID); code != 0 {
			return code
		}
		if generation != g.generation && !bugs.GenerationCheckSkipped { // !bugs.GenerationCheckSkipped: deliberate bug (core/bugs)
			return kerr.IllegalGeneration.Code
		}
	}
	return 0
}

// stage keeps o as producer pid's transactional offset of group's
// partition k, replacing one it staged before.
func (s *Shard) stage(pid int64, group string, k tp, o offset) {
	if s.groups[group] == nil && s.cgroups[group] == nil {
		// Kafka creates the simple group at replay too.
		s.groups[group] = newGroup(group)
	}
	byGroup := s.staged[pid]
	if byGroup == nil {
		byGroup = map[string]map[tp]offset{}
		s.staged[pid] = byGroup
	}
	offs := byGroup[group]
	if offs == nil {
		offs = map[tp]offset{}
		byGroup[group] = offs
	}
	if _, ok := offs[k]; !ok {
		s.nStaged++
	}
	offs[k] = o
	open := s.openTxns[group]
	if open == nil {
		open = map[tp]map[int64]bool{}
		s.openTxns[group] = open
	}
	if open[k] == nil {
		open[k] = map[int64]bool{}
	}
	open[k][pid] = true
}

// unstage drops every staged offset of group's partition k.
func (s *Shard) unstage(group string, k tp) {
	for pid := range s.openTxns[group][k] {
		s.dropStaged(pid, group, k)
	}
	if open := s.openTxns[group]; open != nil {
		delete(open, k)
		if len(open) == 0 {
			delete(s.openTxns, group)
		}
	}
}

// dropStaged removes pid's staged offset of group's partition k from
// s.staged (the caller fixes openTxns).
func (s *Shard) dropStaged(pid int64, group string, k tp) {
	offs := s.staged[pid][group]
	if _, ok := offs[k]; !ok {
		return
	}
	delete(offs, k)
	s.nStaged--
	if len(offs) == 0 {
		delete(s.staged[pid], group)
		if len(s.staged[pid]) == 0 {
			delete(s.staged, pid)
		}
	}
}

// ReplayEndTxn applies producerID's end-transaction marker: on commit
// its staged offsets become committed, each only where no offset written
// after it is committed; on abort they are dropped. A marker for a
// producer with nothing staged changes nothing. The runtime calls it for
// every marker of the log while loading, and once a marker it wrote is
// committed.
func (s *Shard) ReplayEndTxn(producerID int64, producerEpoch int16, commit bool) {
	byGroup := s.staged[producerID]
	if byGroup == nil {
		return
	}
	delete(s.staged, producerID)
	for group, offs := range byGroup {
		s.nStaged -= len(offs)
		open := s.openTxns[group]
		for k, o := range offs {
			delete(open[k], producerID)
			if len(open[k]) == 0 {
				delete(open, k)
			}
			if !commit {
				continue
			}
			if cur, ok := s.offsets[group][k]; ok && cur.seq > o.seq {
				continue // a plain commit written after it wins, as in Kafka
			}
			s.setOffset(group, k, &o)
		}
		if len(open) == 0 {
			delete(s.openTxns, group)
		}
	}
}

// unstable reports whether group's partition k has a staged
// transactional offset (OffsetFetch with RequireStable).
func (s *Shard) unstable(group string, k tp) bool { return len(s.openTxns[group][k]) > 0 }

// hasStaged reports whether group has any staged transactional offset.
func (s *Shard) hasStaged(group string) bool { return len(s.openTxns[group]) > 0 }

// checkTxnInvariants checks the staged offsets against their indexes and
// counts.
func (s *Shard) checkTxnInvariants() error {
	n := 0
	for pid, byGroup := range s.staged {
		if len(byGroup) == 0 {
			return fmt.Errorf("group: producer %d stages an empty set", pid)
		}
		for group, offs := range byGroup {
			if len(offs) == 0 {
				return fmt.Errorf("group: producer %d stages no offset of %q", pid, group)
			}
			for k := range offs {
				if !s.openTxns[group][k][pid] {
					return fmt.Errorf("group %q: producer %d's staged offset of %s[%d] not indexed", group, pid, k.topic, k.partition)
				}
			}
			n += len(offs)
		}
	}
	if n != s.nStaged {
		return fmt.Errorf("group: %d staged offsets, %d counted", n, s.nStaged)
	}
	idx := 0
	for group, open := range s.openTxns {
		if len(open) == 0 {
			return fmt.Errorf("group %q: empty open-transaction index", group)
		}
		for k, pids := range open {
			if len(pids) == 0 {
				return fmt.Errorf("group %q: %s[%d] indexed without producers", group, k.topic, k.partition)
			}
			for pid := range pids {
				if _, ok := s.staged[pid][group][k]; !ok {
					return fmt.Errorf("group %q: %s[%d] indexed for producer %d, which stages nothing there", group, k.topic, k.partition, pid)
				}
				idx++
			}
		}
	}
	if idx != n {
		return fmt.Errorf("group: %d staged offsets, %d indexed", n, idx)
	}
	inFlight := 0
	for _, pw := range s.writes {
		for _, op := range pw.ops {
			if op.txn {
				inFlight++
			}
		}
	}
	if inFlight != s.txnInFlight {
		return fmt.Errorf("group: %d transactional offsets being written, %d counted", inFlight, s.txnInFlight)
	}
	return nil
}
