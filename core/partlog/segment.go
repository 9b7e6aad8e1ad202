package partlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/record"
)

// Index file formats (big-endian, as Kafka's):
//
//	.index      entries of 8 bytes:  relativeOffset uint32, position uint32
//	.timeindex  entries of 12 bytes: timestamp int64, relativeOffset uint32
//
// An offset-index entry (r, p) says that the batch whose base offset is
// segmentBase+r starts at byte p. A time-index entry (t, r) is written
// together with an offset-index entry and says that every batch before
// segmentBase+r has maxTimestamp <= t; entries are strictly increasing in
// both fields. So to find the first batch with maxTimestamp >= ts, start at
// the last entry whose t < ts.
//
// Entries are added, as in Kafka, before a batch once more than
// index.interval.bytes were appended since the previous entry.
const (
	indexEntrySize     = 8
	timeIndexEntrySize = 12
)

type indexEntry struct {
	rel uint32 // offset minus segment base
	pos uint32 // byte position in the segment
}

type timeEntry struct {
	ts  int64
	rel uint32
}

// segment is one segment file and what the log knows about it.
type segment struct {
	base int64 // base offset, also in the file name
	next int64 // offset after the last batch; base when empty
	size int64 // bytes of valid batches

	log disk.File
	// hdr is headerAt's read buffer: a local one escapes to the heap
	// through the disk.File interface, once per batch header read.
	hdr [record.HeaderSize]byte

	// The active segment keeps its indexes in memory (index, timeIndex)
	// and writes them when it is sealed by a roll. A sealed segment reads
	// them from indexFile/timeIndexFile on lookups, so memory stays
	// proportional to the number of segments, not to the data.
	sealed         bool
	index          []indexEntry
	timeIndex      []timeEntry
	indexFile      disk.File
	timeIndexFile  disk.File
	indexCount     int
	timeIndexCount int
	// aborted holds the active segment's aborted-transaction entries
	// (txnindex.go); a sealed segment has txnCount of them in
	// txnIndexFile (nil when none).
	aborted      []AbortedTxn
	txnIndexFile disk.File
	txnCount     int

	bytesSinceIndex int64
	// maxTs is the largest batch maxTimestamp in the segment (valid when
	// hasTs) and maxTsOffset the base offset of the first batch with it.
	hasTs       bool
	maxTs       int64
	maxTsOffset int64

	// firstBatchMs is nowMs when the first batch of the active segment
	// was appended (or when the log was opened), for segment.ms.
	firstBatchMs int64
	// dirty: the log file has writes (or a truncation) not covered by a
	// started sync job.
	dirty bool
}

func segmentName(base int64, suffix string) string {
	if base < 0 {
		return fmt.Sprintf("%020d%s", base, suffix)
	}
	return string(appendSegmentName(make([]byte, 0, 20+len(suffix)), base, suffix))
}

// appendSegmentName appends segmentName(base, suffix) for base >= 0: what
// the Sprintf above writes, without its cost (names are built for every
// segment a recovery opens).
func appendSegmentName(b []byte, base int64, suffix string) []byte {
	var digits [20]byte
	num := strconv.AppendInt(digits[:0], base, 10)
	for range 20 - len(num) {
		b = append(b, '0')
	}
	b = append(b, num...)
	return append(b, suffix...)
}

// parseSegmentName splits "<20 digits><suffix>"; ok=false for other names.
func parseSegmentName(name string) (base int64, suffix string, ok bool) {
	if len(name) < 21 {
		return 0, "", false
	}
	digits, suffix := name[:20], name[20:]
	switch suffix {
	case logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix:
	default:
		return 0, "", false
	}
	// What strconv.ParseInt(digits, 10, 64) gives for a string of digits
	// only, without its generic parsing (every name of the directory is
	// parsed at every open): digits alone, and no overflow past MaxInt64.
	var n int64
	for i := 0; i < len(digits); i++ {
		d := int64(digits[i]) - '0'
		if d < 0 || d > 9 || n > (math.MaxInt64-d)/10 {
			return 0, "", false
		}
		n = n*10 + d
	}
	return n, suffix, true
}

func (s *segment) empty() bool { return s.size == 0 }

// noteBatch updates the segment for a batch appended (or scanned) at pos:
// sparse index entries first, as Kafka does, then the end and timestamps.
func (s *segment) noteBatch(h record.Header, pos int64, intervalBytes int64) {
	if s.bytesSinceIndex > intervalBytes {
		rel := uint32(h.BaseOffset - s.base)
		s.index = append(s.index, indexEntry{rel: rel, pos: uint32(pos)})
		if n := len(s.timeIndex); n == 0 || s.maxTs > s.timeIndex[n-1].ts {
			s.timeIndex = append(s.timeIndex, timeEntry{ts: s.maxTs, rel: rel})
		}
		s.bytesSinceIndex = 0
	}
	size := int64(h.Size())
	s.bytesSinceIndex += size
	if !s.hasTs || h.MaxTimestamp > s.maxTs {
		s.hasTs, s.maxTs, s.maxTsOffset = true, h.MaxTimestamp, h.BaseOffset
	}
	s.next = h.NextOffset()
	s.size = pos + size
}

// resetContents forgets everything derived from the segment's batches.
func (s *segment) resetContents() {
	s.next, s.size = s.base, 0
	s.index, s.timeIndex = nil, nil
	s.bytesSinceIndex = 0
	s.hasTs, s.maxTs, s.maxTsOffset = false, 0, 0
	s.aborted = nil
}

func encodeIndex(entries []indexEntry) []byte {
	b := make([]byte, 0, len(entries)*indexEntrySize)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint32(b, e.rel)
		b = binary.BigEndian.AppendUint32(b, e.pos)
	}
	return b
}

func encodeTimeIndex(entries []timeEntry) []byte {
	b := make([]byte, 0, len(entries)*timeIndexEntrySize)
	for _, e := range entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
		b = binary.BigEndian.AppendUint32(b, e.rel)
	}
	return b
}

func decodeIndex(b []byte) ([]indexEntry, error) {
	if len(b)%indexEntrySize != 0 {
		return nil, fmt.Errorf("size %d is not a multiple of %d", len(b), indexEntrySize)
	}
	out := make([]indexEntry, len(b)/indexEntrySize)
	for i := range out {
		out[i] = indexEntry{rel: binary.BigEndian.Uint32(b[i*8:]), pos: binary.BigEndian.Uint32(b[i*8+4:])}
	}
	return out, nil
}

func decodeTimeIndex(b []byte) ([]timeEntry, error) {
	if len(b)%timeIndexEntrySize != 0 {
		return nil, fmt.Errorf("size %d is not a multiple of %d", len(b), timeIndexEntrySize)
	}
	out := make([]timeEntry, len(b)/timeIndexEntrySize)
	for i := range out {
		out[i] = timeEntry{ts: int64(binary.BigEndian.Uint64(b[i*12:])), rel: binary.BigEndian.Uint32(b[i*12+8:])}
	}
	return out, nil
}

// readFull reads exactly len(p) bytes at off.
// errShortRead: a file held fewer bytes than the log expected there.
var errShortRead = errors.New("short read")

func readFull(f disk.File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w of %d bytes at %d: got %d", errShortRead, len(p), off, n)
	}
	return err
}

// indexLookup returns the position of the indexed batch with the largest
// base offset <= target (0 and the segment base when there is none).
func (s *segment) indexLookup(target int64) (pos int64, base int64, err error) {
	if target < s.base {
		return 0, s.base, nil
	}
	rel := uint64(target - s.base)
	if rel > math.MaxUint32 {
		rel = math.MaxUint32
	}
	if !s.sealed {
		i := sort.Search(len(s.index), func(i int) bool { return uint64(s.index[i].rel) > rel })
		if i == 0 {
			return 0, s.base, nil
		}
		e := s.index[i-1]
		return int64(e.pos), s.base + int64(e.rel), nil
	}
	var buf [indexEntrySize]byte
	var readErr error
	i := sort.Search(s.indexCount, func(i int) bool {
		if readErr != nil {
			return true
		}
		if err := readFull(s.indexFile, buf[:], int64(i)*indexEntrySize); err != nil {
			readErr = err
			return true
		}
		return uint64(binary.BigEndian.Uint32(buf[:])) > rel
	})
	if readErr != nil {
		return 0, 0, fmt.Errorf("read %s: %w", segmentName(s.base, indexSuffix), readErr)
	}
	if i == 0 {
		return 0, s.base, nil
	}
	if err := readFull(s.indexFile, buf[:], int64(i-1)*indexEntrySize); err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", segmentName(s.base, indexSuffix), err)
	}
	return int64(binary.BigEndian.Uint32(buf[4:])), s.base + int64(binary.BigEndian.Uint32(buf[:])), nil
}

// timeLookup returns an offset from which to scan for the first batch with
// maxTimestamp >= ts: the offset of the last time-index entry whose
// timestamp is below ts, or the segment base.
func (s *segment) timeLookup(ts int64) (int64, error) {
	if !s.sealed {
		i := sort.Search(len(s.timeIndex), func(i int) bool { return s.timeIndex[i].ts >= ts })
		if i == 0 {
			return s.base, nil
		}
		return s.base + int64(s.timeIndex[i-1].rel), nil
	}
	var buf [timeIndexEntrySize]byte
	var readErr error
	i := sort.Search(s.timeIndexCount, func(i int) bool {
		if readErr != nil {
			return true
		}
		if err := readFull(s.timeIndexFile, buf[:], int64(i)*timeIndexEntrySize); err != nil {
			readErr = err
			return true
		}
		return int64(binary.BigEndian.Uint64(buf[:])) >= ts
	})
	if readErr != nil {
		return 0, fmt.Errorf("read %s: %w", segmentName(s.base, timeIndexSuffix), readErr)
	}
	if i == 0 {
		return s.base, nil
	}
	if err := readFull(s.timeIndexFile, buf[:], int64(i-1)*timeIndexEntrySize); err != nil {
		return 0, fmt.Errorf("read %s: %w", segmentName(s.base, timeIndexSuffix), err)
	}
	return s.base + int64(binary.BigEndian.Uint32(buf[8:])), nil
}

// errStructure marks a batch whose framing fields (outside the CRC) do not
// fit the segment: used to tell corruption from I/O errors while scanning.
var errStructure = errors.New("partlog: bad batch structure")

// headerAt reads and structurally checks the batch header at pos: v2
// magic, a length that fits in the segment's valid bytes, the expected
// base offset (expect < 0 skips that check) and a non-negative offset
// delta. The CRC is not checked: that needs the whole batch.
func (s *segment) headerAt(pos, limit, expect int64) (record.Header, error) {
	buf := &s.hdr
	if pos+record.HeaderSize > limit {
		return record.Header{}, fmt.Errorf("%w: %d bytes left at position %d, need a %d-byte header", errStructure, limit-pos, pos, record.HeaderSize)
	}
	if err := readFull(s.log, buf[:], pos); err != nil {
		return record.Header{}, fmt.Errorf("read %s: %w", segmentName(s.base, logSuffix), err)
	}
	h, err := structuralCheck(buf[:], pos, limit, expect)
	return h, err
}

// structuralCheck validates a header's framing in place at pos.
func structuralCheck(hdr []byte, pos, limit, expect int64) (h record.Header, err error) {
	if err := record.ParseHeaderInto(hdr, &h); err != nil {
		return record.Header{}, fmt.Errorf("%w: at position %d: %w", errStructure, pos, err)
	}
	switch {
	case h.BatchLength < record.MinBatchLength:
		return h, fmt.Errorf("%w: at position %d: batchLength %d", errStructure, pos, h.BatchLength)
	case pos+int64(h.Size()) > limit:
		return h, fmt.Errorf("%w: batch of %d bytes at position %d passes the end %d", errStructure, h.Size(), pos, limit)
	case h.LastOffsetDelta < 0:
		return h, fmt.Errorf("%w: at position %d: lastOffsetDelta %d", errStructure, pos, h.LastOffsetDelta)
	case expect >= 0 && h.BaseOffset != expect:
		return h, fmt.Errorf("%w: at position %d: base offset %d, expected %d", errStructure, pos, h.BaseOffset, expect)
	}
	return h, nil
}

// frame is what the read path needs of a batch header: record.Header's
// other fields are never looked at there, and decoding them (twice, with
// record.Check) cost more than the CRC of a small batch.
type frame struct {
	base      int64
	length    int32
	epoch     int32
	lastDelta int32
	crc       uint32
}

func (f frame) size() int         { return record.LogOverhead + int(f.length) }
func (f frame) lastOffset() int64 { return f.base + int64(f.lastDelta) }

// quickFrame decodes the frame of the header hdr at pos and reports
// whether it passes every check structuralCheck makes (magic 2, a whole
// header, batchLength at least a header's, the batch inside limit, a
// non-negative lastOffsetDelta, the expected base offset); when it does
// not, structuralCheck says why.
func quickFrame(hdr []byte, pos, limit, expect int64) (frame, bool) {
	if len(hdr) < record.HeaderSize || hdr[record.OffsetMagic] != record.MagicV2 {
		return frame{}, false
	}
	be := binary.BigEndian
	f := frame{
		base:      int64(be.Uint64(hdr[record.OffsetBaseOffset:])),
		length:    int32(be.Uint32(hdr[record.OffsetBatchLength:])),
		epoch:     int32(be.Uint32(hdr[record.OffsetPartitionLeaderEpoch:])),
		lastDelta: int32(be.Uint32(hdr[record.OffsetLastOffsetDelta:])),
		crc:       be.Uint32(hdr[record.OffsetCRC:]),
	}
	ok := f.length >= record.MinBatchLength && pos+int64(f.size()) <= limit &&
		f.lastDelta >= 0 && (expect < 0 || f.base == expect)
	return f, ok
}

// scanner reads a segment file front to back through a bounded window, so
// that scanning many small batches costs few ReadAt calls.
type scanner struct {
	f     disk.File
	limit int64 // bytes to scan
	buf   []byte
	start int64 // file position of buf[0]
	// reuse, when set, lends the window's memory and keeps a larger one:
	// the segments of one recovery are scanned one after the other
	// through one buffer instead of one each.
	reuse *[]byte
}

// scanWindow is the read-ahead of a scanner.
const scanWindow = 64 << 10

// bytes returns the n bytes at pos, valid until the next call.
func (sc *scanner) bytes(pos int64, n int) ([]byte, error) {
	if pos >= sc.start && pos+int64(n) <= sc.start+int64(len(sc.buf)) {
		return sc.buf[pos-sc.start : pos-sc.start+int64(n)], nil
	}
	want := int(min(sc.limit-pos, int64(max(n, scanWindow))))
	if want < n {
		return nil, fmt.Errorf("%w: %d bytes left at position %d, need %d", errStructure, sc.limit-pos, pos, n)
	}
	if cap(sc.buf) < want && sc.reuse != nil && cap(*sc.reuse) >= want {
		sc.buf = *sc.reuse
	}
	if cap(sc.buf) < want {
		sc.buf = make([]byte, want)
		if sc.reuse != nil {
			*sc.reuse = sc.buf
		}
	}
	sc.buf = sc.buf[:want]
	if err := readFull(sc.f, sc.buf, pos); err != nil {
		sc.buf = sc.buf[:0]
		return nil, err
	}
	sc.start = pos
	return sc.buf[:n], nil
}

// writeWhole replaces a file's contents with data (used for index files).
func writeWhole(f disk.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	_, err := f.WriteAt(data, 0)
	return err
}

// plainDir: dir + "/" + a plain name is what path.Join makes of them.
func plainDir(dir string) bool {
	return dir != "" && dir != "." && dir != "/" && path.Clean(dir) == dir
}

// plainName: a file name that path.Join keeps as it is after a plain
// directory.
func plainName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// pathPrefix is Log.prefix for dir.
func pathPrefix(dir string) string {
	if plainDir(dir) {
		return dir + "/"
	}
	return ""
}
