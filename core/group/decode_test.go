package group

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDecodeRecord: the records the shard writes decode to Kafka's types;
// tombstones have no value; garbage is ErrBadRecord.
func TestDecodeRecord(t *testing.T) {
	d, err := DecodeRecord(offsetKey("g", tp{"t", 3}), offsetValue(offset{offset: 42, leaderEpoch: 5, commitMs: 7}))
	if err != nil || d.Kind != "offset" {
		t.Fatalf("offset record: %+v %v", d, err)
	}
	k, v := d.Key.(*kmsg.OffsetCommitKey), d.Value.(*kmsg.OffsetCommitValue)
	if k.Group != "g" || k.Topic != "t" || k.Partition != 3 || v.Offset != 42 || v.LeaderEpoch != 5 || v.CommitTimestamp != 7 {
		t.Fatalf("offset record decoded as %+v %+v", k, v)
	}
	d, err = DecodeRecord(groupKey("g"), nil)
	if err != nil || d.Kind != "group" || d.Value != nil || d.Key.(*kmsg.GroupMetadataKey).Group != "g" {
		t.Fatalf("group tombstone: %+v %v", d, err)
	}
	if _, err := DecodeRecord([]byte{0}, nil); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("short key: %v", err)
	}
	if d, err := DecodeRecord([]byte{0, 9, 1, 2}, nil); err != nil || d.Kind != "other" {
		t.Fatalf("another group kind's record: %+v %v", d, err)
	}

	// KIP-848 records decode whole.
	inst, asg := "i1", AssignorRange
	m := &cmember{id: "m1", instanceID: &inst, clientID: "c", clientHost: "/h", topics: []string{"a", "b"},
		regex: "x.*", rebalanceMs: 300, assignor: &asg, epoch: 4, prevEpoch: 3, state: cmStable,
		assigned: []tidp{{topicID(1), 0}, {topicID(1), 2}, {topicID(2), 1}}, revoking: []tidp{{topicID(2), 0}}}
	for _, c := range []struct {
		key, value []byte
		check      func(r *ConsumerGroupRecord) bool
	}{
		{cgMetaKey("g"), cgMetaValue(7), func(r *ConsumerGroupRecord) bool {
			return r.Type == "ConsumerGroupMetadata" && r.Group == "g" && r.Epoch == 7
		}},
		{cgTargetMetaKey("g"), cgTargetMetaValue(6), func(r *ConsumerGroupRecord) bool {
			return r.Type == "ConsumerGroupTargetAssignmentMetadata" && r.Epoch == 6
		}},
		{cgMemberKey("g", "m1"), cgMemberValue(m), func(r *ConsumerGroupRecord) bool {
			return r.Type == "ConsumerGroupMemberMetadata" && r.Member == "m1" && *r.InstanceID == "i1" &&
				r.ClientHost == "/h" && len(r.SubscribedTopicNames) == 2 && *r.SubscribedTopicRegex == "x.*" &&
				r.RebalanceTimeoutMs == 300 && *r.ServerAssignor == AssignorRange
		}},
		{cgTargetKey("g", "m1"), cgTargetValue(m.assigned), func(r *ConsumerGroupRecord) bool {
			return r.Type == "ConsumerGroupTargetAssignmentMember" && len(r.Partitions) == 2 &&
				len(r.Partitions[0].Partitions) == 2 && r.Partitions[1].TopicID == topicID(2)
		}},
		{cgCurrentKey("g", "m1"), cgCurrentValue(m), func(r *ConsumerGroupRecord) bool {
			return r.Type == "ConsumerGroupCurrentMemberAssignment" && r.Epoch == 4 && r.PreviousEpoch == 3 &&
				len(r.Partitions) == 2 && len(r.PendingRevocation) == 1 && r.PendingRevocation[0].Partitions[0] == 0
		}},
		{cgCurrentKey("g", "m1"), nil, func(r *ConsumerGroupRecord) bool { return r.Tombstone && r.Member == "m1" }},
	} {
		d, err := DecodeRecord(c.key, c.value)
		if err != nil || d.Kind != "consumer_group" || d.ConsumerGroup == nil || !c.check(d.ConsumerGroup) {
			t.Fatalf("KIP-848 record %x: %+v %v", c.key[:2], d.ConsumerGroup, err)
		}
	}
}
