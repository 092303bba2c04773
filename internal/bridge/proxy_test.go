package bridge

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// authProxy is an in-test HTTP proxy that, like the squid of the e2e tests,
// allows only CONNECT and requires Basic credentials. It sends every
// tunnel to upstream, whatever host was asked for, so a test can use a
// name that only "the proxy" can resolve.
type authProxy struct {
	srv      *httptest.Server
	upstream string
	user     string
	pass     string

	mu       sync.Mutex
	requests []string // "METHOD host" of every request, in order
}

func newAuthProxy(t *testing.T, upstream, user, pass string) *authProxy {
	t.Helper()
	p := &authProxy{upstream: upstream, user: user, pass: pass}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *authProxy) addr() string { return p.srv.Listener.Addr().String() }

func (p *authProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

func (p *authProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests = append(p.requests, r.Method+" "+r.Host)
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	if p.user != "" {
		r.Header.Set("Authorization", r.Header.Get("Proxy-Authorization"))
		user, pass, ok := r.BasicAuth()
		if !ok || user != p.user || pass != p.pass {
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusOK)
	down, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	go func() { io.Copy(up, brw); up.Close() }()
	io.Copy(down, up)
	down.Close()
}

// echoServer is a gateway stand-in that echoes the SSH stream.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r)
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	})
}

func requireEcho(t *testing.T, c net.Conn) {
	t.Helper()
	msg := "through the proxy\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if line != msg {
		t.Fatalf("echo through the proxy: %q, %v", line, err)
	}
}

// The bug of issue 9: for ws:// net/http sent the proxy a plain GET, which
// a proxy forwards without the Upgrade (squid), or refuses when it allows
// only CONNECT. Now ws:// tunnels with CONNECT, with the credentials of the
// proxy URL, percent-decoded.
func TestWSThroughProxyUsesConnectWithCredentials(t *testing.T) {
	srv := httptest.NewServer(echoHandler())
	defer srv.Close()
	proxy := newAuthProxy(t, srv.Listener.Addr().String(), "al@ice", "p:ss w%rd")
	cfg := &httpproxy.Config{HTTPProxy: "http://al%40ice:p%3Ass%20w%25rd@" + proxy.addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, "ws://gw.test/ssh", DialOptions{Proxy: ProxyFromConfig(cfg)})
	if err != nil {
		t.Fatalf("dial ws:// through a CONNECT-only proxy: %v (proxy saw %q)", err, proxy.seen())
	}
	defer c.Close()
	requireEcho(t, c)
	if got := proxy.seen(); len(got) != 1 || got[0] != "CONNECT gw.test:80" {
		t.Errorf("proxy saw %q, want one CONNECT gw.test:80", got)
	}
}

func TestWSSThroughAuthProxyWithClientTLS(t *testing.T) {
	srv := httptest.NewTLSServer(echoHandler())
	defer srv.Close()
	proxy := newAuthProxy(t, srv.Listener.Addr().String(), "alice", "secret")
	// The test server's certificate is for example.com.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := ClientTLS(caFile)
	if err != nil {
		t.Fatalf("ClientTLS: %v", err)
	}
	proxyFn := ProxyFromConfig(&httpproxy.Config{HTTPSProxy: "http://alice:secret@" + proxy.addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := Dial(ctx, "wss://example.com:8443/ssh", DialOptions{Proxy: proxyFn}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: err = %v, want a certificate error", err)
	}
	c, err := Dial(ctx, "wss://example.com:8443/ssh", DialOptions{Proxy: proxyFn, TLSConfig: tlsCfg})
	if err != nil {
		t.Fatalf("dial wss:// through the proxy with the CA: %v", err)
	}
	defer c.Close()
	requireEcho(t, c)
	if got := proxy.seen(); len(got) != 2 || got[1] != "CONNECT example.com:8443" {
		t.Errorf("proxy saw %q, want CONNECT example.com:8443 twice", got)
	}
}

func TestProxyRefusalIsOneClearLine(t *testing.T) {
	srv := httptest.NewServer(echoHandler())
	defer srv.Close()
	proxy := newAuthProxy(t, srv.Listener.Addr().String(), "alice", "s3cr3t-pw")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cases := []struct {
		name, proxyURL, scheme, want string
	}{
		{"no credentials", "http://" + proxy.addr(), "wss",
			"proxy " + proxy.addr() + " refused CONNECT to gw.test:443: 407 Proxy Authentication Required (set credentials in HTTPS_PROXY as http://user:pass@host:port)"},
		{"wrong password", "http://alice:s3cr3t-pw-wrong@" + proxy.addr(), "ws",
			"proxy " + proxy.addr() + ` refused CONNECT to gw.test:80: 407 Proxy Authentication Required (the proxy did not accept the password of user "alice" in HTTP_PROXY)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &httpproxy.Config{HTTPProxy: tc.proxyURL, HTTPSProxy: tc.proxyURL}
			_, err := Dial(ctx, tc.scheme+"://gw.test/ssh", DialOptions{Proxy: ProxyFromConfig(cfg)})
			if err == nil {
				t.Fatal("dial succeeded, want a 407 refusal")
			}
			msg := err.Error()
			t.Logf("refusal: %s", msg)
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error:\n  %s\nwant one line containing:\n  %s", msg, tc.want)
			}
			if strings.Contains(msg, "s3cr3t") {
				t.Errorf("the error shows the password: %s", msg)
			}
		})
	}
}

// NO_PROXY sends the matching gateway straight to it; another name still
// goes through the proxy.
func TestNoProxy(t *testing.T) {
	srv := httptest.NewServer(echoHandler())
	defer srv.Close()
	proxy := newAuthProxy(t, srv.Listener.Addr().String(), "", "")
	cfg := &httpproxy.Config{HTTPProxy: "http://" + proxy.addr(), NoProxy: "direct.test,.corp.test"}
	var dialed []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		if strings.HasSuffix(addr, ".test:80") {
			addr = srv.Listener.Addr().String()
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, host := range []string{"direct.test", "gw.corp.test", "far.test"} {
		c, err := Dial(ctx, "ws://"+host+"/ssh", DialOptions{Proxy: ProxyFromConfig(cfg), DialContext: dial})
		if err != nil {
			t.Fatalf("dial %s: %v", host, err)
		}
		requireEcho(t, c)
		c.Close()
	}
	want := []string{"direct.test:80", "gw.corp.test:80", proxy.addr()}
	if strings.Join(dialed, " ") != strings.Join(want, " ") {
		t.Errorf("dialled %q, want %q", dialed, want)
	}
	if got := proxy.seen(); len(got) != 1 || got[0] != "CONNECT far.test:80" {
		t.Errorf("proxy saw %q, want only CONNECT far.test:80", got)
	}
}

// fakeProxy accepts one connection, reads the CONNECT request and answers
// with reply (nil: never answers), then keeps the connection open.
func fakeProxy(t *testing.T, reply func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		if reply != nil {
			reply(c)
		}
		<-done
	}()
	return l.Addr().String()
}

func TestProxyReplyIsBounded(t *testing.T) {
	endless := fakeProxy(t, func(c net.Conn) {
		c.Write([]byte("HTTP/1.1 200 OK\r\nX-Junk: "))
		junk := []byte(strings.Repeat("x", 4096))
		for {
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Dial(ctx, "ws://gw.test/ssh", DialOptions{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: endless})})
	t.Logf("endless reply: %v", err)
	if err == nil || !strings.Contains(err.Error(), "longer than 16384 bytes") {
		t.Errorf("endless reply: err = %v, want a bounded read", err)
	}
	if ctx.Err() != nil {
		t.Errorf("the endless reply ran into the deadline instead of the size bound")
	}

	silent := fakeProxy(t, nil)
	sctx, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer scancel()
	_, err = Dial(sctx, "ws://gw.test/ssh", DialOptions{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: silent})})
	t.Logf("silent proxy: %v", err)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "proxy "+silent) {
		t.Errorf("silent proxy: err = %v, want the deadline, naming the proxy", err)
	}
}

// Nothing past the proxy's blank line is consumed: it belongs to the tunnel.
func TestProxyReplyNoReadAhead(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go b.Write([]byte("HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\nSSH-2.0-x\r\n"))
	resp, err := readProxyReply(a)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reply: %v, %v", resp, err)
	}
	rest := make([]byte, 11)
	if _, err := io.ReadFull(a, rest); err != nil || string(rest) != "SSH-2.0-x\r\n" {
		t.Errorf("after the reply: %q, %v", rest, err)
	}
}

func TestClientTLS(t *testing.T) {
	if cfg, err := ClientTLS(""); cfg != nil || err != nil {
		t.Errorf("no --ca: %v, %v; want nil, nil (system roots)", cfg, err)
	}
	dir := t.TempDir()
	if _, err := ClientTLS(filepath.Join(dir, "missing.pem")); err == nil || !strings.HasPrefix(err.Error(), "--ca: ") {
		t.Errorf("missing file: %v", err)
	}
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	if _, err := ClientTLS(junk); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("junk file: %v", err)
	}
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	good := filepath.Join(dir, "ca.pem")
	os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	cfg, err := ClientTLS(good)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", cfg.MinVersion)
	}
	if _, err := srv.Certificate().Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: "example.com"}); err != nil {
		t.Errorf("the CA in the file is not trusted: %v", err)
	}
}
