package broker

import (
	"errors"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

func ptr[T any](v T) *T { return &v }

// ---- DescribeCluster ----

func TestDescribeCluster(t *testing.T) {
	tb := newTestBroker(t, func(c *Config) {
		c.NodeID = 7
		c.ClusterID = "test-cluster"
		c.AdvertisedHost = "broker.example"
		c.AdvertisedPort = 19092
	})
	for _, v := range []int16{0, 1} {
		for _, authOps := range []bool{false, true} {
			req := kmsg.NewPtrDescribeClusterRequest()
			req.Version = v
			req.IncludeClusterAuthorizedOperations = authOps
			resp := tb.do(req).(*kmsg.DescribeClusterResponse)
			if resp.ErrorCode != 0 || resp.ClusterID != "test-cluster" || resp.ControllerID != 7 || resp.EndpointType != 1 {
				t.Fatalf("v%d: %+v", v, resp)
			}
			want := []kmsg.DescribeClusterResponseBroker{{NodeID: 7, Host: "broker.example", Port: 19092}}
			if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != want[0].NodeID || resp.Brokers[0].Host != want[0].Host ||
				resp.Brokers[0].Port != want[0].Port || resp.Brokers[0].Rack != nil {
				t.Fatalf("v%d brokers: %+v", v, resp.Brokers)
			}
			wantOps := int32(math.MinInt32)
			if authOps {
				// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE
				wantOps = 0x1fa0
			}
			if resp.ClusterAuthorizedOperations != wantOps {
				t.Fatalf("v%d authorized ops %#x, want %#x", v, resp.ClusterAuthorizedOperations, wantOps)
			}
		}
	}
	// v0 has no endpoint type: a zero value there must not be read as one.
	v0 := &kmsg.DescribeClusterRequest{Version: 0}
	if resp := tb.do(v0).(*kmsg.DescribeClusterResponse); resp.ErrorCode != 0 {
		t.Fatalf("v0 zero endpoint type: error %d", resp.ErrorCode)
	}
	for _, tc := range []struct {
		endpointType int8
		code         int16
	}{{2, kerrMismatchedEndpointType}, {0, kerrUnsupportedEndpointType}, {9, kerrUnsupportedEndpointType}} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = 1
		req.EndpointType = tc.endpointType
		resp := tb.do(req).(*kmsg.DescribeClusterResponse)
		if resp.ErrorCode != tc.code || resp.ErrorMessage == nil || len(resp.Brokers) != 0 {
			t.Fatalf("endpoint type %d: %+v", tc.endpointType, resp)
		}
	}
}

// ---- CreatePartitions ----

func createPartitionsReq(version int16, validateOnly bool, topics ...kmsg.CreatePartitionsRequestTopic) *kmsg.CreatePartitionsRequest {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.Version = version
	req.ValidateOnly = validateOnly
	req.TimeoutMillis = 5000
	req.Topics = topics
	return req
}

func cpTopic(name string, count int32, assignment ...[]int32) kmsg.CreatePartitionsRequestTopic {
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic = name
	rt.Count = count
	for _, a := range assignment {
		rt.Assignment = append(rt.Assignment, kmsg.CreatePartitionsRequestTopicAssignment{Replicas: a})
	}
	return rt
}

func metadataPartitions(tb *testBroker, topic string) int {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	req.Topics = append(req.Topics, mt)
	resp := tb.do(req).(*kmsg.MetadataResponse)
	if resp.Topics[0].ErrorCode != 0 {
		return -1
	}
	return len(resp.Topics[0].Partitions)
}

func TestCreatePartitionsErrors(t *testing.T) {
	tb := newTestBroker(t, func(c *Config) { c.MaxPartitionsPerTopic = 8 })
	tb.createTopic("t", 2, nil)
	for _, tc := range []struct {
		name  string
		topic kmsg.CreatePartitionsRequestTopic
		code  int16
	}{
		{"unknown topic", cpTopic("nope", 3), kerrUnknownTopicOrPartition},
		{"same count", cpTopic("t", 2), kerrInvalidPartitions},
		{"decrease", cpTopic("t", 1), kerrInvalidPartitions},
		{"above limit", cpTopic("t", 9), kerrInvalidPartitions},
		{"too few assignments", cpTopic("t", 4, []int32{1}), kerrInvalidReplicaAssignment},
		{"too many assignments", cpTopic("t", 3, []int32{1}, []int32{1}), kerrInvalidReplicaAssignment},
		{"other broker", cpTopic("t", 3, []int32{2}), kerrInvalidReplicaAssignment},
		{"empty replicas", cpTopic("t", 3, []int32{}), kerrInvalidReplicaAssignment},
		{"two replicas", cpTopic("t", 3, []int32{1, 1}), kerrInvalidReplicaAssignment},
	} {
		for v := int16(0); v <= 3; v++ {
			resp := tb.do(createPartitionsReq(v, false, tc.topic)).(*kmsg.CreatePartitionsResponse)
			st := resp.Topics[0]
			if st.Topic != tc.topic.Topic || st.ErrorCode != tc.code || st.ErrorMessage == nil {
				t.Fatalf("%s v%d: got %d (%v), want %d", tc.name, v, st.ErrorCode, st.ErrorMessage, tc.code)
			}
		}
	}
	// Duplicates: every entry naming the topic fails, the others proceed.
	tb.createTopic("u", 1, nil)
	resp := tb.do(createPartitionsReq(3, false, cpTopic("t", 3), cpTopic("u", 2), cpTopic("t", 4))).(*kmsg.CreatePartitionsResponse)
	got := []int16{resp.Topics[0].ErrorCode, resp.Topics[1].ErrorCode, resp.Topics[2].ErrorCode}
	if !slices.Equal(got, []int16{kerrInvalidRequest, kerrNone, kerrInvalidRequest}) {
		t.Fatalf("duplicates: %v", got)
	}
	if n := metadataPartitions(tb, "t"); n != 2 {
		t.Fatalf("t has %d partitions after failed requests, want 2", n)
	}
	if n := metadataPartitions(tb, "u"); n != 2 {
		t.Fatalf("u has %d partitions, want 2", n)
	}
}

func TestCreatePartitions(t *testing.T) {
	for v := int16(0); v <= 3; v++ {
		tb := newTestBroker(t)
		tb.createTopic("t", 1, map[string]string{"retention.ms": "1234567"})
		tb.produce("t", 0, 3)

		// Validate-only changes nothing.
		resp := tb.do(createPartitionsReq(v, true, cpTopic("t", 3))).(*kmsg.CreatePartitionsResponse)
		if resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("v%d validate-only: error %d", v, resp.Topics[0].ErrorCode)
		}
		if n := metadataPartitions(tb, "t"); n != 1 {
			t.Fatalf("v%d: validate-only created partitions: %d", v, n)
		}

		resp = tb.do(createPartitionsReq(v, false, cpTopic("t", 3))).(*kmsg.CreatePartitionsResponse)
		if resp.Topics[0].ErrorCode != 0 || resp.Topics[0].ErrorMessage != nil {
			t.Fatalf("v%d: %+v", v, resp.Topics[0])
		}
		if n := metadataPartitions(tb, "t"); n != 3 {
			t.Fatalf("v%d: %d partitions, want 3", v, n)
		}
		ts := tb.b.topics["t"]
		if ts.meta.Partitions != 3 || len(ts.partitions) != 3 {
			t.Fatalf("v%d: image says %d, live %d", v, ts.meta.Partitions, len(ts.partitions))
		}
		if ts.partitions[2].log == nil || ts.partitions[2].index != 2 {
			t.Fatalf("v%d: new partition not open", v)
		}
		if ts.partitions[2].log.LogEndOffset() != 0 {
			t.Fatalf("v%d: new partition not empty", v)
		}
		// Manual assignment onto this node.
		resp = tb.do(createPartitionsReq(v, false, cpTopic("t", 5, []int32{1}, []int32{1}))).(*kmsg.CreatePartitionsResponse)
		if resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("v%d manual assignment: error %d", v, resp.Topics[0].ErrorCode)
		}
		if off := tb.produce("t", 4, 2); off != 0 {
			t.Fatalf("v%d: first offset in new partition %d", v, off)
		}

		// The new count and the data survive a restart.
		tb.restart()
		if n := metadataPartitions(tb, "t"); n != 5 {
			t.Fatalf("v%d after restart: %d partitions", v, n)
		}
		if end := tb.b.topics["t"].partitions[4].log.LogEndOffset(); end != 2 {
			t.Fatalf("v%d after restart: partition 4 ends at %d", v, end)
		}
		if end := tb.b.topics["t"].partitions[0].log.LogEndOffset(); end != 3 {
			t.Fatalf("v%d after restart: partition 0 ends at %d", v, end)
		}
		// New partitions carry the topic's overrides.
		if got := tb.b.topics["t"].partitions[4].topic.logConfig.RetentionMs; got != 1234567 {
			t.Fatalf("v%d: retention of new partition %d", v, got)
		}
	}
}

func TestCreatePartitionsImageWriteFails(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.disk.SetFault(func(op memdisk.Op, name string) error {
		if op == memdisk.OpWriteFileAtomic && name == imageFile {
			return errors.New("injected")
		}
		return nil
	})
	resp := tb.do(createPartitionsReq(3, false, cpTopic("t", 2))).(*kmsg.CreatePartitionsResponse)
	if resp.Topics[0].ErrorCode != kerrKafkaStorageError {
		t.Fatalf("error %d, want KAFKA_STORAGE_ERROR", resp.Topics[0].ErrorCode)
	}
	tb.disk.SetFault(nil)
	if ts := tb.b.topics["t"]; ts.meta.Partitions != 1 || len(ts.partitions) != 1 {
		t.Fatalf("failed create left %d/%d partitions", ts.meta.Partitions, len(ts.partitions))
	}
	resp = tb.do(createPartitionsReq(3, false, cpTopic("t", 2))).(*kmsg.CreatePartitionsResponse)
	if resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("retry: error %d", resp.Topics[0].ErrorCode)
	}
}

// ---- DescribeConfigs ----

func describeConfigsReq(version int16, synonyms bool, resources ...kmsg.DescribeConfigsRequestResource) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version = version
	req.IncludeSynonyms = synonyms
	req.Resources = resources
	return req
}

func dcResource(typ kmsg.ConfigResourceType, name string, names ...string) kmsg.DescribeConfigsRequestResource {
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType = typ
	r.ResourceName = name
	r.ConfigNames = names
	return r
}

func configByName(configs []kmsg.DescribeConfigsResponseResourceConfig, name string) *kmsg.DescribeConfigsResponseResourceConfig {
	for i := range configs {
		if configs[i].Name == name {
			return &configs[i]
		}
	}
	return nil
}

type synonymView struct {
	name, value string
	source      kmsg.ConfigSource
}

func synonymsOf(c *kmsg.DescribeConfigsResponseResourceConfig) []synonymView {
	var out []synonymView
	for _, s := range c.ConfigSynonyms {
		out = append(out, synonymView{s.Name, *s.Value, s.Source})
	}
	return out
}

// describeTopic returns a topic's configs as name -> value.
func describeTopic(tb *testBroker, topic string) map[string]string {
	tb.t.Helper()
	resp := tb.do(describeConfigsReq(4, false, dcResource(kmsg.ConfigResourceTypeTopic, topic))).(*kmsg.DescribeConfigsResponse)
	res := resp.Resources[0]
	if res.ErrorCode != 0 {
		tb.t.Fatalf("describe %s: error %d", topic, res.ErrorCode)
	}
	out := map[string]string{}
	for _, c := range res.Configs {
		out[c.Name] = *c.Value
	}
	return out
}

// overridesOf returns the topic configs reported as topic overrides.
func overridesOf(tb *testBroker, topic string) map[string]string {
	tb.t.Helper()
	resp := tb.do(describeConfigsReq(4, false, dcResource(kmsg.ConfigResourceTypeTopic, topic))).(*kmsg.DescribeConfigsResponse)
	out := map[string]string{}
	for _, c := range resp.Resources[0].Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			out[c.Name] = *c.Value
		}
	}
	return out
}

func TestDescribeConfigsTopic(t *testing.T) {
	tb := newTestBroker(t, func(c *Config) { c.LogDefaults.SegmentBytes = 1 << 20 })
	tb.createTopic("t", 1, map[string]string{"retention.ms": "60000"})
	for v := int16(0); v <= 4; v++ {
		for _, syn := range []bool{false, true} {
			resp := tb.do(describeConfigsReq(v, syn, dcResource(kmsg.ConfigResourceTypeTopic, "t"))).(*kmsg.DescribeConfigsResponse)
			res := resp.Resources[0]
			if res.ErrorCode != 0 || res.ResourceName != "t" || res.ResourceType != kmsg.ConfigResourceTypeTopic {
				t.Fatalf("v%d: %+v", v, res)
			}
			if len(res.Configs) != len(topicConfigDefs) {
				t.Fatalf("v%d: %d configs, want %d", v, len(res.Configs), len(topicConfigDefs))
			}
			for i, c := range res.Configs {
				if c.Name != topicConfigDefs[i].name || c.ReadOnly || c.IsSensitive || c.Value == nil {
					t.Fatalf("v%d: config %d: %+v", v, i, c)
				}
			}
			wantSyn := syn && v >= 1

			// An override.
			c := configByName(res.Configs, "retention.ms")
			if *c.Value != "60000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig || c.IsDefault || c.ConfigType != kmsg.ConfigTypeLong {
				t.Fatalf("v%d retention.ms: %+v", v, c)
			}
			if got := synonymsOf(c); wantSyn != (len(got) > 0) {
				t.Fatalf("v%d synonyms=%v: %v", v, syn, got)
			} else if wantSyn && !slices.Equal(got, []synonymView{
				{"retention.ms", "60000", kmsg.ConfigSourceDynamicTopicConfig},
				{"log.retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig},
			}) {
				t.Fatalf("v%d retention.ms synonyms: %v", v, got)
			}

			// A built-in default.
			c = configByName(res.Configs, "retention.bytes")
			if *c.Value != "-1" || c.Source != kmsg.ConfigSourceDefaultConfig || !c.IsDefault {
				t.Fatalf("v%d retention.bytes: %+v", v, c)
			}
			if wantSyn && !slices.Equal(synonymsOf(c), []synonymView{{"log.retention.bytes", "-1", kmsg.ConfigSourceDefaultConfig}}) {
				t.Fatalf("v%d retention.bytes synonyms: %v", v, synonymsOf(c))
			}

			// A default the broker was started with.
			c = configByName(res.Configs, "segment.bytes")
			if *c.Value != "1048576" || c.Source != kmsg.ConfigSourceStaticBrokerConfig || c.IsDefault || c.ConfigType != kmsg.ConfigTypeInt {
				t.Fatalf("v%d segment.bytes: %+v", v, c)
			}
			if wantSyn && !slices.Equal(synonymsOf(c), []synonymView{
				{"log.segment.bytes", "1048576", kmsg.ConfigSourceStaticBrokerConfig},
				{"log.segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig},
			}) {
				t.Fatalf("v%d segment.bytes synonyms: %v", v, synonymsOf(c))
			}
			if c := configByName(res.Configs, "cleanup.policy"); c.ConfigType != kmsg.ConfigTypeList || *c.Value != "delete" {
				t.Fatalf("v%d cleanup.policy: %+v", v, c)
			}
		}
	}

	// Named configs only; unknown names are left out.
	resp := tb.do(describeConfigsReq(4, false, dcResource(kmsg.ConfigResourceTypeTopic, "t", "segment.ms", "no.such.config", "retention.ms"))).(*kmsg.DescribeConfigsResponse)
	var names []string
	for _, c := range resp.Resources[0].Configs {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"retention.ms", "segment.ms"}) {
		t.Fatalf("named configs: %v", names)
	}
}

func TestDescribeConfigsErrors(t *testing.T) {
	tb := newTestBroker(t, func(c *Config) { c.NodeID = 3 })
	resp := tb.do(describeConfigsReq(4, true,
		dcResource(kmsg.ConfigResourceTypeTopic, "missing"),
		dcResource(kmsg.ConfigResourceTypeTopic, "bad/name"),
		dcResource(kmsg.ConfigResourceTypeTopic, ""),
		dcResource(kmsg.ConfigResourceTypeBroker, "4"),
		dcResource(kmsg.ConfigResourceTypeBroker, "x"),
		dcResource(kmsg.ConfigResourceTypeBrokerLogger, "3"),
		dcResource(kmsg.ConfigResourceTypeGroupConfig, "g"),
		dcResource(kmsg.ConfigResourceType(99), "z"),
	)).(*kmsg.DescribeConfigsResponse)
	want := []int16{kerrUnknownTopicOrPartition, kerrInvalidTopicException, kerrInvalidRequest, kerrInvalidRequest, kerrInvalidRequest, kerrInvalidRequest, kerrInvalidRequest, kerrInvalidRequest}
	if len(resp.Resources) != len(want) {
		t.Fatalf("%d resources", len(resp.Resources))
	}
	for i, res := range resp.Resources {
		if res.ErrorCode != want[i] || res.ErrorMessage == nil || len(res.Configs) != 0 {
			t.Errorf("resource %d (%s %q): error %d %v, want %d", i, res.ResourceType, res.ResourceName, res.ErrorCode, res.ErrorMessage, want[i])
		}
	}
}

func TestDescribeConfigsBroker(t *testing.T) {
	tb := newTestBroker(t, func(c *Config) {
		c.NodeID = 3
		c.NumPartitions = 6
		c.LogDefaults.RetentionMs = 3600000
	})
	for v := int16(0); v <= 4; v++ {
		resp := tb.do(describeConfigsReq(v, true, dcResource(kmsg.ConfigResourceTypeBroker, "3"))).(*kmsg.DescribeConfigsResponse)
		res := resp.Resources[0]
		if res.ErrorCode != 0 || len(res.Configs) != len(brokerConfigDefs) {
			t.Fatalf("v%d: error %d, %d configs", v, res.ErrorCode, len(res.Configs))
		}
		for _, tc := range []struct {
			name, value string
			source      kmsg.ConfigSource
			typ         kmsg.ConfigType
		}{
			{"node.id", "3", kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeInt},
			{"num.partitions", "6", kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeInt},
			{"log.retention.ms", "3600000", kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeLong},
			{"auto.create.topics.enable", "true", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeBoolean},
			{"default.replication.factor", "1", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeInt},
			{"log.segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeInt},
			{"log.retention.bytes", "-1", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeLong},
			{"log.roll.ms", "604800000", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeLong},
			{"message.max.bytes", "1048588", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeInt},
			{"log.index.interval.bytes", "4096", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeInt},
			{"min.insync.replicas", "1", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeInt},
		} {
			c := configByName(res.Configs, tc.name)
			if c == nil {
				t.Fatalf("v%d: %s missing", v, tc.name)
			}
			if *c.Value != tc.value || c.Source != tc.source || c.ConfigType != tc.typ || !c.ReadOnly ||
				c.IsDefault != (tc.source == kmsg.ConfigSourceDefaultConfig) {
				t.Fatalf("v%d %s: %+v", v, tc.name, c)
			}
			if v >= 1 && len(c.ConfigSynonyms) == 0 {
				t.Fatalf("v%d %s: no synonyms", v, tc.name)
			}
		}
	}
	// The cluster-wide dynamic default resource exists and is empty.
	resp := tb.do(describeConfigsReq(4, true, dcResource(kmsg.ConfigResourceTypeBroker, ""))).(*kmsg.DescribeConfigsResponse)
	if res := resp.Resources[0]; res.ErrorCode != 0 || len(res.Configs) != 0 {
		t.Fatalf("cluster default: %+v", res)
	}
	// Topic configs pick up the broker's startup values.
	tb.createTopic("t", 1, nil)
	c := configByName(describeConfigsOf(tb, "t"), "retention.ms")
	if *c.Value != "3600000" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("topic retention.ms: %+v", c)
	}
}

func describeConfigsOf(tb *testBroker, topic string) []kmsg.DescribeConfigsResponseResourceConfig {
	resp := tb.do(describeConfigsReq(4, true, dcResource(kmsg.ConfigResourceTypeTopic, topic))).(*kmsg.DescribeConfigsResponse)
	return resp.Resources[0].Configs
}

// ---- AlterConfigs ----

func acResource(typ kmsg.ConfigResourceType, name string, kv ...*string) kmsg.AlterConfigsRequestResource {
	r := kmsg.NewAlterConfigsRequestResource()
	r.ResourceType = typ
	r.ResourceName = name
	for i := 0; i+1 < len(kv); i += 2 {
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name = *kv[i]
		c.Value = kv[i+1]
		r.Configs = append(r.Configs, c)
	}
	return r
}

func alterConfigsReq(version int16, validateOnly bool, resources ...kmsg.AlterConfigsRequestResource) *kmsg.AlterConfigsRequest {
	req := kmsg.NewPtrAlterConfigsRequest()
	req.Version = version
	req.ValidateOnly = validateOnly
	req.Resources = resources
	return req
}

func TestAlterConfigs(t *testing.T) {
	for v := int16(0); v <= 2; v++ {
		tb := newTestBroker(t)
		tb.createTopic("t", 2, map[string]string{"retention.ms": "60000", "segment.bytes": "100000"})

		// Validate-only leaves the overrides alone.
		resp := tb.do(alterConfigsReq(v, true, acResource(kmsg.ConfigResourceTypeTopic, "t", ptr("retention.bytes"), ptr("5000")))).(*kmsg.AlterConfigsResponse)
		if resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("v%d validate-only: error %d", v, resp.Resources[0].ErrorCode)
		}
		if got := overridesOf(tb, "t"); len(got) != 2 || got["retention.ms"] != "60000" {
			t.Fatalf("v%d validate-only changed overrides: %v", v, got)
		}

		// The given set replaces the whole override set.
		resp = tb.do(alterConfigsReq(v, false, acResource(kmsg.ConfigResourceTypeTopic, "t", ptr("retention.bytes"), ptr("5000"), ptr("segment.ms"), ptr("1000")))).(*kmsg.AlterConfigsResponse)
		if res := resp.Resources[0]; res.ErrorCode != 0 || res.ResourceName != "t" || res.ResourceType != kmsg.ConfigResourceTypeTopic {
			t.Fatalf("v%d: %+v", v, res)
		}
		want := map[string]string{"retention.bytes": "5000", "segment.ms": "1000"}
		if got := overridesOf(tb, "t"); !mapsEqual(got, want) {
			t.Fatalf("v%d overrides %v, want %v", v, got, want)
		}
		if got := describeTopic(tb, "t")["retention.ms"]; got != "604800000" {
			t.Fatalf("v%d: removed override still reported: %s", v, got)
		}
		lc := tb.b.topics["t"].logConfig
		if lc.RetentionBytes != 5000 || lc.SegmentMs != 1000 || lc.RetentionMs != DefaultConfig().LogDefaults.RetentionMs {
			t.Fatalf("v%d: topic log config %+v", v, lc)
		}

		// Persisted: a restart opens the logs with the new settings.
		tb.restart()
		if got := overridesOf(tb, "t"); !mapsEqual(got, want) {
			t.Fatalf("v%d after restart: %v", v, got)
		}
		if lc := tb.b.topics["t"].logConfig; lc.RetentionBytes != 5000 {
			t.Fatalf("v%d after restart: %+v", v, lc)
		}

		// An empty set removes every override.
		resp = tb.do(alterConfigsReq(v, false, acResource(kmsg.ConfigResourceTypeTopic, "t"))).(*kmsg.AlterConfigsResponse)
		if resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("v%d clear: error %d", v, resp.Resources[0].ErrorCode)
		}
		if got := overridesOf(tb, "t"); len(got) != 0 {
			t.Fatalf("v%d clear: %v", v, got)
		}
		if tb.b.image.Topic("t").Configs != nil {
			t.Fatalf("v%d clear: image keeps %v", v, tb.b.image.Topic("t").Configs)
		}
	}
}

func TestAlterConfigsErrors(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, map[string]string{"retention.ms": "60000"})
	tb.createTopic("u", 1, nil)
	topic := kmsg.ConfigResourceTypeTopic
	for _, tc := range []struct {
		name      string
		resources []kmsg.AlterConfigsRequestResource
		codes     []int16
	}{
		{"unknown topic", []kmsg.AlterConfigsRequestResource{acResource(topic, "missing", ptr("retention.ms"), ptr("1"))}, []int16{kerrUnknownTopicOrPartition}},
		{"invalid topic name", []kmsg.AlterConfigsRequestResource{acResource(topic, "a b")}, []int16{kerrInvalidTopicException}},
		{"default topic", []kmsg.AlterConfigsRequestResource{acResource(topic, "")}, []int16{kerrInvalidRequest}},
		{"unknown config", []kmsg.AlterConfigsRequestResource{acResource(topic, "t", ptr("no.such"), ptr("1"))}, []int16{kerrInvalidConfig}},
		{"bad value", []kmsg.AlterConfigsRequestResource{acResource(topic, "t", ptr("retention.ms"), ptr("soon"))}, []int16{kerrInvalidConfig}},
		{"out of range", []kmsg.AlterConfigsRequestResource{acResource(topic, "t", ptr("segment.bytes"), ptr("10"))}, []int16{kerrInvalidConfig}},
		{"null value", []kmsg.AlterConfigsRequestResource{acResource(topic, "t", ptr("retention.ms"), nil)}, []int16{kerrInvalidRequest}},
		{"duplicate key", []kmsg.AlterConfigsRequestResource{acResource(topic, "t", ptr("retention.ms"), ptr("1"), ptr("retention.ms"), ptr("2"))}, []int16{kerrInvalidRequest}},
		{"duplicate resource", []kmsg.AlterConfigsRequestResource{
			acResource(topic, "t", ptr("retention.ms"), ptr("1")),
			acResource(topic, "u", ptr("retention.ms"), ptr("1")),
			acResource(topic, "t", ptr("retention.ms"), ptr("2")),
		}, []int16{kerrInvalidRequest, kerrNone, kerrInvalidRequest}},
		{"broker", []kmsg.AlterConfigsRequestResource{
			acResource(kmsg.ConfigResourceTypeBroker, "1", ptr("num.partitions"), ptr("3")),
			acResource(kmsg.ConfigResourceTypeBroker, "", ptr("num.partitions"), ptr("3")),
			acResource(kmsg.ConfigResourceTypeBroker, "2"),
		}, []int16{kerrInvalidRequest, kerrInvalidRequest, kerrInvalidRequest}},
		{"broker logger", []kmsg.AlterConfigsRequestResource{acResource(kmsg.ConfigResourceTypeBrokerLogger, "1")}, []int16{kerrInvalidRequest}},
	} {
		for v := int16(0); v <= 2; v++ {
			resp := tb.do(alterConfigsReq(v, false, tc.resources...)).(*kmsg.AlterConfigsResponse)
			for i, res := range resp.Resources {
				if res.ErrorCode != tc.codes[i] || (res.ErrorCode != 0) != (res.ErrorMessage != nil) {
					t.Fatalf("%s v%d resource %d: error %d %v, want %d", tc.name, v, i, res.ErrorCode, res.ErrorMessage, tc.codes[i])
				}
			}
		}
	}
	if got := overridesOf(tb, "t"); !mapsEqual(got, map[string]string{"retention.ms": "60000"}) {
		t.Fatalf("failed requests changed t: %v", got)
	}
}

func TestAlterConfigsImageWriteFails(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, map[string]string{"retention.ms": "60000"})
	tb.disk.SetFault(func(op memdisk.Op, name string) error {
		if op == memdisk.OpWriteFileAtomic {
			return errors.New("injected")
		}
		return nil
	})
	resp := tb.do(alterConfigsReq(2, false, acResource(kmsg.ConfigResourceTypeTopic, "t", ptr("retention.ms"), ptr("1000")))).(*kmsg.AlterConfigsResponse)
	if resp.Resources[0].ErrorCode != kerrKafkaStorageError {
		t.Fatalf("error %d, want KAFKA_STORAGE_ERROR", resp.Resources[0].ErrorCode)
	}
	tb.disk.SetFault(nil)
	if got := overridesOf(tb, "t"); !mapsEqual(got, map[string]string{"retention.ms": "60000"}) {
		t.Fatalf("failed write changed overrides: %v", got)
	}
	if lc := tb.b.topics["t"].logConfig; lc.RetentionMs != 60000 {
		t.Fatalf("failed write changed log config: %+v", lc)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// ---- IncrementalAlterConfigs ----

type iacOp struct {
	name  string
	op    kmsg.IncrementalAlterConfigOp
	value *string
}

func iacResource(typ kmsg.ConfigResourceType, name string, ops ...iacOp) kmsg.IncrementalAlterConfigsRequestResource {
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType = typ
	r.ResourceName = name
	for _, o := range ops {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name = o.name
		c.Op = o.op
		c.Value = o.value
		r.Configs = append(r.Configs, c)
	}
	return r
}

func iacReq(version int16, validateOnly bool, resources ...kmsg.IncrementalAlterConfigsRequestResource) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Version = version
	req.ValidateOnly = validateOnly
	req.Resources = resources
	return req
}

func TestIncrementalAlterConfigs(t *testing.T) {
	const (
		set      = kmsg.IncrementalAlterConfigOpSet
		del      = kmsg.IncrementalAlterConfigOpDelete
		appendOp = kmsg.IncrementalAlterConfigOpAppend
		subtract = kmsg.IncrementalAlterConfigOpSubtract
	)
	topic := kmsg.ConfigResourceTypeTopic
	initial := map[string]string{"retention.ms": "60000", "segment.bytes": "100000"}
	for _, tc := range []struct {
		name string
		ops  []iacOp
		code int16
		want map[string]string // overrides afterwards (initial on error)
	}{
		{"set", []iacOp{{"retention.bytes", set, ptr("5000")}, {"retention.ms", set, ptr("1000")}}, kerrNone,
			map[string]string{"retention.ms": "1000", "segment.bytes": "100000", "retention.bytes": "5000"}},
		{"delete", []iacOp{{"retention.ms", del, nil}, {"segment.ms", del, ptr("ignored")}}, kerrNone,
			map[string]string{"segment.bytes": "100000"}},
		{"delete unknown name", []iacOp{{"no.such.config", del, nil}}, kerrNone, initial},
		{"append to default list", []iacOp{{"cleanup.policy", appendOp, ptr("delete")}}, kerrNone,
			map[string]string{"retention.ms": "60000", "segment.bytes": "100000", "cleanup.policy": "delete"}},
		{"append invalid list value", []iacOp{{"cleanup.policy", appendOp, ptr("shred")}}, kerrInvalidConfig, initial},
		{"append compact", []iacOp{{"cleanup.policy", appendOp, ptr("compact")}}, kerrNone,
			map[string]string{"retention.ms": "60000", "segment.bytes": "100000", "cleanup.policy": "delete,compact"}},
		{"subtract to empty list", []iacOp{{"cleanup.policy", subtract, ptr("delete")}}, kerrInvalidConfig, initial},
		{"append to non-list", []iacOp{{"retention.ms", appendOp, ptr("5")}}, kerrInvalidConfig, initial},
		{"subtract from non-list", []iacOp{{"retention.ms", subtract, ptr("5")}}, kerrInvalidConfig, initial},
		{"append to unknown", []iacOp{{"no.such.config", appendOp, ptr("5")}}, kerrInvalidConfig, initial},
		{"set unknown", []iacOp{{"no.such.config", set, ptr("5")}}, kerrInvalidConfig, initial},
		{"set bad value", []iacOp{{"retention.ms", set, ptr("-7")}}, kerrInvalidConfig, initial},
		{"one bad op fails all", []iacOp{{"retention.bytes", set, ptr("1")}, {"segment.ms", set, ptr("0")}}, kerrInvalidConfig, initial},
		{"null set", []iacOp{{"retention.ms", set, nil}}, kerrInvalidRequest, initial},
		{"unknown op", []iacOp{{"retention.ms", kmsg.IncrementalAlterConfigOp(4), ptr("1")}}, kerrInvalidRequest, initial},
		{"duplicate key", []iacOp{{"retention.ms", set, ptr("1")}, {"retention.ms", del, nil}}, kerrInvalidRequest, initial},
	} {
		for v := int16(0); v <= 1; v++ {
			for _, validateOnly := range []bool{false, true} {
				tb := newTestBroker(t)
				tb.createTopic("t", 1, initial)
				resp := tb.do(iacReq(v, validateOnly, iacResource(topic, "t", tc.ops...))).(*kmsg.IncrementalAlterConfigsResponse)
				res := resp.Resources[0]
				if res.ErrorCode != tc.code || (res.ErrorCode != 0) != (res.ErrorMessage != nil) || res.ResourceName != "t" || res.ResourceType != topic {
					t.Fatalf("%s v%d validateOnly=%v: %+v, want error %d", tc.name, v, validateOnly, res, tc.code)
				}
				want := tc.want
				if validateOnly {
					want = initial
				}
				if got := overridesOf(tb, "t"); !mapsEqual(got, want) {
					t.Fatalf("%s v%d validateOnly=%v: overrides %v, want %v", tc.name, v, validateOnly, got, want)
				}
				if want := tb.cfg.logConfigFor(want); tb.b.topics["t"].logConfig != want {
					t.Fatalf("%s v%d: log config %+v, want %+v", tc.name, v, tb.b.topics["t"].logConfig, want)
				}
				if tc.code == kerrNone && !validateOnly {
					tb.restart()
					if got := overridesOf(tb, "t"); !mapsEqual(got, want) {
						t.Fatalf("%s v%d after restart: overrides %v, want %v", tc.name, v, got, want)
					}
				}
			}
		}
	}
}

func TestIncrementalAlterConfigsResources(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	set := kmsg.IncrementalAlterConfigOpSet
	resp := tb.do(iacReq(1, false,
		iacResource(kmsg.ConfigResourceTypeTopic, "missing", iacOp{"retention.ms", set, ptr("1")}),
		iacResource(kmsg.ConfigResourceTypeTopic, "t", iacOp{"retention.ms", set, ptr("1")}),
		iacResource(kmsg.ConfigResourceTypeBroker, "1", iacOp{"num.partitions", set, ptr("3")}),
		iacResource(kmsg.ConfigResourceTypeBroker, "", iacOp{"num.partitions", set, ptr("3")}),
		iacResource(kmsg.ConfigResourceTypeBroker, "9"),
		iacResource(kmsg.ConfigResourceTypeBrokerLogger, "1"),
		iacResource(kmsg.ConfigResourceTypeClientMetrics, "m"),
		iacResource(kmsg.ConfigResourceTypeTopic, "missing", iacOp{"retention.ms", set, ptr("2")}),
	)).(*kmsg.IncrementalAlterConfigsResponse)
	want := []int16{kerrInvalidRequest, kerrNone, kerrInvalidRequest, kerrInvalidRequest, kerrInvalidRequest, kerrInvalidRequest, kerrInvalidRequest, kerrInvalidRequest}
	for i, res := range resp.Resources {
		if res.ErrorCode != want[i] {
			t.Fatalf("resource %d (%s %q): error %d %v, want %d", i, res.ResourceType, res.ResourceName, res.ErrorCode, res.ErrorMessage, want[i])
		}
	}
	resp = tb.do(iacReq(1, false, iacResource(kmsg.ConfigResourceTypeTopic, "missing", iacOp{"retention.ms", set, ptr("1")}))).(*kmsg.IncrementalAlterConfigsResponse)
	if resp.Resources[0].ErrorCode != kerrUnknownTopicOrPartition {
		t.Fatalf("unknown topic: error %d", resp.Resources[0].ErrorCode)
	}
}

// ---- DeleteRecords ----

func deleteRecordsReq(version int16, topic string, offsets map[int32]int64) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.Version = version
	req.TimeoutMillis = 5000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	for _, p := range slices.Sorted(maps.Keys(offsets)) {
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition = p
		rp.Offset = offsets[p]
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func earliestOffset(tb *testBroker, topic string, partition int32) int64 {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.Timestamp = -2
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := tb.do(req).(*kmsg.ListOffsetsResponse)
	return resp.Topics[0].Partitions[0].Offset
}

func TestDeleteRecords(t *testing.T) {
	for v := int16(0); v <= 2; v++ {
		tb := newTestBroker(t)
		tb.createTopic("t", 2, nil)
		for i := 0; i < 5; i++ {
			tb.produce("t", 0, 2) // offsets 0-9 in batches of two
		}
		tb.produce("t", 1, 3)

		type step struct {
			offset  int64
			code    int16
			lowMark int64
		}
		for _, s := range []step{
			{4, kerrNone, 4},
			{2, kerrNone, 4}, // below the start: nothing changes
			{4, kerrNone, 4},
			{11, kerrOffsetOutOfRange, -1},
			{-2, kerrOffsetOutOfRange, -1},
			{7, kerrNone, 7}, // mid-batch
			{-1, kerrNone, 10},
		} {
			resp := tb.do(deleteRecordsReq(v, "t", map[int32]int64{0: s.offset})).(*kmsg.DeleteRecordsResponse)
			sp := resp.Topics[0].Partitions[0]
			if resp.Topics[0].Topic != "t" || sp.Partition != 0 || sp.ErrorCode != s.code || sp.LowWatermark != s.lowMark {
				t.Fatalf("v%d delete before %d: %+v, want error %d low watermark %d", v, s.offset, sp, s.code, s.lowMark)
			}
			if s.code == kerrNone {
				if got := earliestOffset(tb, "t", 0); got != s.lowMark {
					t.Fatalf("v%d: ListOffsets earliest %d, want %d", v, got, s.lowMark)
				}
			}
		}

		// Several partitions, one unknown.
		resp := tb.do(deleteRecordsReq(v, "t", map[int32]int64{1: 1, 2: 0})).(*kmsg.DeleteRecordsResponse)
		ps := resp.Topics[0].Partitions
		if ps[0].ErrorCode != 0 || ps[0].LowWatermark != 1 || ps[1].ErrorCode != kerrUnknownTopicOrPartition || ps[1].LowWatermark != -1 {
			t.Fatalf("v%d: %+v", v, ps)
		}
		resp = tb.do(deleteRecordsReq(v, "missing", map[int32]int64{0: 0})).(*kmsg.DeleteRecordsResponse)
		if sp := resp.Topics[0].Partitions[0]; sp.ErrorCode != kerrUnknownTopicOrPartition {
			t.Fatalf("v%d unknown topic: %+v", v, sp)
		}

		// The new start survives a restart.
		tb.restart()
		if got := earliestOffset(tb, "t", 0); got != 10 {
			t.Fatalf("v%d after restart: log start %d, want 10", v, got)
		}
		if got := earliestOffset(tb, "t", 1); got != 1 {
			t.Fatalf("v%d after restart: partition 1 log start %d, want 1", v, got)
		}

		// An offline partition.
		tb.b.takeOffline(tb.b.topics["t"].partitions[1], errors.New("test"))
		resp = tb.do(deleteRecordsReq(v, "t", map[int32]int64{1: 2})).(*kmsg.DeleteRecordsResponse)
		if sp := resp.Topics[0].Partitions[0]; sp.ErrorCode != kerrKafkaStorageError || sp.LowWatermark != -1 {
			t.Fatalf("v%d offline: %+v", v, sp)
		}
	}
}

func TestDeleteRecordsWakesFetch(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 1, nil)
	tb.produce("t", 0, 4)
	fetchAt := func(offset int64, minBytes int32) *kmsg.FetchRequest {
		fetch := kmsg.NewPtrFetchRequest()
		fetch.Version = 12
		fetch.ReplicaID = -1
		fetch.MaxWaitMillis = 10000
		fetch.MinBytes = minBytes
		fetch.MaxBytes = 1 << 20
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "t"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition = 0
		fp.FetchOffset = offset
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		fetch.Topics = append(fetch.Topics, ft)
		return fetch
	}
	// Two long polls: one at the high watermark waiting for data, one at
	// offset 0 waiting for more bytes than there are.
	before := tb.send(fetchAt(4, 1))
	tb.send(fetchAt(0, 1<<20))
	if len(tb.replier.replies) != before || len(tb.b.waitingFetches) != 2 {
		t.Fatalf("long polls answered at once")
	}
	tb.send(deleteRecordsReq(2, "t", map[int32]int64{0: 2}))
	// The poll below the new start is answered with OFFSET_OUT_OF_RANGE
	// (before the DeleteRecords response); the other keeps waiting.
	if len(tb.replier.replies) != before+2 || len(tb.b.waitingFetches) != 1 {
		t.Fatalf("%d replies, %d waiting", len(tb.replier.replies)-before, len(tb.b.waitingFetches))
	}
	resp := tb.replier.replies[before+1].resp.(*kmsg.DeleteRecordsResponse)
	if sp := resp.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.LowWatermark != 2 {
		t.Fatalf("delete: %+v", sp)
	}
	fr := tb.replier.replies[before].resp.(*kmsg.FetchResponse)
	if code := fr.Topics[0].Partitions[0].ErrorCode; code != kerrOffsetOutOfRange {
		t.Fatalf("woken fetch: error %d", code)
	}
}

// ---- OffsetForLeaderEpoch ----

func offsetForLeaderEpochReq(version int16, topic string, parts ...kmsg.OffsetForLeaderEpochRequestTopicPartition) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = version
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rt.Partitions = parts
	req.Topics = append(req.Topics, rt)
	return req
}

func ofleP(partition, current, epoch int32) kmsg.OffsetForLeaderEpochRequestTopicPartition {
	p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	p.Partition = partition
	p.CurrentLeaderEpoch = current
	p.LeaderEpoch = epoch
	return p
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	tb := newTestBroker(t)
	tb.createTopic("t", 2, nil)
	p := tb.b.topics["t"].partitions[0]
	// Batches in epochs 3 (offsets 0-3) and 5 (offsets 4-5): the leader
	// epoch is bumped by hand as a failover would.
	setLeaderEpoch(p, 3)
	tb.produce("t", 0, 2)
	tb.produce("t", 0, 2)
	setLeaderEpoch(p, 5)
	tb.produce("t", 0, 2)

	for v := int16(0); v <= 4; v++ {
		for _, tc := range []struct {
			name              string
			part              kmsg.OffsetForLeaderEpochRequestTopicPartition
			code              int16
			epoch             int32
			endOffset         int64
			needsCurrentEpoch bool
		}{
			{"below earliest", ofleP(0, -1, 2), 0, -1, -1, false},
			{"first epoch", ofleP(0, -1, 3), 0, 3, 4, false},
			{"gap epoch", ofleP(0, -1, 4), 0, 3, 4, false},
			{"latest epoch", ofleP(0, -1, 5), 0, 5, 6, false},
			{"future epoch", ofleP(0, -1, 9), 0, 5, 6, false},
			{"current epoch matches", ofleP(0, 5, 5), 0, 5, 6, false},
			{"fenced", ofleP(0, 4, 3), kerrFencedLeaderEpoch, -1, -1, true},
			{"unknown leader epoch", ofleP(0, 6, 3), kerrUnknownLeaderEpoch, -1, -1, true},
			{"empty partition", ofleP(1, -1, 0), 0, -1, -1, false},
			{"unknown partition", ofleP(7, -1, 0), kerrUnknownTopicOrPartition, -1, -1, false},
		} {
			code, epoch, end := tc.code, tc.epoch, tc.endOffset
			if tc.needsCurrentEpoch && v < 2 {
				// Before v2 there is no current epoch to check.
				code, epoch, end = 0, 3, 4
			}
			if v == 0 && code == 0 {
				epoch = -1 // v0 has no epoch in the response
			}
			resp := tb.do(offsetForLeaderEpochReq(v, "t", tc.part)).(*kmsg.OffsetForLeaderEpochResponse)
			sp := resp.Topics[0].Partitions[0]
			if v == 0 {
				sp.LeaderEpoch = -1
			}
			if resp.Topics[0].Topic != "t" || sp.Partition != tc.part.Partition || sp.ErrorCode != code || sp.LeaderEpoch != epoch || sp.EndOffset != end {
				t.Fatalf("%s v%d: %+v, want error %d epoch %d end %d", tc.name, v, sp, code, epoch, end)
			}
		}
		resp := tb.do(offsetForLeaderEpochReq(v, "missing", ofleP(0, -1, 0))).(*kmsg.OffsetForLeaderEpochResponse)
		if sp := resp.Topics[0].Partitions[0]; sp.ErrorCode != kerrUnknownTopicOrPartition {
			t.Fatalf("v%d unknown topic: %+v", v, sp)
		}
	}
	tb.b.takeOffline(p, errors.New("test"))
	resp := tb.do(offsetForLeaderEpochReq(4, "t", ofleP(0, -1, 5))).(*kmsg.OffsetForLeaderEpochResponse)
	if sp := resp.Topics[0].Partitions[0]; sp.ErrorCode != kerrKafkaStorageError || sp.EndOffset != -1 {
		t.Fatalf("offline: %+v", sp)
	}
}

// TestAdminAPIsRegistered checks the API table offers the versions these
// handlers implement.
func TestAdminAPIsRegistered(t *testing.T) {
	want := map[int16][2]int16{21: {0, 2}, 23: {0, 4}, 32: {0, 4}, 33: {0, 2}, 37: {0, 3}, 44: {0, 1}, 60: {0, 2}}
	for _, k := range SupportedAPIs() {
		if w, ok := want[k.ApiKey]; ok {
			if k.MinVersion != w[0] || k.MaxVersion != w[1] {
				t.Errorf("key %d: %d-%d, want %d-%d", k.ApiKey, k.MinVersion, k.MaxVersion, w[0], w[1])
			}
			delete(want, k.ApiKey)
		}
	}
	if len(want) > 0 {
		t.Errorf("not registered: %v", want)
	}
}
