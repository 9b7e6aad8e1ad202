package sim

// The rogue client (issue 10 item 3): in some seeds a client sends the
// control plane's requests (AlterPartition, BrokerRegistration,
// BrokerHeartbeat) to a node's client listener, with content that would
// change the cluster if it were served: an AlterPartition shrinking a
// partition's ISR to its leader alone at the truth's exact epochs, the
// registration of a broker that is no node of the cluster, a heartbeat at
// a node's exact incarnation (asking it to shut down, half the time).
// Peers reach the control listener (channel.control); clients never do.
//
// Judged from ground truth, with failures prefixed "rogue-control: ":
//   - the rogue never receives a response (the node must close the
//     connection, changing nothing);
//   - no committed metadata entry registers a broker outside the cluster
//     (checkRogueEntry, on every commit of a rogue seed).
//
// Its draws come from streams of its own ("rogue" decides the seed and
// the timing, the client's own stream its channel), so the seeds without
// it run exactly as before; in the seeds with it, its links join the
// network's, which shifts the fault draws that pick among links.
// Coverage: rogue-control-refused counts the connections a node closed
// for a control-plane request on its client listener (noteBrokerClose).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

const (
	// rogueSeedFrac is the share of seeds with a rogue client.
	rogueSeedFrac = 0.3
	// rogueEvery is the mean time between its requests.
	rogueEvery = 3 * Second
	// rogueBrokerBase is above every node id: the rogue registers brokers
	// from here on.
	rogueBrokerBase = 100
	// rogueRefusedReason is what a node's close reason says when it
	// refuses the control plane on its client listener
	// (core/broker/listener.go).
	rogueRefusedReason = "it is served only on the inter-broker control listener"
)

// rogue is the rogue client of a seed.
type rogue struct {
	w   *world
	c   *client
	rng *Rand
}

// newRogue makes the rogue client in the seeds drawn for one.
func (w *world) newRogue(r *Rand) *rogue {
	if !r.Chance(rogueSeedFrac) {
		return nil
	}
	g := &rogue{w: w, c: w.newClient("rogue"), rng: r}
	w.logf("rogue: a client sends control-plane requests to client listeners, every ~%s", rogueEvery)
	w.s.at(w.startGap+r.Exp(rogueEvery), "rogue", g.step)
	return g
}

// step sends one control-plane request to a random node's client
// listener.
func (g *rogue) step() {
	w := g.w
	if w.workloadStopped {
		return
	}
	defer w.s.after(g.rng.Exp(rogueEvery), "rogue", g.step)
	node := int32(1 + g.rng.Intn(len(w.nodes)))
	var req kmsg.Request
	switch g.rng.Intn(3) {
	case 0:
		req = g.alterPartition()
	case 1:
		reg := kmsg.NewPtrBrokerRegistrationRequest()
		reg.BrokerID = rogueBrokerBase + int32(g.rng.Intn(100))
		reg.IncarnationID[15] = byte(1 + g.rng.Intn(255))
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port = "PLAINTEXT", "rogue", 9
		reg.Listeners = append(reg.Listeners, l)
		req = reg
	default:
		hb := kmsg.NewPtrBrokerHeartbeatRequest()
		hb.BrokerID = int32(1 + g.rng.Intn(len(w.nodes)))
		hb.BrokerEpoch = -1
		if w.raft != nil {
			if b := w.raft.truth.Broker(hb.BrokerID); b != nil {
				hb.BrokerEpoch = int64(b.Incarnation)
			}
		}
		hb.CurrentMetadataOffset = -1
		hb.WantShutdown = g.rng.Chance(0.5)
		req = hb
	}
	name := kmsg.NameForKey(req.Key())
	w.logf("rogue: %s to node %d's client listener", name, node)
	g.c.do(node, req, 5*Second, false, func(resp kmsg.Response, err error) {
		if err == nil {
			w.fail("rogue-control: node %d answered %s on its client listener: %+v", node, name, resp)
		}
	})
}

// alterPartition builds an AlterPartition shrinking a random partition's
// ISR to its leader alone, at the truth's leader and partition epochs
// (a placeholder on a single node, which has no truth image).
func (g *rogue) alterPartition() *kmsg.AlterPartitionRequest {
	ap := kmsg.NewPtrAlterPartitionRequest()
	ap.Version = 1
	at := kmsg.NewAlterPartitionRequestTopic()
	atp := kmsg.NewAlterPartitionRequestTopicPartition()
	at.Topic, ap.BrokerID = "rogue", 1
	if r := g.w.raft; r != nil {
		if names := r.truth.TopicNames(); len(names) > 0 {
			t := r.truth.Topic(pick(g.rng, names))
			i := g.rng.Intn(len(t.Assignments))
			a := &t.Assignments[i]
			at.Topic, atp.Partition = t.Name, int32(i)
			ap.BrokerID, atp.LeaderEpoch, atp.PartitionEpoch = a.Leader, a.LeaderEpoch, a.PartitionEpoch
		}
	}
	atp.NewISR = []int32{ap.BrokerID}
	at.Partitions = append(at.Partitions, atp)
	ap.Topics = append(ap.Topics, at)
	return ap
}

// checkRogueEntry fails the run when a committed entry registers a broker
// that is no node of the cluster: only the rogue asks for one.
func (w *world) checkRogueEntry(index int, e *metadata.Entry) {
	for _, rec := range e.Records {
		if r := rec.RegisterBroker; r != nil && (r.ID < 1 || int(r.ID) > len(w.nodes)) {
			w.fail("rogue-control: metadata entry %d (proposed by node %d) registers broker %d, which is no node of the cluster", index, e.Proposer, r.ID)
		}
	}
}
