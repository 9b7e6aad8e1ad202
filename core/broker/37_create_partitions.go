package broker

// CreatePartitions, versions 0-3.
//
// v1 is identical to v0 (it only changed throttling); v2 is flexible; v3
// is identical to v2 (a newer Kafka may answer with THROTTLING_QUOTA_EXCEEDED,
// which Chronik never does). TimeoutMillis is ignored: the new partitions
// exist when the response is sent.
//
// Partition counts only grow: a count equal to or below the current one is
// INVALID_PARTITIONS, as in Kafka's controller. A manual assignment must
// have one entry per new partition, each placing it on this node alone
// (the only registered broker). A topic named twice is INVALID_REQUEST for
// every entry naming it. ValidateOnly runs every check and changes nothing.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(37, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.CreatePartitionsRequest)
	resp := kmsg.NewPtrCreatePartitionsResponse()
	dup := duplicated(r.Topics, func(rt *kmsg.CreatePartitionsRequestTopic) string { return rt.Topic })
	for i, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		code, msg := kerrInvalidRequest, "Duplicate topic name."
		if !dup[i] {
			code, msg = b.createPartitions(nowMs, &rt, r.ValidateOnly)
		}
		st.ErrorCode, st.ErrorMessage = code, errorMessage(code, msg)
		resp.Topics = append(resp.Topics, st)
	}
	var slots []stagedSlot
	for i := range resp.Topics {
		if st := &resp.Topics[i]; st.ErrorCode == codeStaged {
			slots = append(slots, stagedSlot{&st.ErrorCode, &st.ErrorMessage})
		}
	}
	b.finishStaged(nowMs, req, resp, slots, nil)
	return nil
}

// createPartitions checks one topic's request and, unless validateOnly,
// adds the partitions. Messages follow Kafka's controller.
func (b *Broker) createPartitions(nowMs int64, rt *kmsg.CreatePartitionsRequestTopic, validateOnly bool) (int16, string) {
	ts := b.topics[rt.Topic]
	if ts == nil {
		return kerrUnknownTopicOrPartition, fmt.Sprintf("The topic '%s' does not exist.", rt.Topic)
	}
	current := ts.meta.Partitions
	switch {
	case rt.Count == current:
		return kerrInvalidPartitions, fmt.Sprintf("Topic already has %d partition(s).", current)
	case rt.Count < current:
		return kerrInvalidPartitions, fmt.Sprintf("The topic %s currently has %d partition(s); %d would not be an increase.", rt.Topic, current, rt.Count)
	case rt.Count > b.cfg.MaxPartitionsPerTopic:
		return kerrInvalidPartitions, fmt.Sprintf("Number of partitions %d exceeds the limit of %d.", rt.Count, b.cfg.MaxPartitionsPerTopic)
	}
	additional := rt.Count - current
	rf := len(ts.meta.Assignments[0].Replicas)
	var assignment [][]int32
	if rt.Assignment != nil {
		if int32(len(rt.Assignment)) != additional {
			return kerrInvalidReplicaAssignment, fmt.Sprintf("Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", additional, len(rt.Assignment))
		}
		for _, a := range rt.Assignment {
			if code, msg := b.checkManualAssignment(a.Replicas, rf); code != kerrNone {
				return code, msg
			}
			assignment = append(assignment, a.Replicas)
		}
	} else if live := len(b.image.UnfencedBrokerIDs()); rf > live {
		return kerrInvalidReplicationFactor, fmt.Sprintf("Unable to replicate the partition %d time(s): only %d broker(s) are available.", rf, live)
	}
	if validateOnly {
		return kerrNone, ""
	}
	b.env.Logger.Info("creating partitions", "topic", rt.Topic, "from", current, "to", rt.Count)
	return b.addPartitions(ts, rt.Count, assignment)
}

// checkManualAssignment validates the replicas chosen for one partition:
// every one a registered broker, none twice, and as many as the topic's
// other partitions have (rf).
func (b *Broker) checkManualAssignment(replicas []int32, rf int) (int16, string) {
	if len(replicas) == 0 {
		return kerrInvalidReplicaAssignment, "The manual partition assignment includes an empty replica list."
	}
	for i, r := range replicas {
		if b.image.Broker(r) == nil {
			return kerrInvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes broker %d, but no such broker is registered.", r)
		}
		for _, other := range replicas[:i] {
			if other == r {
				return kerrInvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", r)
			}
		}
	}
	if len(replicas) != rf {
		return kerrInvalidReplicaAssignment, fmt.Sprintf("Inconsistent replication factor between partitions, partition 0 has %d while partitions [%d] have replication factors [%d], respectively.", rf, 0, len(replicas))
	}
	return kerrNone, ""
}
