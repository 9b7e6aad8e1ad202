package partlog

import "slices"

// ProducerState is one producer's entry in the log's producer table, as
// Kafka's DescribeProducers shows it and as the broker's transaction
// verification reads it.
type ProducerState struct {
	ProducerID    int64
	ProducerEpoch int16
	// LastSequence is the last sequence of the producer's newest batch
	// still remembered, -1 when none is (after a marker at a new epoch).
	LastSequence int32
	// LastTimestamp is the max timestamp of that batch, -1 when none is
	// remembered.
	LastTimestamp int64
	// LastOffset is the offset of the producer's newest batch or marker.
	LastOffset int64
	// CoordinatorEpoch is the coordinator epoch of the producer's last
	// marker, -1 before any.
	CoordinatorEpoch int32
	// TxnFirstOffset is the first offset of the producer's open
	// transaction, -1 when none is open.
	TxnFirstOffset int64
}

func (e *producerEntry) state() ProducerState {
	s := ProducerState{ProducerID: e.id, ProducerEpoch: e.epoch, LastSequence: -1, LastTimestamp: -1, LastOffset: e.last,
		CoordinatorEpoch: e.coordEpoch, TxnFirstOffset: e.txnFirst}
	if n := len(e.batches); n > 0 {
		s.LastSequence, s.LastTimestamp = e.batches[n-1].lastSeq, e.batches[n-1].maxTimestamp
	}
	return s
}

// Producers lists the producer table, by producer id.
func (l *Log) Producers() []ProducerState {
	out := make([]ProducerState, 0, len(l.producers.byID))
	for _, e := range l.producers.byID {
		out = append(out, e.state())
	}
	slices.SortFunc(out, func(a, b ProducerState) int {
		switch {
		case a.ProducerID < b.ProducerID:
			return -1
		case a.ProducerID > b.ProducerID:
			return 1
		}
		return 0
	})
	return out
}

// Producer returns producer id's entry; false when the table has none
// (never seen, evicted, or its batches removed by retention).
func (l *Log) Producer(id int64) (ProducerState, bool) {
	e := l.producers.byID[id]
	if e == nil {
		return ProducerState{}, false
	}
	return e.state(), true
}
