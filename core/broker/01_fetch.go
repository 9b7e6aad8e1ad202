package broker

// Fetch, versions 4-18 (Kafka 4.1's range; Kafka 4 dropped v0-3 too).
//
// v4 is the first version that carries record batches in magic 2, which
// is all Chronik stores (librdkafka needs v4 in the range to use them).
// v5 adds the log start offset, v7 fetch sessions, v9 the current leader
// epoch (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), v11 rack-aware
// replica selection (ignored: -1), v12 is flexible. v13 names topics by
// id, in the request and the response (topic_ids.go: an id no topic has,
// or one of a deleted topic, gets UNKNOWN_TOPIC_ID). v14 only allows
// OFFSET_MOVED_TO_TIERED_STORAGE, which Chronik (no tiered storage) never
// answers. v15 moves a follower's replica id into ReplicaState (KIP-903;
// normalizeFetch copies it back, so that the rest of the broker reads
// ReplicaID at every version; the replica epoch is not checked: Chronik
// has no broker epochs in the ISR). v16 adds leader hints (KIP-951,
// leader_hints.go) to partitions answered NOT_LEADER_OR_FOLLOWER or
// FENCED_LEADER_EPOCH. v17 adds a follower's ReplicaDirectoryId (KIP-853:
// KRaft voters' fetches; ignored, Chronik's metadata quorum does not
// fetch through this API). v18 adds the follower's high watermark
// (KIP-1166: the leader answers a follower's long poll as soon as its
// high watermark is ahead of the follower's); the field is ignored
// because the leader already tracks what it last told each follower
// (noteReplicaAnswer below) and answers on that, and Chronik's own
// followers send v12.
//
// Fetch sessions (KIP-227) are declined: a request that asks to create one
// gets session id 0, which tells the client to keep sending full fetches;
// an incremental fetch on any session id gets FETCH_SESSION_ID_NOT_FOUND.
//
// fetch.max.bytes (Config.FetchMaxBytes) caps a response as Kafka's
// KafkaApis does: the effective MaxBytes is min(MaxBytes, fetch.max.bytes)
// (all of fetch.max.bytes before v3, which has no MaxBytes), and MinBytes
// is lowered to it. The first batch of a response is still returned whole
// even if larger (KIP-74), so a consumer always makes progress.
//
// Isolation (v4+): every consumer fetch reports the partition's last
// stable offset (the first offset of its earliest open transaction, else
// the high watermark). A read_committed fetch (IsolationLevel 1) reads
// only below it and gets the aborted transactions overlapping the records
// it returns (producer id and first offset, from the partition log's
// aborted-transaction index), so that the client drops their records;
// the high watermark field stays the high watermark. read_uncommitted
// reads up to the high watermark with no aborted list (null), as Kafka.
//
// Long polling: when fewer than MinBytes are available and MaxWaitMillis >
// 0, the request waits until enough data is below the high watermark, the
// wait expires, or a partition errors. A follower's fetch (ReplicaID >= 0)
// also ends its wait when a partition's high watermark or log start moves
// past what the leader last told that follower (replication.go): a
// follower keeps one fetch per leader in flight, so the news would
// otherwise wait for the long poll to expire (as KIP-1166 does for
// Kafka).

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/bugs"
	"github.com/chronik-streaming/chronik/core/record"
)

func init() { registerAPI(1, 4, 18, handleFetch) }

// normalizeFetch copies a v15+ request's ReplicaState.ID (KIP-903) into
// ReplicaID, where older versions carry it, as Kafka's
// FetchRequest.replicaId() reads either: the listener check, catch-up
// parking and the handler then read one field at every version.
func normalizeFetch(r *kmsg.FetchRequest) {
	if r.Version >= 15 {
		r.ReplicaID = r.ReplicaState.ID
	}
}

// waitingFetch is a long-polling fetch request.
type waitingFetch struct {
	req        *Request
	fetch      *kmsg.FetchRequest
	deadlineMs int64
	seq        uint64 // its arrival number (Broker.fetchSeq)
	// parts are the partitions it names (each once); it is in each one's
	// fetchWaiters until it is answered.
	parts []*partition
	// done says it was answered or dropped; woken says a wake round has
	// collected it.
	done, woken bool
	// unsent is its last build that was not sent (too small to answer):
	// nothing else references it, so the next build of the same request
	// fills it in place instead of allocating the partition structs again
	// (buildFetchResponse).
	unsent *kmsg.FetchResponse
}

func handleFetch(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.FetchRequest)
	if r.Version >= 7 {
		switch {
		case r.SessionID != 0:
			resp := kmsg.NewPtrFetchResponse()
			resp.ErrorCode = kerrFetchSessionIDNotFound
			b.reply(req, resp)
			return nil
		case r.SessionEpoch > 0:
			resp := kmsg.NewPtrFetchResponse()
			resp.ErrorCode = kerrInvalidFetchSessionEpoch
			b.reply(req, resp)
			return nil
		}
	}
	b.fetchSeq++
	seq := b.fetchSeq
	resp, bytes, urgent := b.buildFetchResponse(nowMs, seq, r, nil)
	defer b.settle(nowMs)
	wait := int64(r.MaxWaitMillis)
	if wait > b.cfg.MaxFetchWaitMs {
		wait = b.cfg.MaxFetchWaitMs
	}
	if urgent || wait <= 0 || bytes >= b.fetchMinBytes(r) || len(b.waitingFetches) >= b.cfg.MaxWaitingFetches {
		b.replyFetch(req, r, resp)
		return nil
	}
	w := &waitingFetch{req: req, fetch: r, deadlineMs: nowMs + wait, seq: seq, unsent: resp}
	b.fetchPartsSeen++
	named := 0
	for _, rt := range r.Topics {
		named += len(rt.Partitions)
	}
	w.parts = make([]*partition, 0, named) // at most: each partition once
	for _, rt := range r.Topics {
		// Every partition named exists: a response with an unknown one
		// errors, and an erroring fetch does not wait.
		ts, _ := b.requestTopic(r.Version >= topicIDsFromVersion, rt.Topic, rt.TopicID)
		for _, rp := range rt.Partitions {
			p := ts.partitions[rp.Partition]
			if p.fetchSeen != b.fetchPartsSeen {
				p.fetchSeen = b.fetchPartsSeen
				w.parts = append(w.parts, p)
				p.fetchWaiters = append(p.fetchWaiters, w)
				b.recheck(p)
			}
		}
	}
	b.waitingFetches = append(b.waitingFetches, w)
	return nil
}

// answerFetch builds the response of a waiting fetch afresh and sends it.
func (b *Broker) answerFetch(nowMs int64, w *waitingFetch) {
	resp, _, _ := b.buildFetchResponse(nowMs, w.seq, w.fetch, w.takeUnsent())
	b.dropWaitingFetch(w)
	b.replyFetch(w.req, w.fetch, resp)
}

// replyFetch sends a fetch response; for a follower's fetch it first
// notes what the response tells the follower (noteReplicaAnswer).
func (b *Broker) replyFetch(req *Request, r *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	if r.ReplicaID >= 0 {
		b.noteReplicaAnswer(r, resp)
	}
	b.reply(req, resp)
}

// takeUnsent hands over w's unsent build for the next build to fill
// (nil if none), so that a response that may be sent is never also held
// as reusable.
func (w *waitingFetch) takeUnsent() *kmsg.FetchResponse {
	resp := w.unsent
	w.unsent = nil
	return resp
}

// dropWaitingFetch marks w done and takes it off its partitions' lists
// (lazily: a list is compacted once most of it is done, so answering
// thousands of fetches on one partition stays linear). The caller takes
// it off b.waitingFetches.
func (b *Broker) dropWaitingFetch(w *waitingFetch) {
	if w.done {
		return
	}
	w.done = true
	w.unsent = nil
	for _, p := range w.parts {
		b.recheck(p)
		p.fetchWaitersDone++
		if 2*p.fetchWaitersDone > len(p.fetchWaiters) {
			p.compactFetchWaiters()
		}
	}
}

// compactFetchWaiters drops the answered fetches from p.fetchWaiters.
func (p *partition) compactFetchWaiters() {
	p.fetchWaiters = slices.DeleteFunc(p.fetchWaiters, func(w *waitingFetch) bool { return w.done })
	p.fetchWaitersDone = 0
}

// touchFetches records that p changed in a way that may satisfy or end
// the long polls waiting on it (new records, a higher high watermark, a
// moved log start, a role or epoch change, an error); the next
// wakeFetches builds them again.
func (b *Broker) touchFetches(p *partition) {
	if p.fetchTouched || len(p.fetchWaiters) == p.fetchWaitersDone {
		return
	}
	p.fetchTouched = true
	b.recheck(p)
	b.fetchTouched = append(b.fetchTouched, p)
}

// wakeFetches answers the long polls that now have enough data (or an
// error to report), among those waiting on the partitions touched since
// the last wake (touchFetches): a fetch on partitions nothing changed
// would be built again to the same too-small answer, and every produce
// used to rebuild every waiting fetch. Kafka's purgatory likewise keys a
// delayed fetch by its partitions. The fetches woken together are built
// in arrival order.
//
// Building a response can move a leader's high watermark (a follower's
// fetch reports its progress), which touches partitions again: the
// waking flag turns that nested call into another round of this loop.
func (b *Broker) wakeFetches(nowMs int64) {
	if b.waking {
		return
	}
	b.waking = true
	for len(b.fetchTouched) > 0 {
		touched := b.fetchTouched
		b.fetchTouched = nil
		var woken []*waitingFetch
		for _, p := range touched {
			p.fetchTouched = false
			for _, w := range p.fetchWaiters {
				if !w.done && !w.woken {
					w.woken = true
					woken = append(woken, w)
				}
			}
		}
		slices.SortFunc(woken, func(x, y *waitingFetch) int { return cmp.Compare(x.seq, y.seq) })
		answered := false
		for _, w := range woken {
			w.woken = false
			if w.done {
				continue // dropped meanwhile (its connection closed)
			}
			resp, bytes, urgent := b.buildFetchResponse(nowMs, w.seq, w.fetch, w.takeUnsent())
			if urgent || bytes >= b.fetchMinBytes(w.fetch) {
				b.dropWaitingFetch(w)
				b.replyFetch(w.req, w.fetch, resp)
				answered = true
			} else {
				w.unsent = resp
			}
		}
		if answered {
			b.waitingFetches = slices.DeleteFunc(b.waitingFetches, func(w *waitingFetch) bool { return w.done })
		}
	}
	b.waking = false
}

// expireFetches answers the long polls whose wait is over, in arrival
// order. They leave b.waitingFetches before any is answered: building an
// answer can wake fetches (a follower's progress raises a high
// watermark), which edits that list.
func (b *Broker) expireFetches(nowMs int64) {
	var expired []*waitingFetch
	kept := b.waitingFetches[:0]
	for _, w := range b.waitingFetches {
		if w.deadlineMs <= nowMs {
			expired = append(expired, w)
			continue
		}
		kept = append(kept, w)
	}
	clear(b.waitingFetches[len(kept):])
	b.waitingFetches = kept
	for _, w := range expired {
		if !w.done { // a wake while answering an earlier one may have answered it
			b.answerFetch(nowMs, w)
		}
	}
}

// FetchResponseMaxBytes is the most record bytes a response to r may
// carry beyond its first batch: the request's MaxBytes (absent before v3)
// capped at fetchMaxBytes (fetch.max.bytes). A pure function, so that the
// I/O layer can size a fetch's response before handing it to the broker.
func FetchResponseMaxBytes(r *kmsg.FetchRequest, fetchMaxBytes int32) int {
	limit := int(fetchMaxBytes)
	if r.Version >= 3 && r.MaxBytes > 0 {
		limit = min(limit, int(r.MaxBytes))
	}
	return limit
}

// fetchMinBytes is r's MinBytes, at most what a response may carry, so
// that a long poll can be satisfied (Kafka lowers it the same way).
func (b *Broker) fetchMinBytes(r *kmsg.FetchRequest) int {
	return min(int(r.MinBytes), FetchResponseMaxBytes(r, b.cfg.FetchMaxBytes))
}

// buildFetchResponse reads every requested partition. It returns the
// response, the number of record bytes in it, and whether it is urgent:
// a partition carries an error or a diverging epoch (which ends a long
// poll at once, as in Kafka), or news for a follower (a high watermark or
// log start it was not told yet). seq is the request's arrival number: a
// long poll is built again when it wakes. reuse, if not nil, is an
// earlier build of r that was not sent and that nothing else references
// (waitingFetch.unsent): it is filled again in place, every field set
// afresh, so the result is the same as a new build's.
func (b *Broker) buildFetchResponse(nowMs int64, seq uint64, r *kmsg.FetchRequest, reuse *kmsg.FetchResponse) (*kmsg.FetchResponse, int, bool) {
	resp := reuse
	if resp == nil {
		resp = newFetchResponseShell(r)
	} else {
		clearFetchResponse(resp)
	}
	resp.Version = r.Version
	budget := FetchResponseMaxBytes(r, b.cfg.FetchMaxBytes)
	total := 0
	urgent := false
	var leaders hintedLeaders
	for i := range r.Topics {
		rt := &r.Topics[i]
		// The shell has a topic per request topic, with room for its
		// partitions, in request order. Its structs are zero (new, or
		// cleared): Default makes each what kmsg.New* returns, without
		// copying a whole struct over it.
		resp.Topics = resp.Topics[:i+1]
		st := &resp.Topics[i]
		st.Default()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		// Resolved at every build: a long poll on an id whose topic is
		// deleted meanwhile answers UNKNOWN_TOPIC_ID at its next wake.
		ts, unknownCode := b.requestTopic(r.Version >= topicIDsFromVersion, rt.Topic, rt.TopicID)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			st.Partitions = st.Partitions[:j+1]
			sp := &st.Partitions[j]
			sp.Default()
			sp.Partition = rp.Partition
			sp.HighWatermark = -1
			sp.LastStableOffset = -1
			sp.LogStartOffset = -1
			sp.PreferredReadReplica = -1
			// Empty, not null: librdkafka rejects a null record set.
			sp.RecordBatches = []byte{}
			code, n, news := unknownCode, 0, false
			if ts != nil {
				code, n, news = b.fetchPartition(nowMs, seq, r.ReplicaID, r.IsolationLevel == isolationReadCommitted, ts, rp, sp, budget-total, total == 0)
			}
			sp.ErrorCode = code
			if r.Version >= 16 && wantsLeaderHint(code) {
				if h, ok := b.partitionLeaderHint(ts, rp.Partition); ok {
					sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = h.leaderID, h.leaderEpoch
					leaders.add(h.leaderID)
				}
			}
			// A diverging epoch, like an error, is news the follower needs
			// at once: it ends a long poll.
			if code != kerrNone || sp.DivergingEpoch.EndOffset >= 0 || news {
				urgent = true
			}
			total += n
		}
	}
	for _, id := range leaders {
		host, port, _ := b.brokerEndpoint(id) // known: partitionLeaderHint checked
		nb := kmsg.NewFetchResponseBroker()
		nb.NodeID, nb.Host, nb.Port = id, host, port
		resp.Brokers = append(resp.Brokers, nb)
	}
	return resp, total, urgent
}

// clearFetchResponse zeroes an unsent build for buildFetchResponse to
// fill again, keeping its arrays (at their full capacity: a build may
// have stopped short of it) as newFetchResponseShell leaves them.
func clearFetchResponse(resp *kmsg.FetchResponse) {
	topics := resp.Topics[:cap(resp.Topics)]
	for i := range topics {
		parts := topics[i].Partitions
		clear(parts[:cap(parts)])
		topics[i] = kmsg.FetchResponseTopic{Partitions: parts[:0]}
	}
	*resp = kmsg.FetchResponse{Topics: topics[:0]}
	resp.Default()
}

// newFetchResponseShell allocates a response to r with room for each of
// its topics and partitions (lengths zero): the partition structs are
// large, and growing the slices copied them over and over. All the
// partitions share one array, each topic's part capped at its size so
// that filling one topic cannot run into the next.
func newFetchResponseShell(r *kmsg.FetchRequest) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	named := 0
	for i := range r.Topics {
		named += len(r.Topics[i].Partitions)
	}
	parts := make([]kmsg.FetchResponseTopicPartition, named)
	resp.Topics = make([]kmsg.FetchResponseTopic, len(r.Topics))
	off := 0
	for i := range r.Topics {
		n := len(r.Topics[i].Partitions)
		resp.Topics[i].Partitions = parts[off : off : off+n]
		off += n
	}
	resp.Topics = resp.Topics[:0]
	return resp
}

// fetchPartition fills one partition of a fetch response and returns the
// error code, the record bytes added, and whether a follower has news in
// it (replicaFetchPartition). first says no records are in the response
// yet: only then may a batch larger than the limits be returned whole
// (KIP-74), so a consumer can always make progress.
func (b *Broker) fetchPartition(nowMs int64, seq uint64, replicaID int32, readCommitted bool, ts *topicState, rp *kmsg.FetchRequestTopicPartition, sp *kmsg.FetchResponseTopicPartition, budget int, first bool) (int16, int, bool) {
	if ts == nil || rp.Partition < 0 || rp.Partition >= int32(len(ts.partitions)) {
		return kerrUnknownTopicOrPartition, 0, false
	}
	p := ts.partitions[rp.Partition]
	if p.hosted && p.log == nil {
		return kerrKafkaStorageError, 0, false
	}
	if replicaID >= 0 {
		return b.replicaFetchPartition(nowMs, seq, replicaID, p, rp, sp, budget, first)
	}
	if !p.isLeader() {
		return kerrNotLeaderOrFollower, 0, false
	}
	if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, p.leaderEpoch); code != kerrNone {
		return code, 0, false
	}
	hw := p.log.HighWatermark()
	lso := p.log.LastStableOffset()
	sp.HighWatermark = hw
	sp.LastStableOffset = lso
	sp.LogStartOffset = p.log.LogStartOffset()
	sp.AbortedTransactions = nil
	if readCommitted {
		sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	}
	limit := int(rp.PartitionMaxBytes)
	if budget < limit {
		limit = budget
	}
	if limit <= 0 && !first {
		return kerrNone, 0, false
	}
	if rp.FetchOffset == hw {
		return kerrNone, 0, false
	}
	// Offsets between the high watermark and the log end are valid but not
	// yet readable; beyond the log end (or below the start) is out of range.
	readLimit := hw
	if readCommitted {
		readLimit = lso
	}
	if bugs.ServePastHighWatermark { // deliberate bug (core/bugs): read up to the log end
		readLimit = p.log.LogEndOffset()
	}
	code, n := b.readInto(p, sp, rp.FetchOffset, limit, readLimit, first)
	if code == kerrNone && readCommitted {
		code = b.fillAborted(p, sp, rp.FetchOffset)
	}
	return code, n, false
}

// isolationReadCommitted is the IsolationLevel of a read_committed fetch
// or ListOffsets (0 is read_uncommitted).
const isolationReadCommitted = 1

// fillAborted sets a read_committed answer's aborted transactions: those
// overlapping the records it returns, from offset to the end of its last
// batch (empty, not null, when there are none, as Kafka answers).
func (b *Broker) fillAborted(p *partition, sp *kmsg.FetchResponseTopicPartition, offset int64) int16 {
	sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	if len(sp.RecordBatches) == 0 {
		return kerrNone
	}
	upTo, err := batchesEnd(sp.RecordBatches)
	if err != nil {
		return kerrNone // framed by the log itself: cannot happen
	}
	list, err := p.log.AbortedTransactions(offset, upTo)
	if err != nil {
		sp.RecordBatches = []byte{}
		return b.logReadError(p, err)
	}
	for _, a := range list {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		sp.AbortedTransactions = append(sp.AbortedTransactions, at)
	}
	return kerrNone
}

// batchesEnd returns the offset after the last of the concatenated
// batches b.
func batchesEnd(b []byte) (int64, error) {
	var end int64
	for len(b) > 0 {
		batch, rest, err := record.Next(b)
		if err != nil {
			return 0, err
		}
		h, err := record.ParseHeader(batch)
		if err != nil {
			return 0, err
		}
		end = h.NextOffset()
		b = rest
	}
	return end, nil
}

// readInto reads p from offset below readLimit into sp, within limit
// bytes unless first (KIP-74: the first batch of a response may exceed
// the limits). It returns the error code and the record bytes added; a
// storage error takes the partition offline.
func (b *Broker) readInto(p *partition, sp *kmsg.FetchResponseTopicPartition, offset int64, limit int, readLimit int64, first bool) (int16, int) {
	res, err := p.log.Read(offset, max(limit, 1), readLimit)
	if err != nil {
		return b.logReadError(p, err), 0
	}
	if !first && len(res.Records) > limit {
		return kerrNone, 0
	}
	if len(res.Records) > 0 {
		sp.RecordBatches = res.Records
	}
	return kerrNone, len(res.Records)
}

// checkLeaderEpoch applies KIP-320: a client that knows an older epoch is
// fenced, one that knows a newer epoch than ours has metadata we lack yet.
// -1 means the client does not track epochs.
func checkLeaderEpoch(clientEpoch, ourEpoch int32) int16 {
	switch {
	case clientEpoch == -1:
		return kerrNone
	case clientEpoch < ourEpoch:
		return kerrFencedLeaderEpoch
	case clientEpoch > ourEpoch:
		return kerrUnknownLeaderEpoch
	}
	return kerrNone
}
