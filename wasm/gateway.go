package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// Gateway is the browser's tube: an SSH connection to the gateway,
// authorized by the page's session cookie rather than SSH credentials.
type Gateway struct {
	conn ssh.Conn
	// Fingerprint is the gateway's SHA256 host key fingerprint.
	Fingerprint string

	mu     sync.Mutex
	locals map[forward.Address]*Forward // -L forwards by the endpoint they listen at

	done chan struct{}
	err  error // why the tube ended, valid after done
}

// NewGateway runs the SSH handshake on c, a WebSocket to /ssh. The gateway
// takes the tube as the logged-in user (auth "none"); its host key is not
// pinned because the WebSocket itself goes to the page's own origin, whose
// TLS is the trust anchor, as it is for the cookie.
func NewGateway(ctx context.Context, c net.Conn) (*Gateway, error) {
	g := &Gateway{locals: make(map[forward.Address]*Forward), done: make(chan struct{})}
	cfg := &ssh.ClientConfig{
		Config: ssh.Config{Ciphers: ciphers()},
		User:   "browser",
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			g.Fingerprint = ssh.FingerprintSHA256(key)
			return nil
		},
	}
	conn, chans, reqs, err := handshake(ctx, c, func(c net.Conn) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
		return ssh.NewClientConn(c, "gateway", cfg)
	})
	if err != nil {
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, errors.New("the gateway did not accept this browser's session: log in again")
		}
		return nil, fmt.Errorf("gateway handshake: %w", err)
	}
	g.conn = conn
	go g.serveRequests(reqs)
	go g.serveChannels(chans)
	go func() {
		g.err = conn.Wait()
		close(g.done)
	}()
	return g, nil
}

// handshake runs an SSH handshake on c that gives up when ctx ends.
func handshake(ctx context.Context, c net.Conn, fn func(net.Conn) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error)) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	conn, chans, reqs, err := fn(c)
	if !stop() && err == nil {
		err = ctx.Err() // the handshake won the race but ctx has ended
	}
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
	}
	return conn, chans, reqs, err
}

// Done is closed when the tube has ended.
func (g *Gateway) Done() <-chan struct{} { return g.done }

// Err says why the tube ended (valid once Done is closed).
func (g *Gateway) Err() error {
	if g.err == nil {
		return errors.New("the gateway closed the connection")
	}
	return g.err
}

// Close ends the tube and everything carried in it.
func (g *Gateway) Close() error { return g.conn.Close() }

// Open opens a direct-tcpip channel to host:port through the gateway: a
// virtual name, a published port, or a destination the user's policy
// permits the gateway to dial.
func (g *Gateway) Open(ctx context.Context, host string, port int, origin net.Addr) (net.Conn, error) {
	payload := ssh.Marshal(forward.NewDirectTCPIP(host, port, origin))
	target := forward.JoinHostPort(host, port)
	ch, err := forward.OpenChannel(ctx, g.conn, forward.ChanDirectTCPIP, payload)
	if err != nil {
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			return nil, fmt.Errorf("%s: %s", target, oce.Message)
		}
		return nil, fmt.Errorf("open %s through the gateway: %w", target, err)
	}
	return forward.ChannelConn(ch, forward.Addr{Net: "browser", Address: "browser"},
		forward.Addr{Net: "tubegate", Address: target}), nil
}

// Listen asks the gateway to listen on bind:port (a tcpip-forward) and
// returns the port it listens on. Each connection arrives as a
// forwarded-tcpip channel and is handed to f.
func (g *Gateway) Listen(bind string, port int, f *Forward) (int, error) {
	ok, reply, err := g.conn.SendRequest(forward.ReqTCPIPForward, true,
		ssh.Marshal(forward.ForwardRequest{BindAddr: bind, BindPort: uint32(port)}))
	if err != nil {
		return 0, fmt.Errorf("ask the gateway to listen on %s: %w", forward.JoinHostPort(bind, port), err)
	}
	if !ok {
		return 0, fmt.Errorf("the gateway refused to listen on %s: not permitted by your policy, or already in use",
			forward.JoinHostPort(bind, port))
	}
	if port == 0 {
		var r forward.ForwardReply
		if err := ssh.Unmarshal(reply, &r); err != nil || r.Port == 0 {
			return 0, fmt.Errorf("the gateway allocated no port for %s", bind)
		}
		port = int(r.Port)
	}
	g.mu.Lock()
	g.locals[forward.AddressOf(bind, port)] = f
	g.mu.Unlock()
	return port, nil
}

// Unlisten cancels a tcpip-forward made by Listen.
func (g *Gateway) Unlisten(bind string, port int) error {
	g.mu.Lock()
	delete(g.locals, forward.AddressOf(bind, port))
	g.mu.Unlock()
	ok, _, err := g.conn.SendRequest(forward.ReqCancelTCPIPForward, true,
		ssh.Marshal(forward.CancelForwardRequest{BindAddr: bind, BindPort: uint32(port)}))
	if err != nil {
		return fmt.Errorf("cancel the gateway's listener %s: %w", forward.JoinHostPort(bind, port), err)
	}
	if !ok {
		return fmt.Errorf("the gateway has no listener %s", forward.JoinHostPort(bind, port))
	}
	return nil
}

// serveRequests answers the gateway's global requests: forward-lost@tubegate
// says a -L forward's listener on the gateway died, which the page then
// shows on that forward's row; anything else is refused.
func (g *Gateway) serveRequests(reqs <-chan *ssh.Request) {
	for req := range reqs {
		if req.Type == forward.ReqForwardLost {
			var p forward.ForwardRequest
			if ssh.Unmarshal(req.Payload, &p) == nil {
				at := forward.AddressOf(p.BindAddr, int(p.BindPort))
				g.mu.Lock()
				f := g.locals[at]
				delete(g.locals, at)
				g.mu.Unlock()
				if f != nil {
					f.fail(errors.New("its listener on the gateway failed and was closed: remove this forward and add it again"))
				}
			}
		}
		if req.WantReply {
			req.Reply(false, nil)
		}
	}
}

// serveChannels delivers each forwarded-tcpip channel to its -L forward.
func (g *Gateway) serveChannels(chans <-chan ssh.NewChannel) {
	for nc := range chans {
		if nc.ChannelType() != forward.ChanForwardedTCPIP {
			nc.Reject(ssh.UnknownChannelType, "the browser accepts only forwarded-tcpip")
			continue
		}
		var p forward.ForwardedTCPIP
		if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
			nc.Reject(ssh.ConnectionFailed, "malformed forwarded-tcpip")
			continue
		}
		g.mu.Lock()
		f := g.locals[forward.AddressOf(p.Addr, int(p.Port))]
		g.mu.Unlock()
		if f == nil {
			nc.Reject(ssh.Prohibited, "no such forward in this browser")
			continue
		}
		go f.serveGatewayChannel(nc, p.Origin(nil))
	}
}
