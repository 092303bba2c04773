//go:build !js

package bridge

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/coder/websocket"

	"github.com/tubegate/tubegate/internal/resume"
)

// DialOptions configure a native client's WebSocket.
type DialOptions struct {
	// TLSConfig is used for wss:// (nil: the system roots), and for an
	// https:// proxy. ClientTLS makes one that trusts a private CA.
	TLSConfig *tls.Config
	// Proxy picks the proxy for the gateway, given a request for the
	// URL with ws/wss as http/https (nil: ProxyFromEnvironment). An http://
	// or https:// proxy is asked to CONNECT to the gateway; socks5:// is
	// used as net/http does.
	Proxy func(*http.Request) (*url.URL, error)
	// Header is sent with the upgrade request.
	Header http.Header
	// DialContext dials the TCP connection under the WebSocket, to the
	// gateway or to the proxy (nil: a net.Dialer). Tools use it to hold the
	// raw connection.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// ParseURL checks a gateway WebSocket URL: ws:// or wss:// with a host.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %w", raw, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("bad URL %q: scheme must be ws or wss", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("bad URL %q: no host", raw)
	}
	return u, nil
}

// Dial opens a WebSocket to a gateway and returns it as a net.Conn
// carrying the SSH stream; its reads end with a *resume.CloseError where
// the gateway closed it with a status other than normal. Through an HTTP
// proxy it first opens a CONNECT tunnel to the gateway, for ws:// as for
// wss:// (see dialTarget).
func Dial(ctx context.Context, rawURL string, opts DialOptions) (net.Conn, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	lc, ws, err := dialEither(ctx, u, opts, nil)
	if err != nil {
		return nil, err
	}
	if ws != nil {
		return socksConn{newConn(context.Background(), ws, addr{u.Host})}, nil
	}
	return newLeanConn(lc, addr{u.Host}), nil
}

// socksConn is a raw tube through a SOCKS proxy, on coder/websocket: its
// reads end as the lean client's do (a *resume.CloseError for the peer's
// close frame with a status other than normal).
type socksConn struct{ *conn }

func (c socksConn) Read(p []byte) (int, error) {
	n, err := c.conn.Read(p)
	if err != nil {
		err = transportError(err)
	}
	return n, err
}

// DialResume opens a resumable tube to a gateway: a net.Conn carrying the
// SSH stream that redials and resumes by itself when its WebSocket drops
// (see package resume; ropts.OnState hears of it). It fails if the
// gateway does not offer resumption.
func DialResume(ctx context.Context, rawURL string, opts DialOptions, ropts resume.Options) (net.Conn, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	dial := func(ctx context.Context) (resume.Transport, error) { return dialResumable(ctx, u, opts) }
	if ropts.RemoteAddr == nil {
		ropts.RemoteAddr = addr{u.Host}
	}
	rc, err := resume.Dial(ctx, dial, ropts)
	if err != nil {
		return nil, err
	}
	return newResumeClientConn(rc), nil
}

// checkResumable returns ws as a resumable tube's transport, if the
// gateway took the subprotocol.
func checkResumable(ws *websocket.Conn, u *url.URL) (resume.Transport, error) {
	if ws.Subprotocol() != resume.Subprotocol {
		ws.Close(websocket.StatusPolicyViolation, "resumption needed")
		return nil, errNotResumable(u)
	}
	return newTransport(ws), nil
}

func errNotResumable(u *url.URL) error {
	return fmt.Errorf("dial %s: the gateway does not offer resumable tubes (use --no-resume)", u.Redacted())
}

// dialResumable opens a resumable tube's WebSocket (see dialEither).
func dialResumable(ctx context.Context, u *url.URL, opts DialOptions) (resume.Transport, error) {
	c, ws, err := dialEither(ctx, u, opts, []string{resume.Subprotocol})
	if err != nil {
		return nil, err
	}
	if ws != nil {
		return checkResumable(ws, u)
	}
	if c.Subprotocol() != resume.Subprotocol {
		c.Close(int(websocket.StatusPolicyViolation), "resumption needed")
		return nil, errNotResumable(u)
	}
	return c, nil
}

// dialEither opens a native client's WebSocket with the package's own
// client (leanclient.go), whose frames go out whole, over TLS for wss://;
// or, through a SOCKS proxy (which net/http dials), with coder/websocket.
// One of the two results is nil.
func dialEither(ctx context.Context, u *url.URL, opts DialOptions, subprotocols []string) (*leanWS, *websocket.Conn, error) {
	raw, socks, err := dialRaw(ctx, u, opts)
	if err != nil {
		return nil, nil, err
	}
	if socks != nil {
		ws, err := dialSOCKS(ctx, u, socks, opts, subprotocols)
		return nil, ws, err
	}
	if u.Scheme == "wss" {
		tc, err := clientHandshake(ctx, raw, u.Hostname(), opts.TLSConfig)
		if err != nil {
			raw.Close()
			return nil, nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
		}
		raw = tc
	}
	c, err := dialLean(ctx, u, raw, opts.Header, subprotocols)
	if err != nil {
		raw.Close()
		return nil, nil, err
	}
	return c, nil, nil
}

// dialRaw opens the connection under a WebSocket to u: to the gateway, or
// a CONNECT tunnel to it; or nothing, with the URL of a SOCKS proxy that
// net/http is to dial.
func dialRaw(ctx context.Context, u *url.URL, opts DialOptions) (net.Conn, *url.URL, error) {
	proxy := opts.Proxy
	if proxy == nil {
		proxy = ProxyFromEnvironment()
	}
	raw, socks, err := dialTarget(ctx, targetOf(u), proxy, opts.dialer(), opts.TLSConfig)
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
	}
	return raw, socks, nil
}

// dialer is DialContext, or a net.Dialer's.
func (o DialOptions) dialer() dialFunc {
	if o.DialContext != nil {
		return o.DialContext
	}
	return (&net.Dialer{}).DialContext
}

// dialSOCKS opens the WebSocket with coder/websocket through the SOCKS
// proxy at socks, which net/http dials, asking for subprotocols.
func dialSOCKS(ctx context.Context, u, socks *url.URL, opts DialOptions, subprotocols []string) (*websocket.Conn, error) {
	tr := &http.Transport{
		TLSClientConfig: opts.TLSConfig,
		// The upgrade needs HTTP/1.1: never negotiate h2.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
		Proxy:        http.ProxyURL(socks),
		DialContext:  opts.dialer(),
	}
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		HTTPHeader:      opts.Header,
		CompressionMode: websocket.CompressionDisabled,
		Subprotocols:    subprotocols,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, fmt.Errorf("dial %s: refused: %s", u.Redacted(), resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
	}
	return ws, nil
}

// clientHandshake runs TLS for wss:// over c, for HTTP/1.1 (the upgrade
// needs it), so that a certificate error is reported as one plain line.
func clientHandshake(ctx context.Context, c net.Conn, host string, cfg *tls.Config) (*tls.Conn, error) {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS with %s: %w", host, err)
	}
	return tc, nil
}

type addr struct{ host string }

func (a addr) Network() string { return "websocket" }
func (a addr) String() string  { return a.host }
