package partlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/chronik-streaming/chronik/core/disk"
)

// The synced end (OpenBounds.TrackSyncedEnd) is how far the log was synced,
// written by every sync job that advances it as its last step, after the
// segment fsyncs, so that every batch a caller acknowledged (acks wait for
// FinishSync) lies below a durable synced end. Recovery needs it because
// the checkpointed recovery point trails the fsyncs by up to a checkpoint
// interval, and a damaged batch above the recovery point looks exactly like
// a torn tail (simulator seed 818001154, FINDINGS.md 42).
//
// The file holds two fixed slots, written alternately (WriteAt then Sync),
// TigerBeetle's superblock copies in miniature: a write torn by a power
// loss damages only the slot being written, and recovery takes the valid
// slot with the highest sequence number. Each slot is 32 bytes at the
// start of its own 512-byte sector:
//
//	magic "CSE1" | sequence uint64 | offset int64 | generation int64 | CRC-32C of the 28 bytes before it
//
// all big-endian. The generation is the partition checkpoint's truncation
// generation when the job started (see truncGen): a job runs off the event
// loop and may write its slot after a truncation cut the log below what it
// claims; the truncation first checkpointed a new generation, so recovery
// ignores that stale slot.
const (
	syncedEndFile  = "synced-end"
	syncedEndMagic = "CSE1"
	slotSize       = 32
	// slotStride keeps the slots in different sectors, so that a torn
	// sector write cannot damage both.
	slotStride = 512
)

// syncedEndSlot is one decoded slot.
type syncedEndSlot struct {
	seq    uint64
	offset int64
	gen    int64
}

func encodeSlot(buf *[slotSize]byte, s syncedEndSlot) {
	copy(buf[0:4], syncedEndMagic)
	binary.BigEndian.PutUint64(buf[4:12], s.seq)
	binary.BigEndian.PutUint64(buf[12:20], uint64(s.offset))
	binary.BigEndian.PutUint64(buf[20:28], uint64(s.gen))
	binary.BigEndian.PutUint32(buf[28:32], crc32.Checksum(buf[:28], castagnoli))
}

func decodeSlot(buf []byte) (syncedEndSlot, bool) {
	if len(buf) != slotSize || string(buf[0:4]) != syncedEndMagic ||
		binary.BigEndian.Uint32(buf[28:32]) != crc32.Checksum(buf[:28], castagnoli) {
		return syncedEndSlot{}, false
	}
	s := syncedEndSlot{
		seq:    binary.BigEndian.Uint64(buf[4:12]),
		offset: int64(binary.BigEndian.Uint64(buf[12:20])),
		gen:    int64(binary.BigEndian.Uint64(buf[20:28])),
	}
	if s.offset < 0 || s.gen < 0 {
		return syncedEndSlot{}, false
	}
	return s, true
}

// slotWrite is what a sync job writes into the synced-end file after its
// fsyncs; file is nil when the job claims nothing new.
type slotWrite struct {
	file disk.File
	slot syncedEndSlot
	buf  [slotSize]byte // encoded in Run, off the loop; part of the job, so no allocation
}

// run writes and syncs the slot (SyncJob.Run's last step).
func (w *slotWrite) run() error {
	if w.file == nil {
		return nil
	}
	encodeSlot(&w.buf, w.slot)
	if _, err := w.file.WriteAt(w.buf[:], int64(w.slot.seq%2)*slotStride); err != nil {
		return fmt.Errorf("write synced end %d: %w", w.slot.offset, err)
	}
	if err := w.file.Sync(); err != nil {
		return fmt.Errorf("sync synced end %d: %w", w.slot.offset, err)
	}
	return nil
}

// openSyncedEnd opens (creating it durably when absent) the synced-end
// file during recovery and reads its slots. It sets the sequence the next
// job continues from, the truncation generation to use (ck.truncGen, or,
// when the checkpoint is unreadable or absent while slots exist, one above
// every slot's so that no slot on disk can match it) and what the slots of
// that generation already claim. It sets the synced end recovery may
// trust (RecoveryInfo.SyncedEnd, left -1 when none): only a slot whose
// generation equals a readable checkpoint's (an absent checkpoint was
// never written, so no truncation bumped the generation: 0) says that
// everything below its offset was synced since the last truncation below
// it.
func (l *Log) openSyncedEnd(present bool, ck partitionCheckpoint) error {
	name := l.path(syncedEndFile)
	f, err := l.d.OpenFile(name, !present)
	if err != nil {
		return fmt.Errorf("open %s: %w", syncedEndFile, err)
	}
	l.syncedEndFile = f
	if !present && l.dirsDurable {
		// The name must be durable before a job writes a slot into it
		// (in a new directory, the job's StepDirs makes it so first).
		if err := l.d.SyncDir(l.dir); err != nil {
			return fmt.Errorf("sync directory after creating %s: %w", syncedEndFile, err)
		}
	}
	var slots []syncedEndSlot
	var buf [slotSize]byte
	for i := range int64(2) {
		n, err := f.ReadAt(buf[:], i*slotStride)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s slot %d: %w", syncedEndFile, i, err)
		}
		if s, ok := decodeSlot(buf[:n]); ok && s.seq%2 == uint64(i) {
			slots = append(slots, s)
		}
	}
	l.truncGen = ck.truncGen
	if !l.recovery.CheckpointFound {
		l.truncGen = 0
		if l.recovery.CheckpointCorrupt || slices.ContainsFunc(slots, func(s syncedEndSlot) bool { return s.gen > 0 }) {
			for _, s := range slots {
				l.truncGen = max(l.truncGen, s.gen+1)
			}
		}
	}
	var best syncedEndSlot
	for _, s := range slots {
		l.syncSeq = max(l.syncSeq, s.seq)
		if s.gen == l.truncGen {
			l.syncedClaim = max(l.syncedClaim, s.offset)
		}
		if s.seq >= best.seq {
			best = s
		}
	}
	if len(slots) > 0 && best.gen == l.truncGen && !l.recovery.CheckpointCorrupt {
		l.recovery.SyncedEnd = best.offset
	}
	return nil
}

// claimSyncedEnd gives a job that advances the log's claimed synced end the
// slot it writes after its fsyncs (StartSync).
func (l *Log) claimSyncedEnd(job *SyncJob) {
	if l.syncedEndFile == nil || job.UpTo <= l.syncedClaim {
		return
	}
	l.syncSeq++
	job.slot = slotWrite{file: l.syncedEndFile, slot: syncedEndSlot{seq: l.syncSeq, offset: job.UpTo, gen: l.truncGen}}
	l.syncedClaim = job.UpTo
}

// needsNewGeneration reports whether cutting the log at cut makes a synced
// end that a slot holds, or that a job in flight may still write, claim
// records that are gone: then the truncation checkpoints a new generation
// first (writeCheckpointBumped), so that recovery ignores those slots.
func (l *Log) needsNewGeneration(cut int64) bool {
	return l.syncedEndFile != nil && l.syncedClaim > cut
}

// writeCheckpointBumped writes the partition checkpoint with the next
// truncation generation, which only then becomes the log's: every job
// started afterwards writes it, and the slots with the old one are stale.
func (l *Log) writeCheckpointBumped(recoveryPoint, hw, logStart int64) error {
	if err := l.writeCheckpointGen(recoveryPoint, hw, logStart, l.truncGen+1); err != nil {
		return err
	}
	l.truncGen++
	l.syncedClaim = 0
	return nil
}
