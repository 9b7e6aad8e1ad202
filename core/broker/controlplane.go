package broker

// The control plane: the controller role (core/controller) runs inside
// the broker that leads the metadata quorum. The broker routes the
// control-plane APIs to it, drives its timers from Tick and NextWakeMs,
// and proposes its records through the broker's metadata path.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/controller"
	"github.com/chronik-streaming/chronik/core/membership"
	"github.com/chronik-streaming/chronik/core/metadata"
)

// isController reports whether this broker may take controller requests.
func (b *Broker) isController() bool {
	return b.ctrl.Active() || !b.clustered()
}

// controllerHost is the broker as the controller's controller.Host.
type controllerHost Broker

func (h *controllerHost) Image() *metadata.Image { return h.image }

func (h *controllerHost) Propose(nowMs int64, records []metadata.Record, done func(nowMs int64, results []metadata.Result, code int16)) {
	(*Broker)(h).propose(nowMs, records, done)
}

func (h *controllerHost) Info(msg string, args ...any) { h.env.Logger.Info(msg, args...) }
func (h *controllerHost) Warn(msg string, args ...any) { h.env.Logger.Warn(msg, args...) }

// replyTo is the controller's way to answer req, possibly after its
// proposal applied.
func (b *Broker) replyTo(req *Request) controller.Reply {
	return func(resp kmsg.Response) { b.reply(req, resp) }
}

// Internal APIs: brokers call them on the controller, over the control
// listener only (listener.go), where ApiVersions lists them so that any
// Kafka client library can carry them; they answer NOT_CONTROLLER on a
// broker that is not the controller.
func init() {
	registerControlAPI(56, 0, 1, func(b *Broker, nowMs int64, req *Request) error {
		b.ctrl.AlterPartition(nowMs, req.Msg.(*kmsg.AlterPartitionRequest), b.replyTo(req))
		return nil
	})
	registerControlAPI(62, 0, 0, func(b *Broker, nowMs int64, req *Request) error {
		b.ctrl.BrokerRegistration(nowMs, req.Msg.(*kmsg.BrokerRegistrationRequest), b.replyTo(req))
		return nil
	})
	registerControlAPI(63, 0, 0, func(b *Broker, nowMs int64, req *Request) error {
		b.ctrl.BrokerHeartbeat(nowMs, req.Msg.(*kmsg.BrokerHeartbeatRequest), b.replyTo(req))
		return nil
	})
	registerControlAPI(67, 0, 0, func(b *Broker, nowMs int64, req *Request) error {
		b.ctrl.AllocateProducerIDs(nowMs, req.Msg.(*kmsg.AllocateProducerIDsRequest), b.replyTo(req))
		return nil
	})
}

// memberHost is the broker as its membership's membership.Host.
type memberHost Broker

func (h *memberHost) Image() *metadata.Image { return h.image }

// Controller is -1 once the broker is closed: it sends nothing then.
func (h *memberHost) Controller() int32 {
	if h.closed {
		return -1
	}
	return h.controllerID
}

func (h *memberHost) SendToController(nowMs int64, req kmsg.Request, done func(nowMs int64, resp kmsg.Response, err error)) {
	(*Broker)(h).sendPeer(nowMs, h.controllerID, req, done)
}

func (h *memberHost) Info(msg string, args ...any) { h.env.Logger.Info(msg, args...) }

// membershipConfig is what this broker registers with the controller.
func (b *Broker) membershipConfig() membership.Config {
	mc := membership.Config{
		NodeID: b.cfg.NodeID, ClusterID: b.cfg.ClusterID, Clustered: b.clustered(),
		HeartbeatIntervalMs: b.cfg.HeartbeatIntervalMs,
		Listeners:           []membership.Listener{{Name: "PLAINTEXT", Host: b.cfg.AdvertisedHost, Port: b.cfg.AdvertisedPort}},
	}
	if b.cfg.ControlPort != 0 {
		mc.Listeners = append(mc.Listeners, membership.Listener{Name: controller.ControlListenerName, Host: b.cfg.ControlHost, Port: b.cfg.ControlPort})
	}
	return mc
}
