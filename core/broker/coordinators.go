package broker

// The coordinators' glue (core/coord): the broker tells a coordinator
// runtime when it leads, stops leading or advances a partition of the
// runtime's internal topic, appends and reads for it (coordHost), and
// routes its answers to the requests that wait for them.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/coord"
	"github.com/chronik-streaming/chronik/core/partlog"
)

// coordRuntime is what the broker drives of a coord.Runtime, whatever its
// shard type.
type coordRuntime interface {
	Lead(nowMs int64, p int32, leaderEpoch int32, logStart, logEnd, hw int64)
	Resign(p int32)
	Advance(nowMs int64, p int32, logStart, logEnd, hw int64)
	Tick(nowMs int64)
	NextWakeMs() int64
	Reading() []int32
	CheckInvariants() error
}

var _ coord.Host = coordHost{}

// coordHost is the coord.Host of the runtime over one internal topic.
type coordHost struct {
	b     *Broker
	topic string
}

// errNotCoordinatorLeader is an append to a partition this broker no
// longer leads at the runtime's epoch.
var errNotCoordinatorLeader = errors.New("broker: not the leader of the coordinator's partition at its epoch")

// Append implements coord.Host: an acks=all append as the leader at
// leaderEpoch, refused when the ISR is below min.insync.replicas (the
// runtime then reloads, and clients retry).
func (h coordHost) Append(nowMs int64, index int32, leaderEpoch int32, batch []byte) (int64, error) {
	b := h.b
	p := b.lookupPartition(h.topic, index)
	if p == nil || !p.isLeader() || p.leaderEpoch != leaderEpoch || p.log == nil {
		return 0, errNotCoordinatorLeader
	}
	if int32(len(p.isr)) < b.minISR(p) && !bugs.IgnoreMinInsync { // deliberate bug (core/bugs): min.insync.replicas ignored
		return 0, fmt.Errorf("broker: coordinator write to %s: the ISR %v is below min.insync.replicas", p.dir, p.isr)
	}
	b.touchFetches(p)
	b.markUnsynced(p)
	// A coordinator's batch: a transactional one (TxnOffsetCommit) has
	// its producer epoch checked, not its sequence (Kafka's
	// AppendOrigin.COORDINATOR).
	if _, err := p.log.AppendCoordinator(batch, leaderEpoch, nowMs); err != nil {
		code := kerrForLogError(err)
		if code == kerrKafkaStorageError {
			b.takeOffline(p, err)
		}
		err = fmt.Errorf("broker: coordinator write to %s: %w", p.dir, err)
		if code == kerrInvalidProducerEpoch {
			// A fenced producer's TxnOffsetCommit: its requester learns so.
			return 0, &coord.RefusedError{Code: code, Err: err}
		}
		return 0, err
	}
	b.updateLeaderHW(p)
	return p.log.LogEndOffset(), nil
}

// AppendTxnMarker implements coord.Host: the end-transaction marker as
// the leader at leaderEpoch, under Append's conditions. A marker the log
// fences (an older producer epoch, an older transaction coordinator
// epoch) is refused with the code Kafka's WriteTxnMarkers answers.
func (h coordHost) AppendTxnMarker(nowMs int64, index int32, leaderEpoch int32, m coord.TxnMarker) (int64, int16, error) {
	b := h.b
	p := b.lookupPartition(h.topic, index)
	if p == nil || !p.isLeader() || p.leaderEpoch != leaderEpoch || p.log == nil {
		return 0, 0, errNotCoordinatorLeader
	}
	if int32(len(p.isr)) < b.minISR(p) && !bugs.IgnoreMinInsync { // deliberate bug (core/bugs): min.insync.replicas ignored
		return 0, 0, fmt.Errorf("broker: coordinator marker to %s: the ISR %v is below min.insync.replicas", p.dir, p.isr)
	}
	marker := partlog.TxnMarker{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, Commit: m.Commit, CoordinatorEpoch: m.CoordinatorEpoch}
	b.touchFetches(p)
	b.markUnsynced(p)
	if _, err := p.log.AppendTxnMarker(marker, leaderEpoch, nowMs); err != nil {
		switch {
		case errors.Is(err, partlog.ErrInvalidProducerEpoch):
			return 0, kerrInvalidProducerEpoch, nil
		case errors.Is(err, partlog.ErrCoordinatorFenced):
			return 0, kerr.TransactionCoordinatorFenced.Code, nil
		}
		if kerrForLogError(err) == kerrKafkaStorageError {
			b.takeOffline(p, err)
		}
		return 0, 0, fmt.Errorf("broker: coordinator marker to %s: %w", p.dir, err)
	}
	b.updateLeaderHW(p)
	return p.log.LogEndOffset(), 0, nil
}

// Read implements coord.Host: batches up to the log end (a loading
// coordinator waits for the high watermark itself).
func (h coordHost) Read(index int32, offset int64, maxBytes int) ([]byte, error) {
	p := h.b.lookupPartition(h.topic, index)
	if p == nil || p.log == nil {
		return nil, errNotCoordinatorLeader
	}
	res, err := p.log.Read(offset, maxBytes, p.log.LogEndOffset())
	if err != nil {
		return nil, fmt.Errorf("broker: coordinator load of %s at %d: %w", p.dir, offset, err)
	}
	return res.Records, nil
}

// Reply implements coord.Host.
func (h coordHost) Reply(r coord.Reply) { h.b.coordReply(r) }

// Discarded implements coord.Host.
func (h coordHost) Discarded(p int32, code int16) { h.b.coordDiscarded(h.topic, p, code) }

// Warn implements coord.Host.
func (h coordHost) Warn(msg string, args ...any) { h.b.env.Logger.Warn(msg, args...) }

// coordWaiter is a request, or part of one, waiting for a shard's answer.
type coordWaiter struct {
	req *Request
	// msg is what the shard was asked: req.Msg, or the part of it for
	// one shard when a request names groups of several (split).
	msg kmsg.Request
	// topic and part are the internal topic and partition whose shard
	// holds the request.
	topic string
	part  int32
	// deliver, when set, takes the answer instead of req's connection
	// (a part of a split request).
	deliver func(kmsg.Response)
}

// coordWait registers a request (or the part msg of it) as waiting for the
// answer of partition part's shard, and returns its reference; the answer
// goes out through coordReply.
func (b *Broker) coordWait(req *Request, msg kmsg.Request, part int32, deliver func(kmsg.Response)) coord.ReplyRef {
	return b.coordWaitOn(offsetsTopic, req, msg, part, deliver)
}

// coordWaitOn is coordWait for the shard of partition part of internal
// topic topic.
func (b *Broker) coordWaitOn(topic string, req *Request, msg kmsg.Request, part int32, deliver func(kmsg.Response)) coord.ReplyRef {
	b.nextCoordRef++
	ref := coord.ReplyRef(b.nextCoordRef)
	b.coordWaiting[ref] = &coordWaiter{req: req, msg: msg, topic: topic, part: part, deliver: deliver}
	return ref
}

// coordReply sends a coordinator's answer to the request it names.
func (b *Broker) coordReply(r coord.Reply) {
	w, ok := b.coordWaiting[r.Ref]
	if !ok {
		panic(fmt.Sprintf("broker invariant: a coordinator answer for unknown request %d (%T)", r.Ref, r.Resp))
	}
	delete(b.coordWaiting, r.Ref)
	if w.deliver != nil {
		w.deliver(r.Resp)
		return
	}
	b.reply(w.req, r.Resp)
}

// coordDiscarded answers, with code, every request the discarded shard of
// partition part of topic still held (in arrival order).
func (b *Broker) coordDiscarded(topic string, part int32, code int16) {
	var refs []coord.ReplyRef
	for ref, w := range b.coordWaiting {
		if w.topic == topic && w.part == part {
			refs = append(refs, ref)
		}
	}
	slices.Sort(refs)
	for _, ref := range refs {
		w := b.coordWaiting[ref]
		var resp kmsg.Response
		if topic == txnStateTopic {
			resp = txnErrorResponse(w.msg, code)
		} else {
			resp = groupErrorResponse(w.msg, code)
		}
		b.coordReply(coord.Reply{Ref: ref, Resp: resp})
	}
}

// coordinatorFor returns the runtime of an internal topic, or nil.
func (b *Broker) coordinatorFor(topic string) coordRuntime {
	switch {
	case topic == offsetsTopic && b.groupRT != nil:
		return b.groupRT
	case topic == txnStateTopic && b.txnRT != nil:
		return b.txnRT
	}
	return nil
}

// coordinatorRoleChanged tells p's runtime, if p belongs to one, that
// this broker now leads p at its epoch or no longer leads it.
func (b *Broker) coordinatorRoleChanged(p *partition) {
	b.txnRoleChanged(p)
	rt := b.coordinatorFor(p.topic.meta.Name)
	if rt == nil {
		return
	}
	if p.isLeader() && p.log != nil {
		rt.Lead(b.nowMs, p.index, p.leaderEpoch, p.log.LogStartOffset(), p.log.LogEndOffset(), p.log.HighWatermark())
	} else {
		rt.Resign(p.index)
	}
}

// coordinatorAdvanced tells p's runtime of p's high watermark and bounds.
func (b *Broker) coordinatorAdvanced(nowMs int64, p *partition) {
	rt := b.coordinatorFor(p.topic.meta.Name)
	if rt == nil || !p.isLeader() || p.log == nil {
		return
	}
	rt.Advance(nowMs, p.index, p.log.LogStartOffset(), p.log.LogEndOffset(), p.log.HighWatermark())
	if p.topic.meta.Name == txnStateTopic {
		// Committed prepares list their markers; a load may have ended.
		b.txnMarkersDirty = true
	}
}

// tickCoordinators runs the runtimes' timers and moves their loads on by
// a chunk each.
func (b *Broker) tickCoordinators(nowMs int64) {
	for _, topic := range [...]string{offsetsTopic, txnStateTopic} {
		rt := b.coordinatorFor(topic)
		if rt == nil {
			continue
		}
		for _, i := range rt.Reading() {
			if p := b.lookupPartition(topic, i); p != nil {
				b.coordinatorAdvanced(nowMs, p)
			}
		}
		rt.Tick(nowMs)
	}
	b.driveTxnMarkers(nowMs)
	b.wakeFetches(nowMs) // the timers' writes touched partitions
}

// coordinatorsWakeMs is when tickCoordinators has work: now while a load
// has log left to read, else the shards' earliest timer; -1 for none.
func (b *Broker) coordinatorsWakeMs(nowMs int64) int64 {
	next := int64(-1)
	for _, topic := range [...]string{offsetsTopic, txnStateTopic} {
		rt := b.coordinatorFor(topic)
		if rt == nil {
			continue
		}
		if len(rt.Reading()) > 0 {
			return nowMs
		}
		if w := rt.NextWakeMs(); w >= 0 && (next < 0 || w < next) {
			next = w
		}
	}
	if w := b.txnMarkersWakeMs(nowMs); w >= 0 && (next < 0 || w < next) {
		next = w
	}
	return next
}

// splitByShard answers a request that names several coordinator keys
// (groups, transactional ids): it groups the keys by the partition
// partitionOf names (one part for every key without one, with its error
// code), builds each part's request with sub, hands it to send, and
// answers req with merge of the parts' answers, in the order of the parts
// (the keys' first appearance), once every part called its done. It
// reports whether any part was sent (no keys: answered at once).
func (b *Broker) splitByShard(req *Request, keys []string, partitionOf func(key string) (int32, int16),
	sub func(keys []string) kmsg.Request,
	send func(p int32, code int16, part kmsg.Request, done func(kmsg.Response)),
	merge func(parts []kmsg.Response) kmsg.Response,
) bool {
	type part struct {
		p    int32
		code int16
		keys []string
	}
	var parts []*part
	byPartition := map[int32]*part{}
	for _, k := range keys {
		p, code := partitionOf(k)
		if code != kerrNone {
			p = -1 // one part for every key without a partition
		}
		pt := byPartition[p]
		if pt == nil {
			pt = &part{p: p, code: code}
			byPartition[p] = pt
			parts = append(parts, pt)
		}
		pt.keys = append(pt.keys, k)
	}
	if len(parts) == 0 {
		b.reply(req, merge(nil))
		return false
	}
	answers := make([]kmsg.Response, len(parts))
	remaining := len(parts)
	for i, pt := range parts {
		send(pt.p, pt.code, sub(pt.keys), func(resp kmsg.Response) {
			answers[i] = resp
			remaining--
			if remaining == 0 {
				b.reply(req, merge(answers))
			}
		})
	}
	return true
}
