//go:build !js

package bridge

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/coder/websocket"

	"github.com/tubegate/tubegate/internal/resume"
)

// AcceptTube upgrades an HTTP request to a WebSocket tube, as Accept
// does, and also offers resume.Subprotocol when rs is not nil. A client
// that asks for it speaks the resume protocol: a new tube is returned as
// its resume.Session (with the send queue in front); a resume joins the
// tube it names and AcceptTube returns nil, nil. A client that does not
// ask gets the raw stream, exactly as Accept gives it. source is the
// address refusals are counted against (the client's IP).
func AcceptTube(ctx context.Context, w http.ResponseWriter, r *http.Request, rs *resume.Server, source string) (net.Conn, error) {
	opts := &websocket.AcceptOptions{
		CompressionMode: websocket.CompressionDisabled, // the stream is already encrypted
	}
	if rs != nil {
		opts.Subprotocols = []string{resume.Subprotocol}
	}
	ws, err := websocket.Accept(leanHijack(w), r, opts)
	if err != nil {
		return nil, fmt.Errorf("websocket accept from %s: %w", r.RemoteAddr, err)
	}
	var local net.Addr
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = a
	}
	remote, rerr := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if rs == nil || ws.Subprotocol() != resume.Subprotocol {
		if rerr != nil {
			return newConn(context.Background(), ws, local, nil), nil
		}
		return newConn(context.Background(), ws, local, remote), nil
	}
	var raddr net.Addr = addr{r.RemoteAddr}
	if rerr == nil {
		raddr = remote
	}
	sess, err := rs.Accept(ctx, newTransport(ws), source, local, raddr)
	if err != nil {
		return nil, fmt.Errorf("resumable tube from %s: %w", r.RemoteAddr, err)
	}
	if sess == nil {
		return nil, nil
	}
	return newResumeServerConn(sess), nil
}
