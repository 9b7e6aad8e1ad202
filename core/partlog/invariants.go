package partlog

import (
	"fmt"
	"math"
	"slices"

	"github.com/chronik-streaming/chronik/core/record"
)

// CheckInvariants panics, naming the broken invariant, when the log's
// in-memory state is inconsistent. It is cheap (no I/O, linear in the
// number of segments, producers and epochs) so that the simulator can run
// it after every step. A closed log is not checked, nor one that no
// method that may change it was called on since the last check (the
// state is only ever changed by such calls, so it is the state already
// checked).
func (l *Log) CheckInvariants() {
	if l.checkedAt == l.changes+1 {
		return
	}
	l.checkInvariantsFrom(l.firstSegToCheck())
	l.checkedAt = l.changes + 1
}

// fullSegCheckEvery bounds the checks in a row that skip the sealed
// segments (firstSegToCheck).
const fullSegCheckEvery = 64

// firstSegToCheck returns the index of the first segment CheckInvariants
// looks at, and counts the check. The segment checks are per segment and
// pairwise between neighbours, so a segment that did not change since a
// check found it good, nor its neighbours, needs no check again. Only the
// active segment changes while the list stays as it is (appends, syncs
// and a truncation inside it): every other change of a segment comes
// with a change of the list itself. A segment is sealed by a roll, which
// appends a new active one (a seal whose roll then fails leaves a sealed
// last segment, which the check of the last one reports); its files are
// released or closed when it leaves the list (deleteSegments, truncation,
// restartAt) or the log closes (no check then); truncation into a sealed
// segment drops the segments after it and reopens it as the active one;
// recovery builds a new Log. A new segment is a new pointer, so the list
// of pointers never returns to one checked earlier. So while l.segs holds
// the same pointers as at the last check of every segment, only the last
// two (the active one and its boundary with the previous one) are checked;
// every fullSegCheckEvery-th check looks at all of them anyway.
func (l *Log) firstSegToCheck() int {
	l.sinceFull++
	n := len(l.segs)
	if n <= 2 || l.sinceFull >= fullSegCheckEvery || !slices.Equal(l.checkedSegs, l.segs) {
		return 0
	}
	return n - 2
}

// indexWalkStarts returns where the check of the active segment s's
// in-memory index and time index starts, and counts the check. The
// entries are checked pairwise (each above its predecessor) and against
// the segment's end (offset and size). These slices are only ever
// appended to (noteBatch writes past their length) or dropped whole
// (resetContents, sealing, recovery; a later append then allocates a new
// array): no code cuts them or writes into their entries. So when the
// slice starts at the same array element as the one the last check found
// good (that slice is kept, so its array cannot be freed and reused) and
// is no shorter, its first entries are those checked then and still
// increasing; only the new ones need the pairwise check. The range check
// of the old entries is covered by that of the last one checked, which
// the walk restarts at: the entries increase, so the last checked one
// holds the largest offset and position of them, and the segment's end
// may have moved down since (a truncation would also reset the indexes).
// Every fullSegCheckEvery-th check, and at any other segment, the walk
// is whole anyway.
func (l *Log) indexWalkStarts(s *segment) (int, int) {
	l.indexSinceFull++
	if l.indexSinceFull >= fullSegCheckEvery || s != l.checkedIndexSeg {
		return 0, 0
	}
	return checkedPrefix(l.checkedIndex, s.index), checkedPrefix(l.checkedTimeIndex, s.timeIndex)
}

// checkedPrefix returns where to resume the walk of cur, given checked,
// the slice an earlier walk found good: at checked's last entry when cur
// extends checked in the same array, else at 0.
func checkedPrefix[E any](checked, cur []E) int {
	if len(checked) == 0 || len(cur) < len(checked) || &checked[0] != &cur[0] {
		return 0
	}
	return len(checked) - 1
}

// checkInvariants checks every segment (tests).
func (l *Log) checkInvariants() {
	l.producersChecked = false
	l.checkInvariantsFrom(0)
}

// checkInvariantsFrom checks the segments from index from on, and all
// else.
func (l *Log) checkInvariantsFrom(from int) {
	if l.closed {
		return
	}
	broken := func(format string, args ...any) {
		panic(fmt.Sprintf("partlog: invariant broken in %s: %s", l.dir, fmt.Sprintf(format, args...)))
	}
	if len(l.segs) == 0 {
		broken("no segments")
	}
	leo := l.LogEndOffset()
	for i := from; i < len(l.segs); i++ {
		s := l.segs[i]
		last := i == len(l.segs)-1
		switch {
		case s.log == nil:
			broken("segment %d has no open file", s.base)
		case s.next < s.base || s.size < 0:
			broken("segment %d: next offset %d, size %d", s.base, s.next, s.size)
		case (s.size == 0) != (s.next == s.base):
			broken("segment %d: size %d but offsets [%d, %d)", s.base, s.size, s.base, s.next)
		case !last && s.empty():
			broken("only the active segment may be empty: non-active segment %d is empty", s.base)
		case !last && l.segs[i+1].base != s.next:
			broken("segments contiguous: segment %d ends at %d, next segment starts at %d", s.base, s.next, l.segs[i+1].base)
		case s.next-s.base-1 > math.MaxInt32 && s.next > s.base:
			broken("segment %d: relative offsets overflow", s.base)
		case s.size > math.MaxUint32:
			broken("segment %d: size %d overflows index positions", s.base, s.size)
		case last == s.sealed:
			broken("only the active segment is unsealed: segment %d sealed=%v, active=%v", s.base, s.sealed, last)
		case s.sealed && (s.index != nil || s.timeIndex != nil || s.indexFile == nil || s.timeIndexFile == nil):
			broken("sealed segment %d keeps its indexes on disk only", s.base)
		case s.sealed && (s.aborted != nil || (s.txnCount > 0) != (s.txnIndexFile != nil)):
			broken("sealed segment %d keeps its %d aborted-transaction entries on disk only", s.base, s.txnCount)
		case !s.sealed && (s.txnCount != 0 || s.txnIndexFile != nil):
			broken("active segment %d keeps its aborted-transaction entries in memory", s.base)
		case s.sealed && s.dirty:
			broken("sealed segment %d is dirty: its file must be in the pending sync list", s.base)
		case !s.empty() && !s.hasTs:
			broken("segment %d has batches but no max timestamp", s.base)
		case s.hasTs && (s.maxTsOffset < s.base || s.maxTsOffset >= s.next):
			broken("segment %d: max timestamp offset %d outside [%d, %d)", s.base, s.maxTsOffset, s.base, s.next)
		}
		for j, e := range s.aborted {
			if e.LastOffset < s.base || e.LastOffset >= s.next || e.FirstOffset > e.LastOffset || (j > 0 && e.LastOffset <= s.aborted[j-1].LastOffset) {
				broken("aborted-transaction entry %d of segment %d (producer %d, [%d, %d]) not increasing or outside [%d, %d)", j, s.base, e.ProducerID, e.FirstOffset, e.LastOffset, s.base, s.next)
			}
		}
		from, fromTime := 0, 0
		if last {
			from, fromTime = l.indexWalkStarts(s)
		}
		for j := from; j < len(s.index); j++ {
			e := s.index[j]
			if (j > 0 && e.rel <= s.index[j-1].rel) || int64(e.rel) >= s.next-s.base || int64(e.pos) >= s.size || (j > 0 && e.pos <= s.index[j-1].pos) {
				broken("index of segment %d: entry %d (%d, %d) not increasing or out of range", s.base, j, e.rel, e.pos)
			}
		}
		for j := fromTime; j < len(s.timeIndex); j++ {
			e := s.timeIndex[j]
			if (j > 0 && (e.rel <= s.timeIndex[j-1].rel || e.ts <= s.timeIndex[j-1].ts)) || int64(e.rel) >= s.next-s.base {
				broken("time index of segment %d: entry %d (%d, %d) not increasing or out of range", s.base, j, e.ts, e.rel)
			}
		}
		if last {
			l.checkedIndexSeg, l.checkedIndex, l.checkedTimeIndex = s, s.index, s.timeIndex
			if from == 0 && fromTime == 0 {
				l.indexSinceFull = 0
			}
		}
	}
	if from == 0 {
		l.checkedSegs = append(l.checkedSegs[:0], l.segs...)
		l.sinceFull = 0
	}
	switch {
	case l.segs[0].base > l.logStart:
		broken("log start %d below the first segment %d", l.logStart, l.segs[0].base)
	case l.logStart > l.hw:
		broken("logStart <= HW: %d > %d", l.logStart, l.hw)
	case l.hw > leo:
		broken("HW <= LEO: %d > %d", l.hw, leo)
	case l.durableEnd > leo:
		broken("durable <= LEO: %d > %d", l.durableEnd, leo)
	case l.durableEnd < l.segs[0].base:
		broken("durable end %d below the first segment %d (offsets below it are gone, so vacuously durable)", l.durableEnd, l.segs[0].base)
	case l.inflight == nil && len(l.deferredClose) > 0:
		broken("deferred closes without a sync job in flight")
	case l.firstDirty > leo:
		broken("the cleaner's first dirty offset %d is past LEO %d (a truncation resets it)", l.firstDirty, leo)
	}
	if lso := l.LastStableOffset(); lso > l.hw || lso < l.logStart {
		broken("logStart <= LSO <= HW: LSO %d, log start %d, HW %d", lso, l.logStart, l.hw)
	}
	for i, e := range l.epochs.entries {
		if e.epoch < 0 || e.start < 0 || e.start >= leo {
			broken("epoch entry %d (%d@%d) out of range, LEO %d", i, e.epoch, e.start, leo)
		}
		if i > 0 && (e.epoch <= l.epochs.entries[i-1].epoch || e.start <= l.epochs.entries[i-1].start) {
			broken("epoch cache increasing: entry %d (%d@%d) after (%d@%d)", i, e.epoch, e.start, l.epochs.entries[i-1].epoch, l.epochs.entries[i-1].start)
		}
		if i+1 < len(l.epochs.entries) && l.epochs.entries[i+1].start <= l.logStart {
			broken("epoch entry %d (%d@%d) lies wholly below the log start %d", i, e.epoch, e.start, l.logStart)
		}
	}
	if l.producerWalkNeeded(leo) {
		l.checkProducers(leo, broken)
	}
	if l.inflight != nil && l.inflightCap > l.inflight.UpTo {
		broken("in-flight cap %d above job end %d", l.inflightCap, l.inflight.UpTo)
	}
}

// producerWalkNeeded reports whether the check must walk the producer
// table, and counts the check. The walk's verdict depends only on the
// table (its map, recency list, entries and max) and on the LEO, and it
// is monotone in the LEO: a higher LEO can only make "every batch ends
// below the LEO" truer. The table changes only through put, apply (of a
// batch with a producer id), trimBelow and reset, which all advance
// t.gen, and through nothing else: entries are only ever mutated inside
// those (record) or as staged clones outside the table (stagedEntry), and
// the table is only replaced by reset, which keeps gen increasing. So
// when gen is the one the last walk found good and the LEO did not fall
// below the LEO then, the walk would find the same. Every
// fullSegCheckEvery-th check walks anyway.
func (l *Log) producerWalkNeeded(leo int64) bool {
	l.producerSinceFull++
	return !l.producersChecked || l.producerSinceFull >= fullSegCheckEvery ||
		l.producers.gen != l.checkedProducerGen || leo < l.checkedProducerLeo
}

// checkProducers walks the producer table (checkInvariantsFrom) and
// records what it found good.
func (l *Log) checkProducers(leo int64, broken func(format string, args ...any)) {
	t := &l.producers
	// Past max only while every producer but the newest has an open
	// transaction (shrink never evicts one).
	if len(t.byID) > t.max && (len(t.byID)-len(t.open) > 1 || len(t.open) == 0) {
		broken("producer table bounded: %d producers, max %d, %d open transactions", len(t.byID), t.max, len(t.open))
	}
	open := 0
	n := 0
	prevLast := int64(-1)
	for e := t.head; e != nil; e = e.next {
		n++
		if t.byID[e.id] != e {
			broken("producer %d in the recency list but not in the table", e.id)
		}
		if len(e.batches) > producerBatchesKept {
			broken("producer %d keeps %d batches", e.id, len(e.batches))
		}
		if n := len(e.batches); n > 0 && e.batches[n-1].lastOffset > e.last {
			broken("producer %d: last batch ends at %d after its last offset %d", e.id, e.batches[n-1].lastOffset, e.last)
		}
		if e.last >= leo || e.last < 0 {
			broken("producer %d: last offset %d outside [0, LEO %d)", e.id, e.last, leo)
		}
		if e.txnFirst >= 0 {
			open++
			// Above its last offset only when raised to the log start
			// (DeleteRecords past all of its records).
			if e.txnFirst < l.logStart || e.txnFirst > max(e.last, l.logStart) {
				broken("open transaction of producer %d starts at %d, outside [log start %d, max(its last offset %d, log start)]", e.id, e.txnFirst, l.logStart, e.last)
			}
			if !slices.Contains(t.open, e) {
				broken("producer %d has an open transaction but is not in the open list", e.id)
			}
		}
		for j, b := range e.batches {
			if b.firstOffset > b.lastOffset || (j > 0 && b.firstOffset <= e.batches[j-1].lastOffset) || b.lastOffset >= leo {
				broken("producer %d batch %d offsets [%d, %d] not increasing or beyond LEO %d", e.id, j, b.firstOffset, b.lastOffset, leo)
			}
		}
		if e.lastOffset() <= prevLast {
			broken("producer recency list ordered by last offset: producer %d at %d after %d", e.id, e.lastOffset(), prevLast)
		}
		prevLast = e.lastOffset()
		if e.next == nil && t.tail != e {
			broken("producer list tail")
		}
	}
	if n != len(t.byID) {
		broken("producer recency list has %d entries, table %d", n, len(t.byID))
	}
	if open != len(t.open) {
		broken("open transaction list has %d entries, table %d open", len(t.open), open)
	}
	for i, e := range t.open {
		if t.byID[e.id] != e || (i > 0 && e.txnFirst < t.open[i-1].txnFirst) {
			broken("open transaction list ordered by first offset and in the table: producer %d at %d", e.id, e.txnFirst)
		}
	}
	if t.floor != l.logStart {
		broken("producer table floor %d is not the log start %d", t.floor, l.logStart)
	}
	l.producersChecked, l.checkedProducerGen, l.checkedProducerLeo = true, t.gen, leo
	l.producerSinceFull = 0
}

// checkInvariantsDeep adds the checks that need I/O, for tests: every
// segment's batches are read back and must be dense, CRC-valid, agree with
// the segment's size, maximum timestamp, epoch cache and (for the active
// segment) in-memory index. It returns an error instead of panicking so
// that tests can report it with context.
func (l *Log) checkInvariantsDeep() error {
	l.checkInvariants()
	for _, s := range l.segs {
		sc := scanner{f: s.log, limit: s.size}
		expect := s.base
		var maxTs int64
		hasTs := false
		var indexed []indexEntry
		var seenPos = map[int64]int64{} // position -> base offset, for index checks
		for pos := int64(0); pos < s.size; {
			b, err := sc.bytes(pos, record.HeaderSize)
			if err != nil {
				return fmt.Errorf("offsets dense: segment %d position %d: %w", s.base, pos, err)
			}
			h, err := structuralCheck(b, pos, s.size, expect)
			if err != nil {
				return fmt.Errorf("offsets dense: segment %d: %w", s.base, err)
			}
			whole, err := sc.bytes(pos, h.Size())
			if err != nil {
				return fmt.Errorf("segment %d position %d: %w", s.base, pos, err)
			}
			if _, err := record.Check(whole); err != nil {
				return fmt.Errorf("stored batches CRC-valid: segment %d offset %d: %w", s.base, h.BaseOffset, err)
			}
			if e, ok := l.epochs.epochAt(h.BaseOffset); ok && e != h.PartitionLeaderEpoch {
				return fmt.Errorf("epoch cache matches batches: offset %d has epoch %d, cache %d", h.BaseOffset, h.PartitionLeaderEpoch, e)
			}
			if !hasTs || h.MaxTimestamp > maxTs {
				maxTs, hasTs = h.MaxTimestamp, true
			}
			seenPos[pos] = h.BaseOffset
			pos += int64(h.Size())
			expect = h.NextOffset()
		}
		if expect != s.next {
			return fmt.Errorf("segment %d: batches end at %d, segment says %d", s.base, expect, s.next)
		}
		if hasTs != s.hasTs || (hasTs && maxTs != s.maxTs) {
			return fmt.Errorf("segment %d: max timestamp %d (%v), remembered %d (%v)", s.base, maxTs, hasTs, s.maxTs, s.hasTs)
		}
		indexed = s.index
		if s.sealed {
			data, err := l.d.ReadFile(l.segFilePath(s.base, indexSuffix))
			if err != nil {
				return err
			}
			if indexed, err = decodeIndex(data); err != nil {
				return fmt.Errorf("index of segment %d: %w", s.base, err)
			}
			if len(indexed) != s.indexCount {
				return fmt.Errorf("index of segment %d: %d entries, %d remembered", s.base, len(indexed), s.indexCount)
			}
		}
		for _, e := range indexed {
			if base, ok := seenPos[int64(e.pos)]; !ok || base != s.base+int64(e.rel) {
				return fmt.Errorf("index of segment %d: entry (%d, %d) is not a batch start", s.base, e.rel, e.pos)
			}
		}
		if s.sealed && s.txnCount > 0 {
			if sz, err := s.txnIndexFile.Size(); err != nil || sz != int64(s.txnCount*txnEntrySize) {
				return fmt.Errorf("transaction index of segment %d: %d bytes (%v), %d entries remembered", s.base, sz, err, s.txnCount)
			}
		}
		entries, err := l.abortedEntries(s)
		if err != nil {
			return fmt.Errorf("transaction index of segment %d: %w", s.base, err)
		}
		for j, e := range entries {
			if e.LastOffset < s.base || e.LastOffset >= s.next || (j > 0 && e.LastOffset <= entries[j-1].LastOffset) {
				return fmt.Errorf("transaction index of segment %d: entry %d marker offset %d outside [%d, %d) or not increasing", s.base, j, e.LastOffset, s.base, s.next)
			}
		}
	}
	return nil
}
