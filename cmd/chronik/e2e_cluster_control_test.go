package main

// The control plane is not open to clients (issue 10 item 3): against a
// three-node cluster, AlterPartition (an ISR of the leader alone, at the
// first partition epochs, which a client can guess), BrokerRegistration
// and BrokerHeartbeat (registering and unfencing a broker 99 that does
// not exist) sent to every broker's Kafka port, the controller's
// included, each get their connection closed without a response, and the
// cluster does not change: every partition keeps its full ISR throughout
// (watched by polling Metadata; the leader re-expands an accepted shrink
// within milliseconds, so this watch may miss one), DescribeCluster still
// lists the three brokers, and each broker's log gives the reason. Built
// with the deliberate bug chronik_bug_control_on_client_port
// (CHRONIK_E2E_BINARY), the requests are answered and broker 99 appears. ApiVersions on a Kafka port lists
// none of those APIs, while the control listener (--controller-addr)
// lists them all.

import (
	"context"
	"errors"
	"io"
	"syscall"

	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// e2eControlKeys are the control plane's API keys.
var e2eControlKeys = []int16{56, 62, 63, 67}

func TestE2EClusterControlPlaneRefusedOnKafkaPort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three broker processes")
	}
	c := e2eStartCluster(t)
	cl := c.client()
	adm := kadm.NewClient(cl)
	topic := e2eUniqueTopic(t)
	deadline := time.Now().Add(e2eClusterReadyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := adm.CreateTopic(ctx, e2eClusterPartitions, 3, nil, topic)
		cancel()
		if err == nil && resp.Err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create %s: not done within %v: %v %v", topic, e2eClusterReadyTimeout, err, resp.Err)
		}
		time.Sleep(50 * time.Millisecond) // retry interval, not an assertion
	}
	before := e2eWaitFullISR(t, "before", cl, topic, e2eClusterISRTimeout)
	brokersBefore := e2eDescribeClusterBrokers(t, c)

	// ApiVersions: the Kafka port hides the control plane, the control
	// listener lists it.
	// served holds the control listener's versions: the requests below
	// use them, so that only the listener can be the reason for a refusal.
	var served map[int16]int16
	for _, b := range c.brokers {
		if keys := e2eApiVersionKeys(t, b.Addr()); slices.ContainsFunc(e2eControlKeys, func(k int16) bool { _, ok := keys[k]; return ok }) {
			t.Errorf("ApiVersions on broker %d's Kafka port lists control-plane keys: %v", b.nodeID, keys)
		}
		ctrl := e2eFlagValue(b.args, "--controller-addr")
		served = e2eApiVersionKeys(t, ctrl)
		if slices.ContainsFunc(e2eControlKeys, func(k int16) bool { _, ok := served[k]; return !ok }) {
			t.Fatalf("ApiVersions on broker %d's control listener %s omits some of the control plane %v: %v", b.nodeID, ctrl, e2eControlKeys, served)
		}
	}

	// Watch every partition's ISR while the requests go in: an accepted
	// shrink would be undone by the leader soon after, so a single look
	// afterwards could miss it.
	var (
		watchMu sync.Mutex
		shrunk  []string
	)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if s, err := e2eTopicState(cl, topic); err == nil {
				for p, isr := range s.isr {
					if len(isr) != e2eClusterSize || s.leaders[p] != before.leaders[p] {
						watchMu.Lock()
						shrunk = append(shrunk, fmt.Sprintf("partition %d: leader %d ISR %v", p, s.leaders[p], isr))
						watchMu.Unlock()
					}
				}
			}
			time.Sleep(5 * time.Millisecond) // poll interval, not an assertion
		}
	}()

	// Partition 0's ISR shrunk to its leader alone, at the first
	// partition epochs (a client cannot read the epoch; it can guess).
	leader := before.leaders[0]
	var requests []kmsg.Request
	for epoch := int32(0); epoch < 4; epoch++ {
		ap := kmsg.NewPtrAlterPartitionRequest()
		ap.BrokerID = leader
		ap.BrokerEpoch = -1
		at := kmsg.NewAlterPartitionRequestTopic()
		at.Topic = topic
		atp := kmsg.NewAlterPartitionRequestTopicPartition()
		atp.LeaderEpoch, atp.PartitionEpoch, atp.NewISR = 0, epoch, []int32{leader}
		at.Partitions = append(at.Partitions, atp)
		ap.Topics = append(ap.Topics, at)
		requests = append(requests, ap)
	}
	// A broker 99 that does not exist, registered and then unfenced by
	// its heartbeat (whose epoch is the registration's incarnation): were
	// they served, DescribeCluster would list it.
	reg := kmsg.NewPtrBrokerRegistrationRequest()
	reg.BrokerID = 99
	reg.ClusterID = "chronik-cluster"
	reg.IncarnationID[15] = 7
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = "PLAINTEXT", "127.0.0.1", 1
	reg.Listeners = append(reg.Listeners, l)
	hb := kmsg.NewPtrBrokerHeartbeatRequest()
	hb.BrokerID = 99
	hb.BrokerEpoch = 7
	hb.CurrentMetadataOffset = -1
	requests = append(requests, reg, hb)

	for _, b := range c.brokers {
		for _, req := range requests {
			conn := e2eDialRaw(t, b)
			conn.request(req, served[req.Key()])
			// The first read ends the wait: a close (end of file or reset)
			// is the right outcome, an answer or a timeout is not.
			_, body, err := conn.readFrame(10 * time.Second)
			switch {
			case err == nil:
				t.Errorf("broker %d: %s on the Kafka port was answered (%d bytes)", b.nodeID, kmsg.NameForKey(req.Key()), len(body))
			case !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET):
				t.Errorf("broker %d: %s on the Kafka port: connection not closed: %v", b.nodeID, kmsg.NameForKey(req.Key()), err)
			}
		}
		// Right away, before a session timeout could fence a broker 99.
		if got := e2eDescribeClusterBrokers(t, c); !slices.Equal(got, brokersBefore) {
			t.Errorf("after the requests to broker %d, DescribeCluster lists brokers %v, before them %v", b.nodeID, got, brokersBefore)
		}
	}
	time.Sleep(500 * time.Millisecond) // let a wrongly accepted change show in the watch, not an assertion
	close(stop)
	<-watched
	if len(shrunk) > 0 {
		t.Errorf("the cluster changed after control-plane requests on Kafka ports: %v", shrunk[:min(len(shrunk), 5)])
	}
	for _, b := range c.brokers {
		if log := b.logTail(1 << 20); !strings.Contains(log, "it is served only on the inter-broker control listener") {
			t.Errorf("broker %d's log does not say why it closed the connections", b.nodeID)
		}
	}
}

// e2eDescribeClusterBrokers returns the broker ids DescribeCluster lists.
func e2eDescribeClusterBrokers(t *testing.T, c *e2eCluster) []int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, c.client())
	if err != nil {
		t.Fatalf("DescribeCluster: %v", err)
	}
	var ids []int32
	for _, b := range resp.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids
}

// e2eApiVersionKeys returns the API keys ApiVersions v3 lists at addr,
// with their highest version.
func e2eApiVersionKeys(t *testing.T, addr string) map[int16]int16 {
	t.Helper()
	conn := e2eDialRaw(t, &e2eBroker{addr: addr})
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "e2e", "1"
	corr := conn.request(req, 3)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(3)
	conn.response(corr, resp)
	keys := map[int16]int16{}
	for _, k := range resp.ApiKeys {
		keys[k.ApiKey] = k.MaxVersion
	}
	return keys
}

// e2eFlagValue returns the value following flag in args.
func e2eFlagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// TestE2ESingleNodeRefusesControlPlane: a single node has no control
// listener; its Kafka port neither lists nor serves the control plane.
func TestE2ESingleNodeRefusesControlPlane(t *testing.T) {
	b := e2eStartBroker(t)
	keys := e2eApiVersionKeys(t, b.Addr())
	for _, k := range e2eControlKeys {
		if _, ok := keys[k]; ok {
			t.Errorf("ApiVersions lists control-plane key %d", k)
		}
	}
	ap := kmsg.NewPtrAlterPartitionRequest()
	ap.BrokerID = 1
	conn := e2eDialRaw(t, b)
	conn.request(ap, 1)
	if _, body, err := conn.readFrame(10 * time.Second); err == nil {
		t.Errorf("AlterPartition answered (%d bytes)", len(body))
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("AlterPartition: connection not closed: %v", err)
	}
}
