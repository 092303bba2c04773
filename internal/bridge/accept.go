//go:build !js

package bridge

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// Accept upgrades an HTTP request to a WebSocket carrying an SSH stream.
// A request whose Origin is not the request's own host is refused with
// 403 (cross-site WebSocket hijacking); native clients send no Origin.
// The connection lives until closed, independent of the request.
func Accept(w http.ResponseWriter, r *http.Request) (net.Conn, error) {
	ws, err := websocket.Accept(leanHijack(w), r, &websocket.AcceptOptions{
		CompressionMode: websocket.CompressionDisabled, // the stream is already encrypted
	})
	if err != nil {
		return nil, fmt.Errorf("websocket accept from %s: %w", r.RemoteAddr, err)
	}
	var local net.Addr
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = a
	}
	remote, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		return newConn(context.Background(), ws, local, nil), nil
	}
	return newConn(context.Background(), ws, local, remote), nil
}
