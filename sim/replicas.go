package sim

// End-of-run checks of a cluster: the committed metadata log against the
// acknowledged admin requests, and the replicas' logs against each other.

import (
	"bytes"
	"cmp"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// checkFinalTopics compares the committed metadata log (the truth image)
// with the admin's acknowledged requests: a create acknowledged and never
// deleted must be there with at least its acknowledged partition count,
// an acknowledged delete must have removed its topic, and nothing the
// workload never asked for may appear.
func (w *world) checkFinalTopics() {
	truth := w.raft.truth
	for _, name := range truth.TopicNames() {
		t := w.reg.byName[name]
		n := truth.Topic(name).Partitions
		switch {
		case t == nil:
			w.fail("metadata check: the committed log holds topic %s, which was never created", name)
		case t.status == topicDeleted:
			w.fail("metadata check: the committed log still holds topic %s, whose delete was acknowledged at %s", name, t.deletedAt)
		case n < t.partitions || n > t.maxPartitions:
			w.fail("metadata check: topic %s has %d partitions in the committed log, want %d to %d", name, n, t.partitions, t.maxPartitions)
		}
	}
	for _, t := range w.reg.topics {
		if t.status == topicLive && truth.Topic(t.name) == nil {
			w.fail("metadata check: topic %s (created, acknowledged at %s) is not in the committed log", t.name, t.createdAt)
		}
	}
}

// replicasBehind describes the first partition (of parts) whose ISR in
// the committed log lacks a replica or that has no leader; "" when none.
func (w *world) replicasBehind(parts []lin.TopicPartition) string {
	truth := w.raft.truth
	for _, tp := range parts {
		t := truth.Topic(tp.Topic)
		if t == nil || tp.Partition >= t.Partitions {
			return fmt.Sprintf("%s is gone from the committed log", tp)
		}
		a := &t.Assignments[tp.Partition]
		if a.Leader < 0 {
			return fmt.Sprintf("%s: %s", tp, a.String())
		}
		for _, id := range a.Replicas {
			if !slices.Contains(a.ISR, id) && !w.reportedOffline(id, tp) {
				return fmt.Sprintf("%s: %s", tp, a.String())
			}
		}
	}
	return ""
}

// compareReplicas stops every node cleanly and reads each checked
// partition's log from every replica's disk: all replicas must hold the
// same batches, byte for byte, from offset 0 to the high watermark the
// final drain reached (followers copy the leader's batches as they are,
// leader epoch included), and every acknowledged acks=all append must be
// there at its acknowledged offset.
func (w *world) compareReplicas(parts []lin.TopicPartition, hws map[lin.TopicPartition]int64) {
	for _, n := range w.nodes {
		if n.up {
			n.stop(true, false)
		}
	}
	acked := map[lin.TopicPartition][]lin.Op{}
	for _, op := range w.history {
		if op.Kind == lin.OpAppend && op.Outcome == lin.OutcomeOK {
			acked[op.Partition] = append(acked[op.Partition], op)
		}
	}
	for _, tp := range parts {
		hw, ok := hws[tp]
		if !ok {
			continue
		}
		a := &w.raft.truth.Topic(tp.Topic).Assignments[tp.Partition]
		var ref []byte
		var refNode int32
		// Good copies first, so that a flipped copy (mediaflip.go) is
		// judged against them.
		replicas := slices.Clone(a.Replicas)
		flipped := func(id int32) int {
			if w.flipOf(id, tp) != nil {
				return 1
			}
			return 0
		}
		slices.SortStableFunc(replicas, func(x, y int32) int { return cmp.Compare(flipped(x), flipped(y)) })
		for _, id := range replicas {
			flip := w.flipOf(id, tp)
			prefix, err := w.nodes[id-1].disk.committedPrefix(tp, hw)
			if err != nil {
				if flip != nil {
					w.judgeFlippedCopy(flip, hw, err.Error())
					continue
				}
				w.fail("replicas: %s on node %d: %v", tp, id, err)
				continue
			}
			if ref == nil {
				ref, refNode = prefix, id
				continue
			}
			switch {
			case bytes.Equal(prefix, ref):
				if flip != nil {
					w.cover("media-flip-copy-intact")
				}
			case flip != nil:
				w.judgeFlippedCopy(flip, hw, firstDifference(ref, prefix))
			default:
				w.fail("replicas: %s differs between nodes %d and %d below the high watermark %d: %s", tp, refNode, id, hw, firstDifference(ref, prefix))
			}
		}
		if ref == nil {
			continue
		}
		recs, err := decodeBatches(ref, 0)
		if err != nil {
			w.fail("replicas: %s on node %d: %v", tp, refNode, err)
			continue
		}
		for _, op := range acked[tp] {
			for i, v := range op.Values {
				off := op.Offset + int64(i)
				switch {
				case off >= int64(len(recs)):
					w.fail("replicas: acknowledged %s @%d of %s is past the replicas' committed end %d", v, off, tp, len(recs))
				case recs[off].value != v:
					w.fail("replicas: acknowledged %s @%d of %s, but the replicas hold %s there", v, off, tp, recs[off].value)
				}
			}
		}
	}
}

// firstDifference names the first batch where two committed prefixes
// differ.
func firstDifference(a, b []byte) string {
	ba, bb := segmentBatches(a), segmentBatches(b)
	for i := 0; i < len(ba) && i < len(bb); i++ {
		x, y := ba[i], bb[i]
		if x.baseOffset != y.baseOffset || !bytes.Equal(a[x.pos:x.pos+x.size], b[y.pos:y.pos+y.size]) {
			return fmt.Sprintf("batch %d-%d vs batch %d-%d", x.baseOffset, x.last, y.baseOffset, y.last)
		}
	}
	return fmt.Sprintf("%d batches vs %d", len(ba), len(bb))
}

// committedPrefix returns the batches of tp's log on this disk from
// offset 0 up to hw, concatenated; the log must hold them densely, with
// hw at a batch boundary.
func (d *simDisk) committedPrefix(tp lin.TopicPartition, hw int64) ([]byte, error) {
	dir := tp.String()
	md := d.md(dir)
	names, err := md.List(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %v", dir, err)
	}
	var logs []string
	for _, name := range names {
		if strings.HasSuffix(name, ".log") {
			logs = append(logs, path.Join(dir, name))
		}
	}
	sort.Strings(logs) // zero-padded base offsets
	var out []byte
	next := int64(0)
	for _, name := range logs {
		data, err := md.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %v", name, err)
		}
		for _, b := range segmentBatches(data) {
			if next >= hw {
				return out, nil
			}
			if b.baseOffset != next {
				return nil, fmt.Errorf("%s: batch at %d where offset %d was expected", name, b.baseOffset, next)
			}
			if b.last >= hw {
				return nil, fmt.Errorf("%s: batch %d-%d straddles the high watermark %d", name, b.baseOffset, b.last, hw)
			}
			out = append(out, data[b.pos:b.pos+b.size]...)
			next = b.last + 1
		}
	}
	if next < hw {
		return nil, fmt.Errorf("the log ends at %d, below the high watermark %d", next, hw)
	}
	return out, nil
}
