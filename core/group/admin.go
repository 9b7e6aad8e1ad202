package group

import (
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups describes the named groups. Member metadata and
// assignments are shown only for a Stable group, as in Kafka.
func (s *Shard) DescribeGroups(nowMs int64, ref ReplyRef, req *kmsg.DescribeGroupsRequest) Out {
	r := kmsg.NewPtrDescribeGroupsResponse()
	r.Version = req.Version
	for _, id := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = id
		g := s.groups[id]
		switch {
		case id == "":
			rg.ErrorCode = kerr.InvalidGroupID.Code
		case g == nil:
			rg.State = "Dead"
			if req.Version >= 6 {
				rg.ErrorCode = kerr.GroupIDNotFound.Code
				msg := "group " + id + " not found"
				if s.cgroups[id] != nil {
					// As Kafka: DescribeGroups serves classic groups only.
					msg = "group " + id + " is not a classic group"
				}
				rg.ErrorMessage = &msg
			}
		default:
			rg.State = g.state.String()
			rg.ProtocolType = g.protocolType
			stable := g.state == stateStable
			if stable {
				rg.Protocol = g.protocol
			}
			for _, m := range g.sortedMembers() {
				rm := kmsg.NewDescribeGroupsResponseGroupMember()
				rm.MemberID, rm.ClientID, rm.ClientHost = m.id, m.clientID, m.clientHost
				if req.Version >= 4 {
					rm.InstanceID = m.instanceID
				}
				rm.ProtocolMetadata, rm.MemberAssignment = []byte{}, []byte{}
				if stable {
					rm.ProtocolMetadata = m.metadataFor(g.protocol)
					if m.assignment != nil {
						rm.MemberAssignment = m.assignment
					}
				}
				rg.Members = append(rg.Members, rm)
			}
		}
		r.Groups = append(r.Groups, rg)
	}
	return Out{Replies: []Reply{{ref, r}}}
}

// ListGroups lists this shard's groups (sorted by id) that pass the state
// and type filters (case-insensitive, as in Kafka); the broker merges the
// shards' lists.
func (s *Shard) ListGroups(nowMs int64, ref ReplyRef, req *kmsg.ListGroupsRequest) Out {
	r := kmsg.NewPtrListGroupsResponse()
	r.Version = req.Version
	matches := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	for _, g := range s.sortedGroups() {
		if req.Version >= 4 && !matches(req.StatesFilter, g.state.String()) {
			continue
		}
		if req.Version >= 5 && !matches(req.TypesFilter, GroupTypeClassic) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType = g.id, g.protocolType
		if req.Version >= 4 {
			lg.GroupState = g.state.String()
		}
		if req.Version >= 5 {
			lg.GroupType = GroupTypeClassic
		}
		r.Groups = append(r.Groups, lg)
	}
	for _, g := range s.cgroupsSorted() {
		if req.Version >= 4 && !matches(req.StatesFilter, g.stateName()) {
			continue
		}
		if req.Version >= 5 && !matches(req.TypesFilter, GroupTypeConsumer) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType = g.id, "consumer"
		if req.Version >= 4 {
			lg.GroupState = g.stateName()
		}
		if req.Version >= 5 {
			lg.GroupType = GroupTypeConsumer
		}
		r.Groups = append(r.Groups, lg)
	}
	sort.SliceStable(r.Groups, func(i, j int) bool { return r.Groups[i].Group < r.Groups[j].Group })
	return Out{Replies: []Reply{{ref, r}}}
}

// DeleteGroups deletes empty groups with their offsets: tombstones for each
// offset and then the group's metadata; the answer waits for them.
func (s *Shard) DeleteGroups(nowMs int64, ref ReplyRef, req *kmsg.DeleteGroupsRequest) Out {
	var b outBuf
	r := kmsg.NewPtrDeleteGroupsResponse()
	r.Version = req.Version
	b.reply(ref, r)
	for _, id := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		g := s.groups[id]
		switch {
		case id == "":
			rg.ErrorCode = kerr.InvalidGroupID.Code
		case s.cgroups[id] != nil && len(s.cgroups[id].members) > 0:
			rg.ErrorCode = kerr.NonEmptyGroup.Code
		case s.cgroups[id] != nil && s.writesFull():
			rg.ErrorCode = kerr.CoordinatorNotAvailable.Code
		case s.cgroups[id] != nil:
			s.deleteCGroup(s.cgroups[id], &b)
		case g == nil:
			rg.ErrorCode = kerr.GroupIDNotFound.Code
		case g.state != stateEmpty || len(g.pending) > 0:
			rg.ErrorCode = kerr.NonEmptyGroup.Code
		case s.writesFull():
			rg.ErrorCode = kerr.CoordinatorNotAvailable.Code
		default:
			s.deleteGroup(g, &b)
		}
		r.Groups = append(r.Groups, rg)
	}
	return s.finish(&b)
}

// deleteGroup writes tombstones for g's committed and pending offsets and
// its metadata, and drops it.
func (s *Shard) deleteGroup(g *group, b *outBuf) {
	s.tombstoneOffsets(g.id, b)
	b.recs = append(b.recs, Record{Key: groupKey(g.id)})
	s.dropGroup(g.id)
}

// deleteCGroup deletes an empty KIP-848 group: its offsets, its target
// assignment metadata and its group metadata (Kafka's order).
func (s *Shard) deleteCGroup(g *cgroup, b *outBuf) {
	s.tombstoneOffsets(g.id, b)
	b.recs = append(b.recs, Record{Key: cgTargetMetaKey(g.id)}, Record{Key: cgMetaKey(g.id)})
	delete(s.cgroups, g.id)
}

// tombstoneOffsets writes tombstones for group id's committed, pending
// and staged transactional offsets.
func (s *Shard) tombstoneOffsets(id string, b *outBuf) {
	offs := s.offsets[id]
	keys := make([]tp, 0, len(offs))
	for k := range offs {
		keys = append(keys, k)
	}
	for k := range s.pendingKeys(id) {
		if _, ok := offs[k]; !ok {
			keys = append(keys, k)
		}
	}
	for k := range s.openTxns[id] {
		// Staged transactional offsets go too (Kafka's deleteAllOffsets).
		_, committed := offs[k]
		if !committed && s.pendingKeys(id)[k] == 0 {
			keys = append(keys, k)
		}
	}
	sortTPs(keys)
	for _, k := range keys {
		b.recs = append(b.recs, Record{Key: offsetKey(id, k)})
		b.ops = append(b.ops, offsetOp{group: id, tp: k})
	}
}
