//go:build js

package bridge

import (
	"context"
	"net"

	"github.com/tubegate/tubegate/internal/resume"
)

// DialOptions configure a browser WebSocket. The browser sends its own
// Origin and cookies; there is nothing to set yet.
type DialOptions struct{}

// DialResume opens a resumable tube from the browser: a net.Conn that
// redials and resumes by itself when its WebSocket drops (see package
// resume; ropts.OnState hears of it, to show "reconnecting…").
func DialResume(ctx context.Context, rawURL string, opts DialOptions, ropts resume.Options) (net.Conn, error) {
	dial := func(ctx context.Context) (resume.Transport, error) {
		return dialJS(ctx, rawURL, resume.Subprotocol)
	}
	if ropts.LocalAddr == nil {
		ropts.LocalAddr = addr{"browser"}
	}
	if ropts.RemoteAddr == nil {
		ropts.RemoteAddr = addr{rawURL}
	}
	rc, err := resume.Dial(ctx, dial, ropts)
	if err != nil {
		return nil, err
	}
	return newBatchedClientConn(rc), nil
}

type addr struct{ host string }

func (a addr) Network() string { return "websocket" }
func (a addr) String() string  { return a.host }
