package sim

// The checker "compaction:", judged from ground truth: what the compaction
// workload (compaction.go) sent, which produces were acknowledged at which
// offsets, and what full reads of its partitions returned.
//
//   - Every record read is one that was written to that partition (its id
//     header names the write; key, value or tombstone equal), never one
//     whose produce was refused, at the offset its produce was acknowledged
//     at, and always at the same offset (offsets are preserved).
//   - A read's offsets strictly increase and stay below the high watermark.
//   - A full read (log start to high watermark) that no stale broker
//     answered holds, for every key, a record at or after the key's latest
//     acknowledged write that was acknowledged before the read began:
//     the cleaner keeps the latest record of a key. Excused: a tombstone
//     may be gone once older than delete.retention.ms by every broker's
//     clock, so a key whose latest acknowledged write is such a
//     tombstone, or that has such a tombstone whose produce may have
//     landed later (unknown outcome, or acknowledged at a later offset),
//     is not judged. Older records of a key may remain (the cleaner has
//     not reached them, or the dirty ratio held it back): never judged.
//   - The same read holds every acknowledged record younger than
//     min.compaction.lag.ms by every broker's clock, at its offset.
//
// Mid-run reads come every few seconds; after the final drain the final
// client reads every compacted partition once more (up to
// compactFinalLimit, then left unjudged). A partition quarantined by a
// media flip is not judged for presence (the flip may cost records).

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// compactFinalLimit bounds the final reads of the compacted partitions.
const compactFinalLimit = 8 * Second

// logCompactedPartition is the broker's line when a clean job installed
// cleaned segments (core/broker/compaction.go).
const logCompactedPartition = "compacted partition"

// compactScan is one full read of a compacted partition: ListOffsets
// earliest, then fetches until the high watermark.
type compactScan struct {
	k     *compactWorld
	c     *client
	tp    lin.TopicPartition
	final bool
	call  Time
	pos   int64
	last  int64 // the highest offset returned so far (-1: none)
	hw    int64
	recs  []crec
	stale bool // a fetch of the scan may have been answered by a stale broker
	// done hears the end: judged when the scan reached the high watermark.
	done func(complete bool)
}

// readStep starts a full read of a random partition now and then during
// the workload (one at a time).
func (k *compactWorld) readStep() {
	w := k.w
	if w.workloadStopped {
		return
	}
	defer w.s.after(k.c.rng.Exp(k.set.ReadEvery), "compact-read", k.readStep)
	parts := k.livePartitions()
	if k.reading || len(parts) == 0 {
		return
	}
	k.reading = true
	s := &compactScan{k: k, c: k.c, tp: pick(k.c.rng, parts), done: func(bool) { k.reading = false }}
	s.begin()
}

// finalRead reads every compacted partition in full with the final
// client, one after the other, and calls done (at once when the workload
// is off). A partition not read completely within compactFinalLimit is
// left unjudged.
func (k *compactWorld) finalRead(c *client, done func()) {
	if k == nil {
		done()
		return
	}
	w := k.w
	readInTurn(w, k.livePartitions(), compactFinalLimit, "compact-final-retry",
		func(tp lin.TopicPartition, attempt func(bool)) *compactScan {
			return &compactScan{k: k, c: c, tp: tp, final: true, done: attempt}
		},
		func(s *compactScan, complete bool) bool {
			if complete && !s.stale {
				w.cover("compaction-final-read")
				return true
			}
			return false
		},
		func(s *compactScan) {
			w.logf("compaction: the final read of %s did not complete within %s; left unjudged", s.tp, fmtTime(compactFinalLimit))
			w.cover("compaction-final-unjudged")
		}, done)
}

// readInTurn is a workload's final read: one scan per partition of parts
// that no media flip quarantined, one after the other, then done. A scan
// (begin starts it, again after each attempt) reports every attempt to the
// func newScan gave it; judge says whether the attempt was the read to
// judge (and judges it); otherwise it is tried again 200 ms later (event
// retry) until limit has passed since the start, when late gives its
// partition up.
func readInTurn[S interface{ begin() }](w *world, parts []lin.TopicPartition, limit Time, retry string,
	newScan func(tp lin.TopicPartition, attempt func(complete bool)) S,
	judge func(s S, complete bool) bool,
	late func(s S),
	done func(),
) {
	deadline := w.s.now + limit
	parts = slices.DeleteFunc(slices.Clone(parts), w.quarantined)
	var step func(i int)
	step = func(i int) {
		if w.done {
			return
		}
		if i >= len(parts) {
			done()
			return
		}
		var s S
		over := false
		s = newScan(parts[i], func(complete bool) {
			if over {
				return
			}
			if judge(s, complete) {
				over = true
				step(i + 1)
				return
			}
			if w.s.now >= deadline {
				over = true
				late(s)
				step(i + 1)
				return
			}
			w.s.after(200*Millisecond, retry, s.begin)
		})
		s.begin()
	}
	step(0)
}

// begin (re)starts the scan at the log start.
func (s *compactScan) begin() {
	w := s.k.w
	s.call, s.last, s.recs, s.stale, s.hw = w.s.now, -1, s.recs[:0], false, -1
	req := earliestRequest(s.tp)
	r := s.c.route
	r.ready(func() {
		node, _ := r.leader(s.tp)
		s.c.do(node, req, 5*Second, false, func(resp kmsg.Response, err error) {
			code, offset := int16(-1), int64(-1)
			if err == nil {
				if lr := resp.(*kmsg.ListOffsetsResponse); len(lr.Topics) == 1 && len(lr.Topics[0].Partitions) == 1 {
					code, offset = lr.Topics[0].Partitions[0].ErrorCode, lr.Topics[0].Partitions[0].Offset
				}
			}
			if err != nil || routingError(code) {
				r.invalidate()
			}
			if code != 0 {
				s.failed()
				return
			}
			s.pos = offset
			s.fetch()
		})
	})
}

// failed ends an attempt that met an error: the final read tries again
// (done decides), a mid-run read gives up.
func (s *compactScan) failed() { s.done(false) }

// earliestRequest is a ListOffsets request (v1) for tp's earliest offset,
// its log start.
func earliestRequest(tp lin.TopicPartition) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 1
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = tp.Topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = tp.Partition
	rp.Timestamp = -2
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func (s *compactScan) fetch() {
	w := s.k.w
	if w.done {
		return
	}
	// A consumer's fetch: no wait, 1 MiB for the partition.
	req := (&consumer{c: s.c, tp: s.tp, pos: s.pos, partMax: 1 << 20}).fetchRequest()
	r := s.c.route
	r.ready(func() {
		node, _ := r.leader(s.tp)
		pos := s.pos
		s.c.do(node, req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
			s.stale = s.stale || w.answerMayBeStale(s.tp)
			if err != nil {
				r.invalidate()
				s.failed()
				return
			}
			fr := resp.(*kmsg.FetchResponse)
			if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
				s.failed()
				return
			}
			sp := fr.Topics[0].Partitions[0]
			if sp.ErrorCode != 0 {
				if routingError(sp.ErrorCode) {
					r.invalidate()
				}
				s.failed()
				return
			}
			recs, end, derr := decodeKeyed(sp.RecordBatches, pos)
			if derr != nil {
				w.fail("compaction: %s: fetch @%d: %v", s.tp, pos, derr)
				s.done(true) // nothing more to learn from this read
				return
			}
			s.hw = sp.HighWatermark
			if !s.took(pos, recs) {
				s.done(true)
				return
			}
			s.pos = max(pos, end, s.last+1)
			switch {
			case s.pos >= s.hw:
				s.finish()
			case s.pos == pos:
				s.failed() // no whole batch: nothing to move on with
			default:
				s.fetch()
			}
		})
	})
}

// took checks one fetch's records (fetched from pos) and keeps them; false
// after a failure.
func (s *compactScan) took(pos int64, recs []crec) bool {
	k, w := s.k, s.k.w
	expect := pos
	for _, rec := range recs {
		switch {
		case rec.offset <= s.last:
			w.fail("compaction: %s: a read from %d returned offset %d after offset %d: offsets must increase", s.tp, pos, rec.offset, s.last)
			return false
		case rec.offset >= s.hw:
			w.fail("compaction: %s: a read from %d returned offset %d at or past the high watermark %d", s.tp, pos, rec.offset, s.hw)
			return false
		}
		if rec.offset > expect {
			w.cover("compaction-hole-read")
		}
		expect, s.last = rec.offset+1, rec.offset
		if msg := k.judgeRecord(s.tp, rec); msg != "" {
			w.fail("compaction: %s: a read from %d: %s", s.tp, pos, msg)
			return false
		}
		s.recs = append(s.recs, rec)
	}
	return true
}

// judgeRecord checks one record read from tp against the writes: "" when
// it is one the workload wrote there, at a legal offset.
func (k *compactWorld) judgeRecord(tp lin.TopicPartition, rec crec) string {
	cw := k.byID[rec.id]
	switch {
	case rec.id == "":
		return fmt.Sprintf("offset %d holds a record without the workload's id header (key %q): never written", rec.offset, rec.key)
	case cw == nil:
		return fmt.Sprintf("offset %d holds a record with id %q, which was never written", rec.offset, rec.id)
	case cw.tp != tp:
		return fmt.Sprintf("offset %d holds %s, which was written to %s", rec.offset, rec.id, cw.tp)
	case cw.keyless != rec.keyless || cw.key != rec.key || cw.tombstone != rec.tombstone || cw.value != rec.value:
		return fmt.Sprintf("offset %d holds %s as key %q value %q (tombstone %v), written as key %q value %q (tombstone %v)",
			rec.offset, rec.id, rec.key, rec.value, rec.tombstone, cw.key, cw.value, cw.tombstone)
	case cw.outcome == lin.OutcomeFailed:
		return fmt.Sprintf("offset %d holds %s, whose produce was refused (sent at %s)", rec.offset, rec.id, cw.call)
	case cw.outcome == lin.OutcomeOK && rec.offset != cw.offset:
		return fmt.Sprintf("%s is at offset %d, acknowledged at offset %d (offsets must be preserved)", rec.id, rec.offset, cw.offset)
	case cw.seenAt >= 0 && cw.seenAt != rec.offset:
		return fmt.Sprintf("%s is at offset %d, read at offset %d before (offsets must be preserved)", rec.id, rec.offset, cw.seenAt)
	}
	cw.seenAt = rec.offset
	return ""
}

// finish judges a scan that reached the high watermark.
func (s *compactScan) finish() {
	k, w := s.k, s.k.w
	if !s.stale && !w.quarantined(s.tp) {
		missing, tombstones, judged := missingLatest(k.writes[s.tp], s.recs, s.call, s.hw, k.tombstoneBound(w.s.now))
		for range judged {
			w.cover("compaction-latest-judged")
		}
		for range tombstones {
			w.cover("compaction-tombstone-expired")
		}
		young, youngJudged := missingYoung(k.writes[s.tp], s.recs, s.call, s.hw, k.lagBound(w.s.now))
		missing = append(missing, young...)
		for range youngJudged {
			w.cover("compaction-young-judged")
		}
		for _, m := range missing {
			what := "a full read"
			if s.final {
				what = "the final full read"
			}
			w.fail("compaction: %s: %s (from %s, high watermark %d) lacks a record it must hold: %s", s.tp, what, s.call, s.hw, m)
		}
	}
	s.done(true)
}

// missingLatest judges one complete, fresh full read of a partition (recs,
// in offset order, up to high watermark hw, the read begun at call)
// against the partition's writes: for every key, the latest write
// acknowledged before call (below hw) must be in the read, or a record of
// the key at a later offset. Only a tombstone may be gone: the latest
// write itself, or one that may lie after it (acknowledged at a later
// offset, or of unknown outcome), and only one sent before goneBefore
// (older than delete.retention.ms by every broker's clock; see
// tombstoneBound). It returns a description of each key that fails, how
// many keys were excused because their latest acknowledged write was a
// tombstone that is gone, and how many keys it judged.
func missingLatest(writes []*cwrite, recs []crec, call Time, hw int64, goneBefore Time) (missing []string, tombstonesGone, judged int) {
	latest := map[string]*cwrite{}
	var keys []string
	for _, cw := range writes {
		if cw.keyless || cw.outcome != lin.OutcomeOK || cw.ret >= call || cw.offset >= hw {
			continue
		}
		if l, ok := latest[cw.key]; !ok || cw.offset > l.offset {
			if !ok {
				keys = append(keys, cw.key)
			}
			latest[cw.key] = cw
		}
	}
	slices.Sort(keys)
	for _, key := range keys {
		l := latest[key]
		judged++
		if slices.ContainsFunc(recs, func(r crec) bool { return !r.keyless && r.key == key && r.offset >= l.offset }) {
			continue
		}
		if l.tombstone && l.call < goneBefore {
			tombstonesGone++
			continue
		}
		// A tombstone of the key that may lie past l removes l legally
		// and may itself be gone.
		if slices.ContainsFunc(writes, func(cw *cwrite) bool {
			return cw.key == key && !cw.keyless && cw.tombstone && cw.call < goneBefore &&
				(cw.outcome == lin.OutcomeUnknown || (cw.outcome == lin.OutcomeOK && cw.offset > l.offset))
		}) {
			continue
		}
		last := "no record of the key at all"
		for _, r := range recs {
			if !r.keyless && r.key == key {
				last = fmt.Sprintf("the latest one read is %s at offset %d", r.id, r.offset)
			}
		}
		what := fmt.Sprintf("%s (value %q)", l.id, l.value)
		if l.tombstone {
			what = fmt.Sprintf("tombstone %s, sent at %s (too recent to be gone: delete.retention.ms allows tombstones sent before %s),", l.id, l.call, goneBefore)
		}
		missing = append(missing, fmt.Sprintf("key %q: %s acknowledged at offset %d at %s is gone, with nothing of the key after it (%s)", key, what, l.offset, l.ret, last))
	}
	return missing, tombstonesGone, judged
}

// missingYoung judges one complete, fresh full read (as missingLatest)
// against min.compaction.lag.ms: a segment is cleanable only once its
// newest record is that old by its broker's clock, so every write
// acknowledged before call (below hw) and sent at or after youngFrom (see
// lagBound) must be in the read, at its offset, whatever came after it.
func missingYoung(writes []*cwrite, recs []crec, call Time, hw int64, youngFrom Time) (missing []string, judged int) {
	for _, cw := range writes {
		if cw.keyless || cw.outcome != lin.OutcomeOK || cw.ret >= call || cw.offset >= hw || cw.call < youngFrom {
			continue
		}
		judged++
		i, found := slices.BinarySearchFunc(recs, cw.offset, func(r crec, off int64) int { return cmp.Compare(r.offset, off) })
		if found && recs[i].id == cw.id {
			continue
		}
		missing = append(missing, fmt.Sprintf("%s (key %q), sent at %s and acknowledged at offset %d, is gone though min.compaction.lag.ms keeps records sent at %s or later", cw.id, cw.key, cw.call, cw.offset, youngFrom))
	}
	return missing, judged
}

// lagBound is clockBound for min.compaction.lag.ms: records sent at or
// after it are too young for any cleaner by the end of a read that ended
// at end (0 lag: none is).
func (k *compactWorld) lagBound(end Time) Time {
	if k.set.MinCompactionLagMs == 0 {
		return end + Second // nothing sent before end is young enough
	}
	return k.clockBound(end, k.set.MinCompactionLagMs)
}

// tombstoneBound is the send time before which a tombstone may be gone
// from a read that ended at end: a cleaner drops one when its broker's
// clock is more than delete.retention.ms past the tombstone's timestamp
// (the client's clock at the send, which is exact). A broker's clock never
// runs back (the driver absorbs backward jumps) and leads virtual time by
// at most maxOffset: its node's start offset plus every forward jump
// (clockJumped), plus drift (at most 500 ppm of the
// run) and the milliseconds' rounding.
func (k *compactWorld) tombstoneBound(end Time) Time {
	return k.clockBound(end, k.set.DeleteRetentionMs)
}

// clockBound is the send time before which a record may be older than
// ageMs by some broker's clock at end (tombstoneBound).
func (k *compactWorld) clockBound(end Time, ageMs int64) Time {
	lead := k.maxOffset + end/2000 + 2*Millisecond
	return end - Time(ageMs)*Millisecond + lead
}

// clockJumped notes that n's clock jumped by d (at the start: d is its
// start offset). A broker's clock (core/driver's now) holds a backward
// jump, running on from where it was, so it leads virtual time by at most
// its node's start offset plus every forward jump since, whatever the
// backward jumps between (seed 63672457: a node stepped back 4.2 s and
// then forward 1.3 s led by 1.3 s, not by their sum).
func (k *compactWorld) clockJumped(n *simNode, d Time) {
	if k == nil {
		return
	}
	if k.lead == nil {
		k.lead = map[int32]Time{}
	}
	k.lead[n.id] += max(d, 0)
	k.maxOffset = max(k.maxOffset, k.lead[n.id])
}

// onCleaned hears a broker's "compacted partition" line: a clean job
// installed cleaned segments of a partition (coverage
// compaction-cleaned for the workload's topics).
func (k *compactWorld) onCleaned(n *simNode, args []any) {
	if k == nil {
		return
	}
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] != "partition" {
			continue
		}
		dir := fmt.Sprint(args[i+1])
		if !isCompactTopic(dir) {
			return
		}
		k.w.cover("compaction-cleaned")
		if k.cleaned[n.id] == nil {
			k.cleaned[n.id] = map[string]bool{}
		}
		k.cleaned[n.id][dir] = true
	}
}

// onPowerLoss runs just before node n loses power: coverage
// power-loss-during-clean when a clean job is in flight, or a cleaned
// segment's rename over its original is not durable yet (the durable name
// still holds the old file: its synced length differs from the current
// one, for a sealed segment).
func (k *compactWorld) onPowerLoss(n *simNode) {
	if k == nil {
		return
	}
	inFlight := slices.ContainsFunc(n.inflight, func(ps *pendingSync) bool { return !ps.done && ps.job.Clean() != nil })
	swapped := false
	for dir := range k.cleaned[n.id] {
		swapped = swapped || swapUnsynced(n.disk, dir)
	}
	if inFlight || swapped {
		k.w.cover("power-loss-during-clean")
	}
	if inFlight {
		k.w.cover("power-loss-clean-in-flight")
	}
	if swapped {
		k.w.cover("power-loss-clean-swap-unsynced")
	}
	clear(k.cleaned[n.id])
}

// swapUnsynced reports whether a sealed segment of the partition in dir
// (any but the last) is not what its durable name holds: a cleaned copy
// renamed over it whose rename no directory fsync made durable yet.
func swapUnsynced(d *simDisk, dir string) bool {
	md := d.md(dir)
	segs := d.segmentFilesOf(md, dir, false)
	for i := 0; i+1 < len(segs); i++ {
		cur, ok := md.Current(segs[i].name)
		if !ok {
			continue
		}
		syn, ok := md.Synced(segs[i].name)
		if ok && len(syn) != len(cur) {
			return true
		}
	}
	return false
}
