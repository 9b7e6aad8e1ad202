package broker

// DescribeCluster, versions 0-1.
//
// The cluster is this node: it is the only broker and the controller.
// v1 adds the endpoint type (KIP-919): a broker answers requests for
// broker endpoints (1); a request for controller endpoints (2) gets
// MISMATCHED_ENDPOINT_TYPE and an unknown type UNSUPPORTED_ENDPOINT_TYPE,
// as in Kafka. v2 (fenced brokers) is not offered.
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

func init() { registerAPI(60, 0, 1, handleDescribeCluster) }

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
	for _, lb := range b.liveBrokers() {
		broker := kmsg.NewDescribeClusterResponseBroker()
		broker.NodeID, broker.Host, broker.Port = lb.NodeID, lb.Host, lb.Port
		resp.Brokers = append(resp.Brokers, broker)
	}
	resp.ClusterAuthorizedOperations = math.MinInt32 // not requested
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterAuthorizedOperations
	}
	b.reply(req, resp)
	return nil
}
