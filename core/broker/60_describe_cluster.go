package broker

// DescribeCluster, versions 0-2 (Kafka 4.1's highest).
//
// The brokers listed are the live (unfenced) ones, this one always (as
// Metadata lists them: liveBrokers), and the controller is the quorum
// leader (this node on a single node).
// v1 adds the endpoint type (KIP-919): a broker answers requests for
// broker endpoints (1); a request for controller endpoints (2) gets
// MISMATCHED_ENDPOINT_TYPE and an unknown type UNSUPPORTED_ENDPOINT_TYPE,
// as in Kafka. v2 adds IncludeFencedBrokers (KIP-1073): every registered
// broker is listed, each with IsFenced as the image holds it (this
// broker too, which is listed even before its registration applies).
//
// Without an authorizer every client may do everything, so, like Kafka
// without one, IncludeClusterAuthorizedOperations reports every operation
// the cluster resource supports.

import (
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(60, 0, 2, handleDescribeCluster) }

// Kafka error codes of KIP-919.
var (
	kerrMismatchedEndpointType  = kerr.MismatchedEndpointType.Code
	kerrUnsupportedEndpointType = kerr.UnsupportedEndpointType.Code
)

// Endpoint types of DescribeCluster v1.
const (
	endpointTypeBroker     int8 = 1
	endpointTypeController int8 = 2
)

// clusterAuthorizedOperations is the bit field of the ACL operations
// Kafka supports on the cluster resource: CREATE (5), ALTER (7),
// DESCRIBE (8), CLUSTER_ACTION (9), DESCRIBE_CONFIGS (10),
// ALTER_CONFIGS (11) and IDEMPOTENT_WRITE (12).
const clusterAuthorizedOperations int32 = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12

func handleDescribeCluster(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.DescribeClusterRequest)
	resp := kmsg.NewPtrDescribeClusterResponse()
	resp.EndpointType = endpointTypeBroker
	if r.Version >= 1 && r.EndpointType != endpointTypeBroker {
		var msg string
		if r.EndpointType == endpointTypeController {
			resp.ErrorCode = kerrMismatchedEndpointType
			msg = "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
		} else {
			resp.ErrorCode = kerrUnsupportedEndpointType
			msg = fmt.Sprintf("Unsupported endpoint type %d", r.EndpointType)
		}
		resp.ErrorMessage = &msg
		b.reply(req, resp)
		return nil
	}
	resp.ClusterID = b.cfg.ClusterID
	resp.ControllerID = b.controllerForClients()
	if r.Version >= 2 && r.IncludeFencedBrokers {
		resp.Brokers = b.describeAllBrokers()
	} else {
		for _, lb := range b.liveBrokers() {
			broker := kmsg.NewDescribeClusterResponseBroker()
			broker.NodeID, broker.Host, broker.Port = lb.NodeID, lb.Host, lb.Port
			resp.Brokers = append(resp.Brokers, broker)
		}
	}
	resp.ClusterAuthorizedOperations = math.MinInt32 // not requested
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterAuthorizedOperations
	}
	b.reply(req, resp)
	return nil
}

// describeAllBrokers lists every registered broker in id order, fenced
// ones marked, for DescribeCluster v2's IncludeFencedBrokers; this broker
// is listed unfenced while its registration has not applied yet.
func (b *Broker) describeAllBrokers() []kmsg.DescribeClusterResponseBroker {
	var out []kmsg.DescribeClusterResponseBroker
	self := false
	for _, id := range b.image.BrokerIDs() {
		reg := b.image.Broker(id)
		broker := kmsg.NewDescribeClusterResponseBroker()
		broker.NodeID, broker.Host, broker.Port, broker.IsFenced = id, reg.Host, reg.Port, reg.Fenced
		if id == b.cfg.NodeID {
			self = true
			broker.Host, broker.Port = b.cfg.AdvertisedHost, b.cfg.AdvertisedPort
		}
		out = append(out, broker)
	}
	if !self {
		broker := kmsg.NewDescribeClusterResponseBroker()
		broker.NodeID, broker.Host, broker.Port = b.cfg.NodeID, b.cfg.AdvertisedHost, b.cfg.AdvertisedPort
		out = append(out, broker)
	}
	return out
}
