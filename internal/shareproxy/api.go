package shareproxy

import (
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/edge"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/webapi"
)

// The JSON API the page uses. Every call needs a logged-in web user; the
// state-changing ones also the gateway's own origin and the session's CSRF
// token (webapi.RequireCSRF).
//
//	POST   /api/links       {"endpoint","expires","basic_auth","login_required","name","tcp","max_uses"}
//	                        -> 201 LinkJSON, with url (and path_url, host_url) filled in
//	GET    /api/links       -> 200 [LinkJSON] of the user's live links
//	DELETE /api/links/{id}  -> 204
//
// Only a hash of a link's token is stored, so the secret URL is in the
// answer to POST and never again: in the list, url is "" unless the link
// has an address without a secret (a named host-name link, a TCP link).

// CreateRequest is the body of POST /api/links.
type CreateRequest struct {
	Endpoint      string `json:"endpoint"`
	Expires       string `json:"expires,omitempty"` // "2h", "30m", "7d"; "" = default
	BasicAuth     string `json:"basic_auth,omitempty"`
	LoginRequired bool   `json:"login_required,omitempty"`
	Name          string `json:"name,omitempty"`
	TCP           bool   `json:"tcp,omitempty"`
	MaxUses       int    `json:"max_uses,omitempty"` // 0: no limit
}

// LinkJSON is a link as the API shows it.
type LinkJSON struct {
	ID            string    `json:"id"`
	URL           string    `json:"url"`
	PathURL       string    `json:"path_url,omitempty"`
	HostURL       string    `json:"host_url,omitempty"`
	Endpoint      string    `json:"endpoint"`
	Kind          string    `json:"kind"`
	Name          string    `json:"name,omitempty"`
	Expires       time.Time `json:"expires"`
	Created       time.Time `json:"created"`
	BasicAuth     bool      `json:"basic_auth"`
	LoginRequired bool      `json:"login_required"`
	MaxUses       int       `json:"max_uses,omitempty"`
	Uses          int       `json:"uses"`
}

const maxAPIBody = 64 << 10

func (p *Proxy) mountAPI(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(webapi.RequireUser)
		r.Get("/api/links", p.apiList)
		r.With(webapi.RequireCSRF).Post("/api/links", p.apiCreate)
		r.With(webapi.RequireCSRF).Delete("/api/links/{id}", p.apiRevoke)
	})
}

// service is the link service with URLs for this request: without a
// configured public URL, the one the browser used.
func (p *Proxy) service(r *http.Request) *sharelink.Service {
	s := *p.cfg.Links
	if s.URLs.Base == "" {
		s.URLs.Base = edge.Scheme(r) + "://" + r.Host
	}
	return &s
}

func (p *Proxy) apiCreate(w http.ResponseWriter, r *http.Request) {
	user, _ := webapi.UserOf(r) // RequireUser let it through
	var req CreateRequest
	if !webapi.Decode(w, r, maxAPIBody, &req) {
		return
	}
	life, err := sharelink.ParseExpiry(req.Expires)
	if err != nil {
		webapi.FieldError(w, http.StatusBadRequest, "expires", err.Error())
		return
	}
	svc := p.service(r)
	c, err := svc.Create(sharelink.Params{User: user, Endpoint: req.Endpoint, Expires: life, BasicAuth: req.BasicAuth,
		LoginRequired: req.LoginRequired, Name: req.Name, TCP: req.TCP, MaxUses: req.MaxUses})
	if err != nil {
		switch {
		case errors.Is(err, sharelink.ErrUnavailable):
			webapi.Error(w, http.StatusServiceUnavailable, "cluster unavailable: redis unreachable: the link was not made; try again later")
		case errors.Is(err, sharelink.ErrNotSaved), errors.Is(err, sharelink.ErrBusy):
			// The store logged the cause; the client learns nothing of the server's disk.
			webapi.Error(w, http.StatusInternalServerError, "the link could not be saved: try again later")
		case errors.Is(err, forward.ErrRefused):
			webapi.Error(w, http.StatusForbidden, err.Error())
		default:
			webapi.Error(w, http.StatusBadRequest, err.Error())
		}
		return
	}
	p.log.Info("share link created", "link", c.ID, "user", user, "endpoint", c.Endpoint, "via", "api")
	p.RecordLink(audit.Event{Event: audit.LinkCreate, User: user, Source: r.RemoteAddr, Outcome: audit.Success,
		By: user, Link: c.ID, Endpoint: c.Endpoint})
	j := p.linkJSON(svc, c.Link)
	j.URL, j.PathURL, j.HostURL = c.URL, c.PathURL, c.HostURL
	webapi.Write(w, http.StatusCreated, j)
}

func (p *Proxy) apiList(w http.ResponseWriter, r *http.Request) {
	user, _ := webapi.UserOf(r) // RequireUser let it through
	svc := p.service(r)
	links, err := svc.Store.List(user)
	if errors.Is(err, sharelink.ErrUnavailable) {
		p.log.Warn("share links: list", "err", err)
		webapi.Error(w, http.StatusServiceUnavailable, "cluster unavailable: redis unreachable: cannot read the share links")
		return
	}
	if err != nil {
		p.log.Error("share links: list", "err", err)
		webapi.Error(w, http.StatusInternalServerError, "cannot read the share links")
		return
	}
	out := make([]LinkJSON, 0, len(links))
	for _, l := range links {
		out = append(out, p.linkJSON(svc, l))
	}
	webapi.Write(w, http.StatusOK, out)
}

func (p *Proxy) apiRevoke(w http.ResponseWriter, r *http.Request) {
	user, _ := webapi.UserOf(r) // RequireUser let it through
	id := chi.URLParam(r, "id")
	n, err := p.Revoke(id, user, user, r.RemoteAddr)
	if errors.Is(err, sharelink.ErrNotFound) {
		webapi.Error(w, http.StatusNotFound, err.Error())
		return
	}
	if errors.Is(err, sharelink.ErrUnavailable) {
		p.log.Warn("share links: not revoked", "link", id, "user", user, "err", err)
		webapi.Error(w, http.StatusServiceUnavailable, "cluster unavailable: redis unreachable: the link is not revoked; try again later")
		return
	}
	if err != nil {
		p.log.Error("share links: revoke not saved", "link", id, "user", user, "connections_cut", n, "err", err)
		webapi.Error(w, http.StatusInternalServerError,
			"the link is revoked and its connections are cut, but the change could not be saved yet: the gateway keeps trying")
		return
	}
	p.log.Info("share link revoked", "link", id, "user", user, "via", "api", "connections_cut", n)
	w.WriteHeader(http.StatusNoContent)
}

// Revoke revokes link id, which must be owner's ("" for any user's: an
// admin), cuts its live connections and records who did (by, from
// source). It returns how many connections were cut. A revoke holds in
// memory even when it cannot be saved (the error wraps
// sharelink.ErrNotSaved): the connections are cut all the same. One
// refused because a cluster's Redis is unreachable (sharelink.ErrUnavailable)
// did not happen, and cuts nothing.
func (p *Proxy) Revoke(id, owner, by, source string) (int, error) {
	var l sharelink.Link
	if links, err := p.cfg.Links.Store.List(owner); err == nil {
		for _, x := range links {
			if x.ID == id {
				l = x
			}
		}
	}
	err := p.cfg.Links.Store.Revoke(id, owner)
	if errors.Is(err, sharelink.ErrNotFound) || errors.Is(err, sharelink.ErrUnavailable) {
		return 0, err // not revoked
	}
	n := p.conns.Cut(id)
	p.RecordLink(audit.Event{Event: audit.LinkRevoke, User: l.User, Source: source, Outcome: audit.Success, By: by,
		Link: id, Endpoint: l.Endpoint})
	return n, err
}

func (p *Proxy) linkJSON(svc *sharelink.Service, l sharelink.Link) LinkJSON {
	return LinkJSON{
		ID: l.ID, URL: svc.URLs.Listed(l), Endpoint: l.Endpoint, Kind: string(l.Kind), Name: l.Name,
		Expires: svc.Store.ExpiresAt(&l), Created: l.Created,
		BasicAuth: l.HasBasicAuth(), LoginRequired: l.LoginRequired, MaxUses: l.MaxUses, Uses: l.Uses(),
	}
}
