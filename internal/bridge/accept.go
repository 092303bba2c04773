//go:build !js

package bridge

import (
	"fmt"
	"net"
	"net/http"
)

// Accept upgrades an HTTP request to a WebSocket carrying an SSH stream.
// A request whose Origin is not the request's own host is refused with
// 403 (cross-site WebSocket hijacking); native clients send no Origin.
// The connection lives until closed, independent of the request.
func Accept(w http.ResponseWriter, r *http.Request) (net.Conn, error) {
	ws, err := acceptLean(w, r, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("websocket accept from %s: %w", r.RemoteAddr, err)
	}
	return newServerConn(ws, r), nil
}

// newServerConn is the gateway's end of a raw tube's WebSocket as a
// net.Conn, with the addresses of the request it came from (the socket
// knows only its own, and a proxy's).
func newServerConn(ws *leanWS, r *http.Request) *leanConn {
	local, remote := acceptAddrs(r)
	var ra net.Addr = addr{r.RemoteAddr}
	if remote != nil {
		ra = remote
	}
	c := newLeanConn(ws, ra)
	c.local = local
	return c
}
