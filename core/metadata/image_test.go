package metadata

import (
	"bytes"
	"strings"
	"testing"
)

func TestImageRoundTripIsDeterministic(t *testing.T) {
	im := NewImage()
	im.ProducerIDEnd = 2000
	for _, name := range []string{"zeta", "alpha", "mid"} {
		im.PutTopic(&Topic{Name: name, ID: TopicID{name[0], 1}, Partitions: 3, Configs: map[string]string{"retention.ms": "1", "segment.bytes": "100"}})
	}
	im.AssignAllTo(1)
	first, err := im.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // map order must never leak into the encoding
		again, _ := im.Marshal()
		if !bytes.Equal(first, again) {
			t.Fatal("two encodings of one image differ")
		}
	}
	back, err := Unmarshal(first)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.TopicNames(); len(got) != 3 || got[0] != "alpha" || got[2] != "zeta" {
		t.Fatalf("topic names %v", got)
	}
	if back.ProducerIDEnd != 2000 || back.TopicByID(TopicID{'m', 1}).Name != "mid" {
		t.Fatalf("decoded %+v", back)
	}
}

func TestUnmarshalRejectsDamage(t *testing.T) {
	cases := map[string]string{
		"not json":          "{",
		"wrong version":     `{"version":3,"topics":[]}`,
		"duplicate topic":   `{"version":1,"topics":[{"name":"a","partitions":1},{"name":"a","partitions":1}]}`,
		"zero partitions":   `{"version":1,"topics":[{"name":"a","partitions":0}]}`,
		"negative producer": `{"version":1,"producer_id_end":-1,"topics":[]}`,
	}
	for name, data := range cases {
		if _, err := Unmarshal([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRemoveAndReplaceTopic(t *testing.T) {
	im := NewImage()
	im.PutTopic(&Topic{Name: "a", ID: TopicID{1}, Partitions: 1})
	im.PutTopic(&Topic{Name: "a", ID: TopicID{2}, Partitions: 2}) // recreated: new id
	if im.TopicByID(TopicID{1}) != nil || im.TopicByID(TopicID{2}).Partitions != 2 || im.Len() != 1 {
		t.Fatal("replacing a topic kept its old id")
	}
	im.RemoveTopic("a")
	if im.Len() != 0 || im.TopicByID(TopicID{2}) != nil {
		t.Fatal("remove left the topic behind")
	}
	if got := (TopicID{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}).String(); got != "deadbeef-0102-0304-0506-0708090a0b0c" {
		t.Fatalf("id string %s", got)
	}
}

// TestTopicNamesFollowChanges checks the cached name order (TopicNames and
// Topics) after each add, replacement and removal, and that a caller's
// slice is its own.
func TestTopicNamesFollowChanges(t *testing.T) {
	im := NewImage()
	steps := []struct {
		change func()
		want   string
	}{
		{func() { im.PutTopic(&Topic{Name: "m", ID: TopicID{1}}) }, "m"},
		{func() { im.PutTopic(&Topic{Name: "c", ID: TopicID{2}}) }, "c,m"},
		{func() { im.TopicNames()[0] = "changed by the caller" }, "c,m"},
		{func() { im.PutTopic(&Topic{Name: "c", ID: TopicID{3}}) }, "c,m"}, // replaced: same name
		{func() { im.RemoveTopic("m") }, "c"},
		{func() { im.PutTopic(&Topic{Name: "a", ID: TopicID{4}}) }, "a,c"},
		{func() { im.RemoveTopic("absent") }, "a,c"},
	}
	for i, s := range steps {
		s.change()
		if got := strings.Join(im.TopicNames(), ","); got != s.want {
			t.Fatalf("step %d: topic names %s, want %s", i, got, s.want)
		}
		var seen []string
		for name, topic := range im.Topics() {
			if topic == nil || topic.Name != name || im.Topic(name) != topic {
				t.Fatalf("step %d: Topics yields %q with topic %+v", i, name, topic)
			}
			seen = append(seen, name)
		}
		if got := strings.Join(seen, ","); got != s.want {
			t.Fatalf("step %d: Topics yields %s, want %s", i, got, s.want)
		}
	}
}
