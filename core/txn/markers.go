package txn

import (
	"github.com/chronik-streaming/chronik/core/coord"
)

// Marker is the marker work of one transaction: a commit or abort marker
// for each of Partitions, written by the partitions' leaders
// (WriteTxnMarkers).
type Marker struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	Commit          bool
	// CoordinatorEpoch is the leader epoch of the coordinator's partition
	// (SetCoordinatorEpoch): a leader refuses the marker of a coordinator
	// older than one it has heard from.
	CoordinatorEpoch int32
	// Partitions are those still without a marker, sorted.
	Partitions []TopicPartition
}

// PendingMarkers lists, by transactional id, the markers still to write:
// those of transactions whose PrepareCommit or PrepareAbort is committed
// (a marker written before would commit or abort a transaction the
// coordinator may yet lose). The list stays until MarkersWritten reports
// them, including markers the broker has sent and not yet seen written:
// the broker keeps track of what it has in flight, and retrying across
// leader changes is its work. A marker no longer listed must not be sent
// again: with transaction version 1 the next transaction of the producer
// has the same epoch, and a late commit marker would end it early on a
// partition it has already reached.
func (s *Shard) PendingMarkers() []Marker {
	if !s.loaded {
		return nil
	}
	ids := make([]string, 0, len(s.preparing))
	for id := range s.preparing {
		ids = append(ids, id)
	}
	sortStrings(ids)
	var out []Marker
	for _, id := range ids {
		t := s.txns[id]
		if t.prepareWrite > s.committed || len(t.markersLeft) == 0 {
			continue
		}
		mk := Marker{TransactionalID: id, ProducerID: t.m.ProducerID, ProducerEpoch: t.m.ProducerEpoch,
			Commit: t.m.State == PrepareCommit, CoordinatorEpoch: s.coordinatorEpoch}
		for tp := range t.markersLeft {
			mk.Partitions = append(mk.Partitions, tp)
		}
		mk.Partitions = sortedPartitions(mk.Partitions)
		out = append(out, mk)
	}
	return out
}

// MarkersWritten reports that the markers of transaction id (of producer
// pid at epoch) are written on partitions. Once every partition has its
// marker the transaction completes: the returned write carries its
// CompleteCommit or CompleteAbort record. A report that matches no
// transaction waiting for markers (a late one, after the coordinator
// moved on) changes nothing.
func (s *Shard) MarkersWritten(nowMs int64, id string, pid int64, epoch int16, partitions []TopicPartition) coord.Write {
	var b outBuf
	t := s.txns[id]
	if t == nil || !t.m.State.preparing() || t.m.ProducerID != pid || t.m.ProducerEpoch != epoch || t.prepareWrite > s.committed {
		return coord.Write{}
	}
	for _, tp := range partitions {
		delete(t.markersLeft, tp)
	}
	if len(t.markersLeft) == 0 && !s.writesFull() {
		s.complete(nowMs, t, &b)
	}
	return s.finish(&b)
}

// completable lists, in order, the transactions whose markers are all
// written but which are not completed yet (none partitions, or a full
// write queue when the last marker came in): Tick completes them.
func (s *Shard) completable() []*txnState {
	var out []*txnState
	for id := range s.preparing {
		if t := s.txns[id]; t.prepareWrite <= s.committed && len(t.markersLeft) == 0 {
			out = append(out, t)
		}
	}
	sortTxns(out)
	return out
}

// hasCompletable reports whether completable would list any (without
// sorting: NextWakeMs asks often).
func (s *Shard) hasCompletable() bool {
	for id := range s.preparing {
		if t := s.txns[id]; t.prepareWrite <= s.committed && len(t.markersLeft) == 0 {
			return true
		}
	}
	return false
}
