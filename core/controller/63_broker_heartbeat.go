package controller

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// BrokerHeartbeat keeps a broker's session alive, unfences it when it
// asks to serve and fences it for a controlled shutdown.
func (c *Controller) BrokerHeartbeat(nowMs int64, r *kmsg.BrokerHeartbeatRequest, reply Reply) {
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	resp.IsFenced = true
	if !c.active {
		resp.ErrorCode = notController
		reply(resp)
		return
	}
	reg := c.host.Image().Broker(r.BrokerID)
	if reg == nil || int64(reg.Incarnation) != r.BrokerEpoch {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		reply(resp)
		return
	}
	c.lastHeartbeatMs[r.BrokerID] = nowMs
	resp.IsCaughtUp = true
	resp.IsFenced = reg.Fenced
	switch {
	case r.WantShutdown:
		if reg.Fenced {
			resp.ShouldShutdown = true
		} else if c.fencing[reg.ID] != reg.Incarnation {
			c.host.Info("controlled shutdown: fencing broker", "broker", reg.ID)
			c.proposeFence(nowMs, reg)
		}
	case reg.Fenced && !r.WantFence && c.unfencing[reg.ID] != reg.Incarnation:
		c.proposeMarked(nowMs, c.unfencing, reg, metadata.Record{UnfenceBroker: &metadata.UnfenceBroker{ID: reg.ID, Incarnation: reg.Incarnation}})
	}
	reply(resp)
}
