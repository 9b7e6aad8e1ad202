// Package metadata holds the cluster metadata image: the topics, their ids,
// partition counts and config overrides. On a single node the broker keeps
// the image in one checkpoint file; the cluster issue replaces that file
// with a replicated metadata log that applies the same records.
package metadata

import (
	"encoding/json"
	"fmt"
	"sort"
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

// Topic is one topic in the image.
type Topic struct {
	Name       string            `json:"name"`
	ID         TopicID           `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"` // overrides only; defaults come from the broker
}

// Image is the whole metadata state. The zero value is an empty image.
type Image struct {
	// ProducerIDEnd is the end of the last block of producer ids handed to
	// a broker: ids below it may be in use and are never given out again.
	ProducerIDEnd int64

	topics map[string]*Topic
	byID   map[TopicID]*Topic
}

// NewImage returns an empty image.
func NewImage() *Image {
	return &Image{topics: map[string]*Topic{}, byID: map[TopicID]*Topic{}}
}

// Topic returns the topic named name, or nil.
func (im *Image) Topic(name string) *Topic { return im.topics[name] }

// TopicByID returns the topic with the given id, or nil.
func (im *Image) TopicByID(id TopicID) *Topic { return im.byID[id] }

// TopicNames returns every topic name in sorted order, so that callers
// never depend on map iteration order.
func (im *Image) TopicNames() []string {
	names := make([]string, 0, len(im.topics))
	for name := range im.topics {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Len is the number of topics.
func (im *Image) Len() int { return len(im.topics) }

// PutTopic adds or replaces a topic. The image keeps t; callers must not
// mutate it afterwards except through the image.
func (im *Image) PutTopic(t *Topic) {
	if old := im.topics[t.Name]; old != nil {
		delete(im.byID, old.ID)
	}
	im.topics[t.Name] = t
	im.byID[t.ID] = t
}

// RemoveTopic deletes the topic named name; absent is a no-op.
func (im *Image) RemoveTopic(name string) {
	if t := im.topics[name]; t != nil {
		delete(im.byID, t.ID)
		delete(im.topics, name)
	}
}

// fileFormat is the JSON layout of an image checkpoint. Topics are sorted by
// name so that the same image always encodes to the same bytes.
type fileFormat struct {
	Version       int      `json:"version"`
	ProducerIDEnd int64    `json:"producer_id_end"`
	Topics        []*Topic `json:"topics"`
}

// Marshal encodes the image deterministically.
func (im *Image) Marshal() ([]byte, error) {
	f := fileFormat{Version: 1, ProducerIDEnd: im.ProducerIDEnd}
	for _, name := range im.TopicNames() {
		f.Topics = append(f.Topics, im.topics[name])
	}
	return json.MarshalIndent(f, "", "  ")
}

// Unmarshal decodes an image written by Marshal.
func Unmarshal(data []byte) (*Image, error) {
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("metadata: decode image: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("metadata: unsupported image version %d", f.Version)
	}
	im := NewImage()
	if f.ProducerIDEnd < 0 {
		return nil, fmt.Errorf("metadata: negative producer id end %d", f.ProducerIDEnd)
	}
	im.ProducerIDEnd = f.ProducerIDEnd
	for _, t := range f.Topics {
		if t == nil || t.Name == "" || t.Partitions <= 0 {
			return nil, fmt.Errorf("metadata: invalid topic entry %+v", t)
		}
		if im.topics[t.Name] != nil {
			return nil, fmt.Errorf("metadata: duplicate topic %q", t.Name)
		}
		im.PutTopic(t)
	}
	return im, nil
}
