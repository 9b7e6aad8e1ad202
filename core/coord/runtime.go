// Package coord is the coordinator runtime: it runs the state machines
// ("shards") of the coordinators whose state lives in an internal topic
// (the consumer groups' __consumer_offsets; the transactions' later), one
// shard per partition this broker leads.
//
// The model is Kafka 4's coordinator runtime, on Chronik's one event loop:
//
//   - A shard's state is the replay of its partition. On leadership of a
//     partition (Lead) the runtime builds a new shard and replays the
//     partition from its log start up to the log end it had at that moment,
//     a chunk per call; requests meanwhile get COORDINATOR_LOAD_IN_PROGRESS.
//     The load ends when the replay reached that end and the high watermark
//     passed it, so the loaded state is committed state.
//   - Every change a shard makes is a Write: records, appended to the
//     partition as one batch by the leader, and the replies that depend on
//     them. The replies are sent only once the high watermark passes the
//     batch (Advance); the shard hears of it through CommitWrite.
//   - A write that fails to append, or any change of the partition's leader
//     or leader epoch (Resign, or Lead at a new epoch), discards the shard:
//     its pending replies are answered with an error (NOT_COORDINATOR when
//     the leadership moved, COORDINATOR_NOT_AVAILABLE otherwise) and never
//     with success, even if the high watermark later passes offsets that
//     another leader wrote there (KAFKA-20634). Clients then find the
//     coordinator again; after a failed append this broker reloads the
//     shard from the log.
//   - Transactions (Kafka's transactional writes): a Write may be a
//     transactional batch of a producer (Write.Txn), and WriteTxnMarker
//     appends a producer's end-transaction marker. Replay hands the shard
//     transactional records through ReplayTxn and markers through
//     ReplayEndTxn; live, ReplayEndTxn runs once a written marker is
//     committed, in log order with the writes around it, and the
//     marker's sender hears success only then (never after a move).
//
// The runtime never reads a clock, starts a goroutine or writes a file: the
// broker hands it the time, the partition's high watermark and leadership,
// and performs its appends and reads (Host).
package coord

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/record"
)

// Record is one key/value of a coordinator's log; a nil Value is a
// tombstone.
type Record struct{ Key, Value []byte }

// ReplyRef identifies a request the broker holds for a shard's answer.
type ReplyRef uint64

// Reply is an answer to a request, sent once the write carrying it is
// committed.
type Reply struct {
	Ref  ReplyRef
	Resp kmsg.Response
}

// Write is what one call of a shard produced: Records to append as one
// batch and Replies to send once it is committed. ID is the shard's name
// for the write (CommitWrite). Without records, replies go at once, or,
// when ID names an earlier write still pending, once that one is
// committed (they reveal state it carries).
//
// Txn makes the records one transactional batch of the producer
// ProducerID at ProducerEpoch (a TxnOffsetCommit's offsets): on replay
// the shard gets them through ReplayTxn, and they take effect only when
// that producer's commit marker follows (WriteTxnMarker, ReplayEndTxn).
type Write struct {
	Records       []Record
	Replies       []Reply
	ID            uint64
	Txn           bool
	ProducerID    int64
	ProducerEpoch int16
}

// Shard is a coordinator's state machine over one partition.
type Shard interface {
	// Replay applies one committed record of the partition, in log order,
	// while loading.
	Replay(key, value []byte) error
	// ReplayTxn is Replay for a record of a transactional batch of
	// producerID: it stays pending until that producer's marker.
	ReplayTxn(producerID int64, key, value []byte) error
	// ReplayEndTxn applies producerID's end-transaction marker (commit or
	// abort), in log order: while loading, for each marker of the log,
	// and once loaded, when a marker WriteTxnMarker wrote is committed.
	ReplayEndTxn(producerID int64, producerEpoch int16, commit bool)
	// LoadDone ends the load: timers start from nowMs.
	LoadDone(nowMs int64)
	// CommitWrite tells the shard that the write it named id is committed.
	CommitWrite(id uint64)
	// Tick runs the shard's timers.
	Tick(nowMs int64) Write
	// NextWakeMs is when Tick next has something to do; -1 for never.
	NextWakeMs() int64
	// CheckInvariants reports a contradiction in the shard's state.
	CheckInvariants() error
}

// Host is what the runtime needs from the broker.
type Host interface {
	// Append appends batch to partition p as its leader at leaderEpoch,
	// and returns the offset after it. The runtime then waits for the
	// high watermark to pass that offset (Advance).
	Append(nowMs int64, p int32, leaderEpoch int32, batch []byte) (end int64, err error)
	// Read returns whole batches of p from offset on, at most about
	// maxBytes (at least one batch when any exists below the log end).
	Read(p int32, offset int64, maxBytes int) ([]byte, error)
	// AppendTxnMarker appends the end-transaction marker m to partition
	// p as its leader at leaderEpoch (a control batch), and returns the
	// offset after it. A marker the log refuses without writing anything
	// (a fenced producer or coordinator epoch) answers a non-zero code
	// and a nil error; err is a failed write, as for Append.
	AppendTxnMarker(nowMs int64, p int32, leaderEpoch int32, m TxnMarker) (end int64, code int16, err error)
	// Reply sends an answer.
	Reply(r Reply)
	// Discarded tells the broker that p's shard is gone, with every
	// request it still held unanswered (joins parked for a rebalance):
	// the broker answers those with code.
	Discarded(p int32, code int16)
	// Warn logs a problem worth an operator's attention.
	Warn(msg string, args ...any)
}

// Config bounds the runtime.
type Config struct {
	// MaxPendingWrites is how many writes of one shard may wait for the
	// high watermark; past it requests get COORDINATOR_NOT_AVAILABLE
	// (Admit) rather than queueing without bound.
	MaxPendingWrites int
	// LoadChunkBytes is how much of the log one load step reads, so that
	// loading a large partition does not stall the event loop.
	LoadChunkBytes int
	// MaxRecordBytes bounds a decompressed batch while loading.
	MaxRecordBytes int
}

// DefaultConfig returns the runtime's defaults.
func DefaultConfig() Config {
	return Config{MaxPendingWrites: 1024, LoadChunkBytes: 1 << 20, MaxRecordBytes: 16 << 20}
}

// Validate reports a setting out of range.
func (c Config) Validate() error {
	switch {
	case c.MaxPendingWrites < 1:
		return fmt.Errorf("coord: MaxPendingWrites %d must be >= 1", c.MaxPendingWrites)
	case c.LoadChunkBytes < 1:
		return fmt.Errorf("coord: LoadChunkBytes %d must be >= 1", c.LoadChunkBytes)
	case c.MaxRecordBytes < 1:
		return fmt.Errorf("coord: MaxRecordBytes %d must be >= 1", c.MaxRecordBytes)
	}
	return nil
}

// Runtime runs the shards of one internal topic.
type Runtime[S Shard] struct {
	cfg      Config
	host     Host
	newShard func() S
	codecs   *record.Codecs
	parts    map[int32]*partState[S]
	// order is parts' keys sorted, rebuilt after a partition is added or
	// removed (nil then): the timers walk it on every settle.
	order []int32
	// kept holds the pending writes of discarded shards, only under the
	// deliberate bug PendingKeptOnMove (kept.go).
	kept map[int32][]pendingWrite
}

// partState is one led partition.
type partState[S Shard] struct {
	epoch int32
	shard S
	// loading: the shard is replaying; loadNext is the next offset to
	// read and loadEnd the log end at Lead.
	loading           bool
	loadNext, loadEnd int64
	hw                int64
	pending           []pendingWrite
}

// pendingWrite is an appended write waiting for the high watermark: a
// shard's write, or a transaction marker (marker set).
type pendingWrite struct {
	end     int64
	id      uint64
	replies []Reply
	marker  *pendingMarker
}

// TxnMarker is an end-transaction marker for a coordinator's partition.
type TxnMarker struct {
	ProducerID    int64
	ProducerEpoch int16
	// Commit selects a commit marker; false writes an abort.
	Commit bool
	// CoordinatorEpoch is the epoch of the transaction coordinator that
	// sends it.
	CoordinatorEpoch int32
}

// pendingMarker is a written marker waiting for the high watermark, and
// the callback that learns its outcome.
type pendingMarker struct {
	m    TxnMarker
	done func(code int16)
}

// New returns a runtime whose shards newShard builds.
func New[S Shard](cfg Config, host Host, codecs *record.Codecs, newShard func() S) (*Runtime[S], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Runtime[S]{cfg: cfg, host: host, newShard: newShard, codecs: codecs, parts: map[int32]*partState[S]{}}, nil
}

// Lead tells the runtime that this broker leads p at leaderEpoch, with the
// log ending at logEnd and starting at logStart. A shard already running
// at that epoch is kept; one at another epoch is discarded (its pending
// writes answered NOT_COORDINATOR) and a new one loads.
func (r *Runtime[S]) Lead(nowMs int64, p int32, leaderEpoch int32, logStart, logEnd, hw int64) {
	if ps := r.parts[p]; ps != nil {
		if ps.epoch == leaderEpoch {
			return
		}
		r.discard(p, kerr.NotCoordinator.Code)
	}
	ps := &partState[S]{epoch: leaderEpoch, shard: r.newShard(), loading: true, loadNext: logStart, loadEnd: logEnd, hw: hw}
	if bugs.CoordinatorServesBeforeLoad { // deliberate bug (core/bugs): the load "ends" before it replayed anything
		ps.loadEnd = logStart
	}
	r.parts[p] = ps
	r.order = nil
	r.loadStep(nowMs, p, ps) // an empty or committed log may be done at once
}

// Resign tells the runtime that this broker no longer leads p: its shard
// is discarded and its pending writes answered NOT_COORDINATOR.
func (r *Runtime[S]) Resign(p int32) {
	if r.parts[p] != nil {
		r.discard(p, kerr.NotCoordinator.Code)
	}
}

// discard drops p's shard, failing every pending reply with code.
func (r *Runtime[S]) discard(p int32, code int16) {
	ps := r.parts[p]
	delete(r.parts, p)
	r.order = nil
	if bugs.PendingKeptOnMove && r.keptDiscard(p, ps, code) { // deliberate bug (core/bugs): KAFKA-20634
		return
	}
	for _, w := range ps.pending {
		for _, rep := range w.replies {
			r.host.Reply(Reply{Ref: rep.Ref, Resp: FailResponse(rep.Resp, code)})
		}
		if w.marker != nil {
			// Never success: the marker may be truncated away, and the
			// sender writes it again on the partition's new leader
			// (KAFKA-20634's rule for markers too).
			w.marker.done(code)
		}
	}
	r.host.Discarded(p, code)
}

// Admit returns p's shard when it may take a request, or the error to
// answer with: NOT_COORDINATOR when this broker does not lead p,
// COORDINATOR_LOAD_IN_PROGRESS while it loads, COORDINATOR_NOT_AVAILABLE
// when too many writes wait.
func (r *Runtime[S]) Admit(p int32) (S, int16) {
	var zero S
	ps := r.parts[p]
	switch {
	case ps == nil:
		return zero, kerr.NotCoordinator.Code
	case ps.loading:
		return zero, kerr.CoordinatorLoadInProgress.Code
	case len(ps.pending) >= r.cfg.MaxPendingWrites:
		return zero, kerr.CoordinatorNotAvailable.Code
	}
	return ps.shard, 0
}

// Loaded reports whether p's shard is loaded (for the broker's reads).
func (r *Runtime[S]) Loaded(p int32) (S, bool) {
	ps := r.parts[p]
	if ps == nil || ps.loading {
		var zero S
		return zero, false
	}
	return ps.shard, true
}

// Submit carries out a write the shard of p produced: its records are
// appended and its replies wait for them, or go at once without records.
// A failed append discards the shard (its state holds the write that did
// not land) and starts a reload from the log.
func (r *Runtime[S]) Submit(nowMs int64, p int32, w Write) {
	ps := r.parts[p]
	if ps == nil || ps.loading {
		panic(fmt.Sprintf("coord: invariant broken: a write for partition %d, which has no loaded shard", p))
	}
	if len(w.Records) == 0 {
		// Replies that reveal state an earlier write of this shard
		// carries (named by w.ID) wait for that write; others go now.
		if w.ID != 0 {
			for i := range ps.pending {
				if ps.pending[i].id == w.ID {
					ps.pending[i].replies = append(ps.pending[i].replies, w.Replies...)
					return
				}
			}
		}
		for _, rep := range w.Replies {
			r.host.Reply(rep)
		}
		return
	}
	recs := make([]record.Record, len(w.Records))
	for i, rec := range w.Records {
		recs[i] = record.Record{Key: rec.Key, Value: rec.Value, Timestamp: nowMs}
	}
	opts := record.DefaultBatchOptions()
	opts.PartitionLeaderEpoch = ps.epoch
	if w.Txn {
		// Kafka's coordinator writes a transactional batch with the
		// producer's id and epoch and base sequence 0; the log checks
		// the epoch, not the sequence (partlog.AppendCoordinator).
		opts.Transactional = true
		opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = w.ProducerID, w.ProducerEpoch, 0
	}
	batch, err := r.codecs.Build(opts, recs)
	var end int64
	if err == nil {
		end, err = r.host.Append(nowMs, p, ps.epoch, batch)
	}
	if r.parts[p] != ps {
		// The append itself ended this shard: a failed write took the
		// partition offline and the broker resigned it (Resign, from
		// inside Append). The discard failed the pending writes, and the
		// broker's Discarded answered every request it held for p, this
		// write's included: answering them again, or keeping the write,
		// would answer a request twice.
		return
	}
	if err != nil {
		r.host.Warn("coordinator write failed; reloading", "partition", p, "err", err)
		code := kerr.CoordinatorNotAvailable.Code
		var refused *RefusedError
		if errors.As(err, &refused) {
			// The log refused this write's own content (a fenced
			// producer's TxnOffsetCommit): its requester learns why;
			// retrying elsewhere would not help it.
			code = refused.Code
		}
		for _, rep := range w.Replies {
			r.host.Reply(Reply{Ref: rep.Ref, Resp: FailResponse(rep.Resp, code)})
		}
		r.reload(p, ps)
		return
	}
	if bugs.CommitBeforeCommitted { // deliberate bug (core/bugs): answered before the high watermark passes the write
		end = 0
	}
	ps.pending = append(ps.pending, pendingWrite{end: end, id: w.ID, replies: w.Replies})
	r.complete(ps)
}

// reload discards p's shard after a failed write (its state holds a
// write that did not land) and starts loading a new one from the log.
func (r *Runtime[S]) reload(p int32, ps *partState[S]) {
	r.discard(p, kerr.CoordinatorNotAvailable.Code)
	// The log holds what committed; the next Lead at this epoch would be
	// a no-op, so the reload starts here. The broker's next Advance
	// brings the high watermark and log bounds.
	r.parts[p] = &partState[S]{epoch: ps.epoch, shard: r.newShard(), loading: true, loadNext: -1, loadEnd: -1}
	r.order = nil
}

// Advance tells the runtime p's high watermark and log bounds (after an
// append, a follower's fetch, a leadership change): pending writes below
// the high watermark complete, and a load goes on by one chunk.
func (r *Runtime[S]) Advance(nowMs int64, p int32, logStart, logEnd, hw int64) {
	if bugs.PendingKeptOnMove { // deliberate bug (core/bugs): KAFKA-20634
		r.completeKept(p, hw)
	}
	ps := r.parts[p]
	if ps == nil {
		return
	}
	ps.hw = max(ps.hw, hw)
	if ps.loading {
		if ps.loadNext < 0 { // a reload after a failed append
			ps.loadNext, ps.loadEnd = logStart, logEnd
		}
		r.loadStep(nowMs, p, ps)
		return
	}
	r.complete(ps)
}

// complete answers the pending writes the high watermark passed, in
// order.
func (r *Runtime[S]) complete(ps *partState[S]) {
	n := 0
	for _, w := range ps.pending {
		if w.end > ps.hw {
			break
		}
		n++
		if w.marker != nil {
			m := w.marker.m
			ps.shard.ReplayEndTxn(m.ProducerID, m.ProducerEpoch, m.Commit)
			w.marker.done(0)
			continue
		}
		ps.shard.CommitWrite(w.id)
		for _, rep := range w.replies {
			r.host.Reply(rep)
		}
	}
	ps.pending = slices.Delete(ps.pending, 0, n)
}

// loadStep replays one chunk of p's log, and ends the load once the
// replay reached loadEnd and the high watermark passed it.
func (r *Runtime[S]) loadStep(nowMs int64, p int32, ps *partState[S]) {
	if ps.loadNext < ps.loadEnd {
		data, err := r.host.Read(p, ps.loadNext, r.cfg.LoadChunkBytes)
		if err != nil {
			r.host.Warn("coordinator load: read failed", "partition", p, "offset", ps.loadNext, "err", err)
			return
		}
		if len(data) == 0 {
			return
		}
		for len(data) > 0 && ps.loadNext < ps.loadEnd {
			batch, rest, err := record.Next(data)
			if err != nil {
				r.host.Warn("coordinator load: bad batch", "partition", p, "offset", ps.loadNext, "err", err)
				return
			}
			data = rest
			if err := r.replayBatch(p, ps, batch); err != nil {
				r.host.Warn("coordinator load: bad batch", "partition", p, "offset", ps.loadNext, "err", err)
				return
			}
		}
	}
	if ps.loadNext >= ps.loadEnd && ps.hw >= ps.loadEnd {
		ps.loading = false
		ps.shard.LoadDone(nowMs)
	}
}

// replayBatch replays the records of one batch at or past loadNext.
func (r *Runtime[S]) replayBatch(p int32, ps *partState[S], batch []byte) error {
	it, err := r.codecs.NewIterator(batch, r.cfg.MaxRecordBytes)
	if err != nil {
		return err
	}
	h := it.Header()
	if h.Control() {
		if h.BaseOffset >= ps.loadNext {
			r.replayMarker(p, ps, h, batch)
		}
		ps.loadNext = max(ps.loadNext, h.NextOffset())
		return nil
	}
	for it.Next() {
		rec := it.Record()
		if rec.Offset < ps.loadNext {
			continue
		}
		var err error
		if h.Transactional() {
			err = ps.shard.ReplayTxn(h.ProducerID, rec.Key, rec.Value)
		} else {
			err = ps.shard.Replay(rec.Key, rec.Value)
		}
		if err != nil {
			// One record the shard cannot read must not keep the
			// coordinator from loading the rest (Kafka logs and skips).
			r.host.Warn("coordinator load: record skipped", "partition", p, "offset", rec.Offset, "err", err)
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	ps.loadNext = max(ps.loadNext, h.NextOffset())
	return nil
}

// replayMarker hands the shard the end-transaction marker of a control
// batch; other control records (or an undecodable one, skipped as Kafka
// skips a bad record) change nothing.
func (r *Runtime[S]) replayMarker(p int32, ps *partState[S], h record.Header, batch []byte) {
	m, err := record.ParseEndTxnMarker(batch)
	if err != nil {
		if !errors.Is(err, record.ErrNotEndTxnMarker) {
			r.host.Warn("coordinator load: marker skipped", "partition", p, "offset", h.BaseOffset, "err", err)
		}
		return
	}
	ps.shard.ReplayEndTxn(h.ProducerID, h.ProducerEpoch, m.Commit)
}

// WriteTxnMarker writes the end-transaction marker m to p, which this
// broker must lead with a loaded shard, and calls done once: done(0)
// after the high watermark passed the marker and the shard applied it
// (ReplayEndTxn: the producer's staged offsets are committed or
// dropped); done(code) otherwise, never success for a marker that may
// not be committed: NOT_COORDINATOR when p is not led here or its
// leadership moves before the marker commits, COORDINATOR_LOAD_IN_PROGRESS
// while the shard loads, COORDINATOR_NOT_AVAILABLE when the write fails
// (the shard then reloads) or too many writes wait, or the log's refusal
// (a fenced producer or coordinator epoch; nothing written).
func (r *Runtime[S]) WriteTxnMarker(nowMs int64, p int32, m TxnMarker, done func(code int16)) {
	ps := r.parts[p]
	switch {
	case ps == nil:
		done(kerr.NotCoordinator.Code)
		return
	case ps.loading:
		done(kerr.CoordinatorLoadInProgress.Code)
		return
	case len(ps.pending) >= r.cfg.MaxPendingWrites:
		done(kerr.CoordinatorNotAvailable.Code)
		return
	}
	end, code, err := r.host.AppendTxnMarker(nowMs, p, ps.epoch, m)
	if r.parts[p] != ps {
		// The append ended this shard (see Submit); nothing waits for
		// this marker yet.
		done(kerr.NotCoordinator.Code)
		return
	}
	if err != nil {
		r.host.Warn("coordinator marker write failed; reloading", "partition", p, "err", err)
		done(kerr.CoordinatorNotAvailable.Code)
		r.reload(p, ps)
		return
	}
	if code != 0 {
		done(code)
		return
	}
	if bugs.CommitBeforeCommitted { // deliberate bug (core/bugs): answered before the high watermark passes the write
		end = 0
	}
	ps.pending = append(ps.pending, pendingWrite{end: end, marker: &pendingMarker{m: m, done: done}})
	r.complete(ps)
}

// Tick runs every loaded shard's timers and submits what they write, and
// moves loads on.
func (r *Runtime[S]) Tick(nowMs int64) {
	for _, p := range r.partitions() {
		ps := r.parts[p]
		if ps == nil || ps.loading {
			continue
		}
		if wake := ps.shard.NextWakeMs(); wake >= 0 && wake <= nowMs {
			r.Submit(nowMs, p, ps.shard.Tick(nowMs))
		}
	}
}

// NextWakeMs is the earliest shard wake-up; -1 for none.
func (r *Runtime[S]) NextWakeMs() int64 {
	next := int64(-1)
	for _, ps := range r.parts {
		if ps.loading {
			continue
		}
		if w := ps.shard.NextWakeMs(); w >= 0 && (next < 0 || w < next) {
			next = w
		}
	}
	return next
}

// partitions lists the led partitions in order, for deterministic
// iteration. The slice is shared until the set changes: callers only read
// it, and a change builds a new one.
func (r *Runtime[S]) partitions() []int32 {
	if r.order == nil && len(r.parts) > 0 {
		r.order = slices.Sorted(maps.Keys(r.parts))
	}
	return r.order
}

// Reading lists, in order, the partitions whose load has log left to
// read (the broker calls Advance for each from its timers, so that a load
// goes on without traffic). A load that has read everything and waits for
// the high watermark is not listed: the high watermark's rise brings the
// Advance that ends it.
func (r *Runtime[S]) Reading() []int32 {
	var out []int32
	for _, p := range r.partitions() {
		if ps := r.parts[p]; ps.loading && (ps.loadNext < 0 || ps.loadNext < ps.loadEnd) {
			out = append(out, p)
		}
	}
	return out
}

// CheckInvariants reports a contradiction in the runtime's state.
func (r *Runtime[S]) CheckInvariants() error {
	for _, p := range r.partitions() {
		ps := r.parts[p]
		if ps.loading && len(ps.pending) > 0 {
			return fmt.Errorf("coord: partition %d loads with %d pending writes", p, len(ps.pending))
		}
		if len(ps.pending) > r.cfg.MaxPendingWrites {
			return fmt.Errorf("coord: partition %d has %d pending writes, above %d", p, len(ps.pending), r.cfg.MaxPendingWrites)
		}
		for i := 1; i < len(ps.pending); i++ {
			if ps.pending[i].end < ps.pending[i-1].end {
				return fmt.Errorf("coord: partition %d pending writes out of order", p)
			}
		}
		if len(ps.pending) > 0 && ps.pending[0].end <= ps.hw {
			return fmt.Errorf("coord: partition %d holds a write ending at %d below the high watermark %d", p, ps.pending[0].end, ps.hw)
		}
		if err := ps.shard.CheckInvariants(); err != nil {
			return fmt.Errorf("coord: partition %d: %w", p, err)
		}
	}
	return nil
}

// RefusedError is a Host's append error for a write the log refused
// because of what it carries (nothing was written): the write's requests
// are answered with Code instead of COORDINATOR_NOT_AVAILABLE. The shard
// still reloads, its state holding the refused write.
type RefusedError struct {
	Code int16
	Err  error
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("coord: write refused (code %d): %v", e.Code, e.Err)
}

// Unwrap returns the log's error.
func (e *RefusedError) Unwrap() error { return e.Err }

// ErrUnknownResponse is FailResponse's complaint about a type it cannot
// fail (a bug: every response a shard defers must be listed there).
var ErrUnknownResponse = errors.New("coord: no error field known for this response type")
