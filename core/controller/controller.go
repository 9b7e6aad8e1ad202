// Package controller is the cluster controller's state machine: the broker
// that leads the metadata quorum turns broker registrations, heartbeats,
// ISR changes and producer-id requests (the control-plane APIs, one file
// each, numbered by API key) into metadata records, and fences brokers
// whose session expired. Its only state outside the metadata image is
// soft: when each broker last heartbeated, and which fence or unfence
// proposals are in flight. A new controller starts every broker's session
// afresh, so a controller failover never fences a live broker.
//
// Decisions that depend on the image (placement, elections, ISR checks)
// are made when records apply (core/metadata), so they cannot act on a
// stale view even though the controller proposes without waiting for
// earlier proposals.
//
// The controller is driven by its broker (core/broker), on the broker's
// event loop: the broker routes the control-plane requests here, calls
// Tick and NextWakeMs with its own timers, and proposes the records
// (Host.Propose); every answer leaves through the reply function a
// handler was given, exactly once.
package controller

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// Host is what the controller needs from its broker.
type Host interface {
	// Image is the broker's current metadata image.
	Image() *metadata.Image
	// Propose submits records to the metadata log as one entry; done runs
	// exactly once: after the entry applied (code 0, results per record)
	// or failed (a Kafka error code).
	Propose(nowMs int64, records []metadata.Record, done func(nowMs int64, results []metadata.Result, code int16))
	// Info and Warn log through the broker's logger.
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}

// Config configures the controller.
type Config struct {
	// SessionTimeoutMs is how long a broker may go without a heartbeat
	// before the controller fences it (broker.session.timeout.ms).
	SessionTimeoutMs int64
}

// ControlListenerName names a broker's control listener in its
// BrokerRegistration; peers send it every broker-to-broker request.
const ControlListenerName = "CONTROL"

// ProducerIDBlockSize is how many producer ids one allocation hands out.
const ProducerIDBlockSize = 1000

// Controller is one broker's controller role; it acts only while active
// (this broker leads the metadata quorum).
type Controller struct {
	cfg    Config
	host   Host
	active bool
	// lastHeartbeatMs is when each broker last heartbeated this controller.
	lastHeartbeatMs map[int32]int64
	// fencing and unfencing mark brokers with a proposal in flight, keyed
	// by incarnation so a stale flag never blocks a new incarnation.
	fencing   map[int32]uint64
	unfencing map[int32]uint64
}

// New returns an inactive controller.
func New(cfg Config, host Host) *Controller {
	return &Controller{cfg: cfg, host: host,
		lastHeartbeatMs: map[int32]int64{}, fencing: map[int32]uint64{}, unfencing: map[int32]uint64{}}
}

// SetActive starts or ends this broker's term as the controller; either
// way every broker's session starts afresh.
func (c *Controller) SetActive(active bool) {
	c.active = active
	clear(c.lastHeartbeatMs)
	clear(c.fencing)
	clear(c.unfencing)
}

// Active reports whether this broker is the controller.
func (c *Controller) Active() bool { return c.active }

// Tick fences brokers whose session expired.
func (c *Controller) Tick(nowMs int64) {
	if !c.active {
		return
	}
	for id, reg := range c.host.Image().Brokers() {
		last, seen := c.lastHeartbeatMs[id]
		if !seen {
			// The session starts when this controller first looks.
			c.lastHeartbeatMs[id] = nowMs
			continue
		}
		if reg.Fenced || nowMs-last <= c.cfg.SessionTimeoutMs || c.fencing[id] == reg.Incarnation {
			continue
		}
		c.host.Warn("fencing broker: session expired", "broker", id, "last_heartbeat_ms_ago", nowMs-last)
		c.proposeFence(nowMs, reg)
	}
}

// NextWakeMs lowers next to when the next session may expire.
func (c *Controller) NextWakeMs(next int64) int64 {
	if !c.active {
		return next
	}
	for id, reg := range c.host.Image().Brokers() {
		if last, ok := c.lastHeartbeatMs[id]; ok && !reg.Fenced {
			next = min(next, last+c.cfg.SessionTimeoutMs+1)
		}
	}
	return next
}

func (c *Controller) proposeFence(nowMs int64, reg *metadata.Broker) {
	c.proposeMarked(nowMs, c.fencing, reg, metadata.Record{FenceBroker: &metadata.FenceBroker{ID: reg.ID, Incarnation: reg.Incarnation}})
}

// proposeMarked proposes rec about reg's incarnation, marked in marks
// (fencing or unfencing) until its outcome is known, so that heartbeats
// and ticks meanwhile do not propose it again.
func (c *Controller) proposeMarked(nowMs int64, marks map[int32]uint64, reg *metadata.Broker, rec metadata.Record) {
	id, inc := reg.ID, reg.Incarnation
	marks[id] = inc
	c.host.Propose(nowMs, []metadata.Record{rec}, func(int64, []metadata.Result, int16) {
		if marks[id] == inc {
			delete(marks, id)
		}
	})
}

// ErrorCode maps a metadata record the image refused to a Kafka error
// code.
func ErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, metadata.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, metadata.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, metadata.ErrInvalidReplicationFactor):
		return kerr.InvalidReplicationFactor.Code
	case errors.Is(err, metadata.ErrInvalidReplicaAssignment):
		return kerr.InvalidReplicaAssignment.Code
	case errors.Is(err, metadata.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, metadata.ErrStalePartitionState):
		return kerr.FencedLeaderEpoch.Code
	case errors.Is(err, metadata.ErrInvalidISR):
		return kerr.IneligibleReplica.Code
	case errors.Is(err, metadata.ErrUnknownBroker):
		return kerr.StaleBrokerEpoch.Code
	}
	return kerr.InvalidRequest.Code
}

// PutIncarnation stores a broker process's incarnation in a
// registration's 16-byte incarnation id (its last eight bytes).
func PutIncarnation(dst *[16]byte, inc uint64) {
	for i := 0; i < 8; i++ {
		dst[8+i] = byte(inc >> (56 - 8*i))
	}
}

// IncarnationOf reads an incarnation back from a registration's id.
func IncarnationOf(id [16]byte) uint64 {
	var inc uint64
	for i := 0; i < 8; i++ {
		inc = inc<<8 | uint64(id[8+i])
	}
	return inc
}

// notController answers a control-plane request on a broker that is not
// the controller.
var notController = kerr.NotController.Code

// Reply delivers a control-plane response; a handler calls it exactly
// once, perhaps much later (after its proposal applied).
type Reply func(resp kmsg.Response)
