package txn

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	m := Metadata{TransactionalID: "tx", ProducerID: 42, PrevProducerID: 41, NextProducerID: -1, ProducerEpoch: 7,
		NextProducerEpoch: -1, TimeoutMs: 60000, State: PrepareCommit,
		Partitions:   []TopicPartition{{"a", 0}, {"a", 2}, {"b", 1}},
		LastUpdateMs: 1234, StartMs: 1000, ClientTransactionVersion: 1}
	for _, ver := range []int16{0, 1} {
		id, ok, err := DecodeKey(KeyBytes("tx"))
		if err != nil || !ok || id != "tx" {
			t.Fatalf("key: %q %v %v", id, ok, err)
		}
		got, err := DecodeValue("tx", ValueBytes(m, ver))
		if err != nil {
			t.Fatalf("v%d: %v", ver, err)
		}
		want := m
		if ver == 0 { // the tagged fields exist from version 1 only
			want.PrevProducerID, want.ClientTransactionVersion = -1, 0
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("v%d:\n got %+v\nwant %+v", ver, got, want)
		}
	}
	// Empty writes null partitions, as Kafka.
	e := Metadata{TransactionalID: "e", ProducerID: 1, PrevProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1, TimeoutMs: 1, State: Empty, StartMs: -1}
	b := ValueBytes(e, 0)
	if n := int32(binary.BigEndian.Uint32(b[2+8+2+4+1:])); n != -1 {
		t.Fatalf("Empty partitions array length %d, want -1 (null)", n)
	}
}

// TestDecodeHandBuiltValue decodes bytes laid out by hand from Kafka's
// TransactionLogKey/TransactionLogValue schema.
func TestDecodeHandBuiltValue(t *testing.T) {
	be16 := func(b []byte, v int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	be32 := func(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
	be64 := func(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

	key := be16(nil, 0)
	key = be16(key, 3)
	key = append(key, "abc"...)
	if id, ok, err := DecodeKey(key); err != nil || !ok || id != "abc" {
		t.Fatalf("key: %q %v %v", id, ok, err)
	}

	// Version 1 (flexible): compact arrays and strings (length+1 as an
	// unsigned varint), tagged fields after each struct.
	v := be16(nil, 1)
	v = be64(v, 5000)  // ProducerId
	v = be16(v, 3)     // ProducerEpoch
	v = be32(v, 60000) // TransactionTimeoutMs
	v = append(v, 1)   // TransactionStatus: Ongoing
	v = append(v, 2)   // TransactionPartitions: 1 entry
	v = append(v, 2, 't')
	v = append(v, 3) // PartitionIds: 2 entries
	v = be32(v, 2)
	v = be32(v, 0)
	v = append(v, 0) // the entry's tagged fields
	v = be64(v, 777) // TransactionLastUpdateTimestampMs
	v = be64(v, 700) // TransactionStartTimestampMs
	v = append(v, 3) // three tagged fields
	v = append(v, 0, 8)
	v = be64(v, 4999) // tag 0: PreviousProducerId
	v = append(v, 1, 8)
	v = be64(v, -1) // tag 1: NextProducerId
	v = append(v, 2, 2)
	v = be16(v, 2) // tag 2: ClientTransactionVersion
	got, err := DecodeValue("abc", v)
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{TransactionalID: "abc", ProducerID: 5000, PrevProducerID: 4999, NextProducerID: -1, ProducerEpoch: 3,
		NextProducerEpoch: -1, TimeoutMs: 60000, State: Ongoing, Partitions: []TopicPartition{{"t", 0}, {"t", 2}},
		LastUpdateMs: 777, StartMs: 700, ClientTransactionVersion: 2}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("v1:\n got %+v\nwant %+v", got, want)
	}

	// Version 0: int16-length strings, int32-length arrays, no tags.
	v = be16(nil, 0)
	v = be64(v, 9)
	v = be16(v, 0)
	v = be32(v, 1000)
	v = append(v, 4) // CompleteCommit
	v = be32(v, 0)   // no partitions
	v = be64(v, 50)
	v = be64(v, 40)
	got, err = DecodeValue("abc", v)
	if err != nil {
		t.Fatal(err)
	}
	want = Metadata{TransactionalID: "abc", ProducerID: 9, PrevProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1,
		TimeoutMs: 1000, State: CompleteCommit, LastUpdateMs: 50, StartMs: 40}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("v0:\n got %+v\nwant %+v", got, want)
	}
	// Our encoder writes the same bytes.
	if enc := ValueBytes(want, 0); !reflect.DeepEqual(enc, v) {
		t.Fatalf("v0 encoding\n got %x\nwant %x", enc, v)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Metadata{TransactionalID: "x", ProducerID: 1, PrevProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1, TimeoutMs: 10, State: Ongoing,
		Partitions: []TopicPartition{{"t", 0}}}
	for name, m := range map[string]func(*Metadata){
		"dead":          func(m *Metadata) { m.State = Dead },
		"fence":         func(m *Metadata) { m.State = PrepareEpochFence },
		"unknown state": func(m *Metadata) { m.State = 9 },
		"negative pid":  func(m *Metadata) { m.ProducerID = -1 },
		"no timeout":    func(m *Metadata) { m.TimeoutMs = 0 },
		"bad partition": func(m *Metadata) { m.Partitions = []TopicPartition{{"t", -1}} },
	} {
		bad := good
		m(&bad)
		if _, err := DecodeValue("x", ValueBytes(bad, 1)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if _, err := DecodeValue("x", ValueBytes(good, 1)[:10]); !errors.Is(err, ErrBadRecord) {
		t.Errorf("truncated: err %v", err)
	}
	if _, ok, err := DecodeKey([]byte{0, 1, 0, 0}); ok || err != nil {
		t.Errorf("another key version: ok %v err %v", ok, err)
	}
	s := NewShard(DefaultConfig(), &fakeIDs{}, nil)
	empty := good
	empty.TransactionalID = ""
	if err := s.Replay(KeyBytes(""), ValueBytes(empty, 1)); !errors.Is(err, ErrBadRecord) || len(s.txns) != 0 {
		t.Errorf("empty id: err %v, %d ids", err, len(s.txns))
	}
	if err := s.Replay([]byte{0, 1, 0, 0}, []byte{1}); err != nil {
		t.Errorf("another record type is skipped, got %v", err)
	}
}

// TestReplayTombstone: a tombstone removes the id.
func TestReplayTombstone(t *testing.T) {
	s := NewShard(DefaultConfig(), &fakeIDs{}, nil)
	m := Metadata{TransactionalID: "x", ProducerID: 1, PrevProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1, TimeoutMs: 10, State: CompleteAbort}
	if err := s.Replay(KeyBytes("x"), ValueBytes(m, 1)); err != nil || s.txns["x"] == nil {
		t.Fatalf("replay: %v", err)
	}
	if err := s.Replay(KeyBytes("x"), nil); err != nil || s.txns["x"] != nil {
		t.Fatalf("tombstone: %v, still %v", err, s.txns["x"])
	}
	if err := s.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}
