//go:build !js

package bridge

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tubegate/tubegate/internal/resume"
)

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// TestSpliceTubeEchoes: the lean client's tube is a plain net.Conn as
// well: reads and writes of every size, both ways.
func TestSpliceTubeEchoes(t *testing.T) {
	rs := resume.NewServer(resume.ServerConfig{Window: time.Minute})
	srv := resumeEchoServer(t, rs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := DialResume(ctx, wsURL(srv), DialOptions{Proxy: noProxy}, resume.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, size := range []int{1, 125, 126, 65535, 65536, 300 << 10} {
		echoOnce(t, c, strings.Repeat("x", size-1)+"!")
	}
}

// frameServer upgrades with coder/websocket and runs script on each
// WebSocket.
func frameServer(t *testing.T, script func(ctx context.Context, ws *websocket.Conn)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{resume.Subprotocol}})
		if err != nil {
			return
		}
		script(r.Context(), ws)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func dialLeanTo(t *testing.T, srv *httptest.Server) *leanWS {
	t.Helper()
	u, _ := url.Parse(wsURL(srv))
	raw, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dialLean(ctx, u, raw, nil, []string{resume.Subprotocol})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(0, "") })
	return c
}

// TestLeanClientFrames: fragmented messages are joined, a ping is
// answered, a text message is a protocol error, and the peer's close
// frame is a *resume.CloseError.
func TestLeanClientFrames(t *testing.T) {
	pong := make(chan error, 1)
	srv := frameServer(t, func(ctx context.Context, ws *websocket.Conn) {
		w, _ := ws.Writer(ctx, websocket.MessageBinary)
		w.Write([]byte("frag"))
		w.Write([]byte("mented"))
		w.Close()
		go func() { _, _, err := ws.Read(ctx); pong <- err }() // reads the pong
		pong <- ws.Ping(ctx)
		w, _ = ws.Writer(ctx, websocket.MessageBinary)
		w.Write(bytes.Repeat([]byte("a"), 20))
		w.Write(bytes.Repeat([]byte("b"), 70000))
		w.Close()
		ws.Write(ctx, websocket.MessageText, []byte("text"))
		ws.Close(4401, "resume refused (test)")
	})
	c := dialLeanTo(t, srv)
	ctx := context.Background()
	if msg, err := c.ReadMessage(ctx); err != nil || string(msg) != "fragmented" {
		t.Fatalf("ReadMessage = %q, %v; want the fragments joined", msg, err)
	}
	head, more, err := c.BeginMessage(ctx, 17)
	if err != nil || !more || string(head) != strings.Repeat("a", 17) {
		t.Fatalf("BeginMessage = %q, %v, %v", head, more, err)
	}
	if err := <-pong; err != nil {
		t.Fatalf("ping: %v", err)
	}
	var rest bytes.Buffer
	if err := c.WriteRest(&rest, 2, func() {}, func(int, error) {}); err != nil || rest.String() != "a"+strings.Repeat("b", 70000) {
		t.Fatalf("WriteRest = %d bytes, %v", rest.Len(), err)
	}
	if _, err := c.ReadMessage(ctx); !errors.Is(err, resume.ErrBadFrame) {
		t.Fatalf("a text message: %v, want a bad frame", err)
	}
}

// TestLeanClientCloseFrames: the peer's close frame is a
// *resume.CloseError, and our Close waits for the peer's answer.
func TestLeanClientCloseFrames(t *testing.T) {
	srv := frameServer(t, func(ctx context.Context, ws *websocket.Conn) {
		ws.Close(4401, "resume refused (test)")
	})
	c := dialLeanTo(t, srv)
	var ce *resume.CloseError
	if _, err := c.ReadMessage(context.Background()); !errors.As(err, &ce) || ce.Code != 4401 || ce.Reason != "resume refused (test)" {
		t.Fatalf("ReadMessage = %v; want the close frame", err)
	}

	answered := make(chan error, 1)
	srv = frameServer(t, func(ctx context.Context, ws *websocket.Conn) {
		_, _, err := ws.Read(ctx)
		answered <- err
	})
	c = dialLeanTo(t, srv)
	start := time.Now()
	c.Close(1000, "bye")
	if err := <-answered; websocket.CloseStatus(err) != 1000 {
		t.Fatalf("the server read %v; want our close frame", err)
	}
	if d := time.Since(start); d >= closeWait {
		t.Fatalf("Close took %v: it did not see the answer", d)
	}
}

// TestLeanClientRefused: an upgrade the gateway refuses is one line with
// its status.
func TestLeanClientRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := DialResume(ctx, wsURL(srv), DialOptions{Proxy: noProxy}, resume.Options{})
	if err == nil || !strings.Contains(err.Error(), "refused: 401 Unauthorized") {
		t.Fatalf("DialResume = %v; want the refusal", err)
	}
}

// TestMaskCopy: every byte is masked with the key's byte at its offset,
// across the chunks maskCopy works in.
func TestMaskCopy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 4, 5, 7, 8, 9, 63, 64, 1000, maskChunk - 1, maskChunk, maskChunk + 1, maskChunk + 5, 3*maskChunk + 2, 32 << 10} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		key := r.Uint32()
		dst := make([]byte, n)
		maskCopy(dst, src, key)
		kb := []byte{byte(key), byte(key >> 8), byte(key >> 16), byte(key >> 24)}
		for i := range src {
			if dst[i] != src[i]^kb[i%4] {
				t.Fatalf("n=%d: byte %d masked wrong", n, i)
			}
		}
	}
}

func BenchmarkMaskCopy(b *testing.B) {
	src, dst := make([]byte, 32<<10), make([]byte, 32<<10)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		maskCopy(dst, src, 0x12345678)
	}
}
