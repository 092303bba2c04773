package adminapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/edge"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/webapi"
)

// LinkJSON is a share link as the admin page lists it. Only a hash of a
// token is kept, so a secret URL is never shown again.
type LinkJSON struct {
	ID            string    `json:"id"`
	User          string    `json:"user"`
	URL           string    `json:"url"`
	Endpoint      string    `json:"endpoint"`
	Kind          string    `json:"kind"`
	Name          string    `json:"name,omitempty"`
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires"`
	BasicAuth     bool      `json:"basic_auth"`
	LoginRequired bool      `json:"login_required"`
	Connections   int       `json:"connections"`
}

func (a *API) listLinks(w http.ResponseWriter, r *http.Request) {
	svc := *a.cfg.Links.Service
	if svc.URLs.Base == "" {
		svc.URLs.Base = edge.Scheme(r) + "://" + r.Host
	}
	links, err := svc.Store.List("")
	if err != nil {
		a.log.Error("admin: list share links", "err", err)
		webapi.Error(w, http.StatusInternalServerError, "cannot read the share links")
		return
	}
	out := make([]LinkJSON, 0, len(links))
	for _, l := range links {
		j := LinkJSON{ID: l.ID, User: l.User, URL: svc.URLs.Listed(l), Endpoint: l.Endpoint, Kind: string(l.Kind),
			Name: l.Name, Created: l.Created, Expires: svc.Store.ExpiresAt(&l), BasicAuth: l.HasBasicAuth(),
			LoginRequired: l.LoginRequired}
		if a.cfg.Links.Conns != nil {
			j.Connections = a.cfg.Links.Conns(l.ID)
		}
		out = append(out, j)
	}
	webapi.Write(w, http.StatusOK, out)
}

func (a *API) revokeLink(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	by := actor(r)
	n, err := a.cfg.Links.Revoke(id, by.By, by.Source)
	switch {
	case errors.Is(err, sharelink.ErrNotFound):
		webapi.Error(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, sharelink.ErrUnavailable):
		a.log.Warn("admin: share link not revoked", "link", id, "by", by.By, "err", err)
		webapi.Error(w, http.StatusServiceUnavailable, "cluster unavailable: redis unreachable: the link is not revoked; try again later")
		return
	case err != nil:
		a.log.Error("admin: share link revoke not saved", "link", id, "by", by.By, "connections_cut", n, "err", err)
		webapi.Error(w, http.StatusInternalServerError,
			"the link is revoked and its connections are cut, but the change could not be saved yet: the gateway keeps trying")
		return
	}
	a.log.Info("admin: share link revoked", "link", id, "by", by.By, "connections_cut", n)
	w.WriteHeader(http.StatusNoContent)
}
