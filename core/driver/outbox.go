package driver

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/core/partlog"
)

// outboxKeepMax is the most effects whose room the outbox keeps between
// calls. The outbox itself needs no limit of its own: what one core call
// emits is bounded by the broker's limits (waiting fetches, parked
// requests, peer calls, proposals in flight, partitions syncing).
const outboxKeepMax = 4096

type effectKind uint8

const (
	effectReply effectKind = iota + 1
	effectClose
	effectSync
	effectPropose
	effectSend
)

// effect is one recorded call from the broker to its environment.
type effect struct {
	kind    effectKind
	req     *broker.Request
	resp    kmsg.Response
	conn    broker.ConnID
	reason  string
	token   broker.SyncToken
	job     *partlog.SyncJob
	seq     uint64 // proposal sequence or peer call id
	entry   []byte
	to      broker.PeerAddr
	peerReq kmsg.Request
}

// outbox records the broker's effects until the driver dispatches them.
type outbox struct {
	effects []effect
	// next is the first effect not yet dispatched.
	next int
}

func (o *outbox) add(e effect) { o.effects = append(o.effects, e) }

// The broker's environment interfaces, each a view of the outbox.
type (
	outboxReplier outbox
	outboxSyncer  outbox
	outboxQuorum  outbox
	outboxNetwork outbox
)

// Reply implements broker.Replier.
func (r *outboxReplier) Reply(req *broker.Request, resp kmsg.Response) {
	(*outbox)(r).add(effect{kind: effectReply, req: req, resp: resp})
}

// CloseConn implements broker.Replier.
func (r *outboxReplier) CloseConn(id broker.ConnID, reason string) {
	(*outbox)(r).add(effect{kind: effectClose, conn: id, reason: reason})
}

// StartSync implements broker.Syncer.
func (s *outboxSyncer) StartSync(token broker.SyncToken, job *partlog.SyncJob) {
	(*outbox)(s).add(effect{kind: effectSync, token: token, job: job})
}

// Propose implements broker.Quorum.
func (q *outboxQuorum) Propose(seq uint64, entry []byte) {
	(*outbox)(q).add(effect{kind: effectPropose, seq: seq, entry: entry})
}

// Send implements broker.Network.
func (n *outboxNetwork) Send(to broker.PeerAddr, id uint64, req kmsg.Request) {
	(*outbox)(n).add(effect{kind: effectSend, to: to, seq: id, peerReq: req})
}
