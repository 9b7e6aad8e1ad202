// Package partlog is one partition's durable log: Kafka record batches
// (format v2) in segment files over an abstract disk.Disk, with sparse
// offset and time indexes, checkpoints, recovery, retention, compaction,
// truncation, the leader-epoch cache and the idempotent-producer state
// derived from the batches it holds.
//
// A Log is driven by a single goroutine (the node's event loop); only
// SyncJob.Run and CleanJob.Run may execute elsewhere. Time is passed in as nowMs; the package
// never reads a clock.
package partlog

import (
	"errors"
	"fmt"
	"math"

	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/record"
)

// Errors returned by the log. Callers map them to Kafka error codes.
var (
	// ErrOffsetOutOfRange: a read offset below the log start or above the log end.
	ErrOffsetOutOfRange = errors.New("partlog: offset out of range")
	// ErrCorruptBatch: a batch failed validation (length, magic, CRC, counts).
	ErrCorruptBatch = errors.New("partlog: corrupt record batch")
	// ErrUnsupportedMagic: a batch in message format v0 or v1.
	ErrUnsupportedMagic = errors.New("partlog: unsupported message format (magic < 2)")
	// ErrBatchTooLarge: a batch larger than Config.MaxMessageBytes.
	ErrBatchTooLarge = errors.New("partlog: record batch too large")
	// ErrOutOfOrderSequence: an idempotent batch whose sequence is not the next one.
	ErrOutOfOrderSequence = errors.New("partlog: out of order sequence number")
	// ErrInvalidProducerEpoch: a batch from an older producer epoch (fenced).
	ErrInvalidProducerEpoch = errors.New("partlog: invalid producer epoch")
	// ErrLogFailed: the log saw a failed write or fsync and refuses all work
	// until it is reopened (recovered) from disk: see Reopen.
	ErrLogFailed = errors.New("partlog: log failed, reopen required")
	// ErrCorruptSegment: stored data in a segment below the recovery point
	// failed validation while being read; it is never served.
	ErrCorruptSegment = errors.New("partlog: corrupt data in segment")
	// ErrUnsyncedLost: a read found a batch at or past the durable end
	// short or damaged. Those bytes were never synced, and a failed
	// writeback may have dropped their pages (fsyncgate: the file reads
	// back its old contents) before the sync job reports the failure.
	// They were never promised, so unlike ErrCorruptSegment this is no
	// sign of a failing medium: a Reopen cuts them at the durable end,
	// and the fsyncs after it show whether the disk works.
	ErrUnsyncedLost = errors.New("partlog: unsynced data lost")
	// ErrInvalidLeaderEpoch: an append whose leader epoch is negative or
	// below the latest epoch in the log (epochs never go back in a log).
	ErrInvalidLeaderEpoch = errors.New("partlog: invalid leader epoch for append")
	// ErrUnexpectedAppendOffset: a follower append whose first batch does
	// not start at the log end offset (Kafka's UnexpectedAppendOffset).
	ErrUnexpectedAppendOffset = errors.New("partlog: follower append does not start at the log end offset")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("partlog: log closed")
)

// Config holds the per-partition settings (Kafka's topic configs).
type Config struct {
	SegmentBytes       int64 // segment.bytes: roll when the active segment would exceed this
	SegmentMs          int64 // segment.ms: roll when the active segment's first batch is older
	RetentionMs        int64 // retention.ms: -1 keeps forever
	RetentionBytes     int64 // retention.bytes: -1 keeps everything
	IndexIntervalBytes int64 // index.interval.bytes: bytes between sparse index entries
	MaxMessageBytes    int64 // max.message.bytes: largest batch accepted
	// MaxProducerIDs bounds the idempotent-producer table (not a Kafka
	// topic config; Kafka expires producer state by time instead). 0
	// selects DefaultMaxProducerIDs.
	MaxProducerIDs int

	// CleanupPolicy is cleanup.policy: delete (retention by time and
	// size), compact (the cleaner keeps the latest record per key), or
	// both. 0 means delete, Kafka's default.
	CleanupPolicy CleanupPolicy
	// DeleteRetentionMs is delete.retention.ms: how long the cleaner keeps
	// a tombstone (a record with a null value) after its timestamp.
	DeleteRetentionMs int64
	// MinCleanableDirtyRatio is min.cleanable.dirty.ratio: the cleaner
	// starts once the uncleaned share of the cleanable bytes is above it.
	MinCleanableDirtyRatio float64
	// MinCompactionLagMs is min.compaction.lag.ms: a segment whose newest
	// record is younger than this is not cleaned yet.
	MinCompactionLagMs int64
	// MaxCompactionLagMs is max.compaction.lag.ms: a dirty segment whose
	// newest record is older than this is cleaned whatever the dirty
	// ratio. 0 means unset (Kafka's default, Long.MAX_VALUE).
	MaxCompactionLagMs int64
	// CleanerMapBytes bounds the cleaner's key -> latest offset map of one
	// job (Kafka's log.cleaner.dedupe.buffer.size, per partition here);
	// a job whose dirty range holds more keys cleans the prefix that fits.
	// 0 selects DefaultCleanerMapBytes.
	CleanerMapBytes int64
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * 60 * 60 * 1000,
		RetentionMs:        7 * 24 * 60 * 60 * 1000,
		RetentionBytes:     -1,
		IndexIntervalBytes: 4096,
		MaxMessageBytes:    1048588,
		MaxProducerIDs:     DefaultMaxProducerIDs,

		CleanupPolicy:          CleanupDelete,
		DeleteRetentionMs:      24 * 60 * 60 * 1000,
		MinCleanableDirtyRatio: 0.5,
		MaxCompactionLagMs:     math.MaxInt64,
		CleanerMapBytes:        DefaultCleanerMapBytes,
	}
}

// AppendResult describes one appended (or deduplicated) batch.
type AppendResult struct {
	BaseOffset     int64 // offset assigned to the batch's first record
	LastOffset     int64 // offset of the batch's last record
	LogStartOffset int64 // log start offset after the append
	// Duplicate is true when an idempotent retry matched a batch already in
	// the log: nothing was written and the offsets are the original ones.
	Duplicate bool
}

// ReadResult is the outcome of Read.
type ReadResult struct {
	// Records holds whole batches, exactly as stored (base offset and
	// partition leader epoch filled in), ready to be sent in a Fetch
	// response. Empty when nothing is readable below the limit offset.
	Records []byte
	// NextOffset is the offset after the last batch in Records (0 when
	// Records is empty), so that a caller reading on need not parse them.
	NextOffset int64
}

// SyncJob is one group commit: every write to this log up to UpTo, made
// durable by a single Run. The event loop gets it from StartSync, hands it
// to the environment, which calls Run (possibly on another goroutine) and
// then reports the result back on the loop through FinishSync.
//
// Run takes its durable steps in a fixed order (SyncSteps): the
// leader-epoch checkpoint, when the epoch cache changed since the last
// job; then the fsyncs of the segment and index files; then the synced-end
// slot. Each step is durable before the next starts, so a power loss
// between two steps leaves a prefix of them on disk (DESIGN.md, "Durability
// rules", says why every such prefix recovers correctly).
type SyncJob struct {
	UpTo  int64 // log end offset covered by this job
	files []disk.File
	// dirs are the directories fsynced first (StepDirs), deepest first:
	// a new partition directory and its parents (Log.dirsDurable false).
	dirs []string
	// epochs is the leader-epoch checkpoint the job writes before its
	// fsyncs (StepEpochCheckpoint), a copy of the cache taken by
	// StartSync; epochsPath is empty when the cache did not change since
	// the last job took one.
	epochs     epochCache
	epochsSeq  uint64
	epochsPath string
	// owner is the log's OpenBounds.Owner, written into both checkpoints.
	owner string
	d     disk.Disk
	// slot is the synced end written after the fsyncs
	// (OpenBounds.TrackSyncedEnd); its file is nil when there is none.
	slot slotWrite
	// ckpt is the partition checkpoint written last (StepCheckpoint),
	// into jobCheckpointFile; ckptPath is empty when the job writes none
	// (RequestCheckpoint).
	ckpt     partitionCheckpoint
	ckptPath string
	// ownerFile is the log's OpenBounds.OwnerFile when this job is the
	// first after Open wrote it: files[0], synced before the rest, and
	// closed by FinishSync.
	ownerFile disk.File
	// clean makes a clean job (NewCleanSyncJob): its one step, StepClean,
	// runs it. A clean job has no other step.
	clean *CleanJob
	// filePath and fileData make a file job (NewFileJob): its one step,
	// StepFile, writes fileData to filePath atomically. A file job has no
	// other step.
	filePath string
	fileData []byte
}

// NewFileJob returns a job that writes data to path atomically
// (disk.WriteFileAtomic: a temporary file, fsynced, renamed over path,
// the directory fsynced) as its only step, StepFile. It belongs to no
// log: a caller that must not block its event loop on a durable file
// (the single node's metadata image) hands it to the same environment
// that runs log sync jobs, and acts on the write at the job's end. A
// power loss before the rename leaves the previous file whole.
func NewFileJob(d disk.Disk, path string, data []byte) *SyncJob {
	return &SyncJob{UpTo: -1, d: d, filePath: path, fileData: data}
}

// NewCleanSyncJob wraps a compaction job (StartClean) as a sync job whose
// one step, StepClean, is CleanJob.Run: the environment that runs sync
// jobs off the event loop runs it the same way, and its end is reported
// like theirs. The caller hands the result to FinishClean of the log
// that started it (Clean returns the job), not to FinishSync.
func NewCleanSyncJob(job *CleanJob) *SyncJob {
	return &SyncJob{UpTo: -1, clean: job}
}

// Clean returns the compaction job a NewCleanSyncJob wraps, or nil.
func (j *SyncJob) Clean() *CleanJob { return j.clean }

// SyncStep is one durable step of SyncJob.Run.
type SyncStep uint8

// The steps of SyncJob.Run, in the order Run takes them.
const (
	// StepDirs fsyncs a new log's directory and every directory above
	// it, deepest first, or the directory alone after a roll: the names
	// of its files, and its own, are durable before anything in them is
	// synced.
	StepDirs SyncStep = iota
	// StepEpochCheckpoint writes the leader-epoch checkpoint atomically
	// (disk.WriteFileAtomic): before the data, so that no synced batch
	// carries an epoch the checkpoint lacks.
	StepEpochCheckpoint SyncStep = iota
	// StepData fsyncs the segment and index files, sealed ones first.
	StepData
	// StepSyncedEnd writes and fsyncs the synced-end slot
	// (OpenBounds.TrackSyncedEnd): after the data it vouches for.
	StepSyncedEnd
	// StepCheckpoint writes the partition checkpoint atomically
	// (RequestCheckpoint), its recovery point the job's UpTo: after the
	// data it declares synced.
	StepCheckpoint
	// StepFile is a file job's only step (NewFileJob): the file written
	// atomically.
	StepFile
	// StepClean is a clean job's only step (NewCleanSyncJob): CleanJob.Run,
	// whose own order of writes survives a power loss at any point
	// (DESIGN.md, "Compaction").
	StepClean
)

// String names the step (coverage and traces).
func (s SyncStep) String() string {
	switch s {
	case StepDirs:
		return "dirs"
	case StepEpochCheckpoint:
		return "epoch-checkpoint"
	case StepData:
		return "data"
	case StepSyncedEnd:
		return "synced-end"
	case StepCheckpoint:
		return "checkpoint"
	case StepFile:
		return "file"
	case StepClean:
		return "clean"
	}
	return fmt.Sprintf("step-%d", uint8(s))
}

// Files is the number of files the job will fsync (for metrics and tests).
func (j *SyncJob) Files() int { return len(j.files) }

// Dirs is the number of directories StepDirs fsyncs: the whole path of a
// new log, or 1 after a roll (for the simulator's coverage and tests).
func (j *SyncJob) Dirs() int { return len(j.dirs) }

// SyncsOwnerFile reports whether the job fsyncs OpenBounds.OwnerFile
// (first in StepData).
func (j *SyncJob) SyncsOwnerFile() bool { return j.ownerFile != nil }

// SyncSteps lists the steps Run takes, in order: StepData always, the
// others when the job has them. The simulator runs a prefix of them
// (RunStep) to cut power between two.
func (j *SyncJob) SyncSteps() []SyncStep {
	if j.filePath != "" {
		return []SyncStep{StepFile}
	}
	if j.clean != nil {
		return []SyncStep{StepClean}
	}
	steps := make([]SyncStep, 0, 5)
	if len(j.dirs) > 0 {
		steps = append(steps, StepDirs)
	}
	if j.epochsPath != "" {
		steps = append(steps, StepEpochCheckpoint)
	}
	steps = append(steps, StepData)
	if j.slot.file != nil {
		steps = append(steps, StepSyncedEnd)
	}
	if j.ckptPath != "" {
		steps = append(steps, StepCheckpoint)
	}
	return steps
}

// Run takes every step of the job in order (SyncSteps), stopping at the
// first failure. It touches nothing of the Log and is the only method
// that may run off the event loop.
func (j *SyncJob) Run() error {
	if j.filePath != "" {
		return j.RunStep(StepFile)
	}
	if j.clean != nil {
		return j.RunStep(StepClean)
	}
	for _, s := range [...]SyncStep{StepDirs, StepEpochCheckpoint, StepData, StepSyncedEnd, StepCheckpoint} {
		if err := j.RunStep(s); err != nil {
			return err
		}
	}
	return nil
}

// RunStep takes one step of Run. Run is RunStep over SyncSteps in order;
// a caller that runs steps itself must keep that order and report the
// first failure (or nil after the last step) to FinishSync. A step the
// job does not have does nothing.
func (j *SyncJob) RunStep(s SyncStep) error {
	switch s {
	case StepDirs:
		for _, dir := range j.dirs {
			if err := j.d.SyncDir(dir); err != nil {
				return fmt.Errorf("sync directory %s: %w", dir, err)
			}
		}
	case StepEpochCheckpoint:
		if j.epochsPath == "" {
			return nil
		}
		if err := j.d.WriteFileAtomic(j.epochsPath, encodeEpochCheckpoint(&j.epochs, j.epochsSeq, j.owner)); err != nil {
			return fmt.Errorf("write leader-epoch checkpoint: %w", err)
		}
	case StepData:
		for _, f := range j.files {
			if err := f.Sync(); err != nil {
				return err
			}
		}
	case StepSyncedEnd:
		return j.slot.run()
	case StepCheckpoint:
		if j.ckptPath == "" {
			return nil
		}
		if err := j.d.WriteFileAtomic(j.ckptPath, encodePartitionCheckpoint(j.ckpt)); err != nil {
			return fmt.Errorf("write checkpoint: %w", err)
		}
	case StepClean:
		if j.clean == nil {
			return nil
		}
		return j.clean.Run()
	case StepFile:
		if j.filePath == "" {
			return nil
		}
		if err := j.d.WriteFileAtomic(j.filePath, j.fileData); err != nil {
			return fmt.Errorf("write %s: %w", j.filePath, err)
		}
	}
	return nil
}

// Open recovers the log stored under dir (creating dir when absent): it
// loads checkpoints, scans every batch after the recovery point validating
// length, magic and CRC, truncates a torn or corrupt tail, rebuilds indexes,
// the leader-epoch cache and the producer state. Data below the recovery
// point that fails validation makes Open fail with ErrCorruptSegment.
//
// Open knows no bound on the leader epochs stored batches can carry; a
// broker that knows one uses Reopen.
func Open(d disk.Disk, dir string, cfg Config, nowMs int64) (*Log, error) {
	return open(d, dir, cfg, nowMs, OpenBounds{DurableEnd: -1, MaxLeaderEpoch: -1})
}

// open is Open with what the caller knows (b.MaxLeaderEpoch and
// b.KeepSyncedDamage; see OpenBounds).
func open(d disk.Disk, dir string, cfg Config, nowMs int64, b OpenBounds) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalized()
	l := &Log{
		d: d, dir: dir, cfg: cfg, lastNowMs: nowMs,
		prefix:         pathPrefix(dir),
		producers:      newProducerTable(cfg.MaxProducerIDs),
		maxLeaderEpoch: max(b.MaxLeaderEpoch, -1),
		keepSynced:     b.KeepSyncedDamage,
		markUncertain:  b.MarkUncertainCut,
		trackSynced:    b.TrackSyncedEnd,
		owner:          b.Owner,
	}
	err := l.recover(nowMs)
	l.scanBuf = nil // recovery's alone
	if err == nil && b.OwnerFile != "" {
		err = l.writeOwnerFile(b.OwnerFile, b.OwnerFileData)
	}
	if err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("partlog: open %s: %w", dir, err)
	}
	return l, nil
}

// Log is one partition's log.
type Log struct {
	d   disk.Disk
	dir string
	// prefix is dir + "/" when dir is plain (plainDir), for path and
	// segFilePath to build file paths without checking dir again; "" if not.
	prefix string
	cfg    Config

	// segs are ordered by base offset and contiguous; the last one is the
	// active segment. Never empty while the log is open.
	segs []*segment

	logStart   int64
	hw         int64
	durableEnd int64
	// ckptRecoveryPoint is the highest recovery point the current
	// checkpoint on disk may hold (the job in flight may still write
	// one); TruncateTo lowers it first when it lies above the cut.
	ckptRecoveryPoint int64
	// ckptHW and ckptLogStart complete the last checkpoint this Log wrote
	// or handed to a job (ckptWritten), so that an unchanged one is not
	// written again.
	ckptHW, ckptLogStart int64
	ckptWritten          bool
	// ckptSeq is the sequence of the last checkpoint written or handed
	// to a job (partitionCheckpoint.seq); ckptDue says RequestCheckpoint
	// asked the next job for one.
	ckptSeq uint64
	// owner is OpenBounds.Owner, written into every checkpoint file.
	owner   string
	ckptDue bool
	// ckptDamaged: recovery found a checkpoint file that does not decode;
	// the next checkpoint is written on the loop, replacing both files
	// (writeCheckpointGen), not by a job, which writes only one.
	// loopCkptExists: checkpointFile was found at open or written since.
	ckptDamaged    bool
	loopCkptExists bool
	// recoveryEpochBound is, during recovery, the latest epoch in the
	// leader-epoch checkpoint (-1 when there is none): the checkpoint is
	// written before any batch of a new epoch, so an unsynced batch that
	// claims a later epoch is damage (its epoch field lies outside the CRC).
	recoveryEpochBound int32
	// maxLeaderEpoch is, during recovery, the caller's bound on the leader
	// epochs of stored batches (OpenBounds.MaxLeaderEpoch; -1 when none).
	maxLeaderEpoch int32
	// keepSynced: recovery fails rather than cut damaged synced data
	// (OpenBounds.KeepSyncedDamage).
	keepSynced bool
	// markUncertain: a cut without a known recovery point writes
	// uncertainFile first (OpenBounds.MarkUncertainCut); uncertain says
	// the file is there (Uncertain).
	markUncertain bool
	uncertain     bool
	// trackSynced: sync jobs write the synced end into syncedEndFile
	// (OpenBounds.TrackSyncedEnd; syncedend.go). syncSeq is the sequence
	// number of the last slot handed to a job, truncGen the truncation
	// generation of the checkpoint (on disk once a job may carry it), and
	// syncedClaim the highest offset a slot of that generation holds or a
	// job may still write.
	trackSynced   bool
	syncedEndFile disk.File
	syncSeq       uint64
	truncGen      int64
	syncedClaim   int64

	epochs    epochCache
	producers producerTable
	// dirsDurable: the directory and its parents are durable. Open
	// leaves the fsyncs of a directory it created to the sync jobs
	// (StepDirs) until one succeeds, or to syncNewDirs.
	dirsDurable bool
	// namesUnsynced: a roll created names in the directory (the new
	// segment, the sealed one's index files) that no directory fsync has
	// made durable yet; the next StartSync's job fsyncs the directory
	// first (StepDirs), before the data that lives under those names.
	namesUnsynced bool
	// ownerFile is the file OpenBounds.OwnerFile wrote, not synced yet:
	// the next StartSync's job fsyncs it before any of its data, then
	// closes it.
	ownerFile disk.File
	// epochsUnsynced: the leader-epoch cache changed since the last
	// checkpoint of it was written or handed to a job; the next StartSync
	// hands a copy to its job (StepEpochCheckpoint). epochSeq is the
	// sequence of the last one (both files share it).
	epochsUnsynced bool
	epochSeq       uint64

	// pendingSync holds sealed segment and index files written since the
	// last StartSync; the active segment's file is added by StartSync when
	// it is dirty.
	pendingSync []disk.File
	inflight    *SyncJob
	// inflightCap lowers the UpTo of the in-flight job when TruncateTo
	// cuts below it: the fsync may or may not include the truncation and
	// what was appended after it.
	inflightCap int64
	// deferredClose holds files of deleted segments that the in-flight job
	// still has to fsync; FinishSync closes them.
	deferredClose []disk.File

	// cleaning is the clean job in flight (StartClean to FinishClean).
	// firstDirty is where the dirty part of the log starts: below it a
	// clean job of this process has deduplicated every key (0 after Open
	// and after a truncation: all dirty). layoutGen counts truncations,
	// which change sealed segments in place: a job started before one is
	// discarded.
	cleaning   *CleanJob
	firstDirty int64
	layoutGen  uint64

	lastNowMs int64
	failed    error
	closed    bool
	recovery  RecoveryInfo

	// changes counts calls of methods that may change the log's state
	// (every exported method but the getters: TestChangesCounted);
	// checkedAt is its value at the last CheckInvariants pass, plus one
	// (zero: never checked). A broker checks every partition after every
	// event of the simulator, and most partitions are idle at most events.
	changes, checkedAt uint64
	// checkedSegs is the segment list as the last check that looked at
	// every segment found it, and sinceFull counts the checks since
	// (checkInvariants).
	checkedSegs []*segment
	sinceFull   int
	// checkedIndex and checkedTimeIndex are the in-memory indexes of
	// checkedIndexSeg, the active segment, as the last check found them
	// good, and indexSinceFull counts the checks since one walked them
	// whole (indexWalkStarts).
	checkedIndexSeg  *segment
	checkedIndex     []indexEntry
	checkedTimeIndex []timeEntry
	indexSinceFull   int
	// checkedProducerGen and checkedProducerLeo are the producer table's
	// gen and the LEO when a check last walked the table and found it
	// good (producersChecked), and producerSinceFull counts the checks
	// since (producerWalkNeeded).
	producersChecked   bool
	checkedProducerGen uint64
	checkedProducerLeo int64
	producerSinceFull  int
	// scanBuf is the window the recovery scan reads segments through
	// (scanner.reuse), dropped when the open ends.
	scanBuf []byte
	// codecs decompress batches that timestamp lookups look inside
	// (SetCodecs); nil builds decoders per lookup.
	codecs *record.Codecs
}

// Append validates one or more v2 record batches (the Records field of one
// produce partition), assigns offsets, stamps leaderEpoch into each batch,
// checks idempotent-producer sequences and writes them to the active segment
// (page cache only: durability comes from StartSync). It rolls the segment
// first when segment.bytes or segment.ms require it. The caller's slice may
// be modified in place (offsets and epoch are written into it).
// On a duplicate idempotent batch it returns the original offsets and
// Duplicate=true without writing.
func (l *Log) Append(batches []byte, leaderEpoch int32, nowMs int64) (AppendResult, error) {
	l.changes++
	return l.appendLeader(batches, leaderEpoch, nowMs, false)
}

// AppendCoordinator is Append for the batches a coordinator writes to its
// own internal partition (Kafka's AppendOrigin.COORDINATOR): a
// transactional batch of a group coordinator (TxnOffsetCommit) carries the
// client's producer id and epoch with base sequence 0, so producer
// sequences are not validated (nor retries detected), while the producer
// epoch still is: a batch of an older epoch than the producer's current
// one is refused with ErrInvalidProducerEpoch, and the batch opens or
// extends the producer's transaction like any transactional batch.
func (l *Log) AppendCoordinator(batches []byte, leaderEpoch int32, nowMs int64) (AppendResult, error) {
	l.changes++
	return l.appendLeader(batches, leaderEpoch, nowMs, true)
}

// Read returns whole batches starting with the batch that contains offset,
// at most maxBytes in total except that the first batch is returned whole
// even when larger (KIP-74), and never any batch whose last offset is at
// or above limitOffset (the high watermark for consumers). It returns
// ErrOffsetOutOfRange when offset < LogStartOffset or offset > LogEndOffset.
// Every batch is CRC-checked before it is returned; a failure yields
// ErrCorruptSegment and nothing is served.
func (l *Log) Read(offset int64, maxBytes int, limitOffset int64) (ReadResult, error) {
	return l.countedRead(nil, offset, maxBytes, limitOffset)
}

// ReadInto is Read building its result in buf's storage (from buf[:0],
// growing it only when it is too small), for a caller that is done with
// the bytes before its next read and reads often: the background
// scrubber, which would otherwise allocate (and clear) up to a pass's
// budget every pass. The result aliases buf.
func (l *Log) ReadInto(buf []byte, offset int64, maxBytes int, limitOffset int64) (ReadResult, error) {
	return l.countedRead(buf[:0], offset, maxBytes, limitOffset)
}

// countedRead runs read and counts a change (for CheckInvariants) only
// when it fails: a successful read changes nothing, and reads are the
// most frequent calls, so counting each made every fetch re-check the
// whole log in the simulator.
func (l *Log) countedRead(out []byte, offset int64, maxBytes int, limitOffset int64) (ReadResult, error) {
	res, err := l.read(out, offset, maxBytes, limitOffset)
	if err != nil {
		l.changes++
	}
	return res, err
}

// LogStartOffset is the first offset still readable.
func (l *Log) LogStartOffset() int64 { return l.logStart }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { return l.active().next }

// DurableEndOffset is the end of the prefix of the log known to be synced.
func (l *Log) DurableEndOffset() int64 { return l.durableEnd }

// HighWatermark is the last value given to SetHighWatermark (or recovered
// from the checkpoint, clamped to the log end).
func (l *Log) HighWatermark() int64 { return l.hw }

// SetHighWatermark records the high watermark; it must lie within
// [LogStartOffset, LogEndOffset]. It is checkpointed by Checkpoint.
// A value outside that range is clamped into it, as Kafka's
// updateHighWatermark does, rather than trusted; on a failed or closed log
// it does nothing.
func (l *Log) SetHighWatermark(hw int64) {
	l.changes++
	if l.closed || l.failed != nil {
		return
	}
	l.hw = min(max(hw, l.logStart), l.LogEndOffset())
}

// StartSync returns a job covering all unsynced writes, or ok=false when
// everything is synced or a job is already in flight (one at a time per
// log: the next job starts after FinishSync, which is what batches many
// appends into one fsync).
func (l *Log) StartSync() (job *SyncJob, ok bool) {
	l.changes++
	return l.startSync()
}

// FinishSync reports the result of job.Run. On success DurableEndOffset
// advances to job.UpTo. On failure the log enters the failed state: every
// later call returns ErrLogFailed (the page cache can no longer be trusted).
func (l *Log) FinishSync(job *SyncJob, err error) {
	l.changes++
	l.finishSync(job, err)
}

// Checkpoint persists the high watermark, recovery point (durable end) and
// log start offset with disk.WriteFileAtomic, now, on the caller's
// goroutine: for a clean shutdown (after the last syncs) and tests. The
// periodic checkpoint is RequestCheckpoint's, off the event loop.
//
// A checkpoint identical to the last one written by this Log is skipped.
func (l *Log) Checkpoint() error {
	l.changes++
	if err := l.usable(); err != nil {
		return err
	}
	if l.checkpointUnchanged(l.durableEnd) && !l.ckptDamaged {
		return nil
	}
	return l.writeCheckpoint(l.durableEnd, l.hw, l.logStart)
}

// RequestCheckpoint asks the next sync job to write the partition
// checkpoint after its fsyncs (StepCheckpoint), with the job's UpTo as the
// recovery point, and reports whether one is due: false when nothing
// changed since the last checkpoint (an idle partition costs no fsync).
// StartSync then returns a job even when no data waits for a sync.
//
// After a recovery that found a checkpoint file damaged, or when the
// loop's checkpoint file no longer decodes, it writes the checkpoint at
// once on the loop instead, as Checkpoint does (replacing the loop's file
// and removing the job's), and reports false; err is that write's
// failure.
func (l *Log) RequestCheckpoint() (due bool, err error) {
	l.changes++
	if err := l.usable(); err != nil {
		return false, err
	}
	if l.ckptDamaged || l.loopCheckpointDamaged() {
		return false, l.writeCheckpoint(l.durableEnd, l.hw, l.logStart)
	}
	if l.checkpointUnchanged(l.LogEndOffset()) && l.durableEnd == l.LogEndOffset() && l.inflight == nil {
		return false, nil
	}
	l.ckptDue = true
	return true, nil
}

// CheckpointRequested reports whether a RequestCheckpoint waits for its
// sync job.
func (l *Log) CheckpointRequested() bool { return l.ckptDue }

// ApplyRetention deletes whole segments that retention.ms or
// retention.bytes allow to go (never the active segment, never data at or
// above the high watermark) and advances the log start offset. It returns
// the number of segments deleted.
func (l *Log) ApplyRetention(nowMs int64) (int, error) {
	l.changes++
	return l.applyRetention(nowMs)
}

// DeleteRecordsBefore moves the log start offset to offset (DeleteRecords):
// offset must be in [LogStartOffset, HighWatermark]; segments entirely below
// it are deleted. The new start is checkpointed before returning.
func (l *Log) DeleteRecordsBefore(offset int64) error {
	l.changes++
	return l.deleteRecordsBefore(offset)
}

// TruncateFullyAndStartAt empties the log and restarts it at start (>= 0),
// which becomes its log start, its log end and its high watermark, with no
// leader epoch cached (Kafka's truncateFullyAndStartAt). Followers use it when their log ends below the
// leader's log start (retention or DeleteRecords on the leader removed
// what they would fetch next), and when the leader's log diverges from
// theirs at or below their own log start (nothing they hold is the
// leader's; the start may then move back, as in Kafka's truncateTo). The
// new start is checkpointed before any file goes, so a crash in between
// is finished by Open.
func (l *Log) TruncateFullyAndStartAt(start int64) error {
	l.changes++
	l.layoutGen++
	l.firstDirty = 0
	return l.truncateFullyAndStartAt(start)
}

// TruncateTo removes every record at or above offset (used by replication
// and recovery); offset is clamped to [LogStartOffset, LogEndOffset].
// Batches are removed whole: when offset falls inside a batch, that batch
// goes too and the log end becomes its base offset (Kafka does the same);
// when that would end the log below its start, the log is emptied and
// restarts at LogStartOffset. The high watermark and durable end offset
// come down with the log end, and the producer state is rebuilt.
func (l *Log) TruncateTo(offset int64) error {
	l.changes++
	l.layoutGen++
	l.firstDirty = 0
	return l.truncateTo(offset)
}

// OffsetForTimestamp returns the first offset whose record timestamp is at
// or after ts, with that timestamp; found=false when none is (ListOffsets by
// timestamp). Only offsets below limitOffset are considered.
func (l *Log) OffsetForTimestamp(ts int64, limitOffset int64) (offset, timestamp int64, found bool, err error) {
	l.changes++ // reads: an error fails the log
	return l.offsetForTimestamp(ts, limitOffset)
}

// MaxTimestamp returns the offset and timestamp of the record with the
// largest timestamp below limitOffset (ListOffsets -3, KIP-734); found=false
// on an empty log.
func (l *Log) MaxTimestamp(limitOffset int64) (offset, timestamp int64, found bool, err error) {
	l.changes++ // reads: an error fails the log
	return l.maxTimestamp(limitOffset)
}

// SetCodecs lends the log the compression state that OffsetForTimestamp
// and MaxTimestamp decompress a batch with, instead of building decoders
// for each lookup. A broker lends every log the one record.Codecs it owns:
// they all run on its event loop, one call at a time.
func (l *Log) SetCodecs(c *record.Codecs) { l.codecs = c }

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the largest epoch <=
// epoch held in the cache and the start offset of the next larger epoch (or
// the log end offset when epoch is the latest). ok=false when epoch is
// below the earliest cached epoch (answer -1,-1... callers map it).
//
// An epoch above the latest one answers the latest epoch and the log end
// offset, following the rule above literally (Kafka answers -1/-1 there;
// a leader never sees it because followers cannot be ahead of it).
func (l *Log) EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64, ok bool) {
	return l.epochs.endOffsetFor(epoch, l.LogEndOffset())
}

// EarliestEpochStart is the start offset of the earliest leader epoch the
// log still caches (retention and DeleteRecords drop entries wholly below
// the log start), or the log end offset when it caches none.
func (l *Log) EarliestEpochStart() int64 {
	if len(l.epochs.entries) == 0 {
		return l.LogEndOffset()
	}
	return l.epochs.entries[0].start
}

// LatestEpoch is the leader epoch of the last batch in the log (-1 if empty).
// After retention or DeleteRecords removed every batch it is still the
// epoch of the last batch the log held.
func (l *Log) LatestEpoch() int32 { return l.epochs.latest() }

// Close syncs nothing: it closes files. Call Checkpoint (after syncing)
// first for a clean shutdown.
// Do not call it while a sync job is in flight: the job's files would be
// closed under it.
func (l *Log) Close() error {
	l.changes++
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	return l.closeFiles()
}

// Delete closes the log and removes every file under its directory.
func (l *Log) Delete() error {
	l.changes++
	if !l.closed {
		l.closed = true
		l.closeFiles()
	}
	if err := l.d.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("partlog: delete %s: %w", l.dir, err)
	}
	return nil
}
