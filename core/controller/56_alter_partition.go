package controller

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// AlterPartition applies the ISR changes partition leaders propose; a
// leader that leaves its own ISR (its copy went offline) resigns.
func (c *Controller) AlterPartition(nowMs int64, r *kmsg.AlterPartitionRequest, reply Reply) {
	resp := kmsg.NewPtrAlterPartitionResponse()
	if !c.active {
		resp.ErrorCode = notController
		reply(resp)
		return
	}
	var records []metadata.Record
	type slot struct{ topic, part int }
	var slots []slot
	for _, rt := range r.Topics {
		st := kmsg.NewAlterPartitionResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionResponseTopicPartition()
			sp.Partition = rp.Partition
			slots = append(slots, slot{len(resp.Topics), len(st.Partitions)})
			if !slices.Contains(rp.NewISR, r.BrokerID) {
				records = append(records, metadata.Record{ResignLeadership: &metadata.ResignLeadership{
					Topic: rt.Topic, Partition: rp.Partition, Leader: r.BrokerID,
					LeaderEpoch: rp.LeaderEpoch, PartitionEpoch: rp.PartitionEpoch,
				}})
			} else {
				records = append(records, metadata.Record{ChangeISR: &metadata.ChangeISR{
					Topic: rt.Topic, Partition: rp.Partition, Leader: r.BrokerID,
					LeaderEpoch: rp.LeaderEpoch, PartitionEpoch: rp.PartitionEpoch, ISR: rp.NewISR,
				}})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(records) == 0 || len(records) > metadata.MaxRecordsPerEntry {
		resp.ErrorCode = kerr.InvalidRequest.Code
		reply(resp)
		return
	}
	c.host.Propose(nowMs, records, func(nowMs int64, results []metadata.Result, code int16) {
		if code != 0 {
			resp.ErrorCode = code
			reply(resp)
			return
		}
		image := c.host.Image()
		for i, s := range slots {
			st := &resp.Topics[s.topic]
			sp := &st.Partitions[s.part]
			sp.ErrorCode = ErrorCode(results[i].Err)
			if t := image.Topic(st.Topic); t != nil && sp.Partition >= 0 && sp.Partition < t.Partitions {
				a := t.Assignments[sp.Partition]
				sp.LeaderID, sp.LeaderEpoch, sp.PartitionEpoch = a.Leader, a.LeaderEpoch, a.PartitionEpoch
				sp.ISR = slices.Clone(a.ISR)
			}
		}
		reply(resp)
	})
}
