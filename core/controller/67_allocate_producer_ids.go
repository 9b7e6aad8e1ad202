package controller

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// AllocateProducerIDs hands a broker a block of producer ids, recorded in
// the metadata log before it is used, so no id is ever handed out twice.
func (c *Controller) AllocateProducerIDs(nowMs int64, r *kmsg.AllocateProducerIDsRequest, reply Reply) {
	resp := kmsg.NewPtrAllocateProducerIDsResponse()
	if !c.active {
		resp.ErrorCode = notController
		reply(resp)
		return
	}
	rec := metadata.Record{AllocateProducerIDs: &metadata.AllocateProducerIDs{Broker: r.BrokerID, Count: ProducerIDBlockSize}}
	c.host.Propose(nowMs, []metadata.Record{rec}, func(nowMs int64, results []metadata.Result, code int16) {
		if code == 0 {
			code = ErrorCode(results[0].Err)
		}
		resp.ErrorCode = code
		if code == 0 {
			resp.ProducerIDStart = results[0].ProducerIDStart
			resp.ProducerIDLen = ProducerIDBlockSize
		}
		reply(resp)
	})
}
