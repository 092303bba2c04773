package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/gwclient"
)

// Gateway is the browser's tube: an SSH connection to the gateway,
// authorized by the page's session cookie rather than SSH credentials.
// The tube itself (direct-tcpip, tcpip-forward, forward-lost) is
// gwclient's, shared with `gateway tunnel`.
type Gateway struct {
	tube *gwclient.Tube
	// Fingerprint is the gateway's SHA256 host key fingerprint.
	Fingerprint string
}

// NewGateway runs the SSH handshake on c, a WebSocket to /ssh. The gateway
// takes the tube as the logged-in user (auth "none"); its host key is not
// pinned because the WebSocket itself goes to the page's own origin, whose
// TLS is the trust anchor, as it is for the cookie.
func NewGateway(ctx context.Context, c net.Conn) (*Gateway, error) {
	g := &Gateway{}
	cfg := &ssh.ClientConfig{
		Config: ssh.Config{Ciphers: ciphers()},
		User:   "browser",
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			g.Fingerprint = ssh.FingerprintSHA256(key)
			return nil
		},
	}
	tube, err := gwclient.NewTube(ctx, c, "gateway", cfg)
	if err != nil {
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, errors.New("the gateway did not accept this browser's session: log in again")
		}
		return nil, fmt.Errorf("gateway handshake: %w", err)
	}
	g.tube = tube
	return g, nil
}

// Done is closed when the tube has ended.
func (g *Gateway) Done() <-chan struct{} { return g.tube.Done() }

// Err says why the tube ended (valid once Done is closed).
func (g *Gateway) Err() error { return g.tube.Err() }

// Close ends the tube and everything carried in it.
func (g *Gateway) Close() error { return g.tube.Close() }

// Open opens a direct-tcpip channel to host:port through the gateway.
func (g *Gateway) Open(ctx context.Context, host string, port int) (net.Conn, error) {
	return g.tube.Open(ctx, host, port)
}
