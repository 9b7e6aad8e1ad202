package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-streaming/chronik/core/partlog"
)

// Kafka error codes used by the handlers, taken from franz-go's kerr (the
// codes of Kafka's Errors.java) so that no code is typed by hand.
var (
	kerrNone                               int16 // 0: no error
	kerrOffsetOutOfRange                   = kerr.OffsetOutOfRange.Code
	kerrCorruptMessage                     = kerr.CorruptMessage.Code
	kerrUnknownTopicOrPartition            = kerr.UnknownTopicOrPartition.Code
	kerrLeaderNotAvailable                 = kerr.LeaderNotAvailable.Code
	kerrNotLeaderOrFollower                = kerr.NotLeaderForPartition.Code
	kerrRequestTimedOut                    = kerr.RequestTimedOut.Code
	kerrNotEnoughReplicas                  = kerr.NotEnoughReplicas.Code
	kerrNotEnoughReplicasAfterAppend       = kerr.NotEnoughReplicasAfterAppend.Code
	kerrNotController                      = kerr.NotController.Code
	kerrCoordinatorNotAvailable            = kerr.CoordinatorNotAvailable.Code
	kerrMessageTooLarge                    = kerr.MessageTooLarge.Code
	kerrInvalidTopicException              = kerr.InvalidTopicException.Code
	kerrInvalidRequiredAcks                = kerr.InvalidRequiredAcks.Code
	kerrUnsupportedVersion                 = kerr.UnsupportedVersion.Code
	kerrTopicAlreadyExists                 = kerr.TopicAlreadyExists.Code
	kerrInvalidPartitions                  = kerr.InvalidPartitions.Code
	kerrInvalidReplicationFactor           = kerr.InvalidReplicationFactor.Code
	kerrInvalidReplicaAssignment           = kerr.InvalidReplicaAssignment.Code
	kerrInvalidConfig                      = kerr.InvalidConfig.Code
	kerrInvalidRequest                     = kerr.InvalidRequest.Code
	kerrUnsupportedForMessageFormat        = kerr.UnsupportedForMessageFormat.Code
	kerrPolicyViolation                    = kerr.PolicyViolation.Code
	kerrOutOfOrderSequenceNumber           = kerr.OutOfOrderSequenceNumber.Code
	kerrInvalidProducerEpoch               = kerr.InvalidProducerEpoch.Code
	kerrTransactionalIDAuthorizationFailed = kerr.TransactionalIDAuthorizationFailed.Code
	kerrKafkaStorageError                  = kerr.KafkaStorageError.Code
	kerrFetchSessionIDNotFound             = kerr.FetchSessionIDNotFound.Code
	kerrInvalidFetchSessionEpoch           = kerr.InvalidFetchSessionEpoch.Code
	kerrFencedLeaderEpoch                  = kerr.FencedLeaderEpoch.Code
	kerrUnknownLeaderEpoch                 = kerr.UnknownLeaderEpoch.Code
	kerrUnsupportedCompressionType         = kerr.UnsupportedCompressionType.Code
	kerrInvalidRecord                      = kerr.InvalidRecord.Code
	kerrUnknownTopicID                     = kerr.UnknownTopicID.Code
	kerrIneligibleReplica                  = kerr.IneligibleReplica.Code
)

// logReadError maps an error of a read of p's log to its Kafka error; a
// storage error takes p offline (after the caller's last use of p.log).
func (b *Broker) logReadError(p *partition, err error) int16 {
	b.recheck(p) // a failed read changes nothing, but partlog counts it
	code := kerrForLogError(err)
	if code == kerrKafkaStorageError {
		b.takeOffline(p, err)
	}
	return code
}

// kerrForLogError maps a partlog error to the Kafka error a produce gets.
func kerrForLogError(err error) int16 {
	switch {
	case err == nil:
		return kerrNone
	case errors.Is(err, partlog.ErrUnsupportedMagic):
		return kerrInvalidRecord
	case errors.Is(err, partlog.ErrCorruptBatch):
		return kerrCorruptMessage
	case errors.Is(err, partlog.ErrBatchTooLarge):
		return kerrMessageTooLarge
	case errors.Is(err, partlog.ErrOutOfOrderSequence):
		return kerrOutOfOrderSequenceNumber
	case errors.Is(err, partlog.ErrInvalidProducerEpoch):
		return kerrInvalidProducerEpoch
	case errors.Is(err, partlog.ErrOffsetOutOfRange):
		return kerrOffsetOutOfRange
	default:
		return kerrKafkaStorageError
	}
}
