package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// closeTimeout bounds how long the gateway may take to close a tube that sent bad input.
const closeTimeout = 15 * time.Second

// TestBadInput sends bad input on fresh tubes while a seed-recipe tube is up: garbage bytes over
// TCP and over the WebSocket, a text WebSocket message, a truncated handshake (over TCP and over
// the WebSocket) and a WebSocket from a foreign Origin. Each bad tube is closed (or refused) and,
// after each, the established tunnel still reaches the sshd and /healthz answers 200.
func TestBadInput(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "alice")
	port := freePort(t)
	tube := w.remoteForward(t, fmt.Sprintf("%d:localhost:%d", port, w.target.port), "alice.ws")
	waitDial(t, fmt.Sprintf("localhost:%d", port), startTimeout)

	stillServing := func(t *testing.T) {
		t.Helper()
		w.gw.requireHealthy(t)
		if tube.exited() {
			t.Fatalf("the established tube died")
		}
		w.requireTargetVia(t, port)
	}
	stillServing(t)

	t.Run("garbage over tcp", func(t *testing.T) {
		c := dialTCP(t, w.gw.sshAddr)
		_, _ = c.Write(randomBytes(t, 4096))
		requireClosedByPeer(t, c, closeTimeout, "garbage over --ssh-listen")
		stillServing(t)
	})
	t.Run("garbage binary over websocket", func(t *testing.T) {
		c := wsDial(t, w.gw, "")
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := c.Write(ctx, websocket.MessageBinary, randomBytes(t, 4096)); err != nil {
			t.Fatalf("write garbage: %v", err)
		}
		err := wsRequireClosed(t, c, "garbage over the WebSocket")
		t.Logf("tube closed: %v", err)
		stillServing(t)
	})
	t.Run("text message", func(t *testing.T) {
		c := wsDial(t, w.gw, "")
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
			t.Fatalf("write text message: %v", err)
		}
		err := wsRequireClosed(t, c, "a text message")
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Reason == "" {
			t.Errorf("a text message must close the tube with a close frame giving a reason; got %v", err)
		} else {
			t.Logf("closed with status %d, reason %q", ce.Code, ce.Reason)
		}
		stillServing(t)
	})
	t.Run("truncated handshake over tcp", func(t *testing.T) {
		c := dialTCP(t, w.gw.sshAddr)
		if _, err := c.Write(truncatedHandshake()); err != nil {
			t.Fatalf("write: %v", err)
		}
		c.Close()
		stillServing(t)
	})
	t.Run("truncated handshake over websocket", func(t *testing.T) {
		c := wsDial(t, w.gw, "")
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := c.Write(ctx, websocket.MessageBinary, truncatedHandshake()); err != nil {
			t.Fatalf("write: %v", err)
		}
		c.CloseNow()
		stillServing(t)
	})
	t.Run("foreign origin", func(t *testing.T) {
		// Control: the gateway's own origin is accepted and speaks SSH.
		c := wsDial(t, w.gw, "http://"+w.gw.httpAddr)
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		typ, msg, err := c.Read(ctx)
		if err != nil || typ != websocket.MessageBinary || !strings.HasPrefix(string(msg), "SSH-2.0-") {
			t.Fatalf("same-origin WebSocket: want a binary message with the SSH banner, got %v %q %v", typ, msg, err)
		}
		c.CloseNow()

		h := http.Header{"Origin": {"http://evil.example.com"}}
		bad, resp, err := websocket.Dial(ctx, w.gw.wsURL(), &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			bad.CloseNow()
			t.Fatalf("WebSocket with Origin http://evil.example.com was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			status := "no response"
			if resp != nil {
				status = resp.Status
			}
			t.Fatalf("WebSocket with a foreign Origin: want 403, got %s (%v)", status, err)
		}
		stillServing(t)
	})

	if panics := w.gw.proc.out.linesMatching("panic"); len(panics) > 0 {
		t.Errorf("gateway log mentions panic:\n%s", strings.Join(panics, "\n"))
	}
}

// dialTCP connects to addr, closing the connection when the test ends.
func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wsDial opens the gateway's SSH WebSocket, with an Origin header when origin is not empty.
func wsDial(t *testing.T, g *gateway, origin string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPClient: g.httpClient(t)}
	if origin != "" {
		opts.HTTPHeader = http.Header{"Origin": {origin}}
	}
	c, resp, err := websocket.Dial(ctx, g.wsURL(), opts)
	if err != nil {
		status := "no response"
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("WebSocket dial %s: %v (%s)", g.wsURL(), err, status)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// wsRequireClosed reads (discarding the SSH banner and anything else) until the gateway closes the
// WebSocket, failing the test after closeTimeout. It returns the read error that ended it.
func wsRequireClosed(t *testing.T, c *websocket.Conn, what string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: the gateway did not close the WebSocket within %v", what, closeTimeout)
		}
		return err
	}
}

// randomBytes returns n random bytes.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return b
}

// truncatedHandshake is a client version line followed by the first bytes of a KEXINIT packet whose
// header announces far more than is sent.
func truncatedHandshake() []byte {
	b := []byte("SSH-2.0-x\r\n")
	b = binary.BigEndian.AppendUint32(b, 1020) // packet_length
	b = append(b, 6, 20)                       // padding_length, SSH_MSG_KEXINIT
	b = append(b, make([]byte, 16)...)         // cookie
	b = binary.BigEndian.AppendUint32(b, 200)  // kex_algorithms name-list length
	return append(b, "curve25519-sha256,curve"...)
}
