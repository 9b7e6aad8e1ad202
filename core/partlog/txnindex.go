package partlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/record"
)

// The aborted-transaction index (Kafka's .txnindex), one per segment:
// an entry per abort marker the segment holds, in marker order, each of
// txnEntrySize bytes (big-endian, Kafka's layout):
//
//	version int16 (0), producerId int64, firstOffset int64,
//	lastOffset int64 (the marker's offset), lastStableOffset int64
//
// The active segment keeps its entries in memory (segment.aborted) and a
// sealed one in its file, read on lookups (segment.txnCount entries; no
// file when it has none), as for the offset index. A read_committed fetch
// collects the entries that overlap what it returns (collectAborted).
//
// Durability: the file is written when the segment is sealed and synced
// by the next sync job with the segment's other index files. It carries
// no checksum (neither does Kafka's): recovery rebuilds every segment's
// entries from the markers it scans anyway (it replays every batch
// header into the producer state, and reads each control batch whole),
// compares the file with them, and rewrites a missing, damaged or stale
// one. So a restart never leaves it empty while the log holds aborts.
const (
	txnIndexSuffix = ".txnindex"
	txnEntrySize   = 34
	txnEntryVer    = 0
)

// AbortedTxn is one aborted transaction of the index.
type AbortedTxn struct {
	ProducerID int64
	// FirstOffset is the transaction's first offset; LastOffset the
	// offset of its abort marker.
	FirstOffset, LastOffset int64
	// LastStableOffset is the last stable offset right after the marker
	// (the first offset of the earliest transaction still open, else the
	// offset after the marker): a collection that meets an entry with
	// LastStableOffset at or past its upper bound has seen every abort
	// that can overlap it.
	LastStableOffset int64
}

func encodeTxnIndex(entries []AbortedTxn) []byte {
	b := make([]byte, 0, len(entries)*txnEntrySize)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint16(b, txnEntryVer)
		b = binary.BigEndian.AppendUint64(b, uint64(e.ProducerID))
		b = binary.BigEndian.AppendUint64(b, uint64(e.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.LastOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.LastStableOffset))
	}
	return b
}

func decodeTxnIndex(b []byte) ([]AbortedTxn, error) {
	if len(b)%txnEntrySize != 0 {
		return nil, fmt.Errorf("size %d is not a multiple of %d", len(b), txnEntrySize)
	}
	out := make([]AbortedTxn, len(b)/txnEntrySize)
	for i := range out {
		e := b[i*txnEntrySize:]
		if v := binary.BigEndian.Uint16(e); v != txnEntryVer {
			return nil, fmt.Errorf("entry %d: version %d", i, v)
		}
		out[i] = AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(e[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(e[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(e[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(e[26:])),
		}
	}
	return out, nil
}

// abortedEntries returns the segment's aborted-transaction entries: the
// in-memory ones of the active segment, the file's of a sealed one.
func (l *Log) abortedEntries(s *segment) ([]AbortedTxn, error) {
	if !s.sealed || s.txnCount == 0 {
		return s.aborted, nil
	}
	buf := make([]byte, s.txnCount*txnEntrySize)
	if err := readFull(s.txnIndexFile, buf, 0); err != nil {
		return nil, fmt.Errorf("partlog: read %s: %w", l.segFilePath(s.base, txnIndexSuffix), err)
	}
	entries, err := decodeTxnIndex(buf)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptSegment, l.segFilePath(s.base, txnIndexSuffix), err)
	}
	return entries, nil
}

// collectAborted implements AbortedTransactions (Kafka's
// collectAbortedTransactions): the entries whose transaction overlaps
// [from, upTo), from the segment holding from on (an entry lives in the
// segment of its marker, at or after every offset of its transaction),
// until a segment holds an entry whose LastStableOffset reaches upTo: no
// transaction overlapping the range was open after that marker, so every
// later entry starts at or past upTo.
func (l *Log) collectAborted(from, upTo int64) ([]AbortedTxn, error) {
	var out []AbortedTxn
	for i := l.segmentIndex(from); i < len(l.segs); i++ {
		s := l.segs[i]
		entries, err := l.abortedEntries(s)
		if err != nil {
			return nil, err
		}
		complete := false
		for _, e := range entries {
			if e.LastOffset >= from && e.FirstOffset < upTo {
				out = append(out, e)
			}
			complete = complete || e.LastStableOffset >= upTo
		}
		if complete {
			break
		}
	}
	return out, nil
}

// writeTxnIndex writes a sealed segment's entries to its file (created
// when there are entries, removed when there are none) and queues it for
// the next sync job. Seal, recovery and truncation use it.
func (l *Log) writeTxnIndex(s *segment, entries []AbortedTxn) error {
	name := l.segFilePath(s.base, txnIndexSuffix)
	if s.txnIndexFile != nil {
		l.releaseFile(s.txnIndexFile)
		s.txnIndexFile = nil
	}
	s.txnCount = 0
	if len(entries) == 0 {
		if err := l.d.Remove(name); err != nil && !errors.Is(err, disk.ErrNotExist) {
			return fmt.Errorf("remove empty transaction index of segment %d: %w", s.base, err)
		}
		return nil
	}
	f, err := l.d.OpenFile(name, true)
	if err != nil {
		return fmt.Errorf("open transaction index of segment %d: %w", s.base, err)
	}
	if err := writeWhole(f, encodeTxnIndex(entries)); err != nil {
		f.Close()
		return fmt.Errorf("write transaction index of segment %d: %w", s.base, err)
	}
	s.txnIndexFile, s.txnCount = f, len(entries)
	l.pendingSync = append(l.pendingSync, f)
	return nil
}

// openTxnIndex attaches a sealed segment's transaction index after
// recovery rebuilt its entries: the file is kept when it holds exactly
// them, and rewritten (or removed) otherwise. It reports whether it
// rewrote it.
func (l *Log) openTxnIndex(s *segment, rebuilt []AbortedTxn) (bool, error) {
	name := l.segFilePath(s.base, txnIndexSuffix)
	data, err := l.d.ReadFile(name)
	switch {
	case errors.Is(err, disk.ErrNotExist):
		if len(rebuilt) == 0 {
			return false, nil
		}
	case err != nil:
		return false, fmt.Errorf("read transaction index of segment %d: %w", s.base, err)
	default:
		if onDisk, derr := decodeTxnIndex(data); derr == nil && slices.Equal(onDisk, rebuilt) {
			if len(rebuilt) == 0 {
				// An empty file says nothing: drop it, as a seal would
				// not have written it.
				return false, l.writeTxnIndex(s, nil)
			}
			f, err := l.d.OpenFile(name, false)
			if err != nil {
				return false, fmt.Errorf("open transaction index of segment %d: %w", s.base, err)
			}
			s.txnIndexFile, s.txnCount = f, len(rebuilt)
			return false, nil
		}
	}
	return true, l.writeTxnIndex(s, rebuilt)
}

// replayMarker applies the stored control batch b (header h) to the
// producer state and, for an abort, returns its index entry. A control
// batch that is no end-transaction marker, or whose record does not
// decode, changes nothing: the log never stores one that does not decode
// (AppendTxnMarker builds them, AppendAsFollower refuses them), so only a
// control type of a later Kafka gets here.
func (t *producerTable) replayMarker(h record.Header, b []byte) (AbortedTxn, bool) {
	m, err := record.ParseEndTxnMarker(b)
	if err != nil {
		return AbortedTxn{}, false
	}
	a := t.applyMarker(h.ProducerID, h.ProducerEpoch, h.BaseOffset, m)
	return a, !m.Commit
}
