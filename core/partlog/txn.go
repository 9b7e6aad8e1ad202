package partlog

import (
	"errors"
	"fmt"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/record"
)

// The partition side of transactions (Kafka's ProducerStateManager and
// transaction index, for one log):
//
//   - A transactional batch (attributes bit 4) of a producer with no open
//     transaction opens one at its offset; the producer's end marker (a
//     control batch, bit 5, written by AppendTxnMarker on the leader and
//     copied as-is by AppendAsFollower) closes it.
//   - The last stable offset is the lowest first offset of an open
//     transaction, else the high watermark, and never above the high
//     watermark: read_committed reads stop there.
//   - Each abort adds an entry to the aborted-transaction index of the
//     segment that holds its marker (txnindex.go), which read_committed
//     readers get for the range they read (AbortedTransactions).
//   - All of it is derived from the batches: recovery and truncation
//     rebuild it by replaying the log.

// Errors of the transactional paths. Callers map them to Kafka codes:
// ErrInvalidProducerEpoch (above) to INVALID_PRODUCER_EPOCH on produce
// and PRODUCER_FENCED where Kafka's WriteTxnMarkers answers it.
var (
	// ErrCoordinatorFenced: a marker from a coordinator epoch older than
	// the producer's last marker's (TRANSACTION_COORDINATOR_FENCED).
	ErrCoordinatorFenced = errors.New("partlog: transaction coordinator fenced")
)

// TxnMarker describes an end-transaction marker to append.
type TxnMarker struct {
	ProducerID    int64
	ProducerEpoch int16
	// Commit selects a commit marker; false writes an abort.
	Commit bool
	// CoordinatorEpoch is the writing coordinator's epoch.
	CoordinatorEpoch int32
}

// AppendTxnMarker appends, on the leader, the control batch that commits
// or aborts m.ProducerID's open transaction (WriteTxnMarkers), stamped
// leaderEpoch and nowMs, and returns its offset (BaseOffset ==
// LastOffset). Fencing, as Kafka's ProducerAppendInfo: a marker whose
// producer epoch is below the producer's current one is refused with
// ErrInvalidProducerEpoch, one whose coordinator epoch is below that of
// the producer's last marker with ErrCoordinatorFenced. A higher
// producer epoch is accepted and adopted: a coordinator that fences a
// producer writes its abort at the bumped epoch. A marker for a producer
// without an open transaction is written too (an empty transaction, a
// retried marker), as Kafka does; an abort then indexes nothing that any
// read can overlap, since its range is the marker alone.
//
// Like Append it writes to the page cache only; durability comes from
// the next sync job.
func (l *Log) AppendTxnMarker(m TxnMarker, leaderEpoch int32, nowMs int64) (AppendResult, error) {
	l.changes++
	if err := l.usable(); err != nil {
		return AppendResult{}, err
	}
	l.observeTime(nowMs)
	if leaderEpoch < 0 || leaderEpoch < l.epochs.latest() {
		return AppendResult{}, fmt.Errorf("%w: epoch %d, latest in log %d", ErrInvalidLeaderEpoch, leaderEpoch, l.epochs.latest())
	}
	if m.ProducerID < 0 || m.ProducerEpoch < 0 {
		return AppendResult{}, fmt.Errorf("%w: marker for producer id %d epoch %d", ErrCorruptBatch, m.ProducerID, m.ProducerEpoch)
	}
	if e := l.producers.byID[m.ProducerID]; e != nil {
		if m.ProducerEpoch < e.epoch {
			return AppendResult{}, fmt.Errorf("%w: marker for producer %d at epoch %d, current epoch %d", ErrInvalidProducerEpoch, m.ProducerID, m.ProducerEpoch, e.epoch)
		}
		if m.CoordinatorEpoch < e.coordEpoch {
			return AppendResult{}, fmt.Errorf("%w: marker for producer %d from coordinator epoch %d, last marker's %d", ErrCoordinatorFenced, m.ProducerID, m.CoordinatorEpoch, e.coordEpoch)
		}
	}
	b := record.BuildEndTxnMarker(m.ProducerID, m.ProducerEpoch, record.EndTxnMarker{Commit: m.Commit, CoordinatorEpoch: m.CoordinatorEpoch}, nowMs)
	base := l.LogEndOffset()
	record.SetBaseOffset(b, base)
	record.SetPartitionLeaderEpoch(b, leaderEpoch)
	h, err := record.ParseHeader(b)
	if err != nil {
		panic(fmt.Sprintf("partlog: invariant broken: a built marker does not parse: %v", err))
	}
	if err := l.write(b, h, nowMs); err != nil {
		return AppendResult{}, err
	}
	if e, abort := l.producers.replayMarker(h, b); abort {
		a := l.active()
		a.aborted = append(a.aborted, e)
	}
	if l.epochs.assign(leaderEpoch, base) {
		l.epochs.truncateFromStart(l.logStart)
		l.epochsUnsynced = true
	}
	return AppendResult{BaseOffset: base, LastOffset: base, LogStartOffset: l.logStart}, nil
}

// LastStableOffset is the offset below which every transaction is
// decided: the first offset of the earliest open transaction, else the
// high watermark, never above the high watermark (read_committed reads
// and ListOffsets stop there).
func (l *Log) LastStableOffset() int64 {
	if first, ok := l.producers.firstOpen(); ok && first < l.hw && !bugs.LSOIgnoresOpenTxn { // bugs.LSOIgnoresOpenTxn: deliberate bug (core/bugs), open transactions do not hold the LSO back
		return first
	}
	return l.hw
}

// AbortedTransactions returns the aborted transactions that overlap
// [from, upTo): a read_committed read of that range drops their records
// (the Fetch response's AbortedTransactions). Entries come in marker
// order. upTo is the offset after the last batch the read returned.
func (l *Log) AbortedTransactions(from, upTo int64) ([]AbortedTxn, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	if from >= upTo {
		return nil, nil
	}
	res, err := l.collectAborted(from, upTo)
	if err != nil {
		l.changes++ // an error may fail the log
	}
	return res, err
}

// OpenTxn is one open transaction of the log (for DescribeProducers-like
// tools and tests).
type OpenTxn struct {
	ProducerID    int64
	ProducerEpoch int16
	FirstOffset   int64
}

// OpenTransactions lists the open transactions, earliest first.
func (l *Log) OpenTransactions() []OpenTxn {
	out := make([]OpenTxn, 0, len(l.producers.open))
	for _, e := range l.producers.open {
		out = append(out, OpenTxn{ProducerID: e.id, ProducerEpoch: e.epoch, FirstOffset: e.txnFirst})
	}
	return out
}
