package partlog

import "sort"

// epochEntry says that leader epoch `epoch` wrote the log from offset
// `start` up to the next entry's start (or the log end).
type epochEntry struct {
	epoch int32
	start int64
}

// epochCache is the leader-epoch cache (Kafka's LeaderEpochFileCache):
// entries strictly increasing in both epoch and start offset. It has at
// most one entry per epoch change among the stored batches, plus none
// below the log start (truncateFromStart), so its size is bounded by the
// data it describes; epochs change only on leader elections.
type epochCache struct {
	entries []epochEntry
}

// latest is the newest epoch, -1 when the cache is empty.
func (c *epochCache) latest() int32 {
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].epoch
}

// assign records that epoch starts at start when it is newer than the
// latest one; it reports whether the cache changed. Callers reject epochs
// below the latest before writing, so an older epoch never reaches here
// except from a stored batch with the same epoch as the latest.
func (c *epochCache) assign(epoch int32, start int64) bool {
	if epoch < 0 || epoch <= c.latest() {
		return false
	}
	c.entries = append(c.entries, epochEntry{epoch: epoch, start: start})
	return true
}

// truncateFromEnd drops the entries starting at or after end (TruncateTo).
func (c *epochCache) truncateFromEnd(end int64) bool {
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].start >= end })
	if i == len(c.entries) {
		return false
	}
	c.entries = c.entries[:i]
	return true
}

// truncateFromStart drops entries that describe only offsets below
// logStart: those whose successor starts at or below it. The entry that
// covers logStart itself stays, so the latest epoch survives even when
// every record is deleted.
func (c *epochCache) truncateFromStart(logStart int64) bool {
	n := 0
	for n+1 < len(c.entries) && c.entries[n+1].start <= logStart {
		n++
	}
	if n == 0 {
		return false
	}
	c.entries = append(c.entries[:0:0], c.entries[n:]...)
	return true
}

// epochAt is the epoch of the entry covering offset; ok=false when offset
// lies before the first entry.
func (c *epochCache) epochAt(offset int64) (int32, bool) {
	// sort.Search's bisection without its closure call per step: every
	// batch a read returns is checked against the cache.
	i, j := 0, len(c.entries)
	for i < j {
		h := int(uint(i+j) >> 1)
		if c.entries[h].start > offset {
			j = h
		} else {
			i = h + 1
		}
	}
	if i == 0 {
		return -1, false
	}
	return c.entries[i-1].epoch, true
}

// endOffsetFor implements EndOffsetForEpoch over the entries.
func (c *epochCache) endOffsetFor(epoch int32, logEnd int64) (int32, int64, bool) {
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].epoch > epoch })
	if i == 0 {
		return -1, -1, false
	}
	if i == len(c.entries) {
		return c.entries[i-1].epoch, logEnd, true
	}
	return c.entries[i-1].epoch, c.entries[i].start, true
}

// equal reports whether two caches hold the same entries.
func (c *epochCache) equal(o *epochCache) bool {
	if len(c.entries) != len(o.entries) {
		return false
	}
	for i := range c.entries {
		if c.entries[i] != o.entries[i] {
			return false
		}
	}
	return true
}
