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

	"github.com/chronik-streaming/chronik/core/partlog"
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
		if internalTopic(name) {
			continue // created by FindCoordinator (groups.go), not by the admin
		}
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
// same batches, byte for byte, from the latest first batch any of them
// still holds (retention and DeleteRecords delete whole segments, at
// different moments on different replicas) to the high watermark the
// final drain reached (followers copy the leader's batches as they are,
// leader epoch included), and every acknowledged acks=all append from
// there on must be at its acknowledged offset. (Appends below it are the
// offset checks' business: gone legitimately or a deleted write.)
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
	type replicaLog struct {
		node int32
		log  storedPrefix
		flip *mediaFlip
	}
	for _, tp := range parts {
		hw, ok := hws[tp]
		if !ok {
			continue
		}
		a := &w.raft.truth.Topic(tp.Topic).Assignments[tp.Partition]
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
		var logs []replicaLog
		from := int64(0)
		for _, id := range replicas {
			flip := w.flipOf(id, tp)
			sp, err := w.nodes[id-1].disk.committedPrefix(tp, hw)
			if err != nil {
				if flip != nil {
					w.judgeFlippedCopy(flip, hw, err.Error())
					continue
				}
				w.fail("replicas: %s on node %d: %v", tp, id, err)
				continue
			}
			if bound := w.trimBound(tp); sp.first > bound {
				w.fail("log-start: replicas: %s on node %d holds nothing below offset %d, but no DeleteRecords or retention could delete past %d", tp, id, sp.first, bound)
			}
			logs = append(logs, replicaLog{id, sp, flip})
			from = max(from, sp.first)
		}
		if len(logs) == 0 {
			continue
		}
		var ref []byte
		var refLog storedPrefix
		var refNode int32
		for _, l := range logs {
			// A flipped copy is compared from past its flip when the flip
			// lies below the log start it recorded: deleted data that it
			// can never serve (mediaflip.go, flipBelowLogStart).
			at := from
			if l.flip != nil && ref != nil && w.flipBelowLogStart(l.flip) {
				at = max(from, l.flip.last+1)
			}
			prefix, err := l.log.from(at)
			if err != nil {
				if l.flip != nil {
					w.judgeFlippedCopy(l.flip, hw, err.Error())
					continue
				}
				w.fail("replicas: %s on node %d: %v", tp, l.node, err)
				continue
			}
			if ref == nil {
				ref, refLog, refNode = prefix, l.log, l.node
				continue
			}
			against := ref
			if at != from {
				if against, err = refLog.from(at); err != nil {
					w.fail("replicas: %s on node %d: %v", tp, refNode, err)
					continue
				}
			}
			switch {
			case bytes.Equal(prefix, against):
				switch {
				case at != from:
					w.cover("media-flip-below-log-start")
				case l.flip != nil:
					w.cover("media-flip-copy-intact")
				}
			case l.flip != nil:
				w.judgeFlippedCopy(l.flip, hw, firstDifference(against, prefix))
			default:
				w.fail("replicas: %s differs between nodes %d and %d from offset %d below the high watermark %d: %s", tp, refNode, l.node, from, hw, firstDifference(ref, prefix))
			}
		}
		if ref == nil {
			continue
		}
		recs, err := decodeBatches(ref, from)
		if err != nil {
			w.fail("replicas: %s on node %d: %v", tp, refNode, err)
			continue
		}
		for _, op := range acked[tp] {
			for i, v := range op.Values {
				off := op.Offset + int64(i)
				switch {
				case off < from:
				case off-from >= int64(len(recs)):
					w.fail("replicas: acknowledged %s @%d of %s is past the replicas' committed end %d", v, off, tp, from+int64(len(recs)))
				case recs[off-from].value != v:
					w.fail("replicas: acknowledged %s @%d of %s, but the replicas hold %s there", v, off, tp, recs[off-from].value)
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

// storedPrefix is a replica's stored batches below a high watermark:
// data holds them concatenated, bases[i] is the base offset of the batch
// at data[pos[i]:], and first is the first base offset (the high
// watermark when there are none).
type storedPrefix struct {
	data  []byte
	bases []int64
	pos   []int
	first int64
}

// from returns the stored batches from offset on; a batch must start
// there unless nothing is stored from there.
func (p storedPrefix) from(offset int64) ([]byte, error) {
	for i, b := range p.bases {
		if b == offset {
			return p.data[p.pos[i]:], nil
		}
		if b > offset {
			return nil, fmt.Errorf("no batch starts at %d (one starts at %d)", offset, b)
		}
	}
	return nil, nil
}

// committedPrefix returns the batches of tp's log on this disk from its
// first stored batch up to hw; the log must hold them densely, with hw at
// a batch boundary.
func (d *simDisk) committedPrefix(tp lin.TopicPartition, hw int64) (storedPrefix, error) {
	dir := tp.String()
	md := d.md(dir)
	names, err := md.List(dir)
	if err != nil {
		return storedPrefix{}, fmt.Errorf("list %s: %v", dir, err)
	}
	var logs []string
	for _, name := range names {
		if strings.HasSuffix(name, ".log") {
			logs = append(logs, path.Join(dir, name))
		}
	}
	sort.Strings(logs) // zero-padded base offsets
	out := storedPrefix{first: -1}
	next := int64(-1)
	for _, name := range logs {
		data, err := md.ReadFile(name)
		if err != nil {
			return storedPrefix{}, fmt.Errorf("read %s: %v", name, err)
		}
		for _, b := range segmentBatches(data) {
			if next < 0 {
				next, out.first = b.baseOffset, b.baseOffset
			}
			if next >= hw {
				return out, nil
			}
			if b.baseOffset != next {
				return storedPrefix{}, fmt.Errorf("%s: batch at %d where offset %d was expected", name, b.baseOffset, next)
			}
			if b.last >= hw {
				return storedPrefix{}, fmt.Errorf("%s: batch %d-%d straddles the high watermark %d", name, b.baseOffset, b.last, hw)
			}
			out.bases = append(out.bases, b.baseOffset)
			out.pos = append(out.pos, len(out.data))
			out.data = append(out.data, data[b.pos:b.pos+b.size]...)
			next = b.last + 1
		}
	}
	if out.first < 0 {
		out.first, next = hw, hw // nothing stored: everything below hw deleted
	}
	if next < hw {
		return storedPrefix{}, fmt.Errorf("the log ends at %d, below the high watermark %d", next, hw)
	}
	return out, nil
}

// logStart returns the log start offset recorded in tp's partition
// checkpoint on this disk; false when it is missing or unreadable.
func (d *simDisk) logStart(tp lin.TopicPartition) (int64, bool) {
	var files [2][]byte
	for i, base := range partlog.CheckpointFileNames {
		name := path.Join(tp.String(), base)
		data, err := d.md(name).ReadFile(name)
		if err != nil {
			continue
		}
		if data == nil {
			data = []byte{}
		}
		files[i] = data
	}
	start, found, err := partlog.LogStartFromCheckpoints(files)
	return start, found && err == nil
}
