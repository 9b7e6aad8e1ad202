package metadata

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// referenceMarshal is what Marshal wrote before encode.go: the encoder
// must produce these bytes exactly, since snapshots and image files are
// compared and hashed byte for byte. referenceCompact is AppendCompact's.
func referenceMarshal(t testing.TB, im *Image) []byte {
	t.Helper()
	data, err := json.MarshalIndent(referenceFile(im), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func referenceCompact(t testing.TB, im *Image) []byte {
	t.Helper()
	data, err := json.Marshal(referenceFile(im))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func referenceFile(im *Image) fileFormat {
	f := fileFormat{Version: imageVersion, ProducerIDEnd: im.ProducerIDEnd}
	for _, id := range im.BrokerIDs() {
		f.Brokers = append(f.Brokers, im.brokers[id])
	}
	for _, name := range im.TopicNames() {
		f.Topics = append(f.Topics, im.topics[name])
	}
	return f
}

// awkwardStrings exercise every escaping path of encoding/json.
var awkwardStrings = []string{
	"", "t", "plain-name_1.x", "quote\"", "back\\slash", "<html>&", "tab\t", "nl\n", "cr\r",
	"bell\a", "bs\b", "ff\f", "\x00nul", "del\x7f", "ünïcode", "line\u2028sep\u2029", "bad\xffutf8", "emoji😀",
}

func randomInt32s(r *rand.Rand) []int32 {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []int32{}
	}
	v := make([]int32, 1+r.IntN(4))
	for i := range v {
		v[i] = r.Int32N(10) - 1
	}
	return v
}

func randomImage(r *rand.Rand) *Image {
	im := NewImage()
	im.ProducerIDEnd = r.Int64() >> r.IntN(64)
	if r.IntN(5) == 0 {
		im.ProducerIDEnd = -im.ProducerIDEnd
	}
	for range r.IntN(4) {
		br := &Broker{
			ID: r.Int32N(6), Host: awkwardStrings[r.IntN(len(awkwardStrings))], Port: r.Int32N(70000),
			Incarnation: r.Uint64(), Fenced: r.IntN(2) == 0,
		}
		if r.IntN(2) == 0 { // a control listener (omitted when absent)
			br.ControlHost, br.ControlPort = awkwardStrings[r.IntN(len(awkwardStrings))], r.Int32N(70000)
		}
		im.PutBroker(br)
	}
	for range r.IntN(5) {
		t := &Topic{Name: awkwardStrings[r.IntN(len(awkwardStrings))] + string(rune('a'+r.IntN(26)))}
		for i := range t.ID {
			t.ID[i] = byte(r.IntN(256))
		}
		switch r.IntN(3) {
		case 0:
			t.Configs = map[string]string{}
		case 1:
			t.Configs = map[string]string{}
			for range 1 + r.IntN(4) {
				t.Configs[awkwardStrings[r.IntN(len(awkwardStrings))]] = awkwardStrings[r.IntN(len(awkwardStrings))]
			}
		}
		if r.IntN(4) > 0 {
			t.Assignments = make([]Partition, r.IntN(4))
			for i := range t.Assignments {
				t.Assignments[i] = Partition{
					Replicas: randomInt32s(r), ISR: randomInt32s(r), Leader: r.Int32N(5) - 1,
					LeaderEpoch: r.Int32(), PartitionEpoch: r.Int32N(100),
				}
			}
		}
		t.Partitions = int32(len(t.Assignments))
		im.PutTopic(t)
	}
	return im
}

// TestEncoderMatchesJSON compares the hand-written encoder with
// json.MarshalIndent on random images with every kind of string.
func TestEncoderMatchesJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		im := randomImage(r)
		got, err := im.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceMarshal(t, im); !bytes.Equal(got, want) {
			t.Fatalf("image %d: encoder wrote\n%s\nencoding/json writes\n%s", i, got, want)
		}
		if got, want := im.AppendCompact(nil), referenceCompact(t, im); !bytes.Equal(got, want) {
			t.Fatalf("image %d: compact encoder wrote\n%s\nencoding/json writes\n%s", i, got, want)
		}
	}
	if got, want := NewImage(), referenceMarshal(t, NewImage()); !bytes.Equal(must(got.Marshal()), want) {
		t.Fatalf("empty image: encoder wrote %s, encoding/json writes %s", must(got.Marshal()), want)
	}
}

// TestEncoderKnowsEveryField fails when a field is added to what an image
// encodes: encode.go writes the fields by hand and must learn the new one
// (and randomImage must set it, so that TestEncoderMatchesJSON compares
// it), then the counts here are updated.
func TestEncoderKnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		typ    reflect.Type
		fields int
	}{
		{reflect.TypeFor[fileFormat](), 4},
		{reflect.TypeFor[Broker](), 7},
		{reflect.TypeFor[Topic](), 5},
		{reflect.TypeFor[Partition](), 5},
	} {
		if n := c.typ.NumField(); n != c.fields {
			t.Errorf("%s has %d fields, encode.go writes %d: teach it the new ones", c.typ, n, c.fields)
		}
	}
}

func must(data []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return data
}

// benchImage is 20 topics of 3 partitions over 3 brokers.
func benchImage() *Image {
	im := NewImage()
	for id := int32(1); id <= 3; id++ {
		im.PutBroker(&Broker{ID: id, Host: "localhost", Port: 9090 + id})
	}
	for i := range 20 {
		t := &Topic{Name: "topic-" + string(rune('a'+i)), Partitions: 3, Configs: map[string]string{"segment.bytes": "1024"}}
		for p := range 3 {
			t.Assignments = append(t.Assignments, Partition{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: int32(p + 1)})
		}
		im.PutTopic(t)
	}
	return im
}

// BenchmarkMarshal measures Marshal; BenchmarkMarshalReference the
// encoding/json way it replaced, for comparison.
func BenchmarkMarshal(b *testing.B) {
	im := benchImage()
	for b.Loop() {
		if _, err := im.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalReference(b *testing.B) {
	im := benchImage()
	for b.Loop() {
		referenceMarshal(b, im)
	}
}

// TestAppendMarshalAppends: AppendMarshal keeps what dst holds and adds
// exactly Marshal's bytes, also into a reused buffer.
func TestAppendMarshalAppends(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	buf := []byte("prefix")
	for i := range 50 {
		im := randomImage(r)
		buf = im.AppendMarshal(buf[:6])
		if want := append([]byte("prefix"), must(im.Marshal())...); !bytes.Equal(buf, want) {
			t.Fatalf("image %d: AppendMarshal gave\n%s\nwant\n%s", i, buf, want)
		}
	}
}

// BenchmarkAppendCompact measures the compact encoding into a reused
// buffer, as the simulator calls it after every metadata apply.
func BenchmarkAppendCompact(b *testing.B) {
	im := benchImage()
	var buf []byte
	for b.Loop() {
		buf = im.AppendCompact(buf[:0])
	}
}

// TestBrokersInIDOrder: Brokers and BrokerIDs list the registrations in id
// order, also after a registration added since the order was cached.
func TestBrokersInIDOrder(t *testing.T) {
	im := NewImage()
	for _, id := range []int32{5, 1, 3} {
		im.PutBroker(&Broker{ID: id, Host: "h", Port: 1})
	}
	list := func() []int32 {
		var ids []int32
		for id, b := range im.Brokers() {
			if b.ID != id {
				t.Fatalf("broker %d yielded as %d", b.ID, id)
			}
			ids = append(ids, id)
		}
		return ids
	}
	if got := list(); !slices.Equal(got, []int32{1, 3, 5}) {
		t.Fatalf("Brokers yields %v", got)
	}
	im.PutBroker(&Broker{ID: 2, Host: "h", Port: 1})
	if got, ids := list(), im.BrokerIDs(); !slices.Equal(got, []int32{1, 2, 3, 5}) || !slices.Equal(ids, got) {
		t.Fatalf("after registering 2: Brokers yields %v, BrokerIDs %v", got, ids)
	}
}
