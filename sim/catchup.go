package sim

// The catch-up rule, judged from ground truth: a broker never answers
// UNKNOWN_TOPIC_OR_PARTITION for a topic (or partition) that exists in the
// committed metadata as of its process start, that is, created at a
// committed log index at or before the commit index when the process
// started, and not deleted since by any committed entry. A cluster broker
// that has just (re)started replays the metadata log; until its own
// registration has applied, its image may lack such topics, and it must
// not answer clients from it (core/broker/catchup.go parks their
// requests). Real clients give up on a partition after a few such
// answers, so the rule is about what clients see.
//
// Judgement: every answer a client (workload, admin, router, final phase)
// receives is searched for UNKNOWN_TOPIC_OR_PARTITION: a topic-level
// error in Metadata, CreatePartitions, IncrementalAlterConfigs (topic
// resources) and DeleteTopics; a partition error in Produce, Fetch,
// ListOffsets and Metadata; and, in a cluster, a full Metadata listing
// that omits a topic or lists fewer partitions than it had at the
// process start (the same denial, answered from the same image). Each is
// judged when the client receives it against the truth at that moment:
//
//   - Cluster: the simulator's committed log (raftlog.go) tells, per
//     topic name, the index of the CreateTopic that made its current
//     incarnation and of the record that created each partition
//     (CreateTopic or CreatePartitions); a committed DeleteTopic drops
//     the name. Every connection records the commit index when the node
//     process that accepted it started. A denial of a live topic (or
//     partition) created at or before that index fails the run. A name
//     created, deleted and created again is judged by its current
//     incarnation only: its earlier life ended with a committed delete.
//     Judging at receipt rather than at the broker's answer only loses
//     denials of topics whose delete committed while the answer was in
//     flight; it cannot blame a broker wrongly, since a topic live at
//     receipt with a creation index at or before the start index was live
//     since before the process started.
//   - Single node: the image is the node's own and caught up from the
//     start, so the rule is that a topic whose create was acknowledged
//     before the request was sent, and which no delete has touched (its
//     status is still live: names are never reused), is never denied, nor
//     any partition acknowledged before the request. Full listings on a
//     single node are judged by the admin's own Metadata check (admin.go),
//     which requires the same.
//
// Not judged: answers to other brokers (replica fetches and the control
// plane are served before catch-up by design), acks=0 produces (no
// answer) and answers that arrive on a connection the client has already
// closed (after a timeout: it never reads them). Every judged denial is
// counted (Coverage), whether allowed or not, so a sweep shows the rule
// was exercised.
//
// Aimed fault (the catch-up trap): in some cluster seeds a node that
// restarts during the fault phase is at once cut off from the other
// nodes, both ways, for a seeded time, so that it cannot replay the
// metadata log nor register while clients, which still reach it, send it
// requests: the window this rule is about. Without the trap a restarted
// node replays the log within milliseconds.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

// Coverage counts the interesting transitions of the catch-up path a run
// reached; a sweep sums them (sim_test.go) and a fixed sweep that no longer
// reaches one fails.
type Coverage struct {
	// CatchUpTraps counts restarted nodes the trap cut off at once.
	CatchUpTraps int
	// StaleImageRequests counts client requests that reached a cluster
	// node process while its image was behind the commit index at its
	// start (ground truth: the entries it has applied), and
	// PreCatchUpRequests those that reached one before it reported its
	// metadata caught up (its log line): the requests the broker parks.
	StaleImageRequests, PreCatchUpRequests int
	// ParkedReleased counts parked requests handled once the metadata
	// caught up, ParkedClosed the connections closed because a request
	// waited too long or too many waited (the broker's log and closes).
	ParkedReleased, ParkedClosed int
	// UnknownJudged counts the denials (UNKNOWN_TOPIC_OR_PARTITION answers
	// and listings without a topic) that clients received and the rule
	// judged; UnknownLagging those about a topic or partition created
	// after the answering process started (allowed: the image may lag),
	// UnknownGone those about a topic deleted or never created (allowed).
	UnknownJudged, UnknownLagging, UnknownGone int

	// Counts holds every other transition a run reached, by name (see
	// world.cover): a sweep sums them and prints them sorted by name, and
	// coverageMinimums (sim_test.go) states how often a sweep must reach
	// each.
	Counts map[string]int
}

// cover counts one occurrence of the transition named kind (coverage).
// Names are short kebab-case phrases ("isr-expansion", "election").
func (w *world) cover(kind string) {
	if w.cov.Counts == nil {
		w.cov.Counts = map[string]int{}
	}
	w.cov.Counts[kind]++
}

// add sums o into c.
func (c *Coverage) add(o Coverage) {
	c.CatchUpTraps += o.CatchUpTraps
	c.StaleImageRequests += o.StaleImageRequests
	c.PreCatchUpRequests += o.PreCatchUpRequests
	c.ParkedReleased += o.ParkedReleased
	c.ParkedClosed += o.ParkedClosed
	c.UnknownJudged += o.UnknownJudged
	c.UnknownLagging += o.UnknownLagging
	c.UnknownGone += o.UnknownGone
	for k, n := range o.Counts {
		if c.Counts == nil {
			c.Counts = map[string]int{}
		}
		c.Counts[k] += n
	}
}

// String renders the counters in a fixed order (named counts sorted by
// name, so the line never depends on map order).
func (c Coverage) String() string {
	out := fmt.Sprintf("catchup-traps=%d stale-image-requests=%d pre-catchup-requests=%d parked-released=%d parked-closed=%d unknown-topic-judged=%d (lagging %d, gone %d)",
		c.CatchUpTraps, c.StaleImageRequests, c.PreCatchUpRequests, c.ParkedReleased, c.ParkedClosed, c.UnknownJudged, c.UnknownLagging, c.UnknownGone)
	names := make([]string, 0, len(c.Counts))
	for k := range c.Counts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out += fmt.Sprintf(" %s=%d", k, c.Counts[k])
	}
	return out
}

// topicLife is the current incarnation of a topic name in the committed
// log: the index of its CreateTopic and of the record that created each
// partition (1-based, like len(raftModel.entries) after the commit).
type topicLife struct {
	created    int
	partitions []int
}

// noteTopics updates the committed topics from entry e, committed at
// index, with the results of applying it to the truth image (a refused
// record changed nothing).
func (r *raftModel) noteTopics(index int, e *metadata.Entry, results []metadata.Result) {
	for i := range e.Records {
		if results[i].Err != nil {
			continue
		}
		rec := &e.Records[i]
		switch {
		case rec.CreateTopic != nil:
			t := r.truth.Topic(rec.CreateTopic.Name)
			life := &topicLife{created: index, partitions: make([]int, t.Partitions)}
			for p := range life.partitions {
				life.partitions[p] = index
			}
			r.topics[rec.CreateTopic.Name] = life
		case rec.CreatePartitions != nil:
			life := r.topics[rec.CreatePartitions.Name]
			for int32(len(life.partitions)) < rec.CreatePartitions.Count {
				life.partitions = append(life.partitions, index)
			}
		case rec.DeleteTopic != nil:
			delete(r.topics, rec.DeleteTopic.Name)
		}
	}
}

// denial is one UNKNOWN_TOPIC_OR_PARTITION in an answer: partition -1
// for a topic-level error or a topic missing from a listing.
type denial struct {
	topic     string
	partition int32
	what      string
}

// denials lists the UNKNOWN_TOPIC_OR_PARTITION errors of resp, the answer
// to req.
func denials(req kmsg.Request, resp kmsg.Response) []denial {
	var out []denial
	add := func(topic string, partition int32, code int16, api string) {
		if code == errCodeUnknownTopicPartition && topic != "" {
			out = append(out, denial{topic, partition, "UNKNOWN_TOPIC_OR_PARTITION in answer to " + api})
		}
	}
	partitionErrors(resp, func(api, topic string, partition int32, code int16) {
		if api != "OffsetForLeaderEpoch" { // answered to brokers only
			add(topic, partition, code, api)
		}
	})
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		for _, t := range r.Topics {
			if t.Topic == nil {
				continue
			}
			add(*t.Topic, -1, t.ErrorCode, "Metadata")
			for _, p := range t.Partitions {
				add(*t.Topic, p.Partition, p.ErrorCode, "Metadata")
			}
		}
	case *kmsg.CreatePartitionsResponse:
		for _, t := range r.Topics {
			add(t.Topic, -1, t.ErrorCode, "CreatePartitions")
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for _, res := range r.Resources {
			if res.ResourceType == kmsg.ConfigResourceTypeTopic {
				add(res.ResourceName, -1, res.ErrorCode, "IncrementalAlterConfigs")
			}
		}
	case *kmsg.AlterConfigsResponse:
		for _, res := range r.Resources {
			if res.ResourceType == kmsg.ConfigResourceTypeTopic {
				add(res.ResourceName, -1, res.ErrorCode, "AlterConfigs")
			}
		}
	case *kmsg.DeleteRecordsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(t.Topic, p.Partition, p.ErrorCode, "DeleteRecords")
			}
		}
	case *kmsg.DeleteTopicsResponse:
		for _, t := range r.Topics {
			if t.Topic != nil {
				add(*t.Topic, -1, t.ErrorCode, "DeleteTopics")
			}
		}
	}
	return out
}

// allTopicsRequest reports whether req is a Metadata request for every
// topic (v0: an empty list; v1+: a null one).
func allTopicsRequest(req kmsg.Request) bool {
	m, ok := req.(*kmsg.MetadataRequest)
	return ok && (m.Topics == nil || (m.Version == 0 && len(m.Topics) == 0))
}

// judgeCatchUp checks the catch-up rule on resp, the answer to k that a
// client received on cn.
func (w *world) judgeCatchUp(cn *conn, k *call, resp kmsg.Response) {
	node := cn.link.node
	ds := denials(k.req, resp)
	if w.cluster() && allTopicsRequest(k.req) {
		ds = append(ds, w.listingDenials(cn, resp.(*kmsg.MetadataResponse))...)
	}
	for _, d := range ds {
		w.cov.UnknownJudged++
		if w.cluster() {
			w.judgeClusterDenial(node, cn, d)
		} else {
			w.judgeSingleDenial(node, k, d)
		}
	}
}

// listingDenials lists what a full Metadata listing answered by cn's
// node process leaves out of the committed topics: every topic created at
// or before the process start must be there, with every partition created
// by then.
func (w *world) listingDenials(cn *conn, mr *kmsg.MetadataResponse) []denial {
	listed := map[string]int{}
	for _, t := range mr.Topics {
		if t.Topic != nil { // a topic-level error is a denial of its own (denials)
			listed[*t.Topic] = len(t.Partitions)
		}
	}
	var out []denial
	for _, name := range w.raft.truth.TopicNames() {
		life := w.raft.topics[name]
		if life == nil || life.created > cn.startCommit {
			continue
		}
		n, ok := listed[name]
		switch {
		case !ok:
			out = append(out, denial{name, -1, "a full Metadata listing without it"})
		case n < len(life.partitions) && life.partitions[n] <= cn.startCommit:
			out = append(out, denial{name, int32(n), fmt.Sprintf("a full Metadata listing with %d partitions", n)})
		}
	}
	return out
}

// judgeClusterDenial judges one denial against the committed log.
func (w *world) judgeClusterDenial(node *simNode, cn *conn, d denial) {
	life := w.raft.topics[d.topic]
	if life == nil || d.partition >= int32(len(life.partitions)) {
		w.cov.UnknownGone++
		return
	}
	created, what := life.created, "topic "+d.topic
	if d.partition >= 0 {
		created = life.partitions[d.partition]
		what = fmt.Sprintf("partition %s-%d (topic %s created at committed index %d)", d.topic, d.partition, d.topic, life.created)
	}
	if created > cn.startCommit {
		w.cov.UnknownLagging++
		return
	}
	w.fail("catch-up: node %d denied %s with %s: created at committed index %d and not deleted since, but the node's process started at commit index %d (it had applied %d entries when the answer arrived)",
		node.id, what, d.what, created, cn.startCommit, w.appliedBy(node, cn))
}

// appliedBy is how many entries the process behind cn has applied, for
// the failure message (-1 once it has stopped).
func (w *world) appliedBy(n *simNode, cn *conn) int {
	if !n.up || n.inc != cn.nodeInc {
		return -1
	}
	return n.raft.applied
}

// judgeSingleDenial judges one denial on a single node against what the
// admin had acknowledged before the request was sent.
func (w *world) judgeSingleDenial(node *simNode, k *call, d denial) {
	t := w.reg.byName[d.topic]
	if t == nil || t.status != topicLive {
		// Never created, not acknowledged, or a delete was sent (it may
		// have applied before this answer).
		w.cov.UnknownGone++
		return
	}
	if t.createdAt >= k.sentAt || d.partition >= t.partitionsAt(k.sentAt) {
		w.cov.UnknownLagging++
		return
	}
	w.fail("catch-up: node %d denied topic %s (partition %d) with %s: its create was acknowledged at %s (%d partitions acknowledged) before the request was sent at %s, and no delete was ever sent for it",
		node.id, d.topic, d.partition, d.what, t.createdAt, t.partitionsAt(k.sentAt), k.sentAt)
}

// noteClientRequest counts a client request reaching node n (coverage).
func (n *simNode) noteClientRequest(c *conn) {
	w := n.w
	if w.raft == nil || c.link.client == nil {
		return
	}
	if !n.caughtUp {
		w.cov.PreCatchUpRequests++
	}
	if n.raft.applied < n.startCommit {
		w.cov.StaleImageRequests++
	}
}

// Broker log lines and close reasons the coverage reads
// (core/broker/catchup.go).
const (
	logCaughtUp         = "metadata caught up; serving clients"
	closeNotCaughtUp    = "metadata has not caught up"
	closeTooManyParked  = "too many client requests waiting"
	argParkedRequests   = "parked_requests"
	catchUpTrapMinDelay = 200 * Millisecond
)

// noteBrokerLog reads the catch-up transitions from a broker log line.
func (n *simNode) noteBrokerLog(msg string, args []any) {
	n.coverBrokerLog(msg, args)
	if msg != logCaughtUp {
		return
	}
	n.caughtUp = true
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == argParkedRequests {
			if v, err := strconv.Atoi(fmt.Sprint(args[i+1])); err == nil {
				n.w.cov.ParkedReleased += v
			}
		}
	}
}

// noteBrokerClose counts the connections a broker closed because a
// client request waited for its metadata to catch up.
func (n *simNode) noteBrokerClose(reason string) {
	if strings.Contains(reason, closeNotCaughtUp) || strings.Contains(reason, closeTooManyParked) {
		n.w.cov.ParkedClosed++
	}
	if strings.Contains(reason, rogueRefusedReason) {
		n.w.cover("rogue-control-refused") // rogue.go
	}
}

// catchUpTrap cuts a node that has just restarted off from the other
// nodes, both ways, for a seeded time, in the seeds whose settings arm
// the trap: it cannot replay the metadata log nor register meanwhile,
// while its clients keep reaching it.
func (w *world) catchUpTrap(n *simNode) {
	c := &w.set.Cluster
	r := w.trapRng
	if !w.faultsOn || !r.Chance(c.CatchUpTrapProb) {
		return
	}
	var others []*simNode
	for _, o := range w.nodes {
		if o != n {
			others = append(others, o)
		}
	}
	w.cov.CatchUpTraps++
	w.cover("trap-catch-up")
	w.logf("fault: catch-up trap: node %d restarted, cut off from the quorum", n.id)
	w.partitionNodes(n, others, 0, catchUpTrapMinDelay+r.Exp(c.CatchUpTrapLen))
}
