package node

// The control listener (cluster mode): a second Kafka-protocol listener
// on which the other brokers reach this one. Its requests are marked
// broker.ListenerControl, the only listener on which the broker serves the
// control plane (registrations, heartbeats, ISR changes, producer-id
// blocks; core/broker/listener.go). The broker registers its address with
// the controller, and every request another broker sends it (replica
// fetches included) goes there (peer.go dials whatever address the image
// gives).
//
// Its address defaults to this node's raft host with the raft port plus
// controlPortOffset (raft 127.0.0.1:7001: control 127.0.0.1:8001), so that
// a cluster started from a voters list alone needs no more flags. It is a
// wire.Server of its own, with the client listener's limits and a memory
// budget of its own, so that clients filling the client listener's budget
// cannot starve heartbeats and replication.

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/chronik-streaming/chronik/core/broker"
	"github.com/chronik-streaming/chronik/io/wire"
)

// controlPortOffset is added to the raft port to derive the control
// listener's default port.
const controlPortOffset = 1000

// controlConnBit marks the broker.ConnID of a control listener's
// connection: each wire.Server numbers its connections from 1, and the
// two listeners' connections share Node.conns.
const controlConnBit = broker.ConnID(1) << 63

// DefaultControlAddr derives the control listener's address from this
// node's raft address (its entry in the voters list): the same host, the
// raft port plus 1000.
func DefaultControlAddr(raftAddr string) (string, error) {
	host, portStr, err := net.SplitHostPort(raftAddr)
	if err != nil {
		return "", fmt.Errorf("raft address %q: %w", raftAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port+controlPortOffset > 65535 {
		return "", fmt.Errorf("raft address %q: no control port at its port + %d; set the control address", raftAddr, controlPortOffset)
	}
	return net.JoinHostPort(host, strconv.Itoa(port+controlPortOffset)), nil
}

// controlAddrs returns where the control listener binds and the host
// other brokers are told to dial: ControlAddr, or the default derived
// from this node's raft address; an unspecified bind host (0.0.0.0, ::)
// is advertised as the raft address's host.
func (c *ClusterConfig) controlAddrs(nodeID int32) (bind, advertiseHost string, err error) {
	raft := c.RaftAdvertiseAddr
	if raft == "" {
		raft = c.Voters[nodeID]
	}
	raftHost, _, err := net.SplitHostPort(raft)
	if err != nil {
		return "", "", fmt.Errorf("cluster: raft address %q: %w", raft, err)
	}
	bind = c.ControlAddr
	if bind == "" {
		if bind, err = DefaultControlAddr(raft); err != nil {
			return "", "", fmt.Errorf("cluster: %w", err)
		}
	}
	host, _, err := net.SplitHostPort(bind)
	if err != nil {
		return "", "", fmt.Errorf("cluster: control address %q: %w", bind, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = raftHost
	}
	return bind, host, nil
}

// listenControl binds the control listener and tells the broker config
// its address.
func (n *Node) listenControl(bcfg *broker.Config) error {
	bind, host, err := n.cfg.Cluster.controlAddrs(n.cfg.Broker.NodeID)
	if err != nil {
		return err
	}
	wcfg := n.cfg.Wire
	wcfg.Addr = bind
	wcfg.Logger = n.log.With("listener", "control")
	server, err := wire.Listen(wcfg, (*controlHandler)(n))
	if err != nil {
		return fmt.Errorf("control listener: %w", err)
	}
	tcp, ok := server.Addr().(*net.TCPAddr)
	if !ok {
		_ = server.Shutdown(context.Background())
		return fmt.Errorf("control listener: %s is not a TCP address", server.Addr())
	}
	n.control = server
	bcfg.ControlHost, bcfg.ControlPort = host, int32(tcp.Port)
	return nil
}

// ControlAddr is the bound control listener address; nil on a single
// node.
func (n *Node) ControlAddr() net.Addr {
	if n.control == nil {
		return nil
	}
	return n.control.Addr()
}

// controlHandler adapts the node to wire.Handler for the control
// listener.
type controlHandler Node

// HandleRequest decodes a frame on the connection's reader goroutine and
// marks the request as arriving on the control listener.
func (h *controlHandler) HandleRequest(c *wire.Conn, seq uint64, frame []byte) {
	(*Node)(h).handleFrame(c, broker.ConnID(c.ID())|controlConnBit, seq, frame, broker.ListenerControl)
}

// ConnClosed forgets the connection and tells the broker.
func (h *controlHandler) ConnClosed(c *wire.Conn) {
	(*Node)(h).connClosed(broker.ConnID(c.ID()) | controlConnBit)
}
