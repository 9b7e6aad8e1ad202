package broker

// DeleteRecords, versions 0-2.
//
// v1 only changed throttling; v2 is flexible. For each partition the log
// start offset moves up to the requested offset (KIP-107): -1 means the
// high watermark; an offset above the high watermark, or any other
// negative one, is OFFSET_OUT_OF_RANGE; an offset at or below the current
// log start changes nothing, as in Kafka (the start only moves forward).
//
// As Kafka's DelayedDeleteRecords, a partition is answered once its low
// watermark reaches the offset: the least log start offset of the leader
// and of every follower on a live broker (registered, not fenced), each
// as of its last fetch (a follower that has not fetched yet counts as
// -1). Followers move their start when a fetch answer names the leader's.
// Until then the partition waits, up to TimeoutMillis
// (REQUEST_TIMED_OUT); losing the leadership or the partition answers
// NOT_LEADER_OR_FOLLOWER. Without the wait a follower elected before it
// fetched would serve records an acknowledged DeleteRecords removed (sim
// seeds 1095 and 1097 with the trimmer). LowWatermark is the low
// watermark when answered (-1 on error). On a single node the answer is
// immediate. A follower not waited for (fenced meanwhile) is outside the
// ISR, and rejoins only once the log start it reports has reached the
// leader's (maybeExpandISR), so no later leader starts below an
// acknowledged low watermark (sim seed 689150508).
//
// The log checkpoints the new start before DeleteRecordsBefore returns,
// so deleted records stay deleted after a crash. Long-polling fetches are
// woken: one positioned below the new start now gets OFFSET_OUT_OF_RANGE.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
)

func init() { registerAPI(21, 0, 2, handleDeleteRecords) }

// deleteRecordsHighWatermark is the offset that stands for the high watermark.
const deleteRecordsHighWatermark = -1

// pendingDeleteRecords is a DeleteRecords answer waiting for some of its
// partitions.
type pendingDeleteRecords struct {
	req       *Request
	resp      *kmsg.DeleteRecordsResponse
	remaining int
}

// deleteWaiter is one partition of a pending DeleteRecords.
type deleteWaiter struct {
	p          *partition
	offset     int64
	deadlineMs int64
	pending    *pendingDeleteRecords
	topic      int // index into resp.Topics
	part       int // index into resp.Topics[topic].Partitions
}

func handleDeleteRecords(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.DeleteRecordsRequest)
	resp := kmsg.NewPtrDeleteRecordsResponse()
	pending := &pendingDeleteRecords{req: req, resp: resp}
	var waiters []*deleteWaiter
	moved := false
	for ti, rt := range r.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			code, changed, wait := b.deleteRecords(rt.Topic, &rp, &sp)
			sp.ErrorCode = code
			moved = moved || changed
			if wait != nil {
				if len(b.deleteWaiters)+len(waiters) >= b.cfg.MaxWaitingFetches {
					sp.ErrorCode = kerrRequestTimedOut // no room to wait: as if it timed out at once
				} else {
					wait.deadlineMs = nowMs + int64(max(r.TimeoutMillis, 0))
					wait.pending, wait.topic, wait.part = pending, ti, pi
					waiters = append(waiters, wait)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if moved {
		b.wakeFetches(nowMs)
	}
	b.keepReserve()
	if len(waiters) == 0 {
		b.settle(nowMs)
		b.reply(req, resp)
		return nil
	}
	pending.remaining = len(waiters)
	b.deleteWaiters = append(b.deleteWaiters, waiters...)
	b.settle(nowMs) // may answer at once (completeDeleteWaiters)
	return nil
}

// deleteRecords handles one partition; changed reports a moved log start,
// and wait, when set, that the answer waits for the followers.
func (b *Broker) deleteRecords(topic string, rp *kmsg.DeleteRecordsRequestTopicPartition, sp *kmsg.DeleteRecordsResponseTopicPartition) (code int16, changed bool, wait *deleteWaiter) {
	p, code := b.onlinePartition(topic, rp.Partition)
	if code != kerrNone {
		return code, false, nil
	}
	hw := p.log.HighWatermark()
	offset := rp.Offset
	if offset == deleteRecordsHighWatermark {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return kerrOffsetOutOfRange, false, nil
	}
	if offset > p.log.LogStartOffset() {
		b.markUnsynced(p)
		// The checkpoint written before segments go may need the space
		// reserve on a full disk (storage.go).
		if err := b.withSpace("delete records checkpoint", func() error { return p.log.DeleteRecordsBefore(offset) }); err != nil {
			code := kerrForLogError(err)
			if p.log.Failed() != nil {
				b.takeOffline(p, err)
			} else {
				sp.LowWatermark = p.log.LogStartOffset()
			}
			return code, false, nil
		}
		changed = true
		b.touchFetches(p)
		b.env.Logger.Info("deleted records", "partition", p.dir, "log_start_offset", offset)
	}
	if lw := b.lowWatermark(p); lw < offset {
		return kerrNone, changed, &deleteWaiter{p: p, offset: offset}
	}
	sp.LowWatermark = b.lowWatermark(p)
	return kerrNone, changed, nil
}

// lowWatermark is Kafka's lowWatermarkIfLeader: the least log start offset
// of the leader and of its followers on live brokers.
func (b *Broker) lowWatermark(p *partition) int64 {
	lw := p.log.LogStartOffset()
	if !p.isLeader() || bugs.DeleteRecordsNoWait { // bugs.DeleteRecordsNoWait: deliberate bug (core/bugs)
		return lw
	}
	for _, f := range p.lead.Followers {
		if reg := b.image.Broker(f.ID); reg != nil && !reg.Fenced {
			lw = min(lw, f.LogStart)
		}
	}
	return lw
}

// completeDeleteWaiters answers the waiting DeleteRecords partitions whose
// low watermark arrived, that timed out, or whose partition this broker no
// longer leads, and every request with nothing left to wait for.
func (b *Broker) completeDeleteWaiters(nowMs int64) {
	b.finishDeleteWaiters(func(w *deleteWaiter) (int16, bool) {
		p := w.p
		switch {
		case p.deleted || !p.isLeader() || p.log.Failed() != nil:
			return kerrNotLeaderOrFollower, true
		case b.lowWatermark(p) >= w.offset:
			return kerrNone, true
		case nowMs >= w.deadlineMs:
			return kerrRequestTimedOut, true
		}
		return 0, false
	})
}

// finishDeleteWaiters answers the waiters that done says are finished,
// with its code, and the requests whose last waiter that was.
func (b *Broker) finishDeleteWaiters(done func(*deleteWaiter) (int16, bool)) {
	var answered []*pendingDeleteRecords
	b.deleteWaiters = slices.DeleteFunc(b.deleteWaiters, func(w *deleteWaiter) bool {
		code, ok := done(w)
		if !ok {
			return false
		}
		sp := &w.pending.resp.Topics[w.topic].Partitions[w.part]
		sp.ErrorCode = code
		if code == kerrNone {
			sp.LowWatermark = b.lowWatermark(w.p)
		}
		w.pending.remaining--
		if w.pending.remaining == 0 {
			answered = append(answered, w.pending)
		}
		return true
	})
	for _, pd := range answered {
		b.reply(pd.req, pd.resp)
	}
}
