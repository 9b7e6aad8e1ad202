package broker

// ReplicaView is what this broker holds and believes about one partition
// replica, read by the simulator's replication checkers (sim/replcheck.go)
// to record what a leader saw when it acted. It is a copy: changing it
// changes nothing in the broker.
type ReplicaView struct {
	// Leader: this broker leads the partition now (its log is open).
	Leader bool
	// LeaderEpoch and PartitionEpoch are the epochs this broker acts on
	// (from its image).
	LeaderEpoch, PartitionEpoch int32
	// ISR is the committed ISR of this broker's image; MinInsync the
	// partition's min.insync.replicas.
	ISR       []int32
	MinInsync int32
	// HighWatermark, LogEndOffset and DurableEndOffset of the local log
	// (-1 while it is offline).
	HighWatermark, LogEndOffset, DurableEndOffset int64
	// EpochStartOffset is the log end offset when this leadership began
	// (leaders only).
	EpochStartOffset int64
	// Uncertain: this copy may lack synced records (recovery cut it
	// while its partition checkpoint was unreadable, or it was found
	// damaged before a restart), and no leader has admitted it to the ISR
	// since, so it does not lead (replication.go, uncertain).
	Uncertain bool
}

// ReplicaView reports this broker's view of partition index of topic;
// false when the broker has no such partition.
func (b *Broker) ReplicaView(topic string, index int32) (ReplicaView, bool) {
	var v ReplicaView
	ok := b.ReplicaViewInto(topic, index, &v)
	return v, ok
}

// ReplicaViewInto is ReplicaView writing into v, whose ISR slice it
// reuses (v is left alone when it returns false): the simulator's
// checkers look at the leader's view for every replica fetch, and a new
// ISR copy per look was a measurable share of their allocation.
func (b *Broker) ReplicaViewInto(topic string, index int32, v *ReplicaView) bool {
	p := b.replicaProgressInto(topic, index, v)
	if p == nil {
		return false
	}
	v.PartitionEpoch = p.partitionEpoch
	v.MinInsync = b.minISR(p)
	v.DurableEndOffset = -1
	if p.log != nil {
		v.DurableEndOffset = p.log.DurableEndOffset()
	}
	v.Uncertain = b.uncertain(p)
	return true
}

// ReplicaProgressInto is ReplicaViewInto for the simulator's look at a
// leader on every replica fetch it receives: it fills only Leader,
// LeaderEpoch, ISR (reusing v's slice), HighWatermark, LogEndOffset and
// EpochStartOffset, and zeroes the other fields. Skipping
// min.insync.replicas (a config map lookup) and the rest made the look a
// third cheaper; callers must read only the fields it fills.
func (b *Broker) ReplicaProgressInto(topic string, index int32, v *ReplicaView) bool {
	return b.replicaProgressInto(topic, index, v) != nil
}

// replicaProgressInto fills what ReplicaProgressInto promises and returns
// the partition, or nil (v left alone) when the broker has no such one.
func (b *Broker) replicaProgressInto(topic string, index int32, v *ReplicaView) *partition {
	ts := b.topics[topic]
	if ts == nil || index < 0 || index >= int32(len(ts.partitions)) {
		return nil
	}
	p := ts.partitions[index]
	*v = ReplicaView{
		Leader:           p.isLeader(),
		LeaderEpoch:      p.leaderEpoch,
		ISR:              append(v.ISR[:0], p.isr...),
		HighWatermark:    -1,
		LogEndOffset:     -1,
		EpochStartOffset: p.lead.EpochStartOffset,
	}
	if p.log != nil {
		v.HighWatermark = p.log.HighWatermark()
		v.LogEndOffset = p.log.LogEndOffset()
	}
	return p
}
