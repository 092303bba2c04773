//go:build !js

package bridge

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/tubegate/tubegate/internal/idlepoll"
	"github.com/tubegate/tubegate/internal/resume"
)

// TubeOptions are AcceptTube's.
type TubeOptions struct {
	// Resume serves resumable tubes (nil: none is offered).
	Resume *resume.Server
	// Source is the address refusals are counted against (the client's
	// IP).
	Source string
	// Idle is where a raw tube's reader waits while its client is idle,
	// with no goroutine (nil: it keeps one).
	Idle *idlepoll.Poller
}

// AcceptTube upgrades an HTTP request to a WebSocket tube, as Accept
// does, and also offers resume.Subprotocol when o.Resume is not nil. A
// client that asks for it speaks the resume protocol: a new tube is
// returned as its resume.Session (with the send queue in front); a resume
// joins the tube it names and AcceptTube returns nil, nil. A client that
// does not ask gets the raw stream, as Accept gives it.
func AcceptTube(ctx context.Context, w http.ResponseWriter, r *http.Request, o TubeOptions) (net.Conn, error) {
	rs, source := o.Resume, o.Source
	var offer []string
	if rs != nil {
		offer = []string{resume.Subprotocol}
	}
	ws, err := acceptLean(w, r, offer, o.Idle)
	if err != nil {
		return nil, fmt.Errorf("websocket accept from %s: %w", r.RemoteAddr, err)
	}
	if rs == nil || ws.Subprotocol() != resume.Subprotocol {
		return newServerConn(ws, r), nil
	}
	local, remote := acceptAddrs(r)
	var raddr net.Addr = addr{r.RemoteAddr}
	if remote != nil {
		raddr = remote
	}
	sess, err := rs.Accept(ctx, serverTransport{ws}, source, local, raddr)
	if err != nil {
		return nil, fmt.Errorf("resumable tube from %s: %w", r.RemoteAddr, err)
	}
	if sess == nil {
		return nil, nil
	}
	return newResumeServerConn(sess), nil
}

// serverTransport is the gateway's end of a resumable tube's WebSocket as
// a resume.Transport. It is not a resume.Streamer: the gateway's reads
// are unmasked in memory, never spliced.
type serverTransport struct{ ws *leanWS }

func (t serverTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	return t.ws.ReadMessage(ctx)
}

func (t serverTransport) WriteMessage(ctx context.Context, p []byte) error {
	return t.ws.WriteMessage(ctx, p)
}

func (t serverTransport) Close(code int, reason string) error { return t.ws.Close(code, reason) }

// Release takes back a message ReadMessage returned (resume.Releaser).
func (t serverTransport) Release(msg []byte) { releaseMessage(msg) }

// ParkRead lets the session's reader of the WebSocket go while the client
// sends nothing (resume.Parker); it waits in the gateway's poller then.
// After a heartbeat it parks at once, without the linger.
func (t serverTransport) ParkRead(resume func(), idle bool) bool { return t.ws.parkRead(resume, idle) }
