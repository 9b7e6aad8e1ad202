package main

// Every API version the broker advertises must answer a minimal valid
// request with a response that decodes at that version and re-encodes to
// the same bytes (no missing, extra or misplaced fields).

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// e2eMinimalRequest returns a small valid request for key that touches
// topic (an existing one-partition topic, whose id is topicID) where the
// API needs a target; a request that names topics carries both the name
// and the id, and kmsg encodes the one the version has. It returns nil
// for APIs the sweep does not know.
func e2eMinimalRequest(key int16, topic string, topicID [16]byte, seq int) kmsg.Request {
	switch key {
	case 0:
		r := kmsg.NewPtrProduceRequest()
		r.Acks = -1
		r.TimeoutMillis = 5000
		return r
	case 1:
		r := kmsg.NewPtrFetchRequest()
		r.ReplicaID = -1
		r.MaxWaitMillis = 0
		r.MinBytes = 1
		r.MaxBytes = 1 << 20
		r.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rt.TopicID = topicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.CurrentLeaderEpoch = -1
		rp.LogStartOffset = -1
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return r
	case 2:
		r := kmsg.NewPtrListOffsetsRequest()
		r.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.CurrentLeaderEpoch = -1
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return r
	case 3:
		r := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		r.Topics = append(r.Topics, rt)
		return r
	case 18:
		r := kmsg.NewPtrApiVersionsRequest()
		r.ClientSoftwareName = "chronik-e2e"
		r.ClientSoftwareVersion = "1"
		return r
	case 19:
		r := kmsg.NewPtrCreateTopicsRequest()
		r.ValidateOnly = true
		r.TimeoutMillis = 5000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = fmt.Sprintf("%s-sweep-%d", topic, seq)
		rt.NumPartitions = 1
		rt.ReplicationFactor = 1
		r.Topics = append(r.Topics, rt)
		return r
	case 20:
		r := kmsg.NewPtrDeleteTopicsRequest()
		r.TimeoutMillis = 5000
		name := fmt.Sprintf("%s-absent-%d", topic, seq)
		r.TopicNames = []string{name}
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		r.Topics = append(r.Topics, rt)
		return r
	case 21:
		r := kmsg.NewPtrDeleteRecordsRequest()
		r.TimeoutMillis = 5000
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Offset = 0
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return r
	case 22:
		r := kmsg.NewPtrInitProducerIDRequest()
		r.TransactionTimeoutMillis = -1
		r.ProducerID = -1
		r.ProducerEpoch = -1
		return r
	case 23:
		r := kmsg.NewPtrOffsetForLeaderEpochRequest()
		r.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.CurrentLeaderEpoch = -1
		rp.LeaderEpoch = 0
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return r
	case 24:
		// A transactional id nobody initialised: the coordinator answers
		// per partition (INVALID_PRODUCER_ID_MAPPING, or a coordinator
		// error while __transaction_state is being created); v4+ in the
		// batched shape.
		r := kmsg.NewPtrAddPartitionsToTxnRequest()
		r.TransactionalID, r.ProducerID, r.ProducerEpoch = "sweep-txn", 1, 0
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		r.Topics = append(r.Topics, rt)
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = "sweep-txn", 1, 0, true
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = topic, []int32{0}
		tx.Topics = append(tx.Topics, tt)
		r.Transactions = append(r.Transactions, tx)
		return r
	case 25:
		r := kmsg.NewPtrAddOffsetsToTxnRequest()
		r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group = "sweep-txn", 1, 0, "sweep-group"
		return r
	case 26:
		r := kmsg.NewPtrEndTxnRequest()
		r.TransactionalID, r.ProducerID, r.ProducerEpoch = "sweep-txn", 1, 0
		return r
	case 61:
		r := kmsg.NewPtrDescribeProducersRequest()
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0, 7}
		r.Topics = append(r.Topics, rt)
		return r
	case 65:
		r := kmsg.NewPtrDescribeTransactionsRequest()
		r.TransactionalIDs = []string{"sweep-txn", "other"}
		return r
	case 66:
		r := kmsg.NewPtrListTransactionsRequest()
		r.StateFilters = []string{"Ongoing", "Bogus"}
		r.DurationFilterMillis = -1
		r.TransactionalIDPattern = kmsg.StringPtr("sweep-.*")
		return r
	case 32:
		r := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType = kmsg.ConfigResourceTypeTopic
		rr.ResourceName = topic
		r.Resources = append(r.Resources, rr)
		r.IncludeDocumentation = true
		r.IncludeSynonyms = true
		return r
	case 33:
		r := kmsg.NewPtrAlterConfigsRequest()
		r.ValidateOnly = true
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType = kmsg.ConfigResourceTypeTopic
		rr.ResourceName = topic
		rc := kmsg.NewAlterConfigsRequestResourceConfig()
		rc.Name = "retention.ms"
		rc.Value = kmsg.StringPtr("3600000")
		rr.Configs = append(rr.Configs, rc)
		r.Resources = append(r.Resources, rr)
		return r
	case 37:
		r := kmsg.NewPtrCreatePartitionsRequest()
		r.ValidateOnly = true
		r.TimeoutMillis = 5000
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic = topic
		rt.Count = 2
		r.Topics = append(r.Topics, rt)
		return r
	case 44:
		r := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r.ValidateOnly = true
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType = kmsg.ConfigResourceTypeTopic
		rr.ResourceName = topic
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name = "retention.ms"
		rc.Value = kmsg.StringPtr("3600000")
		rr.Configs = append(rr.Configs, rc)
		r.Resources = append(r.Resources, rr)
		return r
	case 60:
		return kmsg.NewPtrDescribeClusterRequest()
	case 68:
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Group = fmt.Sprintf("sweep-848-%d", seq)
		// v1 wants a client-generated member id; v0 takes one too.
		r.MemberID = fmt.Sprintf("member-%d", seq)
		r.RebalanceTimeoutMillis = 10000
		r.SubscribedTopicNames = []string{topic}
		return r
	case 69:
		r := kmsg.NewPtrConsumerGroupDescribeRequest()
		r.Groups = []string{fmt.Sprintf("sweep-848-%d", seq-2), "none"}
		return r
	}
	return nil
}

// TestE2EApiVersionSweep sends a minimal request at every advertised
// version of every API and checks the response's framing and encoding.
func TestE2EApiVersionSweep(t *testing.T) {
	b := e2eStartBroker(t)
	cl := e2eNewClient(t, b)
	topic := e2eUniqueTopic(t)
	adm := kadm.NewClient(cl)
	e2eCreateTopic(t, adm, topic, 1, nil)
	md, err := adm.Metadata(e2eTestCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	topicID := [16]byte(md.Topics[topic].ID)

	rc := e2eDialRaw(t, b)
	avReq := kmsg.NewPtrApiVersionsRequest()
	corr := rc.request(avReq, 0)
	av := kmsg.NewPtrApiVersionsResponse()
	av.Version = 0
	rc.response(corr, av)

	seq := 0
	for _, k := range av.ApiKeys {
		for v := k.MinVersion; v <= k.MaxVersion; v++ {
			seq++
			req := e2eMinimalRequest(k.ApiKey, topic, topicID, seq)
			if req == nil {
				t.Logf("api key %d: no minimal request known to the sweep; skipped", k.ApiKey)
				break
			}
			name := kmsg.NameForKey(k.ApiKey)
			t.Run(fmt.Sprintf("%s-v%d", name, v), func(t *testing.T) {
				c := e2eDialRaw(t, b)
				corr := c.request(req, v)
				got, body, err := c.readFrame(10 * time.Second)
				if err != nil {
					t.Fatalf("%s v%d: no response: %v", name, v, err)
				}
				if got != corr {
					t.Fatalf("%s v%d: correlation id %d, want %d", name, v, got, corr)
				}
				resp := req.ResponseKind()
				resp.SetVersion(v)
				if resp.IsFlexible() && k.ApiKey != 18 {
					if len(body) == 0 || body[0] != 0 {
						t.Fatalf("%s v%d: response header v1 should end in an empty tagged-field section, got % x", name, v, body[:min(len(body), 8)])
					}
					body = body[1:]
				}
				if err := resp.ReadFrom(body); err != nil {
					t.Fatalf("%s v%d: response does not decode: %v (% x)", name, v, err, body[:min(len(body), 64)])
				}
				if again := resp.AppendTo(nil); !bytes.Equal(again, body) {
					t.Errorf("%s v%d: response is %d bytes but its decoded form re-encodes to %d bytes (extra, missing or misencoded fields)\n got % x\nwant % x",
						name, v, len(body), len(again), body[:min(len(body), 96)], again[:min(len(again), 96)])
				}
				// The topic is found by name below v13 and by id from v13.
				if f, ok := resp.(*kmsg.FetchResponse); ok {
					if code := f.Topics[0].Partitions[0].ErrorCode; code != 0 {
						t.Errorf("%s v%d: partition error %d", name, v, code)
					}
				}
			})
		}
	}
}
