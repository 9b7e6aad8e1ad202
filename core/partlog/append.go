package partlog

import (
	"errors"
	"fmt"
	"math"

	"github.com/chronik-streaming/chronik/core/record"
)

// pendingBatch is one validated input batch waiting to be written.
type pendingBatch struct {
	b   []byte
	h   record.Header
	dup *producerBatch // the original when this is an idempotent retry
}

// classify maps a record-package validation error to the log's sentinels.
func classify(i int, err error) error {
	if errors.Is(err, record.ErrOldMagic) {
		return fmt.Errorf("%w: batch %d: %w", ErrUnsupportedMagic, i, err)
	}
	return fmt.Errorf("%w: batch %d: %w", ErrCorruptBatch, i, err)
}

// appendLeader implements Append. It works in two phases so that a bad
// batch anywhere in the input leaves the log untouched:
//
//  1. Frame and validate every batch (magic, CRC, counts, size) and check
//     idempotent sequences against a staged copy of the producer entries
//     involved, assigning offsets as if every non-duplicate were written.
//  2. Write the batches, rolling first when a batch would overflow the
//     segment or the segment is too old, then commit the staged producer
//     entries and the epoch cache.
//
// An I/O error in phase 2 fails the log: part of the input may be in the
// page cache, and only recovery can tell what.
//
// Duplicates: a retry is answered with the original offsets only when every
// batch of the input is a retry; a mix of retries and new batches is not
// something a correct producer sends (Kafka's produce v3+ carries one batch
// per partition) and is rejected with ErrOutOfOrderSequence.
//
// coordinator (AppendCoordinator) checks producer epochs only, not
// sequences.
func (l *Log) appendLeader(batches []byte, leaderEpoch int32, nowMs int64, coordinator bool) (AppendResult, error) {
	if err := l.usable(); err != nil {
		return AppendResult{}, err
	}
	l.observeTime(nowMs)
	if leaderEpoch < 0 || leaderEpoch < l.epochs.latest() {
		return AppendResult{}, fmt.Errorf("%w: epoch %d, latest in log %d", ErrInvalidLeaderEpoch, leaderEpoch, l.epochs.latest())
	}
	if len(batches) == 0 {
		return AppendResult{}, fmt.Errorf("%w: no record batch", ErrCorruptBatch)
	}

	// Phase 1.
	var one [1]pendingBatch
	list := one[:0]
	var staged []*producerEntry
	next := l.LogEndOffset()
	dups := 0
	for rest, i := batches, 0; len(rest) > 0; i++ {
		b, r, err := record.Next(rest)
		if err != nil {
			return AppendResult{}, classify(i, err)
		}
		rest = r
		h, err := record.CheckProduce(b)
		if err != nil {
			return AppendResult{}, classify(i, err)
		}
		if int64(len(b)) > l.cfg.MaxMessageBytes {
			return AppendResult{}, fmt.Errorf("%w: batch %d is %d bytes, max.message.bytes is %d", ErrBatchTooLarge, i, len(b), l.cfg.MaxMessageBytes)
		}
		if next > math.MaxInt64-int64(h.LastOffsetDelta)-1 {
			// Offsets are int64 and never wrap: Kafka has the same ceiling.
			return AppendResult{}, fmt.Errorf("%w: batch %d: %d records past offset %d overflow the offset space", ErrBatchTooLarge, i, int64(h.LastOffsetDelta)+1, next)
		}
		p := pendingBatch{b: b, h: h}
		if h.Transactional() && !h.HasProducerID() {
			return AppendResult{}, fmt.Errorf("%w: batch %d: transactional batch without a producer id", ErrCorruptBatch, i)
		}
		if h.HasProducerID() {
			if h.ProducerEpoch < 0 || h.BaseSequence < 0 {
				return AppendResult{}, fmt.Errorf("%w: batch %d: producer id %d with epoch %d and sequence %d", ErrCorruptBatch, i, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
			}
			e := stagedEntry(&staged, &l.producers, h.ProducerID)
			var dup *producerBatch
			var err error
			if coordinator {
				err = checkProducerEpoch(e, h)
			} else {
				dup, err = checkSequence(e, h)
			}
			if err != nil {
				return AppendResult{}, fmt.Errorf("batch %d: %w", i, err)
			}
			if dup != nil {
				d := *dup
				p.dup = &d
				dups++
			} else {
				if e == nil {
					e = newProducerEntry(h.ProducerID, h.ProducerEpoch)
					staged = append(staged, e)
				}
				e.record(h.ProducerEpoch, producerBatch{
					firstSeq: h.BaseSequence, lastSeq: h.LastSequence(),
					firstOffset: next, lastOffset: next + int64(h.LastOffsetDelta), maxTimestamp: h.MaxTimestamp,
				}, h.Transactional(), l.producers.floor)
			}
		}
		if p.dup == nil {
			next += int64(h.LastOffsetDelta) + 1
		}
		list = append(list, p)
	}
	if dups > 0 {
		if dups != len(list) {
			return AppendResult{}, fmt.Errorf("%w: %d of %d batches are retries of earlier batches", ErrOutOfOrderSequence, dups, len(list))
		}
		return AppendResult{
			BaseOffset: list[0].dup.firstOffset, LastOffset: list[len(list)-1].dup.lastOffset,
			LogStartOffset: l.logStart, Duplicate: true,
		}, nil
	}

	// Phase 2.
	res := AppendResult{BaseOffset: l.LogEndOffset()}
	epochChanged := false
	for _, p := range list {
		base := l.LogEndOffset()
		record.SetBaseOffset(p.b, base)
		record.SetPartitionLeaderEpoch(p.b, leaderEpoch)
		p.h.BaseOffset, p.h.PartitionLeaderEpoch = base, leaderEpoch
		if err := l.write(p.b, p.h, nowMs); err != nil {
			return AppendResult{}, err
		}
		epochChanged = l.epochs.assign(leaderEpoch, base) || epochChanged
	}
	for _, e := range staged {
		l.producers.put(e)
	}
	if epochChanged {
		// A new epoch can leave the previous entry wholly below the log
		// start (after DeleteRecords moved it into the last batch).
		l.epochs.truncateFromStart(l.logStart)
		// The checkpoint goes to disk with the next sync job, before
		// the batches it covers (StepEpochCheckpoint): acknowledgements
		// wait for that job, so none precedes the new epoch's entry.
		l.epochsUnsynced = true
	}
	res.LastOffset = l.LogEndOffset() - 1
	res.LogStartOffset = l.logStart
	return res, nil
}

// stagedEntry returns the staged copy of a producer's entry for this
// append, staging a clone of the table's entry on first use; nil when the
// producer is unknown and not yet staged.
func stagedEntry(staged *[]*producerEntry, t *producerTable, id int64) *producerEntry {
	for _, e := range *staged {
		if e.id == id {
			return e
		}
	}
	e := t.byID[id]
	if e == nil {
		return nil
	}
	c := e.clone()
	*staged = append(*staged, c)
	return c
}

// write appends one batch (offsets already stamped) to the active segment,
// rolling first when needed.
func (l *Log) write(b []byte, h record.Header, nowMs int64) error {
	a := l.active()
	if !a.empty() && (a.size+int64(len(b)) > l.cfg.SegmentBytes ||
		nowMs-a.firstBatchMs > l.cfg.SegmentMs ||
		h.LastOffset()-a.base > math.MaxInt32) {
		if err := l.roll(); err != nil {
			return l.fail("roll segment", err)
		}
		a = l.active()
	}
	if _, err := a.log.WriteAt(b, a.size); err != nil {
		return l.fail("write segment", fmt.Errorf("segment %d at %d: %w", a.base, a.size, err))
	}
	if a.empty() {
		a.firstBatchMs = nowMs
	}
	a.noteBatch(h, a.size, l.cfg.IndexIntervalBytes)
	a.dirty = true
	return nil
}

// AppendAsFollower appends batches copied from the leader: their base
// offsets and leader epochs are kept as they are (the first must equal the
// log end offset, the rest follow densely, epochs never decrease), CRCs
// are checked, and the producer state and epoch cache are updated without
// sequence validation, as Kafka does for replication. max.message.bytes
// is not applied: the leader already accepted these batches, possibly
// under another config.
func (l *Log) AppendAsFollower(batches []byte, nowMs int64) (AppendResult, error) {
	l.changes++
	if err := l.usable(); err != nil {
		return AppendResult{}, err
	}
	l.observeTime(nowMs)
	if len(batches) == 0 {
		return AppendResult{}, fmt.Errorf("%w: no record batch", ErrCorruptBatch)
	}
	var one [1]pendingBatch
	list := one[:0]
	next := l.LogEndOffset()
	epoch := l.epochs.latest()
	for rest, i := batches, 0; len(rest) > 0; i++ {
		b, r, err := record.Next(rest)
		if err != nil {
			return AppendResult{}, classify(i, err)
		}
		rest = r
		h, err := record.Check(b)
		if err != nil {
			return AppendResult{}, classify(i, err)
		}
		if h.BaseOffset != next {
			return AppendResult{}, fmt.Errorf("%w: batch %d has base offset %d, expected %d", ErrUnexpectedAppendOffset, i, h.BaseOffset, next)
		}
		if h.PartitionLeaderEpoch < 0 || h.PartitionLeaderEpoch < epoch {
			return AppendResult{}, fmt.Errorf("%w: batch %d has epoch %d after epoch %d", ErrInvalidLeaderEpoch, i, h.PartitionLeaderEpoch, epoch)
		}
		if h.Control() && h.HasProducerID() {
			// A marker must decode: replay (recovery, truncation) takes
			// its content from the stored bytes, and one it could not
			// read would hide an abort.
			if _, err := record.ParseEndTxnMarker(b); err != nil && !errors.Is(err, record.ErrNotEndTxnMarker) {
				return AppendResult{}, fmt.Errorf("%w: batch %d: control batch: %w", ErrCorruptBatch, i, err)
			}
		}
		epoch = h.PartitionLeaderEpoch
		next = h.NextOffset()
		list = append(list, pendingBatch{b: b, h: h})
	}
	res := AppendResult{BaseOffset: l.LogEndOffset()}
	epochChanged := false
	for _, p := range list {
		if err := l.write(p.b, p.h, nowMs); err != nil {
			return AppendResult{}, err
		}
		if p.h.Control() && p.h.HasProducerID() {
			if e, abort := l.producers.replayMarker(p.h, p.b); abort {
				a := l.active()
				a.aborted = append(a.aborted, e)
			}
		} else {
			l.producers.apply(p.h)
		}
		epochChanged = l.epochs.assign(p.h.PartitionLeaderEpoch, p.h.BaseOffset) || epochChanged
	}
	if epochChanged {
		// A new epoch can leave the previous entry wholly below the log
		// start (after DeleteRecords moved it into the last batch).
		l.epochs.truncateFromStart(l.logStart)
		// The checkpoint goes to disk with the next sync job, before
		// the batches it covers (StepEpochCheckpoint): acknowledgements
		// wait for that job, so none precedes the new epoch's entry.
		l.epochsUnsynced = true
	}
	res.LastOffset = l.LogEndOffset() - 1
	res.LogStartOffset = l.logStart
	return res, nil
}
