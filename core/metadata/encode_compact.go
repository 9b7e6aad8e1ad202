package metadata

import (
	"slices"
	"strconv"
)

// The compact encoding (AppendCompact: what json.Marshal writes) has its
// own writer: the simulator encodes every node's image after every
// metadata apply to compare it with the committed log's, and the generic
// writer of encode.go spent most of that time on keys and indentation it
// does not write. Here every key is a constant with its punctuation and
// the ids of a topic id come from a table. TestEncoderMatchesJSON holds
// both writers to encoding/json.

// byteDecimal holds the decimal digits of every byte value.
var byteDecimal = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// appendCompactFile writes the whole image compactly.
func (im *Image) appendCompactFile(b []byte) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, imageVersion, 10)
	b = append(b, `,"producer_id_end":`...)
	b = strconv.AppendInt(b, im.ProducerIDEnd, 10)
	if len(im.brokers) > 0 { // omitempty
		b = append(b, `,"brokers":[`...)
		for i, id := range im.sortedBrokerIDs() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCompactBroker(b, im.brokers[id])
		}
		b = append(b, ']')
	}
	b = append(b, `,"topics":`...)
	names := im.sortedNames()
	sorted := im.sorted
	if len(names) == 0 {
		// fileFormat.Topics was nil for an image without topics.
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCompactTopic(b, sorted[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendCompactBroker(b []byte, br *Broker) []byte {
	if br == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(br.ID), 10)
	b = append(b, `,"host":`...)
	b = appendString(b, br.Host)
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(br.Port), 10)
	b = append(b, `,"incarnation":`...)
	b = strconv.AppendUint(b, br.Incarnation, 10)
	b = append(b, `,"fenced":`...)
	b = strconv.AppendBool(b, br.Fenced)
	if br.ControlHost != "" { // omitempty
		b = append(b, `,"control_host":`...)
		b = appendString(b, br.ControlHost)
	}
	if br.ControlPort != 0 { // omitempty
		b = append(b, `,"control_port":`...)
		b = strconv.AppendInt(b, int64(br.ControlPort), 10)
	}
	return append(b, '}')
}

// appendCompactInt32s writes a slice of ids: null when nil.
func appendCompactInt32s(b []byte, v []int32) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}

func appendCompactTopic(b []byte, t *Topic) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"name":`...)
	b = appendString(b, t.Name)
	b = append(b, `,"id":[`...)
	for i, x := range t.ID {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, byteDecimal[x]...)
	}
	b = append(b, `],"partitions":`...)
	b = strconv.AppendInt(b, int64(t.Partitions), 10)
	if len(t.Configs) > 0 { // omitempty
		b = append(b, `,"configs":{`...)
		var buf [16]string
		keys := buf[:0]
		for k := range t.Configs {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json sorts map keys
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, t.Configs[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"assignments":`...)
	if t.Assignments == nil {
		b = append(b, "null"...)
		return append(b, '}')
	}
	b = append(b, '[')
	for i := range t.Assignments {
		if i > 0 {
			b = append(b, ',')
		}
		p := &t.Assignments[i]
		b = append(b, `{"replicas":`...)
		b = appendCompactInt32s(b, p.Replicas)
		b = append(b, `,"isr":`...)
		b = appendCompactInt32s(b, p.ISR)
		b = append(b, `,"leader":`...)
		b = strconv.AppendInt(b, int64(p.Leader), 10)
		b = append(b, `,"leader_epoch":`...)
		b = strconv.AppendInt(b, int64(p.LeaderEpoch), 10)
		b = append(b, `,"partition_epoch":`...)
		b = strconv.AppendInt(b, int64(p.PartitionEpoch), 10)
		b = append(b, '}')
	}
	b = append(b, ']')
	return append(b, '}')
}
