// Package adminapi is the admin page's JSON API, under /api/admin/: users
// (list, create, change, delete, with the refusals `gateway user` gives),
// live tubes with Disconnect, every user's share links with Revoke, and
// the last audit events. Every route needs a logged-in administrator (403
// for anyone else, 401 without a session); state-changing routes also the
// gateway's own origin and the session's CSRF token, as the rest of /api.
package adminapi

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/sshserver"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webapi"
)

// Tubes are the live tubes (the SSH server).
type Tubes interface {
	List() []sshserver.TubeInfo
	Disconnect(id, by, source string) bool
}

// Links are the share links: the service lists them, Revoke revokes any
// user's link and cuts its connections (the share proxy's Revoke with no
// owner), Conns counts a link's live connections.
type Links struct {
	Service *sharelink.Service
	Revoke  func(id, by, source string) (int, error)
	Conns   func(id string) int
}

// Config is what the API acts on.
type Config struct {
	Users *users.Store
	Tubes Tubes
	Links Links
	Audit *audit.Log
	Log   *slog.Logger
}

// API serves /api/admin/. Create it with New.
type API struct {
	cfg Config
	log *slog.Logger
}

// New returns the admin API.
func New(cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, log: cfg.Log}
}

// route is one admin route; every one gets the same guards (see Mount).
type route struct {
	method, pattern string
	handler         func(*API) http.HandlerFunc
}

// routes are every admin route. The permission test walks this list.
var routes = []route{
	{http.MethodGet, "/api/admin/users", func(a *API) http.HandlerFunc { return a.listUsers }},
	{http.MethodPost, "/api/admin/users", func(a *API) http.HandlerFunc { return a.createUser }},
	{http.MethodPatch, "/api/admin/users/{name}", func(a *API) http.HandlerFunc { return a.changeUser }},
	{http.MethodDelete, "/api/admin/users/{name}", func(a *API) http.HandlerFunc { return a.deleteUser }},
	{http.MethodGet, "/api/admin/tubes", func(a *API) http.HandlerFunc { return a.listTubes }},
	{http.MethodDelete, "/api/admin/tubes/{id}", func(a *API) http.HandlerFunc { return a.disconnect }},
	{http.MethodGet, "/api/admin/links", func(a *API) http.HandlerFunc { return a.listLinks }},
	{http.MethodDelete, "/api/admin/links/{id}", func(a *API) http.HandlerFunc { return a.revokeLink }},
	{http.MethodGet, "/api/admin/audit", func(a *API) http.HandlerFunc { return a.recentEvents }},
}

// Mount adds the routes to r. The web login's middleware must be in
// front (webapi.SessionOf).
func (a *API) Mount(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(webapi.RequireUser, a.requireAdmin, webapi.RequireCSRF)
		for _, rt := range routes {
			r.Method(rt.method, rt.pattern, rt.handler(a))
		}
		// Anything else under /api/admin/ is refused the same way first.
		r.HandleFunc("/api/admin/*", func(w http.ResponseWriter, r *http.Request) {
			webapi.Error(w, http.StatusNotFound, "no such admin call")
		})
	})
}

// requireAdmin refuses (403) a user who is not an administrator now: the
// flag is read on every request, so taking it away applies at once.
func (a *API) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := webapi.UserOf(r)
		u, err := a.cfg.Users.Get(name)
		if err != nil || !u.Admin {
			a.log.Warn("admin call refused: not an administrator", "user", name, "remote", r.RemoteAddr,
				"method", r.Method, "path", r.URL.Path)
			webapi.Error(w, http.StatusForbidden, "administrators only")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// actor is the admin making the request, for the users journal.
func actor(r *http.Request) users.Actor {
	name, _ := webapi.UserOf(r)
	return users.Actor{By: name, Source: r.RemoteAddr}
}

func (a *API) listTubes(w http.ResponseWriter, r *http.Request) {
	webapi.Write(w, http.StatusOK, a.cfg.Tubes.List())
}

func (a *API) disconnect(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	by := actor(r)
	if !a.cfg.Tubes.Disconnect(id, by.By, by.Source) {
		webapi.Error(w, http.StatusNotFound, "no such connection: "+id+" (it may have ended)")
		return
	}
	a.log.Info("admin: tube disconnected", "tube", id, "by", by.By)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) recentEvents(w http.ResponseWriter, r *http.Request) {
	n := 100
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			webapi.FieldError(w, http.StatusBadRequest, "n", "n: want a number of events, 1 or more")
			return
		}
		n = v
	}
	ev := a.cfg.Audit.Recent(n)
	if ev == nil {
		ev = []audit.Event{}
	}
	webapi.Write(w, http.StatusOK, struct {
		Events  []audit.Event `json:"events"`
		Dropped uint64        `json:"dropped"`
		File    string        `json:"file"`
	}{ev, a.cfg.Audit.Dropped(), a.cfg.Audit.Path()})
}
