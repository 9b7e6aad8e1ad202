package broker

// Helpers shared by the admin and offset API handlers (one file per API
// key): duplicate entries in a request, per-entry error messages, the
// config resources of AlterConfigs and IncrementalAlterConfigs, and the
// partition lookup of ListOffsets, DeleteRecords and OffsetForLeaderEpoch.

import (
	"maps"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// duplicated marks the entries of a request whose key appears more than
// once in it. Kafka answers every occurrence of a repeated topic or config
// resource with INVALID_REQUEST and acts on none of them.
func duplicated[E any, K comparable](entries []E, key func(*E) K) []bool {
	count := make(map[K]int, len(entries))
	for i := range entries {
		count[key(&entries[i])]++
	}
	dup := make([]bool, len(entries))
	for i := range entries {
		dup[i] = count[key(&entries[i])] > 1
	}
	return dup
}

// errorMessage is the ErrorMessage of a response entry answered with code
// and msg: null on success.
func errorMessage(code int16, msg string) *string {
	if code == kerrNone {
		return nil
	}
	return &msg
}

// lookupByName finds the definition called name in defs, which are sorted
// by name; nil when there is none.
func lookupByName[D any](defs []D, name string, nameOf func(*D) string) *D {
	i := sort.Search(len(defs), func(i int) bool { return nameOf(&defs[i]) >= name })
	if i < len(defs) && nameOf(&defs[i]) == name {
		return &defs[i]
	}
	return nil
}

// configResourceKey identifies a config resource within a request.
type configResourceKey struct {
	typ  kmsg.ConfigResourceType
	name string
}

// alteredConfigResource is a response resource of AlterConfigs or
// IncrementalAlterConfigs. kmsg declares the two with the same fields and
// no defaults, so one converts to the other; should their fields ever
// differ, this stops compiling rather than drop one.
type alteredConfigResource interface {
	kmsg.AlterConfigsResponseResource | kmsg.IncrementalAlterConfigsResponseResource
}

// alterConfigResources answers the resources of an AlterConfigs or
// IncrementalAlterConfigs request in request order: a resource named more
// than once is INVALID_REQUEST, every other one gets what alter says.
// resource returns a request resource's type and name.
func alterConfigResources[Resp alteredConfigResource, Req any](resources []Req,
	resource func(*Req) (kmsg.ConfigResourceType, string), alter func(*Req) (int16, string)) []Resp {
	dup := duplicated(resources, func(rr *Req) configResourceKey {
		typ, name := resource(rr)
		return configResourceKey{typ, name}
	})
	var out []Resp
	for i := range resources {
		code, msg := kerrInvalidRequest, "Each resource must appear at most once."
		if !dup[i] {
			code, msg = alter(&resources[i])
		}
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = resource(&resources[i])
		res.ErrorCode, res.ErrorMessage = code, errorMessage(code, msg)
		out = append(out, Resp(res))
	}
	return out
}

// checkConfigNames rejects a resource that names a config twice or gives
// a null value where its operation needs one; entry returns a config's
// name and whether its value is such a null. A repeated name is reported
// before any null, and the null message lists the names in request order.
func checkConfigNames[C any](configs []C, entry func(*C) (name string, badNull bool)) (int16, string) {
	seen := make(map[string]bool, len(configs))
	repeated := false
	var nulls []string
	for i := range configs {
		name, badNull := entry(&configs[i])
		repeated = repeated || seen[name]
		seen[name] = true
		if badNull {
			nulls = append(nulls, name)
		}
	}
	if repeated {
		return kerrInvalidRequest, "Error due to duplicate config keys"
	}
	if len(nulls) > 0 {
		return kerrInvalidRequest, "Null value not supported for : " + strings.Join(nulls, ", ")
	}
	return kerrNone, ""
}

// alterConfigTarget resolves the resource of an AlterConfigs or
// IncrementalAlterConfigs request to the topic whose overrides change.
func (b *Broker) alterConfigTarget(typ kmsg.ConfigResourceType, name string) (*topicState, int16, string) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return b.configTopic(name)
	case kmsg.ConfigResourceTypeBroker:
		if name != "" {
			if code, msg := b.checkBrokerResourceName(name); code != kerrNone {
				return nil, code, msg
			}
		}
		return nil, kerrInvalidRequest, "Broker configs cannot be altered on Chronik yet; set them at startup."
	default:
		code, msg := unsupportedResourceType(typ)
		return nil, code, msg
	}
}

// commitTopicConfigs validates a topic's complete new override set and,
// unless validateOnly, persists it.
func (b *Broker) commitTopicConfigs(ts *topicState, overrides map[string]string, validateOnly bool) (int16, string) {
	if err := validateTopicConfigs(overrides); err != nil {
		return kerrInvalidConfig, err.Error()
	}
	if validateOnly || maps.Equal(overrides, ts.meta.Configs) {
		return kerrNone, ""
	}
	if len(overrides) == 0 {
		overrides = nil
	}
	b.env.Logger.Info("altering topic configs", "topic", ts.meta.Name, "overrides", len(overrides))
	return b.setTopicConfigs(ts, overrides)
}

// onlinePartition finds a partition whose log is open:
// UNKNOWN_TOPIC_OR_PARTITION when the topic or partition does not exist,
// KAFKA_STORAGE_ERROR when the partition is offline.
func (b *Broker) onlinePartition(topic string, index int32) (*partition, int16) {
	p := b.lookupPartition(topic, index)
	if p == nil {
		return nil, kerrUnknownTopicOrPartition
	}
	if p.hosted && p.log == nil {
		return nil, kerrKafkaStorageError
	}
	if !p.isLeader() {
		return nil, kerrNotLeaderOrFollower
	}
	return p, kerrNone
}

// epochPartition is onlinePartition for a request that may carry the
// client's current leader epoch: when hasEpoch (the request version has
// the field) it is checked as in Fetch (KIP-320).
func (b *Broker) epochPartition(topic string, index int32, hasEpoch bool, currentLeaderEpoch int32) (*partition, int16) {
	p, code := b.onlinePartition(topic, index)
	if code == kerrNone && hasEpoch {
		code = checkLeaderEpoch(currentLeaderEpoch, p.leaderEpoch)
	}
	return p, code
}
