package broker

import "github.com/chronik-streaming/chronik/core/partlog"

// writeOffsetsTxnMarker writes the end marker of producer producerID's
// transaction on partition partition of __consumer_offsets, which this
// broker leads, and calls done once it is committed (or with the error).
// Every marker of a __consumer_offsets partition goes through here, from
// this broker's coordinators and from WriteTxnMarkers alike, so that the
// group coordinator can apply (commit) or drop (abort) the offsets the
// transaction staged with TxnOffsetCommit. For now it writes the marker
// like any other partition's.
func (b *Broker) writeOffsetsTxnMarker(nowMs int64, partition int32, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32, done func(code int16)) {
	m := partlog.TxnMarker{ProducerID: producerID, ProducerEpoch: producerEpoch, Commit: commit, CoordinatorEpoch: coordinatorEpoch}
	b.writeTxnMarkerLocal(nowMs, b.lookupPartition(offsetsTopic, partition), m, done)
}
