package group

import (
	"encoding/binary"
	"testing"
)

// TestConsumerRecordKeyTypes pins the KIP-848 record types to Kafka's
// (group-coordinator/src/main/resources/common/message/*Key.json): a log
// written by Kafka must replay here and the other way round, and a swap
// of two types would replay silently wrong (both sides agree on it).
func TestConsumerRecordKeyTypes(t *testing.T) {
	for _, c := range []struct {
		name   string
		key    []byte
		want   int16
		member bool // the key carries a member id after the group id
	}{
		{"ConsumerGroupMetadataKey", cgMetaKey("g"), 3, false},
		{"ConsumerGroupMemberMetadataKey", cgMemberKey("g", "m"), 5, true},
		{"ConsumerGroupTargetAssignmentMetadataKey", cgTargetMetaKey("g"), 6, false},
		{"ConsumerGroupTargetAssignmentMemberKey", cgTargetKey("g", "m"), 7, true},
		{"ConsumerGroupCurrentMemberAssignmentKey", cgCurrentKey("g", "m"), 8, true},
	} {
		if got := int16(binary.BigEndian.Uint16(c.key)); got != c.want {
			t.Errorf("%s: record type %d, Kafka's is %d", c.name, got, c.want)
		}
		wantLen := 2 + 2 + 1 // type, then the group id as a non-flexible string
		if c.member {
			wantLen += 2 + 1
		}
		if len(c.key) != wantLen {
			t.Errorf("%s: key of %d bytes, want %d (group id%s)", c.name, len(c.key), wantLen, map[bool]string{true: " and member id"}[c.member])
		}
	}
}
