package broker

// Background scrubbing.
//
// A bit flipped by the medium in a batch nobody reads again stays
// unnoticed: recovery CRC-checks only what lies past the recovery point,
// a follower never re-reads what it fetched, and consumers of a follower's
// partition read from the leader. The damage surfaces only when that copy
// is needed (it becomes leader after the others failed), which is the
// worst moment (simulator FINDINGS.md 20). Kafka has the same gap.
//
// So every ScrubIntervalMs the broker reads up to ScrubBytesPerPass bytes
// of its open partitions through the log's normal read path, which
// checks every batch it returns (framing, offsets, stored epoch, CRC). Each
// partition keeps a cursor (an offset) that advances over the log from its
// start up to the lower of the high watermark and the durable end, then
// wraps to the log start; the pass moves on to the next partition in topic
// order when a partition's cursor wraps, and resumes the next pass where
// the budget ran out, so the broker's whole data is read once per
// (total bytes / ScrubBytesPerPass) intervals whatever the number of
// partitions. Only synced data is scrubbed: bytes above the durable end may
// legitimately be lost to a failed writeback (partlog.ErrUnsyncedLost), and
// they are checked by recovery anyway.
//
// A scrub read that fails as a storage error (partlog.ErrCorruptSegment
// for a bad batch, or an I/O error) takes the partition offline exactly as
// a client's read does (takeOffline, logged as "partition offline"; a
// leader resigns so that another ISR member leads): a damaged copy is
// reported, and in a cluster the partition keeps its good copies. The
// cursors live in memory only; after a restart scrubbing starts again from
// the log start.
//
// The reads run on the event loop, so a pass is kept small: the default,
// 1 MiB a second, is about 1% of a disk's sequential bandwidth and a stall
// of a few milliseconds at most (1 MiB read and CRC-checked), and covers
// about 84 GiB a day.

import "fmt"

// scrubState is the broker's scrubbing progress: when the last pass ran
// and which partition the next one starts with.
type scrubState struct {
	lastMs int64
	// soon makes the next Tick run a pass: a log was opened (at start,
	// or reopened), and a restarted broker should look at its data
	// before its copy is needed, for it rejoins ISRs within moments
	// (simulator seed 94: a copy reported corrupt before a restart
	// rejoined the ISR and became its last member).
	soon bool
	// nextTopic and nextIndex name the partition the next pass starts
	// with; a deleted one is replaced by the next in topic order.
	nextTopic string
	nextIndex int32
	// bytes counts the bytes scrubbed and wraps the partition cursors
	// that reached their end (for tests and the simulator's coverage).
	bytes int64
	wraps int64
	// buf is reused by every scrub read (partlog.ReadInto): the bytes
	// are only checked, never kept. It grows to at most a pass's budget
	// (ScrubBytesPerPass, bounded by Validate) or one oversized batch.
	buf []byte
}

// ScrubStats reports how much the scrubber read and how many times a
// partition's cursor reached the end of its log and wrapped.
func (b *Broker) ScrubStats() (bytes, wraps int64) { return b.scrub.bytes, b.scrub.wraps }

// scrubEnabled says the configuration asks for scrubbing.
func (b *Broker) scrubEnabled() bool { return b.cfg.ScrubBytesPerPass > 0 }

// scrubTick runs a pass when one is due.
func (b *Broker) scrubTick(nowMs int64) {
	if !b.scrubEnabled() {
		return
	}
	// A clock that went back makes the pass due rather than late.
	if !b.scrub.soon && nowMs-b.scrub.lastMs < b.cfg.ScrubIntervalMs && nowMs >= b.scrub.lastMs {
		return
	}
	b.scrub.lastMs, b.scrub.soon = nowMs, false
	b.scrubPass()
}

// scrubNextWakeMs lowers next to the time the next pass is due.
func (b *Broker) scrubNextWakeMs(next int64) int64 {
	if !b.scrubEnabled() {
		return next
	}
	return min(next, b.scrub.lastMs+b.cfg.ScrubIntervalMs)
}

// scrubPass reads up to ScrubBytesPerPass bytes, visiting each partition
// at most once, from the one the last pass stopped in.
func (b *Broker) scrubPass() {
	var all []*partition
	start := -1
	for _, ts := range b.orderedTopics() {
		for _, p := range ts.partitions {
			if start < 0 && (ts.meta.Name > b.scrub.nextTopic || (ts.meta.Name == b.scrub.nextTopic && p.index >= b.scrub.nextIndex)) {
				start = len(all)
			}
			all = append(all, p)
		}
	}
	if len(all) == 0 {
		return
	}
	start = max(start, 0) // past the last partition: wrap to the first
	budget := b.cfg.ScrubBytesPerPass
	for i := range all {
		p := all[(start+i)%len(all)]
		if p.log == nil || p.deleted {
			continue
		}
		n, done := b.scrubPartition(p, budget)
		budget -= n
		if budget <= 0 {
			if done {
				p = all[(start+i+1)%len(all)]
			}
			b.scrub.nextTopic, b.scrub.nextIndex = p.topic.meta.Name, p.index
			return
		}
	}
}

// scrubPartition reads up to budget bytes of p's log from its cursor
// (the first batch whole even when larger). It returns the bytes read and
// whether the cursor reached the end of the scrubbed range (and wrapped)
// or the partition went offline.
func (b *Broker) scrubPartition(p *partition, budget int64) (int64, bool) {
	l := p.log
	start := l.LogStartOffset()
	limit := min(l.HighWatermark(), l.DurableEndOffset())
	// Retention, DeleteRecords or a truncation moved the log under the
	// cursor: start over.
	if p.scrubOffset < start || p.scrubOffset > l.LogEndOffset() {
		p.scrubOffset = start
	}
	if p.scrubOffset >= limit {
		b.scrubWrap(p, p.scrubOffset > start)
		return 0, true
	}
	res, err := l.ReadInto(b.scrub.buf, p.scrubOffset, int(min(budget, 1<<30)), limit)
	if cap(res.Records) > cap(b.scrub.buf) {
		b.scrub.buf = res.Records[:0]
	}
	if err != nil {
		if kerrForLogError(err) == kerrKafkaStorageError {
			b.takeOffline(p, fmt.Errorf("scrub: %w", err))
		} else {
			b.env.Logger.Warn("scrub read failed", "partition", p.dir, "offset", p.scrubOffset, "err", err)
			p.scrubOffset = start
		}
		return 0, true
	}
	n := int64(len(res.Records))
	b.scrub.bytes += n
	next := res.NextOffset
	if n == 0 || next >= limit {
		// Nothing more below the limit (also when the batch at the
		// cursor straddles it): the range is done.
		b.scrubWrap(p, true)
		return n, true
	}
	p.scrubOffset = next
	return n, false
}

// scrubWrap puts p's cursor back at its log start; moved says it had
// scrubbed something since the last wrap (an empty range wrapping at
// every pass is not counted).
func (b *Broker) scrubWrap(p *partition, moved bool) {
	p.scrubOffset = p.log.LogStartOffset()
	if moved {
		b.scrub.wraps++
	}
}
