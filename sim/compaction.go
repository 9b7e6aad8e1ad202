package sim

// The compaction workload (in about 40% of the seeds, stream
// "compaction"): one or two topics created with cleanup.policy compact
// (sometimes compact,delete), small segments and small cleaner settings,
// so that segments roll and the brokers' cleaners rewrite them during the
// run; a client produces keyed records over a small key space (overwrites,
// tombstones, now and then a keyless record that must be refused with
// INVALID_RECORD), acks=all, and reads each partition in full from its log
// start now and then. The checker "compaction:" (compactioncheck.go) judges
// every read against what was produced.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// CompactSettings shape the compaction workload; drawn from their own
// stream ("compaction") so that every other draw of a seed stays what it
// was. Topics 0 means off.
type CompactSettings struct {
	// Topics is how many compacted topics are created (1 or 2), Keys the
	// size of the key space they share.
	Topics, Keys int
	// Both: cleanup.policy is "compact,delete" rather than "compact".
	Both bool
	// SegmentBytes, MinCompactionLagMs, DeleteRetentionMs and DirtyRatio
	// are the topics' segment.bytes, min.compaction.lag.ms,
	// delete.retention.ms and min.cleanable.dirty.ratio.
	SegmentBytes                          int
	MinCompactionLagMs, DeleteRetentionMs int64
	DirtyRatio                            float64
	// CleanerBackoffMs is the brokers' log.cleaner.backoff.ms in these
	// seeds (the default, 15 s, would clean once or twice a run).
	CleanerBackoffMs int64
	// TombstoneFrac is the share of records with a null value, KeylessFrac
	// the share of produces sent without a key (refused).
	TombstoneFrac, KeylessFrac float64
	// Think is the mean pause between produces, ReadEvery between full
	// reads.
	Think, ReadEvery Time
}

// drawCompaction draws the compaction workload: on in about 40% of the
// seeds.
func drawCompaction(r *Rand) CompactSettings {
	var c CompactSettings
	if !r.Chance(0.4) {
		return c
	}
	c.Topics = int(r.Range(1, 2))
	c.Keys = int(r.Range(3, 12))
	c.Both = r.Chance(0.3)
	c.SegmentBytes = pick(r, []int{512, 1024, 2048})
	c.MinCompactionLagMs = pick(r, []int64{0, 0, 500, 3000})
	c.DeleteRetentionMs = pick(r, []int64{0, 1000, 5000})
	c.DirtyRatio = pick(r, []float64{0.01, 0.1, 0.5})
	c.CleanerBackoffMs = pick(r, []int64{200, 500, 1500})
	c.TombstoneFrac = pick(r, []float64{0.05, 0.15, 0.3})
	c.KeylessFrac = pick(r, []float64{0, 0.02})
	c.Think = pick(r, []Time{20 * Millisecond, 60 * Millisecond, 150 * Millisecond})
	c.ReadEvery = pick(r, []Time{2 * Second, 5 * Second})
	return c
}

// String renders the settings for the seed's line ("" when off).
func (c CompactSettings) String() string {
	if c.Topics == 0 {
		return ""
	}
	policy := "compact"
	if c.Both {
		policy = "compact,delete"
	}
	return fmt.Sprintf("compaction=%d/%s/keys=%d/seg=%d/lag=%dms/tombstone-retention=%dms/dirty=%g/backoff=%dms/tombstones=%g/keyless=%g",
		c.Topics, policy, c.Keys, c.SegmentBytes, c.MinCompactionLagMs, c.DeleteRetentionMs, c.DirtyRatio, c.CleanerBackoffMs, c.TombstoneFrac, c.KeylessFrac)
}

// compactTopicPrefix starts the names of the compaction workload's topics
// (the admin's are t001, t002, ...).
const compactTopicPrefix = "kv"

// isCompactTopic reports whether name is one of the compaction workload's
// topics.
func isCompactTopic(name string) bool { return strings.HasPrefix(name, compactTopicPrefix) }

// cwrite is one record the compaction workload sent: its identity (the
// "id" header every record carries, unique in the run), key and value, and
// what its produce came to.
type cwrite struct {
	id        string
	tp        lin.TopicPartition
	key       string // "" with keyless: sent without a key
	keyless   bool
	tombstone bool
	value     string
	call, ret Time
	outcome   lin.Outcome // OutcomeOK, OutcomeFailed (never appended) or OutcomeUnknown
	offset    int64       // the acknowledged offset (OutcomeOK)
	seenAt    int64       // the offset a read found it at (-1: never read)
}

// compactWorld is the compaction workload and its checker's ground truth.
type compactWorld struct {
	w      *world
	set    CompactSettings
	c      *client
	topics []*simTopic
	// writes are every record sent, by partition in send order, and byID
	// the same by their id.
	writes   map[lin.TopicPartition][]*cwrite
	byID     map[string]*cwrite
	next     int
	inflight int
	reading  bool
	// maxOffset bounds how far any broker's clock leads virtual time;
	// lead is each node's start offset plus its forward jumps
	// (clockJumped, tombstoneBound).
	maxOffset Time
	lead      map[int32]Time
	// cleaned counts the clean jobs a broker installed per partition
	// directory and node since that node's process started (the
	// power-loss-during-clean coverage).
	cleaned map[int32]map[string]bool
}

// newCompactWorld makes the workload's client when the seed draws it (nil
// otherwise). Called after every other client is made, so that they keep
// their ids.
func newCompactWorld(w *world) *compactWorld {
	if w.set.Compact.Topics == 0 {
		return nil
	}
	k := &compactWorld{
		w: w, set: w.set.Compact, c: w.newClient("compactor"),
		writes: map[lin.TopicPartition][]*cwrite{}, byID: map[string]*cwrite{},
		cleaned: map[int32]map[string]bool{},
	}
	for _, n := range w.nodes {
		k.clockJumped(n, max(n.clock.offset, 0))
	}
	return k
}

// start creates the topics and starts producing and reading, when the
// workload starts.
func (k *compactWorld) start() {
	if k == nil {
		return
	}
	w := k.w
	a := &admin{c: k.c}
	for i := 1; i <= k.set.Topics; i++ {
		parts := int32(k.c.rng.Range(1, 2))
		t := &simTopic{name: fmt.Sprintf("%s%d", compactTopicPrefix, i), partitions: parts, maxPartitions: parts, created: parts, status: topicMaybe, compacted: true}
		w.reg.add(t)
		k.topics = append(k.topics, t)
		a.createWith(t, k.createRequest(t))
	}
	w.s.after(k.c.rng.Exp(k.set.Think), "compact-produce", k.produceStep)
	w.s.after(k.c.rng.Exp(k.set.ReadEvery), "compact-read", k.readStep)
}

// createRequest is t's CreateTopics request with the compaction configs.
func (k *compactWorld) createRequest(t *simTopic) *kmsg.CreateTopicsRequest {
	policy := "compact"
	if k.set.Both {
		policy = "compact,delete"
	}
	return ownTopicRequest(t, int16(k.c.rng.Range(0, 7)), [][2]string{
		{"cleanup.policy", policy},
		{"segment.bytes", strconv.Itoa(k.set.SegmentBytes)},
		{"min.compaction.lag.ms", strconv.FormatInt(k.set.MinCompactionLagMs, 10)},
		{"delete.retention.ms", strconv.FormatInt(k.set.DeleteRetentionMs, 10)},
		{"min.cleanable.dirty.ratio", strconv.FormatFloat(k.set.DirtyRatio, 'g', -1, 64)},
	})
}

// ownTopicRequest is the CreateTopics request (at version) of a topic a
// workload keeps to itself: replication factor 1, configs as given.
func ownTopicRequest(t *simTopic, version int16, configs [][2]string) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = version
	req.TimeoutMillis = 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = t.name
	rt.NumPartitions = t.partitions
	rt.ReplicationFactor = 1
	for _, kv := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = kv[0]
		v := kv[1]
		c.Value = &v
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// livePartitions lists the partitions of the created topics.
func (k *compactWorld) livePartitions() []lin.TopicPartition { return livePartitionsOf(k.topics) }

// livePartitionsOf lists the partitions of topics that are live.
func livePartitionsOf(topics []*simTopic) []lin.TopicPartition {
	var out []lin.TopicPartition
	for _, t := range topics {
		if t.status != topicLive {
			continue
		}
		for p := int32(0); p < t.partitions; p++ {
			out = append(out, lin.TopicPartition{Topic: t.name, Partition: p})
		}
	}
	return out
}

// produceStep sends one batch of one to three keyed records (or, now and
// then, one keyless record) to a random partition, acks=all; up to two
// produces are in flight.
func (k *compactWorld) produceStep() {
	w := k.w
	if w.workloadStopped {
		return
	}
	r := k.c.rng
	defer w.s.after(r.Exp(k.set.Think), "compact-produce", k.produceStep)
	parts := k.livePartitions()
	if k.inflight >= 2 || len(parts) == 0 {
		return
	}
	tp := pick(r, parts)
	n := int(r.Range(1, 3))
	keyless := r.Chance(k.set.KeylessFrac)
	if keyless {
		n = 1
	}
	batch := make([]*cwrite, n)
	for i := range batch {
		k.next++
		cw := &cwrite{id: "w" + strconv.Itoa(k.next), tp: tp, call: w.s.now, outcome: lin.OutcomeUnknown, seenAt: -1, keyless: keyless}
		if !keyless {
			cw.key = "key" + strconv.Itoa(r.Intn(k.set.Keys))
		}
		if !keyless && r.Chance(k.set.TombstoneFrac) {
			cw.tombstone = true
		} else {
			cw.value = "v" + strconv.Itoa(k.next)
		}
		batch[i] = cw
		k.writes[tp] = append(k.writes[tp], cw)
		k.byID[cw.id] = cw
	}
	req := oneBatchProduce(int16(r.Range(3, 11)), -1, 5000, tp, buildKeyedBatch(batch, w.clientNowMs()))
	k.inflight++
	k.c.route.ready(func() {
		node, _ := k.c.route.leader(tp)
		k.c.do(node, req, w.set.Work.RequestTimeout, false, func(resp kmsg.Response, err error) {
			k.inflight--
			k.produced(tp, batch, resp, err)
		})
	})
}

// produced settles one produce's records.
func (k *compactWorld) produced(tp lin.TopicPartition, batch []*cwrite, resp kmsg.Response, err error) {
	w := k.w
	outcome, base, code := lin.OutcomeUnknown, int64(-1), int16(-1)
	if err == nil {
		if sp := findProducePartition(resp.(*kmsg.ProduceResponse), tp); sp != nil {
			code, base = sp.ErrorCode, sp.BaseOffset
		}
	}
	if err != nil || routingError(code) {
		k.c.route.invalidate()
	}
	switch {
	case err == errNotSent:
		outcome = lin.OutcomeFailed
	case err != nil:
	case code == 0:
		outcome = lin.OutcomeOK
	case definiteProduceFailure(code) || (w.cluster() && code == errCodeNotEnoughReplicas):
		outcome = lin.OutcomeFailed
	}
	keyless := batch[0].keyless
	switch {
	case keyless && code == 0:
		w.fail("compaction: %s: a record without a key (%s) was acknowledged at offset %d; a compacted topic must refuse it with INVALID_RECORD", tp, batch[0].id, base)
	case keyless && err == nil && code != errCodeInvalidRecord && !routingError(code) && code != errCodeNotEnoughReplicas && code != -1:
		w.logf("compaction: %s: keyless record answered error %d", tp, code)
	case keyless && code == errCodeInvalidRecord:
		w.cover("compaction-keyless-refused")
	case !keyless && code == errCodeInvalidRecord:
		w.fail("compaction: %s: keyed records (%s...) refused with INVALID_RECORD", tp, batch[0].id)
	}
	for i, cw := range batch {
		cw.ret, cw.outcome = w.s.now, outcome
		if outcome == lin.OutcomeOK {
			cw.offset = base + int64(i)
		}
	}
}

// buildKeyedBatch encodes an uncompressed v2 batch of ws's records: each
// with its key (none for a keyless write), its value (null for a
// tombstone) and an "id" header naming the write. Encoded with kmsg,
// independently of core/record, like buildBatch.
func buildKeyedBatch(ws []*cwrite, timestampMs int64) []byte {
	var records, body []byte
	for i, cw := range ws {
		r := kmsg.Record{OffsetDelta: int32(i), Headers: []kmsg.Header{{Key: "id", Value: []byte(cw.id)}}}
		if !cw.keyless {
			r.Key = []byte(cw.key)
		}
		if !cw.tombstone {
			r.Value = []byte(cw.value)
		}
		body = r.AppendTo(body[:0])
		r.Length = int32(len(body) - 1)
		records = r.AppendTo(records)
	}
	return sealBatch(records, len(ws), timestampMs, nil)
}

// crec is one record of a compacted partition as a read returned it.
type crec struct {
	offset    int64
	key       string
	keyless   bool
	tombstone bool
	value     string
	id        string // "" when the record had no id header
}

// decodeKeyed decodes one fetched partition's batches as a client does
// (CRC-32C checked, records below fetchOffset skipped, a trailing partial
// batch ignored) and returns the records and the offset after the last
// whole batch (fetchOffset when there was none): a batch the cleaner
// emptied has no records but moves the reader past its offsets.
func decodeKeyed(data []byte, fetchOffset int64) ([]crec, int64, error) {
	var out []crec
	end := fetchOffset
	for len(data) >= 61 {
		size := 12 + int(int32(binary.BigEndian.Uint32(data[8:])))
		if size < 61 {
			return nil, 0, fmt.Errorf("batch length %d is below the v2 header size", size-12)
		}
		if size > len(data) {
			break
		}
		batch := data[:size]
		data = data[size:]
		if batch[16] != 2 {
			return nil, 0, fmt.Errorf("batch magic %d", batch[16])
		}
		if want, got := binary.BigEndian.Uint32(batch[17:]), crc32.Checksum(batch[21:], castagnoli); want != got {
			return nil, 0, fmt.Errorf("corrupt batch served: CRC %08x, computed %08x (base offset %d)", want, got, int64(binary.BigEndian.Uint64(batch)))
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(batch); err != nil {
			return nil, 0, fmt.Errorf("decode batch: %v", err)
		}
		if rb.Attributes&0x07 != 0 {
			return nil, 0, fmt.Errorf("batch at %d is compressed (codec %d); the simulator never sends compressed batches", rb.FirstOffset, rb.Attributes&0x07)
		}
		recs := rb.Records
		for i := int32(0); i < rb.NumRecords; i++ {
			length, n := binary.Varint(recs)
			if n <= 0 || length < 0 || int(length) > len(recs)-n {
				return nil, 0, fmt.Errorf("batch at %d: record %d overruns the batch", rb.FirstOffset, i)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(length)]); err != nil {
				return nil, 0, fmt.Errorf("batch at %d: record %d: %v", rb.FirstOffset, i, err)
			}
			recs = recs[n+int(length):]
			if r.OffsetDelta < 0 || r.OffsetDelta > rb.LastOffsetDelta {
				return nil, 0, fmt.Errorf("batch at %d: record %d has offset delta %d outside the batch's %d", rb.FirstOffset, i, r.OffsetDelta, rb.LastOffsetDelta)
			}
			off := rb.FirstOffset + int64(r.OffsetDelta)
			if off < fetchOffset {
				continue
			}
			c := crec{offset: off, key: string(r.Key), keyless: r.Key == nil, tombstone: r.Value == nil, value: string(r.Value)}
			for _, h := range r.Headers {
				if h.Key == "id" {
					c.id = string(h.Value)
				}
			}
			out = append(out, c)
		}
		if len(recs) != 0 {
			return nil, 0, fmt.Errorf("batch at %d: %d bytes after its %d records", rb.FirstOffset, len(recs), rb.NumRecords)
		}
		end = max(end, rb.FirstOffset+int64(rb.LastOffsetDelta)+1)
	}
	return out, end, nil
}
