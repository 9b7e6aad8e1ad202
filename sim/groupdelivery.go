package sim

// Group members consume, and the "group-delivery:" checker: at least once.
//
// A classic member reads the records of the partitions it owns, as a
// Kafka consumer's poll loop does: one partition at a time, round robin,
// with the workload consumer's Fetch (its request, its routing to the
// leader, its decoding and its checks; the reads enter the history like
// any consumer's), from a read position per partition. The position starts
// where the member's initial OffsetFetch after a SyncGroup put it (the
// committed offset, or 0 when nothing is committed) and moves past every
// record a Fetch returned; a Fetch answered OFFSET_OUT_OF_RANGE resets it
// to the log start (ListOffsets earliest, auto.offset.reset=earliest). A
// member commits its read position, or now and then one record past its
// last commit when that is below it (a record processed while the rest
// waits): never past what it has read.
//
// Ground truth: per group and partition, the spans of offsets some member
// received in a Fetch answer and when, and the spans a reset jumped over
// (deleted records: below the log start the broker named).
//
// "group-delivery:" judges every commit acknowledged to a member of a
// classic group (not a fenced one, which group-commit: judges; the
// KIP-848 members of groups848.go commit without reading): every offset below the
// committed offset that holds an acknowledged produced record (the
// history's acknowledged appends) was delivered to some member of the
// group before the commit was sent. A reset's span excuses offsets only
// below the furthest any DeleteRecords or retention could have moved the
// log start (trimBound): a broker that names a log start past that is
// wrong, and what it skipped is judged. Commits the rule cannot judge are
// left out: on the internal compacted topic, on a topic whose delete was
// sent before the commit, and after a media flip quarantined the
// partition or the group's offsets partition.

import (
	"cmp"
	"fmt"
	"slices"
	"sort"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// memberReader is a member's consumer of its partitions.
type memberReader struct {
	k *consumer
	// read is the next offset to fetch per partition whose position the
	// member knows (set by its initial OffsetFetch); seek says the
	// position was set (OffsetFetch, reset), not reached by consuming.
	read map[lin.TopicPartition]int64
	seek map[lin.TopicPartition]bool
	// epoch is bumped when a position is set, so that an answer to a
	// request sent before is dropped.
	epoch map[lin.TopicPartition]uint64
	turn  int // the round robin's next index into the owned partitions
	call  readCall
}

// readCall is the reader's request in flight (one at a time).
type readCall struct {
	tp    lin.TopicPartition
	epoch uint64
	from  int64 // the read position when it was sent
	reset bool  // a ListOffsets earliest after OFFSET_OUT_OF_RANGE
}

// deliverySpan is offsets [from, to) of a partition that a member of a
// group received at time at, or (skipped) jumped over in a reset.
type deliverySpan struct {
	from, to int64
	at       Time
	skipped  bool
}

// reader returns the member's reader, made at its first use; its own
// draws come from a stream of its own ("client/<name>/deliver").
func (m *groupMember) reader() *memberReader {
	if m.dv != nil {
		return m.dv
	}
	r := m.w.root.Fork("client/" + m.c.name + "/deliver")
	k := &consumer{c: m.c, maxWait: int32(pick(r, []int64{0, 10, 100})), partMax: int32(pick(r, []int64{100, 1000, 1 << 20}))}
	k.report = func(ok bool, _ int64) { m.answered(ok) }
	m.dv = &memberReader{k: k, read: map[lin.TopicPartition]int64{}, seek: map[lin.TopicPartition]bool{}, epoch: map[lin.TopicPartition]uint64{}}
	return m.dv
}

// startRead sets the read position of tp, an owned partition, from the
// member's initial OffsetFetch: the committed offset v (0 when nothing is
// committed) when known, else none (the member neither reads nor commits
// tp until a later OffsetFetch tells it).
func (m *groupMember) startRead(tp lin.TopicPartition, v int64, known bool) {
	d := m.reader()
	d.epoch[tp]++
	if !known {
		delete(d.read, tp)
		return
	}
	m.pos[tp] = max(v, 0)
	d.read[tp], d.seek[tp] = max(v, 0), true
}

// commitOffset is the offset a commit of tp carries, from the member's
// draw n (1 to 5): its read position, or, when n is 1, one record past
// its last commit if that is below the read position. ok is false when
// the member does not know where it reads tp.
func (m *groupMember) commitOffset(tp lin.TopicPartition, n int64) (next int64, ok bool) {
	read, ok := m.reader().read[tp]
	if !ok {
		return 0, false
	}
	if n == 1 {
		return min(m.pos[tp]+1, read), true
	}
	return read, true
}

// consume sends the next Fetch of the round robin over the owned
// partitions (none while one is in flight), then goes on with the
// member's loop without waiting for it, as a consumer's heartbeat thread
// does.
func (m *groupMember) consume() {
	d := m.reader()
	if !d.k.busy {
		for i := range m.owned {
			tp := m.owned[(d.turn+i)%len(m.owned)]
			read, ok := d.read[tp]
			if !ok {
				continue
			}
			d.turn = (d.turn + i + 1) % len(m.owned)
			d.call = readCall{tp: tp, epoch: d.epoch[tp], from: read}
			d.k.tp, d.k.pos, d.k.seek, d.k.active = tp, read, d.seek[tp], true
			d.k.fetch()
			break
		}
	}
	m.later()
}

// answered takes the end of the reader's request: it moves the read
// position and records what the member received or skipped, unless the
// position was set again meanwhile or the member no longer owns the
// partition (a consumer drops what it fetched for a revoked partition).
func (m *groupMember) answered(ok bool) {
	d, k := m.dv, m.dv.k
	call := d.call
	if m.stopped() || d.epoch[call.tp] != call.epoch || !slices.Contains(m.owned, call.tp) {
		return
	}
	switch {
	case call.reset && ok:
		if k.pos > call.from {
			m.w.groups.deliver(m.group, call.tp, call.from, k.pos, true)
		}
		d.read[call.tp], d.seek[call.tp] = k.pos, true
	case call.reset:
		// Asked again by the next Fetch, answered OFFSET_OUT_OF_RANGE again.
	case ok:
		if k.pos > call.from {
			m.w.cover("group-records-delivered")
			m.w.groups.deliver(m.group, call.tp, call.from, k.pos, false)
		}
		d.read[call.tp], d.seek[call.tp] = k.pos, false
	case k.lastErr == "OFFSET_OUT_OF_RANGE":
		d.call.reset = true
		k.listOffset(-2)
	}
}

// deliver records that a member of group received offsets [from, to) of
// tp now, or (skipped) jumped over them.
func (g *groupWorld) deliver(group string, tp lin.TopicPartition, from, to int64, skipped bool) {
	if g.delivered == nil {
		g.delivered = map[groupKey][]deliverySpan{}
	}
	k := groupKey{group, tp}
	g.delivered[k] = append(g.delivered[k], deliverySpan{from: from, to: to, at: g.w.s.now, skipped: skipped})
}

// offsetSpan is offsets [from, to).
type offsetSpan struct{ from, to int64 }

// spanSet is a set of offsets as sorted, disjoint, non-adjacent spans.
type spanSet []offsetSpan

// add inserts [from, to), merging it with the spans it meets.
func (s spanSet) add(from, to int64) spanSet {
	if from >= to {
		return s
	}
	// The first span that ends at or after from may merge with it.
	i := sort.Search(len(s), func(i int) bool { return s[i].to >= from })
	j := i
	for j < len(s) && s[j].from <= to {
		from, to = min(from, s[j].from), max(to, s[j].to)
		j++
	}
	return slices.Replace(s, i, j, offsetSpan{from, to})
}

// firstMissing returns the least offset below end that is in want and
// not in s.
func (s spanSet) firstMissing(want spanSet, end int64) (int64, bool) {
	gapFrom := int64(0)
	for i := 0; ; i++ {
		gapTo := end
		if i < len(s) {
			gapTo = min(s[i].from, end)
		}
		if gapFrom < gapTo {
			// The first wanted span that ends after the gap begins.
			j := sort.Search(len(want), func(j int) bool { return want[j].to > gapFrom })
			if j < len(want) && want[j].from < gapTo {
				return max(want[j].from, gapFrom), true
			}
		}
		if i >= len(s) || s[i].to >= end {
			return 0, false
		}
		gapFrom = s[i].to
	}
}

// ackedOffsets returns, per partition, the offsets of the history's
// acknowledged appends.
func (w *world) ackedOffsets() map[lin.TopicPartition]spanSet {
	out := map[lin.TopicPartition]spanSet{}
	for _, op := range w.history {
		if op.Kind == lin.OpAppend && op.Outcome == lin.OutcomeOK && len(op.Values) > 0 {
			out[op.Partition] = out[op.Partition].add(op.Offset, op.Offset+int64(len(op.Values)))
		}
	}
	return out
}

// checkDelivery is the "group-delivery:" checker (see the file comment).
func (g *groupWorld) checkDelivery() {
	w := g.w
	commits := map[groupKey][]*groupOp{}
	var keys []groupKey
	// Only the classic members consume (groups.go); the KIP-848 ones
	// (groups848.go) commit offsets they never read, so their groups are
	// judged by group-commit: and group-owner: alone.
	consuming := map[string]bool{}
	for _, m := range g.members {
		consuming[m.group] = true
	}
	for _, op := range g.ops {
		if !op.write || !op.acked || op.fenced || op.value <= 0 || !consuming[op.key.group] {
			continue
		}
		if commits[op.key] == nil {
			keys = append(keys, op.key)
		}
		commits[op.key] = append(commits[op.key], op)
	}
	if len(keys) == 0 {
		return
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.tp.Topic, b.tp.Topic), cmp.Compare(a.tp.Partition, b.tp.Partition))
	})
	acked := w.ackedOffsets()
	reported := 0
	for _, k := range keys {
		if reported >= 5 {
			break // enough to see what happened
		}
		if msg := g.judgeDelivery(k, commits[k], acked[k.tp]); msg != "" {
			w.fail("group-delivery: group %s %s: %s", k.group, k.tp, msg)
			reported++
		}
	}
}

// judgeDelivery judges the acknowledged commits of one group and
// partition, in the order they were sent, against the offsets of
// acknowledged records (acked); it returns the first finding or "".
func (g *groupWorld) judgeDelivery(k groupKey, commits []*groupOp, acked spanSet) string {
	w := g.w
	topic := w.reg.byName[k.tp.Topic]
	if topic == nil || compactedTopic(k.tp) {
		return ""
	}
	flip, flipped := w.quarantine[k.tp]
	groupFlip, groupFlipped := g.quarantined(k.group)
	bound := w.trimBound(k.tp)
	spans := g.delivered[k] // in the order they happened
	slices.SortStableFunc(commits, func(a, b *groupOp) int { return cmp.Compare(a.call, b.call) })
	var seen spanSet
	i := 0
	for _, c := range commits {
		switch {
		case topic.deleteCall != 0 && topic.deleteCall <= c.call,
			flipped && flip <= c.call,
			groupFlipped && groupFlip <= c.call:
			continue
		}
		// A delivery at the very time the commit was sent came first: the
		// member committed from a position that already included it.
		for ; i < len(spans) && spans[i].at <= c.call; i++ {
			s := spans[i]
			to := s.to
			if s.skipped {
				to = min(to, bound)
			}
			seen = seen.add(s.from, to)
		}
		w.cover("group-delivery-judged")
		if off, missing := seen.firstMissing(acked, c.value); missing {
			return fmt.Sprintf("a commit of offset %d by %s sent at %s (acknowledged at %s), but offset %d holds an acknowledged record that no member of the group had received before it (received or skipped by then: %s)",
				c.value, c.member, c.call, c.ret, off, seen.describe(8))
		}
	}
	return ""
}

// describe renders the first n spans of s.
func (s spanSet) describe(n int) string {
	out := ""
	for i, sp := range s {
		if i == n {
			return out + fmt.Sprintf(" and %d more", len(s)-n)
		}
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("[%d,%d)", sp.from, sp.to)
	}
	if out == "" {
		return "nothing"
	}
	return out
}
