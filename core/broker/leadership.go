package broker

// Leadership is what a broker believes about a partition it leads, read
// by the simulator when an answer leaves the broker to judge how fresh a
// read may be expected to be.
type Leadership struct {
	// LeaderEpoch is the leader epoch this broker leads at.
	LeaderEpoch int32
	// HighWatermark is the partition's high watermark now.
	HighWatermark int64
	// EpochStartOffset is the log end offset when this leadership began:
	// until the high watermark reaches it, records committed under earlier
	// epochs may lie above the high watermark (Kafka's KIP-207 reasoning),
	// so the leader's answers may lag the committed log.
	EpochStartOffset int64
}

// Leading reports the broker's leadership of topic's partition index, or
// false when the broker does not lead it (or the partition is offline).
// It changes nothing.
func (b *Broker) Leading(topic string, index int32) (Leadership, bool) {
	p, code := b.onlinePartition(topic, index)
	if code != kerrNone {
		return Leadership{}, false
	}
	return Leadership{LeaderEpoch: p.leaderEpoch, HighWatermark: p.log.HighWatermark(), EpochStartOffset: p.lead.EpochStartOffset}, true
}
