package broker

// Serving clients only once the metadata has caught up.
//
// A cluster broker that has just started knows only what its quorum has
// replayed so far: hashicorp/raft restores the latest snapshot at once but
// applies the entries after it only when the leader tells it the commit
// index, and a broker cut off from the quorum may wait a long time for
// that. Answering clients from such an image would deny topics that exist
// (UNKNOWN_TOPIC_OR_PARTITION, which clients do not retry for long: kgo
// fails a partition's buffered records after four of them). Kafka's brokers
// do not accept client requests before they have caught up with the
// metadata log; Chronik's listener must already serve the other brokers
// (their registrations, heartbeats and replica fetches reach a controller
// over it), so client requests are parked instead.
//
// The broker has caught up once the image holds this process's own
// registration: that entry was committed after every entry committed
// before this process started, so every topic that existed then is in the
// image. Parked requests are handled in arrival order at that moment. A
// request parked longer than MetadataCatchUpWaitMs closes its connection,
// as a refused connection would in Kafka: the client retries, possibly on
// another broker. Parking is bounded by MaxParkedRequests.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
)

// parkedRequest is a client request waiting for the metadata to catch up.
type parkedRequest struct {
	req        *Request
	deadlineMs int64
}

// caughtUp reports whether the broker serves clients: always on a single
// node, whose image is local; in a cluster once this process's
// registration has applied. bugs.ServeBeforeCatchUp: deliberate bug
// (core/bugs), serve clients from whatever the image holds.
func (b *Broker) caughtUp() bool {
	return !b.clustered() || b.metadataCaughtUp || bugs.ServeBeforeCatchUp
}

// servedBeforeCatchUp reports whether req is handled even while the
// metadata has not caught up: ApiVersions (it depends on no metadata and
// clients probe with it) and the requests of other brokers, which the
// cluster needs in order to catch this broker up at all (the control
// plane; replica fetches, which carry a replica id).
func servedBeforeCatchUp(req *Request) bool {
	switch r := req.Msg.(type) {
	case *kmsg.ApiVersionsRequest, *kmsg.AlterPartitionRequest, *kmsg.BrokerRegistrationRequest,
		*kmsg.BrokerHeartbeatRequest, *kmsg.AllocateProducerIDsRequest:
		return true
	case *kmsg.FetchRequest:
		return r.ReplicaID >= 0
	}
	return false
}

// park holds req until the metadata catches up, or closes its connection
// when too many requests wait already.
func (b *Broker) park(nowMs int64, req *Request) {
	if len(b.parked) >= b.cfg.MaxParkedRequests {
		b.env.Replier.CloseConn(req.Conn, "too many client requests waiting for this broker's metadata to catch up; retry later or on another broker")
		return
	}
	deadline := nowMs + b.cfg.MetadataCatchUpWaitMs
	if n := len(b.parked); n > 0 {
		// The clock may step back; deadlines stay in arrival order so that
		// expireParked can stop at the first one still in the future.
		deadline = max(deadline, b.parked[n-1].deadlineMs)
	}
	b.parked = append(b.parked, parkedRequest{req: req, deadlineMs: deadline})
}

// noteCaughtUp marks the metadata caught up once this process's
// registration is in the image, and clears the partition directories the
// image no longer gives this broker: every topic deleted while it was down
// is gone from the image by then (even when a snapshot skipped the
// deletion itself), so such a directory is stale.
func (b *Broker) noteCaughtUp() {
	if !b.metadataCaughtUp && b.clustered() && b.registered() {
		b.metadataCaughtUp = true
		b.env.Logger.Info("metadata caught up; serving clients", "parked_requests", len(b.parked))
		b.removeOrphanDirs()
	}
}

// releaseParked handles the parked requests, in arrival order, once the
// metadata has caught up. It runs at the end of an entry point, never in
// the middle of applying a metadata entry.
func (b *Broker) releaseParked(nowMs int64) {
	if !b.caughtUp() || len(b.parked) == 0 {
		return
	}
	parked := b.parked
	b.parked = nil
	for _, pr := range parked {
		b.HandleRequest(nowMs, pr.req)
	}
}

// expireParked closes the connections of requests parked too long. The
// deadlines grow with arrival order, so the expired ones lead the list.
func (b *Broker) expireParked(nowMs int64) {
	n := 0
	for n < len(b.parked) && b.parked[n].deadlineMs <= nowMs {
		b.env.Replier.CloseConn(b.parked[n].req.Conn,
			"this broker's metadata has not caught up with the cluster's yet; retry later or on another broker")
		n++
	}
	if n > 0 {
		clear(b.parked[:n])
		b.parked = b.parked[n:]
	}
}
