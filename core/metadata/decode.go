package metadata

import "strconv"

// entryParser decodes exactly what EncodeEntry writes (json.Marshal of an
// Entry: fields in declaration order, no whitespace, plain ASCII strings,
// integers) without reflection. Every broker decodes every metadata
// entry, and in the simulator encoding/json's decoding was one of the
// largest costs. Anything else, however valid as JSON (whitespace, escapes,
// other key order or case, nulls for records, numbers that do not fit),
// makes it give up, and DecodeEntry falls back to encoding/json, so the
// result is always what json.Unmarshal gives (TestEntryParserMatchesJSON).
type entryParser struct {
	data []byte
	i    int
	ok   bool
}

// fail gives up; every later step is a no-op.
func (p *entryParser) fail() { p.ok = false }

// peek is the next byte, or 0 at the end.
func (p *entryParser) peek() byte {
	if p.i < len(p.data) {
		return p.data[p.i]
	}
	return 0
}

// take consumes c if it comes next and reports whether it did.
func (p *entryParser) take(c byte) bool {
	if p.ok && p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *entryParser) expect(c byte) {
	if !p.take(c) {
		p.fail()
	}
}

// null consumes a JSON null if it comes next.
func (p *entryParser) null() bool {
	if p.ok && len(p.data)-p.i >= 4 && string(p.data[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// object parses an object whose keys are a subsequence of fields, in that
// order (what json.Marshal writes, omitempty fields left out), calling
// field with each key's index to parse its value.
func (p *entryParser) object(fields []string, field func(i int)) {
	p.expect('{')
	if p.take('}') {
		return
	}
	next := 0
	for p.ok {
		k := p.str()
		for next < len(fields) && fields[next] != k {
			next++
		}
		if next == len(fields) {
			p.fail() // unknown, repeated or out of order
			return
		}
		p.expect(':')
		field(next)
		next++
		if p.take('}') {
			return
		}
		p.expect(',')
	}
}

// str parses a string of printable ASCII without escapes.
func (p *entryParser) str() string {
	p.expect('"')
	start := p.i
	for p.ok && p.i < len(p.data) {
		c := p.data[p.i]
		if c == '"' {
			s := string(p.data[start:p.i])
			p.i++
			return s
		}
		if c < 0x20 || c >= 0x7f || c == '\\' {
			break
		}
		p.i++
	}
	p.fail()
	return ""
}

// digits consumes an integer literal (optional minus when signed, no
// fraction or exponent, no leading zeros) and returns its text.
func (p *entryParser) digits(signed bool) string {
	start := p.i
	if signed {
		p.take('-')
	}
	first := p.i
	for p.ok && p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	if !p.ok || p.i == first || (p.data[first] == '0' && p.i-first > 1) {
		p.fail()
		return "0"
	}
	if c := p.peek(); c == '.' || c == 'e' || c == 'E' {
		p.fail() // encoding/json decides what a fraction or exponent means
		return "0"
	}
	return string(p.data[start:p.i])
}

func (p *entryParser) int(bits int) int64 {
	v, err := strconv.ParseInt(p.digits(true), 10, bits)
	if err != nil {
		p.fail()
	}
	return v
}

func (p *entryParser) uint64() uint64 {
	v, err := strconv.ParseUint(p.digits(false), 10, 64)
	if err != nil {
		p.fail()
	}
	return v
}

func (p *entryParser) int32() int32 { return int32(p.int(32)) }

// topicID parses exactly 16 bytes as numbers.
func (p *entryParser) topicID() (id TopicID) {
	p.expect('[')
	for i := range id {
		if i > 0 {
			p.expect(',')
		}
		v, err := strconv.ParseUint(p.digits(false), 10, 8)
		if err != nil {
			p.fail()
		}
		id[i] = byte(v)
	}
	p.expect(']')
	return id
}

// int32s parses an array of int32: nil for null, empty for [].
func (p *entryParser) int32s() []int32 {
	if p.null() {
		return nil
	}
	p.expect('[')
	v := []int32{}
	if p.take(']') {
		return v
	}
	for p.ok {
		v = append(v, p.int32())
		if p.take(']') {
			return v
		}
		p.expect(',')
	}
	return nil
}

func (p *entryParser) assignment() [][]int32 {
	if p.null() {
		return nil
	}
	p.expect('[')
	v := [][]int32{}
	if p.take(']') {
		return v
	}
	for p.ok {
		v = append(v, p.int32s())
		if p.take(']') {
			return v
		}
		p.expect(',')
	}
	return nil
}

// configs parses a map of strings: nil for null; a repeated key gives up.
func (p *entryParser) configs() map[string]string {
	if p.null() {
		return nil
	}
	p.expect('{')
	m := map[string]string{}
	if p.take('}') {
		return m
	}
	for p.ok {
		k := p.str()
		p.expect(':')
		if _, dup := m[k]; dup {
			p.fail()
		}
		m[k] = p.str()
		if p.take('}') {
			return m
		}
		p.expect(',')
	}
	return nil
}

var (
	entryFields  = []string{"proposer", "incarnation", "seq", "records"}
	recordFields = []string{"register_broker", "fence_broker", "unfence_broker", "create_topic", "delete_topic",
		"create_partitions", "change_isr", "resign_leadership", "set_topic_configs", "allocate_producer_ids"}
	registerFields  = []string{"id", "host", "port", "incarnation"}
	brokerIncFields = []string{"id", "incarnation"}
	createFields    = []string{"name", "id", "partitions", "replication_factor", "assignment", "configs"}
	deleteFields    = []string{"name", "id"}
	growFields      = []string{"name", "id", "count", "assignment"}
	isrFields       = []string{"topic", "id", "partition", "leader", "leader_epoch", "partition_epoch", "isr"}
	resignFields    = []string{"topic", "id", "partition", "leader", "leader_epoch", "partition_epoch"}
	configsFields   = []string{"name", "id", "configs"}
	allocateFields  = []string{"broker", "count"}
)

// entry parses a whole Entry; ok reports whether the input was in the
// exact form EncodeEntry writes.
func (p *entryParser) entry() (*Entry, bool) {
	p.ok = true
	var e Entry
	p.object(entryFields, func(i int) {
		switch i {
		case 0:
			e.Proposer = p.int32()
		case 1:
			e.Incarnation = p.uint64()
		case 2:
			e.Seq = p.uint64()
		case 3:
			e.Records = p.records()
		}
	})
	if p.i != len(p.data) {
		p.fail()
	}
	return &e, p.ok
}

func (p *entryParser) records() []Record {
	if p.null() {
		return nil
	}
	p.expect('[')
	v := []Record{}
	if p.take(']') {
		return v
	}
	for p.ok {
		if len(v) == MaxRecordsPerEntry {
			p.fail() // over the limit: DecodeEntry's own path refuses it
			break
		}
		v = append(v, p.record())
		if p.take(']') {
			return v
		}
		p.expect(',')
	}
	return nil
}

func (p *entryParser) record() (r Record) {
	p.object(recordFields, func(i int) {
		switch i {
		case 0:
			v := &RegisterBroker{}
			p.object(registerFields, func(j int) {
				switch j {
				case 0:
					v.ID = p.int32()
				case 1:
					v.Host = p.str()
				case 2:
					v.Port = p.int32()
				case 3:
					v.Incarnation = p.uint64()
				}
			})
			r.RegisterBroker = v
		case 1:
			v := &FenceBroker{}
			p.brokerIncarnation(&v.ID, &v.Incarnation)
			r.FenceBroker = v
		case 2:
			v := &UnfenceBroker{}
			p.brokerIncarnation(&v.ID, &v.Incarnation)
			r.UnfenceBroker = v
		case 3:
			v := &CreateTopic{}
			p.object(createFields, func(j int) {
				switch j {
				case 0:
					v.Name = p.str()
				case 1:
					v.ID = p.topicID()
				case 2:
					v.Partitions = p.int32()
				case 3:
					v.ReplicationFactor = int16(p.int(16))
				case 4:
					v.Assignment = p.assignment()
				case 5:
					v.Configs = p.configs()
				}
			})
			r.CreateTopic = v
		case 4:
			v := &DeleteTopic{}
			p.object(deleteFields, func(j int) {
				switch j {
				case 0:
					v.Name = p.str()
				case 1:
					v.ID = p.topicID()
				}
			})
			r.DeleteTopic = v
		case 5:
			v := &CreatePartitions{}
			p.object(growFields, func(j int) {
				switch j {
				case 0:
					v.Name = p.str()
				case 1:
					v.ID = p.topicID()
				case 2:
					v.Count = p.int32()
				case 3:
					v.Assignment = p.assignment()
				}
			})
			r.CreatePartitions = v
		case 6:
			v := &ChangeISR{}
			p.object(isrFields, func(j int) {
				switch j {
				case 0:
					v.Topic = p.str()
				case 1:
					v.ID = p.topicID()
				case 2:
					v.Partition = p.int32()
				case 3:
					v.Leader = p.int32()
				case 4:
					v.LeaderEpoch = p.int32()
				case 5:
					v.PartitionEpoch = p.int32()
				case 6:
					v.ISR = p.int32s()
				}
			})
			r.ChangeISR = v
		case 7:
			v := &ResignLeadership{}
			p.object(resignFields, func(j int) {
				switch j {
				case 0:
					v.Topic = p.str()
				case 1:
					v.ID = p.topicID()
				case 2:
					v.Partition = p.int32()
				case 3:
					v.Leader = p.int32()
				case 4:
					v.LeaderEpoch = p.int32()
				case 5:
					v.PartitionEpoch = p.int32()
				}
			})
			r.ResignLeadership = v
		case 8:
			v := &SetTopicConfigs{}
			p.object(configsFields, func(j int) {
				switch j {
				case 0:
					v.Name = p.str()
				case 1:
					v.ID = p.topicID()
				case 2:
					v.Configs = p.configs()
				}
			})
			r.SetTopicConfigs = v
		case 9:
			v := &AllocateProducerIDs{}
			p.object(allocateFields, func(j int) {
				switch j {
				case 0:
					v.Broker = p.int32()
				case 1:
					v.Count = p.int(64)
				}
			})
			r.AllocateProducerIDs = v
		}
	})
	return r
}

func (p *entryParser) brokerIncarnation(id *int32, inc *uint64) {
	p.object(brokerIncFields, func(j int) {
		switch j {
		case 0:
			*id = p.int32()
		case 1:
			*inc = p.uint64()
		}
	})
}
