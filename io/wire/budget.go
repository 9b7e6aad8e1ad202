package wire

import (
	"bufio"
	"bytes"
	"container/list"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Bounds of the machine-sized default of Config.QueuedMaxRequestBytes.
const (
	// minDefaultQueuedBytes keeps a small machine able to take a few
	// default-sized (1 MiB) produce batches at once.
	minDefaultQueuedBytes = 64 << 20
	// maxDefaultQueuedBytes caps the default on large machines: a broker
	// rarely needs more than 1 GiB of requests and responses in flight, and
	// the rest of the memory is better left to the page cache.
	maxDefaultQueuedBytes = 1 << 30
	// fallbackQueuedBytes is the default when the machine's memory cannot
	// be read.
	fallbackQueuedBytes = 256 << 20
	// queuedMemoryDivisor: the default takes this fraction of the memory
	// available to the process.
	queuedMemoryDivisor = 8
)

// DefaultQueuedMaxRequestBytes returns the budget used when
// Config.QueuedMaxRequestBytes is zero: an eighth of the memory available
// to the process (the smaller of MemTotal in /proc/meminfo and the cgroup
// v2 memory.max limit), clamped to [64 MiB, 1 GiB], or 256 MiB when neither
// can be read. Kafka's queued.max.request.bytes defaults to unlimited;
// Chronik bounds it so that a few connections cannot exhaust memory.
func DefaultQueuedMaxRequestBytes() int64 {
	total := memTotalBytes()
	if limit := cgroupMemoryLimit(); limit > 0 && (total <= 0 || limit < total) {
		total = limit
	}
	if total <= 0 {
		return fallbackQueuedBytes
	}
	return min(max(total/queuedMemoryDivisor, minDefaultQueuedBytes), maxDefaultQueuedBytes)
}

// memTotalBytes reads MemTotal from /proc/meminfo; 0 if unavailable.
func memTotalBytes() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return parseMemTotal(data)
}

// parseMemTotal extracts MemTotal (in kB) from /proc/meminfo's text as
// bytes; 0 if absent or malformed.
func parseMemTotal(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb <= 0 || kb > 1<<50 {
			return 0
		}
		return kb << 10
	}
	return 0
}

// cgroupMemoryLimit reads the cgroup v2 memory.max of the process's
// cgroup (a container's limit); 0 if unlimited or unavailable.
func cgroupMemoryLimit() int64 {
	data, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || v <= 0 { // "max" means unlimited
		return 0
	}
	return v
}

// largeFrameBytes: frames above this also draw from the large-frame pool
// of the budget (see serverBudget). Kafka's default message.max.bytes is
// 1 MiB + 12, so the requests of most clients stay below it.
const largeFrameBytes = 1 << 20

// serverBudget bounds the memory of requests and responses in flight.
// Every charge draws from all. Two kinds of charge can be held for long by
// a client, and each also draws from its own pool of a third of the size,
// which caps it: frames above largeFrameBytes (a client can send one
// slowly, or stop in the middle) draw from frames, and responses (a client
// can read them slowly, or long-poll) from responses. So stalled large
// frames cannot keep consumers from fetching, and a third of the budget
// always stays for small requests (produce, metadata, heartbeats), except
// while responses past their pool (charged without waiting) are written.
type serverBudget struct {
	all       *budget
	frames    *budget // large frames
	responses *budget
}

func newServerBudget(size int64) serverBudget {
	third := max(size/3, 1)
	return serverBudget{all: newBudget(size), frames: newBudget(third), responses: newBudget(third)}
}

// charge is what a connection holds from a serverBudget: bytes drawn from
// all, and the parts of them also drawn from a pool.
type charge struct {
	all, frames, responses int64
}

func (c charge) plus(d charge) charge {
	return charge{all: c.all + d.all, frames: c.frames + d.frames, responses: c.responses + d.responses}
}

func (c charge) minus(d charge) charge {
	return charge{all: c.all - d.all, frames: c.frames - d.frames, responses: c.responses - d.responses}
}

// acquireFrame charges a frame of n bytes, waiting for room. The charge is
// capped at the size of the pool it draws from: a frame larger than that
// is read once everything else of its kind has been released, instead of
// never. It returns false, holding nothing, when a cancel channel closed
// first.
func (b serverBudget) acquireFrame(n int64, cancel1, cancel2 <-chan struct{}) (charge, bool) {
	if n <= largeFrameBytes {
		return b.acquireFrom(nil, n, cancel1, cancel2)
	}
	return b.acquireFrom(b.frames, n, cancel1, cancel2)
}

// acquireResponse charges n bytes for a response to come, like
// acquireFrame.
func (b serverBudget) acquireResponse(n int64, cancel1, cancel2 <-chan struct{}) (charge, bool) {
	return b.acquireFrom(b.responses, n, cancel1, cancel2)
}

// acquireFrom takes n bytes (capped) from pool, if any, and then from all.
// A waiter for all holds its pool share meanwhile; that cannot deadlock,
// since all's other holders either finish (small requests, responses being
// written) or are themselves capped by a pool of a third of all.
func (b serverBudget) acquireFrom(pool *budget, n int64, cancel1, cancel2 <-chan struct{}) (charge, bool) {
	n = min(n, b.all.size)
	if pool != nil {
		n = min(n, pool.size)
		if !pool.acquire(n, cancel1, cancel2) {
			return charge{}, false
		}
	}
	if !b.all.acquire(n, cancel1, cancel2) {
		if pool != nil {
			pool.release(n)
		}
		return charge{}, false
	}
	c := charge{all: n}
	switch pool {
	case b.frames:
		c.frames = n
	case b.responses:
		c.responses = n
	}
	return c, true
}

// forceResponse charges a response of n bytes that exists already,
// without waiting, past the budget if need be.
func (b serverBudget) forceResponse(n int64) charge {
	n = max(n, 0)
	b.all.force(n)
	b.responses.force(n)
	return charge{all: n, responses: n}
}

// release returns c.
func (b serverBudget) release(c charge) {
	b.frames.release(c.frames)
	b.responses.release(c.responses)
	b.all.release(c.all)
}

// budget is the server-wide count of bytes held by requests read and
// responses not yet written (Kafka's queued.max.request.bytes, extended to
// responses). Readers wait for room (acquire) before reading a frame body,
// so once the budget is spent the sockets are left unread and TCP pushes
// back on the clients. Responses, built elsewhere and impossible to hold
// back, are charged without waiting (force) and may take the count above
// size; readers then wait until enough has been written.
//
// Waiters are served in arrival order, so a large frame is not starved by
// a stream of small ones. A request for more than size is granted the whole
// budget once nothing else is held (callers cap their request at size):
// such a frame is read alone instead of deadlocking.
type budget struct {
	size int64

	mu      sync.Mutex
	used    int64
	waiters list.List // of *budgetWaiter, in arrival order
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

func newBudget(size int64) *budget {
	return &budget{size: size}
}

// acquire takes n bytes (at most size), waiting for room. It returns false
// without holding anything if either cancel channel is closed first.
func (b *budget) acquire(n int64, cancel1, cancel2 <-chan struct{}) bool {
	n = min(n, b.size)
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return true
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-cancel1:
	case <-cancel2:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready:
		// Granted while we were giving up: hand the bytes back.
		b.used -= n
		b.grantLocked()
	default:
		isFront := b.waiters.Front() == elem
		b.waiters.Remove(elem)
		if isFront {
			// Waiters behind us may fit now that we no longer block them.
			b.grantLocked()
		}
	}
	return false
}

// force takes n bytes without waiting, even past size.
func (b *budget) force(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

// release returns n bytes and wakes the waiters that now fit.
func (b *budget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.used < 0 {
		panic(fmt.Sprintf("wire: invariant violated: budget released %d bytes more than held", -b.used))
	}
	b.grantLocked()
}

// grantLocked grants waiters in order while the first one fits.
func (b *budget) grantLocked() {
	for {
		front := b.waiters.Front()
		if front == nil {
			return
		}
		w := front.Value.(*budgetWaiter)
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		b.waiters.Remove(front)
		close(w.ready)
	}
}

// inUse reports the bytes currently held.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
