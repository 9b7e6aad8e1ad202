package sim

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// topicStatus is what the workload knows about a topic.
type topicStatus uint8

const (
	// topicLive: created (acknowledged) and no delete was attempted.
	topicLive topicStatus = iota + 1
	// topicMaybe: a create whose outcome is unknown (or failed with an
	// error that may follow a partial write). Never produced to during
	// the run; the final phase drains it if it exists.
	topicMaybe
	// topicDeleting: a delete was sent but did not return ok.
	topicDeleting
	// topicDeleted: a delete returned ok.
	topicDeleted
)

// simTopic is one topic incarnation. Names are never reused, so a name is
// one log for the whole run.
type simTopic struct {
	name string
	// partitions is the acknowledged partition count; maxPartitions the
	// largest one a CreateTopics or CreatePartitions asked for.
	partitions    int32
	maxPartitions int32
	created       int32       // the count it was created with
	grows         []topicGrow // acknowledged CreatePartitions
	status        topicStatus
	createdAt     Time // when the create was acknowledged (live topics)
	deleteCall    Time // when the delete was sent
	deletedAt     Time // when the delete was acknowledged
	// minISR is the min.insync.replicas it was created with ("" on a
	// single node), which a legacy AlterConfigs must repeat.
	minISR string
	// retentionSince is when the first alter that set retention.ms or
	// retention.bytes to a bound was sent (0: never). From then on
	// retention may delete its oldest records (trim.go).
	retentionSince Time
	// compacted marks a topic of the compaction workload (compaction.go):
	// cleanup.policy compact, keyed records only, so it is left out of
	// live() (the other clients' topics) and of the final drain.
	compacted bool
	// txn marks a topic of the transactional workload (txn.go): control
	// batches and undecided records, so it is left out of live() and of
	// the final drain too (txncheck.go reads it).
	txn bool
}

// private reports whether t belongs to a workload of its own (compaction,
// transactions), out of the other clients' way.
func (t *simTopic) private() bool { return t.compacted || t.txn }

// registry is the workload's shared knowledge: which topics exist and how
// far each partition is known to reach. Clients coordinate through it the
// way an application would through configuration; it never feeds a
// checker except the metadata check, which uses only acknowledged facts.
type registry struct {
	topics []*simTopic
	byName map[string]*simTopic
	known  map[lin.TopicPartition]int64
	next   int
}

// topicGrow is one acknowledged CreatePartitions.
type topicGrow struct {
	count int32
	at    Time
}

// partitionsAt is the partition count acknowledged before time t.
func (t *simTopic) partitionsAt(at Time) int32 {
	n := t.created
	for _, g := range t.grows {
		if g.at < at {
			n = max(n, g.count)
		}
	}
	return n
}

func (r *registry) add(t *simTopic) {
	r.topics = append(r.topics, t)
	r.byName[t.name] = t
}

func (r *registry) live() []*simTopic {
	var out []*simTopic
	for _, t := range r.topics {
		if t.status == topicLive && !t.private() {
			out = append(out, t)
		}
	}
	return out
}

// isLive reports whether topic name is acknowledged and not being deleted.
func (r *registry) isLive(name string) bool {
	t := r.byName[name]
	return t != nil && t.status == topicLive
}

func (r *registry) learn(tp lin.TopicPartition, end int64) {
	if end > r.known[tp] {
		r.known[tp] = end
	}
}

// Kafka error codes the workload interprets.
const (
	errCodeOffsetOutOfRange      = 1
	errCodeCorruptMessage        = 2
	errCodeUnknownTopicPartition = 3
	errCodeMessageTooLarge       = 10
	errCodeRecordListTooLarge    = 18
	errCodeInvalidRequiredAcks   = 21
	errCodeTopicAlreadyExists    = 36
	errCodeUnsupportedForFormat  = 43
	errCodeOutOfOrderSequence    = 45
	errCodeInvalidProducerEpoch  = 47
	errCodeInvalidRecord         = 87
)

// definiteProduceFailure lists produce errors the broker returns before it
// appends anything, so the batch was certainly not written by this
// request. Every other error (KAFKA_STORAGE_ERROR after a failed fsync,
// REQUEST_TIMED_OUT at shutdown, UNKNOWN_TOPIC_OR_PARTITION for a waiter
// of a deleted topic) may follow an append and is an unknown outcome.
func definiteProduceFailure(code int16) bool {
	switch code {
	case errCodeCorruptMessage, errCodeMessageTooLarge, errCodeRecordListTooLarge, errCodeInvalidRequiredAcks,
		errCodeUnsupportedForFormat, errCodeOutOfOrderSequence, errCodeInvalidProducerEpoch, errCodeInvalidRecord:
		return true
	}
	return false
}

// pendingOp is an operation in progress; it enters the history when it
// completes (or, still open at the end, as unknown).
type pendingOp struct {
	op   lin.Op
	open bool
	// retrying marks an idempotent append retried after an attempt that
	// may have landed; the trimmer spares its partition (trim.go).
	retrying bool
}

func (w *world) begin(op lin.Op) *pendingOp {
	p := &pendingOp{op: op, open: true}
	w.open = append(w.open, p)
	return p
}

func (w *world) complete(p *pendingOp, outcome lin.Outcome) {
	if !p.open {
		return
	}
	p.open = false
	if p.retrying {
		p.retrying = false
		w.retrying[p.op.Partition]--
	}
	p.op.Outcome = outcome
	if outcome != lin.OutcomeOK {
		p.op.Final = false // only ok reads belong to the final drain
	}
	p.op.Return = max(int64(w.s.now), p.op.Call)
	w.history = append(w.history, p.op)
	if w.cluster() && p.op.Kind != lin.OpAppend && outcome != lin.OutcomeFailed {
		if p.op.MayBeStale {
			w.cover("read-may-be-stale")
		} else {
			w.cover("read-exact")
		}
	}
	op := &p.op
	w.tr.str("op")
	w.tr.u64(uint64(op.Kind)<<8 | uint64(op.Outcome))
	w.tr.i64(int64(op.Client))
	w.tr.str(op.Partition.Topic)
	w.tr.i64(int64(op.Partition.Partition))
	w.tr.i64(op.Offset)
	w.tr.i64(op.HighWatermark)
	for _, v := range op.Values {
		w.tr.str(v)
	}
	if w.logw != nil {
		w.logf("history: client %d %s %s (call %s)", op.Client, op.Partition, op.String(), Time(op.Call))
	}
}

// ---------------------------------------------------------------- producer

// producer sends batches of unique values to random partitions of live
// topics. A non-idempotent producer treats a failed send as an unknown
// outcome and moves on with new values (a retry with the same values
// would make the history ambiguous without idempotence). An idempotent
// producer has one batch in flight and retries it, with the same
// sequence, on a new connection after a timeout or a broken connection;
// the whole sequence of attempts is one operation. When it gives up it
// takes a new producer id, as Kafka clients do.
type producer struct {
	c           *client
	idempotent  bool
	acks        int16
	maxInFlight int
	batchMax    int
	inflight    int
	values      int
	pid         int64
	epoch       int16
	seqs        map[lin.TopicPartition]int32
	initPending bool
}

func (w *world) newProducer(c *client) *producer {
	r := c.rng
	p := &producer{c: c, pid: -1, seqs: map[lin.TopicPartition]int32{}}
	p.idempotent = r.Chance(w.set.Work.IdempotentFrac)
	if w.cluster() {
		p.acks = pick(r, []int16{-1, -1, -1, 1, 0}) // acks=all mostly
	} else {
		p.acks = pick(r, []int16{-1, -1, 1, 0})
	}
	if p.idempotent {
		p.acks = -1
	}
	p.maxInFlight = 1
	if !p.idempotent {
		p.maxInFlight = int(r.Range(1, 4))
	}
	p.batchMax = int(r.Range(1, 5))
	w.s.after(r.Exp(w.set.Work.Think), "produce", p.step)
	return p
}

func (p *producer) desc() string {
	kind := "plain"
	if p.idempotent {
		kind = "idempotent"
	}
	return fmt.Sprintf("%s acks=%d inflight=%d batch<=%d", kind, p.acks, p.maxInFlight, p.batchMax)
}

func (p *producer) schedule() {
	w := p.c.w
	w.s.after(p.c.rng.Exp(w.set.Work.Think), "produce", p.step)
}

func (p *producer) step() {
	w := p.c.w
	if w.workloadStopped {
		return
	}
	defer p.schedule()
	if p.inflight >= p.maxInFlight {
		return
	}
	if p.idempotent && p.pid < 0 {
		p.initProducerID()
		return
	}
	live := w.reg.live()
	if len(live) == 0 {
		return
	}
	r := p.c.rng
	t := pick(r, live)
	tp := lin.TopicPartition{Topic: t.name, Partition: int32(r.Intn(int(t.partitions)))}
	if !p.idempotent && r.Chance(0.3) {
		// One request for two partitions: the broker answers when both
		// batches are synced.
		t2 := pick(r, live)
		tp2 := lin.TopicPartition{Topic: t2.name, Partition: int32(r.Intn(int(t2.partitions)))}
		l1, _ := p.c.route.leader(tp)
		l2, _ := p.c.route.leader(tp2)
		if tp2 != tp && l1 == l2 && l1 > 0 && !p.c.route.stale {
			p.inflight++
			p.sendMulti([]partSend{p.prepare(tp), p.prepare(tp2)})
			return
		}
	}
	values := p.nextValues()
	var id *producerIdentity
	if p.idempotent {
		id = &producerIdentity{id: p.pid, epoch: p.epoch, sequence: p.seqs[tp]}
	}
	batch := buildBatch(values, w.clientNowMs(), id)
	op := w.begin(lin.Op{Kind: lin.OpAppend, Client: p.c.id, Partition: tp, Call: int64(w.s.now), Values: values})
	p.inflight++
	p.send(op, tp, batch, id, 0, false)
}

// nextValues draws a batch size and returns that many fresh values.
func (p *producer) nextValues() []string {
	n := int(p.c.rng.Range(1, int64(p.batchMax)))
	values := make([]string, n)
	for i := range values {
		p.values++
		values[i] = p.c.name + "-" + strconv.Itoa(p.values)
	}
	return values
}

// partSend is one partition's batch in a multi-partition produce.
type partSend struct {
	op    *pendingOp
	tp    lin.TopicPartition
	batch []byte
}

func (p *producer) prepare(tp lin.TopicPartition) partSend {
	w := p.c.w
	values := p.nextValues()
	return partSend{
		op:    w.begin(lin.Op{Kind: lin.OpAppend, Client: p.c.id, Partition: tp, Call: int64(w.s.now), Values: values}),
		tp:    tp,
		batch: buildBatch(values, w.clientNowMs(), nil),
	}
}

// sendMulti sends one non-idempotent produce request for several
// partitions; each partition's batch is its own operation.
func (p *producer) sendMulti(sends []partSend) {
	w := p.c.w
	req := kmsg.NewPtrProduceRequest()
	req.Version = int16(p.c.rng.Range(3, 11))
	req.Acks = p.acks
	req.TimeoutMillis = 5000
	for _, ps := range sends {
		ti := -1
		for i := range req.Topics {
			if req.Topics[i].Topic == ps.tp.Topic {
				ti = i
			}
		}
		if ti < 0 {
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = ps.tp.Topic
			req.Topics = append(req.Topics, rt)
			ti = len(req.Topics) - 1
		}
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = ps.tp.Partition
		rp.Records = ps.batch
		req.Topics[ti].Partitions = append(req.Topics[ti].Partitions, rp)
	}
	node, _ := p.c.route.leader(sends[0].tp)
	p.c.do(node, req, w.set.Work.RequestTimeout, p.acks == 0, func(resp kmsg.Response, err error) {
		p.inflight--
		if err != nil {
			p.c.route.invalidate()
		}
		for _, ps := range sends {
			switch {
			case p.acks == 0:
				w.complete(ps.op, lin.OutcomeUnknown)
			case err == errNotSent:
				w.complete(ps.op, lin.OutcomeFailed)
			case err != nil:
				w.complete(ps.op, lin.OutcomeUnknown)
			default:
				sp := findProducePartition(resp.(*kmsg.ProduceResponse), ps.tp)
				switch {
				case sp == nil:
					w.fail("%s: produce response lacks %s", p.c.name, ps.tp)
					w.complete(ps.op, lin.OutcomeUnknown)
				case sp.ErrorCode == 0:
					ps.op.op.Offset = sp.BaseOffset
					w.reg.learn(ps.tp, sp.BaseOffset+int64(len(ps.op.op.Values)))
					w.complete(ps.op, p.okOutcome())
				case definiteProduceFailure(sp.ErrorCode) || (w.cluster() && sp.ErrorCode == errCodeNotEnoughReplicas):
					w.complete(ps.op, lin.OutcomeFailed)
				default:
					w.complete(ps.op, lin.OutcomeUnknown)
				}
				if sp != nil && routingError(sp.ErrorCode) {
					p.c.route.invalidate()
				}
			}
		}
	})
}

func findProducePartition(r *kmsg.ProduceResponse, tp lin.TopicPartition) *kmsg.ProduceResponseTopicPartition {
	for i := range r.Topics {
		if r.Topics[i].Topic != tp.Topic {
			continue
		}
		for j := range r.Topics[i].Partitions {
			if r.Topics[i].Partitions[j].Partition == tp.Partition {
				return &r.Topics[i].Partitions[j]
			}
		}
	}
	return nil
}

func (p *producer) produceRequest(tp lin.TopicPartition, batch []byte) *kmsg.ProduceRequest {
	return oneBatchProduce(int16(p.c.rng.Range(3, 11)), p.acks, 5000, tp, batch)
}

// oneBatchProduce is a produce request carrying batch for tp alone.
func oneBatchProduce(version, acks int16, timeoutMs int32, tp lin.TopicPartition, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = acks
	req.TimeoutMillis = timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = tp.Topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = tp.Partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// okOutcome is what an acknowledged append of this producer tells the
// history: ok, except acks=1 in a cluster, which the leader answers
// before its followers have the batch (Kafka's semantics: a failover may
// lose it), so it is unknown. On a single node acks=1 is as strong as
// acks=all with sync writes (00_produce.go answers both after the fsync),
// which is what lets the ack-before-sync bug be caught.
func (p *producer) okOutcome() lin.Outcome {
	if p.acks == 1 && p.c.w.cluster() {
		return lin.OutcomeUnknown
	}
	return lin.OutcomeOK
}

// send makes one attempt, to the partition's leader as the client knows
// it. attempt counts earlier attempts; uncertain says whether an earlier
// attempt may have been applied.
func (p *producer) send(op *pendingOp, tp lin.TopicPartition, batch []byte, id *producerIdentity, attempt int, uncertain bool) {
	r := p.c.route
	r.ready(func() { p.sendTo(op, tp, batch, id, attempt, uncertain) })
}

func (p *producer) sendTo(op *pendingOp, tp lin.TopicPartition, batch []byte, id *producerIdentity, attempt int, uncertain bool) {
	w := p.c.w
	done := func(outcome lin.Outcome) {
		p.inflight--
		w.complete(op, outcome)
	}
	if uncertain && w.mayTrim(tp, Time(op.op.Call)) {
		// An earlier attempt may have landed, and a trim may have deleted
		// it since: give up and start afresh, as the backoff below does.
		// Checked here, as the request leaves, because a retry can wait
		// for a metadata refresh after its backoff, and a retry after
		// NOT_ENOUGH_REPLICAS has no other check (sim seed 911001199: a
		// DeleteRecords sent meanwhile deleted the first attempt, a
		// restart forgot its producer, and the retry landed again).
		done(lin.OutcomeUnknown)
		p.pid = -1
		clear(p.seqs)
		return
	}
	req := p.produceRequest(tp, batch)
	n := int32(len(op.op.Values))
	node, _ := p.c.route.leader(tp)
	p.c.do(node, req, w.set.Work.RequestTimeout, p.acks == 0, func(resp kmsg.Response, err error) {
		if p.acks == 0 {
			// No answer ever comes: the append may or may not happen.
			done(lin.OutcomeUnknown)
			return
		}
		code := int16(-1)
		var base int64 = -1
		if err == nil {
			pr := resp.(*kmsg.ProduceResponse)
			if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
				w.fail("%s: produce response with %d topics for one partition", p.c.name, len(pr.Topics))
				done(lin.OutcomeUnknown)
				return
			}
			sp := pr.Topics[0].Partitions[0]
			code, base = sp.ErrorCode, sp.BaseOffset
		}
		if err != nil || routingError(code) {
			p.c.route.invalidate()
		}
		// definite: the broker certainly did not append this attempt;
		// retriable: and another try may succeed (a cluster's
		// NOT_ENOUGH_REPLICAS, or no connection to the leader).
		definite := errorsIsNotSent(err) || (err == nil && (definiteProduceFailure(code) || (w.cluster() && code == errCodeNotEnoughReplicas)))
		retriable := w.cluster() && (errorsIsNotSent(err) || code == errCodeNotEnoughReplicas)
		switch {
		case err == nil && code == 0:
			op.op.Offset = base
			w.reg.learn(tp, base+int64(n))
			if p.idempotent {
				p.seqs[tp] += n
			}
			done(p.okOutcome())
			return
		case definite && retriable && attempt+1 < w.set.Work.MaxRetries && !w.workloadStopped:
			// Not applied, so the same values can go again (idempotent or
			// not), to the leader a refreshed view names.
			w.s.after(w.set.Work.Backoff+p.c.rng.Exp(w.set.Work.Backoff), "produce-retry", func() {
				if w.workloadStopped {
					if uncertain {
						done(lin.OutcomeUnknown)
					} else {
						done(lin.OutcomeFailed)
					}
					return
				}
				p.send(op, tp, batch, id, attempt+1, uncertain)
			})
			return
		case definite && !uncertain:
			done(lin.OutcomeFailed)
		case p.idempotent && attempt+1 < w.set.Work.MaxRetries && !w.workloadStopped && (err != nil || !definiteProduceFailure(code)) &&
			!((uncertain || !errorsIsNotSent(err)) && w.mayTrim(tp, Time(op.op.Call))):
			// (A retry whose earlier attempt may have landed is not sent
			// when a trim may have deleted that attempt meanwhile: with
			// its producer's state gone, Kafka accepts any sequence, so
			// the retry would be a second copy; trim.go.)
			// Retry the same batch (same sequence) after a backoff.
			sentBefore := uncertain || !errorsIsNotSent(err)
			if sentBefore && !op.retrying {
				op.retrying = true
				w.retrying[tp]++
			}
			w.s.after(w.set.Work.Backoff+p.c.rng.Exp(w.set.Work.Backoff), "produce-retry", func() {
				if w.workloadStopped || (sentBefore && w.mayTrim(tp, Time(op.op.Call))) {
					// The final drain relies on every append having
					// settled: no retry after the workload stopped. Nor
					// after a trim that may have deleted the earlier
					// attempt (sim seed 9223: a DeleteRecords sent
					// during the backoff); then start afresh, as below.
					done(lin.OutcomeUnknown)
					p.pid = -1
					clear(p.seqs)
					return
				}
				p.send(op, tp, batch, id, attempt+1, sentBefore)
			})
			return
		default:
			done(lin.OutcomeUnknown)
		}
		if p.idempotent {
			// Gave up on a batch, or the broker rejected its sequence: the
			// producer state may be out of step, so start afresh.
			p.pid = -1
			clear(p.seqs)
		}
	})
}

func errorsIsNotSent(err error) bool { return err == errNotSent }

func (p *producer) initProducerID() {
	if p.initPending {
		return
	}
	w := p.c.w
	p.initPending = true
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = int16(p.c.rng.Range(0, 4))
	req.TransactionTimeoutMillis = 60000
	req.ProducerID, req.ProducerEpoch = -1, -1
	p.c.do(p.c.route.anyNode(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		p.initPending = false
		if err != nil {
			return
		}
		r := resp.(*kmsg.InitProducerIDResponse)
		if r.ErrorCode != 0 {
			return
		}
		p.pid, p.epoch = r.ProducerID, r.ProducerEpoch
		clear(p.seqs)
	})
}

// ---------------------------------------------------------------- consumer

// consumer polls one partition at a time from a position it chose (a
// random offset, the earliest or the latest) and follows it fetch after
// fetch, switching partitions now and then.
type consumer struct {
	c       *client
	tp      lin.TopicPartition
	active  bool
	pos     int64
	seek    bool
	maxWait int32
	partMax int32
	switchP float64
	busy    bool
	// final marks the final drain's reader: its reads are Final. report,
	// when set (the final drain, a group member's reader), hears the end
	// of each request instead of the consumer going on.
	final   bool
	report  func(ok bool, hw int64)
	lastErr string
}

func (w *world) newConsumer(c *client) *consumer {
	r := c.rng
	k := &consumer{c: c}
	k.maxWait = int32(pick(r, []int64{0, 10, 100, 500}))
	k.partMax = int32(pick(r, []int64{100, 1000, 10000, 1 << 20}))
	k.switchP = pick(r, []float64{0.01, 0.05, 0.2})
	w.s.after(r.Exp(w.set.Work.Think), "consume", k.step)
	return k
}

func (k *consumer) desc() string {
	return fmt.Sprintf("wait=%dms partmax=%d switch=%.2f", k.maxWait, k.partMax, k.switchP)
}

func (k *consumer) schedule(d Time) {
	k.c.w.s.after(d, "consume", k.step)
}

func (k *consumer) step() {
	w := k.c.w
	if w.workloadStopped || k.busy {
		return
	}
	r := k.c.rng
	if !k.active || r.Chance(k.switchP) {
		live := w.reg.live()
		if len(live) == 0 {
			k.schedule(w.set.Work.Think)
			return
		}
		t := pick(r, live)
		k.tp = lin.TopicPartition{Topic: t.name, Partition: int32(r.Intn(int(t.partitions)))}
		k.active = true
		k.seek = true
		switch x := r.Float64(); {
		case x < 0.25:
			k.listOffset(-1)
			return
		case x < 0.35:
			k.listOffset(-2)
			return
		default:
			k.pos = r.Range(0, w.reg.known[k.tp]+2)
		}
	}
	k.fetch()
}

// listOffset asks for the latest (-1, recorded as an end-offset query) or
// the earliest (-2, recorded as a start-offset query) offset and seeks
// there.
func (k *consumer) listOffset(ts int64) {
	tp := k.tp
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = int16(k.c.rng.Range(1, 8))
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = tp.Topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = tp.Partition
	rp.Timestamp = ts
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	k.busy = true
	r := k.c.route
	r.ready(func() { k.listOffsetAt(req, ts) })
}

func (k *consumer) listOffsetAt(req *kmsg.ListOffsetsRequest, ts int64) {
	w := k.c.w
	tp := k.tp
	r := k.c.route
	node, epoch := r.leader(tp)
	if w.cluster() && req.Version >= 4 && epoch >= 0 && k.c.rng.Chance(0.5) {
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch
	}
	kind := lin.OpEndOffset
	if ts == -2 {
		kind = lin.OpStartOffset
	}
	call := w.s.now
	op := w.begin(lin.Op{Kind: kind, Client: k.c.id, Partition: tp, Call: int64(call)})
	k.c.do(node, req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		k.busy = false
		ok, next := false, k.c.rng.Exp(w.set.Work.Think/4)
		defer func() { k.done(next, ok, -1) }()
		if op != nil {
			op.op.MayBeStale = w.answerMayBeStale(tp)
		}
		code, offset := int16(-1), int64(-1)
		if err == nil {
			lr := resp.(*kmsg.ListOffsetsResponse)
			if len(lr.Topics) == 1 && len(lr.Topics[0].Partitions) == 1 {
				sp := lr.Topics[0].Partitions[0]
				code, offset = sp.ErrorCode, sp.Offset
			}
		}
		if err != nil || routingError(code) {
			r.invalidate()
		}
		if code != 0 {
			w.complete(op, lin.OutcomeFailed)
			k.active = false
			return
		}
		op.op.Offset = offset
		w.complete(op, lin.OutcomeOK)
		w.reg.learn(tp, offset)
		if ts == -2 {
			w.checkEarliest(k.c.name, tp, call, offset, false)
		}
		k.pos = offset
		ok = true
	})
}

// done ends one request of the consumer: report hears it when set (the
// final drain, a group member's reader), else the consumer's own loop goes
// on after next.
func (k *consumer) done(next Time, ok bool, hw int64) {
	if k.report != nil {
		k.report(ok, hw)
		return
	}
	k.schedule(next)
}

func (k *consumer) fetchRequest() *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = int16(k.c.rng.Range(4, 12))
	req.ReplicaID = -1
	req.MaxWaitMillis = k.maxWait
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = k.tp.Topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = k.tp.Partition
	rp.FetchOffset = k.pos
	rp.LogStartOffset = -1
	rp.PartitionMaxBytes = k.partMax
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetch reads from the consumer's position, at the partition's leader as
// the client knows it, and records the read.
func (k *consumer) fetch() {
	k.busy = true
	k.c.route.ready(k.fetchNow)
}

func (k *consumer) fetchNow() {
	w := k.c.w
	tp, pos := k.tp, k.pos
	req := k.fetchRequest()
	r := k.c.route
	node, epoch := r.leader(tp)
	if w.cluster() && req.Version >= 9 && epoch >= 0 && k.c.rng.Chance(0.5) {
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch
	}
	op := w.begin(lin.Op{Kind: lin.OpRead, Client: k.c.id, Partition: tp, Call: int64(w.s.now), Offset: pos, Seek: k.seek, Final: k.final})
	k.c.do(node, req, w.set.Work.RequestTimeout+Time(k.maxWait)*Millisecond, false, func(resp kmsg.Response, err error) {
		k.busy = false
		op.op.MayBeStale = w.answerMayBeStale(tp)
		next := k.c.rng.Exp(w.set.Work.Think / 2)
		ok, hw := false, int64(-1)
		defer func() { k.done(next, ok, hw) }()
		if err != nil {
			w.complete(op, lin.OutcomeFailed)
			next = w.set.Work.Backoff
			k.lastErr = err.Error()
			r.invalidate()
			return
		}
		fr := resp.(*kmsg.FetchResponse)
		if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			w.complete(op, lin.OutcomeFailed)
			next = w.set.Work.Backoff
			k.lastErr = fmt.Sprintf("fetch error code %d", fr.ErrorCode)
			return
		}
		sp := fr.Topics[0].Partitions[0]
		switch sp.ErrorCode {
		case 0:
		case errCodeOffsetOutOfRange:
			w.complete(op, lin.OutcomeOutOfRange)
			k.active = false
			k.lastErr = "OFFSET_OUT_OF_RANGE"
			return
		default:
			w.complete(op, lin.OutcomeFailed)
			if routingError(sp.ErrorCode) {
				r.invalidate()
			}
			if sp.ErrorCode == errCodeUnknownTopicPartition && (!w.cluster() || !w.reg.isLive(tp.Topic)) {
				// (A node of a cluster may not have applied the topic yet.)
				k.active = false
			}
			next = w.set.Work.Backoff
			k.lastErr = fmt.Sprintf("error code %d", sp.ErrorCode)
			return
		}
		recs, derr := decodeBatches(sp.RecordBatches, pos)
		if derr != nil {
			w.fail("%s: fetch %s @%d: %v", k.c.name, tp, pos, derr)
			w.complete(op, lin.OutcomeFailed)
			k.active = false
			k.lastErr = derr.Error()
			return
		}
		hw = sp.HighWatermark
		if req.Version >= 5 && sp.LogStartOffset > hw {
			w.fail("log-start: %s: fetch %s @%d answered log start %d above its high watermark %d", k.c.name, tp, pos, sp.LogStartOffset, hw)
		}
		if acked := w.ackedStartBefore(tp, Time(op.op.Call)); !w.cluster() && pos < acked {
			w.fail("log-start: %s: fetch %s @%d answered ok, below the low watermark %d of a DeleteRecords acknowledged before", k.c.name, tp, pos, acked)
		}
		values := make([]string, len(recs))
		for i, r := range recs {
			if r.offset != pos+int64(i) {
				w.fail("%s: fetch %s @%d: record %d has offset %d, want %d (offsets are dense without compaction)", k.c.name, tp, pos, i, r.offset, pos+int64(i))
				w.complete(op, lin.OutcomeFailed)
				k.active = false
				k.lastErr = "non-contiguous offsets"
				return
			}
			if r.offset >= hw {
				w.fail("%s: fetch %s @%d returned offset %d at or past the high watermark %d", k.c.name, tp, pos, r.offset, hw)
			}
			values[i] = r.value
		}
		w.reg.learn(tp, hw)
		if len(values) == 0 && pos > hw {
			// Kafka answers a fetch between the high watermark and the log
			// end with no records and no error; the partition-log model
			// only knows OFFSET_OUT_OF_RANGE past the committed log, so the
			// read is recorded as carrying no information.
			w.complete(op, lin.OutcomeFailed)
			k.lastErr = fmt.Sprintf("fetch offset %d past the high watermark %d", pos, hw)
			return
		}
		op.op.Values = values
		op.op.HighWatermark = hw
		w.complete(op, lin.OutcomeOK)
		k.pos = pos + int64(len(values))
		k.seek = false
		ok = true
	})
}
