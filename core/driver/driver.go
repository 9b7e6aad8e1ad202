// Package driver is the one event loop body of a Chronik broker, shared by
// the production node (node/) and the simulator (sim/). A host owns the
// world (the clock, sockets or simulated connections, fsync goroutines or
// simulated disk latency, the raft quorum or its model) and feeds the
// driver events; the driver turns each event into a core call and each of
// core's effects into a call on the host, in a defined order.
//
// # The loop
//
// A host repeats: take one or more events and hand each to Handle (or to
// the metadata methods), then call Settle once for the batch, then sleep
// until Settle's wake-up time or the next event, whichever comes first.
// node/ batches up to a bounded number of queued events per turn; the
// simulator settles after every event. Settle starts the group-commit
// fsyncs of everything appended in the batch (broker.Flush), runs the
// broker's timers (broker.Tick) and returns when the broker next needs
// the loop (broker.NextWakeMs) and whether a controlled shutdown has
// finished.
//
// # Effects and their order
//
// The broker does not call the host while it runs: its Replier, Syncer,
// Quorum and Network are the driver's outbox, which records every effect
// (a reply, a connection to close, a sync job to start, a metadata entry
// to propose, a request to another broker). When the core call returns,
// the driver hands the recorded effects to the host in the order the
// broker produced them, then clears the outbox. So a host never runs
// inside a core call: whatever it does in an effect, even calling the
// driver again synchronously, finds the broker between two calls, in a
// consistent state.
//
// Why this order is safe: nothing the broker emits in one call depends on
// another effect of the same call having completed, because every
// completion comes back as an event of its own (SyncDone after the job's
// fsyncs, PeerResponse after the peer's answer, a committed metadata entry
// after the quorum commits it). The durability rules live in core and hold
// at emission time, so they hold when the effect is executed later: an
// acknowledgement (a produce reply with acks=1 or all) is emitted only
// after the SyncDone that made its batch durable and, with acks=all,
// after the followers' fetches that raised the high watermark past it; a
// follower's fetch position is sent only after its own fsync; a partition
// leads at a new epoch only after the metadata entry naming it applied.
// Emission order is kept because it matters to one connection: the
// broker closes a connection after the replies it meant to deliver first.
package driver

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
)

// Host is the world a driver runs in. Its effect methods are called only
// between core calls, in the order the broker produced the effects.
type Host interface {
	// NowMs is the host's wall clock in milliseconds.
	NowMs() int64
	// Reply delivers resp to req's connection; nil resp means the request
	// has no response on the wire (acks=0), but its slot is released.
	Reply(req *broker.Request, resp kmsg.Response)
	// CloseConn closes a client connection, logging reason.
	CloseConn(id broker.ConnID, reason string)
	// StartSync runs job.Run() off the loop; its completion comes back as
	// an EventSyncDone.
	StartSync(token broker.SyncToken, job *partlog.SyncJob)
	// Propose submits a metadata entry to the quorum (clusters only); a
	// failure comes back as EventProposalFailed, a success as the
	// committed entry (ApplyMetadata).
	Propose(seq uint64, entry []byte)
	// Send sends req to another broker (clusters only); the answer or the
	// failure comes back as EventPeerResponse.
	Send(to broker.PeerAddr, id uint64, req kmsg.Request)
}

// Config configures a driver.
type Config struct {
	Broker broker.Config
	// Clustered makes the broker a member of a cluster: its metadata comes
	// from a quorum (Host.Propose, ApplyMetadata) and it talks to other
	// brokers (Host.Send). False runs a single node whose metadata is the
	// image file on its disk.
	Clustered bool
	// CheckInvariants runs the broker's invariant checks after every
	// settle (the simulator sets it; they panic on a violation).
	CheckInvariants bool
}

// EventKind says what an Event carries.
type EventKind uint8

// The events a host hands to Handle.
const (
	_ EventKind = iota
	// EventRequest: a parsed client or peer request (Request).
	EventRequest
	// EventSyncDone: a sync job finished (Token, Job, Err).
	EventSyncDone
	// EventConnClosed: a connection closed (Conn).
	EventConnClosed
	// EventProposalFailed: a proposal did not commit (Seq).
	EventProposalFailed
	// EventControllerChanged: the quorum's leader, the controller, is now
	// Controller (-1: none known).
	EventControllerChanged
	// EventPeerResponse: the answer to request PeerCall sent with
	// Host.Send (PeerResp), or its failure (Err).
	EventPeerResponse
)

// Event is one thing for the driver to hand to the broker. A struct, not
// an interface, so that queueing one allocates nothing.
type Event struct {
	Kind       EventKind
	Request    *broker.Request
	Conn       broker.ConnID
	Token      broker.SyncToken
	Job        *partlog.SyncJob
	Err        error
	Seq        uint64
	Controller int32
	PeerCall   uint64
	PeerResp   kmsg.Response
}

// StopReason says why Settle asks the host to stop.
type StopReason uint8

// Stop reasons.
const (
	// Running: no stop asked.
	Running StopReason = iota
	// ShutdownReady: a controlled shutdown moved every leadership away.
	ShutdownReady
	// ShutdownTimedOut: a controlled shutdown ran out of time.
	ShutdownTimedOut
)

// Next is what Settle tells the host.
type Next struct {
	// WakeMs is when the host must call Settle again if no event comes
	// first.
	WakeMs int64
	// Stop, when not Running, asks the host to stop gracefully now
	// (Shutdown).
	Stop StopReason
}

// Driver runs one broker. Its methods must be called from one goroutine.
type Driver struct {
	cfg  Config
	host Host
	b    *broker.Broker
	out  outbox
	// stopDeadlineMs is the end of a controlled shutdown's wait; zero
	// when none is under way.
	stopDeadlineMs int64
	// lastMs is the broker time last handed out and heldBackMs how far
	// the broker's clock runs ahead of the host's (now).
	lastMs, heldBackMs int64
}

// now is the broker's clock: the host's wall clock, except that it never
// goes back. A wall clock stepped back (NTP, an operator) would otherwise
// stretch every deadline and backoff the broker has pending by the step:
// a follower's fetch backoff of 100 ms became seconds and a quiet
// window's acks=all produces timed out (sim/FINDINGS.md 45). After a step
// back the broker's clock runs on from where it was, ahead of the wall
// clock by the step (heldBackMs), so record timestamps the broker sets
// (LogAppendTime) are that much ahead too. A step forward passes through,
// as elapsed time.
func (d *Driver) now() int64 {
	t := d.host.NowMs() + d.heldBackMs
	if t < d.lastMs {
		d.heldBackMs += d.lastMs - t
		t = d.lastMs
	}
	d.lastMs = t
	return t
}

// New recovers a broker from env's disk (broker.New) and returns its
// driver. env's Replier, Syncer, Quorum and Network must be nil: those are
// the driver's.
func New(cfg Config, env broker.Env, host Host) (*Driver, error) {
	if env.Replier != nil || env.Syncer != nil || env.Quorum != nil || env.Network != nil {
		return nil, errors.New("driver: the effect interfaces of broker.Env are the driver's; leave them nil")
	}
	if host == nil {
		return nil, errors.New("driver: no host")
	}
	d := &Driver{cfg: cfg, host: host}
	env.Replier = (*outboxReplier)(&d.out)
	env.Syncer = (*outboxSyncer)(&d.out)
	if cfg.Clustered {
		env.Quorum = (*outboxQuorum)(&d.out)
		env.Network = (*outboxNetwork)(&d.out)
	}
	d.lastMs = host.NowMs()
	b, err := broker.New(cfg.Broker, env, d.lastMs)
	if err != nil {
		return nil, err
	}
	d.b = b
	d.dispatch()
	if cfg.CheckInvariants {
		b.CheckInvariants()
	}
	return d, nil
}

// Broker is the driven broker, for inspection only (metrics, the
// simulator's checkers): a call that changes it must go through the
// driver, or its effects would wait for the next driver call.
func (d *Driver) Broker() *broker.Broker { return d.b }

// Handle hands one event to the broker.
func (d *Driver) Handle(ev Event) {
	now := d.now()
	switch ev.Kind {
	case EventRequest:
		d.b.HandleRequest(now, ev.Request)
	case EventSyncDone:
		d.b.SyncDone(now, ev.Token, ev.Job, ev.Err)
	case EventConnClosed:
		d.b.ConnClosed(ev.Conn)
	case EventProposalFailed:
		d.b.ProposalFailed(now, ev.Seq)
	case EventControllerChanged:
		d.b.SetController(now, ev.Controller)
	case EventPeerResponse:
		d.b.PeerResponse(now, ev.PeerCall, ev.PeerResp, ev.Err)
	default:
		panic("driver: unknown event kind")
	}
	d.dispatch()
}

// ApplyMetadata applies a committed metadata entry, in log order.
func (d *Driver) ApplyMetadata(entry []byte) {
	d.b.ApplyMetadata(d.now(), entry)
	d.dispatch()
}

// ApplyDecodedMetadata applies a committed entry the host has decoded
// already (the simulator keeps its log decoded); it is ApplyMetadata
// without the decoding.
func (d *Driver) ApplyDecodedMetadata(entry *metadata.Entry) {
	d.b.ApplyDecodedMetadata(d.now(), entry)
	d.dispatch()
}

// RestoreMetadata replaces the metadata image with a quorum snapshot.
func (d *Driver) RestoreMetadata(snapshot []byte) error {
	err := d.b.RestoreMetadata(d.now(), snapshot)
	d.dispatch()
	return err
}

// SnapshotMetadata encodes the metadata image for a quorum snapshot.
func (d *Driver) SnapshotMetadata() ([]byte, error) { return d.b.SnapshotMetadata() }

// BeginControlledShutdown asks the controller to move this broker's
// leaderships away; Settle reports ShutdownReady once it has, or
// ShutdownTimedOut after timeoutMs.
func (d *Driver) BeginControlledShutdown(timeoutMs int64) {
	now := d.now()
	d.stopDeadlineMs = max(now+timeoutMs, 1)
	d.b.BeginControlledShutdown(now)
	d.dispatch()
}

// Settle ends a batch of events: it starts the group-commit fsyncs of
// everything appended in it, runs the broker's timers, and says when to
// settle again and whether to stop.
func (d *Driver) Settle() Next {
	d.b.Flush()
	now := d.now()
	d.b.Tick(now)
	if d.cfg.CheckInvariants {
		d.b.CheckInvariants()
	}
	next := Next{WakeMs: d.b.NextWakeMs(now)}
	if d.stopDeadlineMs != 0 {
		switch {
		case d.b.ShutdownReady():
			next.Stop = ShutdownReady
		case now >= d.stopDeadlineMs:
			next.Stop = ShutdownTimedOut
		default:
			next.WakeMs = min(next.WakeMs, d.stopDeadlineMs)
		}
	}
	d.dispatch()
	next.WakeMs -= d.heldBackMs // the host's clock
	return next
}

// SyncInFlight reports whether a sync job has not come back yet.
func (d *Driver) SyncInFlight() bool { return d.b.SyncInFlight() }

// Shutdown stops the broker gracefully, once the host has delivered the
// SyncDone of every job in flight (or given up waiting): it syncs
// everything, answers the requests still waiting, checkpoints and closes
// the logs and gives the disk lock back (unless the host holds it).
func (d *Driver) Shutdown() {
	now := d.now()
	d.b.SyncAllBlocking(now)
	d.b.Shutdown(now)
	d.stopDeadlineMs = 0
	d.dispatch()
}

// ReleaseDisk gives the broker's disk lock back after a crash, when
// Shutdown did not run (the simulator's kill: the process and its lock
// are gone).
func (d *Driver) ReleaseDisk() error { return d.b.ReleaseDisk() }

// dispatch hands the outbox's effects to the host in emission order. An
// effect may make the host call the driver again (a synchronous syncer in
// a test); that call dispatches its own effects after the ones before it.
func (d *Driver) dispatch() {
	o := &d.out
	for o.next < len(o.effects) {
		// No copy of the effect: each call's arguments are read before
		// the call, which may re-enter and reuse the array.
		e := &o.effects[o.next]
		o.next++
		switch e.kind {
		case effectReply:
			d.host.Reply(e.req, e.resp)
		case effectClose:
			d.host.CloseConn(e.conn, e.reason)
		case effectSync:
			d.host.StartSync(e.token, e.job)
		case effectPropose:
			d.host.Propose(e.seq, e.entry)
		case effectSend:
			d.host.Send(e.to, e.seq, e.peerReq)
		}
	}
	clear(o.effects) // keep no request or job alive
	o.effects = o.effects[:0]
	o.next = 0
	if cap(o.effects) > outboxKeepMax {
		// One call emitted a flood (thousands of parked fetches answered
		// at once): do not keep its memory for the process's life.
		o.effects = nil
	}
}
