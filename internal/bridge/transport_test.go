//go:build !js

package bridge

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/coder/websocket"

	"github.com/tubegate/tubegate/internal/resume"
)

// messageSizes are the sizes TestReadMessageBuffers sends: around each
// buffer's bounds, up to the limit, and smaller ones after a large one
// (which coder/websocket's transport reads guessing a large one again).
var messageSizes = []int{0, 1, pooledMin, pooledMin + 1, pooledCap, pooledCap + 1, 128 << 10, 40 << 10, bigPooledCap - 1, 5,
	bigPooledCap, pooledCap, bigPooledCap + 1, 700 << 10, transportReadLimit}

// TestReadMessageBuffers: every message arrives whole, the bulk of a
// transfer (more than pooledCap) in the pooled buffer it was read into,
// a middle-sized one in a buffer of pooledCap and a small one at its own
// size, so that queued small messages never pin large buffers; a message
// over the limit is a bad frame. The same through coder/websocket's
// reader, which does not tell a message's length, and the lean client's,
// which does.
func TestReadMessageBuffers(t *testing.T) {
	script := func(ctx context.Context, ws *websocket.Conn) {
		defer ws.CloseNow()
		for _, n := range append(messageSizes, transportReadLimit+1) {
			if ws.Write(ctx, websocket.MessageBinary, message(n)) != nil {
				return
			}
		}
		ws.Read(ctx) // until the client goes
	}
	t.Run("coder/websocket", func(t *testing.T) {
		srv := frameServer(t, script)
		ws, _, err := websocket.Dial(context.Background(), wsURL(srv), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		checkMessageBuffers(t, newTransport(ws))
	})
	t.Run("lean", func(t *testing.T) {
		checkMessageBuffers(t, dialLeanTo(t, frameServer(t, script)))
	})
}

func checkMessageBuffers(t *testing.T, tr interface {
	resume.Transport
	Release([]byte)
}) {
	for _, n := range messageSizes {
		msg, err := tr.ReadMessage(context.Background())
		if err != nil {
			t.Fatalf("a message of %d bytes: %v", n, err)
		}
		if !bytes.Equal(msg, message(n)) {
			t.Fatalf("a message of %d bytes: read %d other bytes", n, len(msg))
		}
		var want int // 0: a buffer of its own size (rounded up by the allocator)
		switch {
		case n > pooledCap && n <= bigPooledCap:
			want = bigPooledCap
		case n > pooledMin && n <= pooledCap:
			want = pooledCap
		}
		if got := cap(msg); (want != 0 && got != want) || (want == 0 && (got == pooledCap || got == bigPooledCap || got > n+n/8+64)) {
			t.Errorf("a message of %d bytes: in a buffer of %d, want %d (0: its own size)", n, got, want)
		}
		tr.Release(msg)
	}
	if _, err := tr.ReadMessage(context.Background()); !errors.Is(err, resume.ErrBadFrame) && err == nil {
		t.Fatalf("a message over the limit: err %v, want an error", err)
	}
}

func message(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + i>>8)
	}
	return b
}
