package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
)

// Time is virtual time in microseconds since the start of a run.
type Time int64

// Units of virtual time.
const (
	Microsecond Time = 1
	Millisecond Time = 1000
	Second      Time = 1000 * Millisecond
)

// String renders t as seconds with microsecond precision.
func (t Time) String() string {
	sign := ""
	if t < 0 {
		sign, t = "-", -t
	}
	return fmt.Sprintf("%s%d.%06ds", sign, t/Second, t%Second)
}

// Seconds converts t to float seconds.
func (t Time) Seconds() float64 { return float64(t) / float64(Second) }

// Round rounds t to milliseconds.
func (t Time) Round() Time { return (t + Millisecond/2) / Millisecond * Millisecond }

// event is one scheduled action. Events run in (at, seq) order; seq is the
// order in which they were scheduled, which makes ties deterministic.
type event struct {
	at   Time
	seq  uint64
	kind string
	fn   func()
}

// scheduler is the virtual clock and the event queue: a 4-ary heap
// ordered by (at, seq). It is the event loop of every simulated node and
// client; nothing in a run happens outside an event. Keys are unique, so
// the order of events does not depend on the heap's shape; four children
// per node halve its depth (a run's queue holds a few hundred events), and
// sifting moves a hole rather than swapping, which matters with events
// held by value.
type scheduler struct {
	now Time
	seq uint64
	// heap holds the events by value: no allocation per event, and
	// comparisons read the slice rather than chase pointers.
	heap []event
	// cur is the event pop returned last.
	cur event
	// handled counts events run, for the speed figures.
	handled uint64
}

// before reports whether a runs before b.
func before(a, b *event) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// at schedules fn at time t (not before now).
func (s *scheduler) at(t Time, kind string, fn func()) {
	if t < s.now {
		t = s.now
	}
	s.seq++
	ev := event{at: t, seq: s.seq, kind: kind, fn: fn}
	s.heap = append(s.heap, event{})
	i := len(s.heap) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !before(&ev, &s.heap[p]) {
			break
		}
		s.heap[i] = s.heap[p]
		i = p
	}
	s.heap[i] = ev
}

// after schedules fn d after now.
func (s *scheduler) after(d Time, kind string, fn func()) { s.at(s.now+d, kind, fn) }

// pop removes and returns the next event, or nil when the queue is empty.
// The event stays valid until the next pop.
func (s *scheduler) pop() *event {
	n := len(s.heap)
	if n == 0 {
		return nil
	}
	s.cur = s.heap[0]
	last := s.heap[n-1]
	s.heap[n-1] = event{} // drop the closure for the collector
	s.heap = s.heap[:n-1]
	n--
	if n > 0 {
		// Sift the last event down from the root's hole.
		h := s.heap
		i := 0
		for {
			c := 4*i + 1
			if c >= n {
				break
			}
			m := c
			for k := c + 1; k < c+4 && k < n; k++ {
				if before(&h[k], &h[m]) {
					m = k
				}
			}
			if !before(&h[m], &last) {
				break
			}
			h[i] = h[m]
			i = m
		}
		h[i] = last
	}
	s.now = s.cur.at
	return &s.cur
}

// peekTime is the time of the next event, or -1.
func (s *scheduler) peekTime() Time {
	if len(s.heap) == 0 {
		return -1
	}
	return s.heap[0].at
}

// tracer hashes a canonical binary encoding of everything that happens in
// a run: every event handled (time, sequence number, kind), every frame
// sent in either direction, every fault injected, every log line of the
// broker. Two runs with equal traces did the same thing.
type tracer struct {
	h   hash.Hash
	buf []byte
}

func newTracer() *tracer { return &tracer{h: sha256.New()} }

func (t *tracer) flush() {
	if len(t.buf) > 0 {
		t.h.Write(t.buf)
		t.buf = t.buf[:0]
	}
}

// u64 writes v as a varint: times, sequence numbers and lengths are
// small, and the hash costs per byte (fixed eight bytes were 40% of what
// a run hashed).
func (t *tracer) u64(v uint64) {
	t.buf = binary.AppendUvarint(t.buf, v)
	if len(t.buf) > 4096 {
		t.flush()
	}
}

func (t *tracer) i64(v int64) { t.u64(uint64(v)) }

func (t *tracer) str(s string) {
	t.u64(uint64(len(s)))
	t.buf = append(t.buf, s...)
	if len(t.buf) > 4096 {
		t.flush()
	}
}

// bytes writes b as its length and CRC-32C: whole message frames enter
// the trace, and hashing them byte by byte was most of the trace's cost
// (SHA-256 runs at about 1.6 GB/s here, CRC-32C at over 20). Two runs
// that diverge differ in far more than one frame (times, sequence
// numbers, what follows), so a checksum per frame loses no divergence the
// trace exists to show.
func (t *tracer) bytes(b []byte) {
	t.u64(uint64(len(b)))
	t.buf = binary.BigEndian.AppendUint32(t.buf, crc32.Checksum(b, traceCRC))
	if len(t.buf) > 4096 {
		t.flush()
	}
}

// traceCRC is the table of tracer.bytes' checksum.
var traceCRC = crc32.MakeTable(crc32.Castagnoli)

// sum returns the trace hash as hex.
func (t *tracer) sum() string {
	t.flush()
	return fmt.Sprintf("%x", t.h.Sum(nil))
}
