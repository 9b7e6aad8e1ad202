package controller

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// BrokerRegistration registers a broker process: a new incarnation
// fences the old one, and every registration starts fenced.
func (c *Controller) BrokerRegistration(nowMs int64, r *kmsg.BrokerRegistrationRequest, reply Reply) {
	resp := kmsg.NewPtrBrokerRegistrationResponse()
	resp.BrokerEpoch = -1
	if !c.active {
		resp.ErrorCode = notController
		reply(resp)
		return
	}
	var host string
	var port int32
	for _, l := range r.Listeners {
		host, port = l.Host, int32(l.Port)
		break
	}
	inc := IncarnationOf(r.IncarnationID)
	rec := metadata.Record{RegisterBroker: &metadata.RegisterBroker{ID: r.BrokerID, Host: host, Port: port, Incarnation: inc}}
	c.host.Propose(nowMs, []metadata.Record{rec}, func(nowMs int64, results []metadata.Result, code int16) {
		if code == 0 {
			code = ErrorCode(results[0].Err)
		}
		resp.ErrorCode = code
		if code == 0 {
			resp.BrokerEpoch = int64(inc)
			c.lastHeartbeatMs[r.BrokerID] = nowMs
		}
		reply(resp)
	})
}
