package broker

import (
	"errors"

	"github.com/chronik-streaming/chronik/core/partlog"
)

// Kafka error codes used by the handlers (see Kafka's Errors.java).
const (
	kerrNone                               int16 = 0
	kerrOffsetOutOfRange                   int16 = 1
	kerrCorruptMessage                     int16 = 2
	kerrUnknownTopicOrPartition            int16 = 3
	kerrInvalidFetchSize                   int16 = 4
	kerrLeaderNotAvailable                 int16 = 5
	kerrNotLeaderOrFollower                int16 = 6
	kerrRequestTimedOut                    int16 = 7
	kerrNotEnoughReplicas                  int16 = 19
	kerrNotEnoughReplicasAfterAppend       int16 = 20
	kerrNotController                      int16 = 41
	kerrCoordinatorNotAvailable            int16 = 15
	kerrMessageTooLarge                    int16 = 10
	kerrInvalidTopicException              int16 = 17
	kerrRecordListTooLarge                 int16 = 18
	kerrInvalidRequiredAcks                int16 = 21
	kerrInvalidTimestamp                   int16 = 32
	kerrUnsupportedVersion                 int16 = 35
	kerrTopicAlreadyExists                 int16 = 36
	kerrInvalidPartitions                  int16 = 37
	kerrInvalidReplicationFactor           int16 = 38
	kerrInvalidReplicaAssignment           int16 = 39
	kerrInvalidConfig                      int16 = 40
	kerrInvalidRequest                     int16 = 42
	kerrUnsupportedForMessageFormat        int16 = 43
	kerrPolicyViolation                    int16 = 44
	kerrOutOfOrderSequenceNumber           int16 = 45
	kerrInvalidProducerEpoch               int16 = 47
	kerrTransactionalIDAuthorizationFailed int16 = 53
	kerrKafkaStorageError                  int16 = 56
	kerrUnknownProducerID                  int16 = 59
	kerrFetchSessionIDNotFound             int16 = 70
	kerrInvalidFetchSessionEpoch           int16 = 71
	kerrFencedLeaderEpoch                  int16 = 74
	kerrUnknownLeaderEpoch                 int16 = 75
	kerrUnsupportedCompressionType         int16 = 76
	kerrInvalidRecord                      int16 = 87
	kerrStaleBrokerEpoch                   int16 = 77
	kerrUnknownTopicID                     int16 = 100
	kerrInconsistentTopicID                int16 = 103
	kerrIneligibleReplica                  int16 = 107
)

// errorsIs is errors.Is, named for files that do not import errors.
func errorsIs(err, target error) bool { return errors.Is(err, target) }

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
