package metadata

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// The functions below write an image snapshot by hand, byte for byte
// what json.MarshalIndent(fileFormat, "", "  ") writes, or with ind false
// what json.Marshal writes (TestEncoderMatchesJSON holds them to that). Reflection-driven encoding
// plus re-indenting was the largest single cost of the simulator, which
// snapshots every node's image after every metadata apply to compare it
// with the committed log's, and every metadata change of a single node
// pays it too (saveImage). Each appends to b and returns it; d is the
// indentation depth of the value being written.

// newlineIndent covers every depth an image reaches (six).
const newlineIndent = "\n                "

// appendNewline starts a new line indented to depth d (nothing when
// compact).
func appendNewline(b []byte, d int, ind bool) []byte {
	if !ind {
		return b
	}
	if n := 1 + 2*d; n <= len(newlineIndent) {
		return append(b, newlineIndent[:n]...)
	}
	b = append(b, '\n')
	for i := 0; i < d; i++ {
		b = append(b, ' ', ' ')
	}
	return b
}

// appendKey starts a member of an object at depth d-1 whose members are
// at depth d: a comma unless it is the first, the indented key and the
// separator.
func appendKey(b []byte, d int, first bool, k string, ind bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = appendNewline(b, d, ind)
	b = appendString(b, k)
	if !ind {
		return append(b, ':')
	}
	return append(b, ':', ' ')
}

// appendString writes a JSON string. Names, hosts and configs are plain
// ASCII in practice; anything else (escapes, HTML-sensitive characters,
// non-ASCII, invalid UTF-8) goes through encoding/json so that the
// escaping stays exactly its own.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, err := json.Marshal(s)
			if err != nil {
				// A Go string always encodes (invalid UTF-8 becomes
				// U+FFFD); this would be a change in encoding/json.
				panic(fmt.Sprintf("metadata: json cannot encode a string: %v", err))
			}
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendInt32s writes a slice of ids: null when nil, as encoding/json does.
func appendInt32s(b []byte, d int, v []int32, ind bool) []byte {
	switch {
	case v == nil:
		return append(b, "null"...)
	case len(v) == 0:
		return append(b, '[', ']')
	}
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNewline(b, d+1, ind)
		b = strconv.AppendInt(b, int64(x), 10)
	}
	b = appendNewline(b, d, ind)
	return append(b, ']')
}

func appendBroker(b []byte, d int, br *Broker, ind bool) []byte {
	if br == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	b = appendKey(b, d+1, true, "id", ind)
	b = strconv.AppendInt(b, int64(br.ID), 10)
	b = appendKey(b, d+1, false, "host", ind)
	b = appendString(b, br.Host)
	b = appendKey(b, d+1, false, "port", ind)
	b = strconv.AppendInt(b, int64(br.Port), 10)
	b = appendKey(b, d+1, false, "incarnation", ind)
	b = strconv.AppendUint(b, br.Incarnation, 10)
	b = appendKey(b, d+1, false, "fenced", ind)
	b = strconv.AppendBool(b, br.Fenced)
	if br.ControlHost != "" { // omitempty
		b = appendKey(b, d+1, false, "control_host", ind)
		b = appendString(b, br.ControlHost)
	}
	if br.ControlPort != 0 { // omitempty
		b = appendKey(b, d+1, false, "control_port", ind)
		b = strconv.AppendInt(b, int64(br.ControlPort), 10)
	}
	b = appendNewline(b, d, ind)
	return append(b, '}')
}

func appendPartition(b []byte, d int, p *Partition, ind bool) []byte {
	b = append(b, '{')
	b = appendKey(b, d+1, true, "replicas", ind)
	b = appendInt32s(b, d+1, p.Replicas, ind)
	b = appendKey(b, d+1, false, "isr", ind)
	b = appendInt32s(b, d+1, p.ISR, ind)
	b = appendKey(b, d+1, false, "leader", ind)
	b = strconv.AppendInt(b, int64(p.Leader), 10)
	b = appendKey(b, d+1, false, "leader_epoch", ind)
	b = strconv.AppendInt(b, int64(p.LeaderEpoch), 10)
	b = appendKey(b, d+1, false, "partition_epoch", ind)
	b = strconv.AppendInt(b, int64(p.PartitionEpoch), 10)
	b = appendNewline(b, d, ind)
	return append(b, '}')
}

func appendTopic(b []byte, d int, t *Topic, ind bool) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	b = appendKey(b, d+1, true, "name", ind)
	b = appendString(b, t.Name)
	b = appendKey(b, d+1, false, "id", ind)
	b = append(b, '[')
	for i, x := range t.ID {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendNewline(b, d+2, ind)
		b = strconv.AppendUint(b, uint64(x), 10)
	}
	b = appendNewline(b, d+1, ind)
	b = append(b, ']')
	b = appendKey(b, d+1, false, "partitions", ind)
	b = strconv.AppendInt(b, int64(t.Partitions), 10)
	if len(t.Configs) > 0 { // omitempty
		b = appendKey(b, d+1, false, "configs", ind)
		keys := make([]string, 0, len(t.Configs))
		for k := range t.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys) // encoding/json sorts map keys
		b = append(b, '{')
		for i, k := range keys {
			b = appendKey(b, d+2, i == 0, k, ind)
			b = appendString(b, t.Configs[k])
		}
		b = appendNewline(b, d+1, ind)
		b = append(b, '}')
	}
	b = appendKey(b, d+1, false, "assignments", ind)
	switch {
	case t.Assignments == nil:
		b = append(b, "null"...)
	case len(t.Assignments) == 0:
		b = append(b, '[', ']')
	default:
		b = append(b, '[')
		for i := range t.Assignments {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendNewline(b, d+2, ind)
			b = appendPartition(b, d+2, &t.Assignments[i], ind)
		}
		b = appendNewline(b, d+1, ind)
		b = append(b, ']')
	}
	b = appendNewline(b, d, ind)
	return append(b, '}')
}

// appendFile writes the whole snapshot.
func appendFile(b []byte, f *fileFormat, ind bool) []byte {
	b = append(b, '{')
	b = appendKey(b, 1, true, "version", ind)
	b = strconv.AppendInt(b, int64(f.Version), 10)
	b = appendKey(b, 1, false, "producer_id_end", ind)
	b = strconv.AppendInt(b, f.ProducerIDEnd, 10)
	if len(f.Brokers) > 0 { // omitempty
		b = appendKey(b, 1, false, "brokers", ind)
		b = append(b, '[')
		for i, br := range f.Brokers {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendNewline(b, 2, ind)
			b = appendBroker(b, 2, br, ind)
		}
		b = appendNewline(b, 1, ind)
		b = append(b, ']')
	}
	b = appendKey(b, 1, false, "topics", ind)
	switch {
	case f.Topics == nil:
		b = append(b, "null"...)
	case len(f.Topics) == 0:
		b = append(b, '[', ']')
	default:
		b = append(b, '[')
		for i, t := range f.Topics {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendNewline(b, 2, ind)
			b = appendTopic(b, 2, t, ind)
		}
		b = appendNewline(b, 1, ind)
		b = append(b, ']')
	}
	b = appendNewline(b, 0, ind)
	return append(b, '}')
}
