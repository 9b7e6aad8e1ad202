package broker

// Transaction markers. After every step the broker drains each led
// transaction shard's PendingMarkers (driveTxnMarkers): a marker for a
// partition this broker leads is appended here (writeTxnMarkerLocal), as
// a leader write answered once the high watermark passes it (acks=all);
// one for a partition another broker leads goes there as WriteTxnMarkers
// (27_write_txn_markers.go). Markers of __consumer_offsets partitions go
// through writeOffsetsTxnMarker (the group coordinator applies or drops
// the transaction's staged offsets there).
//
// A marker in flight is never sent again until its answer came; one that
// failed (the leader moved, the ISR is short, the peer is unreachable) is
// sent again after TxnMarkerRetryBackoffMs, to the leader the image names
// then, but only while its shard still lists it: a marker whose
// transaction is no longer pending is never resent (with transaction
// version 1 the producer's next transaction has the same epoch, and a
// late commit marker would end it early). A written marker is reported
// with MarkersWritten, which completes the transaction after the last.

import (
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
	"github.com/chronik-streaming/chronik/core/txn"
)

// txnMarkers is the broker's marker state (embedded in Broker).
type txnMarkers struct {
	// txnMarkersDirty says a shard may list markers not yet sent: the
	// next settle or Tick drains them.
	txnMarkersDirty bool
	// txnDriving guards driveTxnMarkers against re-entry.
	txnDriving bool
	// markersInFlight are the markers sent and not yet answered, and
	// markerRetryAt the failed ones with the time they may go again.
	// Both hold at most MaxTxnMarkersInFlight entries.
	markersInFlight map[markerKey]bool
	markerRetryAt   map[markerKey]int64
	// markerWaits are local marker writes waiting for the high watermark
	// (at most MaxTxnMarkersInFlight), in append order.
	markerWaits []markerWait
	// markerRetries counts the markers planned to go again (tests).
	markerRetries uint64
}

// markerKey names one marker of one transaction on one partition.
type markerKey struct {
	txnPart int32 // the coordinator's partition of __transaction_state
	id      string
	pid     int64
	epoch   int16
	commit  bool
	tp      txn.TopicPartition
}

// markerWait is a marker appended here, waiting for the high watermark.
type markerWait struct {
	p      *partition
	epoch  int32 // p's leader epoch at the append
	target int64 // the offset after the marker
	// deadlineMs is when the wait ends with REQUEST_TIMED_OUT (Kafka
	// bounds WriteTxnMarkers' acks=all append by request.timeout.ms).
	deadlineMs int64
	done       func(code int16)
}

// markerWriteTimeoutMs bounds a local marker write's wait for the high
// watermark (Kafka's request.timeout.ms, 30 s); the coordinator sends it
// again after a timeout.
const markerWriteTimeoutMs = 30000

// driveTxnMarkers sends the markers the led shards list and nothing has
// in flight.
func (b *Broker) driveTxnMarkers(nowMs int64) {
	if b.txnDriving || b.txnRT == nil {
		return
	}
	b.txnDriving = true
	defer func() { b.txnDriving = false }()
	b.txnMarkersDirty = false
	b.completeMarkerWaits(nowMs)
	ts := b.topics[txnStateTopic]
	if ts == nil {
		clear(b.markerRetryAt)
		return
	}
	rt := b.txnRuntime()
	seen := map[markerKey]bool{}
	for _, cp := range ts.partitions {
		if !cp.isLeader() {
			continue
		}
		s, ok := rt.Loaded(cp.index)
		if !ok {
			continue
		}
		// Markers carry the coordinator's epoch: its partition's leader
		// epoch, which is the runtime's for this shard.
		s.SetCoordinatorEpoch(cp.leaderEpoch)
		for _, mk := range s.PendingMarkers() {
			b.sendMarker(nowMs, cp, mk, seen)
		}
	}
	for k := range b.markerRetryAt {
		if !seen[k] {
			delete(b.markerRetryAt, k) // no longer pending: never resent
		}
	}
}

// sendMarker sends the partitions of mk that are neither in flight nor
// waiting for a retry.
func (b *Broker) sendMarker(nowMs int64, cp *partition, mk txn.Marker, seen map[markerKey]bool) {
	var local []markerKey
	var gone []txn.TopicPartition
	remote := map[int32][]markerKey{}
	for _, tp := range mk.Partitions {
		k := markerKey{txnPart: cp.index, id: mk.TransactionalID, pid: mk.ProducerID, epoch: mk.ProducerEpoch, commit: mk.Commit, tp: tp}
		seen[k] = true
		if b.markersInFlight[k] {
			continue
		}
		if at, ok := b.markerRetryAt[k]; ok && at > nowMs {
			continue
		}
		if len(b.markersInFlight) >= b.cfg.MaxTxnMarkersInFlight {
			// A completion makes room, and marks the markers dirty.
			break
		}
		dts := b.topics[tp.Topic]
		if dts == nil || tp.Partition < 0 || tp.Partition >= dts.meta.Partitions {
			// The topic was deleted: there is nothing to mark (Kafka
			// drops such markers too).
			gone = append(gone, tp)
			continue
		}
		leader := dts.meta.Assignments[tp.Partition].Leader
		if leader == metadata.NoLeader {
			b.retryMarker(nowMs, k)
			continue
		}
		if b.markersInFlight == nil {
			b.markersInFlight = map[markerKey]bool{}
		}
		b.markersInFlight[k] = true
		delete(b.markerRetryAt, k)
		if leader == b.cfg.NodeID {
			local = append(local, k)
		} else {
			remote[leader] = append(remote[leader], k)
		}
	}
	if len(gone) > 0 {
		b.markersWritten(nowMs, cp.index, mk.CoordinatorEpoch, mk.TransactionalID, mk.ProducerID, mk.ProducerEpoch, gone)
	}
	for _, k := range local {
		k := k
		done := func(code int16) { b.markerDone(b.nowMs, k, mk.CoordinatorEpoch, code) }
		if k.tp.Topic == offsetsTopic {
			b.writeOffsetsTxnMarker(nowMs, k.tp.Partition, mk.ProducerID, mk.ProducerEpoch, mk.Commit, mk.CoordinatorEpoch, done)
			continue
		}
		m := partlog.TxnMarker{ProducerID: mk.ProducerID, ProducerEpoch: mk.ProducerEpoch, Commit: mk.Commit, CoordinatorEpoch: mk.CoordinatorEpoch}
		b.writeTxnMarkerLocal(nowMs, b.lookupPartition(k.tp.Topic, k.tp.Partition), m, done)
	}
	leaders := make([]int32, 0, len(remote))
	for l := range remote {
		leaders = append(leaders, l)
	}
	slices.Sort(leaders)
	for _, l := range leaders {
		b.sendMarkersTo(nowMs, l, mk, remote[l])
	}
}

// sendMarkersTo sends the markers keys (of one transaction) to broker
// leader as one WriteTxnMarkers request.
func (b *Broker) sendMarkersTo(nowMs int64, leader int32, mk txn.Marker, keys []markerKey) {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = mk.ProducerID, mk.ProducerEpoch, mk.Commit, mk.CoordinatorEpoch
	for _, k := range keys {
		if n := len(m.Topics); n == 0 || m.Topics[n-1].Topic != k.tp.Topic {
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic = k.tp.Topic
			m.Topics = append(m.Topics, t)
		}
		last := &m.Topics[len(m.Topics)-1]
		last.Partitions = append(last.Partitions, k.tp.Partition)
	}
	req.Markers = append(req.Markers, m)
	b.sendPeer(nowMs, leader, req, func(nowMs int64, resp kmsg.Response, err error) {
		codes := map[txn.TopicPartition]int16{}
		if err == nil {
			if r, ok := resp.(*kmsg.WriteTxnMarkersResponse); ok && len(r.Markers) == 1 {
				for _, t := range r.Markers[0].Topics {
					for _, p := range t.Partitions {
						codes[txn.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.ErrorCode
					}
				}
			}
		}
		for _, k := range keys {
			code, ok := codes[k.tp]
			if !ok {
				code = kerr.NetworkException.Code // no answer for it: send again
			}
			b.markerDone(nowMs, k, mk.CoordinatorEpoch, code)
		}
		// The reports wrote to the coordinator's partition: its followers'
		// long polls wake, and what its high watermark unblocks goes on.
		b.settle(nowMs)
	})
}

// markerDone takes the answer for one marker: written, or to be sent
// again after the backoff.
func (b *Broker) markerDone(nowMs int64, k markerKey, coordEpoch int32, code int16) {
	delete(b.markersInFlight, k)
	b.txnMarkersDirty = true
	switch code {
	case kerrNone, kerr.UnsupportedForMessageFormat.Code, kerr.UnsupportedVersion.Code:
		// Kafka takes the last two as "this partition cannot hold
		// markers": done with it.
		b.markersWritten(nowMs, k.txnPart, coordEpoch, k.id, k.pid, k.epoch, []txn.TopicPartition{k.tp})
	default:
		if code == kerr.InvalidProducerEpoch.Code || code == kerr.TransactionCoordinatorFenced.Code {
			// A newer coordinator or producer epoch wrote there: this
			// shard is stale and goes once its partition moves.
			b.env.Logger.Warn("transaction marker refused as stale", "transactional_id", k.id, "partition", k.tp.Topic, "index", k.tp.Partition, "code", code)
		} else {
			b.env.Logger.Info("transaction marker not written; sending it again", "transactional_id", k.id, "partition", k.tp.Topic, "index", k.tp.Partition, "code", code)
		}
		b.retryMarker(nowMs, k)
	}
}

// retryMarker plans marker k to go again after the backoff.
func (b *Broker) retryMarker(nowMs int64, k markerKey) {
	if b.markerRetryAt == nil {
		b.markerRetryAt = map[markerKey]int64{}
	}
	b.markerRetryAt[k] = nowMs + b.cfg.TxnMarkerRetryBackoffMs
	b.markerRetries++
}

// markersWritten reports written markers to the shard of txnPart, when
// this broker still leads it at the epoch the markers carried (a shard
// loaded since lists them again and gets its own reports).
func (b *Broker) markersWritten(nowMs int64, txnPart int32, coordEpoch int32, id string, pid int64, epoch int16, tps []txn.TopicPartition) {
	cp := b.lookupPartition(txnStateTopic, txnPart)
	if cp == nil || !cp.isLeader() || cp.leaderEpoch != coordEpoch {
		return
	}
	rt := b.txnRuntime()
	s, ok := rt.Loaded(txnPart)
	if !ok {
		return
	}
	rt.Submit(nowMs, txnPart, s.MarkersWritten(nowMs, id, pid, epoch, tps))
	// A completion record touched the partition: its followers' long
	// polls wake now, as after a produce.
	b.wakeFetches(nowMs)
}

// txnMarkersWakeMs is when driveTxnMarkers has work: now when dirty, else
// the earliest retry; -1 for none.
func (b *Broker) txnMarkersWakeMs(nowMs int64) int64 {
	if b.txnMarkersDirty {
		return nowMs
	}
	next := int64(-1)
	for _, at := range b.markerRetryAt {
		if next < 0 || at < next {
			next = at
		}
	}
	for _, w := range b.markerWaits {
		if next < 0 || w.deadlineMs < next {
			next = w.deadlineMs
		}
	}
	return next
}

// errMarkerLimit is a marker write refused because too many wait.
var errMarkerLimit = errors.New("broker: too many transaction markers waiting for the high watermark")

// writeTxnMarkerLocal appends marker m to p, which this broker must lead,
// and calls done once the high watermark passed it (or with the error).
func (b *Broker) writeTxnMarkerLocal(nowMs int64, p *partition, m partlog.TxnMarker, done func(code int16)) {
	switch {
	case p == nil:
		done(kerrUnknownTopicOrPartition)
		return
	case p.hosted && p.log == nil:
		done(kerrKafkaStorageError)
		return
	case !p.isLeader():
		done(kerrNotLeaderOrFollower)
		return
	case int32(len(p.isr)) < b.minISR(p):
		done(kerrNotEnoughReplicas)
		return
	case len(b.markerWaits) >= b.cfg.MaxTxnMarkersInFlight:
		b.env.Logger.Warn("transaction marker refused", "partition", p.dir, "err", errMarkerLimit)
		done(kerrRequestTimedOut)
		return
	}
	b.touchFetches(p) // the LSO moves: read_committed long polls wake
	b.markUnsynced(p)
	res, err := p.log.AppendTxnMarker(m, p.leaderEpoch, nowMs)
	if err != nil {
		code := kerrForLogError(err)
		if errors.Is(err, partlog.ErrCoordinatorFenced) {
			code = kerr.TransactionCoordinatorFenced.Code
		}
		if code == kerrKafkaStorageError {
			b.takeOffline(p, err)
		}
		done(code)
		return
	}
	p.lastAppendEnd = res.LastOffset + 1
	b.markerWaits = append(b.markerWaits, markerWait{p: p, epoch: p.leaderEpoch, target: res.LastOffset + 1,
		deadlineMs: nowMs + markerWriteTimeoutMs, done: done})
	b.updateLeaderHW(p)
	b.hwRaised = append(b.hwRaised, p) // settle answers it once covered
}

// completeMarkerWaits answers the local marker writes the high watermark
// passed, and fails those whose partition this broker no longer leads at
// the epoch of the append, or whose time is up.
func (b *Broker) completeMarkerWaits(nowMs int64) {
	if len(b.markerWaits) == 0 {
		return
	}
	waits := b.markerWaits
	b.markerWaits = nil
	var kept []markerWait
	for i, w := range waits {
		p := w.p
		switch {
		case p.deleted || !p.isLeader() || p.leaderEpoch != w.epoch:
			w.done(kerrNotLeaderOrFollower)
		case p.highWatermark() < w.target && w.deadlineMs <= nowMs:
			w.done(kerrRequestTimedOut)
		case p.highWatermark() < w.target:
			kept = append(kept, w)
			continue
		case int32(len(p.isr)) < b.minISR(p):
			w.done(kerrNotEnoughReplicasAfterAppend)
		default:
			w.done(kerrNone)
		}
		waits[i] = markerWait{}
	}
	// done may have appended new waits meanwhile (a report that made the
	// shard write): keep them after the older ones.
	b.markerWaits = append(kept, b.markerWaits...)
}
