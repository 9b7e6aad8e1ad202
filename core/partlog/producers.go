package partlog

import (
	"fmt"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/record"
)

// producerBatch remembers one appended idempotent batch, enough to
// recognise its retry and to answer it with the original offsets.
type producerBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

// producerEntry is the state of one producer id: its epoch and its most
// recent batches (oldest first), at most producerBatchesKept of them.
type producerEntry struct {
	id      int64
	epoch   int16
	batches []producerBatch
	// prev and next link the table's recency list, ordered by the last
	// offset each producer wrote (oldest first).
	prev, next *producerEntry
}

// lastOffset is the offset of the producer's newest record.
func (e *producerEntry) lastOffset() int64 { return e.batches[len(e.batches)-1].lastOffset }

// clone copies an entry without its list links, for staging the checks of
// a multi-batch append.
func (e *producerEntry) clone() *producerEntry {
	return &producerEntry{id: e.id, epoch: e.epoch, batches: append([]producerBatch(nil), e.batches...)}
}

// record appends a batch to the entry, adopting its epoch (a new epoch
// forgets the old epoch's batches, whose sequences no longer apply).
func (e *producerEntry) record(epoch int16, b producerBatch) {
	if epoch != e.epoch {
		e.epoch = epoch
		e.batches = e.batches[:0]
	}
	if len(e.batches) == producerBatchesKept {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:producerBatchesKept-1]
	}
	e.batches = append(e.batches, b)
}

// producerTable is the idempotent-producer state derived from the batches
// in the log. It holds at most max producers; when a new producer would
// exceed that, the one whose last write is oldest is forgotten. A
// forgotten producer is "unknown" and its next batch is accepted at any
// sequence (Kafka's behaviour since 2.5 for producers whose state expired),
// so eviction costs duplicate detection for idle producers only.
//
// Appending moves a producer to the back of the recency list, so the list
// is ordered by last offset and eviction is O(1).
type producerTable struct {
	byID       map[int64]*producerEntry
	head, tail *producerEntry
	max        int
	// gen counts the changes to the table (put, apply of a producer's
	// batch, trimBelow, reset), so that the invariant check can skip its
	// walk of an unchanged table (producerWalkNeeded).
	gen uint64
}

func newProducerTable(max int) producerTable {
	return producerTable{byID: make(map[int64]*producerEntry), max: max}
}

// reset empties the table, keeping gen increasing across the reset so
// that an emptied table never looks like the one last checked.
func (t *producerTable) reset(max int) {
	*t = producerTable{byID: make(map[int64]*producerEntry), max: max, gen: t.gen + 1}
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

// remove forgets a producer.
func (t *producerTable) remove(e *producerEntry) {
	t.unlink(e)
	delete(t.byID, e.id)
}

// put installs e (a fresh or staged entry) as the state of its producer,
// as the most recent writer, evicting the oldest producer if needed.
func (t *producerTable) put(e *producerEntry) {
	t.gen++
	if old := t.byID[e.id]; old != nil {
		t.unlink(old)
	} else if len(t.byID) >= t.max {
		t.remove(t.head)
	}
	t.byID[e.id] = e
	t.pushBack(e)
}

// apply records a stored batch without validation: recovery, follower
// appends and rebuilding after truncation replay the log as it is.
func (t *producerTable) apply(h record.Header) {
	if !h.HasProducerID() {
		return
	}
	t.gen++
	b := producerBatch{
		firstSeq: h.BaseSequence, lastSeq: h.LastSequence(),
		firstOffset: h.BaseOffset, lastOffset: h.LastOffset(),
	}
	e := t.byID[h.ProducerID]
	if e == nil {
		e = &producerEntry{id: h.ProducerID, epoch: h.ProducerEpoch}
		e.record(h.ProducerEpoch, b)
		t.put(e)
		return
	}
	// What put does for an entry already in the table, without its two
	// map operations: it becomes the most recent writer.
	e.record(h.ProducerEpoch, b)
	if t.tail != e {
		t.unlink(e)
		t.pushBack(e)
	}
}

// trimBelow forgets batches that ended before offset (the first offset
// still stored after retention deleted segments), and producers left with
// none, so that the table equals what a rebuild from the remaining
// segments would give.
func (t *producerTable) trimBelow(offset int64) {
	t.gen++
	for e := t.head; e != nil; {
		next := e.next
		n := 0
		for n < len(e.batches) && e.batches[n].lastOffset < offset {
			n++
		}
		if n == len(e.batches) {
			t.remove(e)
		} else if n > 0 {
			e.batches = append(e.batches[:0], e.batches[n:]...)
		}
		e = next
	}
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
	want := record.IncrementSequence(e.batches[len(e.batches)-1].lastSeq, 1)
	if h.BaseSequence != want {
		return nil, fmt.Errorf("%w: producer %d epoch %d expected sequence %d, got %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, want, h.BaseSequence)
	}
	return nil, nil
}
