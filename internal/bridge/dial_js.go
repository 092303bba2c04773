//go:build js

package bridge

import (
	"context"
	"fmt"
	"net"

	"github.com/coder/websocket"
)

// DialOptions configure a browser WebSocket. The browser sends its own
// Origin and cookies; there is nothing to set yet.
type DialOptions struct{}

// Dial opens a WebSocket from the browser to the gateway and returns it as
// a net.Conn carrying the SSH stream.
func Dial(ctx context.Context, rawURL string, opts DialOptions) (net.Conn, error) {
	ws, _, err := websocket.Dial(ctx, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	return newConn(context.Background(), ws, addr{"browser"}, addr{rawURL}), nil
}

type addr struct{ host string }

func (a addr) Network() string { return "websocket" }
func (a addr) String() string  { return a.host }
