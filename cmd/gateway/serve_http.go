package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
		"HTTP connections (WebSocket tubes included) open at once from one IP address; 0: no cap; trusted proxies are exempt")
	f.IntVar(&o.maxConns, "max-conns", defaultMaxConns, "HTTP connections open at once in all; 0: no cap")
	f.DurationVar(&o.readTimeout, "http-read-timeout", defaultHTTPReadTimeout,
		"time allowed to read one HTTP request, headers and body (tubes and share-link streams are exempt)")
	f.StringSliceVar(&o.trustedProxies, "trusted-proxy", nil,
		"CIDR or address of a reverse proxy whose X-Forwarded-For and X-Forwarded-Proto are believed (repeatable)")
}

// httpFront is the HTTP listener's guard: the edge in front of the
// handler, and the listener's connection caps.
type httpFront struct {
	o    httpServeOptions
	edge *edge.Edge
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
	cfg := edge.Config{TrustedProxies: trusted, ShareDomain: shareDomain, Names: names, Log: log}
	if publicURL != "" {
		if cfg.PublicURL, err = parsePublicURL(publicURL); err != nil {
			return nil, err
		}
	}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		cfg.ListenHost = host
	}
	return &httpFront{o: o, edge: edge.New(cfg)}, nil
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
		Handler:           f.edge.Handler(h),
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
	for _, reason := range []string{connlimit.ReasonPerSource, connlimit.ReasonTotal} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tubegate_http_connections_refused_total", Help: "HTTP connections closed at once: past --max-conns-per-source or --max-conns.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(l.Refused(reason)) }))
	}
	return l
}
