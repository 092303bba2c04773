// Package edge decides what the gateway believes about an HTTP request
// before it is routed: who sent it (X-Forwarded-For is believed only from
// a trusted reverse proxy), which scheme the browser used (TLS, a trusted
// proxy's X-Forwarded-Proto, or the public URL), and whether the request
// was meant for this gateway at all (its Host), so that DNS rebinding
// cannot make a browser read /metrics or the API.
package edge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Config is what the edge knows about the gateway.
type Config struct {
	// PublicURL is the gateway's public base URL (--url), nil if not set.
	PublicURL *url.URL
	// ListenHost is the host of the listen address as given (--listen): a
	// name there is accepted as a Host when there is no PublicURL.
	ListenHost string
	// TrustedProxies are the peers whose forwarding header is believed
	// (--trusted-proxy).
	TrustedProxies []netip.Prefix
	// Header is the forwarding header a trusted proxy sets: HeaderXFF
	// (X-Forwarded-For with X-Forwarded-Proto, the default) or
	// HeaderForwarded (RFC 7239). Only that one is read: a proxy that sets
	// one passes the other through from the client as it came.
	Header string
	// ShareDomain: hosts under it are let through (the share proxy serves
	// them).
	ShareDomain string
	// Names are more host names of the gateway's own (--acme-domain),
	// answered besides PublicURL's or ListenHost.
	Names []string
	Log   *slog.Logger
}

// Edge is the gateway's front door for HTTP. Make one with New.
type Edge struct {
	cfg   Config
	names map[string]bool // host names this gateway answers to, besides IPs and localhost
	share string
}

// New returns an Edge for cfg.
func New(cfg Config) *Edge {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	e := &Edge{cfg: cfg, names: map[string]bool{}, share: HostOnly(cfg.ShareDomain)}
	if cfg.PublicURL != nil {
		e.names[HostOnly(cfg.PublicURL.Host)] = true
	} else if h := HostOnly(cfg.ListenHost); h != "" {
		e.names[h] = true
	}
	for _, n := range cfg.Names {
		e.names[HostOnly(n)] = true
	}
	return e
}

// ParseTrustedProxies parses CIDRs (or single addresses) for
// Config.TrustedProxies.
func ParseTrustedProxies(specs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range specs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxy %q: want a CIDR (10.0.0.0/8) or an address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Trusted reports whether a is a trusted proxy.
func (e *Edge) Trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range e.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Forwarding headers for Config.Header (--trusted-proxy-header).
const (
	HeaderXFF       = "x-forwarded-for"
	HeaderForwarded = "forwarded"
)

// CheckHeader checks a --trusted-proxy-header value and returns it in
// lower case.
func CheckHeader(h string) (string, error) {
	switch h = strings.ToLower(strings.TrimSpace(h)); h {
	case "", HeaderXFF:
		return HeaderXFF, nil
	case HeaderForwarded:
		return h, nil
	}
	return "", fmt.Errorf("--trusted-proxy-header %q: want X-Forwarded-For or Forwarded", h)
}

type schemeKey struct{}

type viaProxyKey struct{}

// ViaProxy reports whether a trusted proxy relayed r: its RemoteAddr is
// then the client's address as the proxy gave it.
func ViaProxy(r *http.Request) bool {
	v, _ := r.Context().Value(viaProxyKey{}).(bool)
	return v
}

// Handler serves next with the request's client address and scheme worked
// out: behind a trusted proxy, r.RemoteAddr becomes the client's address
// (the right-most hop of the forwarding header that is not a trusted
// proxy, port 0). Forwarding headers from anyone else are dropped. A Host
// this gateway does not answer to gets 421.
func (e *Edge) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var fromProxy string
		viaProxy := false
		if peer := remoteIP(r.RemoteAddr); peer.IsValid() && e.Trusted(peer) {
			var client netip.Addr
			var ok bool
			if e.cfg.Header == HeaderForwarded {
				client, fromProxy, ok = e.clientFromForwarded(r.Header.Values("Forwarded"))
			} else {
				client, ok = e.clientFrom(r.Header.Values("X-Forwarded-For"))
				fromProxy = forwardedProto(r.Header.Get("X-Forwarded-Proto"))
			}
			if ok {
				r.RemoteAddr = netip.AddrPortFrom(client, 0).String()
				viaProxy = !e.Trusted(client)
			}
		}
		scheme := fromProxy
		if scheme == "" {
			scheme = e.publicScheme(r)
		}
		r.Header.Del("X-Forwarded-For")
		r.Header.Del("X-Forwarded-Proto")
		r.Header.Del("X-Forwarded-Host")
		r.Header.Del("Forwarded")
		if !e.answersTo(r.Host) {
			e.cfg.Log.Info("http request refused: not addressed to this gateway (DNS rebinding?)",
				"host", r.Host, "remote", r.RemoteAddr, "path", r.URL.Path)
			http.Error(w, "tubegate: this gateway does not answer to that host name (its operator sets --url to its public address)",
				http.StatusMisdirectedRequest)
			return
		}
		ctx := context.WithValue(r.Context(), schemeKey{}, scheme)
		if viaProxy {
			ctx = context.WithValue(ctx, viaProxyKey{}, true)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// publicScheme is the scheme of r's own connection, or https for a
// request to the host of an https public URL: a TLS-terminating proxy in
// front may not say so itself.
func (e *Edge) publicScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	u := e.cfg.PublicURL
	if u != nil && u.Scheme == "https" && HostOnly(r.Host) == HostOnly(u.Host) {
		return "https"
	}
	return "http"
}

// answersTo reports whether a request for host is meant for this gateway:
// its public name (or, without one, its listen name), an IP address (no
// DNS in between, so no rebinding), a loopback name, or a share-domain host.
func (e *Edge) answersTo(host string) bool {
	h := HostOnly(host)
	switch {
	case h == "":
		return false
	case e.names[h]:
		return true
	case h == "localhost" || strings.HasSuffix(h, ".localhost"):
		return true // browsers resolve these to loopback themselves
	case e.share != "" && (h == e.share || strings.HasSuffix(h, "."+e.share)):
		return true
	}
	_, err := netip.ParseAddr(h)
	return err == nil
}

// clientFrom walks X-Forwarded-For from the right past trusted proxies and
// returns the first hop that is not one (or the left-most, if all are).
func (e *Edge) clientFrom(values []string) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	var last netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A hop we cannot read: what lies left of it cannot be believed.
			return last, last.IsValid()
		}
		last = a.Unmap()
		if !e.Trusted(last) {
			return last, true
		}
	}
	return last, last.IsValid()
}

// clientFromForwarded walks RFC 7239 Forwarded elements from the right
// past trusted proxies, as clientFrom does, and returns the first hop that
// is not one with the proto of its element.
func (e *Edge) clientFromForwarded(values []string) (netip.Addr, string, bool) {
	var elems []string
	for _, v := range values {
		elems = append(elems, strings.Split(v, ",")...)
	}
	var last netip.Addr
	var lastProto string
	for i := len(elems) - 1; i >= 0; i-- {
		a, proto, ok := parseForwardedElement(elems[i])
		if !ok {
			return last, lastProto, last.IsValid()
		}
		last, lastProto = a, proto
		if !e.Trusted(last) {
			return last, lastProto, true
		}
	}
	return last, lastProto, last.IsValid()
}

// parseForwardedElement reads for= (an address, maybe quoted, maybe with
// a port, IPv6 in brackets) and proto= of one Forwarded element. An
// obfuscated or "unknown" for= is not an address.
func parseForwardedElement(elem string) (netip.Addr, string, bool) {
	var addr netip.Addr
	var proto string
	found := false
	for _, pair := range strings.Split(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "for":
			if ap, err := netip.ParseAddrPort(v); err == nil {
				addr, found = ap.Addr().Unmap(), true
			} else if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")); err == nil {
				addr, found = a.Unmap(), true
			} else {
				return netip.Addr{}, "", false
			}
		case "proto":
			proto = forwardedProto(v)
		}
	}
	return addr, proto, found
}

// forwardedProto reads X-Forwarded-Proto's first value, "http" or "https".
func forwardedProto(v string) string {
	v, _, _ = strings.Cut(v, ",")
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case "http", "https":
		return v
	}
	return ""
}

func remoteIP(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(remote)
	return a.Unmap()
}

// Scheme returns the scheme the browser used for r: "https" or "http".
// Without Handler in front it goes by r.TLS alone.
func Scheme(r *http.Request) string {
	if s, ok := r.Context().Value(schemeKey{}).(string); ok {
		return s
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// Secure reports whether the browser reached r over HTTPS: cookies get
// Secure and responses HSTS.
func Secure(r *http.Request) bool { return Scheme(r) == "https" }

// SameOrigin reports whether a browser Origin is the origin r was sent
// to: the same scheme and the same host and port.
func SameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return false
	}
	scheme := Scheme(r)
	return strings.EqualFold(u.Scheme, scheme) && hostPort(u.Host, scheme) == hostPort(r.Host, scheme)
}

// hostPort lower-cases host[:port] and drops the scheme's default port.
func hostPort(h, scheme string) string {
	h = strings.ToLower(h)
	if host, port, err := net.SplitHostPort(h); err == nil {
		if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
			if strings.Contains(host, ":") {
				return "[" + host + "]"
			}
			return host
		}
	}
	return h
}

// HostOnly lower-cases a Host and drops its port, IPv6 brackets and a
// trailing dot.
func HostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
