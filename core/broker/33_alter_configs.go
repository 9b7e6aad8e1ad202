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
// Live effect: new values of segment.*, retention.*, index.interval.bytes
// and max.message.bytes reach the topic's open logs at once (applyLogConfig
// calls partlog's SetConfig): from the next append or retention pass.
//
// Broker resources: Chronik has no dynamic broker configs, so altering
// one (this node's id or the cluster-wide default "") is INVALID_REQUEST;
// broker configs are set at startup. Other resource types are
// INVALID_REQUEST too.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(33, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.AlterConfigsRequest)
	resp := kmsg.NewPtrAlterConfigsResponse()
	resp.Resources = alterConfigResources[kmsg.AlterConfigsResponseResource](r.Resources,
		func(rr *kmsg.AlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return rr.ResourceType, rr.ResourceName
		},
		func(rr *kmsg.AlterConfigsRequestResource) (int16, string) { return b.alterConfigs(rr, r.ValidateOnly) })
	var slots []stagedSlot
	for i := range resp.Resources {
		if res := &resp.Resources[i]; res.ErrorCode == codeStaged {
			slots = append(slots, stagedSlot{&res.ErrorCode, &res.ErrorMessage})
		}
	}
	b.finishStaged(nowMs, req, resp, slots, nil)
	return nil
}

// alterConfigs replaces one resource's override set with the configs given.
func (b *Broker) alterConfigs(rr *kmsg.AlterConfigsRequestResource, validateOnly bool) (int16, string) {
	code, msg := checkConfigNames(rr.Configs, func(c *kmsg.AlterConfigsRequestResourceConfig) (string, bool) {
		return c.Name, c.Value == nil
	})
	if code != kerrNone {
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
