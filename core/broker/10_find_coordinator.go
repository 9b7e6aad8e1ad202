package broker

// FindCoordinator, versions 0-6.
//
// v0 names one group (Key); v1 adds KeyType (0 group, 1 transaction) and
// an error message; v3 is flexible; v4 batches keys (CoordinatorKeys, one
// answer each in Coordinators). A group's coordinator is the leader of
// its partition of __consumer_offsets (coordinatorPartition), which the
// first request creates (ensureOffsetsTopic): until it exists, or while
// that partition has no live leader, the answer is
// COORDINATOR_NOT_AVAILABLE and the client asks again, as with Kafka.
// A transactional id's coordinator (key type 1) is likewise the leader of
// its partition of __transaction_state, created by the first request.
// Share groups (2) do not exist yet: INVALID_REQUEST with a message
// saying so.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

func init() { registerAPI(10, 0, 6, handleFindCoordinator) }

// coordinatorKeyGroup and coordinatorKeyTxn are FindCoordinator's key
// types of a consumer group and of a transactional id.
const (
	coordinatorKeyGroup = 0
	coordinatorKeyTxn   = 1
)

// maxCoordinatorKeys bounds the keys of one batched request.
const maxCoordinatorKeys = 10000

func handleFindCoordinator(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.FindCoordinatorRequest)
	resp := kmsg.NewPtrFindCoordinatorResponse()
	if r.Version < 4 {
		c := b.findCoordinator(nowMs, r.CoordinatorType, r.CoordinatorKey)
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
		b.reply(req, resp)
		return nil
	}
	if len(r.CoordinatorKeys) > maxCoordinatorKeys {
		for _, key := range r.CoordinatorKeys {
			c := coordinatorError(key, kerrInvalidRequest, "Too many coordinator keys in one request.")
			resp.Coordinators = append(resp.Coordinators, c)
		}
		b.reply(req, resp)
		return nil
	}
	for _, key := range r.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, b.findCoordinator(nowMs, r.CoordinatorType, key))
	}
	b.reply(req, resp)
	return nil
}

// findCoordinator answers for one key.
func (b *Broker) findCoordinator(nowMs int64, keyType int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	var ts *topicState
	switch keyType {
	case coordinatorKeyGroup:
		if ts = b.topics[offsetsTopic]; ts == nil {
			b.ensureOffsetsTopic(nowMs)
		}
	case coordinatorKeyTxn:
		if key == "" {
			// Kafka: "Cannot find coordinator for an empty transactional id".
			return coordinatorError(key, kerrInvalidRequest, "The transactional id is empty.")
		}
		if ts = b.topics[txnStateTopic]; ts == nil {
			b.ensureTxnStateTopic(nowMs)
		}
	default:
		return coordinatorError(key, kerrInvalidRequest, "Only group and transaction coordinators exist on this broker (key types 0 and 1).")
	}
	if ts == nil {
		return coordinatorError(key, kerrCoordinatorNotAvailable, "The coordinator is not available.")
	}
	p := coordinatorPartition(key, ts.meta.Partitions)
	leader := ts.meta.Assignments[p].Leader
	if leader == metadata.NoLeader {
		return coordinatorError(key, kerrCoordinatorNotAvailable, "The coordinator is not available.")
	}
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key = key
	if leader == b.cfg.NodeID {
		c.NodeID, c.Host, c.Port = leader, b.cfg.AdvertisedHost, b.cfg.AdvertisedPort
		return c
	}
	reg := b.image.Broker(leader)
	if reg == nil || reg.Fenced {
		return coordinatorError(key, kerrCoordinatorNotAvailable, "The coordinator is not available.")
	}
	c.NodeID, c.Host, c.Port = leader, reg.Host, reg.Port
	return c
}

// coordinatorError is a failed answer for key: no node (-1), as Kafka sends.
func coordinatorError(key string, code int16, msg string) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key = key
	c.NodeID, c.Port = -1, -1
	c.ErrorCode = code
	c.ErrorMessage = errorMessage(code, msg)
	return c
}
