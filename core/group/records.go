package group

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Key versions of __consumer_offsets records (Kafka's formats): 0 and 1
// are offset commits, 2 is group metadata. Higher versions belong to other
// group types (KIP-848 consumer groups, share groups); this shard skips
// them on Replay.
const (
	offsetKeyVersion    = 1
	groupKeyVersion     = 2
	offsetValueVersion  = 3
	groupValueVersion   = 3
	maxKnownValueFormat = 4
)

// ErrBadRecord wraps every decoding failure of Replay.
var ErrBadRecord = errors.New("group: undecodable __consumer_offsets record")

func offsetKey(group string, p tp) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version = offsetKeyVersion
	k.Group, k.Topic, k.Partition = group, p.topic, p.partition
	return k.AppendTo(nil)
}

func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.offset, o.leaderEpoch, o.metadata, o.commitMs
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version = groupKeyVersion
	k.Group = group
	return k.AppendTo(nil)
}

// groupValue encodes g's durable part: its generation, protocol, leader and
// members with the metadata of the selected protocol and their assignment.
func groupValue(g *group) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateSinceMs
	for _, m := range g.sortedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.InstanceID = m.id, m.instanceID
		vm.ClientID, vm.ClientHost = m.clientID, m.clientHost
		vm.RebalanceTimeoutMillis, vm.SessionTimeoutMillis = m.rebalanceMs, m.sessionMs
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// Replay applies one committed record of the shard's partition, in log
// order, while loading. A nil value is a tombstone. Records of unknown key
// versions (other group types) are skipped; a record that does not decode
// returns an error wrapping ErrBadRecord and changes nothing.
func (s *Shard) Replay(key, value []byte) error {
	if len(key) < 2 {
		return fmt.Errorf("%w: key of %d bytes", ErrBadRecord, len(key))
	}
	switch ver := int16(binary.BigEndian.Uint16(key)); ver {
	case 0, 1:
		return s.replayOffset(key, value, false, -1)
	case groupKeyVersion:
		return s.replayGroup(key, value)
	case cgMetaKeyType, cgPartMetaKeyType, cgMemberKeyType, cgTargetKeyType, cgTargetMetaKeyType, cgCurrentKeyType:
		return s.replayConsumer(ver, key, value)
	default:
		if ver < 0 {
			return fmt.Errorf("%w: key version %d", ErrBadRecord, ver)
		}
		return nil
	}
}

// ReplayTxn is Replay for a record of a transactional batch of
// producerID: an offset commit is staged until the producer's marker
// (ReplayEndTxn). Other records (a tombstone, a record of another type,
// which Kafka never writes in a transaction) replay as Replay does.
func (s *Shard) ReplayTxn(producerID int64, key, value []byte) error {
	if len(key) >= 2 && value != nil {
		if ver := int16(binary.BigEndian.Uint16(key)); ver == 0 || ver == 1 {
			return s.replayOffset(key, value, true, producerID)
		}
	}
	return s.Replay(key, value)
}

func (s *Shard) replayOffset(key, value []byte, txn bool, pid int64) error {
	k := kmsg.NewOffsetCommitKey()
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("%w: offset key: %w", ErrBadRecord, err)
	}
	p := tp{k.Topic, k.Partition}
	if value == nil {
		s.applyOffset(k.Group, p, nil, false, -1)
		// A group known only by its offsets (a simple consumer's, never
		// written) ends with its last offset, as it does live.
		if g := s.groups[k.Group]; g != nil && !g.written && len(g.members) == 0 && len(s.offsets[k.Group]) == 0 && len(s.openTxns[k.Group]) == 0 {
			s.dropGroup(k.Group)
		}
		return nil
	}
	v := kmsg.NewOffsetCommitValue()
	if err := v.ReadFrom(value); err != nil {
		return fmt.Errorf("%w: offset value for %q %s[%d]: %w", ErrBadRecord, k.Group, k.Topic, k.Partition, err)
	}
	if v.Version < 0 || v.Version > maxKnownValueFormat {
		return fmt.Errorf("%w: offset value version %d", ErrBadRecord, v.Version)
	}
	o := offset{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitMs: v.CommitTimestamp}
	if v.Version >= 3 {
		o.leaderEpoch = v.LeaderEpoch
	}
	if v.Version == 1 {
		o.expireMs = v.ExpireTimestamp
	}
	if s.groups[k.Group] == nil && s.cgroups[k.Group] == nil {
		s.groups[k.Group] = newGroup(k.Group)
	}
	s.applyOffset(k.Group, p, &o, txn, pid)
	return nil
}

func (s *Shard) replayGroup(key, value []byte) error {
	k := kmsg.NewGroupMetadataKey()
	if err := k.ReadFrom(key); err != nil {
		return fmt.Errorf("%w: group key: %w", ErrBadRecord, err)
	}
	if value == nil {
		s.dropGroup(k.Group)
		return nil
	}
	v := kmsg.NewGroupMetadataValue()
	if err := v.ReadFrom(value); err != nil {
		return fmt.Errorf("%w: group value for %q: %w", ErrBadRecord, k.Group, err)
	}
	if v.Version < 0 || v.Version > maxKnownValueFormat {
		return fmt.Errorf("%w: group value version %d", ErrBadRecord, v.Version)
	}
	proto := ""
	if v.Protocol != nil {
		proto = *v.Protocol
	}
	members := make(map[string]*member, len(v.Members))
	statics := make(map[string]string)
	for i, vm := range v.Members {
		if vm.MemberID == "" || members[vm.MemberID] != nil {
			return fmt.Errorf("%w: group %q: empty or repeated member id %q", ErrBadRecord, k.Group, vm.MemberID)
		}
		m := &member{
			id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
			sessionMs: vm.SessionTimeoutMillis, rebalanceMs: vm.RebalanceTimeoutMillis,
			protocols:  []protocol{{name: proto, metadata: vm.Subscription}},
			assignment: vm.Assignment, joinSeq: uint64(i),
		}
		if m.sessionMs <= 0 {
			// Kafka never writes one; timers of zero length would fire
			// at every Tick.
			return fmt.Errorf("%w: group %q member %q: session timeout %d", ErrBadRecord, k.Group, vm.MemberID, m.sessionMs)
		}
		if m.rebalanceMs <= 0 {
			m.rebalanceMs = m.sessionMs
		}
		if vm.InstanceID != nil {
			if _, dup := statics[*vm.InstanceID]; dup {
				return fmt.Errorf("%w: group %q: repeated instance id %q", ErrBadRecord, k.Group, *vm.InstanceID)
			}
			statics[*vm.InstanceID] = vm.MemberID
		}
		members[m.id] = m
	}
	leader := ""
	if v.Leader != nil {
		leader = *v.Leader
	}
	if len(members) > 0 && (proto == "" || members[leader] == nil) {
		return fmt.Errorf("%w: group %q has members but protocol %q and leader %q", ErrBadRecord, k.Group, proto, leader)
	}
	g := s.groups[k.Group]
	if g == nil {
		g = newGroup(k.Group)
		s.groups[k.Group] = g
	}
	g.protocolType, g.generation, g.protocol, g.leader = v.ProtocolType, v.Generation, proto, leader
	g.members, g.statics = members, statics
	g.stateSinceMs = v.CurrentStateTimestamp
	g.written = true
	g.nextJoinSeq = uint64(len(members))
	if len(members) == 0 {
		g.state = stateEmpty
		g.protocol, g.leader = "", ""
	} else {
		g.state = stateStable
	}
	return nil
}
