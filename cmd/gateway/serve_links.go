package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/net/publicsuffix"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/edge"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/linkcmd"
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

// newShareLinks opens the links store: the data dir's, or on a cluster
// (cl not nil) Redis. failures counts wrong basic-auth passwords (nil: a
// count of its own); al is the audit log (nil: none).
func newShareLinks(o linkServeOptions, data string, log *slog.Logger, us *users.Store, reg *forward.Registry,
	failures *throttle.Failures, al *audit.Log, cl *cluster.Cluster) (*shareLinks, error) {
	opts := sharelink.Options{MaxExpiry: o.maxExpiry, MaxPerUser: o.maxPerUser, Log: log.With("part", "sharelink")}
	var store *sharelink.Store
	if cl != nil {
		store = sharelink.OpenRedis(cl, opts)
	} else {
		var err error
		if store, err = sharelink.Open(data, opts); err != nil {
			return nil, err
		}
	}
	svc := &sharelink.Service{
		Store:    store,
		URLs:     sharelink.URLs{Base: o.url, ShareDomain: o.shareDomain},
		Registry: reg,
		Policy:   us.Policy,
	}
	proxy := shareproxy.New(shareproxy.Config{
		Links: svc, Registry: reg, Log: log.With("part", "sharelink"), Failures: failures, Audit: al,
		// Never forwarded to a tunnelled service, never settable by one.
		GatewayCookies: []string{webauth.CookieName},
		CSRFHeaders:    []string{webauth.CSRFHeader, "X-XSRF-Token"},
	})
	return &shareLinks{svc: svc, proxy: proxy}, nil
}

// command is the `link` command of SSH sessions (ssh gw link create ...),
// run as the session's user. base is the URL printed links start with
// when --url is not set: the HTTP listener's.
func (s *shareLinks) command(base string) sshserver.CommandFunc {
	svc := *s.svc
	if svc.URLs.Base == "" {
		svc.URLs.Base = base
	}
	return func(ctx context.Context, t *sshserver.Tube, args []string, stdout, stderr io.Writer) int {
		cfg := linkcmd.Config{User: t.User(), Service: func() (*sharelink.Service, error) { return &svc, nil },
			Done: func(event string, l sharelink.Link) {
				s.proxy.RecordLink(audit.Event{Event: event, User: t.User(), Source: t.RemoteAddr().String(), Tube: t.ID(),
					Outcome: audit.Success, By: t.User(), Link: l.ID, Endpoint: l.Endpoint})
			}}
		return linkcmd.Run(ctx, cfg, args, stdout, stderr)
	}
}

// checkShareDomain refuses a share domain from which a page behind a link
// could set cookies the gateway's page receives: the gateway's own host or
// one under the same registrable domain (eTLD+1 by the Public Suffix List,
// as browsers scope cookies). Without --url the gateway's host is unknown,
// so a share domain is refused rather than guessed at.
func checkShareDomain(publicURL, shareDomain string) error {
	if shareDomain == "" {
		return nil
	}
	if publicURL == "" {
		return fmt.Errorf("--share-domain %s needs --url: the gateway must know its own public host to keep links off its "+
			"site; set --url to the page's address, e.g. --url https://gw.example.com", shareDomain)
	}
	u, err := parsePublicURL(publicURL)
	if err != nil {
		return err
	}
	share, host := edge.HostOnly(shareDomain), edge.HostOnly(u.Host)
	if _, err := netip.ParseAddr(share); err == nil || share == "" {
		return fmt.Errorf("--share-domain %q: want a DNS name with a wildcard record (*.DOMAIN)", shareDomain)
	}
	if domainsOverlap(host, share) {
		return fmt.Errorf("--share-domain %s overlaps the gateway's own host %s: pages behind links could then set the gateway's cookies; use a separate domain", share, host)
	}
	if site := registrable("link." + share); site == registrable(host) {
		return fmt.Errorf("--share-domain %s and --url's host %s share the registrable domain %s: a page behind a link "+
			"could set cookies for .%s, which the gateway's page receives (session fixation). Put links under a domain "+
			"registered for them alone (like github.io beside github.com), e.g. --share-domain links.example-share.com, "+
			"or a domain listed in the Public Suffix List", share, host, site, site)
	}
	return nil
}

// registrable is the site a host belongs to for cookies: its eTLD+1, or
// the host itself (an IP address, a public suffix, a single label).
func registrable(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return host
	}
	if site, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return site
	}
	return host
}

// domainsOverlap reports whether one host name is the other or under it.
func domainsOverlap(a, b string) bool {
	if h, _, err := net.SplitHostPort(b); err == nil {
		b = h
	}
	a, b = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(b, "."))
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}
