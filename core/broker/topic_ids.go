package broker

// Topic ids on the data path (KIP-516): Produce v13+ and Fetch v13+ name
// a topic by its id instead of its name. An id is resolved afresh every
// time a request is served (a long poll is built again on each wake), so
// that a topic deleted and created again under the same name never serves
// a request meant for the old one: the old id names no topic, and the
// request gets UNKNOWN_TOPIC_ID, as Kafka answers.

import (
	"github.com/chronik-streaming/chronik/core/metadata"
)

// topicIDsFromVersion is the first Produce and Fetch version that names
// topics by id.
const topicIDsFromVersion = 13

// requestTopic resolves a topic a request names: by id when byID, else by
// name. It returns nil and the error code a partition of an unknown topic
// gets: UNKNOWN_TOPIC_ID for an id, UNKNOWN_TOPIC_OR_PARTITION for a name.
// An id is only known when the broker's own state of the topic carries
// that id too (it follows the image, so the two agree once the broker has
// acted on the image's last change).
func (b *Broker) requestTopic(byID bool, name string, id [16]byte) (*topicState, int16) {
	if !byID {
		if ts := b.topics[name]; ts != nil {
			return ts, kerrNone
		}
		return nil, kerrUnknownTopicOrPartition
	}
	if id == ([16]byte{}) {
		return nil, kerrUnknownTopicID
	}
	t := b.image.TopicByID(metadata.TopicID(id))
	if t == nil {
		return nil, kerrUnknownTopicID
	}
	ts := b.topics[t.Name]
	if ts == nil || ts.meta.ID != metadata.TopicID(id) {
		return nil, kerrUnknownTopicID
	}
	return ts, kerrNone
}
