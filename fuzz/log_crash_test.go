package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/record"
)

// crashConfig picks the log configuration of a FuzzLogCrash run from its
// seed: small segments and dense indexes so that short runs roll, index
// and cross segment boundaries.
func crashConfig(seed uint64) partlog.Config {
	cfg := partlog.DefaultConfig()
	cfg.RetentionMs = -1
	cfg.SegmentMs = 10_000
	cfg.SegmentBytes = []int64{120, 400, 4096, 1 << 20}[seed%4]
	cfg.IndexIntervalBytes = []int64{0, 64, 4096}[(seed>>2)%3]
	cfg.RetentionBytes = []int64{-1, 300}[(seed>>4)%2]
	return cfg
}

// Damage kinds applied to the crashed disk, one per 5-byte group of the
// damage input: kind, file selector, position (2 bytes), mask.
const (
	damageFlip = iota
	damageFlipAgain
	damageTruncate
	damageRemove
	damageKinds
)

// logModel is what the harness knows about the log it drives.
type logModel struct {
	t   *testing.T
	d   *memdisk.Disk
	l   *partlog.Log
	cfg partlog.Config
	// history holds every batch ever read back at each base offset:
	// after a truncation that was not durable, the old batch may
	// legitimately come back after a crash, so more than one can exist.
	history  map[int64][][]byte
	epoch    int32
	nowMs    int64
	inflight *partlog.SyncJob
	maxBytes int
}

// remember reads back the batches in [from, to) and adds them to history.
func (m *logModel) remember(from, to int64) {
	m.t.Helper()
	batches, err := readAllChecked(m.t, m.l, from, to, m.maxBytes)
	if err != nil {
		m.t.Fatalf("reading back [%d, %d) just appended: %v", from, to, err)
	}
	for _, b := range batches {
		h, _ := record.ParseHeader(b)
		known := false
		for _, old := range m.history[h.BaseOffset] {
			known = known || bytes.Equal(old, b)
		}
		if !known {
			m.history[h.BaseOffset] = append(m.history[h.BaseOffset], b)
		}
	}
}

// step runs one operation chosen by op, reading its arguments from args.
func (m *logModel) step(op byte, args func() byte) {
	m.t.Helper()
	l := m.l
	switch op % 10 {
	case 0, 1, 2: // append one batch
		n := 1 + int(op/10)%8
		size := int(args())
		c := rebuildCodecs[int(args())%len(rebuildCodecs)]
		recs := make([]record.Record, n)
		for i := range recs {
			recs[i] = record.Record{Timestamp: m.nowMs + int64(i), Key: []byte{byte(i)}, Value: bytes.Repeat([]byte{byte(m.nowMs) + byte(i)}, size)}
		}
		opts := record.DefaultBatchOptions()
		opts.Codec, opts.SnappyXerial = c.codec, c.xerial
		b := record.MustBuild(opts, recs)
		leo := l.LogEndOffset()
		res, err := l.Append(b, m.epoch, m.nowMs)
		if err != nil {
			m.t.Fatalf("Append at %d (epoch %d): %v", leo, m.epoch, err)
		}
		if res.BaseOffset != leo || res.LastOffset != leo+int64(n)-1 || l.LogEndOffset() != leo+int64(n) {
			m.t.Fatalf("Append at %d of %d records: %+v, log end %d", leo, n, res, l.LogEndOffset())
		}
		m.remember(leo, l.LogEndOffset())
	case 3: // a new leader epoch
		m.epoch += 1 + int32(args()%3)
	case 4: // finish any in-flight sync, then sync everything
		if m.inflight != nil {
			l.FinishSync(m.inflight, m.inflight.Run())
			m.inflight = nil
		}
		syncLog(m.t, l)
	case 5: // start a sync job (the fsync runs later), or run and finish it
		if m.inflight == nil {
			if job, ok := l.StartSync(); ok {
				m.inflight = job
			}
		} else {
			l.FinishSync(m.inflight, m.inflight.Run())
			m.inflight = nil
		}
	case 6: // checkpoint
		l.SetHighWatermark(l.DurableEndOffset())
		if err := l.Checkpoint(); err != nil {
			m.t.Fatalf("Checkpoint: %v", err)
		}
	case 7: // truncate (a follower cutting a divergent suffix)
		span := l.LogEndOffset() - l.LogStartOffset()
		to := l.LogEndOffset() - int64(args())%(span+1)
		if err := l.TruncateTo(to); err != nil {
			m.t.Fatalf("TruncateTo(%d): %v", to, err)
		}
		if l.LogEndOffset() > to {
			m.t.Fatalf("TruncateTo(%d) left the log end at %d", to, l.LogEndOffset())
		}
	case 8: // DeleteRecords up to at most the durable end
		l.SetHighWatermark(l.DurableEndOffset())
		span := l.HighWatermark() - l.LogStartOffset()
		to := l.LogStartOffset() + int64(args())%(span+1)
		if err := l.DeleteRecordsBefore(to); err != nil {
			m.t.Fatalf("DeleteRecordsBefore(%d) with log [%d, %d) hw %d: %v", to, l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark(), err)
		}
		if l.LogStartOffset() != to {
			m.t.Fatalf("DeleteRecordsBefore(%d) left the log start at %d", to, l.LogStartOffset())
		}
	case 9:
		switch sub := args(); sub % 3 {
		case 0: // time passes (segment.ms rolls)
			m.nowMs += int64(args()) * 100
		case 1: // clean restart: finish the in-flight sync, close, reopen
			if m.inflight != nil {
				l.FinishSync(m.inflight, m.inflight.Run())
				m.inflight = nil
			}
			leo := l.LogEndOffset()
			if err := l.Close(); err != nil {
				m.t.Fatalf("Close: %v", err)
			}
			reopened, err := partlog.Open(m.d, logDir, m.cfg, m.nowMs)
			if err != nil {
				m.t.Fatalf("reopen after a clean close: %v", err)
			}
			// Unsynced data is still in the page cache: nothing is lost.
			if reopened.LogEndOffset() != leo {
				m.t.Fatalf("reopen after a clean close: log end %d, was %d", reopened.LogEndOffset(), leo)
			}
			m.l, l = reopened, reopened
		case 2: // retention (by bytes, never at or above the high watermark)
			l.SetHighWatermark(l.DurableEndOffset())
			if _, err := l.ApplyRetention(m.nowMs); err != nil {
				m.t.Fatalf("ApplyRetention: %v", err)
			}
		}
	}
	m.nowMs++
	l.CheckInvariants()
}

// FuzzLogCrash builds a log with partlog itself (appends in every codec,
// new leader epochs, syncs that complete, syncs started but never run,
// checkpoints, truncations, DeleteRecords, retention by size, time
// passing, clean restarts: one operation per byte of ops, some taking the
// next bytes as arguments), then crashes the disk with memdisk.Crash, keeping a
// seed-chosen torn prefix of every unsynced write, damages the crashed disk
// (bit flips, truncations and removals of files chosen by damage, 5 bytes
// each), and reopens the log.
//
// Invariants:
//   - every operation succeeds and the log passes CheckInvariants after
//     each; everything appended reads back as whole, dense, CRC-valid
//     batches; a clean close and reopen keeps the log end, unsynced data
//     included (it is still in the page cache);
//   - without damage to segment files (the checkpoint, epoch and index
//     files may be damaged or gone: they are verified or rebuilt), Open
//     succeeds, reports no lost durable data, keeps the log start, and
//     serves every batch below the pre-crash DurableEndOffset byte for
//     byte; nothing it serves was never appended (a batch cut by a
//     truncation may reappear only if it was the batch appended at that
//     offset);
//   - with damaged segment files, Open and Read fail only with
//     ErrCorruptSegment, and whatever Read serves passes record.Check and
//     was appended at that offset (its leader epoch, which the CRC does
//     not cover, aside);
//   - the reopened log accepts appends, syncs, and keeps them across one
//     more crash.
func FuzzLogCrash(f *testing.F) {
	appendOps := []byte{0, 10, 20, 30, 40, 50, 60, 70}
	// Appends with a full sync and checkpoint, then unsynced appends.
	f.Add([]byte{0, 50, 3, 1, 10, 40, 3, 2, 20, 5, 1, 4, 6, 0, 9, 0, 10, 1, 5}, []byte{}, uint64(0))
	// Many small batches rolling segments, a truncation, more appends.
	f.Add(append(append(bytes.Clone(appendOps), 4, 6, 7, 5, 0, 60, 2), appendOps...), []byte{}, uint64(1))
	// An in-flight sync that never runs, then a crash with torn writes.
	f.Add([]byte{0, 200, 0, 4, 10, 200, 5, 5, 20, 100, 2, 0, 1, 1}, []byte{}, uint64(4))
	// DeleteRecords, a checkpoint, time passing, a new epoch.
	f.Add([]byte{0, 9, 1, 10, 9, 2, 4, 8, 7, 6, 9, 200, 3, 1, 0, 3, 3, 4}, []byte{}, uint64(9))
	// The same with damage: a flipped byte in the first segment, a
	// truncated checkpoint, a removed index.
	f.Add([]byte{0, 9, 1, 10, 9, 2, 4, 6, 20, 5, 0, 4}, []byte{damageFlip, 0, 0, 80, 0x40}, uint64(2))
	f.Add([]byte{0, 9, 1, 10, 9, 2, 4, 6, 20, 5, 0, 4}, []byte{damageTruncate, 255, 0, 10, 0}, uint64(6))
	f.Add(append(bytes.Clone(appendOps), 4, 6), []byte{damageRemove, 1, 0, 0, 0, damageFlip, 2, 0, 3, 1}, uint64(1))
	// Clean restarts with unsynced data, retention by size (seed bit 4).
	f.Add([]byte{0, 100, 0, 10, 100, 1, 4, 6, 20, 100, 2, 9, 1, 30, 50, 3, 9, 2, 4, 9, 2, 6, 9, 1, 0, 20, 0}, []byte{}, uint64(16+1))
	f.Add([]byte{0, 100, 0, 4, 20, 100, 2, 9, 1, 5, 10, 9, 9, 0, 200, 0, 3, 5, 9, 1}, []byte{}, uint64(16+4))

	f.Fuzz(func(t *testing.T, ops, damage []byte, seed uint64) {
		if len(ops) > 200 {
			ops = ops[:200] // bounds the run time of one input
		}
		cfg := crashConfig(seed)
		d := memdisk.New()
		l, err := partlog.Open(d, logDir, cfg, logStartMs)
		if err != nil {
			t.Fatalf("Open on an empty disk: %v", err)
		}
		m := &logModel{t: t, d: d, l: l, cfg: cfg, history: map[int64][][]byte{}, nowMs: logStartMs, maxBytes: 1 + int(seed>>8)%3000}
		for i := 0; i < len(ops); {
			op := ops[i]
			i++
			args := func() byte {
				if i < len(ops) {
					i++
					return ops[i-1]
				}
				return 0
			}
			m.step(op, args)
		}

		// What a crash must keep.
		l = m.l
		durableEnd, logStart := l.DurableEndOffset(), l.LogStartOffset()
		durable, err := readAllChecked(t, l, logStart, durableEnd, 1<<20)
		if err != nil {
			t.Fatalf("reading the durable prefix [%d, %d): %v", logStart, durableEnd, err)
		}

		rng := memdisk.NewSplitMix64(seed)
		crashed := d.Crash(rng.Intn)
		segDamaged, ckptDamaged := damageDisk(t, crashed, damage)

		l2, err := partlog.Open(crashed, logDir, cfg, m.nowMs)
		if err != nil {
			if segDamaged && errors.Is(err, partlog.ErrCorruptSegment) {
				return
			}
			t.Fatalf("Open after the crash (segments damaged: %v): %v", segDamaged, err)
		}
		checkLogState(t, l2)
		info := l2.Recovery()
		got, rerr := readAllChecked(t, l2, l2.LogStartOffset(), l2.LogEndOffset(), m.maxBytes)
		if rerr != nil && (!segDamaged || !errors.Is(rerr, partlog.ErrCorruptSegment)) {
			t.Fatalf("Read after the crash (segments damaged: %v): %v", segDamaged, rerr)
		}
		for _, b := range got {
			h, _ := record.ParseHeader(b)
			if !m.appended(h.BaseOffset, b, segDamaged) {
				t.Fatalf("after the crash the log serves a batch at offset %d that was never appended there", h.BaseOffset)
			}
		}
		if !segDamaged {
			if info.LostDurableData {
				t.Fatalf("recovery reports lost durable data without damage to segments: %+v", info)
			}
			if l2.LogEndOffset() < durableEnd {
				t.Fatalf("log end %d after the crash is below the durable end %d before it (recovery: %+v)", l2.LogEndOffset(), durableEnd, info)
			}
			if !ckptDamaged && l2.LogStartOffset() != logStart {
				t.Fatalf("log start %d after the crash, %d before", l2.LogStartOffset(), logStart)
			}
			if l2.LogStartOffset() > logStart {
				t.Fatalf("log start moved forward across a crash: %d, was %d", l2.LogStartOffset(), logStart)
			}
			served := map[int64][]byte{}
			for _, b := range got {
				h, _ := record.ParseHeader(b)
				served[h.BaseOffset] = b
			}
			for _, b := range durable {
				h, _ := record.ParseHeader(b)
				if h.BaseOffset < l2.LogStartOffset() {
					continue
				}
				if !bytes.Equal(served[h.BaseOffset], b) {
					t.Fatalf("durable batch at offset %d (durable end %d) lost or changed across the crash (recovery: %+v)", h.BaseOffset, durableEnd, info)
				}
			}
		}

		// The recovered log keeps working and survives another crash.
		if !appendAndSync(t, l2, m.nowMs+1) {
			return
		}
		end := l2.LogEndOffset()
		l3, err := partlog.Open(crashed.Crash(nil), logDir, cfg, m.nowMs+2)
		if err != nil {
			t.Fatalf("Open after a second crash: %v", err)
		}
		checkLogState(t, l3)
		if l3.LogEndOffset() != end {
			t.Fatalf("synced appends lost in a second crash: log end %d, was %d", l3.LogEndOffset(), end)
		}
	})
}

// appended reports whether b is a batch the model appended at base. When
// segments were damaged the leader epoch, outside the CRC, may differ.
func (m *logModel) appended(base int64, b []byte, segDamaged bool) bool {
	for _, old := range m.history[base] {
		if bytes.Equal(old, b) {
			return true
		}
		if segDamaged && len(old) == len(b) && bytes.Equal(old[:record.OffsetPartitionLeaderEpoch], b[:record.OffsetPartitionLeaderEpoch]) &&
			bytes.Equal(old[record.OffsetMagic:], b[record.OffsetMagic:]) {
			return true
		}
	}
	return false
}

// damageDisk applies the damage groups to the files of the partition
// directory and reports whether a segment file and whether the partition
// checkpoint were touched.
func damageDisk(t *testing.T, d *memdisk.Disk, damage []byte) (segDamaged, ckptDamaged bool) {
	t.Helper()
	for ; len(damage) >= 5; damage = damage[5:] {
		names, err := d.List(logDir)
		if err != nil || len(names) == 0 {
			return
		}
		name := names[int(damage[1])%len(names)]
		full := path.Join(logDir, name)
		data, err := d.ReadFile(full)
		if err != nil {
			t.Fatalf("damage: read %s: %v", full, err)
		}
		pos := int64(binary.BigEndian.Uint16(damage[2:]))
		kind := damage[0] % damageKinds
		if len(data) == 0 && kind != damageRemove {
			continue
		}
		switch kind {
		case damageFlip, damageFlipAgain:
			mask := damage[4]
			if mask == 0 {
				mask = 1
			}
			if err := d.Corrupt(full, pos%int64(len(data)), mask); err != nil {
				t.Fatalf("damage: %v", err)
			}
		case damageTruncate:
			f, err := d.OpenFile(full, false)
			if err != nil {
				t.Fatalf("damage: open %s: %v", full, err)
			}
			if err := f.Truncate(pos % int64(len(data))); err != nil {
				t.Fatalf("damage: truncate %s: %v", full, err)
			}
			if err := f.Sync(); err != nil {
				t.Fatalf("damage: sync %s: %v", full, err)
			}
			f.Close()
		case damageRemove:
			if err := d.Remove(full); err != nil {
				t.Fatalf("damage: remove %s: %v", full, err)
			}
			if err := d.SyncDir(logDir); err != nil {
				t.Fatalf("damage: sync dir: %v", err)
			}
		}
		switch {
		case strings.HasSuffix(name, ".log"):
			segDamaged = true
		case name == checkpointName:
			ckptDamaged = true
		}
	}
	return segDamaged, ckptDamaged
}
