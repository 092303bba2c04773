//go:build !js

package bridge

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tubegate/tubegate/internal/resume"
)

// TestLeanConnStream: a raw tube on the lean client reads the stream
// across messages (empty and fragmented ones too), sends what is written
// as binary messages, and ends with io.EOF at the gateway's normal close
// and with a *resume.CloseError, status and reason, at another.
func TestLeanConnStream(t *testing.T) {
	for _, tc := range []struct {
		code   websocket.StatusCode
		reason string
	}{{websocket.StatusNormalClosure, ""}, {websocket.StatusServiceRestart, "the gateway shuts down"}} {
		srv := frameServer(t, func(ctx context.Context, ws *websocket.Conn) {
			ws.Write(ctx, websocket.MessageBinary, []byte("ab"))
			ws.Write(ctx, websocket.MessageBinary, nil)
			w, _ := ws.Writer(ctx, websocket.MessageBinary)
			w.Write([]byte("cd"))
			w.Write([]byte("ef"))
			w.Close()
			typ, msg, err := ws.Read(ctx)
			if err != nil || typ != websocket.MessageBinary {
				return
			}
			ws.Write(ctx, websocket.MessageBinary, append([]byte("echo:"), msg...))
			ws.Close(tc.code, tc.reason)
		})
		lc := newLeanConn(dialLeanTo(t, srv), addr{"gw"})
		lc.SetDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, 6)
		if _, err := io.ReadFull(lc, got); err != nil || string(got) != "abcdef" {
			t.Fatalf("read %q, %v; want abcdef", got, err)
		}
		if _, err := lc.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(lc)
		if string(rest) != "echo:hello" {
			t.Errorf("then read %q, want echo:hello", rest)
		}
		var ce *resume.CloseError
		switch {
		case tc.code == websocket.StatusNormalClosure && err != nil:
			t.Errorf("a normal close: %v, want io.EOF", err)
		case tc.code != websocket.StatusNormalClosure && (!errors.As(err, &ce) || ce.Code != int(tc.code) || ce.Reason != tc.reason):
			t.Errorf("close %d: %v, want a *resume.CloseError with its status and reason", tc.code, err)
		}
		lc.Close()
	}
}
