package sim

// The transactional workload (in about a third of the seeds, stream
// "txn"): one to three transactional producers (clients tx0, tx1, ...,
// transactional ids of the same names) over one or two topics of their
// own (txn1, txn2), and a read_committed reader. Each producer does what a
// Kafka producer does with transaction version 1: FindCoordinator (key
// type 1), InitProducerId, then transactions: AddPartitionsToTxn for one
// to three partitions, idempotent transactional produces (acks=all, a
// sequence per partition, values naming the write), EndTxn commit or
// abort. Retriable errors are retried, PRODUCER_FENCED and
// INVALID_PRODUCER_EPOCH re-initialize the producer, and a produce whose
// outcome stays unknown aborts its transaction and re-initializes (the
// new epoch resets the sequences). Now and then a producer pauses past its
// transaction timeout in the middle of a transaction (a zombie): the
// coordinator aborts it and fences the producer. The checker "txn:"
// (txncheck.go) judges the reader's reads and the final drain.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// TxnSettings shape the transactional workload; drawn from their own
// stream ("txn"). Producers 0 means off.
type TxnSettings struct {
	// Producers is how many transactional producers run, Topics how many
	// topics they share.
	Producers, Topics int
	// TimeoutMs is the producers' transaction.timeout.ms.
	TimeoutMs int32
	// AbortFrac is the share of transactions ended with an abort,
	// ZombieFrac the share in which the producer pauses past its timeout.
	AbortFrac, ZombieFrac float64
	// Think is the mean pause between steps, ReadEvery between the
	// reader's reads.
	Think, ReadEvery Time
}

// drawTxn draws the transactional workload: on in about a third of the
// seeds.
func drawTxn(r *Rand) TxnSettings {
	var t TxnSettings
	if !r.Chance(0.33) {
		return t
	}
	t.Producers = int(r.Range(1, 3))
	t.Topics = int(r.Range(1, 2))
	t.TimeoutMs = pick(r, []int32{3000, 5000, 8000})
	t.AbortFrac = pick(r, []float64{0.2, 0.4})
	t.ZombieFrac = pick(r, []float64{0, 0.03})
	t.Think = pick(r, []Time{20 * Millisecond, 80 * Millisecond})
	t.ReadEvery = pick(r, []Time{Second, 3 * Second})
	return t
}

// String renders the settings for the seed's line ("" when off).
func (t TxnSettings) String() string {
	if t.Producers == 0 {
		return ""
	}
	return fmt.Sprintf("txn=%d/topics=%d/timeout=%dms/abort=%g/zombie=%g", t.Producers, t.Topics, t.TimeoutMs, t.AbortFrac, t.ZombieFrac)
}

// txnStateTopic is the broker's internal topic of the transaction
// coordinators.
const txnStateTopic = "__transaction_state"

// internalTopic reports whether name is one of the brokers' internal
// topics (the group and transaction coordinators'), which no client
// creates.
func internalTopic(name string) bool { return name == offsetsTopic || name == txnStateTopic }

// txnTopicPrefix starts the names of the transactional workload's topics.
const txnTopicPrefix = "txn"

// Kafka error codes of the transaction APIs.
const (
	errCodeDuplicateSequence     = 46
	errCodeInvalidTxnState       = 48
	errCodeConcurrentTxns        = 51
	errCodeProducerFenced        = 90
	errCodeTransactionAbortable  = 120
	errCodeUnknownProducerID     = 59
	errCodeInvalidProducerIDMap  = 49
	errCodeTxnCoordinatorFenced  = 52
	errCodeInvalidTxnTimeout     = 50
	errCodeRequestTimedOut       = 7
	errCodeNetworkException      = 13
	errCodeNotEnoughReplicasRead = 19
)

// txnRec is one transaction: the ground truth the checker judges from.
type txnRec struct {
	name  string // "tx0.3": producer and number
	p     *txnProducer
	pid   int64
	epoch int16
	// began is when its first AddPartitionsToTxn was sent (-1: never).
	began Time
	// endSent is when the first EndTxn was sent, or the producer sent
	// InitProducerId while it was open (either ends it); -1: never.
	endSent Time
	// commitSent is when an EndTxn commit was first sent (-1: never);
	// abortSent likewise for an abort.
	commitSent, abortSent Time
	// committed, aborted: an EndTxn of that kind was answered ok.
	committed, aborted bool
	writes             []*twrite
}

// twrite is one transactional produce (a batch of one to three records).
type twrite struct {
	id        string // "tx0.3.w5"
	t         *txnRec
	tp        lin.TopicPartition
	n         int
	seq       int32
	call, ret Time
	outcome   lin.Outcome
	offset    int64 // base offset when acknowledged
	// seen is the offset a read found its first record at (-1: never).
	seen int64
}

// value is the i-th record's value: the write's id and the index.
func (tw *twrite) value(i int) string { return tw.id + "." + strconv.Itoa(i) }

// txnWorld is the transactional workload and its checker's ground truth.
type txnWorld struct {
	w         *world
	set       TxnSettings
	reader    *client
	producers []*txnProducer
	topics    []*simTopic
	txns      map[string]*txnRec
	writes    map[string]*twrite
	// byTP lists the writes per partition in send order.
	byTP    map[lin.TopicPartition][]*twrite
	reading bool
	// lead bounds how far a broker's clock leads virtual time (forward
	// jumps and start offsets, as compactioncheck.go's clockJumped).
	lead    map[int32]Time
	maxLead Time
}

// newTxnWorld makes the workload's clients when the seed draws it (nil
// otherwise). Called after every other client is made.
func newTxnWorld(w *world) *txnWorld {
	if w.set.Txn.Producers == 0 {
		return nil
	}
	x := &txnWorld{
		w: w, set: w.set.Txn, reader: w.newClient("txnreader"),
		txns: map[string]*txnRec{}, writes: map[string]*twrite{}, byTP: map[lin.TopicPartition][]*twrite{},
		lead: map[int32]Time{},
	}
	for i := 0; i < x.set.Producers; i++ {
		name := fmt.Sprintf("tx%d", i)
		x.producers = append(x.producers, &txnProducer{x: x, c: w.newClient(name), id: name, coord: -1})
	}
	for _, n := range w.nodes {
		x.clockJumped(n, max(n.clock.offset, 0))
	}
	return x
}

// clockJumped notes that n's clock jumped by d (at the start: its offset).
func (x *txnWorld) clockJumped(n *simNode, d Time) {
	if x == nil {
		return
	}
	x.lead[n.id] += max(d, 0)
	x.maxLead = max(x.maxLead, x.lead[n.id])
}

// start creates the topics and starts the producers and the reader.
func (x *txnWorld) start() {
	if x == nil {
		return
	}
	w := x.w
	a := &admin{c: x.reader}
	for i := 1; i <= x.set.Topics; i++ {
		parts := int32(x.reader.rng.Range(1, 3))
		t := &simTopic{name: fmt.Sprintf("%s%d", txnTopicPrefix, i), partitions: parts, maxPartitions: parts, created: parts, status: topicMaybe, txn: true}
		w.reg.add(t)
		x.topics = append(x.topics, t)
		a.createWith(t, x.createRequest(t))
	}
	for _, p := range x.producers {
		w.s.after(p.c.rng.Exp(x.set.Think)+200*Millisecond, "txn-start", p.find)
	}
	w.s.after(x.reader.rng.Exp(x.set.ReadEvery), "txn-read", x.readStep)
}

// createRequest is t's CreateTopics request: no retention, so that the
// final drain judges every write.
func (x *txnWorld) createRequest(t *simTopic) *kmsg.CreateTopicsRequest {
	return ownTopicRequest(t, int16(x.reader.rng.Range(0, 7)), [][2]string{{"retention.ms", "-1"}, {"retention.bytes", "-1"}})
}

// livePartitions lists the partitions of the created topics.
func (x *txnWorld) livePartitions() []lin.TopicPartition { return livePartitionsOf(x.topics) }

// txnProducer is one transactional producer.
type txnProducer struct {
	x     *txnWorld
	c     *client
	id    string // the transactional id
	coord int32
	pid   int64
	epoch int16
	seq   map[lin.TopicPartition]int32
	txn   *txnRec
	n     int // transactions begun
	parts []lin.TopicPartition
	// left is how many produces the transaction still sends; tries
	// counts attempts of the current request.
	left, tries int
	writes      int
}

// backoff is a retry pause.
func (p *txnProducer) backoff() Time { return 50*Millisecond + p.c.rng.Exp(100*Millisecond) }

// next runs fn after d unless the workload stopped.
func (p *txnProducer) next(d Time, fn func()) {
	p.x.w.s.after(d, "txn-step", func() {
		if p.x.w.workloadStopped || p.c.retired {
			return
		}
		fn()
	})
}

// find looks the coordinator up, then runs init (no producer id yet) or
// then.
func (p *txnProducer) find() { p.findThen(p.init) }

func (p *txnProducer) findThen(then func()) {
	w := p.x.w
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = int16(p.c.rng.Range(1, 5))
	req.CoordinatorType = 1
	if req.Version >= 4 {
		req.CoordinatorKeys = []string{p.id}
	} else {
		req.CoordinatorKey = p.id
	}
	p.c.do(p.c.route.anyNode(), req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		if err != nil {
			p.c.route.invalidate()
			p.next(p.backoff(), func() { p.findThen(then) })
			return
		}
		fr := resp.(*kmsg.FindCoordinatorResponse)
		code, node := fr.ErrorCode, fr.NodeID
		if req.Version >= 4 {
			if len(fr.Coordinators) != 1 {
				w.fail("txn: FindCoordinator v%d answered %d coordinators for one key", req.Version, len(fr.Coordinators))
				return
			}
			code, node = fr.Coordinators[0].ErrorCode, fr.Coordinators[0].NodeID
		}
		if code != 0 || node <= 0 || int(node) > len(w.nodes) {
			p.next(p.backoff(), func() { p.findThen(then) })
			return
		}
		p.coord = node
		p.next(0, then)
	})
}

// coordError handles a coordinator's error code: it returns true when it
// took over (retry after a pause, or find the coordinator first).
func (p *txnProducer) coordError(code int16, err error, retry func()) bool {
	switch {
	case err != nil, code == errCodeNotCoordinator, code == errCodeCoordinatorNotAvailable:
		p.tries++
		p.coord = -1
		p.next(p.backoff(), func() { p.findThen(retry) })
		return true
	case code == errCodeCoordinatorLoading, code == errCodeConcurrentTxns:
		p.tries++
		p.next(p.backoff(), retry)
		return true
	}
	return false
}

// init sends InitProducerId: an open transaction of this id ends (the
// coordinator aborts it), and the new epoch resets the sequences.
func (p *txnProducer) init() {
	w := p.x.w
	if t := p.txn; t != nil && t.endSent < 0 {
		t.endSent = w.s.now
	}
	p.txn = nil
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = int16(p.c.rng.Range(1, 4))
	id := p.id
	req.TransactionalID = &id
	req.TransactionTimeoutMillis = p.x.set.TimeoutMs
	req.ProducerID, req.ProducerEpoch = -1, -1
	p.c.do(p.coord, req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		code := int16(-1)
		var ir *kmsg.InitProducerIDResponse
		if err == nil {
			ir = resp.(*kmsg.InitProducerIDResponse)
			code = ir.ErrorCode
		}
		if p.coordError(code, err, p.init) {
			return
		}
		if code != 0 {
			w.logf("txn: %s: InitProducerId error %d", p.id, code)
			p.next(p.backoff(), p.init)
			return
		}
		p.pid, p.epoch = ir.ProducerID, ir.ProducerEpoch
		p.seq = map[lin.TopicPartition]int32{}
		w.cover("txn-init")
		p.next(p.c.rng.Exp(p.x.set.Think), p.begin)
	})
}

// reinit re-initializes the producer after a fence or an unknown outcome.
func (p *txnProducer) reinit(why string) {
	p.x.w.logf("txn: %s: re-initializing (%s)", p.id, why)
	p.x.w.cover("txn-reinit")
	p.next(p.backoff(), p.init)
}

// begin starts a transaction over one to three partitions.
func (p *txnProducer) begin() {
	x := p.x
	parts := x.livePartitions()
	if len(parts) == 0 {
		p.next(200*Millisecond, p.begin)
		return
	}
	r := p.c.rng
	p.n++
	t := &txnRec{name: fmt.Sprintf("%s.%d", p.id, p.n), p: p, pid: p.pid, epoch: p.epoch, began: -1, endSent: -1, commitSent: -1, abortSent: -1}
	x.txns[t.name] = t
	p.txn = t
	p.parts = p.parts[:0]
	for range int(r.Range(1, 3)) {
		tp := pick(r, parts)
		if !containsTP(p.parts, tp) {
			p.parts = append(p.parts, tp)
		}
	}
	p.left = int(r.Range(1, 5))
	p.tries = 0
	p.add()
}

func containsTP(tps []lin.TopicPartition, tp lin.TopicPartition) bool {
	for _, t := range tps {
		if t == tp {
			return true
		}
	}
	return false
}

// add sends AddPartitionsToTxn for the transaction's partitions.
func (p *txnProducer) add() {
	w := p.x.w
	t := p.txn
	if t.began < 0 {
		t.began = w.s.now
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = int16(p.c.rng.Range(0, 3))
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = p.id, p.pid, p.epoch
	for _, tp := range p.parts {
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic = tp.Topic
		rt.Partitions = []int32{tp.Partition}
		req.Topics = append(req.Topics, rt)
	}
	p.c.do(p.coord, req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		code := int16(-1)
		if err == nil {
			code = 0
			for _, rt := range resp.(*kmsg.AddPartitionsToTxnResponse).Topics {
				for _, rp := range rt.Partitions {
					if rp.ErrorCode != 0 {
						code = rp.ErrorCode
					}
				}
			}
		}
		if p.tries > 20 {
			p.abandon("AddPartitionsToTxn keeps failing")
			return
		}
		if p.coordError(code, err, p.add) {
			return
		}
		switch code {
		case 0:
			p.tries = 0
			p.next(p.c.rng.Exp(p.x.set.Think), p.produce)
		case errCodeProducerFenced, errCodeInvalidProducerEpoch:
			w.cover("txn-fenced")
			p.reinit(fmt.Sprintf("AddPartitionsToTxn error %d", code))
		default:
			w.logf("txn: %s: AddPartitionsToTxn error %d", p.id, code)
			p.reinit(fmt.Sprintf("AddPartitionsToTxn error %d", code))
		}
	})
}

// abandon gives up on the transaction: the producer re-initializes, which
// ends it.
func (p *txnProducer) abandon(why string) {
	p.reinit(why)
}

// produce sends the transaction's next batch, or ends it when none is
// left. A zombie pause may come first.
func (p *txnProducer) produce() {
	x, w := p.x, p.x.w
	r := p.c.rng
	if p.left == 0 {
		p.end(!r.Chance(x.set.AbortFrac))
		return
	}
	if x.set.ZombieFrac > 0 && r.Chance(x.set.ZombieFrac/2) {
		w.cover("txn-zombie-pause")
		p.next(Time(x.set.TimeoutMs)*Millisecond+3*Second, func() { p.send(p.newWrite()) })
		return
	}
	p.send(p.newWrite())
}

// newWrite makes the next batch of the transaction.
func (p *txnProducer) newWrite() *twrite {
	x, w := p.x, p.x.w
	p.left--
	p.writes++
	tp := pick(p.c.rng, p.parts)
	tw := &twrite{id: fmt.Sprintf("%s.w%d", p.txn.name, p.writes), t: p.txn, tp: tp, n: int(p.c.rng.Range(1, 3)), seq: p.seq[tp], call: w.s.now, outcome: lin.OutcomeUnknown, offset: -1, seen: -1}
	p.txn.writes = append(p.txn.writes, tw)
	x.writes[tw.id] = tw
	x.byTP[tp] = append(x.byTP[tp], tw)
	p.tries = 0
	return tw
}

// send sends (or resends, with the same sequence) one batch.
func (p *txnProducer) send(tw *twrite) {
	w := p.x.w
	batch := buildTxnBatch(tw, p.pid, p.epoch, w.clientNowMs())
	req := oneBatchProduce(int16(p.c.rng.Range(3, 11)), -1, 5000, tw.tp, batch)
	id := p.id
	req.TransactionID = &id
	p.c.route.ready(func() {
		node, _ := p.c.route.leader(tw.tp)
		p.c.do(node, req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
			p.produced(tw, resp, err)
		})
	})
}

// produced settles one produce attempt.
func (p *txnProducer) produced(tw *twrite, resp kmsg.Response, err error) {
	w := p.x.w
	code, base := int16(-1), int64(-1)
	if err == nil {
		if sp := findProducePartition(resp.(*kmsg.ProduceResponse), tw.tp); sp != nil {
			code, base = sp.ErrorCode, sp.BaseOffset
		}
	}
	if err != nil || routingError(code) {
		p.c.route.invalidate()
	}
	tw.ret = w.s.now
	switch {
	case code == 0:
		tw.outcome, tw.offset = lin.OutcomeOK, base
		p.seq[tw.tp] = tw.seq + int32(tw.n)
		w.cover("txn-produce-acked")
		p.next(p.c.rng.Exp(p.x.set.Think), p.produce)
	case code == errCodeProducerFenced || code == errCodeInvalidProducerEpoch:
		if tw.outcome == lin.OutcomeUnknown && p.tries == 0 {
			tw.outcome = lin.OutcomeFailed
		}
		w.cover("txn-fenced")
		p.reinit(fmt.Sprintf("produce error %d", code))
	case p.tries < 5 && (err != nil || routingError(code) || code == errCodeNotEnoughReplicas || code == errCodeNotEnoughAfter ||
		code == errCodeConcurrentTxns || code == errCodeCoordinatorLoading || code == errCodeCoordinatorNotAvailable ||
		code == errCodeNotCoordinator || code == errCodeRequestTimedOut || code == errCodeStorage || code == errCodeNetworkException):
		// Retriable: the same batch, the same sequence (a duplicate is
		// answered with its first offset).
		p.tries++
		p.next(p.backoff(), func() { p.send(tw) })
	default:
		// An outcome this producer cannot settle: abort by
		// re-initializing (the new epoch resets the sequences).
		w.logf("txn: %s: produce %s to %s: error %d (%v); re-initializing", p.id, tw.id, tw.tp, code, err)
		w.cover("txn-produce-unknown")
		p.reinit("produce outcome unknown")
	}
}

// end sends EndTxn; retried (same decision) until answered.
func (p *txnProducer) end(commit bool) {
	w := p.x.w
	t := p.txn
	if t.endSent < 0 {
		t.endSent = w.s.now
	}
	if commit && t.commitSent < 0 {
		t.commitSent = w.s.now
	}
	if !commit && t.abortSent < 0 {
		t.abortSent = w.s.now
	}
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = int16(p.c.rng.Range(0, 3))
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = p.id, p.pid, p.epoch, commit
	p.c.do(p.coord, req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
		code := int16(-1)
		if err == nil {
			code = resp.(*kmsg.EndTxnResponse).ErrorCode
		}
		if p.tries > 20 {
			w.cover("txn-end-unknown")
			p.abandon("EndTxn keeps failing")
			return
		}
		if p.coordError(code, err, func() { p.end(commit) }) {
			return
		}
		switch code {
		case 0:
			if commit {
				t.committed = true
				w.cover("txn-committed")
			} else {
				t.aborted = true
				w.cover("txn-aborted")
			}
			p.txn = nil
			p.next(p.c.rng.Exp(p.x.set.Think), p.begin)
		case errCodeProducerFenced, errCodeInvalidProducerEpoch:
			w.cover("txn-fenced")
			p.reinit(fmt.Sprintf("EndTxn error %d", code))
		default:
			w.logf("txn: %s: EndTxn(commit=%v) of %s: error %d", p.id, commit, t.name, code)
			w.cover("txn-end-unknown")
			p.reinit(fmt.Sprintf("EndTxn error %d", code))
		}
	})
}

// buildTxnBatch encodes tw's records as a transactional, idempotent v2
// batch (attributes bit 4), with kmsg like buildBatch.
func buildTxnBatch(tw *twrite, pid int64, epoch int16, timestampMs int64) []byte {
	var records []byte
	for i := range tw.n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(tw.value(i))}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1)
		records = r.AppendTo(records)
	}
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           0x10,
		LastOffsetDelta:      int32(tw.n - 1),
		FirstTimestamp:       timestampMs,
		MaxTimestamp:         timestampMs,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        tw.seq,
		NumRecords:           int32(tw.n),
		Records:              records,
	}
	b := rb.AppendTo(make([]byte, 0, 61+len(records)))
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// parseTxnValue splits a record's value into its write id and index.
func parseTxnValue(v string) (string, int, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(v[i+1:])
	return v[:i], n, err == nil
}
