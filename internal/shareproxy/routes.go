package shareproxy

import (
	"net"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/sharelink"
)

// Mount adds the share links' routes to the gateway's router: /s/TOKEN/...
// and the JSON API under /api/links. Both read the viewer's web session
// (webapi.SessionOf): the web login's middleware goes in front (without
// it, login-required links refuse everyone and the API answers 401).
func (p *Proxy) Mount(r chi.Router) {
	r.HandleFunc("/s/{token}", func(w http.ResponseWriter, r *http.Request) {
		// Without the slash, relative URLs in the page would miss the link.
		target := r.URL.EscapedPath() + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusPermanentRedirect)
	})
	r.Handle("/s/{token}/*", http.HandlerFunc(p.servePath))
	p.mountAPI(r)
}

// servePath serves /s/TOKEN/REST.
func (p *Proxy) servePath(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	l, ok := p.cfg.Links.Store.ByToken(token)
	if !ok {
		p.writeMissing(w, r, token)
		return
	}
	prefix := sharelink.PathPrefix + token
	rest := strings.TrimPrefix(r.URL.EscapedPath(), prefix)
	if !strings.HasPrefix(rest, "/") {
		rest = "/" + rest
	}
	if p.cfg.Links.URLs.ShareDomain != "" && !l.LoginRequired {
		// With a share domain, tunnelled pages never run on the gateway's
		// own origin: the path form only leads there.
		target := strings.TrimSuffix(p.service(r).URLs.Host(token), "/") + rest
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
		return
	}
	p.serve(w, r, l, prefix, rest)
}

// writeMissing answers for a token (or name) that found no link: 404,
// saying so if it was revoked, or 503 if the store could not be asked (a
// cluster's Redis unreachable, and no recent copy of the link here).
func (p *Proxy) writeMissing(w http.ResponseWriter, r *http.Request, token string) {
	store := p.cfg.Links.Store
	if store.Revoked(token) {
		writeGone(w, r, true)
		return
	}
	if err := store.Unavailable(); err != nil {
		p.log.Warn("share link not looked up: cluster unavailable", "remote", r.RemoteAddr, "err", err)
		writePage(w, pageUnavailable)
		return
	}
	writeGone(w, r, false)
}

// WithHosts serves host-name links in front of next: with a share domain,
// a request for LABEL.SHARE-DOMAIN is the link whose token or name is
// LABEL, and nothing else of the gateway (no page, no API, no /ssh) is
// ever served under the share domain. Other hosts go to next.
func (p *Proxy) WithHosts(next http.Handler) http.Handler {
	domain := hostOnly(p.cfg.Links.URLs.ShareDomain)
	if domain == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		if host != domain && !strings.HasSuffix(host, "."+domain) {
			next.ServeHTTP(w, r)
			return
		}
		label := strings.TrimSuffix(strings.TrimSuffix(host, domain), ".")
		if label == "" || strings.Contains(label, ".") {
			writePage(w, pageNotFound)
			return
		}
		store := p.cfg.Links.Store
		l, ok := store.ByToken(label)
		if !ok {
			l, ok = store.ByName(label)
		}
		if !ok {
			p.writeMissing(w, r, label)
			return
		}
		path := r.URL.EscapedPath()
		if path == "" {
			path = "/"
		}
		p.serve(w, r, l, "", path)
	})
}

// hostOnly lower-cases a Host and drops its port and a trailing dot.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
