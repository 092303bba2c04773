package forward

import (
	"context"
	"net"
	"strconv"

	"golang.org/x/crypto/ssh"
)

// The TCP/IP forwarding messages of RFC 4254 section 7, as the gateway, the
// native client and the browser's client all send and read them, and the
// rules for the originator they carry.

// Request and channel types of RFC 4254 section 7, and the gateway's own.
const (
	ReqTCPIPForward       = "tcpip-forward"
	ReqCancelTCPIPForward = "cancel-tcpip-forward"
	// ReqForwardLost tells a client that one of its forwards died on its
	// own (its listener on the gateway failed); its payload is a
	// ForwardRequest naming the forward.
	ReqForwardLost     = "forward-lost@tubegate"
	ChanDirectTCPIP    = "direct-tcpip"
	ChanForwardedTCPIP = "forwarded-tcpip"
)

// ForwardRequest is the payload of a tcpip-forward global request (RFC
// 4254 7.1): listen on BindAddr port BindPort (0: any port).
type ForwardRequest struct {
	BindAddr string
	BindPort uint32
}

// CancelForwardRequest is the payload of cancel-tcpip-forward, which has
// tcpip-forward's layout.
type CancelForwardRequest = ForwardRequest

// ForwardReply is tcpip-forward's reply to a request for port 0: the port
// allocated.
type ForwardReply struct {
	Port uint32
}

// DirectTCPIP is the extra data of a direct-tcpip channel (RFC 4254 7.2):
// connect to Host port Port, for the originator.
type DirectTCPIP struct {
	Host       string
	Port       uint32
	OriginAddr string
	OriginPort uint32
}

// ForwardedTCPIP is the extra data of a forwarded-tcpip channel (RFC 4254
// 7.2): a connection to the forward Addr port Port, as the client asked for
// it in tcpip-forward, from the originator.
type ForwardedTCPIP struct {
	Addr       string
	Port       uint32
	OriginAddr string
	OriginPort uint32
}

// NewDirectTCPIP is the direct-tcpip data for host:port from origin.
func NewDirectTCPIP(host string, port int, origin net.Addr) DirectTCPIP {
	oh, op := Originator(origin)
	return DirectTCPIP{Host: host, Port: uint32(port), OriginAddr: oh, OriginPort: op}
}

// NewForwardedTCPIP is the forwarded-tcpip data for a connection from
// origin to the forward bind:port.
func NewForwardedTCPIP(bind string, port int, origin net.Addr) ForwardedTCPIP {
	oh, op := Originator(origin)
	return ForwardedTCPIP{Addr: bind, Port: uint32(port), OriginAddr: oh, OriginPort: op}
}

// Origin is the originator the channel declares, or fallback (the
// carrier's own address, which is the truth) when it declares none that is
// an IP address and a port: x/crypto/ssh clients send 0.0.0.0:0.
func (m DirectTCPIP) Origin(fallback net.Addr) net.Addr {
	return origin(m.OriginAddr, m.OriginPort, fallback)
}

// Origin is the originator the channel declares, or fallback when it
// declares none that is an IP address and a port (nil fallback: OpenSSH's
// placeholder, 127.0.0.1 port 65535).
func (m ForwardedTCPIP) Origin(fallback net.Addr) net.Addr {
	return origin(m.OriginAddr, m.OriginPort, fallback)
}

func origin(host string, port uint32, fallback net.Addr) net.Addr {
	if net.ParseIP(host) == nil || port == 0 || port > 65535 {
		if fallback != nil {
			return fallback
		}
		host, port = placeholderHost, placeholderPort
	}
	return Addr{Net: "tcp", Address: JoinHostPort(host, int(port))}
}

// The originator declared for a connection that has no IP address and
// port of its own, the one OpenSSH itself uses for stdio forwards.
const (
	placeholderHost = "127.0.0.1"
	placeholderPort = 65535
)

// Originator is the originator address and port to declare for a
// connection from a. Clients may refuse an originator that is not an IP
// address with a port (x/crypto/ssh does), so anything else becomes
// 127.0.0.1 port 65535, OpenSSH's placeholder for stdio forwards.
func Originator(a net.Addr) (string, uint32) {
	if a == nil {
		return placeholderHost, placeholderPort
	}
	host, port, err := net.SplitHostPort(a.String())
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil || p <= 0 || p > 65535 || net.ParseIP(host) == nil {
		return placeholderHost, placeholderPort
	}
	return host, uint32(p)
}

// OpenChannel opens a channel of kind on conn, giving up when ctx ends; a
// channel the peer accepts after that is closed, not leaked. Requests on
// the channel are discarded.
func OpenChannel(ctx context.Context, conn ssh.Conn, kind string, payload []byte) (ssh.Channel, error) {
	type result struct {
		ch  ssh.Channel
		err error
	}
	done := make(chan result, 1)
	go func() {
		ch, reqs, err := conn.OpenChannel(kind, payload)
		if err == nil {
			go ssh.DiscardRequests(reqs)
		}
		done <- result{ch, err}
	}()
	select {
	case r := <-done:
		return r.ch, r.err
	case <-ctx.Done():
		go func() { // the peer may still answer; do not leak its channel
			if r := <-done; r.err == nil {
				r.ch.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
