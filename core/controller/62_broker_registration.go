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
	// The client listener is the first other than the control listener
	// (a broker older than the control listener sends only the first).
	reg := &metadata.RegisterBroker{ID: r.BrokerID, Incarnation: IncarnationOf(r.IncarnationID)}
	for _, l := range r.Listeners {
		switch {
		case l.Name == ControlListenerName:
			reg.ControlHost, reg.ControlPort = l.Host, int32(l.Port)
		case reg.Host == "" && reg.Port == 0:
			reg.Host, reg.Port = l.Host, int32(l.Port)
		}
	}
	inc := reg.Incarnation
	rec := metadata.Record{RegisterBroker: reg}
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
