package broker

// DescribeConfigs, versions 0-4.
//
// v0 reports IsDefault per config; v1 replaces it with the config source
// and adds synonyms (IncludeSynonyms); v2 only changed throttling; v3 adds
// the config type and documentation (IncludeDocumentation; Chronik has no
// documentation strings and answers null, which the schema allows); v4 is
// flexible.
//
// Resources:
//
//   - Topic (type 2): every config in topicConfigDefs, or the requested
//     names among them (names Chronik does not know are left out, as Kafka
//     leaves out names it does not know). A topic override has source
//     DYNAMIC_TOPIC_CONFIG; any other value comes from the broker config
//     that supplies the default, and, as in Kafka, takes the source of that
//     synonym: STATIC_BROKER_CONFIG when the broker was started with a
//     value other than the built-in default, DEFAULT_CONFIG otherwise.
//     Topic configs are never read-only.
//   - Broker (type 4) named by this node's id: the broker configs Chronik
//     derives from Config (brokerConfigDefs), read-only because Chronik has
//     no dynamic broker configs. The empty name is Kafka's cluster-wide
//     dynamic default resource; there are no dynamic defaults, so it is
//     answered with no configs, as Kafka answers it when none are set.
//
// Errors are per resource: an invalid topic name INVALID_TOPIC_EXCEPTION,
// an unknown topic UNKNOWN_TOPIC_OR_PARTITION, another broker's id or a
// non-numeric broker name INVALID_REQUEST, and any other resource type
// (broker loggers, client metrics, groups) INVALID_REQUEST.

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(32, 0, 4, handleDescribeConfigs) }

// brokerConfigDef is one broker config DescribeConfigs reports.
type brokerConfigDef struct {
	name string
	typ  configType
	// value is the effective value under a broker config.
	value func(c *Config) string
	// required marks a config without a built-in default (node.id): its
	// value always comes from the broker's startup configuration.
	required bool
}

// builtinConfig holds the built-in defaults. A broker config whose value
// differs from it was set at startup (STATIC_BROKER_CONFIG); one equal to
// it is reported as DEFAULT_CONFIG, whether or not the operator spelled it
// out, since the Config struct does not record that.
var builtinConfig = DefaultConfig()

// brokerConfigDefs lists the broker configs, sorted by name: the broker
// synonyms of every topic config plus the broker-only settings Config has.
var brokerConfigDefs = func() []brokerConfigDef {
	defs := []brokerConfigDef{
		{name: "auto.create.topics.enable", typ: configTypeBoolean,
			value: func(c *Config) string { return strconv.FormatBool(c.AutoCreateTopics) }},
		{name: "default.replication.factor", typ: configTypeInt,
			value: func(c *Config) string { return itoa(int64(c.DefaultReplicationFactor)) }},
		{name: "log.retention.check.interval.ms", typ: configTypeLong,
			value: func(c *Config) string { return itoa(c.RetentionCheckIntervalMs) }},
		{name: "node.id", typ: configTypeInt, required: true,
			value: func(c *Config) string { return itoa(int64(c.NodeID)) }},
		{name: "num.partitions", typ: configTypeInt,
			value: func(c *Config) string { return itoa(int64(c.NumPartitions)) }},
	}
	for _, td := range topicConfigDefs {
		if td.brokerName == "" {
			continue
		}
		defs = append(defs, brokerConfigDef{name: td.brokerName, typ: td.typ, value: td.defaultValue})
	}
	// Stable, so that when two topic configs share a broker synonym the
	// first definition wins.
	sort.SliceStable(defs, func(i, j int) bool { return defs[i].name < defs[j].name })
	out := defs[:0]
	for _, d := range defs {
		if len(out) == 0 || out[len(out)-1].name != d.name {
			out = append(out, d)
		}
	}
	return out
}()

// lookupBrokerConfig returns the definition of a broker config, or nil.
func lookupBrokerConfig(name string) *brokerConfigDef {
	return lookupByName(brokerConfigDefs, name, func(d *brokerConfigDef) string { return d.name })
}

type configSynonym = kmsg.DescribeConfigsResponseResourceConfigConfigSynonym

func newSynonym(name, value string, source kmsg.ConfigSource) configSynonym {
	s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	s.Name = name
	s.Value = &value
	s.Source = source
	return s
}

// brokerConfigSynonyms lists where a broker config's value may come from,
// highest precedence first, as Kafka's synonyms do: the startup value
// when it is not the built-in default, then the built-in default.
func (b *Broker) brokerConfigSynonyms(d *brokerConfigDef) []configSynonym {
	v := d.value(&b.cfg)
	if d.required {
		return []configSynonym{newSynonym(d.name, v, kmsg.ConfigSourceStaticBrokerConfig)}
	}
	var out []configSynonym
	def := d.value(&builtinConfig)
	if v != def {
		out = append(out, newSynonym(d.name, v, kmsg.ConfigSourceStaticBrokerConfig))
	}
	return append(out, newSynonym(d.name, def, kmsg.ConfigSourceDefaultConfig))
}

// newConfigEntry builds one DescribeConfigs entry; its source is that of
// the first synonym (DEFAULT_CONFIG without any), as in Kafka.
func newConfigEntry(name, value string, typ configType, readOnly bool, synonyms []configSynonym, includeSynonyms bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = name
	c.Value = &value
	c.ReadOnly = readOnly
	c.Source = kmsg.ConfigSourceDefaultConfig
	if len(synonyms) > 0 {
		c.Source = synonyms[0].Source
	}
	c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig // v0 only
	c.ConfigType = kmsg.ConfigType(typ)
	if includeSynonyms {
		c.ConfigSynonyms = synonyms
	} else {
		c.ConfigSynonyms = []configSynonym{}
	}
	return c
}

// describeTopicConfig reports one topic config given the topic's overrides.
func (b *Broker) describeTopicConfig(def *topicConfigDef, overrides map[string]string, includeSynonyms bool) kmsg.DescribeConfigsResponseResourceConfig {
	var synonyms []configSynonym
	value, overridden := overrides[def.name]
	if overridden {
		synonyms = append(synonyms, newSynonym(def.name, value, kmsg.ConfigSourceDynamicTopicConfig))
	} else {
		value = def.defaultValue(&b.cfg)
	}
	if bd := lookupBrokerConfig(def.brokerName); bd != nil {
		synonyms = append(synonyms, b.brokerConfigSynonyms(bd)...)
	}
	return newConfigEntry(def.name, value, def.typ, false, synonyms, includeSynonyms)
}

func handleDescribeConfigs(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.DescribeConfigsRequest)
	resp := kmsg.NewPtrDescribeConfigsResponse()
	includeSynonyms := r.Version >= 1 && r.IncludeSynonyms
	for _, rr := range r.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType = rr.ResourceType
		res.ResourceName = rr.ResourceName
		var code int16
		var msg string
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			res.Configs, code, msg = b.describeTopicConfigs(&rr, includeSynonyms)
		case kmsg.ConfigResourceTypeBroker:
			res.Configs, code, msg = b.describeBrokerConfigs(&rr, includeSynonyms)
		default:
			code, msg = unsupportedResourceType(rr.ResourceType)
		}
		res.ErrorCode, res.ErrorMessage = code, errorMessage(code, msg)
		if code != kerrNone {
			res.Configs = []kmsg.DescribeConfigsResponseResourceConfig{}
		}
		resp.Resources = append(resp.Resources, res)
	}
	b.reply(req, resp)
	return nil
}

// configNameFilter reports whether a config was asked for: a null or empty
// name list asks for all of them.
func configNameFilter(names []string) func(string) bool {
	if len(names) == 0 {
		return func(string) bool { return true }
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return func(name string) bool { return set[name] }
}

func (b *Broker) describeTopicConfigs(rr *kmsg.DescribeConfigsRequestResource, includeSynonyms bool) ([]kmsg.DescribeConfigsResponseResourceConfig, int16, string) {
	ts, code, msg := b.configTopic(rr.ResourceName)
	if code != kerrNone {
		return nil, code, msg
	}
	wanted := configNameFilter(rr.ConfigNames)
	configs := []kmsg.DescribeConfigsResponseResourceConfig{}
	for i := range topicConfigDefs {
		def := &topicConfigDefs[i]
		if wanted(def.name) {
			configs = append(configs, b.describeTopicConfig(def, ts.meta.Configs, includeSynonyms))
		}
	}
	return configs, kerrNone, ""
}

func (b *Broker) describeBrokerConfigs(rr *kmsg.DescribeConfigsRequestResource, includeSynonyms bool) ([]kmsg.DescribeConfigsResponseResourceConfig, int16, string) {
	configs := []kmsg.DescribeConfigsResponseResourceConfig{}
	if rr.ResourceName == "" {
		// The cluster-wide dynamic defaults: there are none.
		return configs, kerrNone, ""
	}
	if code, msg := b.checkBrokerResourceName(rr.ResourceName); code != kerrNone {
		return nil, code, msg
	}
	wanted := configNameFilter(rr.ConfigNames)
	for i := range brokerConfigDefs {
		d := &brokerConfigDefs[i]
		if wanted(d.name) {
			configs = append(configs, newConfigEntry(d.name, d.value(&b.cfg), d.typ, true, b.brokerConfigSynonyms(d), includeSynonyms))
		}
	}
	return configs, kerrNone, ""
}

// configTopic resolves the topic a config resource names. The empty name
// is Kafka's default-topic resource, which does not exist.
func (b *Broker) configTopic(name string) (*topicState, int16, string) {
	if name == "" {
		return nil, kerrInvalidRequest, "Default topic resources are not allowed."
	}
	if err := validTopicName(name); err != nil {
		return nil, kerrInvalidTopicException, err.Error()
	}
	ts := b.topics[name]
	if ts == nil {
		return nil, kerrUnknownTopicOrPartition, fmt.Sprintf("The topic '%s' does not exist.", name)
	}
	return ts, kerrNone, ""
}

// checkBrokerResourceName accepts a broker resource named by this node's
// id (the empty cluster-default name is handled by the callers).
func (b *Broker) checkBrokerResourceName(name string) (int16, string) {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return kerrInvalidRequest, fmt.Sprintf("Broker id must be an integer, but it is: %s", name)
	}
	if int32(id) != b.cfg.NodeID {
		return kerrInvalidRequest, fmt.Sprintf("Unexpected broker id, expected %d or empty string, but received %s", b.cfg.NodeID, name)
	}
	return kerrNone, ""
}

// unsupportedResourceType answers a config resource type Chronik has no
// configs for.
func unsupportedResourceType(t kmsg.ConfigResourceType) (int16, string) {
	return kerrInvalidRequest, fmt.Sprintf("Unsupported resource type: %s (%d)", t, int8(t))
}
