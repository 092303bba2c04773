package forward

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// Owner is the tube that published an endpoint: it carries each connection
// to the client, which delivers it to the forward's destination.
type Owner interface {
	// User is the name of the user the tube authenticated as.
	User() string
	// ID identifies the tube in logs.
	ID() string
	// OpenForwarded opens a connection through the tube to the client side
	// of the endpoint (an SSH forwarded-tcpip channel).
	OpenForwarded(ctx context.Context, ep *Endpoint, origin net.Addr) (net.Conn, error)
	// Probe reports whether the tube still answers (a keepalive round trip).
	Probe(ctx context.Context) bool
	// Close ends the tube.
	Close() error
}

// Stats counts an endpoint's traffic. All fields are updated atomically.
type Stats struct {
	Active   atomic.Int64 // connections open now
	Total    atomic.Int64 // connections accepted since publishing
	BytesIn  atomic.Int64 // bytes from the connecting side towards the owner
	BytesOut atomic.Int64 // bytes from the owner back to the connecting side
}

// Snapshot is a copy of Stats at one moment.
type Snapshot struct {
	Active, Total, BytesIn, BytesOut int64
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	return Snapshot{s.Active.Load(), s.Total.Load(), s.BytesIn.Load(), s.BytesOut.Load()}
}

// Endpoint is a published port or a virtual name, owned by one tube. Its
// Conns are the connections made to it, cut when it closes.
type Endpoint struct {
	// Key is the endpoint's identity in the registry: a virtual name and
	// port, or the listener's address and port.
	Key Address
	// BindHost and BindPort are what the client asked for in tcpip-forward
	// (with an allocated port filled in); they are echoed back in every
	// forwarded-tcpip channel so the client can match its forward.
	BindHost string
	BindPort int
	// Virtual is true for a virtual name, which has no TCP listener.
	Virtual bool
	// Allocated is true for a port the gateway picked (-R 0:...): it is
	// not remembered once gone, since nobody will ask for it again.
	Allocated bool
	// Published is when the endpoint went online (set by the registry).
	Published time.Time
	Owner     Owner
	Conns

	lns []net.Listener // a loopback port's are 127.0.0.1 and [::1]
	// claim is the endpoint's record in the cluster's directory (nil on a
	// single node); remote marks an endpoint of another node (Resolve).
	claim  *Claim
	remote bool
}

// Addr is the (first) listener's address, or nil for a virtual name. For
// another node's published port it is the address that node listens on.
func (e *Endpoint) Addr() net.Addr {
	if e.remote && !e.Virtual && e.Key.IP.IsValid() {
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(e.Key.IP, uint16(e.Key.Port)))
	}
	if len(e.lns) == 0 {
		return nil
	}
	return e.lns[0].Addr()
}

// Remote reports whether the endpoint is held by a tube on another node of
// the cluster.
func (e *Endpoint) Remote() bool { return e.remote }

// Dial opens a connection to the endpoint through its owner's tube, as if
// origin had connected to it. The connection is counted in Stats and cut
// when the endpoint closes.
func (e *Endpoint) Dial(ctx context.Context, origin net.Addr) (net.Conn, error) {
	return e.dial(ctx, origin, func(c net.Conn) (net.Conn, bool) { return e.Track(c, true) })
}

// DialKeyed is Dial on behalf of key of by (a share link's ID): the
// connection is counted in the endpoint's Conns and in by's set for key
// with one wrapper, so that cutting either closes it.
func (e *Endpoint) DialKeyed(ctx context.Context, origin net.Addr, by *ConnsByKey, key string) (net.Conn, error) {
	return e.dial(ctx, origin, func(c net.Conn) (net.Conn, bool) { return by.Track(key, c, true, &e.Conns) })
}

func (e *Endpoint) dial(ctx context.Context, origin net.Addr, track func(net.Conn) (net.Conn, bool)) (net.Conn, error) {
	c, err := e.Owner.OpenForwarded(ctx, e, origin)
	if err != nil {
		return nil, err
	}
	tc, ok := track(c)
	if !ok {
		c.Close()
		return nil, net.ErrClosed
	}
	return tc, nil
}

// close stops the listener and cuts every live connection.
func (e *Endpoint) close() {
	for _, ln := range e.lns {
		ln.Close()
	}
	e.Cut()
}
