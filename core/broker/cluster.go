package broker

// Cluster membership and the metadata log, seen from one broker.
//
// The image changes only through ApplyMetadata, in the order of the
// metadata log (hashicorp/raft in production, a deterministic log model in
// the simulator, or, on a single node without a quorum, an in-core local
// log that writes the image file). After each entry the broker reconciles
// its partitions with the image: it opens the ones it now replicates,
// deletes the ones whose topic is gone and takes the leader or follower
// role the image gives it.
//
// A broker plays a part only once the image holds its registration with
// the incarnation drawn by this process: until then, a leadership in the
// image belongs to the previous process, which may have lost unsynced
// data, and acting on it could serve or overwrite offsets that were
// acknowledged elsewhere. The controller fences the old incarnation
// (moving its leaderships at a new leader epoch) before the new
// registration applies, so a restarted broker can only lead at an epoch
// that postdates its restart.

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/disk"
	"github.com/chronik-streaming/chronik/core/metadata"
	"github.com/chronik-streaming/chronik/core/partlog"
)

// Quorum is the metadata log as core sees it.
type Quorum interface {
	// Propose appends an encoded metadata entry to the log. If it commits,
	// every broker receives it through ApplyMetadata; a proposal that the
	// environment knows failed is reported with ProposalFailed, but a
	// proposal may also vanish or commit after a failure was reported.
	Propose(seq uint64, entry []byte)
}

// PeerAddr is where to reach another broker.
type PeerAddr struct {
	ID   int32
	Host string
	Port int32
}

// Network sends requests to other brokers.
type Network interface {
	// Send sends req (its version set) to broker to and later delivers
	// exactly one Broker.PeerResponse(nowMs, id, resp, err) for it on the
	// event loop. A send to an unreachable broker answers with an error.
	Send(to PeerAddr, id uint64, req kmsg.Request)
}

// proposal is a metadata entry waiting to be applied.
type proposal struct {
	deadlineMs int64
	done       func(nowMs int64, results []metadata.Result, code int16)
}

// peerCall is a request to another broker waiting for its answer.
type peerCall struct {
	done func(nowMs int64, resp kmsg.Response, err error)
}

// clustered reports whether the metadata comes from an external quorum.
func (b *Broker) clustered() bool { return b.env.Quorum != nil }

// registered reports whether the image holds this process's registration.
func (b *Broker) registered() bool { return b.member.Registered() }

// unfenced reports whether this process may lead partitions.
func (b *Broker) unfenced() bool { return b.member.Unfenced() }

// propose submits records to the metadata log; done runs once the entry
// is applied on this broker (code 0, with each record's result) or with
// a Kafka error code when the outcome is unknown (NOT_CONTROLLER,
// REQUEST_TIMED_OUT) or the entry could not be written.
func (b *Broker) propose(nowMs int64, records []metadata.Record, done func(nowMs int64, results []metadata.Result, code int16)) {
	b.nextProposalSeq++
	entry := &metadata.Entry{Proposer: b.cfg.NodeID, Incarnation: b.member.Incarnation(), Seq: b.nextProposalSeq, Records: records}
	data, err := metadata.EncodeEntry(entry)
	if err != nil {
		done(nowMs, nil, kerrInvalidRequest)
		return
	}
	if !b.clustered() {
		b.applyLocal(nowMs, entry, done)
		return
	}
	if len(b.proposals) >= b.cfg.MaxPendingProposals {
		done(nowMs, nil, kerrRequestTimedOut)
		return
	}
	b.proposals[entry.Seq] = &proposal{deadlineMs: nowMs + b.cfg.ProposalTimeoutMs, done: done}
	b.env.Quorum.Propose(entry.Seq, data)
}

// localEntry is a single-node metadata entry waiting for the image write
// in flight to land (applyLocal).
type localEntry struct {
	entry *metadata.Entry
	done  func(nowMs int64, results []metadata.Result, code int16)
}

// imageWrite is the single node's image write in flight: the image with
// its entry applied, staged until the job that writes it lands.
type imageWrite struct {
	local   localEntry
	next    *metadata.Image
	results []metadata.Result
	data    []byte
	job     *partlog.SyncJob
	// usedReserve is set once the write was retried after releasing the
	// space reserve (a delete on a full disk; withSpace's rule).
	usedReserve bool
}

// applyLocal is the single-node metadata log. Entries apply one at a time,
// in order: each is applied to a copy of the installed image, the copy is
// written to the image file by a sync job off the event loop
// (partlog.NewFileJob), and only at that job's SyncDone does the copy
// replace the installed image and the entry get its answer. The installed
// image is thus always the durable one, and nothing is answered before
// the image holding it is durable (core/partlog/DESIGN.md, "Durability
// rules"). Entries proposed while a write is in flight wait in
// imageQueue (at most MaxPendingProposals; past that they are answered
// REQUEST_TIMED_OUT) and are applied to the image the write installs.
func (b *Broker) applyLocal(nowMs int64, entry *metadata.Entry, done func(nowMs int64, results []metadata.Result, code int16)) {
	if len(b.imageQueue) >= b.cfg.MaxPendingProposals {
		done(nowMs, nil, kerrRequestTimedOut)
		return
	}
	b.imageQueue = append(b.imageQueue, localEntry{entry: entry, done: done})
	b.nextImageWrite(nowMs)
}

// nextImageWrite starts the write of the next queued entry unless one is
// in flight. An entry proposed by a done callback queues behind those
// already waiting, so entries apply in the order they were proposed.
func (b *Broker) nextImageWrite(nowMs int64) {
	for b.imageJob == nil && len(b.imageQueue) > 0 && !b.closed {
		le := b.imageQueue[0]
		b.imageQueue[0] = localEntry{}
		b.imageQueue = b.imageQueue[1:]
		if len(b.imageQueue) == 0 {
			b.imageQueue = nil // let the backing array go
		}
		encoded, err := b.image.Marshal()
		if err != nil {
			b.env.Logger.Error("encode metadata image", "err", err)
			le.done(nowMs, nil, kerrKafkaStorageError)
			continue
		}
		next, err := metadata.Unmarshal(encoded)
		if err != nil {
			panic(fmt.Sprintf("broker invariant: the image does not decode its own encoding: %v", err))
		}
		results := next.ApplyEntry(le.entry)
		data, err := next.Marshal()
		if err != nil {
			b.env.Logger.Error("encode metadata image", "err", err)
			le.done(nowMs, nil, kerrKafkaStorageError)
			continue
		}
		w := &imageWrite{local: le, next: next, results: results, data: data}
		b.imageJob = w
		b.submitImageWrite(nowMs, w)
	}
}

// submitImageWrite hands w's job to the Syncer, or runs it on the loop
// while imageInline is set (New's registration, SyncAllBlocking).
func (b *Broker) submitImageWrite(nowMs int64, w *imageWrite) {
	w.job = partlog.NewFileJob(b.env.Disk, imageFile, w.data)
	if b.imageInline {
		b.imageWritten(nowMs, w.job, w.job.Run())
		return
	}
	b.env.Syncer.StartSync(SyncToken{}, w.job)
	if bugs.ImageAnsweredEarly {
		// Deliberate bug (core/bugs): the staged image is installed and
		// the entry answered now, before the write is durable; the job's
		// SyncDone is ignored.
		b.imageWritten(nowMs, w.job, nil)
	}
}

// imageWritten lands the image write whose job is job: success installs
// the staged image and answers its entry; failure discards the staged
// image and answers KAFKA_STORAGE_ERROR. A delete that found the disk
// full is written once more after the space reserve is released (as
// withSpace does on the loop): the deletion is what frees space.
func (b *Broker) imageWritten(nowMs int64, job *partlog.SyncJob, err error) {
	w := b.imageJob
	if w == nil || w.job != job {
		return // answered by Shutdown already
	}
	if err != nil && !w.usedReserve && errors.Is(err, disk.ErrNoSpace) && entryFreesSpace(w.local.entry) && b.releaseReserve("metadata image") {
		w.usedReserve = true
		b.submitImageWrite(nowMs, w)
		return
	}
	b.imageJob = nil
	if err != nil {
		b.env.Logger.Error("write metadata image", "err", err)
		w.local.done(nowMs, nil, kerrKafkaStorageError)
	} else {
		b.image = w.next
		b.afterApply(nowMs, w.local.entry, w.results)
		b.keepReserve()
		w.local.done(nowMs, w.results, kerrNone)
	}
	b.nextImageWrite(nowMs)
}

// failImageWrites answers the image write in flight and every queued
// local entry with code (Shutdown: the outcome of the write in flight is
// unknown, REQUEST_TIMED_OUT, as for a cluster proposal). A SyncDone of
// the job arriving later is ignored.
func (b *Broker) failImageWrites(nowMs int64, code int16) {
	if w := b.imageJob; w != nil {
		b.imageJob = nil
		w.local.done(nowMs, nil, code)
	}
	queue := b.imageQueue
	b.imageQueue = nil
	for _, le := range queue {
		le.done(nowMs, nil, code)
	}
}

// ApplyMetadata applies one committed metadata log entry. Every broker of
// the cluster applies the same entries in the same order.
func (b *Broker) ApplyMetadata(nowMs int64, data []byte) {
	b.observeNow(nowMs)
	if b.closed {
		return
	}
	entry, err := metadata.DecodeEntry(data)
	if err != nil {
		// Every broker decodes the same bytes the same way, so skipping the
		// entry keeps the images equal.
		b.env.Logger.Error("skipping undecodable metadata entry", "err", err)
		return
	}
	b.applyMetadataEntry(nowMs, entry)
}

// ApplyDecodedMetadata is ApplyMetadata for an entry the caller decoded
// from the committed bytes with metadata.DecodeEntry (an entry that does
// not decode goes to ApplyMetadata). The broker takes entry over: a
// process that holds several brokers (the simulator) decodes an entry
// once and gives each broker its own Clone.
func (b *Broker) ApplyDecodedMetadata(nowMs int64, entry *metadata.Entry) {
	b.observeNow(nowMs)
	if b.closed {
		return
	}
	b.applyMetadataEntry(nowMs, entry)
}

func (b *Broker) applyMetadataEntry(nowMs int64, entry *metadata.Entry) {
	results := b.image.ApplyEntry(entry)
	// The image changes only here and in applyLocal, RestoreMetadata and
	// loadImage, each followed by a full reconcile (or, for a failed
	// applyLocal, undone), so every topic's logConfig matched its
	// overrides before this entry. Of the records, only SetTopicConfigs
	// changes an existing topic's overrides (CreateTopic makes a new
	// Topic, whose topicState computes its own).
	b.configsUnchanged = !entrySetsTopicConfigs(entry)
	b.afterApply(nowMs, entry, results)
	if entry.Proposer == b.cfg.NodeID && entry.Incarnation == b.member.Incarnation() {
		if p := b.proposals[entry.Seq]; p != nil {
			delete(b.proposals, entry.Seq)
			p.done(nowMs, results, kerrNone)
		}
	}
	b.releaseParked(nowMs)
}

// entrySetsTopicConfigs reports whether entry holds a SetTopicConfigs
// record (applied or refused).
func entrySetsTopicConfigs(entry *metadata.Entry) bool {
	for i := range entry.Records {
		if entry.Records[i].SetTopicConfigs != nil {
			return true
		}
	}
	return false
}

// RestoreMetadata replaces the image with a snapshot of the metadata log
// (at start, or when the quorum installs a snapshot).
func (b *Broker) RestoreMetadata(nowMs int64, snapshot []byte) error {
	b.observeNow(nowMs)
	im, err := metadata.Unmarshal(snapshot)
	if err != nil {
		return fmt.Errorf("restore metadata snapshot: %w", err)
	}
	b.image = im
	b.reconcile(nowMs)
	b.noteCaughtUp()
	b.releaseParked(nowMs)
	return nil
}

// SnapshotMetadata encodes the image for a metadata log snapshot.
func (b *Broker) SnapshotMetadata() ([]byte, error) { return b.image.Marshal() }

// AppendSnapshotMetadata appends SnapshotMetadata's bytes to dst (it does
// not fail), for a caller that snapshots often into a buffer it reuses.
func (b *Broker) AppendSnapshotMetadata(dst []byte) []byte { return b.image.AppendMarshal(dst) }

// AppendMetadataCompact appends the image encoded without indentation
// (metadata.Image.AppendCompact) to dst, for a caller that compares
// images often, into a buffer it reuses.
func (b *Broker) AppendMetadataCompact(dst []byte) []byte { return b.image.AppendCompact(dst) }

// ProposalFailed reports that a proposal will not be applied as far as
// the environment knows (this node lost leadership, or the log refused
// it). Its waiter is answered NOT_CONTROLLER; if the entry commits after
// all it still applies, unanswered.
func (b *Broker) ProposalFailed(nowMs int64, seq uint64) {
	b.observeNow(nowMs)
	if p := b.proposals[seq]; p != nil {
		delete(b.proposals, seq)
		p.done(nowMs, nil, kerrNotController)
	}
}

// SetController tells the broker which node leads the metadata quorum
// (-1 while none is known). The controller role follows it.
func (b *Broker) SetController(nowMs int64, id int32) {
	b.observeNow(nowMs)
	if b.closed || id == b.controllerID {
		return
	}
	b.env.Logger.Info("controller changed", "from", b.controllerID, "to", id)
	b.controllerID = id
	b.ctrl.SetActive(id == b.cfg.NodeID)
	b.member.ControllerChanged(nowMs)
}

// afterApply brings the broker's partitions in line with the image.
func (b *Broker) afterApply(nowMs int64, entry *metadata.Entry, results []metadata.Result) {
	for i, r := range results {
		if r.Err != nil {
			b.env.Logger.Info("metadata record refused", "proposer", entry.Proposer, "record", i, "err", r.Err)
		}
	}
	b.reconcile(nowMs)
	b.noteCaughtUp()
}

// sendPeer sends req to broker to (its control listener's address taken
// from the image). A
// request to this broker itself, which happens when it is the controller,
// goes straight to the handler. done runs exactly once.
func (b *Broker) sendPeer(nowMs int64, to int32, req kmsg.Request, done func(nowMs int64, resp kmsg.Response, err error)) {
	if to == b.cfg.NodeID {
		h := lookupAPI(req.Key())
		if h == nil {
			done(nowMs, nil, fmt.Errorf("no handler for API key %d", req.Key()))
			return
		}
		if v := req.GetVersion(); v < h.minVersion || v > h.maxVersion {
			req.SetVersion(h.maxVersion)
		}
		answered := false
		r := &Request{Msg: req, internal: func(resp kmsg.Response) {
			if !answered {
				answered = true
				// The answer may come much later than the send (a proposal
				// that commits or times out): hand it the time of the
				// entry point that produced it, not the send time.
				done(b.nowMs, resp, nil)
			}
		}}
		if err := h.handle(b, nowMs, r); err != nil && !answered {
			answered = true
			done(nowMs, nil, err)
		}
		return
	}
	reg := b.image.Broker(to)
	if reg == nil || b.env.Network == nil {
		done(nowMs, nil, fmt.Errorf("broker %d has no known address", to))
		return
	}
	if len(b.peerCalls) >= b.cfg.MaxPeerCalls {
		done(nowMs, nil, fmt.Errorf("too many requests to other brokers in flight"))
		return
	}
	b.nextPeerCallID++
	id := b.nextPeerCallID
	b.peerCalls[id] = &peerCall{done: done}
	addr := PeerAddr{ID: to, Host: reg.Host, Port: reg.Port}
	if reg.ControlPort != 0 {
		// Every request to a peer is control-plane or a replica fetch:
		// all go to its control listener (listener.go). A registration
		// without one (an image older than the control listener) falls
		// back to the Kafka listener, which refuses the control plane
		// until the peer registers again, as it does at every start.
		addr.Host, addr.Port = reg.ControlHost, reg.ControlPort
	}
	b.env.Network.Send(addr, id, req)
}

// PeerResponse delivers the answer (or the failure) of a request sent
// through Network.Send.
func (b *Broker) PeerResponse(nowMs int64, id uint64, resp kmsg.Response, err error) {
	b.observeNow(nowMs)
	c := b.peerCalls[id]
	if c == nil {
		return
	}
	delete(b.peerCalls, id)
	if b.closed {
		return
	}
	if err == nil && resp == nil {
		err = fmt.Errorf("empty response")
	}
	c.done(nowMs, resp, err)
}

// BeginControlledShutdown asks the controller to move this broker's
// leaderships away (SIGTERM). ShutdownReady reports when that is done.
func (b *Broker) BeginControlledShutdown(nowMs int64) {
	b.observeNow(nowMs)
	b.member.BeginControlledShutdown(nowMs)
}

// ShutdownReady reports whether a controlled shutdown may proceed: the
// controller has fenced this broker, so it leads nothing.
func (b *Broker) ShutdownReady() bool { return b.member.ShutdownReady() }

// expireProposals answers proposals that waited too long.
func (b *Broker) expireProposals(nowMs int64) {
	if len(b.proposals) == 0 {
		return
	}
	for _, seq := range sortedKeys(b.proposals) {
		p := b.proposals[seq]
		if p.deadlineMs <= nowMs {
			delete(b.proposals, seq)
			p.done(nowMs, nil, kerrRequestTimedOut)
		}
	}
}

// clusterNextWakeMs lowers next to the earliest cluster timer: heartbeat
// or registration, a controller session, a proposal or produce deadline,
// a follower's fetch backoff or ISR retry, an ISR lag limit, the next ask
// to leave an ISR (retryResigns).
func (b *Broker) clusterNextWakeMs(nowMs, next int64) int64 {
	for _, p := range b.proposals { // a minimum: the order does not matter
		next = min(next, p.deadlineMs)
	}
	// Produce waiters live on leaders only (CheckInvariants); nothing
	// else here concerns a partition without a role.
	leading, following := b.roleLists()
	for _, p := range leading {
		if b.pendingProduces > 0 {
			for _, w := range p.waiters {
				next = min(next, w.deadlineMs)
			}
		}
		if !b.clustered() {
			continue
		}
		next = p.lead.NextWakeMs(nowMs, next, p.isr, b.cfg.ReplicaLagTimeMaxMs)
	}
	if !b.clustered() {
		return next
	}
	for _, p := range following {
		if !p.fetch.InFlight { // else nothing to wait for (and unsynced is not free)
			next = p.fetch.NextWakeMs(nowMs, next, b.unsynced(p), int64(b.cfg.ReplicaFetchWaitMaxMs))
		}
	}
	for _, p := range b.resigning {
		if !p.lead.ISRInFlight && p.resignRetryAtMs > nowMs && b.mustLeaveISR(p) {
			next = min(next, p.resignRetryAtMs)
		}
	}
	return b.ctrl.NextWakeMs(b.member.NextWakeMs(next))
}

// observeNow records the time of the entry point being run, for answers
// that reach a callback without a clock of their own (sendPeer to self).
func (b *Broker) observeNow(nowMs int64) { b.nowMs = nowMs }
