//go:build !js

package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"

	"github.com/tubegate/tubegate/internal/resume"
)

// wsTransport is a WebSocket as a resume.Transport: one binary message
// per frame. Native clients and the gateway use it; the page has its own
// (transport_js.go).
type wsTransport struct{ ws *websocket.Conn }

func newTransport(ws *websocket.Conn) wsTransport {
	ws.SetReadLimit(ReadLimit + 64) // a frame header over the largest message
	return wsTransport{ws}
}

func (t wsTransport) ReadMessage(ctx context.Context) ([]byte, error) {
	typ, b, err := t.ws.Read(ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return nil, &resume.CloseError{Code: int(ce.Code), Reason: ce.Reason}
		}
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("%w: a text message", resume.ErrBadFrame)
	}
	return b, nil
}

func (t wsTransport) WriteMessage(ctx context.Context, p []byte) error {
	return t.ws.Write(ctx, websocket.MessageBinary, p)
}

func (t wsTransport) Close(code int, reason string) error {
	if code == 0 {
		return t.ws.CloseNow()
	}
	return t.ws.Close(websocket.StatusCode(code), reason)
}
