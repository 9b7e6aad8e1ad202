package partlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/record"
)

// Log compaction (cleanup.policy=compact): the loop plans a job
// (StartClean), the job reads sealed segments and writes cleaned copies
// off the loop (CleanJob.Run), and the loop installs them (FinishClean).
// DESIGN.md, "Compaction", gives the rules and why a power loss at any
// point keeps every key's latest record and every offset.

// CleanupPolicy is cleanup.policy, a set of bits.
type CleanupPolicy uint8

// The cleanup.policy bits. Both together are Kafka's "compact,delete".
const (
	// CleanupDelete: retention by time and size (ApplyRetention).
	CleanupDelete CleanupPolicy = 1 << iota
	// CleanupCompact: the cleaner keeps the latest record per key.
	CleanupCompact
)

// Deletes reports whether retention.ms and retention.bytes apply (the
// zero policy counts as delete, Kafka's default).
func (p CleanupPolicy) Deletes() bool { return p == 0 || p&CleanupDelete != 0 }

// Compacts reports whether the cleaner runs.
func (p CleanupPolicy) Compacts() bool { return p&CleanupCompact != 0 }

// ParseCleanupPolicy reads Kafka's cleanup.policy value: a comma-separated
// list of "delete" and "compact" (Kafka accepts either order and spaces
// around the names; an empty list means neither, which Kafka 4 allows
// only for remote storage and is refused here).
func ParseCleanupPolicy(v string) (CleanupPolicy, error) {
	var p CleanupPolicy
	for name := range strings.SplitSeq(v, ",") {
		switch strings.TrimSpace(name) {
		case "delete":
			p |= CleanupDelete
		case "compact":
			p |= CleanupCompact
		default:
			return 0, fmt.Errorf("partlog: cleanup.policy %q: %q is neither delete nor compact", v, strings.TrimSpace(name))
		}
	}
	return p, nil
}

// String is the policy as Kafka's DescribeConfigs shows it.
func (p CleanupPolicy) String() string {
	switch {
	case p.Compacts() && p.Deletes():
		return "compact,delete"
	case p.Compacts():
		return "compact"
	}
	return "delete"
}

// DefaultCleanerMapBytes bounds a clean job's key map when
// Config.CleanerMapBytes is 0: 16 MiB holds about 200k keys of 32 bytes.
const DefaultCleanerMapBytes = 16 << 20

// maxCleanerMapBytes is the largest Config.CleanerMapBytes accepted: 64
// GiB keeps the entry count (at cleanerKeyOverhead bytes each at least)
// within keyMap's int32 indexes.
const maxCleanerMapBytes = 1 << 36

// cleanerKeyOverhead is what one map entry costs beyond its key bytes
// (string header, offset, the map's own slot), for CleanerMapBytes.
const cleanerKeyOverhead = 48

// cleanedSuffix names a cleaned copy of a segment until FinishClean
// renames it over the segment (<base>.log.cleaned). Open removes any.
const cleanedSuffix = ".cleaned"

// cleanerWriteBytes is how much a job buffers before each write.
const cleanerWriteBytes = 1 << 20

// snappyXerialMagic opens a batch body in the Java client's xerial snappy
// framing; a rewritten batch keeps the framing its producer chose.
var snappyXerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

var (
	// ErrKeylessRecord: a record without a key for a compacted topic
	// (Kafka answers INVALID_RECORD); see CheckKeyed.
	ErrKeylessRecord = errors.New("partlog: record without a key in a compacted topic")
	// ErrCleanDiscarded: FinishClean threw a job's output away because
	// the log changed under it (a truncation, retention or DeleteRecords
	// removed or changed a segment it read) or was closed or failed.
	// Nothing was lost: the next StartClean plans afresh.
	ErrCleanDiscarded = errors.New("partlog: clean job discarded")
)

// CheckKeyed returns ErrKeylessRecord when a record of batch has a null
// key, for the broker to refuse such produce requests to a compacted
// topic. Control batches are not looked at. codecs may be nil.
func CheckKeyed(batch []byte, codecs *record.Codecs) error {
	h, err := record.ParseHeader(batch)
	if err != nil {
		return fmt.Errorf("partlog: check keys: %w", err)
	}
	if h.Control() {
		return nil
	}
	it, err := codecs.NewIterator(batch, maxDecodeBytes)
	if err != nil {
		return fmt.Errorf("partlog: check keys: %w", err)
	}
	for it.Next() {
		if it.Record().Key == nil {
			return fmt.Errorf("%w: offset delta %d", ErrKeylessRecord, it.Record().Offset-h.BaseOffset)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("partlog: check keys: %w", err)
	}
	return nil
}

// CleanStats describes what a job did, for metrics and tests.
type CleanStats struct {
	Segments      int   // segments rewritten
	Keys          int   // distinct keys in the map
	MapEnd        int64 // offsets below it were deduplicated
	RecordsRead   int64 // records looked at in rewritten segments
	RecordsKept   int64
	BytesRead     int64
	BytesWritten  int64
	EmptyBatches  int64 // batches left without records (kept or merged)
	KeptAsStored  int64 // transactional, control or undecodable batches copied unchanged
	TombstonesCut int64 // tombstones removed after delete.retention.ms
}

// CleanJob is one pass of the cleaner over a prefix of sealed segments.
// StartClean makes it on the loop; Run (off the loop) reads the segments
// by name and writes cleaned copies; FinishClean (on the loop) installs
// them or throws them away. Run touches nothing of the Log.
type CleanJob struct {
	d   disk.Disk
	dir string
	// srcs are the cleanable segments, in order; their files are never
	// written again while they are sealed, except by a truncation, which
	// bumps Log.layoutGen and so discards the job.
	srcs      []cleanSource
	layoutGen uint64
	// dirtyFrom is where the key map starts (Log.firstDirty): below it
	// the log was cleaned by an earlier job of this process, so each key
	// there has one record left at most. tombstonesBelow (= dirtyFrom)
	// bounds the tombstones the job may remove: only those cleaned once
	// already, whose older records an earlier job removed durably.
	dirtyFrom, tombstonesBelow int64
	nowMs                      int64
	deleteRetentionMs          int64
	mapBytes                   int64
	indexInterval              int64
	codecs                     record.Codecs

	// Set by Run.
	mapEnd int64
	// storedRecords: Run has copied, unfiltered, a batch of records
	// (transactional, or undecodable) at a lower offset than the one it
	// is at. Such a batch may hold an older record of any key, which
	// nothing removes: tombstones are then kept for the rest of the job,
	// since dropping one would bring that record back as its key's
	// latest.
	storedRecords bool
	out           []cleanedSegment
	stats         CleanStats
}

// cleanSource is one segment a job reads.
type cleanSource struct {
	seg              *segment // identity only: Run never touches it
	base, next, size int64
	path, tmpPath    string
}

// cleanedSegment is a cleaned copy Run wrote: its metadata, computed as
// it was written, so that FinishClean installs it without reading it.
type cleanedSegment struct {
	src int // index into srcs
	seg segment
}

// Stats reports what Run did (zero before Run).
func (j *CleanJob) Stats() CleanStats { return j.stats }

// Range is the offsets the job covers: [first segment's base, last
// segment's next offset).
func (j *CleanJob) Range() (from, to int64) {
	return j.srcs[0].base, j.srcs[len(j.srcs)-1].next
}

// StartClean returns a clean job when cleanup.policy includes compact and
// the cleanable range is dirty enough: the longest prefix of sealed
// segments that lie below the high watermark and the durable end and
// whose newest record is at least min.compaction.lag.ms old; its dirty
// part (at or after what this process last cleaned) must exceed
// min.cleanable.dirty.ratio of its bytes, or hold a segment older than
// max.compaction.lag.ms. One job at a time per log.
func (l *Log) StartClean(nowMs int64) (*CleanJob, bool) {
	l.changes++
	if l.usable() != nil || !l.cfg.CleanupPolicy.Compacts() || l.cleaning != nil {
		return nil, false
	}
	l.observeTime(nowMs)
	bound := min(l.hw, l.durableEnd)
	n := 0
	for n < len(l.segs)-1 {
		s := l.segs[n]
		if s.next > bound || (s.hasTs && s.maxTs >= 0 && nowMs-s.maxTs < l.cfg.MinCompactionLagMs && !bugs.CleanerIgnoresLag) { // bugs.CleanerIgnoresLag: deliberate bug (core/bugs)
			break
		}
		n++
	}
	if n == 0 {
		return nil, false
	}
	dirtyFrom := max(l.firstDirty, l.segs[0].base)
	var clean, dirty int64
	forced := false
	for _, s := range l.segs[:n] {
		if s.next <= dirtyFrom {
			clean += s.size
			continue
		}
		dirty += s.size
		if s.hasTs && s.maxTs >= 0 && nowMs-s.maxTs > l.cfg.MaxCompactionLagMs {
			forced = true
		}
	}
	if dirty == 0 || (float64(dirty)/float64(clean+dirty) <= l.cfg.MinCleanableDirtyRatio && !forced) {
		return nil, false
	}
	job := &CleanJob{
		d: l.d, dir: l.dir, layoutGen: l.layoutGen,
		dirtyFrom: dirtyFrom, tombstonesBelow: dirtyFrom, nowMs: nowMs,
		deleteRetentionMs: l.cfg.DeleteRetentionMs, mapBytes: l.cfg.CleanerMapBytes,
		indexInterval: l.cfg.IndexIntervalBytes,
	}
	for _, s := range l.segs[:n] {
		p := l.segFilePath(s.base, logSuffix)
		job.srcs = append(job.srcs, cleanSource{seg: s, base: s.base, next: s.next, size: s.size, path: p, tmpPath: p + cleanedSuffix})
	}
	l.cleaning = job
	return job, true
}

// CleanInFlight reports whether a job from StartClean awaits FinishClean.
func (l *Log) CleanInFlight() bool { return l.cleaning != nil }

// Run builds the key map and writes the cleaned copies, each fsynced. It
// first fsyncs the directory, which makes the renames of the previous
// job durable before this one can remove tombstones (DESIGN.md,
// "Compaction"). A failure leaves the log as it was: FinishClean removes
// what Run wrote.
func (j *CleanJob) Run() error {
	if err := j.d.SyncDir(j.dir); err != nil {
		return fmt.Errorf("partlog: clean %s: sync directory: %w", j.dir, err)
	}
	keys, err := j.buildMap()
	if err != nil {
		return err
	}
	j.stats.Keys, j.stats.MapEnd = len(keys.latest), j.mapEnd
	for i := range j.srcs {
		if j.srcs[i].base >= j.mapEnd {
			break
		}
		if err := j.cleanSegment(i, keys); err != nil {
			return fmt.Errorf("partlog: clean segment %s: %w", j.srcs[i].path, err)
		}
	}
	return nil
}

// readOrCorrupt classifies a failed read of a source segment at offset: a
// file shorter than the log says is corrupt data (ErrCorruptSegment); any
// other error is the disk's, which says nothing about the data (the
// simulator's injected read errors were taken for corruption).
func readOrCorrupt(offset int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: offset %d: %w", ErrCorruptSegment, offset, err)
	}
	return fmt.Errorf("partlog: read offset %d: %w", offset, err)
}

// eachBatch calls fn with every batch of src, CRC-checked (the batch is
// valid until fn returns); fn returns false to stop.
func (j *CleanJob) eachBatch(src cleanSource, fn func(h record.Header, b []byte) (bool, error)) error {
	f, err := j.d.OpenFile(src.path, false)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	sc := scanner{f: f, limit: src.size}
	expect := src.base
	for pos := int64(0); pos < src.size; {
		hdr, err := sc.bytes(pos, record.HeaderSize)
		if err != nil {
			return readOrCorrupt(expect, err)
		}
		h, err := structuralCheck(hdr, pos, src.size, expect)
		if err != nil {
			return fmt.Errorf("%w: offset %d: %w", ErrCorruptSegment, expect, err)
		}
		b, err := sc.bytes(pos, h.Size())
		if err != nil {
			return readOrCorrupt(expect, err)
		}
		if _, err := record.Check(b); err != nil {
			return fmt.Errorf("%w: offset %d: %w", ErrCorruptSegment, expect, err)
		}
		j.stats.BytesRead += int64(len(b))
		more, err := fn(h, b)
		if err != nil || !more {
			return err
		}
		pos += int64(h.Size())
		expect = h.NextOffset()
	}
	if expect != src.next {
		return fmt.Errorf("%w: segment %d ends at offset %d, expected %d", ErrCorruptSegment, src.base, expect, src.next)
	}
	return nil
}

// rawRecord is one record of a decompressed batch body.
type rawRecord struct {
	raw       []byte // the whole encoded record, length prefix included
	key       []byte // nil: no key
	tombstone bool   // null value
	offset    int64
	timestamp int64
}

// splitRecords decodes the records of batch b (header h) far enough to
// know each one's key, offset and timestamp, keeping its encoded bytes.
// ok=false when the body does not decode: the log never decoded records
// on append, and such a batch is kept as stored.
func (j *CleanJob) splitRecords(h record.Header, b []byte, out []rawRecord) ([]rawRecord, bool) {
	data, err := j.codecs.Decompress(h.Codec(), b[record.HeaderSize:], maxDecodeBytes)
	if err != nil || h.RecordCount < 0 {
		return out, false
	}
	for range h.RecordCount {
		length, n := binary.Varint(data)
		if n <= 0 || length < 1 || length > int64(len(data)-n) {
			return out, false
		}
		raw, body := data[:n+int(length)], data[n:n+int(length)]
		data = data[n+int(length):]
		body = body[1:] // attributes
		tsDelta, k := binary.Varint(body)
		if k <= 0 {
			return out, false
		}
		body = body[k:]
		offDelta, k := binary.Varint(body)
		if k <= 0 || offDelta < 0 || offDelta > int64(h.LastOffsetDelta) {
			return out, false
		}
		body = body[k:]
		key, body, ok := bytesField(body)
		if !ok {
			return out, false
		}
		valueLen, k := binary.Varint(body)
		if k <= 0 {
			return out, false
		}
		r := rawRecord{raw: raw, key: key, tombstone: valueLen < 0, offset: h.BaseOffset + offDelta, timestamp: h.BaseTimestamp + tsDelta}
		if h.LogAppendTime() {
			r.timestamp = h.MaxTimestamp
		}
		out = append(out, r)
	}
	return out, len(data) == 0
}

// bytesField splits a varint-length-prefixed nullable byte string off b.
func bytesField(b []byte) (v, rest []byte, ok bool) {
	n, k := binary.Varint(b)
	if k <= 0 || n > int64(len(b)-k) {
		return nil, nil, false
	}
	if n < 0 {
		return nil, b[k:], true
	}
	return b[k : k+int(n) : k+int(n)], b[k+int(n):], true
}

// keepsAsStored reports batches the cleaner copies unchanged and keeps out
// of the key map: transactional and control batches. An aborted
// transaction's records must not hide committed ones, and keeping every
// marker and transactional batch as it is keeps each cleaned segment's
// aborted-transaction index valid unchanged (installCleaned hands it
// over) and the producer state a replay rebuilds the same. The cost:
// transactional records and markers are never compacted away (Kafka
// removes aborted records and, after delete.retention.ms, markers).
func keepsAsStored(h record.Header) bool { return h.Transactional() || h.Control() }

// keyMap maps a key to its latest offset. The offsets live in a slice
// that the map indexes, so that updating a known key is a lookup
// (m[string(b)] allocates nothing) rather than an assignment, which
// would convert the key to a new string every time.
type keyMap struct {
	index  map[string]int32
	latest []int64
}

func (m *keyMap) get(key []byte) (int64, bool) {
	i, ok := m.index[string(key)]
	if !ok {
		return 0, false
	}
	return m.latest[i], true
}

func (m *keyMap) put(key []byte, offset int64) {
	if i, ok := m.index[string(key)]; ok {
		m.latest[i] = offset
		return
	}
	m.index[string(key)] = int32(len(m.latest))
	m.latest = append(m.latest, offset)
}

// buildMap maps each key to its latest offset over the dirty range, from
// dirtyFrom on, until CleanerMapBytes would be exceeded: mapEnd is then
// the end of the last batch taken (at least one batch is taken, so a
// single batch's keys may exceed the bound; max.message.bytes bounds it).
func (j *CleanJob) buildMap() (*keyMap, error) {
	keys := &keyMap{index: make(map[string]int32)}
	used := int64(0)
	j.mapEnd = j.dirtyFrom
	var recs []rawRecord
	full := false
	for _, src := range j.srcs {
		if src.next <= j.dirtyFrom {
			continue
		}
		err := j.eachBatch(src, func(h record.Header, b []byte) (bool, error) {
			if h.NextOffset() <= j.dirtyFrom {
				return true, nil
			}
			if keepsAsStored(h) {
				j.mapEnd = h.NextOffset()
				return true, nil
			}
			var ok bool
			recs, ok = j.splitRecords(h, b, recs[:0])
			if !ok {
				j.mapEnd = h.NextOffset()
				return true, nil
			}
			cost := int64(0)
			for _, r := range recs {
				if _, seen := keys.get(r.key); r.key != nil && !seen {
					cost += int64(len(r.key)) + cleanerKeyOverhead
				}
			}
			if used+cost > j.mapBytes && j.mapEnd > j.dirtyFrom {
				full = true
				return false, nil
			}
			for _, r := range recs {
				if r.key != nil {
					keys.put(r.key, r.offset)
				}
			}
			used += cost
			j.mapEnd = h.NextOffset()
			return true, nil
		})
		if err != nil {
			return nil, fmt.Errorf("partlog: clean %s: build key map: %w", src.path, err)
		}
		if full {
			break
		}
	}
	return keys, nil
}

// keep decides one record's fate: keyless records go (Kafka's cleaner
// drops them too: no key, no latest value), a record with a later one of
// its key in the map goes, and a tombstone goes once it is older than
// delete.retention.ms, only in the part cleaned before (tombstonesBelow).
// Records at or past mapEnd were not looked at by the map and stay.
func (j *CleanJob) keep(r rawRecord, keys *keyMap) bool {
	if r.offset >= j.mapEnd {
		return true
	}
	if r.key == nil {
		return false
	}
	if latest, ok := keys.get(r.key); ok && (latest > r.offset || bugs.CleanerDropsLatest && latest == r.offset) { // bugs.CleanerDropsLatest: deliberate bug (core/bugs), the latest record of a key goes too
		return false
	}
	if r.tombstone && r.offset < j.tombstonesBelow && !j.storedRecords && (j.nowMs-r.timestamp > j.deleteRetentionMs || bugs.CleanerTombstonesEarly) { // bugs.CleanerTombstonesEarly: deliberate bug (core/bugs), delete.retention.ms ignored
		j.stats.TombstonesCut++
		return false
	}
	return true
}

// cleanWriter buffers a cleaned segment's batches and notes each in the
// segment's metadata (indexes, timestamps) as it goes.
type cleanWriter struct {
	f        disk.File
	buf      []byte
	flushed  int64
	seg      *segment
	interval int64
	// run is a pending empty batch of a non-idempotent producer that the
	// next empty batch of the same epoch may extend (mergeEmpty).
	run     []byte
	runNext int64
}

func (w *cleanWriter) write(b []byte) error {
	if err := w.flushRun(); err != nil {
		return err
	}
	return w.put(b)
}

func (w *cleanWriter) put(b []byte) error {
	h, err := record.ParseHeader(b)
	if err != nil {
		return fmt.Errorf("cleaned batch: %w", err)
	}
	w.seg.noteBatch(h, w.seg.size, w.interval)
	w.buf = append(w.buf, b...)
	if len(w.buf) >= cleanerWriteBytes {
		return w.flush()
	}
	return nil
}

func (w *cleanWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.f.WriteAt(w.buf, w.flushed); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	w.flushed += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// mergeEmpty adds an empty batch without a producer id: consecutive ones
// of one leader epoch become one batch covering all their offsets, so
// that a key overwritten batch after batch (a consumer group's offsets)
// leaves one 61-byte header per run instead of one per batch. Epoch
// starts, offsets and the producer state rebuilt from headers are the
// same (DESIGN.md, "Compaction").
func (w *cleanWriter) mergeEmpty(h record.Header, empty []byte) error {
	if w.run != nil && h.PartitionLeaderEpoch == int32(binary.BigEndian.Uint32(w.run[record.OffsetPartitionLeaderEpoch:])) &&
		h.BaseOffset == w.runNext && h.NextOffset()-1-int64(binary.BigEndian.Uint64(w.run)) <= math.MaxInt32 {
		base := int64(binary.BigEndian.Uint64(w.run))
		binary.BigEndian.PutUint32(w.run[record.OffsetLastOffsetDelta:], uint32(h.NextOffset()-1-base))
		if ts := int64(binary.BigEndian.Uint64(w.run[record.OffsetMaxTimestamp:])); h.MaxTimestamp > ts {
			binary.BigEndian.PutUint64(w.run[record.OffsetMaxTimestamp:], uint64(h.MaxTimestamp))
		}
		w.runNext = h.NextOffset()
		return nil
	}
	if err := w.flushRun(); err != nil {
		return err
	}
	w.run, w.runNext = empty, h.NextOffset()
	return nil
}

func (w *cleanWriter) flushRun() error {
	if w.run == nil {
		return nil
	}
	run := w.run
	w.run = nil
	binary.BigEndian.PutUint32(run[record.OffsetCRC:], record.ComputeCRC(run))
	return w.put(run)
}

// emptyBatch is h's header alone: no records, no compression, the offset
// range, epoch, timestamps and producer fields unchanged (Kafka keeps
// such a batch for an idempotent producer's sequence state too).
func emptyBatch(b []byte) []byte {
	out := slices.Clone(b[:record.HeaderSize])
	be := binary.BigEndian
	be.PutUint32(out[record.OffsetBatchLength:], uint32(record.HeaderSize-record.LogOverhead))
	attrs := be.Uint16(out[record.OffsetAttributes:]) &^ record.AttrCompressionMask
	be.PutUint16(out[record.OffsetAttributes:], attrs)
	be.PutUint32(out[record.OffsetRecordCount:], 0)
	be.PutUint32(out[record.OffsetCRC:], record.ComputeCRC(out))
	return out
}

// cleanSegment writes the cleaned copy of srcs[i] to its tmpPath and
// fsyncs it.
func (j *CleanJob) cleanSegment(i int, keys *keyMap) error {
	src := j.srcs[i]
	f, err := j.d.OpenFile(src.tmpPath, true)
	if err != nil {
		return fmt.Errorf("create %s: %w", src.tmpPath, err)
	}
	defer f.Close()
	// A leftover of an earlier job that FinishClean could not remove.
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", src.tmpPath, err)
	}
	w := &cleanWriter{f: f, seg: &segment{base: src.base, next: src.base}, interval: j.indexInterval}
	var recs []rawRecord
	var body []byte
	err = j.eachBatch(src, func(h record.Header, b []byte) (bool, error) {
		if keepsAsStored(h) || h.BaseOffset >= j.mapEnd {
			j.stats.KeptAsStored++
			j.storedRecords = j.storedRecords || !h.Control()
			return true, w.write(b)
		}
		var ok bool
		recs, ok = j.splitRecords(h, b, recs[:0])
		if !ok {
			j.stats.KeptAsStored++
			j.storedRecords = true
			return true, w.write(b)
		}
		body = body[:0]
		kept := 0
		for _, r := range recs {
			if j.keep(r, keys) {
				body = append(body, r.raw...)
				kept++
			}
		}
		j.stats.RecordsRead += int64(len(recs))
		j.stats.RecordsKept += int64(kept)
		switch {
		case kept == len(recs):
			return true, w.write(b)
		case kept == 0 && h.HasProducerID():
			j.stats.EmptyBatches++
			return true, w.write(emptyBatch(b))
		case kept == 0:
			j.stats.EmptyBatches++
			return true, w.mergeEmpty(h, emptyBatch(b))
		}
		rebuilt, err := j.rebuild(h, b, body, kept)
		if err != nil {
			return false, err
		}
		return true, w.write(rebuilt)
	})
	if err == nil {
		err = w.flushRun()
	}
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		return err
	}
	if w.seg.size > math.MaxUint32 {
		// Recompressing fewer records can, in theory, cost a few bytes
		// more than the original: never past the index's 32-bit
		// positions in practice, but refused rather than trusted.
		return fmt.Errorf("cleaned copy of segment %d is %d bytes, past the index's positions", src.base, w.seg.size)
	}
	if w.seg.next != src.next || w.seg.size != w.flushed {
		return fmt.Errorf("cleaned copy of segment %d ends at offset %d (%d bytes), the segment at %d", src.base, w.seg.next, w.flushed, src.next)
	}
	if !bugs.CleanerSwapUnsynced { // bugs.CleanerSwapUnsynced: deliberate bug (core/bugs), the copy is installed unsynced
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", src.tmpPath, err)
		}
	}
	j.stats.Segments++
	j.stats.BytesWritten += w.flushed
	j.out = append(j.out, cleanedSegment{src: i, seg: *w.seg})
	return nil
}

// rebuild is batch b with its records replaced by body (kept records,
// encoded as stored, so offset and timestamp deltas stay valid), compressed
// as b was: base offset, last offset delta, epoch, timestamps, producer
// fields and attributes unchanged; record count, length and CRC new.
func (j *CleanJob) rebuild(h record.Header, b, body []byte, kept int) ([]byte, error) {
	xerial := h.Codec() == record.CodecSnappy && bytes.HasPrefix(b[record.HeaderSize:], snappyXerialMagic)
	comp, err := j.codecs.Compress(h.Codec(), body, xerial)
	if err != nil {
		return nil, fmt.Errorf("recompress batch at offset %d: %w", h.BaseOffset, err)
	}
	out := make([]byte, record.HeaderSize, record.HeaderSize+len(comp))
	copy(out, b[:record.HeaderSize])
	out = append(out, comp...)
	be := binary.BigEndian
	be.PutUint32(out[record.OffsetBatchLength:], uint32(len(out)-record.LogOverhead))
	be.PutUint32(out[record.OffsetRecordCount:], uint32(kept))
	be.PutUint32(out[record.OffsetCRC:], record.ComputeCRC(out))
	return out, nil
}

// FinishClean reports job.Run's result on the loop. When Run succeeded
// and the log still holds every segment the job read, unchanged (no
// truncation since StartClean, no segment removed by retention or
// DeleteRecords, not closed or failed), each cleaned copy is renamed over
// its segment, in offset order, and the segment reopened with indexes
// rebuilt from what Run noted; otherwise every copy is removed and the
// log stays as it was. It returns how many segments were replaced, and
// Run's error, ErrCleanDiscarded, or an install failure.
//
// Only a failed index write after a rename fails the log (as in a roll):
// the segment's lookups would read a damaged index. A failed rename or
// reopen leaves that segment and the later ones as they were: each
// segment, old or cleaned, is valid alone (DESIGN.md, "Compaction"). A
// job that found a source segment damaged (ErrCorruptSegment) does not
// fail the log either: the caller decides, as after a scrub's finding.
func (l *Log) FinishClean(job *CleanJob, err error) (int, error) {
	l.changes++
	if job == nil || job != l.cleaning {
		panic("partlog: invariant broken: FinishClean called with a job that is not in flight")
	}
	l.cleaning = nil
	if err == nil {
		err = l.cleanStillValid(job)
	}
	if err != nil {
		job.discard(0)
		return 0, err
	}
	for k, c := range job.out {
		if err := l.installCleaned(job, c); err != nil {
			job.discard(k)
			return k, fmt.Errorf("partlog: install cleaned segment %d of %s: %w", job.srcs[c.src].base, l.dir, err)
		}
	}
	l.firstDirty = max(l.firstDirty, job.mapEnd)
	return len(job.out), nil
}

// cleanStillValid reports why job's output may not be installed, nil
// when it may.
func (l *Log) cleanStillValid(job *CleanJob) error {
	if err := l.usable(); err != nil {
		return fmt.Errorf("%w: %w", ErrCleanDiscarded, err)
	}
	if job.layoutGen != l.layoutGen {
		return fmt.Errorf("%w: the log was truncated", ErrCleanDiscarded)
	}
	for _, c := range job.out {
		src := job.srcs[c.src]
		i := slices.Index(l.segs, src.seg)
		if i < 0 || i == len(l.segs)-1 || !src.seg.sealed || src.seg.next != src.next || src.seg.size != src.size {
			return fmt.Errorf("%w: segment %d was removed or changed", ErrCleanDiscarded, src.base)
		}
	}
	return nil
}

// installCleaned renames one cleaned copy over its segment and swaps it
// into the segment list.
func (l *Log) installCleaned(job *CleanJob, c cleanedSegment) error {
	src := job.srcs[c.src]
	i := slices.Index(l.segs, src.seg)
	if err := l.d.Rename(src.tmpPath, src.path); err != nil {
		return err
	}
	// The rename is made durable by the next sync job's directory fsync
	// (StepDirs), or by the next clean job's first step: until then a
	// power loss may bring back the old segment, which is as valid.
	if l.dirsDurable {
		l.namesUnsynced = true
	}
	f, err := l.d.OpenFile(src.path, false)
	if err != nil {
		// The name holds the cleaned copy; the loop goes on reading the
		// old file through its open handle: the same offsets, a superset
		// of the records, consistent with the in-memory state.
		return err
	}
	ns := c.seg
	ns.log = f
	// The copy holds every control and transactional batch as stored
	// (keepsAsStored), so its aborted-transaction entries are the old
	// segment's: the index file is handed over unchanged.
	ns.txnIndexFile, ns.txnCount = src.seg.txnIndexFile, src.seg.txnCount
	src.seg.txnIndexFile = nil
	l.release(src.seg)
	l.segs[i] = &ns
	if err := l.openSealed(&ns, true); err != nil {
		return l.fail("install cleaned segment", err)
	}
	return nil
}

// discard removes the cleaned copies of job.out[from:] (best effort: Open
// removes leftovers).
func (j *CleanJob) discard(from int) {
	for _, c := range j.out[from:] {
		j.d.Remove(j.srcs[c.src].tmpPath)
	}
	// A job that failed midway wrote a copy not in out yet.
	if n := len(j.out); n < len(j.srcs) {
		next := 0
		if n > 0 {
			next = j.out[n-1].src + 1
		}
		if next < len(j.srcs) {
			j.d.Remove(j.srcs[next].tmpPath)
		}
	}
}
