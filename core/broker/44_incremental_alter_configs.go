package broker

// IncrementalAlterConfigs, versions 0-1.
//
// v1 is flexible. Each config carries an operation applied to the topic's
// current overrides (KIP-339):
//
//   - SET (0) sets the override;
//   - DELETE (1) removes it (the value is ignored; removing an absent
//     override is not an error);
//   - APPEND (2) and SUBTRACT (3) add values to or remove values from a
//     comma-separated list, starting from the override or, without one,
//     from the default; only list-type configs allow them (INVALID_CONFIG
//     otherwise). APPEND skips values already present.
//
// The resulting override set is validated as a whole (INVALID_CONFIG) and
// persisted in the metadata image before the response; ValidateOnly stops
// before the write. The resource checks, the broker-resource refusal and
// the live effect on open partition logs are those of AlterConfigs (see
// 33_alter_configs.go; the code they share is in admin_common.go): new log
// settings reach the topic's open logs at once. An unknown operation is
// INVALID_REQUEST.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(44, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.IncrementalAlterConfigsRequest)
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	resp.Resources = alterConfigResources[kmsg.IncrementalAlterConfigsResponseResource](r.Resources,
		func(rr *kmsg.IncrementalAlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return rr.ResourceType, rr.ResourceName
		},
		func(rr *kmsg.IncrementalAlterConfigsRequestResource) (int16, string) {
			return b.incrementalAlterConfigs(rr, r.ValidateOnly)
		})
	var slots []stagedSlot
	for i := range resp.Resources {
		if res := &resp.Resources[i]; res.ErrorCode == codeStaged {
			slots = append(slots, stagedSlot{&res.ErrorCode, &res.ErrorMessage})
		}
	}
	b.finishStaged(nowMs, req, resp, slots, nil)
	return nil
}

// incrementalAlterConfigs applies one resource's operations to its
// current override set.
func (b *Broker) incrementalAlterConfigs(rr *kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) (int16, string) {
	code, msg := checkConfigNames(rr.Configs, func(c *kmsg.IncrementalAlterConfigsRequestResourceConfig) (string, bool) {
		return c.Name, c.Op != kmsg.IncrementalAlterConfigOpDelete && c.Value == nil
	})
	if code != kerrNone {
		return code, msg
	}
	for _, c := range rr.Configs {
		if c.Op < kmsg.IncrementalAlterConfigOpSet || c.Op > kmsg.IncrementalAlterConfigOpSubtract {
			return kerrInvalidRequest, fmt.Sprintf("Unknown operations type %d", int8(c.Op))
		}
	}
	ts, code, msg := b.alterConfigTarget(rr.ResourceType, rr.ResourceName)
	if code != kerrNone {
		return code, msg
	}
	overrides := make(map[string]string, len(ts.meta.Configs)+len(rr.Configs))
	for k, v := range ts.meta.Configs {
		overrides[k] = v
	}
	for _, c := range rr.Configs {
		if code, msg := b.applyConfigOp(overrides, &c); code != kerrNone {
			return code, msg
		}
	}
	return b.commitTopicConfigs(ts, overrides, validateOnly)
}

// applyConfigOp applies one operation to a topic's override set. Names are
// unique within a resource, so the order of operations does not matter.
func (b *Broker) applyConfigOp(overrides map[string]string, c *kmsg.IncrementalAlterConfigsRequestResourceConfig) (int16, string) {
	switch c.Op {
	case kmsg.IncrementalAlterConfigOpSet:
		overrides[c.Name] = *c.Value
	case kmsg.IncrementalAlterConfigOpDelete:
		delete(overrides, c.Name)
	case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
		def := lookupTopicConfig(c.Name)
		if def == nil || def.typ != configTypeList {
			return kerrInvalidConfig, fmt.Sprintf("Can't %s to key %s because its type is not LIST.", c.Op, c.Name)
		}
		current, ok := overrides[c.Name]
		if !ok {
			current = def.defaultValue(&b.cfg)
		}
		list := splitConfigList(current)
		for _, v := range strings.Split(*c.Value, ",") {
			if c.Op == kmsg.IncrementalAlterConfigOpAppend {
				if !slices.Contains(list, v) {
					list = append(list, v)
				}
			} else if i := slices.Index(list, v); i >= 0 {
				list = slices.Delete(list, i, i+1)
			}
		}
		overrides[c.Name] = strings.Join(list, ",")
	}
	return kerrNone, ""
}

// splitConfigList splits a list-type config value; the empty string is the
// empty list.
func splitConfigList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}
