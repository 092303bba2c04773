// Package shareproxy serves share links over HTTP: the reverse proxy at
// /s/TOKEN/... (and TOKEN.SHARE-DOMAIN, NAME.SHARE-DOMAIN) that carries
// requests into a published endpoint through its owner's tube, the guards
// in front of it, the cutting of live connections when a link is revoked
// or expires, and the JSON API the page uses to make and revoke links.
package shareproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/edge"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/throttle"
)

// DefaultPollInterval is how often live connections are checked against
// revocations made by other processes and against expiry.
const DefaultPollInterval = 250 * time.Millisecond

// Config is what a Proxy needs.
type Config struct {
	// Links makes links and finds them (its Store), and knows the URLs.
	Links *sharelink.Service
	// Registry holds the live endpoints links lead to.
	Registry *forward.Registry
	Log      *slog.Logger
	// GatewayCookies are the names of the gateway's own cookies (session,
	// CSRF). They are never forwarded to a tunnelled service, and a
	// tunnelled service can never set them. Cookies whose name starts with
	// "tubegate" (also behind __Host- or __Secure-) are always treated so.
	GatewayCookies []string
	// CSRFHeaders are request headers that carry the gateway's CSRF token;
	// they are never forwarded (default X-CSRF-Token, X-XSRF-Token).
	CSRFHeaders []string
	// PollInterval: see DefaultPollInterval.
	PollInterval time.Duration
	// Failures throttles wrong basic-auth passwords per source address,
	// shared with the gateway's other password checks (nil: one of its
	// own, 10 per minute).
	Failures *throttle.Failures
	// Audit records links made, used, revoked and expired (nil: not
	// recorded).
	Audit *audit.Log
}

// Proxy serves share links.
type Proxy struct {
	cfg   Config
	log   *slog.Logger
	conns forward.ConnsByKey // by link ID, so that revoking a link cuts them
	rp    *httputil.ReverseProxy

	authMu    sync.Mutex
	authCache map[string]struct{} // link id + credential hash: basic auth already checked

	seen   *audit.FirstSeen // link id + source: link.use already recorded
	noteMu sync.Mutex
	noted  map[string]time.Time // "event id" recorded by RecordLink, not yet seen by watchLinks
}

// New returns a Proxy. Call Run to enforce revocation and expiry on live
// connections.
func New(cfg Config) *Proxy {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CSRFHeaders == nil {
		cfg.CSRFHeaders = []string{"X-CSRF-Token", "X-XSRF-Token"}
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Failures == nil {
		cfg.Failures = throttle.Default()
	}
	p := &Proxy{cfg: cfg, log: cfg.Log, authCache: make(map[string]struct{}), seen: audit.NewFirstSeen(0),
		noted: make(map[string]time.Time)}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.transport(),
		FlushInterval:  -1, // stream: server-sent events, long downloads
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.proxyError,
		ErrorLog:       slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug),
	}
	return p
}

// Conns returns the live connections of each link, by link ID.
func (p *Proxy) Conns() *forward.ConnsByKey { return &p.conns }

// Run cuts live connections of revoked and expired links until ctx ends.
func (p *Proxy) Run(ctx context.Context) {
	if p.cfg.Audit != nil {
		go p.watchLinks(ctx, linkWatchInterval)
	}
	watch(ctx, &p.conns, p.cfg.PollInterval, p.cfg.Links.Store.Live, func(id string, n int) {
		p.log.Info("share link gone: cut its connections", "link", id, "connections", n)
	})
}

// target is what one proxied request goes to; it rides in the request's
// context from the handler to Rewrite, DialContext and ModifyResponse.
type target struct {
	link   sharelink.Link
	ep     *forward.Endpoint
	origin net.Addr
	prefix string // "/s/TOKEN" for path links, "" for host-name links
	path   string // escaped path after the prefix, starting with "/"
}

type targetKey struct{}

func targetOf(ctx context.Context) *target {
	t, _ := ctx.Value(targetKey{}).(*target)
	return t
}

// dialError marks a failure to reach the endpoint through the tube.
type dialError struct{ err error }

func (e dialError) Error() string { return e.err.Error() }
func (e dialError) Unwrap() error { return e.err }

func (p *Proxy) transport() *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			t := targetOf(ctx)
			if t == nil {
				return nil, dialError{errors.New("share link: dial without a link")}
			}
			c, err := t.ep.DialKeyed(ctx, t.origin, &p.conns, t.link.ID)
			if err != nil {
				return nil, dialError{fmt.Errorf("share link %s: dial %s through tube %s: %w", t.link.ID, t.ep.Key, t.ep.Owner.ID(), err)}
			}
			return c, nil
		},
		DisableCompression:  true, // pass Accept-Encoding and bodies through untouched
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		// No response timeout: long polls and downloads are fine; revoking
		// the link or the tube going away ends them.
	}
}

// serve proxies r to the link's endpoint, after the guards.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, l sharelink.Link, prefix, path string) {
	if !p.guard(w, r, l, prefix) || !p.admitVisit(w, r, l, prefix) {
		return
	}
	var ep *forward.Endpoint
	if addr, err := forward.ParseAddress(l.Endpoint); err == nil {
		if ep, err = p.cfg.Registry.Resolve(r.Context(), addr); err != nil {
			p.log.Warn("share link: endpoint not looked up", "link", l.ID, "endpoint", l.Endpoint, "err", err)
		}
	}
	switch {
	case ep == nil:
		p.recordUse(l, r.RemoteAddr, audit.Failed, "endpoint offline")
		p.log.Info("share link: endpoint offline", "link", l.ID, "endpoint", l.Endpoint)
		writePage(w, pageOffline)
		return
	case ep.Owner.User() != l.User:
		// Someone else publishes that key now: the link is not theirs to
		// open, and says nothing about them.
		p.log.Warn("share link: endpoint published by another user", "link", l.ID, "endpoint", l.Endpoint,
			"link_user", l.User, "publisher", ep.Owner.User())
		writePage(w, pageNotFound)
		return
	}
	p.recordUse(l, r.RemoteAddr, audit.Success, "")
	t := &target{link: l, ep: ep, origin: forward.Addr{Net: "tcp", Address: r.RemoteAddr}, prefix: prefix, path: path}
	// Uploads, downloads and WebSockets through a link are long-lived on
	// purpose: the HTTP server's read deadline is not for them. Revoking the
	// link or the tube going away ends them.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, t)))
}

// rewrite builds the request to the tunnelled service.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	t := targetOf(pr.In.Context())
	out := pr.Out
	out.URL.Scheme = "http"
	// The host only keys the connection pool: one pool per link.
	out.URL.Host = "link-" + t.link.ID + ".tubegate.invalid"
	out.URL.Path, out.URL.RawPath = unescapePath(t.path)
	// The service sees the Host the viewer used, so the absolute URLs and
	// WebSocket origin checks it makes agree with the browser's.
	out.Host = pr.In.Host
	pr.SetXForwarded()
	out.Header.Set("X-Forwarded-Proto", edge.Scheme(pr.In)) // also behind a TLS-terminating proxy
	if t.prefix != "" {
		out.Header.Set("X-Forwarded-Prefix", t.prefix)
	}
	for _, h := range p.cfg.CSRFHeaders {
		out.Header.Del(h)
	}
	if t.link.HasBasicAuth() {
		out.Header.Del("Authorization") // the link's password, not the service's
	}
	p.stripRequestCookies(out)
}

// proxyError answers when the service could not be reached or broke off.
func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the viewer went away
	}
	t := targetOf(r.Context())
	var de dialError
	if errors.As(err, &de) {
		p.log.Info("share link: tube did not carry the connection", "link", t.link.ID, "err", err)
		writePage(w, pageOffline)
		return
	}
	p.log.Info("share link: service error", "link", t.link.ID, "err", err)
	writePage(w, pageBadGateway)
}
