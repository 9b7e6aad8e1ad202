// Package metadata holds the cluster metadata image and the records that
// change it: broker registrations and fencing, topics with their ids,
// configs and partition assignments (replicas, leader, leader epoch, ISR,
// partition epoch), and producer-id blocks.
//
// The image changes only by applying records (Apply) in the order of the
// metadata log. Apply is deterministic: every node that applies the same
// entries in the same order holds the same image, byte for byte
// (Marshal). Controller decisions that depend only on the image (replica
// placement, leader election when a broker is fenced, ISR validation) are
// made inside Apply, so a proposal can never act on a stale view: it is
// checked against the image at its place in the log.
package metadata

import (
	"encoding/json"
	"fmt"
	"iter"
	"slices"
)

// TopicID is a topic's 16-byte UUID (KIP-516).
type TopicID [16]byte

// String formats the id as Kafka does in tools: hex in 8-4-4-4-12 groups.
func (id TopicID) String() string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[b>>4], hex[b&0xf])
	}
	return string(out)
}

// NoLeader is the leader id of a partition without a leader.
const NoLeader int32 = -1

// Partition is the replication state of one partition.
type Partition struct {
	// Replicas is the assignment, preferred leader first.
	Replicas []int32 `json:"replicas"`
	// ISR is the in-sync replica set; it always contains the leader when
	// there is one.
	ISR []int32 `json:"isr"`
	// Leader is the leader's broker id or NoLeader.
	Leader int32 `json:"leader"`
	// LeaderEpoch grows on every leader change (including to NoLeader).
	LeaderEpoch int32 `json:"leader_epoch"`
	// PartitionEpoch grows on every change of the partition's state; an
	// ISR change names the epoch it was computed from and is refused if
	// the partition moved on since.
	PartitionEpoch int32 `json:"partition_epoch"`
}

// Topic is one topic in the image.
type Topic struct {
	Name       string            `json:"name"`
	ID         TopicID           `json:"id"`
	Partitions int32             `json:"partitions"`        // always len(Assignments)
	Configs    map[string]string `json:"configs,omitempty"` // overrides only; defaults come from the broker
	// Assignments holds each partition's replication state by index.
	Assignments []Partition `json:"assignments"`
}

// Broker is a registered broker.
type Broker struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	// Incarnation is drawn at random by each start of the broker process;
	// a registration with a new incarnation means the broker restarted.
	Incarnation uint64 `json:"incarnation"`
	// Fenced brokers lead nothing and are not in any ISR (unless they are
	// the last member of one). A broker starts fenced and is unfenced by
	// its heartbeats; the controller fences it when they stop.
	Fenced bool `json:"fenced"`
	// ControlHost and ControlPort are the broker's control listener, where
	// other brokers send it requests; empty and 0 in an image written
	// before the control listener existed (peers then use Host and Port
	// until the broker's next registration) and on a single node.
	ControlHost string `json:"control_host,omitempty"`
	ControlPort int32  `json:"control_port,omitempty"`
}

// Image is the whole metadata state. Build one with NewImage.
type Image struct {
	// ProducerIDEnd is the end of the last block of producer ids handed to
	// a broker: ids below it may be in use and are never given out again.
	ProducerIDEnd int64

	topics  map[string]*Topic
	byID    map[TopicID]*Topic
	brokers map[int32]*Broker
	// names and sorted cache the topic names in order and their topics;
	// nil when a topic was put or removed since. Brokers read them after
	// every event.
	names  []string
	sorted []*Topic
	// brokerIDs caches the registered ids in order (sortedBrokerIDs).
	brokerIDs []int32
}

// NewImage returns an empty image.
func NewImage() *Image {
	return &Image{topics: map[string]*Topic{}, byID: map[TopicID]*Topic{}, brokers: map[int32]*Broker{}}
}

// Topic returns the topic named name, or nil.
func (im *Image) Topic(name string) *Topic { return im.topics[name] }

// TopicByID returns the topic with the given id, or nil.
func (im *Image) TopicByID(id TopicID) *Topic { return im.byID[id] }

// TopicNames returns every topic name in sorted order, so that callers
// never depend on map iteration order.
func (im *Image) TopicNames() []string {
	return slices.Clone(im.sortedNames()) // callers may keep or change theirs
}

// sortedNames is the cached name order. The slice is never written once
// built (a change builds a new one), so a loop over it may add and remove
// topics; nobody outside the package gets it.
func (im *Image) sortedNames() []string {
	if im.names == nil {
		im.names = make([]string, 0, len(im.topics))
		for name := range im.topics {
			im.names = append(im.names, name)
		}
		slices.Sort(im.names)
		im.sorted = make([]*Topic, len(im.names))
		for i, name := range im.names {
			im.sorted[i] = im.topics[name]
		}
	}
	return im.names
}

// Topics yields every topic with its name in name order, without
// allocating (brokers check their partitions against the image after
// every event). The loop body may put and remove topics: the loop goes
// on over the topics as they were when it began.
func (im *Image) Topics() iter.Seq2[string, *Topic] {
	return func(yield func(string, *Topic) bool) {
		names := im.sortedNames()
		sorted := im.sorted // the loop body may clear the cache
		for i, name := range names {
			if !yield(name, sorted[i]) {
				return
			}
		}
	}
}

// Len is the number of topics.
func (im *Image) Len() int { return len(im.topics) }

// Broker returns the registration of broker id, or nil.
func (im *Image) Broker(id int32) *Broker { return im.brokers[id] }

// BrokerIDs returns every registered broker id in ascending order.
func (im *Image) BrokerIDs() []int32 { return slices.Clone(im.sortedBrokerIDs()) }

// Brokers yields every registration in ascending id order without
// allocating (the controller looks at every session after every event).
func (im *Image) Brokers() iter.Seq2[int32, *Broker] {
	return func(yield func(int32, *Broker) bool) {
		for _, id := range im.sortedBrokerIDs() { // a registration in the body leaves this slice as it is
			if !yield(id, im.brokers[id]) {
				return
			}
		}
	}
}

// sortedBrokerIDs is the cached id order. Registrations are never
// removed, so the cache is stale exactly when it is shorter than the map;
// it is replaced, never written, so callers may keep ranging over it.
func (im *Image) sortedBrokerIDs() []int32 {
	if len(im.brokerIDs) != len(im.brokers) {
		ids := make([]int32, 0, len(im.brokers))
		for id := range im.brokers {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		im.brokerIDs = ids
	}
	return im.brokerIDs
}

// UnfencedBrokerIDs returns the ids of registered, unfenced brokers in
// ascending order.
func (im *Image) UnfencedBrokerIDs() []int32 {
	var ids []int32
	for id, b := range im.Brokers() {
		if !b.Fenced {
			ids = append(ids, id)
		}
	}
	return ids
}

// PutTopic adds or replaces a topic. The image keeps t; callers must not
// mutate it afterwards except through the image. Topics without
// assignments get none; Apply always sets them.
func (im *Image) PutTopic(t *Topic) {
	if old := im.topics[t.Name]; old != nil {
		delete(im.byID, old.ID)
	}
	im.names, im.sorted = nil, nil
	im.topics[t.Name] = t
	im.byID[t.ID] = t
}

// RemoveTopic deletes the topic named name; absent is a no-op.
func (im *Image) RemoveTopic(name string) {
	if t := im.topics[name]; t != nil {
		delete(im.byID, t.ID)
		delete(im.topics, name)
		im.names, im.sorted = nil, nil
	}
}

// PutBroker adds or replaces a broker registration.
func (im *Image) PutBroker(b *Broker) {
	im.brokers[b.ID] = b
}

// AssignAllTo gives every partition without an assignment the single
// replica id as leader. It upgrades images written by single-node
// versions that had no assignments.
func (im *Image) AssignAllTo(id int32) {
	for _, name := range im.TopicNames() {
		t := im.topics[name]
		for len(t.Assignments) < int(t.Partitions) {
			t.Assignments = append(t.Assignments, Partition{Replicas: []int32{id}, ISR: []int32{id}, Leader: id})
		}
	}
}

// fileFormat is the JSON layout of an image snapshot. Topics and brokers
// are sorted so that the same image always encodes to the same bytes.
type fileFormat struct {
	Version       int       `json:"version"`
	ProducerIDEnd int64     `json:"producer_id_end"`
	Brokers       []*Broker `json:"brokers,omitempty"`
	Topics        []*Topic  `json:"topics"`
}

// imageVersion is the current snapshot format; version 1 (single node,
// no brokers or assignments) is still read.
const imageVersion = 2

// Marshal encodes the image deterministically, as indented JSON
// (encode.go). It does not fail; the error is part of the signature for
// encodings that could.
func (im *Image) Marshal() ([]byte, error) { return im.AppendMarshal(nil), nil }

// AppendMarshal appends Marshal's encoding to dst, for callers that encode
// images often into a buffer they reuse.
func (im *Image) AppendMarshal(dst []byte) []byte { return im.appendEncoding(dst, true) }

// AppendCompact appends the image's encoding without indentation (what
// json.Marshal would write): the same content as Marshal, so two images
// are equal exactly when these bytes are, at a third of the size. The
// simulator hashes it for every node after every metadata apply.
func (im *Image) AppendCompact(dst []byte) []byte { return im.appendEncoding(dst, false) }

func (im *Image) appendEncoding(dst []byte, indent bool) []byte {
	if !indent {
		if dst == nil {
			dst = make([]byte, 0, 128+96*len(im.brokers)+256*len(im.topics))
		}
		return im.appendCompactFile(dst) // encode_compact.go
	}
	f := fileFormat{Version: imageVersion, ProducerIDEnd: im.ProducerIDEnd}
	for _, b := range im.Brokers() {
		f.Brokers = append(f.Brokers, b)
	}
	for _, name := range im.sortedNames() {
		f.Topics = append(f.Topics, im.topics[name])
	}
	if dst == nil {
		// Roughly what each part takes indented, so that the buffer
		// rarely grows.
		size := 256 + 192*len(f.Brokers)
		for _, t := range f.Topics {
			size += 512 + 256*len(t.Assignments)
		}
		dst = make([]byte, 0, size)
	}
	return appendFile(dst, &f, indent)
}

// Unmarshal decodes an image written by Marshal and checks its
// invariants, so a damaged snapshot is refused rather than served.
func Unmarshal(data []byte) (*Image, error) {
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("metadata: decode image: %w", err)
	}
	if f.Version != 1 && f.Version != imageVersion {
		return nil, fmt.Errorf("metadata: unsupported image version %d", f.Version)
	}
	im := NewImage()
	if f.ProducerIDEnd < 0 {
		return nil, fmt.Errorf("metadata: negative producer id end %d", f.ProducerIDEnd)
	}
	im.ProducerIDEnd = f.ProducerIDEnd
	for _, b := range f.Brokers {
		if b == nil || b.ID < 0 || im.brokers[b.ID] != nil {
			return nil, fmt.Errorf("metadata: invalid or duplicate broker entry %+v", b)
		}
		im.PutBroker(b)
	}
	for _, t := range f.Topics {
		if t == nil || t.Name == "" || t.Partitions <= 0 {
			return nil, fmt.Errorf("metadata: invalid topic entry %+v", t)
		}
		if im.topics[t.Name] != nil || im.byID[t.ID] != nil {
			return nil, fmt.Errorf("metadata: duplicate topic %q", t.Name)
		}
		if f.Version >= 2 && len(t.Assignments) != int(t.Partitions) {
			return nil, fmt.Errorf("metadata: topic %q has %d partitions and %d assignments", t.Name, t.Partitions, len(t.Assignments))
		}
		im.PutTopic(t)
	}
	if f.Version >= 2 {
		if err := im.Check(); err != nil {
			return nil, err
		}
	}
	return im, nil
}

// Check verifies the image's invariants and returns the first violation.
func (im *Image) Check() error {
	for _, name := range im.TopicNames() {
		t := im.topics[name]
		if im.byID[t.ID] != t {
			return fmt.Errorf("metadata: topic %q missing from the id index", name)
		}
		if int(t.Partitions) != len(t.Assignments) {
			return fmt.Errorf("metadata: topic %q has %d partitions and %d assignments", name, t.Partitions, len(t.Assignments))
		}
		for i, p := range t.Assignments {
			if err := checkPartition(&p); err != nil {
				return fmt.Errorf("metadata: %s-%d: %w", name, i, err)
			}
		}
	}
	if len(im.byID) != len(im.topics) {
		return fmt.Errorf("metadata: %d topic ids for %d topics", len(im.byID), len(im.topics))
	}
	for id, b := range im.brokers {
		if b.ID != id {
			return fmt.Errorf("metadata: broker %d registered under %d", b.ID, id)
		}
	}
	return nil
}

func checkPartition(p *Partition) error {
	if len(p.Replicas) == 0 {
		return fmt.Errorf("no replicas")
	}
	if hasDuplicates(p.Replicas) || hasDuplicates(p.ISR) {
		return fmt.Errorf("duplicate broker in replicas %v or ISR %v", p.Replicas, p.ISR)
	}
	if len(p.ISR) == 0 {
		return fmt.Errorf("empty ISR")
	}
	for _, id := range p.ISR {
		if !contains(p.Replicas, id) {
			return fmt.Errorf("ISR %v not within replicas %v", p.ISR, p.Replicas)
		}
	}
	if p.Leader != NoLeader && !contains(p.ISR, p.Leader) {
		return fmt.Errorf("leader %d not in ISR %v", p.Leader, p.ISR)
	}
	if p.LeaderEpoch < 0 || p.PartitionEpoch < 0 {
		return fmt.Errorf("negative epoch")
	}
	return nil
}

func contains(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func hasDuplicates(ids []int32) bool {
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if ids[i] == ids[j] {
				return true
			}
		}
	}
	return false
}
