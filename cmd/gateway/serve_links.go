package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/shareproxy"
	"github.com/tubegate/tubegate/internal/sshserver"
	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webauth"
)

// linkServeOptions are serve's share link flags.
type linkServeOptions struct {
	url, shareDomain string
	maxExpiry        time.Duration
	maxPerUser       int
}

func linkServeFlags(f *pflag.FlagSet, o *linkServeOptions) {
	f.StringVar(&o.url, "url", "", "the gateway's public base URL, e.g. https://gw.example.com, for the links it prints (default: the address the browser used, or the listen address)")
	f.StringVar(&o.shareDomain, "share-domain", "", "serve share links as TOKEN.DOMAIN and NAME.DOMAIN; must be a domain of its own, not the page's (see README)")
	f.DurationVar(&o.maxExpiry, "link-max-expiry", sharelink.DefaultMaxExpiry, "longest lifetime a share link may have (links default to 24h)")
	f.IntVar(&o.maxPerUser, "max-links-per-user", sharelink.DefaultMaxPerUser, "live share links one user may have")
}

// shareLinks is the share link machinery of a running gateway.
type shareLinks struct {
	svc   *sharelink.Service
	proxy *shareproxy.Proxy
}

// newShareLinks opens the links store. auth may be nil (no web login);
// failures counts wrong basic-auth passwords (nil: a count of its own).
func newShareLinks(o linkServeOptions, data string, log *slog.Logger, us *users.Store, reg *forward.Registry,
	auth shareproxy.Auth, failures *throttle.Failures) (*shareLinks, error) {
	if o.shareDomain != "" && o.url != "" {
		if u, err := url.Parse(o.url); err == nil && domainsOverlap(u.Hostname(), o.shareDomain) {
			return nil, fmt.Errorf("--share-domain %s overlaps the gateway's own host %s: pages behind links could then set the gateway's cookies; use a separate domain", o.shareDomain, u.Hostname())
		}
	}
	store, err := sharelink.Open(data, sharelink.Options{MaxExpiry: o.maxExpiry, MaxPerUser: o.maxPerUser,
		Log: log.With("part", "sharelink")})
	if err != nil {
		return nil, err
	}
	svc := &sharelink.Service{
		Store:    store,
		URLs:     sharelink.URLs{Base: o.url, ShareDomain: o.shareDomain},
		Registry: reg,
		Policy:   us.Policy,
	}
	proxy := shareproxy.New(shareproxy.Config{
		Links: svc, Registry: reg, Auth: auth, Log: log.With("part", "sharelink"), Failures: failures,
		// Never forwarded to a tunnelled service, never settable by one.
		GatewayCookies: []string{webauth.CookieName},
		CSRFHeaders:    []string{webauth.CSRFHeader, "X-XSRF-Token"},
	})
	return &shareLinks{svc: svc, proxy: proxy}, nil
}

// command is the `link` command of SSH sessions (ssh gw link create ...).
// base is the URL printed links start with when --url is not set.
func (s *shareLinks) command(base func() string) sshserver.CommandFunc {
	return func(ctx context.Context, t *sshserver.Tube, args []string, stdout, stderr io.Writer) int {
		svc := *s.svc
		if svc.URLs.Base == "" {
			svc.URLs.Base = base()
		}
		return svc.Run(ctx, t.User(), args, stdout, stderr)
	}
}

// domainsOverlap reports whether one host name is the other or under it.
func domainsOverlap(a, b string) bool {
	if h, _, err := net.SplitHostPort(b); err == nil {
		b = h
	}
	a, b = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(b, "."))
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}
