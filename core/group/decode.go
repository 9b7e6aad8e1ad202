package group

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DecodedRecord is one __consumer_offsets record in Kafka's types, for
// tools that print the log (chronik dump).
type DecodedRecord struct {
	// Kind is "offset", "group", "consumer_group" (a KIP-848 record), or
	// "other" for the record types of other group kinds (share groups),
	// which are not decoded.
	Kind string `json:"kind"`
	// Key is a kmsg.OffsetCommitKey or kmsg.GroupMetadataKey.
	Key any `json:"key,omitempty"`
	// Value is a kmsg.OffsetCommitValue or kmsg.GroupMetadataValue; nil
	// for a tombstone.
	Value any `json:"value,omitempty"`
	// ConsumerGroup is a KIP-848 record, key and value together.
	ConsumerGroup *ConsumerGroupRecord `json:"consumer_group,omitempty"`
}

// DecodeRecord decodes a __consumer_offsets record as Replay reads it.
func DecodeRecord(key, value []byte) (DecodedRecord, error) {
	if len(key) < 2 {
		return DecodedRecord{}, fmt.Errorf("%w: key of %d bytes", ErrBadRecord, len(key))
	}
	switch ver := int16(binary.BigEndian.Uint16(key)); {
	case ver == 0 || ver == 1:
		k := kmsg.NewOffsetCommitKey()
		if err := k.ReadFrom(key); err != nil {
			return DecodedRecord{}, fmt.Errorf("%w: offset key: %w", ErrBadRecord, err)
		}
		d := DecodedRecord{Kind: "offset", Key: &k}
		if value != nil {
			v := kmsg.NewOffsetCommitValue()
			if err := v.ReadFrom(value); err != nil {
				return DecodedRecord{}, fmt.Errorf("%w: offset value: %w", ErrBadRecord, err)
			}
			d.Value = &v
		}
		return d, nil
	case ver == groupKeyVersion:
		k := kmsg.NewGroupMetadataKey()
		if err := k.ReadFrom(key); err != nil {
			return DecodedRecord{}, fmt.Errorf("%w: group key: %w", ErrBadRecord, err)
		}
		d := DecodedRecord{Kind: "group", Key: &k}
		if value != nil {
			v := kmsg.NewGroupMetadataValue()
			if err := v.ReadFrom(value); err != nil {
				return DecodedRecord{}, fmt.Errorf("%w: group value: %w", ErrBadRecord, err)
			}
			d.Value = &v
		}
		return d, nil
	case ver < 0:
		return DecodedRecord{}, fmt.Errorf("%w: key version %d", ErrBadRecord, ver)
	case consumerRecordNames[ver] != "":
		r, err := decodeConsumerRecord(ver, key, value)
		if err != nil {
			return DecodedRecord{}, err
		}
		return DecodedRecord{Kind: "consumer_group", ConsumerGroup: &r}, nil
	}
	return DecodedRecord{Kind: "other"}, nil
}
