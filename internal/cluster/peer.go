package cluster

import (
	"context"
	"net"
)

// Node is a member of the cluster as the endpoint directory records it.
type Node struct {
	ID   string // --node-id
	Addr string // --node-addr, the base URL of its HTTP listener
}

// Peers carries requests to other nodes; internal/nodelink implements it
// over authenticated node-to-node streams.
type Peers interface {
	// Open carries a connection to the endpoint key (forward.Address's
	// String form) held by tube on node, as if from origin. The owning
	// node re-checks that tube still holds key and delivers the
	// connection into the tube as a forwarded-tcpip channel, exactly as a
	// local connection to the endpoint would be.
	Open(ctx context.Context, node Node, key, tube string, origin net.Addr) (net.Conn, error)
	// Probe asks node whether tube still answers (a keepalive round trip),
	// for the takeover of a silent tube's names.
	Probe(ctx context.Context, node Node, tube string) (bool, error)
	// CloseTube asks node to end tube (a takeover, or the tube's user was
	// deleted on another node).
	CloseTube(ctx context.Context, node Node, tube string) error
}

// Local is what a node serves to its peers: the mirror of Peers, run
// against this node's own endpoints (the forward registry implements it).
type Local interface {
	// OpenLocal opens a connection to this node's endpoint key, if tube
	// still holds it, as if from origin; the connection is counted and cut
	// with the endpoint like any other.
	OpenLocal(ctx context.Context, key, tube string, origin net.Addr) (net.Conn, error)
	// ProbeLocal reports whether this node's tube still answers.
	ProbeLocal(ctx context.Context, tube string) bool
	// CloseLocal ends this node's tube (no error if it is already gone).
	CloseLocal(tube string) error
}
