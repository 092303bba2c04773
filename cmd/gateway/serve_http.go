package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/tubegate/tubegate/internal/connlimit"
	"github.com/tubegate/tubegate/internal/edge"
)

// httpServeOptions are serve's flags for the HTTP listener's own limits
// and for what it believes about requests.
type httpServeOptions struct {
	maxConnsPerSource, maxConns int
	readTimeout                 time.Duration
	trustedProxies              []string
	proxyHeader                 string
}

// Defaults of the HTTP listener's limits. A browser opens about six
// connections to a host, and every WebSocket tube holds one more.
const (
	defaultMaxConnsPerSource = 256
	defaultMaxConns          = 16384
	defaultHTTPReadTimeout   = 30 * time.Second
)

func httpServeFlags(f *pflag.FlagSet, o *httpServeOptions) {
	f.IntVar(&o.maxConnsPerSource, "max-conns-per-source", defaultMaxConnsPerSource,
		"HTTP connections (WebSocket tubes included) open at once from one IP address; 0: no cap; behind a trusted proxy, requests in flight per client")
	f.IntVar(&o.maxConns, "max-conns", defaultMaxConns, "HTTP connections open at once in all; 0: no cap")
	f.DurationVar(&o.readTimeout, "http-read-timeout", defaultHTTPReadTimeout,
		"time allowed to read one HTTP request, headers and body (tubes and share-link streams are exempt)")
	f.StringSliceVar(&o.trustedProxies, "trusted-proxy", nil,
		"CIDR or address of a reverse proxy or load balancer whose forwarding header (and, with --ssh-proxy-protocol, PROXY header) is believed (repeatable)")
	f.StringVar(&o.proxyHeader, "trusted-proxy-header", "X-Forwarded-For",
		"the header a trusted proxy gives the client's address in: X-Forwarded-For (with X-Forwarded-Proto) or Forwarded (RFC 7239)")
}

// httpFront is the HTTP listener's guard: the edge in front of the
// handler, the listener's connection caps, and the per-client cap on
// requests a trusted proxy relays.
type httpFront struct {
	o         httpServeOptions
	edge      *edge.Edge
	perClient *connlimit.Requests
}

// newHTTPFront checks the flags. publicURL is --url (may be empty); names
// are more of the gateway's own host names (--acme-domain).
func newHTTPFront(o httpServeOptions, listen, publicURL, shareDomain string, names []string, log *slog.Logger) (*httpFront, error) {
	if o.maxConnsPerSource < 0 || o.maxConns < 0 {
		return nil, fmt.Errorf("--max-conns-per-source and --max-conns: want 0 (no cap) or more")
	}
	if o.readTimeout <= 0 {
		return nil, fmt.Errorf("--http-read-timeout %v: want more than 0", o.readTimeout)
	}
	trusted, err := edge.ParseTrustedProxies(o.trustedProxies)
	if err != nil {
		return nil, err
	}
	header, err := edge.CheckHeader(o.proxyHeader)
	if err != nil {
		return nil, err
	}
	cfg := edge.Config{TrustedProxies: trusted, Header: header, ShareDomain: shareDomain, Names: names, Log: log}
	if publicURL != "" {
		if cfg.PublicURL, err = parsePublicURL(publicURL); err != nil {
			return nil, err
		}
	}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		cfg.ListenHost = host
	}
	f := &httpFront{o: o, edge: edge.New(cfg)}
	// The listener exempts a trusted proxy from --max-conns-per-source (its
	// connections carry many clients); each client it relays is held to the
	// same number of requests in flight instead.
	f.perClient = connlimit.NewRequests(o.maxConnsPerSource, relayedClient, log.With("listener", "http"))
	return f, nil
}

// relayedClient is the client a request is counted against behind a
// trusted proxy; requests straight from a client are counted by the
// listener instead.
func relayedClient(r *http.Request) (netip.Addr, bool) {
	if !edge.ViaProxy(r) {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr(), true
}

// parsePublicURL checks --url: http or https, with a host.
func parsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("--url %q: want http(s)://HOST[:PORT], the gateway's public base URL", s)
	}
	return u, nil
}

// server returns the HTTP server for h, with read and idle timeouts.
// /ssh and share links clear the read deadline for their long-lived streams.
func (f *httpFront) server(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           f.edge.Handler(f.perClient.Handler(h)),
		ReadHeaderTimeout: min(10*time.Second, f.o.readTimeout),
		ReadTimeout:       f.o.readTimeout,
		IdleTimeout:       2 * time.Minute, // idle keep-alive connections
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listen wraps ln with the connection caps and counts them in reg.
func (f *httpFront) listen(ln net.Listener, log *slog.Logger, reg prometheus.Registerer) net.Listener {
	l := connlimit.Wrap(ln, connlimit.Config{
		PerSource: f.o.maxConnsPerSource, Total: f.o.maxConns, Exempt: f.edge.Trusted, Log: log.With("listener", "http"),
	})
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tubegate_http_connections", Help: "HTTP connections open now, WebSocket tubes included.",
	}, func() float64 { return float64(l.Open()) }))
	refused := map[string]func() uint64{
		connlimit.ReasonPerSource: func() uint64 { return l.Refused(connlimit.ReasonPerSource) },
		connlimit.ReasonTotal:     func() uint64 { return l.Refused(connlimit.ReasonTotal) },
		connlimit.ReasonPerClient: f.perClient.Refused, // 429s behind a trusted proxy
	}
	for reason, n := range refused {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tubegate_http_connections_refused_total", Help: "HTTP connections closed at once: past --max-conns-per-source or --max-conns; per_client: requests a trusted proxy relayed past --max-conns-per-source (429).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(n()) }))
	}
	return l
}
