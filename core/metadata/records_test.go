package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// fataler is what the helpers need from *testing.T and *rapid.T.
type fataler interface {
	Fatalf(format string, args ...any)
}

// incarnationOf is the incarnation the fixtures give broker id.
func incarnationOf(id int32) uint64 { return 100 + uint64(id) }

func regRec(id int32, inc uint64) Record {
	return Record{RegisterBroker: &RegisterBroker{ID: id, Host: fmt.Sprintf("h%d", id), Port: 9092, Incarnation: inc}}
}
func fenceRec(id int32, inc uint64) Record {
	return Record{FenceBroker: &FenceBroker{ID: id, Incarnation: inc}}
}
func unfenceRec(id int32, inc uint64) Record {
	return Record{UnfenceBroker: &UnfenceBroker{ID: id, Incarnation: inc}}
}
func createRec(name string, id byte, partitions int32, rf int16) Record {
	return Record{CreateTopic: &CreateTopic{Name: name, ID: TopicID{id}, Partitions: partitions, ReplicationFactor: rf}}
}
func createManualRec(name string, id byte, assignment ...[]int32) Record {
	return Record{CreateTopic: &CreateTopic{Name: name, ID: TopicID{id}, Assignment: assignment}}
}

// isrRec builds a ChangeISR from the partition's current state, so it
// applies unless the test spoils it.
func isrRec(im *Image, topic string, partition int32, isr ...int32) Record {
	t := im.Topic(topic)
	p := t.Assignments[partition]
	return Record{ChangeISR: &ChangeISR{Topic: topic, ID: t.ID, Partition: partition, Leader: p.Leader,
		LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: isr}}
}

func marshal(t fataler, im *Image) []byte {
	data, err := im.Marshal()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return data
}

// clone copies an image through its snapshot encoding.
func clone(t fataler, im *Image) *Image {
	c, err := Unmarshal(marshal(t, im))
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return c
}

func mustApply(t fataler, im *Image, r Record) Result {
	res := im.Apply(&r)
	if res.Err != nil {
		t.Fatalf("apply %s: %v", describe(&r), res.Err)
	}
	if err := im.Check(); err != nil {
		t.Fatalf("after %s: %v", describe(&r), err)
	}
	return res
}

// mustRefuse applies r, wants an error matching want, and checks that the
// image did not change by a byte.
func mustRefuse(t fataler, im *Image, r Record, want error) {
	before := marshal(t, im)
	res := im.Apply(&r)
	if res.Err == nil || !errors.Is(res.Err, want) {
		t.Fatalf("apply %s: got %v, want %v", describe(&r), res.Err, want)
	}
	if after := marshal(t, im); !bytes.Equal(before, after) {
		t.Fatalf("refused %s changed the image:\nbefore %s\nafter  %s", describe(&r), before, after)
	}
}

func part(t fataler, im *Image, topic string, i int) *Partition {
	tp := im.Topic(topic)
	if tp == nil || i >= len(tp.Assignments) {
		t.Fatalf("no partition %s-%d", topic, i)
	}
	return &tp.Assignments[i]
}

func describe(r *Record) string {
	data, err := EncodeEntry(&Entry{Records: []Record{*r}})
	if err != nil {
		return fmt.Sprintf("%+v", *r)
	}
	return strings.TrimSuffix(strings.TrimPrefix(string(data), `{"proposer":0,"incarnation":0,"seq":0,"records":[`), "]}")
}

// newCluster registers and unfences the given brokers.
func newCluster(t fataler, ids ...int32) *Image {
	im := NewImage()
	for _, id := range ids {
		mustApply(t, im, regRec(id, incarnationOf(id)))
		mustApply(t, im, unfenceRec(id, incarnationOf(id)))
	}
	return im
}

func sameIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func wantPartition(t fataler, p *Partition, leader, leaderEpoch, partitionEpoch int32, isr ...int32) {
	if p.Leader != leader || p.LeaderEpoch != leaderEpoch || p.PartitionEpoch != partitionEpoch || !sameIDs(p.ISR, isr) {
		t.Fatalf("partition %s, want leader=%d epoch=%d isr=%v partition_epoch=%d", p, leader, leaderEpoch, isr, partitionEpoch)
	}
}

// baseImage is the fixture of the record tables: brokers 1-3 unfenced,
// broker 4 registered but fenced, topic "t" (id 1) with 3 partitions of
// RF 2 placed automatically, topic "u" (id 2) with one partition on
// replicas 1,2,3.
func baseImage(t fataler) *Image {
	im := newCluster(t, 1, 2, 3)
	mustApply(t, im, regRec(4, incarnationOf(4)))
	mustApply(t, im, createRec("t", 1, 3, 2))
	mustApply(t, im, createManualRec("u", 2, []int32{1, 2, 3}))
	return im
}

func TestApplyRefusals(t *testing.T) {
	over := make([][]int32, MaxPartitionsPerTopic+1)
	for i := range over {
		over[i] = []int32{1}
	}
	wide := make([]int32, MaxReplicationFactor+1)
	for i := range wide {
		wide[i] = int32(i + 1)
	}
	cases := []struct {
		name  string
		setup func(im *Image)
		rec   func(im *Image) Record
		want  error
	}{
		{name: "empty record", rec: func(*Image) Record { return Record{} }, want: ErrInvalidRecord},
		{name: "register negative id", rec: func(*Image) Record { return regRec(-1, 1) }, want: ErrInvalidRecord},
		{name: "register empty host", rec: func(*Image) Record {
			return Record{RegisterBroker: &RegisterBroker{ID: 5, Port: 9092, Incarnation: 1}}
		}, want: ErrInvalidRecord},
		{name: "register port 0", rec: func(*Image) Record {
			return Record{RegisterBroker: &RegisterBroker{ID: 5, Host: "h", Incarnation: 1}}
		}, want: ErrInvalidRecord},
		{name: "register port 65536", rec: func(*Image) Record {
			return Record{RegisterBroker: &RegisterBroker{ID: 1, Host: "h", Port: 65536, Incarnation: 7}}
		}, want: ErrInvalidRecord},
		{name: "register control port without host", rec: func(*Image) Record {
			return Record{RegisterBroker: &RegisterBroker{ID: 5, Host: "h", Port: 9092, ControlPort: 8001, Incarnation: 1}}
		}, want: ErrInvalidRecord},
		{name: "register control host without port", rec: func(*Image) Record {
			return Record{RegisterBroker: &RegisterBroker{ID: 5, Host: "h", Port: 9092, ControlHost: "h", Incarnation: 1}}
		}, want: ErrInvalidRecord},
		{name: "register control port 65536", rec: func(*Image) Record {
			return Record{RegisterBroker: &RegisterBroker{ID: 5, Host: "h", Port: 9092, ControlHost: "h", ControlPort: 65536, Incarnation: 1}}
		}, want: ErrInvalidRecord},
		{name: "fence unknown broker", rec: func(*Image) Record { return fenceRec(9, 1) }, want: ErrUnknownBroker},
		{name: "fence stale incarnation", rec: func(*Image) Record { return fenceRec(1, 999) }, want: ErrUnknownBroker},
		{name: "unfence unknown broker", rec: func(*Image) Record { return unfenceRec(9, 1) }, want: ErrUnknownBroker},
		{name: "unfence stale incarnation", rec: func(*Image) Record { return unfenceRec(4, 999) }, want: ErrUnknownBroker},
		{name: "create empty name", rec: func(*Image) Record { return createRec("", 9, 1, 1) }, want: ErrInvalidRecord},
		{name: "create existing name", rec: func(*Image) Record { return createRec("t", 9, 1, 1) }, want: ErrTopicExists},
		{name: "create existing id", rec: func(*Image) Record { return createRec("v", 1, 1, 1) }, want: ErrTopicExists},
		{name: "create 0 partitions", rec: func(*Image) Record { return createRec("v", 9, 0, 1) }, want: ErrInvalidPartitions},
		{name: "create -1 partitions", rec: func(*Image) Record { return createRec("v", 9, -1, 1) }, want: ErrInvalidPartitions},
		{name: "create too many partitions", rec: func(*Image) Record { return createRec("v", 9, MaxPartitionsPerTopic+1, 1) }, want: ErrInvalidPartitions},
		{name: "create rf 0", rec: func(*Image) Record { return createRec("v", 9, 1, 0) }, want: ErrInvalidReplicationFactor},
		{name: "create rf -1", rec: func(*Image) Record { return createRec("v", 9, 1, -1) }, want: ErrInvalidReplicationFactor},
		{name: "create rf above unfenced brokers", rec: func(*Image) Record { return createRec("v", 9, 1, 4) }, want: ErrInvalidReplicationFactor},
		{name: "create rf above limit", rec: func(*Image) Record { return createRec("v", 9, 1, MaxReplicationFactor+1) }, want: ErrInvalidReplicationFactor},
		{name: "create with every broker fenced", setup: func(im *Image) {
			for _, id := range []int32{1, 2, 3} {
				mustApply(t, im, fenceRec(id, incarnationOf(id)))
			}
		}, rec: func(*Image) Record { return createRec("v", 9, 1, 1) }, want: ErrInvalidReplicationFactor},
		{name: "manual unregistered broker", rec: func(*Image) Record { return createManualRec("v", 9, []int32{1, 7}) }, want: ErrInvalidReplicaAssignment},
		{name: "manual negative broker", rec: func(*Image) Record { return createManualRec("v", 9, []int32{-1}) }, want: ErrInvalidReplicaAssignment},
		{name: "manual duplicate replica", rec: func(*Image) Record { return createManualRec("v", 9, []int32{1, 1}) }, want: ErrInvalidReplicaAssignment},
		{name: "manual empty replica list", rec: func(*Image) Record { return createManualRec("v", 9, []int32{1}, []int32{}) }, want: ErrInvalidReplicaAssignment},
		{name: "manual mixed rf", rec: func(*Image) Record { return createManualRec("v", 9, []int32{1, 2}, []int32{3}) }, want: ErrInvalidReplicaAssignment},
		{name: "manual rf above limit", rec: func(*Image) Record { return createManualRec("v", 9, wide) }, want: ErrInvalidReplicaAssignment},
		{name: "manual too many partitions", rec: func(*Image) Record { return createManualRec("v", 9, over...) }, want: ErrInvalidPartitions},
		{name: "delete unknown", rec: func(*Image) Record { return Record{DeleteTopic: &DeleteTopic{Name: "v"}} }, want: ErrUnknownTopic},
		{name: "delete wrong id", rec: func(*Image) Record { return Record{DeleteTopic: &DeleteTopic{Name: "t", ID: TopicID{2}}} }, want: ErrUnknownTopic},
		{name: "partitions unknown topic", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "v", Count: 5}}
		}, want: ErrUnknownTopic},
		{name: "partitions wrong id", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "t", ID: TopicID{2}, Count: 5}}
		}, want: ErrUnknownTopic},
		{name: "partitions same count", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "t", Count: 3}}
		}, want: ErrInvalidPartitions},
		{name: "partitions shrink", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "t", Count: 1}}
		}, want: ErrInvalidPartitions},
		{name: "partitions above limit", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "t", Count: MaxPartitionsPerTopic + 1}}
		}, want: ErrInvalidPartitions},
		{name: "partitions manual wrong count", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "t", Count: 5, Assignment: [][]int32{{1, 2}}}}
		}, want: ErrInvalidReplicaAssignment},
		{name: "partitions manual wrong rf", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "t", Count: 4, Assignment: [][]int32{{1, 2, 3}}}}
		}, want: ErrInvalidReplicaAssignment},
		{name: "partitions manual unregistered", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "t", Count: 4, Assignment: [][]int32{{1, 8}}}}
		}, want: ErrInvalidReplicaAssignment},
		{name: "partitions rf above unfenced brokers", setup: func(im *Image) {
			mustApply(t, im, fenceRec(3, incarnationOf(3)))
		}, rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "u", Count: 2}}
		}, want: ErrInvalidReplicationFactor},
		{name: "isr unknown topic", rec: func(im *Image) Record {
			r := isrRec(im, "t", 0, 1, 2)
			r.ChangeISR.Topic = "v"
			return r
		}, want: ErrUnknownTopic},
		{name: "isr wrong topic id", rec: func(im *Image) Record {
			r := isrRec(im, "t", 0, 1, 2)
			r.ChangeISR.ID = TopicID{2}
			return r
		}, want: ErrUnknownTopic},
		{name: "isr negative partition", rec: func(im *Image) Record {
			r := isrRec(im, "t", 0, 1, 2)
			r.ChangeISR.Partition = -1
			return r
		}, want: ErrUnknownTopic},
		{name: "isr partition past the end", rec: func(im *Image) Record {
			r := isrRec(im, "t", 0, 1, 2)
			r.ChangeISR.Partition = 3
			return r
		}, want: ErrUnknownTopic},
		{name: "isr stale leader epoch", setup: func(im *Image) {
			// Leaderless and back: the leader is the same broker again
			// but at a newer epoch.
			mustApply(t, im, isrRec(im, "u", 0, 1))
			mustApply(t, im, fenceRec(1, incarnationOf(1)))
			mustApply(t, im, unfenceRec(1, incarnationOf(1)))
			wantPartition(t, part(t, im, "u", 0), 1, 2, 3, 1)
		}, rec: func(im *Image) Record {
			r := isrRec(im, "u", 0, 1)
			r.ChangeISR.LeaderEpoch--
			return r
		}, want: ErrStalePartitionState},
		{name: "isr future leader epoch", rec: func(im *Image) Record {
			r := isrRec(im, "u", 0, 1, 2)
			r.ChangeISR.LeaderEpoch++
			return r
		}, want: ErrStalePartitionState},
		{name: "isr stale partition epoch", setup: func(im *Image) {
			mustApply(t, im, isrRec(im, "u", 0, 1, 2))
		}, rec: func(im *Image) Record {
			r := isrRec(im, "u", 0, 1, 2, 3)
			r.ChangeISR.PartitionEpoch--
			return r
		}, want: ErrStalePartitionState},
		{name: "isr from a former leader", setup: func(im *Image) {
			mustApply(t, im, fenceRec(1, incarnationOf(1)))
		}, rec: func(im *Image) Record {
			r := isrRec(im, "u", 0, 1, 2)
			r.ChangeISR.Leader = 1
			return r
		}, want: ErrStalePartitionState},
		{name: "isr on a leaderless partition", setup: func(im *Image) {
			for _, id := range []int32{1, 2, 3} {
				mustApply(t, im, fenceRec(id, incarnationOf(id)))
			}
		}, rec: func(im *Image) Record { return isrRec(im, "u", 0, 3) }, want: ErrInvalidISR},
		{name: "isr empty", rec: func(im *Image) Record { return isrRec(im, "u", 0) }, want: ErrInvalidISR},
		{name: "isr without the leader", rec: func(im *Image) Record { return isrRec(im, "u", 0, 2, 3) }, want: ErrInvalidISR},
		{name: "isr duplicate", rec: func(im *Image) Record { return isrRec(im, "u", 0, 1, 2, 2) }, want: ErrInvalidISR},
		{name: "isr non-replica", rec: func(im *Image) Record { return isrRec(im, "t", 0, 1, 2, 3) }, want: ErrInvalidISR},
		{name: "isr fenced broker cannot join", setup: func(im *Image) {
			mustApply(t, im, isrRec(im, "u", 0, 1, 2))
			mustApply(t, im, fenceRec(3, incarnationOf(3)))
		}, rec: func(im *Image) Record { return isrRec(im, "u", 0, 1, 2, 3) }, want: ErrInvalidISR},
		{name: "isr new incarnation cannot join before unfencing", setup: func(im *Image) {
			mustApply(t, im, isrRec(im, "u", 0, 1, 2))
			mustApply(t, im, regRec(3, 999))
		}, rec: func(im *Image) Record { return isrRec(im, "u", 0, 1, 2, 3) }, want: ErrInvalidISR},
		{name: "configs unknown topic", rec: func(*Image) Record {
			return Record{SetTopicConfigs: &SetTopicConfigs{Name: "v", Configs: map[string]string{"a": "b"}}}
		}, want: ErrUnknownTopic},
		{name: "configs wrong id", rec: func(*Image) Record {
			return Record{SetTopicConfigs: &SetTopicConfigs{Name: "t", ID: TopicID{2}, Configs: map[string]string{"a": "b"}}}
		}, want: ErrUnknownTopic},
		{name: "producer ids 0", rec: func(*Image) Record {
			return Record{AllocateProducerIDs: &AllocateProducerIDs{Broker: 1}}
		}, want: ErrInvalidRecord},
		{name: "producer ids negative", rec: func(*Image) Record {
			return Record{AllocateProducerIDs: &AllocateProducerIDs{Broker: 1, Count: -5}}
		}, want: ErrInvalidRecord},
		{name: "producer ids above block limit", rec: func(*Image) Record {
			return Record{AllocateProducerIDs: &AllocateProducerIDs{Broker: 1, Count: MaxProducerIDBlock + 1}}
		}, want: ErrInvalidRecord},
		{name: "producer ids exhausted", setup: func(im *Image) { im.ProducerIDEnd = 1<<62 + 1 }, rec: func(*Image) Record {
			return Record{AllocateProducerIDs: &AllocateProducerIDs{Broker: 1, Count: 1}}
		}, want: ErrInvalidRecord},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := baseImage(t)
			if c.setup != nil {
				c.setup(im)
			}
			mustRefuse(t, im, c.rec(im), c.want)
			if err := im.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestApplySuccesses(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, im *Image)
		rec   func(im *Image) Record
		check func(t *testing.T, im *Image, before *Image, res Result)
	}{
		{name: "register new broker starts fenced", rec: func(*Image) Record {
			return Record{RegisterBroker: &RegisterBroker{ID: 0, Host: "zero", Port: 65535, Incarnation: 5}}
		}, check: func(t *testing.T, im, _ *Image, _ Result) {
			b := im.Broker(0)
			if b == nil || !b.Fenced || b.Host != "zero" || b.Port != 65535 || b.Incarnation != 5 {
				t.Fatalf("broker %+v", b)
			}
			if ids := im.UnfencedBrokerIDs(); !sameIDs(ids, []int32{1, 2, 3}) {
				t.Fatalf("unfenced %v", ids)
			}
			if ids := im.BrokerIDs(); !sameIDs(ids, []int32{0, 1, 2, 3, 4}) {
				t.Fatalf("brokers %v", ids)
			}
		}},
		{name: "re-register same incarnation updates the endpoint only", rec: func(*Image) Record {
			return Record{RegisterBroker: &RegisterBroker{ID: 1, Host: "moved", Port: 19092, Incarnation: incarnationOf(1)}}
		}, check: func(t *testing.T, im, before *Image, _ Result) {
			b := im.Broker(1)
			if b.Fenced || b.Host != "moved" || b.Port != 19092 {
				t.Fatalf("broker %+v", b)
			}
			samePartitions(t, before, im)
		}},
		{name: "re-register new incarnation fences the old one first", rec: func(*Image) Record {
			return regRec(1, 555)
		}, check: func(t *testing.T, im, before *Image, _ Result) {
			b := im.Broker(1)
			if !b.Fenced || b.Incarnation != 555 {
				t.Fatalf("broker %+v", b)
			}
			// Broker 1 led u-0: broker 2 leads now, and 1 left the ISR.
			wantPartition(t, part(t, im, "u", 0), 2, 1, 1, 2, 3)
			checkFencedEverywhere(t, im, 1)
		}},
		{name: "re-register a fenced broker with a new incarnation", setup: func(t *testing.T, im *Image) {
			mustApply(t, im, fenceRec(1, incarnationOf(1)))
		}, rec: func(*Image) Record { return regRec(1, 555) }, check: func(t *testing.T, im, before *Image, _ Result) {
			if b := im.Broker(1); !b.Fenced || b.Incarnation != 555 {
				t.Fatalf("broker %+v", b)
			}
			samePartitions(t, before, im)
		}},
		{name: "fence an already fenced broker is a no-op", rec: func(*Image) Record {
			return fenceRec(4, incarnationOf(4))
		}, check: func(t *testing.T, im, before *Image, _ Result) {
			if !bytes.Equal(marshal(t, im), marshal(t, before)) {
				t.Fatal("image changed")
			}
		}},
		{name: "unfence an unfenced broker is a no-op", rec: func(*Image) Record {
			return unfenceRec(2, incarnationOf(2))
		}, check: func(t *testing.T, im, before *Image, _ Result) {
			if !bytes.Equal(marshal(t, im), marshal(t, before)) {
				t.Fatal("image changed")
			}
		}},
		{name: "unfence a broker without partitions", rec: func(*Image) Record {
			return unfenceRec(4, incarnationOf(4))
		}, check: func(t *testing.T, im, before *Image, _ Result) {
			if im.Broker(4).Fenced {
				t.Fatal("still fenced")
			}
			samePartitions(t, before, im)
		}},
		{name: "create automatic", rec: func(*Image) Record {
			r := createRec("v", 9, 4, 3)
			r.CreateTopic.Configs = map[string]string{"retention.ms": "5"}
			return r
		}, check: func(t *testing.T, im, _ *Image, _ Result) {
			tp := im.Topic("v")
			if tp == nil || tp.Partitions != 4 || tp.ID != (TopicID{9}) || tp.Configs["retention.ms"] != "5" || im.TopicByID(TopicID{9}) != tp {
				t.Fatalf("topic %+v", tp)
			}
			for i := range tp.Assignments {
				p := &tp.Assignments[i]
				if len(p.Replicas) != 3 || hasDuplicates(p.Replicas) || contains(p.Replicas, 4) ||
					p.Leader != p.Replicas[0] || !sameIDs(p.ISR, p.Replicas) || p.LeaderEpoch != 0 || p.PartitionEpoch != 0 {
					t.Fatalf("v-%d: %s", i, p)
				}
			}
		}},
		{name: "create manual skips fenced replicas in the ISR", rec: func(*Image) Record {
			return createManualRec("v", 9, []int32{4, 2, 1}, []int32{3, 4, 1})
		}, check: func(t *testing.T, im, _ *Image, _ Result) {
			wantPartition(t, part(t, im, "v", 0), 2, 0, 0, 2, 1)
			wantPartition(t, part(t, im, "v", 1), 3, 0, 0, 3, 1)
			if p := part(t, im, "v", 0); !sameIDs(p.Replicas, []int32{4, 2, 1}) {
				t.Fatalf("replicas %v", p.Replicas)
			}
		}},
		{name: "create manual on fenced brokers only is leaderless", rec: func(*Image) Record {
			return createManualRec("v", 9, []int32{4})
		}, check: func(t *testing.T, im, _ *Image, _ Result) {
			wantPartition(t, part(t, im, "v", 0), NoLeader, 0, 0, 4)
		}},
		{name: "create with the zero id", rec: func(*Image) Record { return createRec("v", 0, 1, 1) },
			check: func(t *testing.T, im, _ *Image, _ Result) {
				if im.TopicByID(TopicID{}) != im.Topic("v") {
					t.Fatal("not indexed by the zero id")
				}
			}},
		{name: "delete by name", rec: func(*Image) Record { return Record{DeleteTopic: &DeleteTopic{Name: "t"}} },
			check: func(t *testing.T, im, _ *Image, _ Result) {
				if im.Topic("t") != nil || im.TopicByID(TopicID{1}) != nil || im.Len() != 1 {
					t.Fatal("topic kept")
				}
			}},
		{name: "delete by name and id", rec: func(*Image) Record {
			return Record{DeleteTopic: &DeleteTopic{Name: "u", ID: TopicID{2}}}
		}, check: func(t *testing.T, im, _ *Image, _ Result) {
			if im.Topic("u") != nil || im.TopicByID(TopicID{2}) != nil || im.Len() != 1 {
				t.Fatal("topic kept")
			}
		}},
		{name: "create partitions automatic keeps the rf", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "t", ID: TopicID{1}, Count: 6}}
		}, check: func(t *testing.T, im, before *Image, _ Result) {
			tp := im.Topic("t")
			if tp.Partitions != 6 || len(tp.Assignments) != 6 {
				t.Fatalf("topic %+v", tp)
			}
			for i := 0; i < 3; i++ {
				if tp.Assignments[i].String() != before.Topic("t").Assignments[i].String() {
					t.Fatalf("t-%d changed", i)
				}
			}
			for i := 3; i < 6; i++ {
				p := &tp.Assignments[i]
				if len(p.Replicas) != 2 || p.Leader != p.Replicas[0] || contains(p.Replicas, 4) {
					t.Fatalf("t-%d: %s", i, p)
				}
			}
		}},
		{name: "create partitions manual", rec: func(*Image) Record {
			return Record{CreatePartitions: &CreatePartitions{Name: "t", Count: 5, Assignment: [][]int32{{3, 1}, {4, 2}}}}
		}, check: func(t *testing.T, im, _ *Image, _ Result) {
			wantPartition(t, part(t, im, "t", 3), 3, 0, 0, 3, 1)
			wantPartition(t, part(t, im, "t", 4), 2, 0, 0, 2)
		}},
		{name: "isr shrink", rec: func(im *Image) Record { return isrRec(im, "u", 0, 1, 3) },
			check: func(t *testing.T, im, _ *Image, _ Result) {
				wantPartition(t, part(t, im, "u", 0), 1, 0, 1, 1, 3)
			}},
		{name: "isr expand with an unfenced broker, sorted", setup: func(t *testing.T, im *Image) {
			mustApply(t, im, isrRec(im, "u", 0, 1))
		}, rec: func(im *Image) Record { return isrRec(im, "u", 0, 3, 1, 2) },
			check: func(t *testing.T, im, _ *Image, _ Result) {
				wantPartition(t, part(t, im, "u", 0), 1, 0, 2, 1, 2, 3)
			}},
		{name: "isr may keep a fenced member it already has", setup: func(t *testing.T, im *Image) {
			// A partition created on fenced brokers only has them all in
			// its ISR; unfencing one makes it the leader beside a fenced
			// ISR member.
			mustApply(t, im, regRec(5, 5))
			mustApply(t, im, createManualRec("v", 9, []int32{4, 5}))
			mustApply(t, im, unfenceRec(5, 5))
			wantPartition(t, part(t, im, "v", 0), 5, 1, 1, 4, 5)
		}, rec: func(im *Image) Record { return isrRec(im, "v", 0, 5, 4) },
			check: func(t *testing.T, im, _ *Image, _ Result) {
				wantPartition(t, part(t, im, "v", 0), 5, 1, 2, 4, 5)
			}},
		{name: "configs replace", setup: func(t *testing.T, im *Image) {
			mustApply(t, im, Record{SetTopicConfigs: &SetTopicConfigs{Name: "t", Configs: map[string]string{"a": "1", "b": "2"}}})
		}, rec: func(*Image) Record {
			return Record{SetTopicConfigs: &SetTopicConfigs{Name: "t", ID: TopicID{1}, Configs: map[string]string{"b": "3"}}}
		}, check: func(t *testing.T, im, before *Image, _ Result) {
			if c := im.Topic("t").Configs; len(c) != 1 || c["b"] != "3" {
				t.Fatalf("configs %v", c)
			}
			samePartitions(t, before, im)
		}},
		{name: "configs clear", setup: func(t *testing.T, im *Image) {
			mustApply(t, im, Record{SetTopicConfigs: &SetTopicConfigs{Name: "t", Configs: map[string]string{"a": "1"}}})
		}, rec: func(*Image) Record {
			return Record{SetTopicConfigs: &SetTopicConfigs{Name: "t", Configs: map[string]string{}}}
		}, check: func(t *testing.T, im, _ *Image, _ Result) {
			if c := im.Topic("t").Configs; c != nil {
				t.Fatalf("configs %v", c)
			}
		}},
		{name: "producer ids", setup: func(t *testing.T, im *Image) { im.ProducerIDEnd = 1000 }, rec: func(*Image) Record {
			return Record{AllocateProducerIDs: &AllocateProducerIDs{Broker: 2, Count: MaxProducerIDBlock}}
		}, check: func(t *testing.T, im, _ *Image, res Result) {
			if res.ProducerIDStart != 1000 || im.ProducerIDEnd != 1000+MaxProducerIDBlock {
				t.Fatalf("start %d end %d", res.ProducerIDStart, im.ProducerIDEnd)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := baseImage(t)
			if c.setup != nil {
				c.setup(t, im)
			}
			before := clone(t, im)
			res := mustApply(t, im, c.rec(im))
			c.check(t, im, before, res)
			if back := clone(t, im); !bytes.Equal(marshal(t, back), marshal(t, im)) {
				t.Fatal("snapshot round trip differs")
			}
		})
	}
}

// samePartitions fails unless a and b hold the same partition states.
func samePartitions(t fataler, a, b *Image) {
	if fmt.Sprint(a.TopicNames()) != fmt.Sprint(b.TopicNames()) {
		t.Fatalf("topics %v and %v", a.TopicNames(), b.TopicNames())
	}
	for _, name := range a.TopicNames() {
		pa, pb := a.Topic(name).Assignments, b.Topic(name).Assignments
		if len(pa) != len(pb) {
			t.Fatalf("%s: %d and %d partitions", name, len(pa), len(pb))
		}
		for i := range pa {
			if pa[i].String() != pb[i].String() {
				t.Fatalf("%s-%d: %s became %s", name, i, &pa[i], &pb[i])
			}
		}
	}
}

// checkFencedEverywhere fails if fenced broker id leads a partition or
// shares an ISR with others.
func checkFencedEverywhere(t fataler, im *Image, id int32) {
	for _, name := range im.TopicNames() {
		for i, p := range im.Topic(name).Assignments {
			if p.Leader == id || (len(p.ISR) > 1 && contains(p.ISR, id)) {
				t.Fatalf("fenced broker %d still in %s-%d: %s", id, name, i, &p)
			}
		}
	}
}

func TestApplyDoesNotAliasRecords(t *testing.T) {
	im := newCluster(t, 1, 2, 3)
	assignment := [][]int32{{1, 2}, {2, 3}}
	configs := map[string]string{"a": "1"}
	mustApply(t, im, Record{CreateTopic: &CreateTopic{Name: "t", ID: TopicID{1}, Assignment: assignment, Configs: configs}})
	isr := []int32{2}
	mustApply(t, im, isrRec(im, "t", 1, isr...))
	r := isrRec(im, "t", 1, 2)
	r.ChangeISR.ISR = isr
	mustApply(t, im, r)
	set := map[string]string{"b": "2"}
	mustApply(t, im, Record{SetTopicConfigs: &SetTopicConfigs{Name: "t", Configs: set}})
	before := marshal(t, im)
	assignment[0][0], assignment[1][1] = 9, 9
	configs["a"], set["b"], set["c"] = "x", "x", "x"
	isr[0] = 3
	if !bytes.Equal(before, marshal(t, im)) {
		t.Fatal("mutating an applied record changed the image")
	}
}

func TestPlacementSpreadsLeaders(t *testing.T) {
	im := newCluster(t, 1, 2, 3)
	mustApply(t, im, regRec(4, incarnationOf(4))) // fenced: never placed
	mustApply(t, im, createRec("t", 1, 30, 3))
	leaders := map[int32]int{}
	replicas := map[int32]int{}
	for i, p := range im.Topic("t").Assignments {
		if p.Leader != p.Replicas[0] || !sameIDs(p.ISR, p.Replicas) || len(p.Replicas) != 3 || hasDuplicates(p.Replicas) {
			t.Fatalf("t-%d: %s", i, &p)
		}
		leaders[p.Leader]++
		for _, id := range p.Replicas {
			replicas[id]++
		}
	}
	for _, id := range []int32{1, 2, 3} {
		if leaders[id] != 10 || replicas[id] != 30 {
			t.Fatalf("broker %d leads %d and holds %d of 30 partitions (leaders %v)", id, leaders[id], replicas[id], leaders)
		}
	}
	if leaders[4] != 0 || replicas[4] != 0 {
		t.Fatal("fenced broker placed")
	}

	// Single-partition topics rotate too, so leaders spread across topics.
	im = newCluster(t, 1, 2, 3, 4)
	leaders = map[int32]int{}
	for i := 0; i < 8; i++ {
		mustApply(t, im, createRec(fmt.Sprintf("s%d", i), byte(i+1), 1, 2))
		leaders[im.Topic(fmt.Sprintf("s%d", i)).Assignments[0].Leader]++
	}
	for _, id := range []int32{1, 2, 3, 4} {
		if leaders[id] != 2 {
			t.Fatalf("one-partition topics: leaders %v", leaders)
		}
	}
	// Added partitions keep spreading.
	mustApply(t, im, Record{CreatePartitions: &CreatePartitions{Name: "s0", Count: 9}})
	for _, p := range im.Topic("s0").Assignments[1:] {
		leaders[p.Leader]++
	}
	for _, id := range []int32{1, 2, 3, 4} {
		if leaders[id] != 4 {
			t.Fatalf("after adding partitions: leaders %v", leaders)
		}
	}

	// RF above the unfenced brokers is refused; fencing shrinks the pool.
	mustApply(t, im, fenceRec(4, incarnationOf(4)))
	mustRefuse(t, im, createRec("x", 99, 1, 4), ErrInvalidReplicationFactor)
	mustApply(t, im, createRec("x", 99, 3, 3))
	for _, p := range im.Topic("x").Assignments {
		if contains(p.Replicas, 4) {
			t.Fatalf("fenced broker placed: %s", &p)
		}
	}
}

func TestFailover(t *testing.T) {
	im := newCluster(t, 1, 2, 3)
	mustApply(t, im, createManualRec("t", 1, []int32{1, 2, 3}))
	p := func() *Partition { return part(t, im, "t", 0) }
	wantPartition(t, p(), 1, 0, 0, 1, 2, 3)

	mustApply(t, im, fenceRec(1, incarnationOf(1)))
	wantPartition(t, p(), 2, 1, 1, 2, 3)
	mustApply(t, im, fenceRec(3, incarnationOf(3))) // a follower: ISR shrinks, leader stays
	wantPartition(t, p(), 2, 1, 2, 2)
	mustApply(t, im, fenceRec(2, incarnationOf(2))) // the last ISR member: no leader, ISR kept
	wantPartition(t, p(), NoLeader, 2, 3, 2)
	checkFencedEverywhere(t, im, 1)
	checkFencedEverywhere(t, im, 3)

	mustApply(t, im, unfenceRec(1, incarnationOf(1))) // not in the ISR: no clean election
	wantPartition(t, p(), NoLeader, 2, 3, 2)
	mustApply(t, im, unfenceRec(3, incarnationOf(3)))
	wantPartition(t, p(), NoLeader, 2, 3, 2)
	mustApply(t, im, unfenceRec(2, incarnationOf(2))) // it leads again at a new epoch
	wantPartition(t, p(), 2, 3, 4, 2)

	// The leader grows the ISR back; the old ISR's epochs are stale now.
	stale := isrRec(im, "t", 0, 1, 2, 3)
	mustApply(t, im, isrRec(im, "t", 0, 1, 2, 3))
	wantPartition(t, p(), 2, 3, 5, 1, 2, 3)
	mustRefuse(t, im, stale, ErrStalePartitionState)

	// Leadership goes in replica order, so the preferred leader wins.
	mustApply(t, im, fenceRec(2, incarnationOf(2)))
	wantPartition(t, p(), 1, 4, 6, 1, 3)

	// A restart (new incarnation) of the leader moves its leadership; the
	// new process starts fenced and the old incarnation is forgotten.
	mustApply(t, im, regRec(1, 7))
	wantPartition(t, p(), 3, 5, 7, 3)
	mustRefuse(t, im, unfenceRec(1, incarnationOf(1)), ErrUnknownBroker)
	mustRefuse(t, im, fenceRec(1, incarnationOf(1)), ErrUnknownBroker)
	mustRefuse(t, im, isrRec(im, "t", 0, 1, 3), ErrInvalidISR) // fenced: cannot join
	mustApply(t, im, unfenceRec(1, 7))
	wantPartition(t, p(), 3, 5, 7, 3) // has a leader: unfencing changes nothing
	mustApply(t, im, isrRec(im, "t", 0, 1, 3))
	wantPartition(t, p(), 3, 5, 8, 1, 3)

	// Restart of the last ISR member: it stays the ISR, leaderless, until
	// the new incarnation is unfenced.
	mustApply(t, im, isrRec(im, "t", 0, 3))
	mustApply(t, im, regRec(3, 8))
	wantPartition(t, p(), NoLeader, 6, 10, 3)
	mustApply(t, im, unfenceRec(3, 8))
	wantPartition(t, p(), 3, 7, 11, 3)
}

func TestFencingManyPartitions(t *testing.T) {
	im := newCluster(t, 1, 2, 3, 4)
	mustApply(t, im, createRec("a", 1, 12, 3))
	mustApply(t, im, createRec("b", 2, 5, 2))
	before := clone(t, im)
	mustApply(t, im, fenceRec(2, incarnationOf(2)))
	checkFencedEverywhere(t, im, 2)
	for _, name := range im.TopicNames() {
		for i, p := range im.Topic(name).Assignments {
			old := before.Topic(name).Assignments[i]
			switch {
			case old.Leader == 2:
				if p.Leader == NoLeader || p.LeaderEpoch != old.LeaderEpoch+1 || p.PartitionEpoch != old.PartitionEpoch+1 || !contains(old.ISR, p.Leader) {
					t.Fatalf("%s-%d: %s became %s", name, i, &old, &p)
				}
				// The first unfenced ISR member in replica order leads.
				for _, id := range p.Replicas {
					if id != 2 && contains(old.ISR, id) {
						if p.Leader != id {
							t.Fatalf("%s-%d: %s elected %d, want %d", name, i, &old, p.Leader, id)
						}
						break
					}
				}
			case contains(old.ISR, 2):
				if p.Leader != old.Leader || p.LeaderEpoch != old.LeaderEpoch || p.PartitionEpoch != old.PartitionEpoch+1 {
					t.Fatalf("%s-%d: %s became %s", name, i, &old, &p)
				}
			default:
				if p.String() != old.String() {
					t.Fatalf("%s-%d: %s became %s", name, i, &old, &p)
				}
			}
		}
	}
}

func TestUncleanLeaderElection(t *testing.T) {
	for _, unclean := range []bool{false, true} {
		t.Run(fmt.Sprint("unclean=", unclean), func(t *testing.T) {
			im := newCluster(t, 1, 2, 3)
			r := createManualRec("t", 1, []int32{1, 2, 3})
			if unclean {
				r.CreateTopic.Configs = map[string]string{UncleanLeaderElectionConfig: "true"}
			} else {
				r.CreateTopic.Configs = map[string]string{UncleanLeaderElectionConfig: "false"}
			}
			mustApply(t, im, r)
			mustApply(t, im, isrRec(im, "t", 0, 1)) // 2 and 3 fall behind
			mustApply(t, im, fenceRec(1, incarnationOf(1)))
			p := part(t, im, "t", 0)
			if unclean {
				wantPartition(t, p, 2, 1, 2, 2)
			} else {
				wantPartition(t, p, NoLeader, 1, 2, 1)
			}
		})
	}

	// Enabling it later takes effect at the next election: here, when a
	// replica outside the ISR is unfenced.
	im := newCluster(t, 1, 2, 3)
	mustApply(t, im, createManualRec("t", 1, []int32{1, 2, 3}))
	mustApply(t, im, isrRec(im, "t", 0, 1))
	mustApply(t, im, fenceRec(3, incarnationOf(3)))
	mustApply(t, im, fenceRec(1, incarnationOf(1)))
	wantPartition(t, part(t, im, "t", 0), NoLeader, 1, 2, 1)
	mustApply(t, im, Record{SetTopicConfigs: &SetTopicConfigs{Name: "t", Configs: map[string]string{UncleanLeaderElectionConfig: "true"}}})
	wantPartition(t, part(t, im, "t", 0), NoLeader, 1, 2, 1)
	mustApply(t, im, unfenceRec(3, incarnationOf(3)))
	// 2 is first in replica order among the unfenced replicas.
	wantPartition(t, part(t, im, "t", 0), 2, 2, 3, 2)
	if err := im.Check(); err != nil {
		t.Fatal(err)
	}

	// An ISR member that comes back is still preferred over an unclean pick.
	im = newCluster(t, 1, 2, 3)
	r := createManualRec("t", 1, []int32{1, 2, 3})
	r.CreateTopic.Configs = map[string]string{UncleanLeaderElectionConfig: "true"}
	mustApply(t, im, r)
	mustApply(t, im, isrRec(im, "t", 0, 1, 3))
	mustApply(t, im, fenceRec(1, incarnationOf(1)))
	wantPartition(t, part(t, im, "t", 0), 3, 1, 2, 3)
}

func TestAllocateProducerIDsNeverOverlap(t *testing.T) {
	im := newCluster(t, 1)
	type block struct{ start, end int64 }
	var blocks []block
	for i, n := range []int64{1, 1000, MaxProducerIDBlock, 7, 1, 3} {
		res := mustApply(t, im, Record{AllocateProducerIDs: &AllocateProducerIDs{Broker: int32(i % 3), Count: n}})
		blocks = append(blocks, block{res.ProducerIDStart, res.ProducerIDStart + n})
		if im.ProducerIDEnd != res.ProducerIDStart+n {
			t.Fatalf("end %d after block %v", im.ProducerIDEnd, blocks[len(blocks)-1])
		}
		mustRefuse(t, im, Record{AllocateProducerIDs: &AllocateProducerIDs{Broker: 1, Count: 0}}, ErrInvalidRecord)
	}
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].start < blocks[j].start })
	for i := 1; i < len(blocks); i++ {
		if blocks[i].start < blocks[i-1].end {
			t.Fatalf("blocks %v and %v overlap", blocks[i-1], blocks[i])
		}
	}
	// Blocks survive a snapshot: a restored image never hands them out again.
	back := clone(t, im)
	res := mustApply(t, back, Record{AllocateProducerIDs: &AllocateProducerIDs{Broker: 1, Count: 5}})
	if res.ProducerIDStart != blocks[len(blocks)-1].end {
		t.Fatalf("after restore: start %d, want %d", res.ProducerIDStart, blocks[len(blocks)-1].end)
	}
	// Near exhaustion the last block still fits in an int64.
	back.ProducerIDEnd = 1 << 62
	res = mustApply(t, back, Record{AllocateProducerIDs: &AllocateProducerIDs{Count: MaxProducerIDBlock}})
	if res.ProducerIDStart != 1<<62 || back.ProducerIDEnd != 1<<62+MaxProducerIDBlock {
		t.Fatalf("start %d end %d", res.ProducerIDStart, back.ProducerIDEnd)
	}
	mustRefuse(t, back, Record{AllocateProducerIDs: &AllocateProducerIDs{Count: 1}}, ErrInvalidRecord)
}

func TestEntryCodec(t *testing.T) {
	e := &Entry{Proposer: 3, Incarnation: 1 << 63, Seq: 42, Records: []Record{
		regRec(1, 7),
		fenceRec(1, 7),
		unfenceRec(1, 7),
		{CreateTopic: &CreateTopic{Name: "t", ID: TopicID{1, 2, 3}, Partitions: 2, ReplicationFactor: 1,
			Configs: map[string]string{UncleanLeaderElectionConfig: "true"}}},
		createManualRec("m", 4, []int32{1}),
		{DeleteTopic: &DeleteTopic{Name: "m", ID: TopicID{4}}},
		{CreatePartitions: &CreatePartitions{Name: "t", ID: TopicID{1, 2, 3}, Count: 3, Assignment: [][]int32{{1}}}},
		{ChangeISR: &ChangeISR{Topic: "t", ID: TopicID{1, 2, 3}, Partition: 1, Leader: 1, LeaderEpoch: 2, PartitionEpoch: 3, ISR: []int32{1}}},
		{SetTopicConfigs: &SetTopicConfigs{Name: "t", Configs: map[string]string{"x": "y"}}},
		{AllocateProducerIDs: &AllocateProducerIDs{Broker: 1, Count: 10}},
	}}
	data, err := EncodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := EncodeEntry(back)
	if err != nil || !bytes.Equal(data, again) {
		t.Fatalf("re-encoding differs (%v):\n%s\n%s", err, data, again)
	}
	if back.Proposer != 3 || back.Incarnation != 1<<63 || back.Seq != 42 || len(back.Records) != len(e.Records) {
		t.Fatalf("decoded %+v", back)
	}
	// The decoded entry applies exactly as the original does.
	im1, im2 := NewImage(), NewImage()
	r1, r2 := im1.ApplyEntry(e), im2.ApplyEntry(back)
	for i := range r1 {
		if fmt.Sprint(r1[i]) != fmt.Sprint(r2[i]) {
			t.Fatalf("record %d: %v and %v", i, r1[i], r2[i])
		}
	}
	if !bytes.Equal(marshal(t, im1), marshal(t, im2)) {
		t.Fatal("original and decoded entry built different images")
	}
	// ApplyEntry keeps going after a refused record: only the ChangeISR
	// (stale epochs) is refused.
	for i, res := range r1 {
		if (i == 7) != (res.Err != nil) || (i == 7 && !errors.Is(res.Err, ErrStalePartitionState)) {
			t.Fatalf("record %d: %v", i, res.Err)
		}
	}
	if r1[9].ProducerIDStart != 0 || im1.ProducerIDEnd != 10 || im1.Topic("m") != nil || im1.Topic("t").Partitions != 3 ||
		im1.Topic("t").Configs["x"] != "y" || im1.Broker(1).Fenced {
		t.Fatalf("image after the entry: %s", marshal(t, im1))
	}

	// Limits.
	big := &Entry{Records: make([]Record, MaxRecordsPerEntry+1)}
	if _, err := EncodeEntry(big); err == nil {
		t.Fatal("encoded an entry over the record limit")
	}
	var sb strings.Builder
	sb.WriteString(`{"records":[`)
	for i := 0; i <= MaxRecordsPerEntry; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("{}")
	}
	sb.WriteString("]}")
	if _, err := DecodeEntry([]byte(sb.String())); err == nil {
		t.Fatal("decoded an entry over the record limit")
	}
	ok := &Entry{Records: make([]Record, MaxRecordsPerEntry)}
	data, err = EncodeEntry(ok)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := DecodeEntry(data); err != nil || len(back.Records) != MaxRecordsPerEntry {
		t.Fatalf("entry at the limit: %v", err)
	}
	for _, bad := range []string{"", "{", "[]", `{"records":{}}`, `{"proposer":"x"}`, `{"records":[{"create_topic":{"partitions":"1"}}]}`} {
		if _, err := DecodeEntry([]byte(bad)); err == nil {
			t.Errorf("decoded %q", bad)
		}
	}
	// An empty record decodes and is refused by Apply, not a panic.
	back, err = DecodeEntry([]byte(`{"records":[{},{"change_isr":null}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range NewImage().ApplyEntry(back) {
		if !errors.Is(res.Err, ErrInvalidRecord) {
			t.Fatalf("empty record: %v", res.Err)
		}
	}
	// Invalid UTF-8 in names comes out of the codec as U+FFFD, so images
	// built from decoded entries survive a snapshot byte for byte.
	e = &Entry{Records: []Record{
		{RegisterBroker: &RegisterBroker{ID: 1, Host: "h\xff", Port: 1, Incarnation: 1}},
		unfenceRec(1, 1),
		{CreateTopic: &CreateTopic{Name: "t\xfe", Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"k\xff": "v\xff"}}},
	}}
	data, err = EncodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err = DecodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	im := NewImage()
	for _, res := range im.ApplyEntry(back) {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	if snap := marshal(t, im); !bytes.Equal(snap, marshal(t, clone(t, im))) {
		t.Fatal("snapshot of decoded invalid UTF-8 is not stable")
	}
}

// ---- property test ----

// upTo draws from [0, k] about uniformly. rapid's own integer draws lean
// hard towards small values, which would make the "plausible" branches
// below rare; the remainder keeps shrinking towards 0 all the same.
func upTo(t *rapid.T, k int, label string) int {
	return rapid.IntRange(0, 1<<20).Draw(t, label) % (k + 1)
}

// sample draws an element of s about uniformly.
func sample[E any](t *rapid.T, s []E, label string) E {
	return s[upTo(t, len(s)-1, label)]
}

// Record kinds of the property test, weighted by repetition in propKinds.
const (
	kindRegister = iota
	kindFence
	kindUnfence
	kindCreate
	kindDelete
	kindGrow
	kindISR
	kindConfigs
	kindProducerIDs
	kindEmpty
)

var propKinds = []int{
	kindRegister, kindRegister,
	kindFence, kindFence, kindFence,
	kindUnfence, kindUnfence, kindUnfence,
	kindCreate, kindCreate, kindCreate,
	kindDelete,
	kindGrow,
	kindISR, kindISR, kindISR, kindISR, kindISR,
	kindConfigs,
	kindProducerIDs,
	kindEmpty,
}

var (
	propNames   = []string{"a", "b", "c", "a", "b", "c", "", "ü-\x00\"\\"}
	propIDs     = []TopicID{{}, {1}, {2}, {3}, {0xff, 0xff}}
	propBrokers = []int32{-1, 0, 1, 2, 3, 4, 1 << 30}
)

// propModel drives one image (and a twin fed the same records through
// the entry codec) and checks invariants after every record.
type propModel struct {
	t     *rapid.T
	im    *Image
	twin  *Image
	trace []string
	// blocks are the producer-id blocks handed out so far.
	blocks [][2]int64
	// applied are the records applied to im and their results, replayed
	// at the end into a fresh image.
	applied []Record
	results []Result
}

func (m *propModel) fatalf(format string, args ...any) {
	m.t.Fatalf("%s\ntrace:\n  %s", fmt.Sprintf(format, args...), strings.Join(m.trace, "\n  "))
}

// drawRecord draws a record: mostly plausible ones built from the current
// image so that they often apply, plus garbage.
func (m *propModel) drawRecord() Record {
	t := m.t
	im := m.im
	pickBroker := func(label string) int32 {
		ids := im.BrokerIDs()
		if len(ids) > 0 && upTo(t, 4, label+"-known") > 0 {
			return sample(t, ids, label)
		}
		return sample(t, propBrokers, label)
	}
	incarnation := func(id int32, label string) uint64 {
		if b := im.Broker(id); b != nil && upTo(t, 5, label+"-current") > 0 {
			return b.Incarnation
		}
		return rapid.Uint64Range(0, 3).Draw(t, label)
	}
	topicName := func(label string) string {
		names := im.TopicNames()
		if len(names) > 0 && upTo(t, 3, label+"-known") > 0 {
			return sample(t, names, label)
		}
		return sample(t, propNames, label)
	}
	topicID := func(name, label string) TopicID {
		switch upTo(t, 3, label) {
		case 0:
			return TopicID{}
		case 1:
			return sample(t, propIDs, label+"-any")
		default:
			if tp := im.Topic(name); tp != nil {
				return tp.ID
			}
			return sample(t, propIDs, label+"-any")
		}
	}
	assignment := func(label string) [][]int32 {
		n := upTo(t, 4, label+"-n")
		if n == 0 {
			return nil
		}
		rf := upTo(t, 4, label+"-rf")
		out := make([][]int32, n)
		for i := range out {
			if upTo(t, 5, label+"-ragged") == 0 {
				rf = upTo(t, 4, label+"-rf")
			}
			for j := 0; j < rf; j++ {
				out[i] = append(out[i], pickBroker(label+"-replica"))
			}
		}
		return out
	}
	configs := func(label string) map[string]string {
		switch upTo(t, 4, label) {
		case 0:
			return nil
		case 1:
			return map[string]string{UncleanLeaderElectionConfig: "true"}
		case 2:
			return map[string]string{UncleanLeaderElectionConfig: "false", "retention.ms": "1"}
		case 3:
			return map[string]string{}
		default:
			return map[string]string{UncleanLeaderElectionConfig: "TRUE", "": "\x00"}
		}
	}

	switch propKinds[upTo(t, len(propKinds)-1, "kind")] {
	case kindRegister:
		id := pickBroker("reg-id")
		r := &RegisterBroker{ID: id, Host: "host", Port: 9092, Incarnation: incarnation(id, "reg-inc")}
		if upTo(t, 3, "reg-new") == 0 {
			r.Incarnation = rapid.Uint64().Draw(t, "reg-new-inc")
		}
		switch upTo(t, 6, "reg-garbage") {
		case 0:
			r.Host = ""
		case 1:
			r.Port = sample(t, []int32{-1, 0, 65536, 1<<31 - 1}, "reg-port")
		case 2:
			r.Host, r.Port = "moved", 1
		}
		return Record{RegisterBroker: r}
	case kindFence:
		id := pickBroker("fence-id")
		if ids := im.UnfencedBrokerIDs(); len(ids) > 0 && upTo(t, 3, "fence-unfenced") > 0 {
			id = sample(t, ids, "fence-unfenced-id")
		}
		return Record{FenceBroker: &FenceBroker{ID: id, Incarnation: incarnation(id, "fence-inc")}}
	case kindUnfence:
		id := pickBroker("unfence-id")
		var fenced []int32
		for _, b := range im.BrokerIDs() {
			if im.Broker(b).Fenced {
				fenced = append(fenced, b)
			}
		}
		if len(fenced) > 0 && upTo(t, 3, "unfence-fenced") > 0 {
			id = sample(t, fenced, "unfence-fenced-id")
		}
		return Record{UnfenceBroker: &UnfenceBroker{ID: id, Incarnation: incarnation(id, "unfence-inc")}}
	case kindCreate:
		name := sample(t, propNames, "create-name")
		r := &CreateTopic{
			Name:              name,
			ID:                sample(t, propIDs, "create-id"),
			Partitions:        rapid.Int32Range(1, 4).Draw(t, "create-partitions"),
			ReplicationFactor: int16(1 + upTo(t, max(0, len(im.UnfencedBrokerIDs())-1), "create-rf")),
			Configs:           configs("create-configs"),
		}
		if upTo(t, 3, "create-garbage") == 0 {
			r.Partitions = sample(t, []int32{-1, 0, 1, 2, 3, 5, MaxPartitionsPerTopic + 1}, "create-partitions-any")
			r.ReplicationFactor = sample(t, []int16{-1, 0, 1, 2, 3, 4, MaxReplicationFactor + 1}, "create-rf-any")
		}
		if upTo(t, 2, "create-manual") == 0 {
			r.Assignment = assignment("create-assignment")
		}
		return Record{CreateTopic: r}
	case kindDelete:
		name := topicName("delete-name")
		return Record{DeleteTopic: &DeleteTopic{Name: name, ID: topicID(name, "delete-id")}}
	case kindGrow:
		name := topicName("grow-name")
		r := &CreatePartitions{Name: name, ID: topicID(name, "grow-id"), Count: rapid.Int32Range(-1, 8).Draw(t, "grow-count")}
		tp := im.Topic(name)
		if tp != nil && upTo(t, 3, "grow-plausible") > 0 {
			r.Count = tp.Partitions + rapid.Int32Range(1, 2).Draw(t, "grow-by")
		}
		if rapid.Bool().Draw(t, "grow-manual") {
			r.Assignment = assignment("grow-assignment")
			if tp != nil && upTo(t, 3, "grow-manual-plausible") > 0 {
				// The right shape: one list per new partition at the topic's RF.
				rf := len(tp.Assignments[0].Replicas)
				r.Assignment = nil
				for i := tp.Partitions; i < r.Count; i++ {
					ids := im.BrokerIDs()
					if len(ids) < rf {
						break
					}
					perm := rapid.Permutation(ids).Draw(t, "grow-manual-perm")
					r.Assignment = append(r.Assignment, perm[:rf])
				}
			}
		}
		return Record{CreatePartitions: r}
	case kindISR:
		name := topicName("isr-name")
		r := &ChangeISR{Topic: name, ID: topicID(name, "isr-id"), Partition: rapid.Int32Range(-1, 6).Draw(t, "isr-partition")}
		// Mostly a partition that has a leader, which alone can change its ISR.
		var led []partKey
		for _, n := range im.TopicNames() {
			for i, p := range im.Topic(n).Assignments {
				if p.Leader != NoLeader {
					led = append(led, partKey{n, i})
				}
			}
		}
		if len(led) > 0 && upTo(t, 3, "isr-led") > 0 {
			k := sample(t, led, "isr-led-partition")
			r.Topic, name, r.ID, r.Partition = k.topic, k.topic, im.Topic(k.topic).ID, int32(k.index)
		} else if tp := im.Topic(name); tp != nil && upTo(t, 3, "isr-plausible") > 0 {
			r.ID = tp.ID
			r.Partition = int32(upTo(t, int(tp.Partitions-1), "isr-partition-of"))
		}
		var replicas []int32
		if tp := im.Topic(name); tp != nil && r.Partition >= 0 && r.Partition < tp.Partitions {
			p := tp.Assignments[r.Partition]
			r.Leader, r.LeaderEpoch, r.PartitionEpoch = p.Leader, p.LeaderEpoch, p.PartitionEpoch
			replicas = p.Replicas
		}
		switch upTo(t, 8, "isr-stale") {
		case 0:
			r.LeaderEpoch += rapid.Int32Range(-2, 2).Draw(t, "isr-leader-epoch-delta")
		case 1:
			r.PartitionEpoch += rapid.Int32Range(-2, 2).Draw(t, "isr-partition-epoch-delta")
		case 2:
			r.Leader = pickBroker("isr-leader")
		}
		for _, id := range replicas {
			if rapid.Bool().Draw(t, "isr-member") {
				r.ISR = append(r.ISR, id)
			}
		}
		if upTo(t, 4, "isr-leader-first") > 0 && !contains(r.ISR, r.Leader) {
			r.ISR = append([]int32{r.Leader}, r.ISR...)
		}
		if upTo(t, 6, "isr-garbage") == 0 {
			r.ISR = append(r.ISR, pickBroker("isr-extra"))
		}
		return Record{ChangeISR: r}
	case kindConfigs:
		name := topicName("configs-name")
		return Record{SetTopicConfigs: &SetTopicConfigs{Name: name, ID: topicID(name, "configs-id"), Configs: configs("configs")}}
	case kindEmpty:
		return Record{}
	default:
		return Record{AllocateProducerIDs: &AllocateProducerIDs{
			Broker: pickBroker("pid-broker"),
			Count:  sample(t, []int64{-1, 0, 1, 7, MaxProducerIDBlock, MaxProducerIDBlock + 1}, "pid-count"),
		}}
	}
}

type partKey struct {
	topic string
	index int
}

// snapshotPartitions copies every partition's state, keyed by topic name
// and index, along with the topic's id and unclean-election setting.
type partSnap struct {
	id      TopicID
	unclean bool
	p       Partition
}

func snapshotPartitions(im *Image) map[partKey]partSnap {
	out := map[partKey]partSnap{}
	for _, name := range im.TopicNames() {
		tp := im.Topic(name)
		for i, p := range tp.Assignments {
			p.Replicas = append([]int32(nil), p.Replicas...)
			p.ISR = append([]int32(nil), p.ISR...)
			out[partKey{name, i}] = partSnap{id: tp.ID, unclean: tp.Configs[UncleanLeaderElectionConfig] == "true", p: p}
		}
	}
	return out
}

func (m *propModel) step() {
	r := m.drawRecord()
	m.trace = append(m.trace, describe(&r))
	before := marshal(m.t, m.im)
	parts := snapshotPartitions(m.im)
	fenced := map[int32]bool{}
	for _, id := range m.im.BrokerIDs() {
		fenced[id] = m.im.Broker(id).Fenced
	}
	pidEnd := m.im.ProducerIDEnd

	res := m.im.Apply(&r)
	m.applied, m.results = append(m.applied, r), append(m.results, res)
	m.trace[len(m.trace)-1] += fmt.Sprintf(" -> %v", res.Err)

	// The twin applies the record as it comes out of the log.
	data, err := EncodeEntry(&Entry{Records: []Record{r}})
	if err != nil {
		m.fatalf("encode: %v", err)
	}
	decoded, err := DecodeEntry(data)
	if err != nil {
		m.fatalf("decode: %v", err)
	}
	twinRes := m.twin.ApplyEntry(decoded)[0]
	if (res.Err == nil) != (twinRes.Err == nil) || res.ProducerIDStart != twinRes.ProducerIDStart {
		m.fatalf("twin result %v, image result %v", twinRes, res)
	}

	if err := m.im.Check(); err != nil {
		m.fatalf("check: %v", err)
	}
	after := marshal(m.t, m.im)
	if !bytes.Equal(after, marshal(m.t, m.twin)) {
		m.fatalf("twin image differs:\n%s\n%s", after, marshal(m.t, m.twin))
	}
	restored, err := Unmarshal(after)
	if err != nil {
		m.fatalf("unmarshal: %v", err)
	}
	if again := marshal(m.t, restored); !bytes.Equal(after, again) {
		m.fatalf("snapshot round trip differs:\n%s\n%s", after, again)
	}
	if res.Err != nil {
		if !bytes.Equal(before, after) {
			m.fatalf("refused record changed the image")
		}
		if errors.Is(res.Err, ErrInvalidRecord) || errors.Is(res.Err, ErrTopicExists) || errors.Is(res.Err, ErrUnknownTopic) ||
			errors.Is(res.Err, ErrUnknownBroker) || errors.Is(res.Err, ErrInvalidReplicationFactor) ||
			errors.Is(res.Err, ErrInvalidReplicaAssignment) || errors.Is(res.Err, ErrInvalidPartitions) ||
			errors.Is(res.Err, ErrStalePartitionState) || errors.Is(res.Err, ErrInvalidISR) {
			return
		}
		m.fatalf("error %v is none of the sentinels", res.Err)
	}

	// Producer ids.
	if r.AllocateProducerIDs != nil {
		start, end := res.ProducerIDStart, m.im.ProducerIDEnd
		if start != pidEnd || end != start+r.AllocateProducerIDs.Count {
			m.fatalf("producer block [%d,%d) after end %d", start, end, pidEnd)
		}
		for _, b := range m.blocks {
			if start < b[1] && b[0] < end {
				m.fatalf("producer block [%d,%d) overlaps [%d,%d)", start, end, b[0], b[1])
			}
		}
		m.blocks = append(m.blocks, [2]int64{start, end})
	} else if m.im.ProducerIDEnd != pidEnd {
		m.fatalf("producer id end moved from %d to %d", pidEnd, m.im.ProducerIDEnd)
	}

	// Partition invariants and the history of each partition.
	for _, name := range m.im.TopicNames() {
		tp := m.im.Topic(name)
		for i := range tp.Assignments {
			p := &tp.Assignments[i]
			where := fmt.Sprintf("%s-%d %s", name, i, p)
			for _, id := range p.ISR {
				if !contains(p.Replicas, id) {
					m.fatalf("%s: ISR not within replicas", where)
				}
			}
			if p.Leader != NoLeader {
				if !contains(p.ISR, p.Leader) {
					m.fatalf("%s: leader outside the ISR", where)
				}
				if b := m.im.Broker(p.Leader); b == nil || b.Fenced {
					m.fatalf("%s: leader is fenced or unregistered", where)
				}
			} else {
				// Leaderless only while no ISR member can lead.
				for _, id := range p.ISR {
					if b := m.im.Broker(id); b != nil && !b.Fenced {
						m.fatalf("%s: leaderless though ISR member %d is unfenced", where, id)
					}
				}
			}
			old, existed := parts[partKey{name, i}]
			if !existed || old.id != tp.ID {
				// A new partition: its leader comes from its own ISR.
				if p.LeaderEpoch != 0 || p.PartitionEpoch != 0 {
					m.fatalf("%s: new partition with epochs", where)
				}
				continue
			}
			o := &old.p
			if !sameIDs(o.Replicas, p.Replicas) {
				m.fatalf("%s: replicas changed from %v", where, o.Replicas)
			}
			leaderChanged := o.Leader != p.Leader
			changed := leaderChanged || !sameIDs(o.ISR, p.ISR)
			switch {
			case p.LeaderEpoch < o.LeaderEpoch || p.PartitionEpoch < o.PartitionEpoch:
				m.fatalf("%s: epoch went down from %s", where, o)
			case leaderChanged && p.LeaderEpoch != o.LeaderEpoch+1:
				m.fatalf("%s: leader changed from %s without a leader epoch bump", where, o)
			case !leaderChanged && p.LeaderEpoch != o.LeaderEpoch:
				m.fatalf("%s: leader epoch moved without a leader change from %s", where, o)
			case changed && p.PartitionEpoch != o.PartitionEpoch+1:
				m.fatalf("%s: changed from %s without a partition epoch bump", where, o)
			case p.PartitionEpoch > o.PartitionEpoch+1:
				m.fatalf("%s: partition epoch jumped from %s", where, o)
			case !changed && p.PartitionEpoch != o.PartitionEpoch && r.ChangeISR == nil:
				m.fatalf("%s: partition epoch moved without a change from %s (record %s)", where, o, describe(&r))
			}
			// Safety: a newly elected leader was in the ISR just before the
			// election, unless unclean election was enabled for the topic.
			if leaderChanged && p.Leader != NoLeader {
				if !contains(o.ISR, p.Leader) && !(old.unclean && sameIDs(p.ISR, []int32{p.Leader})) {
					m.fatalf("%s: elected outside the ISR %v (unclean=%v)", where, o.ISR, old.unclean)
				}
			}
			// Only ChangeISR grows an ISR, and only with unfenced brokers.
			for _, id := range p.ISR {
				if !contains(o.ISR, id) && !(old.unclean && p.Leader == id) {
					if r.ChangeISR == nil {
						m.fatalf("%s: %d joined the ISR %v by %s", where, id, o.ISR, describe(&r))
					}
					if b := m.im.Broker(id); b == nil || b.Fenced {
						m.fatalf("%s: fenced broker %d joined the ISR", where, id)
					}
				}
			}
		}
	}

	// Broker transitions.
	for _, id := range m.im.BrokerIDs() {
		b := m.im.Broker(id)
		wasFenced, known := fenced[id]
		if !known && !b.Fenced {
			m.fatalf("broker %d registered unfenced", id)
		}
		if known && wasFenced && !b.Fenced && r.UnfenceBroker == nil {
			m.fatalf("broker %d unfenced by %s", id, describe(&r))
		}
		if b.Fenced && (!known || !wasFenced) {
			// Just fenced: it left every ISR it was not the last member of.
			for _, name := range m.im.TopicNames() {
				for i, p := range m.im.Topic(name).Assignments {
					if p.Leader == id || (len(p.ISR) > 1 && contains(p.ISR, id)) {
						m.fatalf("fenced broker %d still in %s-%d %s", id, name, i, &p)
					}
				}
			}
		}
	}
}

func TestPropertyApply(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &propModel{t: t, im: NewImage(), twin: NewImage()}
		// Usually start from a few brokers so that topics get created
		// (shrinking leans towards all three).
		var initial []Record
		n := 3 - upTo(t, 3, "initial-brokers")
		for _, id := range []int32{1, 2, 3}[:n] {
			initial = append(initial, regRec(id, 1), unfenceRec(id, 1))
		}
		if n == 3 && upTo(t, 3, "initial-topics") > 0 {
			b := createManualRec("b", 2, []int32{1, 2, 3}, []int32{3, 2, 1})
			b.CreateTopic.Configs = map[string]string{UncleanLeaderElectionConfig: "true"}
			initial = append(initial, createRec("a", 1, 3, 2), b)
		}
		for _, r := range initial {
			mustApply(t, m.im, r)
			mustApply(t, m.twin, r)
		}
		steps := 1 + upTo(t, 150, "steps")
		for i := 0; i < steps; i++ {
			m.step()
		}
		// Determinism: the same records on a fresh image give the same
		// results and the same bytes.
		replay := NewImage()
		for _, r := range initial {
			mustApply(t, replay, r)
		}
		// One entry per record, as the model applied them (an entry of
		// several records applies as one step and may skip epochs).
		var results []Result
		for _, r := range m.applied {
			results = append(results, replay.ApplyEntry(&Entry{Records: []Record{r}})...)
		}
		for i := range results {
			if fmt.Sprint(results[i]) != fmt.Sprint(m.results[i]) {
				m.fatalf("replay of record %d: %v, first run %v", i, results[i], m.results[i])
			}
		}
		if !bytes.Equal(marshal(t, replay), marshal(t, m.im)) {
			m.fatalf("replay built a different image")
		}
	})
}

func TestResignLeadership(t *testing.T) {
	im := NewImage()
	for _, id := range []int32{1, 2, 3} {
		mustApply(t, im, Record{RegisterBroker: &RegisterBroker{ID: id, Host: "h", Port: 9000 + id, Incarnation: uint64(id)}})
		mustApply(t, im, Record{UnfenceBroker: &UnfenceBroker{ID: id, Incarnation: uint64(id)}})
	}
	mustApply(t, im, Record{CreateTopic: &CreateTopic{Name: "t", ID: TopicID{9}, Assignment: [][]int32{{1, 2, 3}}}})
	resign := func() Record {
		p := im.Topic("t").Assignments[0]
		return Record{ResignLeadership: &ResignLeadership{Topic: "t", ID: TopicID{9}, Partition: 0,
			Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch}}
	}
	stale := resign()
	mustApply(t, im, resign())
	p := im.Topic("t").Assignments[0]
	if p.Leader != 2 || p.LeaderEpoch != 1 || contains(p.ISR, 1) || len(p.ISR) != 2 {
		t.Fatalf("after broker 1 resigned: %s", p.String())
	}
	if res := im.Apply(&stale); !errors.Is(res.Err, ErrStalePartitionState) {
		t.Fatalf("a stale resignation: %v", res.Err)
	}
	// Broker 3 is fenced: broker 2 has no successor and keeps leading.
	mustApply(t, im, Record{FenceBroker: &FenceBroker{ID: 3, Incarnation: 3}})
	before := marshal(t, im)
	last := resign()
	if res := im.Apply(&last); !errors.Is(res.Err, ErrInvalidISR) {
		t.Fatalf("resignation without a successor: %v", res.Err)
	}
	if !bytes.Equal(before, marshal(t, im)) {
		t.Fatal("a refused resignation changed the image")
	}
}

// TestFollowerLeavesISR: a follower whose copy went offline resigns its
// ISR place at once; the leader keeps leading, and a stale resignation
// (older partition epoch) changes nothing.
func TestFollowerLeavesISR(t *testing.T) {
	im := NewImage()
	for _, id := range []int32{1, 2, 3} {
		mustApply(t, im, Record{RegisterBroker: &RegisterBroker{ID: id, Host: "h", Port: 9000 + id, Incarnation: uint64(id)}})
		mustApply(t, im, Record{UnfenceBroker: &UnfenceBroker{ID: id, Incarnation: uint64(id)}})
	}
	mustApply(t, im, Record{CreateTopic: &CreateTopic{Name: "t", ID: TopicID{9}, Assignment: [][]int32{{1, 2, 3}}}})
	before := im.Topic("t").Assignments[0]
	leave := Record{ResignLeadership: &ResignLeadership{Topic: "t", ID: TopicID{9}, Partition: 0,
		Leader: 3, LeaderEpoch: before.LeaderEpoch, PartitionEpoch: before.PartitionEpoch}}
	mustApply(t, im, leave)
	p := im.Topic("t").Assignments[0]
	if p.Leader != 1 || p.LeaderEpoch != before.LeaderEpoch || contains(p.ISR, 3) || len(p.ISR) != 2 || p.PartitionEpoch != before.PartitionEpoch+1 {
		t.Fatalf("after follower 3 left: %s (before %s)", p.String(), before.String())
	}
	snapshot := marshal(t, im)
	again := leave
	again.ResignLeadership = &ResignLeadership{Topic: "t", ID: TopicID{9}, Partition: 0, Leader: 2, LeaderEpoch: before.LeaderEpoch, PartitionEpoch: before.PartitionEpoch}
	if res := im.Apply(&again); !errors.Is(res.Err, ErrStalePartitionState) {
		t.Fatalf("a follower's resignation at an old partition epoch: %v", res.Err)
	}
	if !bytes.Equal(snapshot, marshal(t, im)) {
		t.Fatal("a refused resignation changed the image")
	}
}

// TestRestartInOneEntryBumpsEpochOnce: a single node restarting registers
// its new incarnation (which fences the old one: no leader) and unfences
// it (which elects it) in one entry; its partitions move to the next
// leader epoch, not two epochs on. Applied as two entries, each leader
// change is visible and bumps the epoch.
func TestRestartInOneEntryBumpsEpochOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		oneEntry  bool
		wantEpoch int32
	}{{"one entry", true, 1}, {"two entries", false, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			im := NewImage()
			im.ApplyEntry(&Entry{Records: []Record{regRec(1, 1), unfenceRec(1, 1), createRec("a", 1, 2, 1)}})
			for p := int32(0); p < 2; p++ {
				if got := im.Topic("a").Assignments[p].LeaderEpoch; got != 0 {
					t.Fatalf("before the restart: partition %d at leader epoch %d, want 0", p, got)
				}
			}
			restart := []Record{regRec(1, 2), unfenceRec(1, 2)}
			if tc.oneEntry {
				im.ApplyEntry(&Entry{Records: restart})
			} else {
				im.ApplyEntry(&Entry{Records: restart[:1]})
				if got := im.Topic("a").Assignments[0]; got.Leader != NoLeader || got.LeaderEpoch != 1 {
					t.Fatalf("after the registration alone: leader %d epoch %d, want none at 1", got.Leader, got.LeaderEpoch)
				}
				im.ApplyEntry(&Entry{Records: restart[1:]})
			}
			for p := int32(0); p < 2; p++ {
				got := im.Topic("a").Assignments[p]
				if got.Leader != 1 || got.LeaderEpoch != tc.wantEpoch {
					t.Fatalf("after the restart: partition %d leader %d epoch %d, want 1 at %d", p, got.Leader, got.LeaderEpoch, tc.wantEpoch)
				}
			}
		})
	}
}

// TestRegistrationControlListener: a registration carries the broker's
// control listener into the image and through its encoding; an image or
// a record written before the control listener existed (no such fields)
// still decodes, with none.
func TestRegistrationControlListener(t *testing.T) {
	im := NewImage()
	rec := Record{RegisterBroker: &RegisterBroker{ID: 1, Host: "h", Port: 9092, ControlHost: "c", ControlPort: 8001, Incarnation: 3}}
	if res := im.Apply(&rec); res.Err != nil {
		t.Fatal(res.Err)
	}
	enc, err := im.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	if b := back.Broker(1); b == nil || b.ControlHost != "c" || b.ControlPort != 8001 {
		t.Fatalf("broker after a round trip: %+v", b)
	}
	old := bytes.ReplaceAll(enc, []byte(`"control_host": "c",`), nil)
	old = bytes.ReplaceAll(old, []byte(`"control_port": 8001`), nil)
	old = bytes.ReplaceAll(old, []byte(`"fenced": true,`), []byte(`"fenced": true`))
	if bytes.Contains(old, []byte("control")) {
		t.Fatalf("test setup: control fields left in %s", old)
	}
	prev, err := Unmarshal(old)
	if err != nil {
		t.Fatalf("an image without control fields: %v\n%s", err, old)
	}
	if b := prev.Broker(1); b == nil || b.ControlHost != "" || b.ControlPort != 0 || b.Port != 9092 {
		t.Fatalf("broker of an image without control fields: %+v", b)
	}
	e, err := DecodeEntry([]byte(`{"proposer":1,"incarnation":3,"seq":1,"records":[{"register_broker":{"id":2,"host":"h","port":9093,"incarnation":4}}]}`))
	if err != nil {
		t.Fatalf("an entry without control fields: %v", err)
	}
	if r := e.Records[0].RegisterBroker; r == nil || r.ControlPort != 0 || r.Port != 9093 {
		t.Fatalf("registration of an entry without control fields: %+v", r)
	}
}
