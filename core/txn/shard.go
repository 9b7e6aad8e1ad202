// Package txn is the transaction coordinator as a pure state machine over
// one partition of __transaction_state (a Shard of the coordinator
// runtime, core/coord). Every change is a record in Kafka's format; the
// shard's durable state is the replay of its partition.
//
// States and transitions are Kafka's (TransactionState): a transactional
// id is Empty after InitProducerId, Ongoing once partitions are added,
// PrepareCommit or PrepareAbort after EndTxn (or a timeout, or a new
// producer fencing an old one: PrepareEpochFence, then PrepareAbort with
// the epoch bumped), and CompleteCommit or CompleteAbort once every
// partition has its marker. The shard serves transaction version 1
// (EndTxn bumps no epoch); version 2 (KIP-890 part 2) is not here yet.
//
// Changes are applied to the shard at once and written as records; the
// runtime sends the answers only when the write is committed, and a write
// that fails discards the whole shard (it is rebuilt by replay), so the
// shard needs no pending-state bookkeeping of its own: an answer that
// reveals state of an uncommitted write waits for that write (Write.ID).
//
// Markers: once a PrepareCommit or PrepareAbort is committed, the
// transaction's partitions are listed by PendingMarkers; the broker writes
// the markers (retrying across leader changes) and reports them with
// MarkersWritten, which completes the transaction when the last is in.
package txn

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
)

// ProducerIDs allocates producer ids (from the controller's producer-id
// blocks, in the broker).
type ProducerIDs interface {
	// AllocateProducerID returns a producer id never handed out before,
	// or a Kafka error code to answer with when none is available now
	// (Kafka answers COORDINATOR_LOAD_IN_PROGRESS while a block is on its
	// way, and clients retry).
	AllocateProducerID() (id int64, code int16)
}

// Topics answers the shard's questions about the cluster's topics.
type Topics interface {
	// PartitionExists reports whether topic has the partition.
	PartitionExists(topic string, partition int32) bool
	// OffsetsPartition returns the partition of __consumer_offsets that
	// holds group's offsets; false while the topic does not exist.
	OffsetsPartition(group string) (int32, bool)
}

// OffsetsTopic is the topic whose partition AddOffsetsToTxn adds.
const OffsetsTopic = "__consumer_offsets"

// txnState is one transactional id: its durable metadata and what the
// shard keeps beside it.
type txnState struct {
	m     Metadata // m.Partitions is unused: parts holds them
	parts map[TopicPartition]bool
	// lastEpoch is Kafka's lastProducerEpoch, not in the log: the epoch
	// before the last InitProducerId bump, so that a retried
	// InitProducerId (KIP-360) gets the same answer. -1 after a load.
	lastEpoch int16
	// markersLeft are the partitions still without a marker, in
	// PrepareCommit and PrepareAbort only.
	markersLeft map[TopicPartition]bool
	// prepareWrite is the write of the PrepareCommit/PrepareAbort record
	// (0: committed at load); markers wait for it.
	prepareWrite uint64
	// lastWrite is the newest write about this id; an answer revealing
	// its state waits for it.
	lastWrite uint64
}

func (t *txnState) metadata() Metadata {
	m := t.m
	m.Partitions = make([]TopicPartition, 0, len(t.parts))
	for tp := range t.parts {
		m.Partitions = append(m.Partitions, tp)
	}
	m.Partitions = sortedPartitions(m.Partitions)
	return m
}

// Shard is the transaction coordinator state of one __transaction_state
// partition. It is not safe for concurrent use; the node's loop owns it.
type Shard struct {
	cfg    Config
	ids    ProducerIDs
	topics Topics
	txns   map[string]*txnState
	// counts holds the number of transactional ids per state.
	counts [len(stateNames)]int
	// preparing holds the ids in PrepareCommit or PrepareAbort.
	preparing map[string]bool
	// coordinatorEpoch is the leader epoch of the partition, carried by
	// markers (SetCoordinatorEpoch).
	coordinatorEpoch int32
	nextWrite        uint64
	committed        uint64
	// pending are the issued writes not yet committed, in order.
	pending []uint64
	loaded  bool
	// nextAbortCheck and nextExpiryCheck are when Tick next looks for
	// timed-out transactions and expired ids (-1 before LoadDone).
	nextAbortCheck, nextExpiryCheck int64
}

// NewShard returns an empty shard; cfg must pass Validate. ids allocates
// producer ids and topics answers questions on topics (nil: every
// partition exists and AddOffsetsToTxn gets COORDINATOR_NOT_AVAILABLE).
// Feed it the partition's committed records with Replay, then call
// LoadDone.
func NewShard(cfg Config, ids ProducerIDs, topics Topics) *Shard {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("txn.NewShard: %v", err))
	}
	return &Shard{cfg: cfg, ids: ids, topics: topics, txns: map[string]*txnState{},
		preparing: map[string]bool{}, coordinatorEpoch: -1, nextAbortCheck: -1, nextExpiryCheck: -1}
}

var _ coord.Shard = (*Shard)(nil)

// SetCoordinatorEpoch sets the leader epoch of the shard's partition,
// which markers carry so that a partition leader refuses markers of a
// deposed coordinator (WriteTxnMarkers' CoordinatorEpoch).
func (s *Shard) SetCoordinatorEpoch(epoch int32) { s.coordinatorEpoch = epoch }

// Replay applies one committed record of the shard's partition, in log
// order, while loading. A nil value is a tombstone. Records of other key
// versions are skipped; a record that does not decode, or would pass a
// limit, returns an error wrapping ErrBadRecord and changes nothing.
func (s *Shard) Replay(key, value []byte) error {
	id, ok, err := DecodeKey(key)
	if err != nil || !ok {
		return err
	}
	if id == "" {
		// Kafka never writes one (InitProducerId refuses an empty id), and
		// no request could name it.
		return fmt.Errorf("%w: empty transactional id", ErrBadRecord)
	}
	if value == nil {
		s.drop(id)
		return nil
	}
	m, err := DecodeValue(id, value)
	if err != nil {
		return err
	}
	if len(m.Partitions) > s.cfg.MaxPartitionsPerTxn {
		return fmt.Errorf("%w: %q has %d partitions, above %d", ErrBadRecord, id, len(m.Partitions), s.cfg.MaxPartitionsPerTxn)
	}
	if s.txns[id] == nil && len(s.txns) >= s.cfg.MaxTransactionalIDs {
		return fmt.Errorf("%w: %q would pass %d transactional ids", ErrBadRecord, id, s.cfg.MaxTransactionalIDs)
	}
	s.drop(id)
	t := &txnState{m: m, parts: map[TopicPartition]bool{}, lastEpoch: -1}
	for _, tp := range m.Partitions {
		t.parts[tp] = true
	}
	t.m.Partitions = nil
	s.txns[id] = t
	s.counts[m.State]++
	if m.State.preparing() {
		s.startMarkers(t, 0)
	}
	return nil
}

// ReplayTxn is Replay: __transaction_state holds no transactional
// batches (Kafka never writes one there), so a record of one is read as
// any other.
func (s *Shard) ReplayTxn(_ int64, key, value []byte) error { return s.Replay(key, value) }

// ReplayEndTxn ignores a transaction marker: the transaction
// coordinator's partition holds none that mean anything to it.
func (s *Shard) ReplayEndTxn(int64, int16, bool) {}

// LoadDone ends loading; the timers start from nowMs. Transactions loaded
// in PrepareCommit or PrepareAbort list their markers at once (Kafka
// resends them after a load).
func (s *Shard) LoadDone(nowMs int64) {
	s.loaded = true
	s.nextAbortCheck = nowMs + s.cfg.AbortTimedOutIntervalMs
	s.nextExpiryCheck = nowMs + s.cfg.RemoveExpiredIntervalMs
}

// CommitWrite reports that write id (and so every earlier one) is
// committed.
func (s *Shard) CommitWrite(id uint64) {
	// An id never issued is clamped: committing ahead would swallow the
	// commits of writes not yet made.
	id = min(id, s.nextWrite)
	if id <= s.committed {
		return
	}
	s.committed = id
	n := 0
	for n < len(s.pending) && s.pending[n] <= id {
		n++
	}
	s.pending = s.pending[n:]
}

// drop forgets transactional id id.
func (s *Shard) drop(id string) {
	t := s.txns[id]
	if t == nil {
		return
	}
	s.counts[t.m.State]--
	delete(s.preparing, id)
	delete(s.txns, id)
}

// setState moves t to state to, which must be a legal transition.
func (s *Shard) setState(t *txnState, to State) {
	if !legalTransition(t.m.State, to) {
		panic(fmt.Sprintf("txn: invariant broken: %q moves from %s to %s, which Kafka forbids", t.m.TransactionalID, t.m.State, to))
	}
	s.counts[t.m.State]--
	s.counts[to]++
	t.m.State = to
	if to.preparing() {
		s.preparing[t.m.TransactionalID] = true
	} else {
		delete(s.preparing, t.m.TransactionalID)
		t.markersLeft = nil
	}
}

// startMarkers makes every partition of t wait for its marker, once
// write w (0: none) is committed.
func (s *Shard) startMarkers(t *txnState, w uint64) {
	s.preparing[t.m.TransactionalID] = true
	t.prepareWrite = w
	t.markersLeft = make(map[TopicPartition]bool, len(t.parts))
	for tp := range t.parts {
		t.markersLeft[tp] = true
	}
}

// outBuf collects one call's effects.
type outBuf struct {
	recs    []coord.Record
	replies []coord.Reply
	// touched are the ids whose records recs carry.
	touched []*txnState
	// wait is the newest write an answer reveals (0: none).
	wait uint64
	// prepared are the ids moved to a Prepare state by recs.
	prepared []*txnState
}

func (b *outBuf) reply(ref coord.ReplyRef, r kmsg.Response) {
	b.replies = append(b.replies, coord.Reply{Ref: ref, Resp: r})
}

// reveal makes the answer wait for t's newest write.
func (b *outBuf) reveal(t *txnState) { b.wait = max(b.wait, t.lastWrite) }

// write adds t's record: its metadata, as it is now.
func (s *Shard) write(b *outBuf, t *txnState) {
	b.recs = append(b.recs, coord.Record{Key: KeyBytes(t.m.TransactionalID), Value: ValueBytes(t.metadata(), s.cfg.ValueVersion)})
	b.touched = append(b.touched, t)
	if t.m.State.preparing() {
		b.prepared = append(b.prepared, t)
	}
}

// tombstone adds the tombstone of id.
func (b *outBuf) tombstone(id string) {
	b.recs = append(b.recs, coord.Record{Key: KeyBytes(id)})
}

// finish turns b into the runtime's Write.
func (s *Shard) finish(b *outBuf) coord.Write {
	if len(b.recs) == 0 {
		w := b.wait
		if w <= s.committed {
			w = 0
		}
		return coord.Write{Replies: b.replies, ID: w}
	}
	s.nextWrite++
	s.pending = append(s.pending, s.nextWrite)
	for _, t := range b.touched {
		t.lastWrite = s.nextWrite
	}
	for _, t := range b.prepared {
		s.startMarkers(t, s.nextWrite)
	}
	return coord.Write{Records: b.recs, Replies: b.replies, ID: s.nextWrite}
}

// writesFull reports whether another write would pass MaxPendingWrites.
func (s *Shard) writesFull() bool { return len(s.pending) >= s.cfg.MaxPendingWrites }

// sortedIDs returns the transactional ids in order.
func (s *Shard) sortedIDs() []string {
	ids := make([]string, 0, len(s.txns))
	for id := range s.txns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Handle dispatches req to the method for its API. It reports false (and
// does nothing) for an API this shard does not serve.
func (s *Shard) Handle(nowMs int64, ref coord.ReplyRef, req kmsg.Request) (coord.Write, bool) {
	switch r := req.(type) {
	case *kmsg.InitProducerIDRequest:
		return s.InitProducerID(nowMs, ref, r), true
	case *kmsg.AddPartitionsToTxnRequest:
		return s.AddPartitionsToTxn(nowMs, ref, r), true
	case *kmsg.AddOffsetsToTxnRequest:
		return s.AddOffsetsToTxn(nowMs, ref, r), true
	case *kmsg.EndTxnRequest:
		return s.EndTxn(nowMs, ref, r), true
	case *kmsg.DescribeTransactionsRequest:
		return s.DescribeTransactions(nowMs, ref, r), true
	case *kmsg.ListTransactionsRequest:
		return s.ListTransactions(nowMs, ref, r), true
	}
	return coord.Write{}, false
}

// CheckInvariants reports the first broken internal rule.
func (s *Shard) CheckInvariants() error {
	var counts [len(stateNames)]int
	nPreparing := 0
	for id, t := range s.txns {
		m := &t.m
		switch {
		case m.TransactionalID != id:
			return fmt.Errorf("txn: map key %q holds %q", id, m.TransactionalID)
		case !m.State.valid() || m.State == Dead || m.State == PrepareEpochFence:
			return fmt.Errorf("txn %q: rests in state %s", id, m.State)
		case m.ProducerID < 0 || m.ProducerEpoch < 0:
			return fmt.Errorf("txn %q: producer id %d epoch %d", id, m.ProducerID, m.ProducerEpoch)
		case len(t.parts) > s.cfg.MaxPartitionsPerTxn:
			return fmt.Errorf("txn %q: %d partitions, above %d", id, len(t.parts), s.cfg.MaxPartitionsPerTxn)
		case m.State.expirable() && len(t.parts) > 0:
			return fmt.Errorf("txn %q: %s with %d partitions", id, m.State, len(t.parts))
		case t.lastWrite > s.nextWrite || t.prepareWrite > s.nextWrite:
			return fmt.Errorf("txn %q: write %d/%d beyond the last issued %d", id, t.lastWrite, t.prepareWrite, s.nextWrite)
		}
		counts[m.State]++
		if m.State.preparing() {
			nPreparing++
			if !s.preparing[id] || t.markersLeft == nil {
				return fmt.Errorf("txn %q: %s but not waiting for markers", id, m.State)
			}
			for tp := range t.markersLeft {
				if !t.parts[tp] {
					return fmt.Errorf("txn %q: marker pending for %s[%d], not in the transaction", id, tp.Topic, tp.Partition)
				}
			}
		} else if t.markersLeft != nil || s.preparing[id] {
			return fmt.Errorf("txn %q: waits for markers in %s", id, m.State)
		}
	}
	if counts != s.counts {
		return fmt.Errorf("txn: state counts %v, recorded %v", counts, s.counts)
	}
	if nPreparing != len(s.preparing) {
		return fmt.Errorf("txn: %d preparing, %d recorded", nPreparing, len(s.preparing))
	}
	if len(s.txns) > s.cfg.MaxTransactionalIDs {
		return fmt.Errorf("txn: %d transactional ids, above %d", len(s.txns), s.cfg.MaxTransactionalIDs)
	}
	prev := s.committed
	for _, w := range s.pending {
		if w <= prev {
			return fmt.Errorf("txn: pending write %d not after %d", w, prev)
		}
		prev = w
	}
	if prev > s.nextWrite || len(s.pending) > s.cfg.MaxPendingWrites {
		return fmt.Errorf("txn: pending writes %v beyond the last issued %d or the limit", s.pending, s.nextWrite)
	}
	return nil
}

// fenced converts PRODUCER_FENCED to INVALID_PRODUCER_EPOCH for request
// versions older than fencedSince, which predate the error (KIP-588), as
// Kafka does.
func fenced(code int16, version, fencedSince int16) int16 {
	if code == kerr.ProducerFenced.Code && version < fencedSince {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}
