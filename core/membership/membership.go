// Package membership is one broker process's membership in a cluster:
// its incarnation, its registration with the controller, its heartbeats
// (which keep its session alive and ask to be unfenced) and a controlled
// shutdown (which asks to be fenced, so that its leaderships move first).
//
// A broker plays a part only once the metadata image holds its
// registration with the incarnation drawn by this process: until then, a
// leadership in the image belongs to the previous process, which may have
// lost unsynced data, and acting on it could serve or overwrite offsets
// that were acknowledged elsewhere. The controller fences the old
// incarnation (moving its leaderships at a new leader epoch) before the
// new registration applies, so a restarted broker can only lead at an
// epoch that postdates its restart.
//
// The member is driven by its broker (core/broker) on the broker's event
// loop: Tick and NextWakeMs run with the broker's timers, ControllerChanged
// when the quorum's leader moves; requests go to the controller through
// Host.SendToController, whose answer comes back through its callback.
package membership

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/controller"
	"github.com/chronik-streaming/chronik/core/metadata"
)

// Host is what the member needs from its broker.
type Host interface {
	// Image is the broker's current metadata image.
	Image() *metadata.Image
	// Controller is the controller's broker id; -1 while none is known or
	// the broker is closed (nothing is sent then).
	Controller() int32
	// SendToController sends req to the controller; done runs exactly
	// once, with its answer or a failure.
	SendToController(nowMs int64, req kmsg.Request, done func(nowMs int64, resp kmsg.Response, err error))
	// Info logs through the broker's logger.
	Info(msg string, args ...any)
}

// Listener is an address the broker registers.
type Listener struct {
	Name string
	Host string
	Port int32
}

// Config configures a member.
type Config struct {
	NodeID    int32
	ClusterID string
	// Clustered is false on a single node, which has no controller to
	// register with: it registers itself through its local metadata log,
	// and a controlled shutdown is ready at once.
	Clustered bool
	// HeartbeatIntervalMs is the pause between two heartbeats, and
	// between two registration attempts.
	HeartbeatIntervalMs int64
	// Listeners are registered in this order: the client listener first.
	Listeners []Listener
}

// Member is one process's membership.
type Member struct {
	cfg  Config
	host Host
	// incarnation is drawn once per process; registrations and heartbeats
	// carry it as the broker epoch.
	incarnation       uint64
	registerInFlight  bool
	heartbeatInFlight bool
	nextRegisterMs    int64
	nextHeartbeatMs   int64
	shuttingDown      bool
	shutdownReady     bool
}

// New returns the membership of a process whose incarnation is inc (non
// zero, at most 2^63-1 so it fits the int64 broker epoch).
func New(cfg Config, inc uint64, host Host) *Member {
	return &Member{cfg: cfg, host: host, incarnation: inc}
}

// Incarnation is this process's incarnation.
func (m *Member) Incarnation() uint64 { return m.incarnation }

// Registered reports whether the image holds this process's registration.
func (m *Member) Registered() bool {
	reg := m.host.Image().Broker(m.cfg.NodeID)
	return reg != nil && reg.Incarnation == m.incarnation
}

// Unfenced reports whether this process may lead partitions.
func (m *Member) Unfenced() bool {
	reg := m.host.Image().Broker(m.cfg.NodeID)
	return reg != nil && reg.Incarnation == m.incarnation && !reg.Fenced
}

// ControllerChanged sends afresh: a registration or heartbeat in flight
// to the old controller may never be answered.
func (m *Member) ControllerChanged(nowMs int64) {
	m.nextRegisterMs, m.nextHeartbeatMs = nowMs, nowMs
	m.Tick(nowMs)
}

// Tick registers this process until the image holds its registration,
// then heartbeats every interval.
func (m *Member) Tick(nowMs int64) {
	ctrl := m.host.Controller()
	if !m.cfg.Clustered || ctrl < 0 {
		return
	}
	if !m.Registered() {
		if m.registerInFlight || nowMs < m.nextRegisterMs {
			return
		}
		m.registerInFlight = true
		m.nextRegisterMs = nowMs + m.cfg.HeartbeatIntervalMs
		req := kmsg.NewPtrBrokerRegistrationRequest()
		req.Version = 0
		req.BrokerID = m.cfg.NodeID
		req.ClusterID = m.cfg.ClusterID
		controller.PutIncarnation(&req.IncarnationID, m.incarnation)
		for _, l := range m.cfg.Listeners {
			rl := kmsg.NewBrokerRegistrationRequestListener()
			rl.Name, rl.Host, rl.Port = l.Name, l.Host, uint16(l.Port)
			req.Listeners = append(req.Listeners, rl)
		}
		m.host.SendToController(nowMs, req, func(nowMs int64, resp kmsg.Response, err error) {
			m.registerInFlight = false
			if err != nil {
				m.host.Info("broker registration failed", "controller", m.host.Controller(), "err", err)
				return
			}
			if code := resp.(*kmsg.BrokerRegistrationResponse).ErrorCode; code != 0 {
				m.host.Info("broker registration refused", "controller", m.host.Controller(), "code", code)
			}
		})
		return
	}
	if m.heartbeatInFlight || nowMs < m.nextHeartbeatMs {
		return
	}
	m.heartbeatInFlight = true
	m.nextHeartbeatMs = nowMs + m.cfg.HeartbeatIntervalMs
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.Version = 0
	req.BrokerID = m.cfg.NodeID
	req.BrokerEpoch = int64(m.incarnation)
	req.CurrentMetadataOffset = -1
	req.WantShutdown = m.shuttingDown
	m.host.SendToController(nowMs, req, func(nowMs int64, resp kmsg.Response, err error) {
		m.heartbeatInFlight = false
		if err != nil {
			return
		}
		hb := resp.(*kmsg.BrokerHeartbeatResponse)
		if hb.ErrorCode == 0 && hb.ShouldShutdown {
			m.shutdownReady = true
		}
		if m.shuttingDown && !m.shutdownReady {
			m.nextHeartbeatMs = nowMs // keep asking while leaderships move
		}
	})
}

// NextWakeMs lowers next to the next registration attempt or heartbeat.
func (m *Member) NextWakeMs(next int64) int64 {
	if m.host.Controller() < 0 {
		return next
	}
	if !m.Registered() {
		if !m.registerInFlight {
			next = min(next, m.nextRegisterMs)
		}
	} else if !m.heartbeatInFlight {
		next = min(next, m.nextHeartbeatMs)
	}
	return next
}

// BeginControlledShutdown asks the controller to move this broker's
// leaderships away (SIGTERM). ShutdownReady reports when that is done.
func (m *Member) BeginControlledShutdown(nowMs int64) {
	if !m.cfg.Clustered || m.shuttingDown {
		m.shutdownReady = m.shutdownReady || !m.cfg.Clustered
		return
	}
	m.shuttingDown = true
	if m.nothingToHandOver() {
		// The last broker standing: no leadership can move and no leader
		// waits on this one, and there may be no quorum left to commit a
		// fencing anyway.
		m.shutdownReady = true
		return
	}
	m.nextHeartbeatMs = nowMs
	m.Tick(nowMs)
}

// nothingToHandOver reports whether no other unfenced broker replicates a
// partition this broker replicates.
func (m *Member) nothingToHandOver() bool {
	image := m.host.Image()
	self := m.cfg.NodeID
	for _, name := range image.TopicNames() {
		for _, a := range image.Topic(name).Assignments {
			if !slices.Contains(a.Replicas, self) {
				continue
			}
			for _, id := range a.Replicas {
				if reg := image.Broker(id); id != self && reg != nil && !reg.Fenced {
					return false
				}
			}
		}
	}
	return true
}

// ShutdownReady reports whether a controlled shutdown may proceed: the
// controller has fenced this broker, so it leads nothing.
func (m *Member) ShutdownReady() bool { return m.shutdownReady }
