package partlog

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/record"
)

// locate finds the first batch of s whose records reach offset (its next
// offset is above offset): the sparse index gives a starting position,
// then headers are walked. If the walk from an index position hits bad
// structure, the index entry itself may be damaged, so the walk is retried
// from the start of the segment before corruption is reported.
func (l *Log) locate(s *segment, offset int64) (pos int64, h record.Header, found bool, err error) {
	pos, base, err := s.indexLookup(offset)
	if err != nil {
		return 0, record.Header{}, false, fmt.Errorf("partlog: %w", err)
	}
	start := pos
	pos, h, found, err = l.walk(s, pos, base, offset)
	// Index files carry no checksum: a damaged entry can point at a wrong
	// batch (caught by the header check) or past the segment's end (found
	// is then false although the segment holds the offset). Either way the
	// index is not trusted and the segment is walked from its start.
	if start != 0 && (!found || (err != nil && errors.Is(err, ErrCorruptSegment))) {
		pos, h, found, err = l.walk(s, 0, s.base, offset)
	}
	return pos, h, found, err
}

func (l *Log) walk(s *segment, pos, expect, offset int64) (int64, record.Header, bool, error) {
	for pos < s.size {
		h, err := s.headerAt(pos, s.size, expect)
		if err != nil {
			return pos, h, false, l.readDamage(s, expect, pos, err)
		}
		if h.NextOffset() > offset {
			return pos, h, true, nil
		}
		pos += int64(h.Size())
		expect = h.NextOffset()
	}
	return pos, record.Header{}, false, nil
}

// readDamage reports what a read found wrong with the batch that should
// start at offset (at pos): ErrCorruptSegment below the durable end, and
// ErrUnsyncedLost at or past it, where the bytes were never synced and
// pages dropped by a failed writeback read back short or as old contents
// (seed 40700's read, at a follower's limit). I/O errors pass through.
func (l *Log) readDamage(s *segment, offset, pos int64, err error) error {
	damage := errors.Is(err, errStructure) || errors.Is(err, record.ErrCorrupt) || errors.Is(err, record.ErrOldMagic) || errors.Is(err, errShortRead)
	if damage && offset >= l.durableEnd {
		return fmt.Errorf("%w: %s at offset %d (position %d): %w", ErrUnsyncedLost, l.segFilePath(s.base, logSuffix), offset, pos, err)
	}
	return l.corruptAt(s, offset, pos, err)
}

// readBatch reads the whole batch h at pos and verifies its CRC.
func (l *Log) readBatch(s *segment, pos int64, h record.Header) ([]byte, error) {
	b := make([]byte, h.Size())
	if err := readFull(s.log, b, pos); err != nil {
		return nil, l.corruptAt(s, h.BaseOffset, pos, err)
	}
	if _, err := record.Check(b); err != nil && !bugs.SkipCRCCheck { // !bugs.SkipCRCCheck: deliberate bug (core/bugs)
		return nil, l.corruptAt(s, h.BaseOffset, pos, err)
	}
	return b, nil
}

// checkStoredEpoch compares a stored batch's leader epoch (outside the CRC)
// with the epoch cache, which was derived from the same batches.
func (l *Log) checkStoredEpoch(s *segment, base int64, epoch int32, pos int64) error {
	if e, ok := l.epochs.epochAt(base); ok && e != epoch {
		return l.readDamage(s, base, pos, fmt.Errorf("%w: leader epoch %d, the epoch cache says %d", errStructure, epoch, e))
	}
	return nil
}

// read implements Read and ReadInto: the batches are appended to out
// (nil or empty).
func (l *Log) read(out []byte, offset int64, maxBytes int, limit int64) (ReadResult, error) {
	if err := l.usable(); err != nil {
		return ReadResult{}, err
	}
	leo := l.LogEndOffset()
	if offset < l.logStart || offset > leo {
		return ReadResult{}, fmt.Errorf("%w: offset %d, log holds [%d, %d)", ErrOffsetOutOfRange, offset, l.logStart, leo)
	}
	if offset == leo || offset >= limit {
		return ReadResult{}, nil
	}
	var end int64
	first := l.segmentIndex(offset)
	for i := first; i < len(l.segs); i++ {
		s := l.segs[i]
		pos, expect, firstSize := int64(0), s.base, 0
		if i == first {
			p, h, found, err := l.locate(s, offset)
			if err != nil {
				return ReadResult{}, err
			}
			if !found {
				continue
			}
			pos, expect, firstSize = p, h.BaseOffset, h.Size()
		}
		var stop bool
		var err error
		out, stop, err = l.readSegment(s, pos, expect, maxBytes, firstSize, limit, out, &end)
		if err != nil {
			return ReadResult{}, err
		}
		if stop {
			break
		}
	}
	return ReadResult{Records: out, NextOffset: end}, nil
}

// readSegment appends to out the batches of s from pos on, reading ahead
// as much as the byte budget allows in one ReadAt, and checking each
// batch's framing, offset, epoch and CRC. firstSize, when known, is the
// size of the batch at pos, so that an oversized first batch (KIP-74) is
// read in one go. stop reports that the budget or the limit offset ended
// the read. *end is set to the offset after each batch appended.
//
// Nothing at or past limit is checked, nor need it be readable: the read
// ahead can reach bytes above the durable end, and a failed fsync may
// have dropped their pages (fsyncgate: the file reads back shorter, or
// with the old bytes) before the failure reaches the log. Checking them
// would report unsynced bytes that were never promised as a corrupt
// segment, which takes the partition offline for good (simulator seed
// 40700).
func (l *Log) readSegment(s *segment, pos, expect int64, maxBytes, firstSize int, limit int64, out []byte, end *int64) ([]byte, bool, error) {
	for pos < s.size {
		if expect >= limit {
			return out, true, nil
		}
		budget := maxBytes - len(out)
		if len(out) > 0 && budget < record.HeaderSize {
			return out, true, nil
		}
		want := int(min(s.size-pos, int64(max(budget, record.HeaderSize))))
		if len(out) == 0 {
			want = int(min(s.size-pos, int64(max(want, firstSize))))
		}
		start := len(out)
		out = slices.Grow(out, want)[:start+want]
		// A short read is no error yet: the bytes it misses may all lie
		// past limit. A batch below limit that it cuts is reported below
		// (no bytes at all at pos, or too few for the batch).
		n, err := s.log.ReadAt(out[start:], pos)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, l.readDamage(s, expect, pos, err)
		}
		out = out[:start+n]
		used := 0
		for {
			rem := out[start+used:]
			if expect >= limit {
				return out[:start+used], true, nil
			}
			if len(rem) < record.HeaderSize {
				if used == 0 && n < want {
					return nil, false, l.readDamage(s, expect, pos, fmt.Errorf("%w of %d bytes at %d: got %d", errShortRead, want, pos, n))
				}
				if used == 0 {
					return nil, false, l.readDamage(s, expect, pos, fmt.Errorf("%w: %d bytes left at position %d", errStructure, len(rem), pos))
				}
				break
			}
			at := pos + int64(used)
			f, ok := quickFrame(rem[:record.HeaderSize], at, s.size, expect)
			if !ok {
				// structuralCheck names what is wrong.
				_, err := structuralCheck(rem[:record.HeaderSize], at, s.size, expect)
				return nil, false, l.readDamage(s, expect, at, err)
			}
			if err := l.checkStoredEpoch(s, f.base, f.epoch, at); err != nil {
				return nil, false, err
			}
			if f.lastOffset() >= limit {
				return out[:start+used], true, nil
			}
			size := f.size()
			if size > len(rem) {
				if start+used > 0 {
					// Out of budget; the batch goes in the next response.
					return out[:start+used], true, nil
				}
				// KIP-74: the first batch is returned whole even when it
				// is larger than maxBytes.
				have := len(rem)
				if cap(out) < size {
					grown := make([]byte, size)
					copy(grown, out[:have])
					out = grown
				}
				out = out[:size]
				if err := readFull(s.log, out[have:], at+int64(have)); err != nil {
					return nil, false, l.readDamage(s, expect, at, err)
				}
				rem = out
			}
			// The framing was checked above, so record.Check could only
			// fail on the CRC: compare it alone, and let record.Check
			// describe a mismatch.
			if record.ComputeCRC(rem[:size]) != f.crc && !bugs.SkipCRCCheck { // !bugs.SkipCRCCheck: deliberate bug (core/bugs)
				_, err := record.Check(rem[:size])
				return nil, false, l.readDamage(s, f.base, at, err)
			}
			used += size
			expect = f.lastOffset() + 1
			*end = expect
		}
		out = out[:start+used]
		pos += int64(used)
		if len(out) >= maxBytes {
			return out, true, nil
		}
	}
	return out, false, nil
}

// offsetForTimestamp implements OffsetForTimestamp. Segments whose largest
// timestamp is below ts are skipped; in the first one that qualifies the
// time index gives a starting offset, batches are walked to the first with
// maxTimestamp >= ts, and its records are searched for the first one at or
// after ts (inside [LogStartOffset, limitOffset)).
//
// A CRC-valid batch whose records do not decode (the log does not decode
// records on append) is answered at batch granularity instead of failing
// the lookup: its base offset (at least the log start) and maxTimestamp.
func (l *Log) offsetForTimestamp(ts, limit int64) (int64, int64, bool, error) {
	if err := l.usable(); err != nil {
		return 0, 0, false, err
	}
	for _, s := range l.segs {
		if s.base >= limit {
			break
		}
		if s.empty() || s.next <= l.logStart || !s.hasTs || s.maxTs < ts {
			continue
		}
		from, err := s.timeLookup(ts)
		if err != nil {
			return 0, 0, false, fmt.Errorf("partlog: %w", err)
		}
		pos, h, found, err := l.locate(s, max(from, l.logStart))
		if err != nil {
			return 0, 0, false, err
		}
		for found {
			if h.BaseOffset >= limit {
				return 0, 0, false, nil
			}
			if h.MaxTimestamp >= ts && h.NextOffset() > l.logStart {
				off, t, ok, err := l.searchBatch(s, pos, h, limit, func(r record.Record) bool { return r.Timestamp >= ts })
				if err != nil || ok {
					return off, t, ok, err
				}
			}
			pos += int64(h.Size())
			if pos >= s.size {
				break
			}
			next := h.NextOffset()
			if h, err = s.headerAt(pos, s.size, next); err != nil {
				return 0, 0, false, l.corruptAt(s, next, pos, err)
			}
		}
	}
	return 0, 0, false, nil
}

// searchBatch returns the first record of the batch at pos inside
// [LogStartOffset, limit) that satisfies match.
func (l *Log) searchBatch(s *segment, pos int64, h record.Header, limit int64, match func(record.Record) bool) (int64, int64, bool, error) {
	b, err := l.readBatch(s, pos, h)
	if err != nil {
		return 0, 0, false, err
	}
	it, err := l.codecs.NewIterator(b, maxDecodeBytes)
	if err != nil {
		return max(h.BaseOffset, l.logStart), h.MaxTimestamp, h.BaseOffset < limit, nil
	}
	for it.Next() {
		r := it.Record()
		if r.Offset >= limit {
			break
		}
		if r.Offset >= l.logStart && match(r) {
			return r.Offset, r.Timestamp, true, nil
		}
	}
	if it.Err() != nil {
		return max(h.BaseOffset, l.logStart), h.MaxTimestamp, h.BaseOffset < limit, nil
	}
	return 0, 0, false, nil
}

// maxTimestamp implements MaxTimestamp. Whole segments inside
// [LogStartOffset, limitOffset) use the maximum remembered per segment;
// the segments at either edge are walked batch by batch. Ties go to the
// earliest offset. The winning batch is then decoded to find its first
// record carrying the maximum.
func (l *Log) maxTimestamp(limit int64) (int64, int64, bool, error) {
	if err := l.usable(); err != nil {
		return 0, 0, false, err
	}
	type candidate struct {
		ts   int64
		seg  *segment
		base int64
	}
	var best candidate
	found := false
	consider := func(c candidate) {
		if !found || c.ts > best.ts {
			best, found = c, true
		}
	}
	// Batches straddling an edge of the range count only through the
	// records inside it; edge is the record-level maximum over them.
	var edgeTs, edgeOff int64
	edgeFound := false
	for _, s := range l.segs {
		if s.base >= limit {
			break
		}
		if s.empty() || s.next <= l.logStart {
			continue
		}
		if s.base >= l.logStart && s.next <= limit {
			consider(candidate{s.maxTs, s, s.maxTsOffset})
			continue
		}
		pos, h, ok, err := l.locate(s, max(s.base, l.logStart))
		if err != nil {
			return 0, 0, false, err
		}
		for ok && h.BaseOffset < limit {
			if h.BaseOffset >= l.logStart && h.LastOffset() < limit {
				consider(candidate{h.MaxTimestamp, s, h.BaseOffset})
			} else {
				var best2, off2 int64
				got := false
				// match never accepts, so ok=true only reports the
				// batch-granularity fallback for undecodable records.
				fOff, fTs, fallback, err := l.searchBatch(s, pos, h, limit, func(r record.Record) bool {
					if !got || r.Timestamp > best2 {
						best2, off2, got = r.Timestamp, r.Offset, true
					}
					return false
				})
				if err != nil {
					return 0, 0, false, err
				}
				if fallback {
					best2, off2, got = fTs, fOff, true
				}
				if got && (!edgeFound || best2 > edgeTs || (best2 == edgeTs && off2 < edgeOff)) {
					edgeTs, edgeOff, edgeFound = best2, off2, true
				}
			}
			pos += int64(h.Size())
			if pos >= s.size {
				break
			}
			next := h.NextOffset()
			if h, err = s.headerAt(pos, s.size, next); err != nil {
				return 0, 0, false, l.corruptAt(s, next, pos, err)
			}
		}
	}
	if !found && !edgeFound {
		return 0, 0, false, nil
	}
	if found && edgeFound && (edgeTs > best.ts || (edgeTs == best.ts && edgeOff < best.base)) {
		return edgeOff, edgeTs, true, nil
	}
	if !found {
		return edgeOff, edgeTs, true, nil
	}
	pos, h, ok, err := l.locate(best.seg, best.base)
	if err != nil {
		return 0, 0, false, err
	}
	if !ok || h.BaseOffset != best.base {
		panic(fmt.Sprintf("partlog: invariant broken: segment %d remembers max timestamp at offset %d, which is not a batch start", best.seg.base, best.base))
	}
	off, ts, ok, err := l.searchBatch(best.seg, pos, h, limit, func(r record.Record) bool { return r.Timestamp >= best.ts })
	if err != nil {
		return 0, 0, false, err
	}
	if !ok {
		// The producer wrote a maxTimestamp no record carries.
		return h.BaseOffset, best.ts, true, nil
	}
	return off, ts, true, nil
}
