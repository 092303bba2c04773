package main

import (
	"context"
	"fmt"
	"net"
	"net/url"

	"github.com/tubegate/tubegate/internal/bridge"
)

// dialGateway opens the byte stream a tube runs on: a WebSocket to /ssh
// for ws:// and wss:// (bridge.Dial, which honours HTTPS_PROXY), or TCP
// for ssh://HOST:PORT (the gateway's --ssh-listen). It is the one place
// `gateway tunnel` dials the gateway: a resuming WebSocket dial replaces
// bridge.Dial here, and nothing else changes.
func dialGateway(ctx context.Context, u *url.URL, hostPort string) (net.Conn, error) {
	if u.Scheme == "ssh" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", hostPort)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
		}
		return c, nil
	}
	return bridge.Dial(ctx, u.String(), bridge.DialOptions{})
}
