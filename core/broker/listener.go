package broker

// Listeners: which requests a connection may make depends on the listener
// it reached (Request.Listener).
//
// The control plane (AlterPartition, BrokerRegistration, BrokerHeartbeat,
// AllocateProducerIds: registerControlAPI) changes cluster state on the
// word of the broker id inside the request, so it is served only on the
// control listener, which only brokers dial, and never advertised on the
// client listener. A client that asks for one anyway has its connection
// closed with the reason logged, and nothing changes: Kafka's rule for an
// API not enabled on a listener (it closes the connection too). On a
// single node there is no control listener at all, so the control plane
// is refused everywhere.
//
// Replica fetches (ReplicaID >= 0) may still come to the client listener,
// as in Kafka, but only with the id of another broker the image holds:
// a follower's fetch moves the high watermark and the ISR, so an id that
// names no broker is a client pretending to be one. Chronik's own brokers
// send them to the control listener.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
)

// refusedOnListener returns why req may not be served on the listener it
// arrived on, "" when it may. bugs.ControlOnClientPort: deliberate bug
// (core/bugs), the check is skipped and every listener serves everything.
func (b *Broker) refusedOnListener(h *apiHandler, req *Request) string {
	if req.Listener == ListenerControl || bugs.ControlOnClientPort {
		return ""
	}
	if h.control {
		return fmt.Sprintf("%s (API key %d) from client %q on the client listener: it is served only on the inter-broker control listener",
			kmsg.NameForKey(h.key), h.key, clientIDOf(req))
	}
	if f, ok := req.Msg.(*kmsg.FetchRequest); ok && f.ReplicaID >= 0 {
		if f.ReplicaID == b.cfg.NodeID || b.image.Broker(f.ReplicaID) == nil {
			return fmt.Sprintf("replica fetch with replica id %d from client %q on the client listener: no other registered broker has that id",
				f.ReplicaID, clientIDOf(req))
		}
	}
	return ""
}

// clientIDOf is req's client id for a log line ("" when null).
func clientIDOf(req *Request) string {
	if req.ClientID == nil {
		return ""
	}
	return *req.ClientID
}
