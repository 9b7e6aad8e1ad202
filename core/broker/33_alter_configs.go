package broker

// AlterConfigs, versions 0-2.
//
// v1 only changed throttling; v2 is flexible. This is Kafka's legacy,
// non-incremental API: the configs given for a topic become its whole
// override set, and every override not named is removed. ValidateOnly runs
// every check and changes nothing.
//
// Checks, in Kafka's order: a resource named twice is INVALID_REQUEST for
// each occurrence; a config named twice within a resource, or a null
// value, is INVALID_REQUEST; an unknown topic UNKNOWN_TOPIC_OR_PARTITION;
// an unknown config or bad value INVALID_CONFIG (validateTopicConfigs).
// The new overrides are persisted in the metadata image before the
// response.
//
// Live effect: partlog.Config is fixed when a log is opened; see
// applyLogConfig. Until partlog can change it at runtime, new values of
// segment.*, retention.*, index.interval.bytes and max.message.bytes
// reach the open logs of the topic at the next restart; they are reported
// by DescribeConfigs and used by partitions added meanwhile at once.
//
// Broker resources: Chronik has no dynamic broker configs, so altering
// one (this node's id or the cluster-wide default "") is INVALID_REQUEST;
// broker configs are set at startup. Other resource types are
// INVALID_REQUEST too.

import (
	"fmt"
	"maps"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(33, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.AlterConfigsRequest)
	resp := kmsg.NewPtrAlterConfigsResponse()
	dup := duplicateConfigResources(len(r.Resources), func(i int) configResourceKey {
		return configResourceKey{r.Resources[i].ResourceType, r.Resources[i].ResourceName}
	})
	for i, rr := range r.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType = rr.ResourceType
		res.ResourceName = rr.ResourceName
		var code int16
		var msg string
		if dup[i] {
			code, msg = kerrInvalidRequest, "Each resource must appear at most once."
		} else {
			code, msg = b.alterConfigs(&rr, r.ValidateOnly)
		}
		res.ErrorCode = code
		if code != kerrNone {
			res.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, res)
	}
	b.reply(req, resp)
	return nil
}

func (b *Broker) alterConfigs(rr *kmsg.AlterConfigsRequestResource, validateOnly bool) (int16, string) {
	names := make([]string, len(rr.Configs))
	var nulls []string
	for i, c := range rr.Configs {
		names[i] = c.Name
		if c.Value == nil {
			nulls = append(nulls, c.Name)
		}
	}
	if code, msg := checkConfigNames(names, nulls); code != kerrNone {
		return code, msg
	}
	ts, code, msg := b.alterConfigTarget(rr.ResourceType, rr.ResourceName)
	if code != kerrNone {
		return code, msg
	}
	overrides := make(map[string]string, len(rr.Configs))
	for _, c := range rr.Configs {
		overrides[c.Name] = *c.Value
	}
	return b.commitTopicConfigs(ts, overrides, validateOnly)
}

// configResourceKey identifies a config resource within a request.
type configResourceKey struct {
	typ  kmsg.ConfigResourceType
	name string
}

// duplicateConfigResources marks the resources that appear more than once
// in a request of n resources.
func duplicateConfigResources(n int, key func(i int) configResourceKey) []bool {
	count := make(map[configResourceKey]int, n)
	for i := 0; i < n; i++ {
		count[key(i)]++
	}
	dup := make([]bool, n)
	for i := 0; i < n; i++ {
		dup[i] = count[key(i)] > 1
	}
	return dup
}

// checkConfigNames rejects a resource that names a config twice or sets
// null values (nulls lists the offending names in request order).
func checkConfigNames(names, nulls []string) (int16, string) {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return kerrInvalidRequest, "Error due to duplicate config keys"
		}
		seen[n] = true
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
	if err := b.setTopicConfigs(ts, overrides); err != nil {
		b.env.Logger.Error("alter topic configs: write image", "topic", ts.meta.Name, "err", err)
		return kerrKafkaStorageError, fmt.Sprintf("persist topic configs: %v", err)
	}
	b.env.Logger.Info("altered topic configs", "topic", ts.meta.Name, "overrides", len(overrides))
	return kerrNone, ""
}
