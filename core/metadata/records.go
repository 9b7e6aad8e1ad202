package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/chronik-streaming/chronik/core/bugs"
)

// Sentinel errors of Apply: a record that fails is refused whole and
// leaves the image unchanged. The broker maps them to Kafka error codes.
var (
	ErrTopicExists              = errors.New("metadata: topic already exists")
	ErrUnknownTopic             = errors.New("metadata: unknown topic")
	ErrUnknownBroker            = errors.New("metadata: unknown or stale broker registration")
	ErrInvalidReplicationFactor = errors.New("metadata: invalid replication factor")
	ErrInvalidReplicaAssignment = errors.New("metadata: invalid replica assignment")
	ErrInvalidPartitions        = errors.New("metadata: invalid partition count")
	// ErrStalePartitionState refuses an ISR change computed from an older
	// leader epoch or partition epoch than the image holds.
	ErrStalePartitionState = errors.New("metadata: stale partition state")
	ErrInvalidISR          = errors.New("metadata: invalid ISR")
	ErrInvalidRecord       = errors.New("metadata: invalid record")
)

// Limits on what one entry may carry, so a malformed or hostile proposal
// cannot make Apply allocate without bound.
const (
	MaxRecordsPerEntry    = 10000
	MaxPartitionsPerTopic = 1 << 16
	MaxReplicationFactor  = 64
	MaxProducerIDBlock    = 1 << 20
)

// Entry is one entry of the metadata log: the records of one proposal,
// applied in order, each on its own (a refused record does not stop the
// ones after it). Proposer, Incarnation and Seq let the proposing node
// match the applied entry to the request that is waiting for it.
type Entry struct {
	Proposer    int32    `json:"proposer"`
	Incarnation uint64   `json:"incarnation"`
	Seq         uint64   `json:"seq"`
	Records     []Record `json:"records"`
}

// Record is one change. Exactly one field is set.
type Record struct {
	RegisterBroker      *RegisterBroker      `json:"register_broker,omitempty"`
	FenceBroker         *FenceBroker         `json:"fence_broker,omitempty"`
	UnfenceBroker       *UnfenceBroker       `json:"unfence_broker,omitempty"`
	CreateTopic         *CreateTopic         `json:"create_topic,omitempty"`
	DeleteTopic         *DeleteTopic         `json:"delete_topic,omitempty"`
	CreatePartitions    *CreatePartitions    `json:"create_partitions,omitempty"`
	ChangeISR           *ChangeISR           `json:"change_isr,omitempty"`
	ResignLeadership    *ResignLeadership    `json:"resign_leadership,omitempty"`
	SetTopicConfigs     *SetTopicConfigs     `json:"set_topic_configs,omitempty"`
	AllocateProducerIDs *AllocateProducerIDs `json:"allocate_producer_ids,omitempty"`
}

// RegisterBroker registers a broker process. A new incarnation of a
// registered broker first fences the old one (its leaderships move), and
// every registration starts fenced.
type RegisterBroker struct {
	ID          int32  `json:"id"`
	Host        string `json:"host"`
	Port        int32  `json:"port"`
	Incarnation uint64 `json:"incarnation"`
	// ControlHost and ControlPort are the broker's control listener
	// (Broker.ControlHost). Absent from the records of brokers older than
	// the control listener, and from a single node's own.
	ControlHost string `json:"control_host,omitempty"`
	ControlPort int32  `json:"control_port,omitempty"`
}

// FenceBroker fences one incarnation of a broker: it leaves every ISR it
// is not the last member of, and the partitions it led elect a new leader
// from their ISR (or go leaderless).
type FenceBroker struct {
	ID          int32  `json:"id"`
	Incarnation uint64 `json:"incarnation"`
}

// UnfenceBroker lets a fenced broker lead again: leaderless partitions
// whose ISR holds it elect it.
type UnfenceBroker struct {
	ID          int32  `json:"id"`
	Incarnation uint64 `json:"incarnation"`
}

// CreateTopic creates a topic. With Assignment empty, Apply places
// ReplicationFactor replicas of each partition over the unfenced brokers,
// spreading leaders; otherwise Assignment[i] lists partition i's replicas.
type CreateTopic struct {
	Name              string            `json:"name"`
	ID                TopicID           `json:"id"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Assignment        [][]int32         `json:"assignment,omitempty"`
	Configs           map[string]string `json:"configs,omitempty"`
}

// DeleteTopic removes a topic by name and id.
type DeleteTopic struct {
	Name string  `json:"name"`
	ID   TopicID `json:"id"`
}

// CreatePartitions grows a topic to Count partitions, placed like a new
// topic's with the replication factor of its partition 0.
type CreatePartitions struct {
	Name       string    `json:"name"`
	ID         TopicID   `json:"id"`
	Count      int32     `json:"count"`
	Assignment [][]int32 `json:"assignment,omitempty"` // for the new partitions only
}

// ChangeISR is a partition leader's request to change the ISR (KIP-497's
// AlterPartition). It applies only if Leader, LeaderEpoch and
// PartitionEpoch are still current, and only unfenced brokers may join.
type ChangeISR struct {
	Topic          string  `json:"topic"`
	ID             TopicID `json:"id"`
	Partition      int32   `json:"partition"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leader_epoch"`
	PartitionEpoch int32   `json:"partition_epoch"`
	ISR            []int32 `json:"isr"`
}

// ResignLeadership is a replica giving up a partition whose log it can no
// longer serve (a disk error took it offline). Leader names that replica.
// When it leads the partition, it leaves the ISR and the next unfenced ISR
// member in replica order leads, at leader epoch + 1; it applies only if
// LeaderEpoch and PartitionEpoch are current and another ISR member
// exists (the last one keeps its place: nothing else has the data). When
// it is a follower in the ISR, it leaves the ISR at once and the leader
// keeps leading; it applies only if LeaderEpoch and PartitionEpoch are
// current. Kafka's controller likewise takes replicas on a failed log
// directory out of the ISR as soon as their broker reports the failure
// (KIP-858), rather than after the leader's lag timeout: until then the
// offline copy could be elected (simulator seed 198: a resigning leader
// handed a partition to a follower whose copy a scrub had just found
// corrupt).
type ResignLeadership struct {
	Topic          string  `json:"topic"`
	ID             TopicID `json:"id"`
	Partition      int32   `json:"partition"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leader_epoch"`
	PartitionEpoch int32   `json:"partition_epoch"`
}

// SetTopicConfigs replaces a topic's config overrides.
type SetTopicConfigs struct {
	Name    string            `json:"name"`
	ID      TopicID           `json:"id"`
	Configs map[string]string `json:"configs,omitempty"`
}

// AllocateProducerIDs hands broker Broker the next Count producer ids.
type AllocateProducerIDs struct {
	Broker int32 `json:"broker"`
	Count  int64 `json:"count"`
}

// Result is the outcome of one record.
type Result struct {
	// Err is nil when the record applied, else one of the sentinel errors
	// wrapped with detail.
	Err error
	// ProducerIDStart is the first id of an allocated block.
	ProducerIDStart int64
}

// EncodeEntry encodes an entry for the metadata log.
func EncodeEntry(e *Entry) ([]byte, error) {
	if len(e.Records) > MaxRecordsPerEntry {
		return nil, fmt.Errorf("metadata: %d records in one entry (limit %d)", len(e.Records), MaxRecordsPerEntry)
	}
	return json.Marshal(e)
}

// DecodeEntry decodes a log entry written by EncodeEntry.
func DecodeEntry(data []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("metadata: decode entry: %w", err)
	}
	if len(e.Records) > MaxRecordsPerEntry {
		return nil, fmt.Errorf("metadata: %d records in one entry (limit %d)", len(e.Records), MaxRecordsPerEntry)
	}
	return &e, nil
}

// UncleanLeaderElectionConfig is the topic config that allows electing a
// replica outside the ISR when no ISR member is available (default false).
const UncleanLeaderElectionConfig = "unclean.leader.election.enable"

// ApplyEntry applies every record of e in order and returns their results.
//
// An entry applies as one step: nobody sees the image between two of its
// records. So a partition whose leader changes more than once within an
// entry moves to the epoch after its epoch before the entry, not one epoch
// per change: a restarting single node, whose registration fences the old
// incarnation (leader none) and whose unfencing elects the new one in the
// same entry, leads at epoch+1 rather than epoch+2. Epochs still grow at
// every visible leader change, which is all that fencing relies on.
func (im *Image) ApplyEntry(e *Entry) []Result {
	type partitionKey struct {
		topic TopicID
		index int
	}
	var before map[partitionKey]int32
	if len(e.Records) > 1 {
		before = map[partitionKey]int32{}
		im.forEachTopicPartition(func(t *Topic, i int) { before[partitionKey{t.ID, i}] = t.Assignments[i].LeaderEpoch })
	}
	results := make([]Result, len(e.Records))
	for i := range e.Records {
		results[i] = im.Apply(&e.Records[i])
	}
	if before != nil {
		// Partitions the entry created are not in before; a topic deleted
		// and created again gets a new id.
		im.forEachTopicPartition(func(t *Topic, i int) {
			p := &t.Assignments[i]
			if old, ok := before[partitionKey{t.ID, i}]; ok && p.LeaderEpoch > old+1 {
				p.LeaderEpoch = old + 1
			}
		})
	}
	return results
}

// Apply applies one record. A refused record leaves the image unchanged.
func (im *Image) Apply(r *Record) Result {
	var err error
	var res Result
	switch {
	case r.RegisterBroker != nil:
		err = im.registerBroker(r.RegisterBroker)
	case r.FenceBroker != nil:
		err = im.fenceBroker(r.FenceBroker.ID, r.FenceBroker.Incarnation)
	case r.UnfenceBroker != nil:
		err = im.unfenceBroker(r.UnfenceBroker)
	case r.CreateTopic != nil:
		err = im.createTopic(r.CreateTopic)
	case r.DeleteTopic != nil:
		err = im.deleteTopic(r.DeleteTopic)
	case r.CreatePartitions != nil:
		err = im.createPartitions(r.CreatePartitions)
	case r.ChangeISR != nil:
		err = im.changeISR(r.ChangeISR)
	case r.ResignLeadership != nil:
		err = im.resignLeadership(r.ResignLeadership)
	case r.SetTopicConfigs != nil:
		err = im.setTopicConfigs(r.SetTopicConfigs)
	case r.AllocateProducerIDs != nil:
		res.ProducerIDStart, err = im.allocateProducerIDs(r.AllocateProducerIDs)
	default:
		err = fmt.Errorf("%w: no change set", ErrInvalidRecord)
	}
	res.Err = err
	return res
}

func (im *Image) registerBroker(r *RegisterBroker) error {
	if r.ID < 0 || r.Host == "" || r.Port <= 0 || r.Port > 65535 ||
		r.ControlPort < 0 || r.ControlPort > 65535 || (r.ControlPort == 0) != (r.ControlHost == "") {
		return fmt.Errorf("%w: registration %+v", ErrInvalidRecord, *r)
	}
	old := im.brokers[r.ID]
	if old != nil && old.Incarnation == r.Incarnation {
		old.Host, old.Port = r.Host, r.Port
		old.ControlHost, old.ControlPort = r.ControlHost, r.ControlPort
		return nil
	}
	if old != nil && !old.Fenced {
		// The old process is gone: whatever it led must move before the new
		// one, which may have lost unsynced data, can take part again.
		if err := im.fenceBroker(old.ID, old.Incarnation); err != nil {
			return err
		}
	}
	// A fenced broker that is the last member of an ISR keeps its place
	// there (nothing else has the data) but leads nothing: such partitions
	// stay leaderless until the new incarnation is unfenced, which elects
	// it at a new leader epoch.
	im.PutBroker(&Broker{ID: r.ID, Host: r.Host, Port: r.Port, ControlHost: r.ControlHost, ControlPort: r.ControlPort,
		Incarnation: r.Incarnation, Fenced: true})
	return nil
}

func (im *Image) fenceBroker(id int32, incarnation uint64) error {
	b := im.brokers[id]
	if b == nil || b.Incarnation != incarnation {
		return fmt.Errorf("%w: broker %d incarnation %d", ErrUnknownBroker, id, incarnation)
	}
	if b.Fenced {
		return nil
	}
	b.Fenced = true
	im.forEachPartition(func(t *Topic, p *Partition) {
		changed := false
		if len(p.ISR) > 1 && contains(p.ISR, id) {
			p.ISR = without(p.ISR, id)
			changed = true
		}
		if p.Leader == id {
			im.electLeader(t, p)
			changed = true
		}
		if changed {
			p.PartitionEpoch++
		}
	})
	return nil
}

// electLeader picks a new leader for p among its unfenced ISR members, in
// replica order (so the preferred leader wins when it can); with unclean
// election enabled and no such member, any unfenced replica, which then
// makes up the ISR alone. The leader epoch grows whenever the leader
// changes, including to NoLeader. The caller bumps the partition epoch.
func (im *Image) electLeader(t *Topic, p *Partition) {
	newLeader := NoLeader
	for _, id := range p.Replicas {
		// bugs.ElectOutsideISR: deliberate bug (core/bugs), ignore the ISR.
		if (contains(p.ISR, id) || bugs.ElectOutsideISR) && im.isUnfenced(id) {
			newLeader = id
			break
		}
	}
	if newLeader == NoLeader && t.Configs[UncleanLeaderElectionConfig] == "true" {
		for _, id := range p.Replicas {
			if im.isUnfenced(id) {
				newLeader = id
				p.ISR = []int32{id}
				break
			}
		}
	}
	if bugs.ElectOutsideISR && newLeader != NoLeader && !contains(p.ISR, newLeader) {
		p.ISR = append(p.ISR, newLeader)
	}
	if newLeader != p.Leader {
		p.Leader = newLeader
		p.LeaderEpoch++
	}
}

func (im *Image) isUnfenced(id int32) bool {
	b := im.brokers[id]
	return b != nil && !b.Fenced
}

func (im *Image) unfenceBroker(r *UnfenceBroker) error {
	b := im.brokers[r.ID]
	if b == nil || b.Incarnation != r.Incarnation {
		return fmt.Errorf("%w: broker %d incarnation %d", ErrUnknownBroker, r.ID, r.Incarnation)
	}
	if !b.Fenced {
		return nil
	}
	b.Fenced = false
	im.forEachPartition(func(t *Topic, p *Partition) {
		if p.Leader != NoLeader || !contains(p.Replicas, r.ID) {
			return
		}
		im.electLeader(t, p)
		if p.Leader != NoLeader {
			p.PartitionEpoch++
		}
	})
	return nil
}

// forEachTopicPartition visits every partition's index in topic-name and
// index order.
func (im *Image) forEachTopicPartition(fn func(t *Topic, i int)) {
	for _, name := range im.sortedNames() {
		t := im.topics[name]
		for i := range t.Assignments {
			fn(t, i)
		}
	}
}

// forEachPartition visits every partition in topic-name and index order.
func (im *Image) forEachPartition(fn func(t *Topic, p *Partition)) {
	for _, name := range im.sortedNames() {
		t := im.topics[name]
		for i := range t.Assignments {
			fn(t, &t.Assignments[i])
		}
	}
}

func (im *Image) totalPartitions() int {
	n := 0
	for _, t := range im.topics {
		n += len(t.Assignments)
	}
	return n
}

// place assigns count new partitions with rf replicas each over the
// unfenced brokers. Consecutive partitions start at consecutive brokers,
// and the starting broker rotates with the number of partitions already in
// the cluster, so leaders spread across brokers both within a topic and
// across topics.
func (im *Image) place(count int32, rf int16) ([]Partition, error) {
	brokers := im.UnfencedBrokerIDs()
	if rf <= 0 || int(rf) > len(brokers) || rf > MaxReplicationFactor {
		return nil, fmt.Errorf("%w: replication factor %d with %d available brokers", ErrInvalidReplicationFactor, rf, len(brokers))
	}
	start := im.totalPartitions()
	out := make([]Partition, count)
	for i := range out {
		replicas := make([]int32, rf)
		for j := range replicas {
			replicas[j] = brokers[(start+i+j)%len(brokers)]
		}
		out[i] = Partition{Replicas: replicas, ISR: append([]int32(nil), replicas...), Leader: replicas[0]}
	}
	return out, nil
}

// placeManual validates a manual assignment: every replica registered,
// no duplicates, the same replication factor throughout. The ISR is the
// unfenced replicas (or all of them if none is, leaderless).
func (im *Image) placeManual(assignment [][]int32, wantRF int) ([]Partition, error) {
	out := make([]Partition, len(assignment))
	for i, replicas := range assignment {
		if len(replicas) == 0 || len(replicas) > MaxReplicationFactor || hasDuplicates(replicas) || (wantRF > 0 && len(replicas) != wantRF) {
			return nil, fmt.Errorf("%w: partition %d replicas %v", ErrInvalidReplicaAssignment, i, replicas)
		}
		wantRF = len(replicas)
		p := Partition{Replicas: append([]int32(nil), replicas...), Leader: NoLeader}
		for _, id := range replicas {
			if im.brokers[id] == nil {
				return nil, fmt.Errorf("%w: broker %d is not registered", ErrInvalidReplicaAssignment, id)
			}
			if im.isUnfenced(id) {
				p.ISR = append(p.ISR, id)
			}
		}
		if len(p.ISR) == 0 {
			p.ISR = append([]int32(nil), replicas...)
		} else {
			p.Leader = p.ISR[0]
		}
		out[i] = p
	}
	return out, nil
}

func (im *Image) createTopic(r *CreateTopic) error {
	if r.Name == "" {
		return fmt.Errorf("%w: empty topic name", ErrInvalidRecord)
	}
	if im.topics[r.Name] != nil {
		return fmt.Errorf("%w: %s", ErrTopicExists, r.Name)
	}
	if im.byID[r.ID] != nil {
		return fmt.Errorf("%w: topic id %s in use", ErrTopicExists, r.ID)
	}
	var parts []Partition
	var err error
	if len(r.Assignment) > 0 {
		if len(r.Assignment) > MaxPartitionsPerTopic {
			return fmt.Errorf("%w: %d", ErrInvalidPartitions, len(r.Assignment))
		}
		parts, err = im.placeManual(r.Assignment, 0)
	} else {
		if r.Partitions <= 0 || r.Partitions > MaxPartitionsPerTopic {
			return fmt.Errorf("%w: %d", ErrInvalidPartitions, r.Partitions)
		}
		parts, err = im.place(r.Partitions, r.ReplicationFactor)
	}
	if err != nil {
		return err
	}
	im.PutTopic(&Topic{Name: r.Name, ID: r.ID, Partitions: int32(len(parts)), Configs: copyConfigs(r.Configs), Assignments: parts})
	return nil
}

func (im *Image) lookup(name string, id TopicID) (*Topic, error) {
	t := im.topics[name]
	if t == nil || (id != TopicID{} && t.ID != id) {
		return nil, fmt.Errorf("%w: %s (%s)", ErrUnknownTopic, name, id)
	}
	return t, nil
}

func (im *Image) deleteTopic(r *DeleteTopic) error {
	if _, err := im.lookup(r.Name, r.ID); err != nil {
		return err
	}
	im.RemoveTopic(r.Name)
	return nil
}

func (im *Image) createPartitions(r *CreatePartitions) error {
	t, err := im.lookup(r.Name, r.ID)
	if err != nil {
		return err
	}
	if r.Count <= t.Partitions || r.Count > MaxPartitionsPerTopic {
		return fmt.Errorf("%w: %d partitions requested, topic has %d", ErrInvalidPartitions, r.Count, t.Partitions)
	}
	rf := len(t.Assignments[0].Replicas)
	var parts []Partition
	if len(r.Assignment) > 0 {
		if len(r.Assignment) != int(r.Count-t.Partitions) {
			return fmt.Errorf("%w: %d assignments for %d new partitions", ErrInvalidReplicaAssignment, len(r.Assignment), r.Count-t.Partitions)
		}
		parts, err = im.placeManual(r.Assignment, rf)
	} else {
		parts, err = im.place(r.Count-t.Partitions, int16(rf))
	}
	if err != nil {
		return err
	}
	t.Assignments = append(t.Assignments, parts...)
	t.Partitions = r.Count
	return nil
}

// leaderPartition finds the partition a leader's record is about and
// checks that the record was computed from its current state: the same
// leader, leader epoch and partition epoch.
// partition returns the assignment of a topic's partition.
func (im *Image) partition(topic string, id TopicID, partition int32) (*Partition, error) {
	t, err := im.lookup(topic, id)
	if err != nil {
		return nil, err
	}
	if partition < 0 || partition >= t.Partitions {
		return nil, fmt.Errorf("%w: partition %d of %s", ErrUnknownTopic, partition, topic)
	}
	return &t.Assignments[partition], nil
}

func (im *Image) leaderPartition(topic string, id TopicID, partition, leader, leaderEpoch, partitionEpoch int32) (*Topic, *Partition, error) {
	t, err := im.lookup(topic, id)
	if err != nil {
		return nil, nil, err
	}
	if partition < 0 || partition >= t.Partitions {
		return nil, nil, fmt.Errorf("%w: partition %d of %s", ErrUnknownTopic, partition, topic)
	}
	p := &t.Assignments[partition]
	if leader != p.Leader || leaderEpoch != p.LeaderEpoch || partitionEpoch != p.PartitionEpoch {
		return nil, nil, fmt.Errorf("%w: %s-%d record from leader %d epoch %d/%d, image has leader %d epoch %d/%d",
			ErrStalePartitionState, topic, partition, leader, leaderEpoch, partitionEpoch, p.Leader, p.LeaderEpoch, p.PartitionEpoch)
	}
	return t, p, nil
}

func (im *Image) changeISR(r *ChangeISR) error {
	_, p, err := im.leaderPartition(r.Topic, r.ID, r.Partition, r.Leader, r.LeaderEpoch, r.PartitionEpoch)
	if err != nil {
		return err
	}
	if len(r.ISR) == 0 || hasDuplicates(r.ISR) || !contains(r.ISR, p.Leader) {
		return fmt.Errorf("%w: %v for leader %d", ErrInvalidISR, r.ISR, p.Leader)
	}
	for _, id := range r.ISR {
		if !contains(p.Replicas, id) {
			return fmt.Errorf("%w: %d is not a replica of %s-%d", ErrInvalidISR, id, r.Topic, r.Partition)
		}
		if !contains(p.ISR, id) && !im.isUnfenced(id) {
			return fmt.Errorf("%w: fenced broker %d cannot join the ISR", ErrInvalidISR, id)
		}
	}
	isr := append([]int32(nil), r.ISR...)
	sort.Slice(isr, func(i, j int) bool { return isr[i] < isr[j] })
	p.ISR = isr
	p.PartitionEpoch++
	return nil
}

func (im *Image) resignLeadership(r *ResignLeadership) error {
	if r.Leader == NoLeader {
		return fmt.Errorf("%w: %s-%d resignation without a leader", ErrStalePartitionState, r.Topic, r.Partition)
	}
	if f, err := im.partition(r.Topic, r.ID, r.Partition); err == nil && f.Leader != r.Leader && contains(f.ISR, r.Leader) {
		if r.LeaderEpoch != f.LeaderEpoch || r.PartitionEpoch != f.PartitionEpoch {
			return fmt.Errorf("%w: %s-%d follower %d leaves the ISR at epoch %d/%d, image has epoch %d/%d",
				ErrStalePartitionState, r.Topic, r.Partition, r.Leader, r.LeaderEpoch, r.PartitionEpoch, f.LeaderEpoch, f.PartitionEpoch)
		}
		f.ISR = without(f.ISR, r.Leader)
		f.PartitionEpoch++
		return nil
	}
	t, p, err := im.leaderPartition(r.Topic, r.ID, r.Partition, r.Leader, r.LeaderEpoch, r.PartitionEpoch)
	if err != nil {
		return err
	}
	successor := false
	for _, id := range p.ISR {
		successor = successor || (id != r.Leader && im.isUnfenced(id))
	}
	if !successor {
		return fmt.Errorf("%w: no other unfenced ISR member of %s-%d can take over from %d", ErrInvalidISR, r.Topic, r.Partition, r.Leader)
	}
	p.ISR = without(p.ISR, r.Leader)
	im.electLeader(t, p)
	p.PartitionEpoch++
	return nil
}

func (im *Image) setTopicConfigs(r *SetTopicConfigs) error {
	t, err := im.lookup(r.Name, r.ID)
	if err != nil {
		return err
	}
	t.Configs = copyConfigs(r.Configs)
	return nil
}

func (im *Image) allocateProducerIDs(r *AllocateProducerIDs) (int64, error) {
	if r.Count <= 0 || r.Count > MaxProducerIDBlock {
		return -1, fmt.Errorf("%w: producer id block of %d", ErrInvalidRecord, r.Count)
	}
	if im.ProducerIDEnd > 1<<62 {
		return -1, fmt.Errorf("%w: producer ids exhausted", ErrInvalidRecord)
	}
	start := im.ProducerIDEnd
	im.ProducerIDEnd += r.Count
	return start, nil
}

func copyConfigs(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func without(ids []int32, id int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// String describes a partition state for logs.
func (p *Partition) String() string {
	return "leader=" + strconv.Itoa(int(p.Leader)) + " epoch=" + strconv.Itoa(int(p.LeaderEpoch)) +
		" replicas=" + fmt.Sprint(p.Replicas) + " isr=" + fmt.Sprint(p.ISR) + " partition_epoch=" + strconv.Itoa(int(p.PartitionEpoch))
}
