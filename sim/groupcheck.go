package sim

// The group checkers, judged from what members were told and when:
//
//   - "group-owner:": two members never both hold a partition in the same
//     generation of a group, from the SyncGroup answers (the classic
//     protocol's assignment, which the coordinator hands out only once it
//     has committed it: a generation reused after a failover would show
//     as two assignments of one generation).
//   - "group-commit:": committed offsets per (group, partition) are a
//     register. A commit answered with success is never lost nor rolled
//     back: an OffsetFetch sent after that answer arrived must return the
//     acknowledged offset or the offset of a commit that may have taken
//     effect after it (one not answered before the acknowledged commit was
//     sent, nor refused for certain: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
//     REBALANCE_IN_PROGRESS, COORDINATOR_LOAD_IN_PROGRESS or never sent),
//     and a fetch never returns an offset that only such refused commits
//     (a fenced member's) wrote.
//     A commit sent after a later generation of its group synced is
//     fenced (fenceCommit): acknowledged, or its offset read back, it is a
//     finding. Every register is checked twice: with porcupine
//     (groupreg.go, a register model whose writes carry their fence), and
//     with this direct rule, a check of stale reads that never fails a
//     legal history and names the commit and the fetch that disagree. A fetch answered
//     by a broker that is not the caught-up leader of the group's
//     __consumer_offsets partition at the committed leader epoch (a deposed
//     coordinator that has not heard of its successor yet, reads.go) may
//     be stale, as in Kafka, and is not judged.

import (
	"fmt"
	"slices"
	"sort"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// groupKey is one register: a group's committed offset of a partition.
type groupKey struct {
	group string
	tp    lin.TopicPartition
}

// groupOp is a commit (write) or a fetch (read) of one register.
type groupOp struct {
	key    groupKey
	write  bool
	value  int64 // written, or read (-1: nothing committed)
	call   Time
	ret    Time // when the answer arrived; -1 while open or never known
	acked  bool // a write answered with success, a read that returned
	refuse bool // a write certainly not applied
	member string
	// gen is a commit's generation; fenced says a SyncGroup of a later
	// generation of the group had been answered when it was sent, so the
	// coordinator must refuse it (fenceCommit).
	gen    int32
	fenced bool
	// k848ID is a KIP-848 commit's member id (gen its member epoch), ""
	// for the classic protocol; fenceWhy says why a KIP-848 commit is
	// fenced (groupfence848.go).
	k848ID   string
	fenceWhy string
}

// groupWorld holds the group workload's ground truth.
type groupWorld struct {
	w       *world
	members []*groupMember
	ops     []*groupOp
	// owners maps group and generation to each partition's holder.
	owners map[string]map[int32]map[lin.TopicPartition]string
	// topGen is each group's highest generation a SyncGroup answered
	// with success: its group record is committed, and generations only
	// grow (an emptied group's too), so from then on a commit of an
	// older generation is fenced.
	topGen map[string]int32
	// trap is the coordinator-move trap (groupfence.go).
	trap *groupTrap
	// vizDir is where porcupine's HTML of an illegal register goes ("":
	// none); steps is the most budget units one register's search used
	// (groupreg.go).
	vizDir string
	steps  int64
	// live judges the groups' liveness in the current quiet window
	// (grouplive.go).
	live map[string]*groupLive
	// delivered is what members received, per group and partition
	// (groupdelivery.go).
	delivered map[groupKey][]deliverySpan
}

func newGroupWorld(w *world) *groupWorld {
	return &groupWorld{w: w, owners: map[string]map[int32]map[lin.TopicPartition]string{}, topGen: map[string]int32{}}
}

// partition is the __consumer_offsets partition of group (Kafka's
// abs(group.hashCode()) % partitions), -1 when the topic does not exist
// in a cluster's committed log yet. A single node creates it with the
// configured count.
func (g *groupWorld) partition(group string) int32 {
	w := g.w
	n := w.brokerCfg.OffsetsTopicPartitions
	if w.cluster() {
		t := w.raft.truth.Topic(offsetsTopic)
		if t == nil {
			return -1
		}
		n = t.Partitions
	}
	if n <= 0 {
		return -1
	}
	var h int32
	for _, r := range group { // group names here are ASCII
		h = 31*h + int32(r)
	}
	switch {
	case h == -1<<31:
		h = 0
	case h < 0:
		h = -h
	}
	return h % n
}

// quarantined reports whether a media flip left group's offsets partition
// without a good copy (faults.go), and since when: its state after the
// flip is not the coordinator's to keep, as for any quarantined partition.
func (g *groupWorld) quarantined(group string) (Time, bool) {
	at, q := g.w.quarantine[lin.TopicPartition{Topic: offsetsTopic, Partition: g.partition(group)}]
	return at, q
}

// beforeQuarantine cuts one register's history at its partition's flip,
// as beforeFlip does for the logs: what was sent before it stays, a
// commit acknowledged after it becomes unknown, a fetch answered after it
// is left out.
func beforeQuarantine(ops []*groupOp, at Time) []*groupOp {
	var out []*groupOp
	for _, op := range ops {
		switch {
		case op.call >= at:
			continue
		case op.ret < at && (op.ret >= 0 || !op.acked):
		case op.write:
			c := *op
			c.acked, c.ret = false, -1
			op = &c
		default:
			continue
		}
		out = append(out, op)
	}
	return out
}

// begin records a commit or fetch sent now.
func (g *groupWorld) begin(m *groupMember, tp lin.TopicPartition, write bool, value int64) *groupOp {
	op := &groupOp{key: groupKey{m.group, tp}, write: write, value: value, call: g.w.s.now, ret: -1, member: m.c.name}
	g.ops = append(g.ops, op)
	return op
}

// end completes op: refused (a write certainly not applied), acked (a
// write's success or a read's answer, with the value read).
func (g *groupWorld) end(op *groupOp, refused, acked bool, read int64) {
	op.refuse, op.acked = refused, acked
	if acked || refused {
		op.ret = g.w.s.now
	}
	if acked && !op.write {
		op.value = read
	}
}

// fenceCommit marks op, a commit sent now with generation gen: fenced
// when a later generation of its group has synced.
func (g *groupWorld) fenceCommit(op *groupOp, gen int32) {
	op.gen = gen
	if gen >= 0 && gen < g.topGen[op.key.group] {
		op.fenced = true
		g.w.cover("group-commit-fenced")
	}
}

// drop forgets a read that returned nothing judgeable.
func (g *groupWorld) drop(op *groupOp) { op.refuse = true }

// synced records a SyncGroup answer: member holds parts in generation gen
// of group, which no other member may hold in that generation.
func (g *groupWorld) synced(group string, gen int32, member string, parts []lin.TopicPartition) {
	if _, q := g.quarantined(group); q {
		return // the group's state is damaged (a media flip)
	}
	g.topGen[group] = max(g.topGen[group], gen)
	gens := g.owners[group]
	if gens == nil {
		gens = map[int32]map[lin.TopicPartition]string{}
		g.owners[group] = gens
	}
	own := gens[gen]
	if own == nil {
		own = map[lin.TopicPartition]string{}
		gens[gen] = own
	}
	for _, tp := range parts {
		if prev, ok := own[tp]; ok && prev != member {
			g.w.fail("group-owner: group %s generation %d: partition %s assigned to both member %s and member %s", group, gen, tp, prev, member)
		}
		own[tp] = member
	}
}

// check judges the commits and fetches of every register.
func (g *groupWorld) check() {
	w := g.w
	if w.g848 != nil {
		w.g848.epochs.fence(g.ops)
	}
	byKey := map[groupKey][]*groupOp{}
	var keys []groupKey
	for _, op := range g.ops {
		if byKey[op.key] == nil {
			keys = append(keys, op.key)
		}
		byKey[op.key] = append(byKey[op.key], op)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.group != b.group {
			return a.group < b.group
		}
		if a.tp.Topic != b.tp.Topic {
			return a.tp.Topic < b.tp.Topic
		}
		return a.tp.Partition < b.tp.Partition
	})
	reported := 0
	for _, k := range keys {
		if reported >= 5 {
			break // enough to see what happened
		}
		ops := byKey[k]
		if at, q := g.quarantined(k.group); q {
			ops = beforeQuarantine(ops, at)
		}
		topic := w.reg.byName[k.tp.Topic]
		msg, judged := judgeRegister(ops, topic)
		for range judged {
			w.cover("group-fetch-judged")
		}
		switch porc := g.linearize(k, ops, topic); {
		case msg != "" && porc == "":
			w.cover("group-register-direct-only")
		case msg != "" && porc != "":
			msg += " [porcupine: " + porc + "]"
		default:
			msg = porc
		}
		if msg != "" {
			w.fail("group-commit: group %s %s: %s", k.group, k.tp, msg)
			reported++
		}
	}
}

// judgeRegister returns the first stale read of one register's history,
// or "", and how many reads it judged against an acknowledged commit. A
// read of a topic whose delete was sent before the read's answer is not
// judged (a coordinator may drop a deleted topic's offsets).
func judgeRegister(ops []*groupOp, topic *simTopic) (string, int) {
	var acked []*groupOp
	byValue := map[int64][]*groupOp{}   // writes that may have applied, by offset
	fencedValue := map[int64]*groupOp{} // fenced writes, by offset
	for _, op := range ops {
		if op.write && op.fenced {
			// A fenced member's commit is never applied, whatever the
			// coordinator answered.
			if op.acked && op.fenceWhy != "" {
				return fmt.Sprintf("a fenced commit of offset %d by %s %s, was acknowledged at %s",
					op.value, op.member, op.fenceWhy, op.ret), 0
			}
			if op.acked {
				return fmt.Sprintf("a commit of offset %d by %s with generation %d, sent at %s after a later generation had synced, was acknowledged at %s",
					op.value, op.member, op.gen, op.call, op.ret), 0
			}
			fencedValue[op.value] = op
			continue
		}
		if op.write && !op.refuse {
			byValue[op.value] = append(byValue[op.value], op)
			if op.acked {
				acked = append(acked, op)
			}
		}
	}
	judged := 0
	for _, rd := range ops {
		if rd.write || !rd.acked || rd.refuse {
			continue
		}
		if topic != nil && topic.deleteCall != 0 && topic.deleteCall <= rd.ret {
			continue
		}
		same := byValue[rd.value]
		if rd.value >= 0 && !slices.ContainsFunc(same, func(x *groupOp) bool { return x.call < rd.ret }) {
			// A fenced commit applied, or an offset nobody committed.
			why := ""
			if f := fencedValue[rd.value]; f != nil && f.call < rd.ret && f.fenceWhy != "" {
				why = fmt.Sprintf(" (a fenced commit by %s %s, did)", f.member, f.fenceWhy)
			} else if f != nil && f.call < rd.ret {
				why = fmt.Sprintf(" (a fenced commit by %s with generation %d, sent at %s, did)", f.member, f.gen, f.call)
			}
			return fmt.Sprintf("an OffsetFetch by %s sent at %s (answered at %s) returned offset %d, which no commit that may have applied wrote before it%s",
				rd.member, rd.call, rd.ret, rd.value, why), judged
		}
		seen := false
		for _, a := range acked {
			if a.ret >= rd.call {
				continue
			}
			seen = true
			if a.value == rd.value {
				continue
			}
			// Some write of the value read must be able to follow a:
			// sent before the read's answer, not answered before a was sent.
			if slices.ContainsFunc(same, func(x *groupOp) bool { return x.call < rd.ret && (x.ret < 0 || x.ret > a.call) }) {
				continue
			}
			what := fmt.Sprintf("offset %d", rd.value)
			if rd.value < 0 {
				what = "no committed offset"
			}
			return fmt.Sprintf("a commit of offset %d by %s was acknowledged at %s, but an OffsetFetch by %s sent at %s (answered at %s) returned %s, which no commit that could follow it wrote",
				a.value, a.member, a.ret, rd.member, rd.call, rd.ret, what), judged
		}
		if seen {
			judged++
		}
	}
	return "", judged
}

// judgeOwners848 is the KIP-848 "group-owner:" check: no partition of a
// consumer group is certainly held by two members at one moment (hold848
// in groups848.go says when a holding is certain). It returns the first
// overlap found, or "".
func judgeOwners848(holds []own848) string {
	type key struct {
		group string
		tp    tidp848
	}
	by := map[key][]own848{}
	var keys []key
	for _, h := range holds {
		k := key{h.group, h.tp}
		if by[k] == nil {
			keys = append(keys, k)
		}
		by[k] = append(by[k], h)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].group != keys[j].group {
			return keys[i].group < keys[j].group
		}
		return keys[i].tp.less(keys[j].tp)
	})
	for _, k := range keys {
		hs := by[k]
		sort.SliceStable(hs, func(i, j int) bool { return hs[i].from < hs[j].from })
		for i, a := range hs {
			for _, b := range hs[i+1:] {
				if b.from >= a.to {
					break // sorted by start: no later one overlaps a
				}
				if a.member != b.member {
					return fmt.Sprintf("group %s partition %s: member %s held it from %s to %s, and member %s from %s to %s",
						k.group, k.tp, a.member, a.from, a.to, b.member, b.from, b.to)
				}
			}
		}
	}
	return ""
}
