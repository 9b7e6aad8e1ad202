package group

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
)

// Key versions (record types) of Kafka 4's KIP-848 __consumer_offsets
// records. kmsg v1.15.1 has no types for them, so they are encoded here
// from Kafka's schemas: keys are non-flexible, values are flexible
// version 0 (compact strings and arrays, an empty tagged-field section).
// ConsumerGroupPartitionMetadata (type 4) is not written: the shard
// re-resolves subscribed topics from the broker's image instead.
const (
	cgMetaKeyType       = 3 // ConsumerGroupMetadata: group epoch
	cgPartMetaKeyType   = 4 // ConsumerGroupPartitionMetadata (skipped on replay)
	cgMemberKeyType     = 5 // ConsumerGroupMemberMetadata
	cgTargetMetaKeyType = 6 // ConsumerGroupTargetAssignmentMetadata
	cgTargetKeyType     = 7 // ConsumerGroupTargetAssignmentMember
	cgCurrentKeyType    = 8 // ConsumerGroupCurrentMemberAssignment
)

func cgKey(typ int16, group string, member *string) []byte {
	k := kbin.AppendInt16(nil, typ)
	k = kbin.AppendString(k, group)
	if member != nil {
		k = kbin.AppendString(k, *member)
	}
	return k
}

func cgMetaKey(group string) []byte       { return cgKey(cgMetaKeyType, group, nil) }
func cgTargetMetaKey(group string) []byte { return cgKey(cgTargetMetaKeyType, group, nil) }
func cgMemberKey(group, member string) []byte {
	return cgKey(cgMemberKeyType, group, &member)
}
func cgTargetKey(group, member string) []byte {
	return cgKey(cgTargetKeyType, group, &member)
}
func cgCurrentKey(group, member string) []byte {
	return cgKey(cgCurrentKeyType, group, &member)
}

// Every value is version 0 and ends with an empty tagged-field section.
func valueStart() []byte { return kbin.AppendInt16(nil, 0) }
func valueEnd(v []byte) []byte {
	return kbin.AppendUvarint(v, 0)
}

func cgMetaValue(epoch int32) []byte {
	return valueEnd(kbin.AppendInt32(valueStart(), epoch))
}

func cgTargetMetaValue(epoch int32) []byte {
	return valueEnd(kbin.AppendInt32(valueStart(), epoch))
}

// cgMemberValue follows ConsumerGroupMemberMetadataValue: InstanceId,
// RackId, ClientId, ClientHost, SubscribedTopicNames,
// SubscribedTopicRegex, RebalanceTimeoutMs, ServerAssignor.
func cgMemberValue(m *cmember) []byte {
	v := valueStart()
	v = kbin.AppendCompactNullableString(v, m.instanceID)
	v = kbin.AppendCompactNullableString(v, m.rackID)
	v = kbin.AppendCompactString(v, m.clientID)
	v = kbin.AppendCompactString(v, m.clientHost)
	v = kbin.AppendCompactArrayLen(v, len(m.topics))
	for _, t := range m.topics {
		v = kbin.AppendCompactString(v, t)
	}
	var regex *string
	if m.regex != "" {
		regex = &m.regex
	}
	v = kbin.AppendCompactNullableString(v, regex)
	v = kbin.AppendInt32(v, m.rebalanceMs)
	v = kbin.AppendCompactNullableString(v, m.assignor)
	return valueEnd(v)
}

func appendTopicPartitions(v []byte, ps []tidp) []byte {
	var groups [][]tidp
	for i, p := range ps {
		if i == 0 || ps[i-1].id != p.id {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], p)
	}
	v = kbin.AppendCompactArrayLen(v, len(groups))
	for _, g := range groups {
		v = kbin.AppendUuid(v, g[0].id)
		v = kbin.AppendCompactArrayLen(v, len(g))
		for _, p := range g {
			v = kbin.AppendInt32(v, p.p)
		}
		v = kbin.AppendUvarint(v, 0)
	}
	return v
}

func readTopicPartitions(b *kbin.Reader) []tidp {
	var ps []tidp
	n := b.CompactArrayLen()
	for i := int32(0); i < n && b.Ok(); i++ {
		id := b.Uuid()
		np := b.CompactArrayLen()
		for j := int32(0); j < np && b.Ok(); j++ {
			ps = append(ps, tidp{id, b.Int32()})
		}
		skipTags(b)
	}
	return normalize(ps)
}

// cgTargetValue follows ConsumerGroupTargetAssignmentMemberValue:
// TopicPartitions.
func cgTargetValue(ps []tidp) []byte {
	return valueEnd(appendTopicPartitions(valueStart(), ps))
}

// cgCurrentValue follows ConsumerGroupCurrentMemberAssignmentValue:
// MemberEpoch, PreviousMemberEpoch, State, AssignedPartitions,
// PartitionsPendingRevocation.
func cgCurrentValue(m *cmember) []byte {
	v := valueStart()
	v = kbin.AppendInt32(v, m.epoch)
	v = kbin.AppendInt32(v, m.prevEpoch)
	v = kbin.AppendInt8(v, m.state)
	v = appendTopicPartitions(v, m.assigned)
	v = appendTopicPartitions(v, m.revoking)
	return valueEnd(v)
}

func skipTags(b *kbin.Reader) {
	n := b.Uvarint()
	for i := uint32(0); i < n && b.Ok(); i++ {
		b.Uvarint()
		b.Span(int(b.Uvarint()))
	}
}

// replayConsumer applies one KIP-848 record (key type 3 to 8).
func (s *Shard) replayConsumer(typ int16, key, value []byte) error {
	kb := kbin.Reader{Src: key[2:]}
	group := kb.String()
	member := ""
	if typ != cgMetaKeyType && typ != cgTargetMetaKeyType && typ != cgPartMetaKeyType {
		member = kb.String()
	}
	if err := kb.Complete(); err != nil {
		return fmt.Errorf("%w: consumer group key type %d: %w", ErrBadRecord, typ, err)
	}
	if typ == cgPartMetaKeyType {
		return nil
	}
	if typ != cgMetaKeyType && typ != cgTargetMetaKeyType && member == "" {
		return fmt.Errorf("%w: consumer group %q record type %d with an empty member id", ErrBadRecord, group, typ)
	}
	g := s.cgroups[group]
	if value == nil {
		if g == nil {
			return nil
		}
		switch typ {
		case cgMetaKeyType:
			delete(s.cgroups, group)
		case cgMemberKeyType:
			if m := g.members[member]; m != nil {
				if m.instanceID != nil && g.statics[*m.instanceID] == member {
					delete(g.statics, *m.instanceID)
				}
				delete(g.members, member)
			}
		case cgTargetKeyType:
			delete(g.target, member)
		case cgCurrentKeyType:
			if m := g.members[member]; m != nil {
				m.epoch, m.prevEpoch, m.state, m.assigned, m.revoking = 0, 0, cmStable, nil, nil
			}
		}
		return nil
	}
	vb := kbin.Reader{Src: value}
	if ver := vb.Int16(); ver != 0 {
		return fmt.Errorf("%w: consumer group %q record type %d value version %d", ErrBadRecord, group, typ, ver)
	}
	if g == nil {
		g = newCGroup(group)
	}
	getMember := func() *cmember {
		m := g.members[member]
		if m == nil {
			m = &cmember{id: member}
			g.members[member] = m
		}
		return m
	}
	// Decode first into locals so that a bad value changes nothing.
	var apply func()
	switch typ {
	case cgMetaKeyType:
		e := vb.Int32()
		apply = func() { g.epoch = e }
	case cgTargetMetaKeyType:
		e := vb.Int32()
		apply = func() { g.assignEpoch = e }
	case cgTargetKeyType:
		ps := readTopicPartitions(&vb)
		apply = func() { g.target[member] = ps }
	case cgCurrentKeyType:
		e, pe, st := vb.Int32(), vb.Int32(), vb.Int8()
		as := readTopicPartitions(&vb)
		rv := readTopicPartitions(&vb)
		apply = func() {
			m := getMember()
			m.epoch, m.prevEpoch, m.state, m.assigned, m.revoking = e, pe, st, as, rv
		}
	case cgMemberKeyType:
		inst, rack := vb.CompactNullableString(), vb.CompactNullableString()
		cid, chost := vb.CompactString(), vb.CompactString()
		var topics []string
		n := vb.CompactArrayLen()
		for i := int32(0); i < n && vb.Ok(); i++ {
			topics = append(topics, vb.CompactString())
		}
		regex := vb.CompactNullableString()
		rb := vb.Int32()
		asg := vb.CompactNullableString()
		if inst != nil {
			if other, ok := g.statics[*inst]; ok && other != member {
				return fmt.Errorf("%w: consumer group %q: instance %q of member %q already held by %q", ErrBadRecord, group, *inst, member, other)
			}
		}
		apply = func() {
			m := getMember()
			if m.instanceID != nil && g.statics[*m.instanceID] == member {
				delete(g.statics, *m.instanceID)
			}
			m.instanceID, m.rackID, m.clientID, m.clientHost = inst, rack, cid, chost
			m.topics, m.rebalanceMs, m.assignor = topics, rb, asg
			m.regex = ""
			if regex != nil {
				m.regex = *regex
			}
			g.regexStale = true
			if inst != nil {
				g.statics[*inst] = member
			}
		}
	default:
		return nil
	}
	skipTags(&vb)
	if err := vb.Complete(); err != nil {
		return fmt.Errorf("%w: consumer group %q record type %d value: %w", ErrBadRecord, group, typ, err)
	}
	s.cgroups[group] = g
	apply()
	g.written = true
	return nil
}
