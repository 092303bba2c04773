//go:build !js

package bridge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// maxProxyReply bounds the status line and headers of a proxy's answer to
// CONNECT: a proxy that sends more is not answering CONNECT.
const maxProxyReply = 16 << 10

// ProxyFromEnvironment returns the proxy function of HTTPS_PROXY (for
// wss://), HTTP_PROXY (for ws://) and NO_PROXY (and their lower-case
// forms), read now. As in Go's net/http, and curl, a loopback or localhost
// gateway is always dialled directly.
func ProxyFromEnvironment() func(*http.Request) (*url.URL, error) {
	return ProxyFromConfig(httpproxy.FromEnvironment())
}

// ProxyFromConfig returns the proxy function of cfg, for DialOptions.Proxy.
func ProxyFromConfig(cfg *httpproxy.Config) func(*http.Request) (*url.URL, error) {
	f := cfg.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return f(r.URL) }
}

// dialFunc dials a TCP connection.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// target is where a WebSocket URL's TCP connection goes, and which proxy
// setting applies to it.
type target struct {
	addr     string // host:port, the port defaulted from the scheme
	httpURL  *url.URL
	proxyEnv string // the variable a user sets for this scheme's proxy
}

func targetOf(u *url.URL) target {
	hu := *u
	hu.Scheme, hu.User = "http", nil
	port, env := "80", "HTTP_PROXY"
	if u.Scheme == "wss" {
		hu.Scheme, port, env = "https", "443", "HTTPS_PROXY"
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return target{addr: net.JoinHostPort(u.Hostname(), port), httpURL: &hu, proxyEnv: env}
}

// dialTarget opens the TCP connection to t: directly, or through the HTTP
// proxy that proxy picks, by CONNECT, as browsers do for WebSockets (for
// ws:// as well as wss://: a proxy that forwarded a plain GET would drop
// the Upgrade). It returns nil and no error for a proxy scheme it leaves to
// net/http (socks5), with that proxy's URL.
func dialTarget(ctx context.Context, t target, proxy func(*http.Request) (*url.URL, error), dial dialFunc, tlsCfg *tls.Config) (net.Conn, *url.URL, error) {
	req := &http.Request{Method: http.MethodGet, URL: t.httpURL, Host: t.httpURL.Host, Header: http.Header{}}
	pu, err := proxy(req)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy for %s: %w", t.addr, err)
	}
	if pu == nil {
		c, err := dial(ctx, "tcp", t.addr)
		if err != nil {
			return nil, nil, err
		}
		return c, nil, nil
	}
	switch pu.Scheme {
	case "http", "https":
		c, err := dialConnect(ctx, t, pu, dial, tlsCfg)
		return c, nil, err
	case "socks5", "socks5h":
		return nil, pu, nil
	default:
		return nil, nil, fmt.Errorf("proxy %s: scheme %q not supported (http, https, socks5)", pu.Redacted(), pu.Scheme)
	}
}

// dialConnect opens a tunnel to t.addr through the HTTP proxy pu with
// CONNECT, sending pu's user and password (percent-decoded) as Basic
// Proxy-Authorization. A refusal is one line naming the proxy and its
// status, never the password.
func dialConnect(ctx context.Context, t target, pu *url.URL, dial dialFunc, tlsCfg *tls.Config) (net.Conn, error) {
	paddr := proxyAddr(pu)
	c, err := dial(ctx, "tcp", paddr)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", paddr, err)
	}
	// The handshake ends when ctx does: a silent proxy cannot hold us.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	tunnel, err := connectHandshake(c, t, pu, paddr, tlsCfg)
	if !stop() && err == nil {
		err = fmt.Errorf("proxy %s: CONNECT to %s: %w", paddr, t.addr, ctx.Err())
	}
	if err != nil {
		c.Close()
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr) // say why the read timed out
		}
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return tunnel, nil
}

func connectHandshake(c net.Conn, t target, pu *url.URL, paddr string, tlsCfg *tls.Config) (net.Conn, error) {
	if pu.Scheme == "https" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if tlsCfg != nil {
			cfg = tlsCfg.Clone()
		}
		cfg.ServerName = pu.Hostname()
		cfg.NextProtos = nil
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("proxy %s: TLS: %w", paddr, err)
		}
		c = tc
	}
	req := "CONNECT " + t.addr + " HTTP/1.1\r\nHost: " + t.addr + "\r\n"
	if pu.User != nil {
		pass, _ := pu.User.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(pu.User.Username() + ":" + pass))
		req += "Proxy-Authorization: Basic " + cred + "\r\n"
	}
	req += "\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return nil, fmt.Errorf("proxy %s: send CONNECT %s: %w", paddr, t.addr, err)
	}
	resp, err := readProxyReply(c)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: reply to CONNECT %s: %w", paddr, t.addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &ProxyRefusedError{StatusCode: resp.StatusCode,
			msg: fmt.Sprintf("proxy %s refused CONNECT to %s: %s%s", paddr, t.addr, printable(resp.Status), refusalHint(resp.StatusCode, pu, t.proxyEnv))}
	}
	return c, nil
}

// ProxyRefusedError is a proxy's answer other than 200 to CONNECT: its
// message names the proxy, its status and what to do, never the password.
type ProxyRefusedError struct {
	StatusCode int // 407: credentials missing or refused; 403: not allowed
	msg        string
}

func (e *ProxyRefusedError) Error() string { return e.msg }

// refusalHint says what to do about a proxy's refusal, naming the user
// but never the password.
func refusalHint(status int, pu *url.URL, env string) string {
	switch status {
	case http.StatusProxyAuthRequired:
		if pu.User == nil {
			return fmt.Sprintf(" (set credentials in %s as http://user:pass@host:port)", env)
		}
		return fmt.Sprintf(" (the proxy did not accept the password of user %q in %s)", pu.User.Username(), env)
	case http.StatusForbidden:
		return " (the proxy does not allow CONNECT to this host and port)"
	}
	return ""
}

// proxyAddr is the proxy's host:port, the port defaulted as net/http does.
func proxyAddr(pu *url.URL) string {
	port := pu.Port()
	if port == "" {
		port = "80"
		if pu.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(pu.Hostname(), port)
}

// printable cuts a proxy's status text to one short line of printable
// ASCII: it is shown to the user as it came.
func printable(s string) string {
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// readProxyReply reads a proxy's answer to CONNECT: the status line and
// headers, a byte at a time, so that nothing of the tunnel behind them is
// read ahead, and at most maxProxyReply bytes.
func readProxyReply(c net.Conn) (*http.Response, error) {
	buf := make([]byte, 0, 256)
	one := make([]byte, 1)
	for !bytes.HasSuffix(buf, []byte("\r\n\r\n")) && !bytes.HasSuffix(buf, []byte("\n\n")) {
		if len(buf) >= maxProxyReply {
			return nil, fmt.Errorf("longer than %d bytes", maxProxyReply)
		}
		n, err := c.Read(one)
		if n == 1 {
			buf = append(buf, one[0])
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the proxy closed the connection after %d bytes", len(buf))
		}
		if err != nil {
			return nil, err
		}
	}
	return http.ReadResponse(bufio.NewReader(bytes.NewReader(buf)), &http.Request{Method: http.MethodConnect})
}
