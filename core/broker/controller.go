package broker

// The controller: the broker that leads the metadata quorum turns broker
// registrations, heartbeats, ISR changes, producer-id requests and admin
// requests into metadata records. Its only state outside the image is
// soft: when each broker last heartbeated, and which fence or unfence
// proposals are in flight. A new controller starts every broker's session
// afresh, so a controller failover never fences a live broker.
//
// Decisions that depend on the image (placement, elections, ISR checks)
// are made when records apply (core/metadata), so they cannot act on a
// stale view even though the controller proposes without waiting for
// earlier proposals.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// controllerState is the controller's soft state.
type controllerState struct {
	active bool
	// lastHeartbeatMs is when each broker last heartbeated this controller.
	lastHeartbeatMs map[int32]int64
	// fencing and unfencing mark brokers with a proposal in flight, keyed
	// by incarnation so a stale flag never blocks a new incarnation.
	fencing   map[int32]uint64
	unfencing map[int32]uint64
}

func (c *controllerState) setActive(nowMs int64, active bool) {
	c.active = active
	c.lastHeartbeatMs = map[int32]int64{}
	c.fencing = map[int32]uint64{}
	c.unfencing = map[int32]uint64{}
}

// isController reports whether this broker may take controller requests.
func (b *Broker) isController() bool {
	return b.ctrl.active || !b.clustered()
}

// controllerTick fences brokers whose session expired.
func (b *Broker) controllerTick(nowMs int64) {
	if !b.ctrl.active {
		return
	}
	for id, reg := range b.image.Brokers() {
		last, seen := b.ctrl.lastHeartbeatMs[id]
		if !seen {
			// The session starts when this controller first looks.
			b.ctrl.lastHeartbeatMs[id] = nowMs
			continue
		}
		if reg.Fenced || nowMs-last <= b.cfg.SessionTimeoutMs || b.ctrl.fencing[id] == reg.Incarnation {
			continue
		}
		b.env.Logger.Warn("fencing broker: session expired", "broker", id, "last_heartbeat_ms_ago", nowMs-last)
		b.proposeFence(nowMs, reg)
	}
}

// controllerNextWakeMs is when the next session may expire.
func (b *Broker) controllerNextWakeMs(next int64) int64 {
	if !b.ctrl.active {
		return next
	}
	for id, reg := range b.image.Brokers() {
		if last, ok := b.ctrl.lastHeartbeatMs[id]; ok && !reg.Fenced {
			if t := last + b.cfg.SessionTimeoutMs + 1; t < next {
				next = t
			}
		}
	}
	return next
}

func (b *Broker) proposeFence(nowMs int64, reg *metadata.Broker) {
	id, inc := reg.ID, reg.Incarnation
	b.ctrl.fencing[id] = inc
	b.propose(nowMs, []metadata.Record{{FenceBroker: &metadata.FenceBroker{ID: id, Incarnation: inc}}},
		func(int64, []metadata.Result, int16) {
			if b.ctrl.fencing[id] == inc {
				delete(b.ctrl.fencing, id)
			}
		})
}

// handleBrokerRegistration registers a broker (an internal API: brokers
// call it on the controller).
func handleBrokerRegistration(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.BrokerRegistrationRequest)
	resp := kmsg.NewPtrBrokerRegistrationResponse()
	resp.BrokerEpoch = -1
	if !b.ctrl.active {
		resp.ErrorCode = kerrNotController
		b.reply(req, resp)
		return nil
	}
	// The client listener is the first other than the control listener
	// (a broker older than the control listener sends only the first).
	reg := &metadata.RegisterBroker{ID: r.BrokerID, Incarnation: incarnationOf(r.IncarnationID)}
	for _, l := range r.Listeners {
		switch {
		case l.Name == controlListenerName:
			reg.ControlHost, reg.ControlPort = l.Host, int32(l.Port)
		case reg.Host == "" && reg.Port == 0:
			reg.Host, reg.Port = l.Host, int32(l.Port)
		}
	}
	inc := reg.Incarnation
	rec := metadata.Record{RegisterBroker: reg}
	b.propose(nowMs, []metadata.Record{rec}, func(nowMs int64, results []metadata.Result, code int16) {
		if code == kerrNone {
			code = errorForApply(results[0].Err)
		}
		resp.ErrorCode = code
		if code == kerrNone {
			resp.BrokerEpoch = int64(inc)
			b.ctrl.lastHeartbeatMs[r.BrokerID] = nowMs
		}
		b.reply(req, resp)
	})
	return nil
}

// handleBrokerHeartbeat keeps a broker's session alive, unfences it when
// it asks to serve and fences it for a controlled shutdown.
func handleBrokerHeartbeat(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.BrokerHeartbeatRequest)
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	resp.IsFenced = true
	if !b.ctrl.active {
		resp.ErrorCode = kerrNotController
		b.reply(req, resp)
		return nil
	}
	reg := b.image.Broker(r.BrokerID)
	if reg == nil || int64(reg.Incarnation) != r.BrokerEpoch {
		resp.ErrorCode = kerrStaleBrokerEpoch
		b.reply(req, resp)
		return nil
	}
	b.ctrl.lastHeartbeatMs[r.BrokerID] = nowMs
	resp.IsCaughtUp = true
	resp.IsFenced = reg.Fenced
	switch {
	case r.WantShutdown:
		if reg.Fenced {
			resp.ShouldShutdown = true
		} else if b.ctrl.fencing[reg.ID] != reg.Incarnation {
			b.env.Logger.Info("controlled shutdown: fencing broker", "broker", reg.ID)
			b.proposeFence(nowMs, reg)
		}
	case reg.Fenced && !r.WantFence && b.ctrl.unfencing[reg.ID] != reg.Incarnation:
		id, inc := reg.ID, reg.Incarnation
		b.ctrl.unfencing[id] = inc
		b.propose(nowMs, []metadata.Record{{UnfenceBroker: &metadata.UnfenceBroker{ID: id, Incarnation: inc}}},
			func(int64, []metadata.Result, int16) {
				if b.ctrl.unfencing[id] == inc {
					delete(b.ctrl.unfencing, id)
				}
			})
	}
	b.reply(req, resp)
	return nil
}

// handleAlterPartition applies ISR changes proposed by partition leaders.
func handleAlterPartition(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.AlterPartitionRequest)
	resp := kmsg.NewPtrAlterPartitionResponse()
	if !b.ctrl.active {
		resp.ErrorCode = kerrNotController
		b.reply(req, resp)
		return nil
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
			if !metadataContains(rp.NewISR, r.BrokerID) {
				// The leader leaves its own ISR: its copy went offline.
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
		resp.ErrorCode = kerrInvalidRequest
		b.reply(req, resp)
		return nil
	}
	b.propose(nowMs, records, func(nowMs int64, results []metadata.Result, code int16) {
		if code != kerrNone {
			resp.ErrorCode = code
			b.reply(req, resp)
			return
		}
		for i, s := range slots {
			st := &resp.Topics[s.topic]
			sp := &st.Partitions[s.part]
			sp.ErrorCode = errorForApply(results[i].Err)
			if t := b.image.Topic(st.Topic); t != nil && sp.Partition >= 0 && sp.Partition < t.Partitions {
				a := t.Assignments[sp.Partition]
				sp.LeaderID, sp.LeaderEpoch, sp.PartitionEpoch = a.Leader, a.LeaderEpoch, a.PartitionEpoch
				sp.ISR = append([]int32(nil), a.ISR...)
			}
		}
		b.reply(req, resp)
	})
	return nil
}

// producerIDBlockSize is how many producer ids one allocation hands out.
const producerIDBlockSize = 1000

// handleAllocateProducerIDs hands a broker a block of producer ids.
func handleAllocateProducerIDs(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.AllocateProducerIDsRequest)
	resp := kmsg.NewPtrAllocateProducerIDsResponse()
	if !b.ctrl.active {
		resp.ErrorCode = kerrNotController
		b.reply(req, resp)
		return nil
	}
	rec := metadata.Record{AllocateProducerIDs: &metadata.AllocateProducerIDs{Broker: r.BrokerID, Count: producerIDBlockSize}}
	b.propose(nowMs, []metadata.Record{rec}, func(nowMs int64, results []metadata.Result, code int16) {
		if code == kerrNone {
			code = errorForApply(results[0].Err)
		}
		resp.ErrorCode = code
		if code == kerrNone {
			resp.ProducerIDStart = results[0].ProducerIDStart
			resp.ProducerIDLen = producerIDBlockSize
		}
		b.reply(req, resp)
	})
	return nil
}

// Internal APIs: brokers call them on the controller, over the control
// listener only (listener.go), where ApiVersions lists them so that any
// Kafka client library can carry them; they answer NOT_CONTROLLER on a
// broker that is not the controller.
func init() {
	registerControlAPI(56, 0, 1, handleAlterPartition)
	registerControlAPI(62, 0, 0, handleBrokerRegistration)
	registerControlAPI(63, 0, 0, handleBrokerHeartbeat)
	registerControlAPI(67, 0, 0, handleAllocateProducerIDs)
}
