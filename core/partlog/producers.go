package partlog

import (
	"fmt"
	"slices"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/record"
)

// producerBatch remembers one appended idempotent batch, enough to
// recognise its retry and to answer it with the original offsets.
type producerBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
	// maxTimestamp is the batch header's (DescribeProducers' last
	// timestamp).
	maxTimestamp int64
}

// producerEntry is the state of one producer id: its epoch, its most
// recent batches (oldest first, at most producerBatchesKept of them) and
// its open transaction.
type producerEntry struct {
	id      int64
	epoch   int16
	batches []producerBatch
	// last is the offset of the producer's newest batch or marker: the
	// recency list's order.
	last int64
	// txnFirst is the first offset of the producer's open transaction
	// (its first transactional batch since its last marker, raised to
	// the table's floor), -1 when none is open.
	txnFirst int64
	// coordEpoch is the coordinator epoch of the producer's last marker
	// (-1 before any): a marker from an older coordinator is fenced.
	coordEpoch int32
	// prev and next link the table's recency list, ordered by the last
	// offset each producer wrote (oldest first).
	prev, next *producerEntry
}

// newProducerEntry returns an entry for a producer seen for the first time.
func newProducerEntry(id int64, epoch int16) *producerEntry {
	return &producerEntry{id: id, epoch: epoch, txnFirst: -1, coordEpoch: -1}
}

// lastOffset is the offset of the producer's newest record or marker.
func (e *producerEntry) lastOffset() int64 { return e.last }

// clone copies an entry without its list links, for staging the checks of
// a multi-batch append.
func (e *producerEntry) clone() *producerEntry {
	c := *e
	c.batches = append([]producerBatch(nil), e.batches...)
	c.prev, c.next = nil, nil
	return &c
}

// setEpoch adopts epoch: a new epoch forgets the old epoch's batches,
// whose sequences no longer apply.
func (e *producerEntry) setEpoch(epoch int16) {
	if epoch != e.epoch {
		e.epoch = epoch
		e.batches = e.batches[:0]
	}
}

// record appends a batch to the entry, adopting its epoch; a
// transactional batch opens a transaction when none is open (its first
// offset raised to floor, the log start).
func (e *producerEntry) record(epoch int16, b producerBatch, transactional bool, floor int64) {
	e.setEpoch(epoch)
	if len(e.batches) == producerBatchesKept {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:producerBatchesKept-1]
	}
	e.batches = append(e.batches, b)
	e.last = b.lastOffset
	if transactional && e.txnFirst < 0 {
		e.txnFirst = max(b.firstOffset, floor)
	}
}

// endTxn applies a marker at offset: the entry adopts the marker's epoch
// (a coordinator fencing a producer writes its abort at the bumped epoch)
// and coordinator epoch, and its open transaction ends. It returns the
// transaction's first offset: the marker's own offset when none was open
// (Kafka does the same for a marker without a transaction).
func (e *producerEntry) endTxn(epoch int16, offset int64, coordEpoch int32) (first int64) {
	e.setEpoch(epoch)
	first = offset
	if e.txnFirst >= 0 {
		first = e.txnFirst
	}
	e.txnFirst = -1
	e.coordEpoch = coordEpoch
	e.last = offset
	return first
}

// producerTable is the idempotent-producer state derived from the batches
// in the log. It holds at most max producers; when a new producer would
// exceed that, the one whose last write is oldest is forgotten. A
// forgotten producer is "unknown" and its next batch is accepted at any
// sequence (Kafka's behaviour since 2.5 for producers whose state expired),
// so eviction costs duplicate detection for idle producers only.
//
// A producer with an open transaction is never evicted: the last stable
// offset depends on it. When every producer but the newest has one, the
// table grows past max until one ends (open transactions are bounded by
// the coordinator's transaction timeout, as in Kafka).
//
// Appending moves a producer to the back of the recency list, so the list
// is ordered by last offset and eviction is O(1) while no transaction is
// open.
type producerTable struct {
	byID       map[int64]*producerEntry
	head, tail *producerEntry
	max        int
	// open lists the producers with an open transaction, ordered by
	// txnFirst (ties in the order they opened): open[0] holds the last
	// stable offset down.
	open []*producerEntry
	// floor is the log start: no open transaction's first offset is
	// below it (records below it are gone).
	floor int64
	// gen counts the changes to the table (put, apply of a producer's
	// batch, trimBelow, reset, raiseFloor), so that the invariant check
	// can skip its walk of an unchanged table (producerWalkNeeded).
	gen uint64
}

func newProducerTable(max int) producerTable {
	return producerTable{byID: make(map[int64]*producerEntry), max: max}
}

// reset empties the table, keeping gen increasing across the reset so
// that an emptied table never looks like the one last checked, and the
// floor.
func (t *producerTable) reset(max int) {
	*t = producerTable{byID: make(map[int64]*producerEntry), max: max, gen: t.gen + 1, floor: t.floor}
}

func (t *producerTable) unlink(e *producerEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		t.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (t *producerTable) pushBack(e *producerEntry) {
	e.prev, e.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = e
	} else {
		t.head = e
	}
	t.tail = e
}

// addOpen lists e (with an open transaction) in t.open by first offset.
func (t *producerTable) addOpen(e *producerEntry) {
	i := len(t.open)
	for i > 0 && t.open[i-1].txnFirst > e.txnFirst {
		i--
	}
	t.open = slices.Insert(t.open, i, e)
}

// dropOpen takes e off t.open, if it is there.
func (t *producerTable) dropOpen(e *producerEntry) {
	if i := slices.Index(t.open, e); i >= 0 {
		t.open = slices.Delete(t.open, i, i+1)
	}
}

// remove forgets a producer.
func (t *producerTable) remove(e *producerEntry) {
	t.unlink(e)
	t.dropOpen(e)
	delete(t.byID, e.id)
}

// shrink evicts the least recent producers without an open transaction
// (never the newest writer, the tail) while the table is over max.
func (t *producerTable) shrink() {
	for len(t.byID) > t.max {
		victim := t.head
		for victim != nil && victim.txnFirst >= 0 {
			victim = victim.next
		}
		if victim == nil || victim == t.tail {
			return
		}
		t.remove(victim)
	}
}

// put installs e (a fresh or staged entry) as the state of its producer,
// as the most recent writer, evicting the oldest producer if needed.
func (t *producerTable) put(e *producerEntry) {
	t.gen++
	if old := t.byID[e.id]; old != nil {
		t.unlink(old)
		t.dropOpen(old)
	}
	t.byID[e.id] = e
	t.pushBack(e)
	if e.txnFirst >= 0 {
		t.addOpen(e)
	}
	t.shrink()
}

// touch makes e, already in the table, the most recent writer, and keeps
// t.open in step with its transaction (wasOpen: it had one before).
func (t *producerTable) touch(e *producerEntry, wasOpen bool) {
	if t.tail != e {
		t.unlink(e)
		t.pushBack(e)
	}
	switch isOpen := e.txnFirst >= 0; {
	case isOpen && !wasOpen:
		t.addOpen(e)
	case !isOpen && wasOpen:
		t.dropOpen(e)
		t.shrink()
	}
}

// apply records a stored data batch without validation: recovery,
// follower appends and rebuilding after truncation replay the log as it
// is. Control batches go to applyMarker instead.
func (t *producerTable) apply(h record.Header) {
	if !h.HasProducerID() || h.Control() {
		return
	}
	t.gen++
	b := producerBatch{
		firstSeq: h.BaseSequence, lastSeq: h.LastSequence(),
		firstOffset: h.BaseOffset, lastOffset: h.LastOffset(), maxTimestamp: h.MaxTimestamp,
	}
	e := t.byID[h.ProducerID]
	if e == nil {
		e = newProducerEntry(h.ProducerID, h.ProducerEpoch)
		e.record(h.ProducerEpoch, b, h.Transactional(), t.floor)
		t.put(e)
		return
	}
	// What put does for an entry already in the table, without its two
	// map operations: it becomes the most recent writer.
	wasOpen := e.txnFirst >= 0
	e.record(h.ProducerEpoch, b, h.Transactional(), t.floor)
	t.touch(e, wasOpen)
}

// applyMarker records a stored end-transaction marker of producer id at
// epoch and offset and returns the transaction it ended, with the last
// stable offset right after it (Kafka's AbortedTxn.lastStableOffset): the
// first offset of the earliest other open transaction, else the offset
// after the marker.
func (t *producerTable) applyMarker(id int64, epoch int16, offset int64, m record.EndTxnMarker) AbortedTxn {
	t.gen++
	e := t.byID[id]
	fresh := e == nil
	if fresh {
		e = newProducerEntry(id, epoch)
	}
	wasOpen := e.txnFirst >= 0
	first := e.endTxn(epoch, offset, m.CoordinatorEpoch)
	if fresh {
		t.put(e)
	} else {
		t.touch(e, wasOpen)
	}
	lso := offset + 1
	if len(t.open) > 0 {
		lso = t.open[0].txnFirst
	}
	return AbortedTxn{ProducerID: id, FirstOffset: first, LastOffset: offset, LastStableOffset: lso}
}

// firstOpen returns the first offset of the earliest open transaction.
func (t *producerTable) firstOpen() (int64, bool) {
	if len(t.open) == 0 {
		return 0, false
	}
	return t.open[0].txnFirst, true
}

// trimBelow forgets batches that ended before offset (the first offset
// still stored after retention deleted segments), and producers whose
// last batch or marker lies below it, so that the table equals what a
// rebuild from the remaining segments would give. It reports whether an
// open transaction started below offset: its first offset is then one
// only a rebuild knows (the caller rebuilds).
func (t *producerTable) trimBelow(offset int64) (rebuild bool) {
	t.gen++
	for e := t.head; e != nil; {
		next := e.next
		n := 0
		for n < len(e.batches) && e.batches[n].lastOffset < offset {
			n++
		}
		switch {
		case e.last < offset:
			t.remove(e)
		case n > 0:
			e.batches = append(e.batches[:0], e.batches[n:]...)
		}
		e = next
	}
	first, ok := t.firstOpen()
	return ok && first < offset
}

// raiseFloor moves the floor up to logStart and every open transaction's
// first offset with it: the records below it are gone, and a read from
// the log start must not be held below it.
func (t *producerTable) raiseFloor(logStart int64) {
	if logStart <= t.floor {
		return
	}
	t.gen++
	t.floor = logStart
	for _, e := range t.open {
		e.txnFirst = max(e.txnFirst, logStart)
	}
}

// checkProducerEpoch validates a coordinator's batch against the
// producer's current entry (nil when unknown): only its epoch.
func checkProducerEpoch(e *producerEntry, h record.Header) error {
	if e != nil && h.ProducerEpoch < e.epoch {
		return fmt.Errorf("%w: producer %d epoch %d, current epoch %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	}
	return nil
}

// check validates a client batch against the producer's current entry (nil
// when unknown). It returns the original batch when h is a retry of one
// still remembered.
func checkSequence(e *producerEntry, h record.Header) (dup *producerBatch, err error) {
	if e == nil || bugs.NoIdempotentDedup { // bugs.NoIdempotentDedup: deliberate bug (core/bugs)
		return nil, nil
	}
	if h.ProducerEpoch < e.epoch {
		return nil, fmt.Errorf("%w: producer %d epoch %d, current epoch %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	}
	if h.ProducerEpoch > e.epoch {
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, got %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return nil, nil
	}
	last := h.LastSequence()
	for i := range e.batches {
		if b := &e.batches[i]; b.firstSeq == h.BaseSequence && b.lastSeq == last {
			return b, nil
		}
	}
	if len(e.batches) == 0 {
		// No batch remembered at this epoch (a marker bumped it, or
		// retention deleted them): accepted at any sequence, as for an
		// unknown producer (the entry stays for its epoch and its
		// transaction).
		return nil, nil
	}
	want := record.IncrementSequence(e.batches[len(e.batches)-1].lastSeq, 1)
	if h.BaseSequence != want {
		return nil, fmt.Errorf("%w: producer %d epoch %d expected sequence %d, got %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, want, h.BaseSequence)
	}
	return nil, nil
}
