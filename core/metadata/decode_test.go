package metadata

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

func randomTopicID(r *rand.Rand) (id TopicID) {
	for i := range id {
		id[i] = byte(r.IntN(256))
	}
	return id
}

func randomAssignment(r *rand.Rand) [][]int32 {
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		return [][]int32{}
	}
	v := make([][]int32, 1+r.IntN(3))
	for i := range v {
		v[i] = randomInt32s(r)
	}
	return v
}

func randomConfigs(r *rand.Rand) map[string]string {
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		return map[string]string{}
	}
	m := map[string]string{}
	for range 1 + r.IntN(3) {
		m[awkwardStrings[r.IntN(len(awkwardStrings))]] = awkwardStrings[r.IntN(len(awkwardStrings))]
	}
	return m
}

// randomString is a plain name two times in three (the parser's case),
// else one that needs escaping (encoding/json's).
func randomString(r *rand.Rand) string {
	if r.IntN(3) > 0 {
		return "name-" + string(rune('a'+r.IntN(26)))
	}
	return awkwardStrings[r.IntN(len(awkwardStrings))]
}

// randomRecord sets one field at random (none or two now and then).
func randomRecord(r *rand.Rand) Record {
	var rec Record
	for range []int{0, 1, 1, 1, 1, 1, 1, 2}[r.IntN(8)] {
		switch r.IntN(10) {
		case 0:
			rec.RegisterBroker = &RegisterBroker{ID: r.Int32() - r.Int32(), Host: randomString(r), Port: r.Int32N(70000), Incarnation: r.Uint64()}
		case 1:
			rec.FenceBroker = &FenceBroker{ID: r.Int32N(5), Incarnation: r.Uint64()}
		case 2:
			rec.UnfenceBroker = &UnfenceBroker{ID: r.Int32N(5), Incarnation: r.Uint64() >> r.IntN(64)}
		case 3:
			rec.CreateTopic = &CreateTopic{Name: randomString(r), ID: randomTopicID(r), Partitions: r.Int32N(10) - 1,
				ReplicationFactor: int16(r.IntN(1<<16) - 1<<15), Assignment: randomAssignment(r), Configs: randomConfigs(r)}
		case 4:
			rec.DeleteTopic = &DeleteTopic{Name: randomString(r), ID: randomTopicID(r)}
		case 5:
			rec.CreatePartitions = &CreatePartitions{Name: randomString(r), ID: randomTopicID(r), Count: r.Int32(), Assignment: randomAssignment(r)}
		case 6:
			rec.ChangeISR = &ChangeISR{Topic: randomString(r), ID: randomTopicID(r), Partition: r.Int32N(4), Leader: r.Int32N(5) - 1,
				LeaderEpoch: r.Int32(), PartitionEpoch: -r.Int32(), ISR: randomInt32s(r)}
		case 7:
			rec.ResignLeadership = &ResignLeadership{Topic: randomString(r), ID: randomTopicID(r), Partition: r.Int32N(4), Leader: r.Int32N(5),
				LeaderEpoch: r.Int32N(9), PartitionEpoch: r.Int32N(9)}
		case 8:
			rec.SetTopicConfigs = &SetTopicConfigs{Name: randomString(r), ID: randomTopicID(r), Configs: randomConfigs(r)}
		case 9:
			rec.AllocateProducerIDs = &AllocateProducerIDs{Broker: r.Int32N(5), Count: r.Int64() - r.Int64()}
		}
	}
	return rec
}

func randomEntry(r *rand.Rand) *Entry {
	e := &Entry{Proposer: r.Int32N(5) - 1, Incarnation: r.Uint64(), Seq: r.Uint64() >> r.IntN(64)}
	switch r.IntN(5) {
	case 0:
	case 1:
		e.Records = []Record{}
	default:
		for range 1 + r.IntN(4) {
			e.Records = append(e.Records, randomRecord(r))
		}
	}
	return e
}

// jsonDecode is DecodeEntry's fallback, the reference.
func jsonDecode(data []byte) (*Entry, error) {
	var e Entry
	err := json.Unmarshal(data, &e)
	return &e, err
}

// TestEntryParserMatchesJSON decodes random entries, and damaged copies of
// them, both ways: whatever the parser accepts must be exactly what
// encoding/json decodes, and it must accept the plain entries EncodeEntry
// writes (else the fast path would be dead code).
func TestEntryParserMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	plain, fast, damagedFast := 0, 0, 0
	for i := range 5000 {
		e := randomEntry(r)
		data, err := EncodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		inputs := [][]byte{data}
		for range 8 {
			d := append([]byte(nil), data...)
			switch pos := r.IntN(len(d)); r.IntN(4) {
			case 0:
				d[pos] = "{}[]\",:0123456789-.eEnul \\x"[r.IntN(27)]
			case 1:
				d = d[:pos]
			case 2:
				d = append(d[:pos], d[pos+1:]...)
			case 3:
				d = append(d[:pos], append([]byte{"0-,\" ]}"[r.IntN(7)]}, d[pos:]...)...)
			}
			inputs = append(inputs, d)
		}
		for k, in := range inputs {
			p := entryParser{data: in}
			got, ok := p.entry()
			want, wantErr := jsonDecode(in)
			if k == 0 {
				if wantErr != nil {
					t.Fatalf("entry %d does not decode: %v", i, wantErr)
				}
				plain++
			}
			if !ok {
				continue
			}
			if k == 0 {
				fast++
			} else {
				damagedFast++
			}
			if wantErr != nil {
				t.Fatalf("entry %d input %d: the parser accepts %q, encoding/json refuses it: %v", i, k, in, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("entry %d input %d %q: parser decodes\n%+v\nencoding/json\n%+v", i, k, in, got, want)
			}
		}
	}
	// Entries with escaped strings fall back; most must not.
	if fast < plain/2 {
		t.Fatalf("the parser took only %d of %d plain entries", fast, plain)
	}
	t.Logf("parser took %d of %d plain entries and %d damaged inputs (each checked against encoding/json)", fast, plain, damagedFast)
}

// TestDecodeEntryLimits: the record limit holds on both paths.
func TestDecodeEntryLimits(t *testing.T) {
	e := &Entry{Records: make([]Record, MaxRecordsPerEntry)}
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeEntry(data); err != nil || len(got.Records) != MaxRecordsPerEntry {
		t.Fatalf("an entry at the limit: %v", err)
	}
	e.Records = append(e.Records, Record{})
	data, _ = json.Marshal(e)
	if _, err := DecodeEntry(data); err == nil {
		t.Fatal("an entry over the record limit decoded")
	}
}

// BenchmarkDecodeEntry measures DecodeEntry on plain entries;
// BenchmarkDecodeEntryJSON encoding/json on the same, for comparison.
func BenchmarkDecodeEntry(b *testing.B)     { benchDecode(b, DecodeEntry) }
func BenchmarkDecodeEntryJSON(b *testing.B) { benchDecode(b, jsonDecode) }

func benchDecode(b *testing.B, decode func([]byte) (*Entry, error)) {
	r := rand.New(rand.NewPCG(7, 8))
	var inputs [][]byte
	for len(inputs) < 64 {
		data, _ := EncodeEntry(randomEntry(r))
		if p := (entryParser{data: data}); p.entryOK() {
			inputs = append(inputs, data)
		}
	}
	for i := 0; b.Loop(); i++ {
		if _, err := decode(inputs[i%len(inputs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func (p *entryParser) entryOK() bool { _, ok := p.entry(); return ok }
