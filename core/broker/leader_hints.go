package broker

// Leader hints (KIP-951): a Produce (v10+) or Fetch (v16+) partition
// answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH carries the
// leader and leader epoch this broker knows of, and the response lists
// the endpoints of those leaders, so that a client can move to the new
// leader without a Metadata round trip first. Kafka fills them from its
// metadata cache; Chronik from the partition state it acts on, which
// follows the image. No hint is given while no leader is known, or for a
// leader whose endpoint the image does not hold.

import (
	"github.com/chronik-streaming/chronik/core/metadata"
)

// leaderHint is one partition's hint: its leader's id and epoch.
type leaderHint struct {
	leaderID, leaderEpoch int32
}

// wantsLeaderHint reports whether an answer with code carries a hint.
func wantsLeaderHint(code int16) bool {
	return code == kerrNotLeaderOrFollower || code == kerrFencedLeaderEpoch
}

// partitionLeaderHint returns ts's partition index's leader hint; ok is
// false when there is none to give (unknown partition, no leader, or a
// leader without a known endpoint).
func (b *Broker) partitionLeaderHint(ts *topicState, index int32) (leaderHint, bool) {
	if ts == nil || index < 0 || index >= int32(len(ts.partitions)) {
		return leaderHint{}, false
	}
	p := ts.partitions[index]
	if p.leaderID == metadata.NoLeader {
		return leaderHint{}, false
	}
	if _, _, ok := b.brokerEndpoint(p.leaderID); !ok {
		return leaderHint{}, false
	}
	return leaderHint{leaderID: p.leaderID, leaderEpoch: p.leaderEpoch}, true
}

// brokerEndpoint returns broker id's client endpoint, as Metadata lists
// it: this broker's advertised address, another's registered one.
func (b *Broker) brokerEndpoint(id int32) (host string, port int32, ok bool) {
	if id == b.cfg.NodeID {
		return b.cfg.AdvertisedHost, b.cfg.AdvertisedPort, true
	}
	reg := b.image.Broker(id)
	if reg == nil {
		return "", 0, false
	}
	return reg.Host, reg.Port, true
}

// hintedLeaders collects, in first-seen order and each once, the leader
// ids of a response's hints, for its endpoint list. A response names few
// leaders (at most the cluster's brokers), so a linear scan is enough.
type hintedLeaders []int32

// add notes id.
func (h *hintedLeaders) add(id int32) {
	for _, seen := range *h {
		if seen == id {
			return
		}
	}
	*h = append(*h, id)
}
