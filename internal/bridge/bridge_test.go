package bridge

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// echoServer upgrades every request and echoes the stream back; it
// reports the error that ended each connection on errs.
func echoServer(t *testing.T, errs chan<- error) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r)
		if err != nil {
			return
		}
		_, err = io.Copy(c, c)
		c.Close()
		if errs != nil {
			errs <- err
		}
	}))
}

func wsURL(s *httptest.Server) string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/ssh" }

func TestDialAcceptRoundTrip(t *testing.T) {
	srv := echoServer(t, nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, wsURL(srv), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := strings.Repeat("tubegate", 10000)
	go c.Write([]byte(msg))
	buf := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("round trip: %v", err)
	}
}

func TestTextMessageClosesWithReason(t *testing.T) {
	errs := make(chan error, 1)
	srv := echoServer(t, errs)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusUnsupportedData {
		t.Errorf("client saw %v, want close status UnsupportedData", err)
	}
	if serr := <-errs; serr == nil || !strings.Contains(serr.Error(), "a text message") {
		t.Errorf("server side ended with %v, want a frame-type reason", serr)
	}
}

func TestForeignOriginRefused(t *testing.T) {
	srv := echoServer(t, nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {"https://evil.example"}},
	})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err=%v resp=%v, want 403", err, resp)
	}
}

func TestBadURLs(t *testing.T) {
	for _, u := range []string{"http://x/ssh", "ws://", "::", "ftp://host/"} {
		if _, err := Dial(context.Background(), u, DialOptions{}); err == nil || !strings.Contains(err.Error(), "bad URL") {
			t.Errorf("Dial(%q): err = %v, want a bad URL error", u, err)
		}
	}
}

// connectProxy is a minimal HTTP CONNECT proxy that counts tunnels.
func connectProxy(t *testing.T, used *atomic.Int32) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		used.Add(1)
		w.WriteHeader(http.StatusOK)
		down, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() { io.Copy(up, brw); up.Close() }()
		io.Copy(down, up)
		down.Close()
	}))
}

func TestWSSThroughProxyWithPrivateCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r)
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}))
	defer srv.Close()
	var used atomic.Int32
	proxy := connectProxy(t, &used)
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	target := "wss" + strings.TrimPrefix(srv.URL, "https") + "/ssh"

	// Untrusted: a clear certificate error.
	_, err := Dial(ctx, target, DialOptions{Proxy: http.ProxyURL(proxyURL)})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: err = %v, want a certificate error", err)
	}
	c, err := Dial(ctx, target, DialOptions{
		Proxy:     http.ProxyURL(proxyURL),
		TLSConfig: &tls.Config{RootCAs: pool},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("through the proxy"))
	line, err := bufio.NewReader(io.LimitReader(c, 17)).ReadString('\n')
	if line != "through the proxy" {
		t.Errorf("echo via proxy: %q, %v", line, err)
	}
	if used.Load() == 0 {
		t.Error("the proxy was not used")
	}
}
