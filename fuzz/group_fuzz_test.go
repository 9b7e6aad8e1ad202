package fuzz

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/group"
)

// groupLog frames records for FuzzGroupReplay: per record a big-endian
// uint16 key length, the key, an int32 value length (-1: tombstone) and
// the value.
func groupLog(recs ...group.Record) []byte {
	var b []byte
	for _, r := range recs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Key)))
		b = append(b, r.Key...)
		if r.Value == nil {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Value)))
		b = append(b, r.Value...)
	}
	return b
}

// splitGroupLog undoes groupLog, stopping at the first truncated record.
func splitGroupLog(b []byte) []group.Record {
	var recs []group.Record
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if len(b) < n+4 {
			break
		}
		r := group.Record{Key: b[:n]}
		b = b[n:]
		vn := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if vn >= 0 {
			if int(vn) > len(b) {
				break
			}
			r.Value = b[:vn]
			b = b[vn:]
		}
		recs = append(recs, r)
	}
	return recs
}

// fuzzTopics is a topic image of two topics, t (3 partitions) and u (2).
type fuzzTopics struct{}

func (fuzzTopics) TopicByName(n string) (group.TopicMeta, bool) {
	switch n {
	case "t":
		return group.TopicMeta{ID: [16]byte{15: 1}, Partitions: 3}, true
	case "u":
		return group.TopicMeta{ID: [16]byte{15: 2}, Partitions: 2}, true
	}
	return group.TopicMeta{}, false
}

func (fuzzTopics) TopicName(id [16]byte) (string, bool) {
	switch id {
	case [16]byte{15: 1}:
		return "t", true
	case [16]byte{15: 2}:
		return "u", true
	}
	return "", false
}

func (fuzzTopics) TopicNames() []string { return []string{"t", "u"} }

// seedConsumerRecords are the KIP-848 records of two members joining a
// consumer group, written by a shard.
func seedConsumerRecords() []group.Record {
	s := group.NewShard(group.DefaultConfig())
	s.SetTopics(fuzzTopics{})
	s.LoadDone(0)
	var recs []group.Record
	for i, m := range []string{"m1", "m2", "m1"} {
		hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		hb.Version, hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis = 1, "g", m, 10000
		hb.SubscribedTopicNames = []string{"t", "u"}
		out := s.ConsumerGroupHeartbeat(int64(i), group.ReplyRef(i), "c", "h", hb)
		recs = append(recs, out.Records...)
		s.CommitWrite(out.Write)
	}
	return recs
}

func seedGroupRecords() []group.Record {
	gk := kmsg.NewGroupMetadataKey()
	gk.Version, gk.Group = 2, "g"
	gv := kmsg.NewGroupMetadataValue()
	gv.Version, gv.ProtocolType, gv.Generation = 3, "consumer", 4
	p, l := "range", "m1"
	gv.Protocol, gv.Leader = &p, &l
	for _, id := range []string{"m1", "m2"} {
		m := kmsg.NewGroupMetadataValueMember()
		m.MemberID, m.ClientID, m.SessionTimeoutMillis, m.RebalanceTimeoutMillis = id, "c", 10000, 30000
		m.Subscription, m.Assignment = []byte{0, 1}, []byte{2}
		gv.Members = append(gv.Members, m)
	}
	ok := kmsg.NewOffsetCommitKey()
	ok.Version, ok.Group, ok.Topic, ok.Partition = 1, "g", "t", 0
	ov := kmsg.NewOffsetCommitValue()
	ov.Version, ov.Offset, ov.LeaderEpoch, ov.Metadata, ov.CommitTimestamp = 3, 42, 1, "m", 1000
	empty := kmsg.NewGroupMetadataValue()
	empty.Version, empty.ProtocolType, empty.Generation = 3, "consumer", 5
	return []group.Record{
		{Key: gk.AppendTo(nil), Value: gv.AppendTo(nil)},
		{Key: ok.AppendTo(nil), Value: ov.AppendTo(nil)},
		{Key: gk.AppendTo(nil), Value: empty.AppendTo(nil)},
		{Key: ok.AppendTo(nil)},
		{Key: gk.AppendTo(nil)},
	}
}

// FuzzGroupReplay feeds arbitrary __consumer_offsets records to
// group.Shard.Replay. Replay may reject a record but must never panic, and
// whatever it accepts must leave a shard whose invariants hold and that
// serves requests and timers without panicking.
func FuzzGroupReplay(f *testing.F) {
	recs := seedGroupRecords()
	f.Add(groupLog(recs...))
	f.Add(groupLog(recs[0], recs[1]))
	f.Add(groupLog(recs[2], recs[0], recs[3]))
	f.Add([]byte{0, 2, 0, 2, 0, 0, 0, 4, 0, 3, 0, 0})
	f.Add(groupLog(seedConsumerRecords()...))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := group.NewShard(group.DefaultConfig())
		s.SetTopics(fuzzTopics{})
		for _, r := range splitGroupLog(data) {
			_ = s.Replay(r.Key, r.Value)
			if err := s.CheckInvariants(); err != nil {
				t.Fatalf("after replaying key %x value %x: %v", r.Key, r.Value, err)
			}
		}
		now := int64(5000)
		s.LoadDone(now)
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Version, hb.Group, hb.MemberID, hb.Generation = 4, "g", "m1", 4
		s.Heartbeat(now, 1, hb)
		jg := kmsg.NewPtrJoinGroupRequest()
		jg.Version, jg.Group, jg.MemberID, jg.SessionTimeoutMillis, jg.RebalanceTimeoutMillis, jg.ProtocolType = 9, "g", "m2", 10000, 30000, "consumer"
		jg.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{1}}}
		s.JoinGroup(now, 2, "c", "h", jg)
		of := kmsg.NewPtrOffsetFetchRequest()
		of.Version, of.Group = 7, "g"
		s.OffsetFetch(now, 3, of)
		dg := kmsg.NewPtrDescribeGroupsRequest()
		dg.Version, dg.Groups = 5, []string{"g"}
		s.DescribeGroups(now, 4, dg)
		if err := s.CheckInvariants(); err != nil {
			t.Fatalf("after loading and classic requests: %v", err)
		}
		for i, m := range []string{"m1", "m2"} {
			hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
			hb.Version, hb.Group, hb.MemberID, hb.MemberEpoch, hb.RebalanceTimeoutMillis = 1, "g", m, 1, 10000
			hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
			s.ConsumerGroupHeartbeat(now, group.ReplyRef(5+i), "c", "h", hb)
		}
		cd := kmsg.NewPtrConsumerGroupDescribeRequest()
		cd.Groups = []string{"g"}
		s.ConsumerGroupDescribe(now, 7, cd)
		for i := 0; i < 3; i++ {
			now += 1 << 20
			out := s.Tick(now)
			s.CommitWrite(out.Write)
			if w := s.NextWakeMs(); w != -1 && w <= now {
				t.Fatalf("after Tick(%d) NextWakeMs is %d: the runtime would spin", now, w)
			}
		}
		if err := s.CheckInvariants(); err != nil {
			t.Fatalf("after requests and timers: %v", err)
		}
	})
}

// groupRequestKeys are the APIs a group shard serves, in the order
// FuzzGroupRequests picks them by a selector byte.
var groupRequestKeys = []int16{11, 14, 12, 13, 8, 9, 15, 16, 42, 47, 68, 69}

// FuzzGroupRequests decodes arbitrary bytes as a sequence of group requests
// (any API of the shard, any version kmsg knows) and hands each to one
// shard, with time advancing and every write committed. Nothing may panic,
// the invariants must hold after each call, and every reply must encode
// and decode at its version.
func FuzzGroupRequests(f *testing.F) {
	seed := func(reqs ...kmsg.Request) []byte {
		var b []byte
		for _, r := range reqs {
			sel := 0
			for i, k := range groupRequestKeys {
				if k == r.Key() {
					sel = i
				}
			}
			body := r.AppendTo(nil)
			b = append(b, byte(sel), byte(r.GetVersion()))
			b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
			b = append(b, body...)
		}
		return b
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = 3, "g", 10000, 20000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.Generation = 8, "s", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5}}}}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version, fetch.Group = 5, "s"
	f.Add(seed(join, commit, fetch))
	f.Add(seed(join, join))
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis, hb.SubscribedTopicNames = 1, "k", "m", 10000, []string{"t"}
	hb2 := *hb
	hb2.MemberID = "n"
	f.Add(seed(hb, &hb2, hb, fetch))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := group.DefaultConfig()
		cfg.InitialRebalanceDelayMs = 0
		s := group.NewShard(cfg)
		s.SetTopics(fuzzTopics{})
		now := int64(1000)
		s.LoadDone(now)
		ref := group.ReplyRef(0)
		for len(data) >= 4 {
			key := groupRequestKeys[int(data[0])%len(groupRequestKeys)]
			n := int(binary.BigEndian.Uint16(data[2:]))
			req := kmsg.RequestForKey(key)
			req.SetVersion(int16(data[1]) % (req.MaxVersion() + 1))
			data = data[4:]
			if n > len(data) {
				n = len(data)
			}
			body := data[:n]
			data = data[n:]
			if req.ReadFrom(body) != nil {
				continue
			}
			ref++
			now += int64(n) * 7
			out, ok := s.Handle(now, ref, "client", "host", req)
			if !ok {
				t.Fatalf("%T not served", req)
			}
			tick := s.Tick(now)
			if w := s.NextWakeMs(); w != -1 && w <= now {
				t.Fatalf("after Tick(%d) NextWakeMs is %d: the runtime would spin", now, w)
			}
			for _, o := range []group.Out{out, tick} {
				if o.Write != 0 {
					s.CommitWrite(o.Write)
				}
				for _, rep := range o.Replies {
					wire := rep.Resp.AppendTo(nil)
					back := kmsg.ResponseForKey(rep.Resp.Key())
					back.SetVersion(rep.Resp.GetVersion())
					if err := back.ReadFrom(wire); err != nil {
						t.Fatalf("%T v%d does not decode after encoding: %v", rep.Resp, rep.Resp.GetVersion(), err)
					}
				}
			}
			if err := s.CheckInvariants(); err != nil {
				t.Fatalf("after %T v%d: %v", req, req.GetVersion(), err)
			}
		}
	})
}
