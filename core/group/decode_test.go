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
}
