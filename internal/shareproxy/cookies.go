package shareproxy

import (
	"net/http"
	"strings"
)

// gatewayCookie reports whether name is one of the gateway's own cookies.
func (p *Proxy) gatewayCookie(name string) bool {
	for _, n := range p.cfg.GatewayCookies {
		if name == n {
			return true
		}
	}
	base := strings.TrimPrefix(strings.TrimPrefix(name, "__Host-"), "__Secure-")
	return strings.HasPrefix(strings.ToLower(base), "tubegate")
}

// stripRequestCookies removes the gateway's cookies from a request to a
// tunnelled service, keeping the service's own.
func (p *Proxy) stripRequestCookies(r *http.Request) {
	cookies := r.Cookies()
	if len(cookies) == 0 {
		return
	}
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if !p.gatewayCookie(c.Name) {
			r.AddCookie(c)
		}
	}
}

// filterSetCookies drops Set-Cookie lines a tunnelled service may not
// send: the gateway's own cookie names, anything unparsable, and cookies
// whose Domain is wider than host, the host the viewer asked for (a parent
// domain would reach sibling links and, for a path link, the gateway's
// parent domain). The rest lose their Domain attribute (host-only
// cookies), and under a path prefix their Path is moved under it.
func (p *Proxy) filterSetCookies(h http.Header, prefix, host string) {
	host = hostOnly(host)
	lines := h.Values("Set-Cookie")
	if len(lines) == 0 {
		return
	}
	h.Del("Set-Cookie")
	for _, line := range lines {
		c, err := http.ParseSetCookie(line)
		if err != nil || p.gatewayCookie(c.Name) {
			p.log.Debug("share link: dropped a Set-Cookie from the tunnelled service", "line", line, "err", err)
			continue
		}
		if d := strings.TrimPrefix(strings.ToLower(c.Domain), "."); d != "" && strings.HasSuffix(host, "."+d) {
			p.log.Info("share link: dropped a Set-Cookie for a parent domain", "cookie", c.Name, "domain", c.Domain, "host", host)
			continue
		}
		c.Domain = ""
		if prefix != "" {
			path := c.Path
			if path == "" || path[0] != '/' {
				path = "/"
			}
			c.Path = prefixed(prefix, path)
		}
		if v := c.String(); v != "" {
			h.Add("Set-Cookie", v)
		}
	}
}
