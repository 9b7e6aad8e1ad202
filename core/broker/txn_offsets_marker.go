package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-streaming/chronik/core/coord"
)

// writeOffsetsTxnMarker writes the end-transaction marker of producerID
// (commit or abort) to partition of __consumer_offsets through the group
// coordinators' runtime, so that the partition's shard applies (commit)
// or drops (abort) the offsets the producer staged there with
// TxnOffsetCommit. done gets the marker's WriteTxnMarkers error code,
// once: 0 only after the marker is committed (the high watermark passed
// it) and the shard applied it. Like Kafka, which answers a group
// coordinator that is not loaded, loading or moving with
// NOT_LEADER_OR_FOLLOWER so that the transaction coordinator retries the
// marker (on the partition's new leader), this broker answers
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS and
// COORDINATOR_NOT_AVAILABLE so; a fenced marker gets INVALID_PRODUCER_EPOCH
// or TRANSACTION_COORDINATOR_FENCED.
func (b *Broker) writeOffsetsTxnMarker(nowMs int64, partition int32, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32, done func(code int16)) {
	if b.groupRT == nil {
		done(kerrNotLeaderOrFollower)
		return
	}
	m := coord.TxnMarker{ProducerID: producerID, ProducerEpoch: producerEpoch, Commit: commit, CoordinatorEpoch: coordinatorEpoch}
	b.groupRuntime().WriteTxnMarker(nowMs, partition, m, func(code int16) {
		switch code {
		case kerr.NotCoordinator.Code, kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code:
			code = kerrNotLeaderOrFollower
		}
		done(code)
	})
	// The marker touched the partition: its followers' long polls wake
	// now, as after a produce.
	b.wakeFetches(nowMs)
}
