package shareproxy

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// pathLinkSandbox is added to every response of a path link (/s/TOKEN/),
// which is served on the gateway's own origin: without allow-same-origin
// the tunnelled page runs in an opaque origin, so its scripts can neither
// send the viewer's gateway cookies (SameSite=Strict) to the gateway's API
// nor read the gateway's pages, CSRF token included. Pages that need their
// own cookies or storage want a host-name link under --share-domain.
const pathLinkSandbox = "sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads"

// modifyResponse fixes up the tunnelled service's answer: redirects stay
// under the link, cookies stay the service's own, a path link's page is
// sandboxed away from the gateway's origin, and nothing is cached unless
// the service says so.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	t := targetOf(resp.Request.Context())
	if t == nil {
		return nil
	}
	if t.prefix != "" {
		// Added beside any policy of the service's: browsers enforce all.
		resp.Header.Add("Content-Security-Policy", pathLinkSandbox)
	}
	// A page seen through a link must not outlive the link in the
	// viewer's cache (a revoked link's page would still show): no-store,
	// unless the service says how to cache it.
	if resp.Header.Get("Cache-Control") == "" && resp.Header.Get("Expires") == "" {
		resp.Header.Set("Cache-Control", "no-store")
	}
	p.filterSetCookies(resp.Header, t.prefix, resp.Request.Host)
	for _, h := range []string{"Location", "Content-Location"} {
		if loc := resp.Header.Get(h); loc != "" {
			resp.Header.Set(h, rewriteLocation(loc, t, resp.Request))
		}
	}
	return nil
}

// rewriteLocation keeps a redirect under the link: an absolute path gets
// the link's prefix, and an absolute URL back to the service itself (the
// Host it was sent, or a loopback or endpoint name) becomes one to the
// link. Redirects elsewhere are left alone.
func rewriteLocation(loc string, t *target, out *http.Request) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	if u.Scheme == "" && u.Host == "" {
		if strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(loc, "//") {
			return prefixed(t.prefix, loc)
		}
		return loc // relative: already under the link
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return loc
	}
	if !selfHost(u, t, out) {
		return loc
	}
	viewer := out.Header.Get("X-Forwarded-Proto")
	if viewer == "" {
		viewer = "http"
	}
	rest := *u
	rest.Scheme, rest.Host, rest.User = "", "", nil
	if rest.Path == "" {
		rest.Path = "/"
	}
	return viewer + "://" + out.Host + prefixed(t.prefix, rest.String())
}

// selfHost reports whether u points back at the tunnelled service.
func selfHost(u *url.URL, t *target, out *http.Request) bool {
	if strings.EqualFold(u.Host, out.Host) {
		return true
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") || strings.EqualFold(h, t.ep.BindHost) {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
