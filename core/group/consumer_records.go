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
// PartitionsPendingRevocation. A static member that left with epoch -2
// is written with MemberEpoch -2, as Kafka writes it, and its epoch as
// the previous one: the epoch its restart takes over.
func cgCurrentValue(m *cmember) []byte {
	v := valueStart()
	if m.leftStatic {
		v = kbin.AppendInt32(v, leaveStaticEpoch)
		v = kbin.AppendInt32(v, m.epoch)
	} else {
		v = kbin.AppendInt32(v, m.epoch)
		v = kbin.AppendInt32(v, m.prevEpoch)
	}
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

// ConsumerGroupRecord is one KIP-848 record (key types 3 and 5 to 8)
// decoded: what replay applies and what chronik dump prints. Type 4
// (partition metadata) is decoded as its key only. Epoch is the group
// epoch (type 3), the target assignment epoch (type 6) or the member
// epoch (type 8).
type ConsumerGroupRecord struct {
	Type      string `json:"type"`
	Group     string `json:"group"`
	Member    string `json:"member,omitempty"`
	Tombstone bool   `json:"tombstone,omitempty"`

	Epoch         int32 `json:"epoch,omitempty"`
	PreviousEpoch int32 `json:"previous_epoch,omitempty"`
	State         int8  `json:"state,omitempty"`

	InstanceID           *string  `json:"instance_id,omitempty"`
	RackID               *string  `json:"rack_id,omitempty"`
	ClientID             string   `json:"client_id,omitempty"`
	ClientHost           string   `json:"client_host,omitempty"`
	SubscribedTopicNames []string `json:"subscribed_topic_names,omitempty"`
	SubscribedTopicRegex *string  `json:"subscribed_topic_regex,omitempty"`
	RebalanceTimeoutMs   int32    `json:"rebalance_timeout_ms,omitempty"`
	ServerAssignor       *string  `json:"server_assignor,omitempty"`

	// Partitions is a member's target (type 7) or assigned (type 8)
	// partitions; PendingRevocation those it must still release (type 8).
	Partitions        []AssignedPartitions `json:"partitions,omitempty"`
	PendingRevocation []AssignedPartitions `json:"pending_revocation,omitempty"`
}

// AssignedPartitions is a topic (by id) and some of its partitions.
type AssignedPartitions struct {
	TopicID    [16]byte `json:"topic_id"`
	Partitions []int32  `json:"partitions"`
}

// consumerRecordNames are Kafka's names of the KIP-848 record types.
var consumerRecordNames = map[int16]string{
	cgMetaKeyType:       "ConsumerGroupMetadata",
	cgPartMetaKeyType:   "ConsumerGroupPartitionMetadata",
	cgMemberKeyType:     "ConsumerGroupMemberMetadata",
	cgTargetMetaKeyType: "ConsumerGroupTargetAssignmentMetadata",
	cgTargetKeyType:     "ConsumerGroupTargetAssignmentMember",
	cgCurrentKeyType:    "ConsumerGroupCurrentMemberAssignment",
}

func toAssigned(ps []tidp) []AssignedPartitions {
	var out []AssignedPartitions
	for _, p := range ps {
		if n := len(out); n == 0 || out[n-1].TopicID != p.id {
			out = append(out, AssignedPartitions{TopicID: p.id})
		}
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, p.p)
	}
	return out
}

func fromAssigned(as []AssignedPartitions) []tidp {
	var ps []tidp
	for _, a := range as {
		for _, p := range a.Partitions {
			ps = append(ps, tidp{a.TopicID, p})
		}
	}
	return normalize(ps)
}

// decodeConsumerRecord decodes a KIP-848 record of key type typ.
func decodeConsumerRecord(typ int16, key, value []byte) (ConsumerGroupRecord, error) {
	r := ConsumerGroupRecord{Type: consumerRecordNames[typ], Tombstone: value == nil}
	kb := kbin.Reader{Src: key[2:]}
	r.Group = kb.String()
	if typ != cgMetaKeyType && typ != cgTargetMetaKeyType && typ != cgPartMetaKeyType {
		r.Member = kb.String()
	}
	if err := kb.Complete(); err != nil {
		return r, fmt.Errorf("%w: consumer group key type %d: %w", ErrBadRecord, typ, err)
	}
	if typ == cgPartMetaKeyType {
		return r, nil
	}
	if typ != cgMetaKeyType && typ != cgTargetMetaKeyType && r.Member == "" {
		return r, fmt.Errorf("%w: consumer group %q record type %d with an empty member id", ErrBadRecord, r.Group, typ)
	}
	if value == nil {
		return r, nil
	}
	vb := kbin.Reader{Src: value}
	if ver := vb.Int16(); ver != 0 {
		return r, fmt.Errorf("%w: consumer group %q record type %d value version %d", ErrBadRecord, r.Group, typ, ver)
	}
	switch typ {
	case cgMetaKeyType, cgTargetMetaKeyType:
		r.Epoch = vb.Int32()
	case cgTargetKeyType:
		r.Partitions = toAssigned(readTopicPartitions(&vb))
	case cgCurrentKeyType:
		r.Epoch, r.PreviousEpoch, r.State = vb.Int32(), vb.Int32(), vb.Int8()
		r.Partitions = toAssigned(readTopicPartitions(&vb))
		r.PendingRevocation = toAssigned(readTopicPartitions(&vb))
	case cgMemberKeyType:
		r.InstanceID, r.RackID = vb.CompactNullableString(), vb.CompactNullableString()
		r.ClientID, r.ClientHost = vb.CompactString(), vb.CompactString()
		n := vb.CompactArrayLen()
		for i := int32(0); i < n && vb.Ok(); i++ {
			r.SubscribedTopicNames = append(r.SubscribedTopicNames, vb.CompactString())
		}
		r.SubscribedTopicRegex = vb.CompactNullableString()
		r.RebalanceTimeoutMs = vb.Int32()
		r.ServerAssignor = vb.CompactNullableString()
	}
	skipTags(&vb)
	if err := vb.Complete(); err != nil {
		return r, fmt.Errorf("%w: consumer group %q record type %d value: %w", ErrBadRecord, r.Group, typ, err)
	}
	return r, nil
}

// replayConsumer applies one KIP-848 record (key type 3 to 8).
func (s *Shard) replayConsumer(typ int16, key, value []byte) error {
	r, err := decodeConsumerRecord(typ, key, value)
	if err != nil || typ == cgPartMetaKeyType {
		return err
	}
	group, member := r.Group, r.Member
	g := s.cgroups[group]
	if r.Tombstone {
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
	if g == nil {
		g = newCGroup(group)
	}
	if typ == cgMemberKeyType && r.InstanceID != nil {
		if other, ok := g.statics[*r.InstanceID]; ok && other != member {
			return fmt.Errorf("%w: consumer group %q: instance %q of member %q already held by %q", ErrBadRecord, group, *r.InstanceID, member, other)
		}
	}
	getMember := func() *cmember {
		m := g.members[member]
		if m == nil {
			m = &cmember{id: member}
			g.members[member] = m
		}
		return m
	}
	switch typ {
	case cgMetaKeyType:
		g.epoch = r.Epoch
	case cgTargetMetaKeyType:
		g.assignEpoch = r.Epoch
	case cgTargetKeyType:
		g.target[member] = fromAssigned(r.Partitions)
	case cgCurrentKeyType:
		m := getMember()
		m.epoch, m.prevEpoch, m.state = r.Epoch, r.PreviousEpoch, r.State
		if m.leftStatic = r.Epoch == leaveStaticEpoch; m.leftStatic {
			m.epoch = r.PreviousEpoch // the epoch a restart takes over
		}
		m.assigned, m.revoking = fromAssigned(r.Partitions), fromAssigned(r.PendingRevocation)
	case cgMemberKeyType:
		m := getMember()
		if m.instanceID != nil && g.statics[*m.instanceID] == member {
			delete(g.statics, *m.instanceID)
		}
		m.instanceID, m.rackID, m.clientID, m.clientHost = r.InstanceID, r.RackID, r.ClientID, r.ClientHost
		m.topics, m.rebalanceMs, m.assignor = r.SubscribedTopicNames, r.RebalanceTimeoutMs, r.ServerAssignor
		m.regex = ""
		if r.SubscribedTopicRegex != nil {
			m.regex = *r.SubscribedTopicRegex
		}
		g.regexStale = true
		if r.InstanceID != nil {
			g.statics[*r.InstanceID] = member
		}
	default:
		return nil
	}
	s.cgroups[group] = g
	g.written = true
	return nil
}
