package webauth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webapi"
)

// maxBody bounds the JSON bodies of the login calls.
const maxBody = 16 << 10

// Mount adds the login API to r:
//
//	GET  /api/session      {"user","csrf","admin","has_password"} or 401
//	GET  /api/login/methods {"password": bool, "sso": [{"name","url"}]}
//	POST /api/login        {"user","password"} -> session cookie
//	POST /api/login/first  {"token"} (the first-run link's) -> session cookie
//	POST /api/logout       (with X-CSRF-Token)
//	POST /api/password     {"current","new"} (with X-CSRF-Token): set one's own password
//
// Every POST must come from the gateway's own origin (webapi.SameOrigin);
// logout and password also need the session's CSRF token.
func (m *Manager) Mount(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(m.Sessions)
		r.Get("/api/session", m.handleSession)
		r.Get("/api/login/methods", m.handleMethods)
		r.With(webapi.SameOrigin).Post("/api/login", m.handleLogin)
		r.With(webapi.SameOrigin).Post("/api/login/first", m.handleFirstRun)
		r.With(webapi.RequireCSRF).Post("/api/logout", m.handleLogout)
		r.With(webapi.RequireCSRF).Post("/api/password", m.handlePassword)
	})
}

type sessionReply struct {
	User        string `json:"user"`
	CSRF        string `json:"csrf"`
	Admin       bool   `json:"admin"`
	HasPassword bool   `json:"has_password"`
}

func (m *Manager) handleSession(w http.ResponseWriter, r *http.Request) {
	s, ok := m.current(r)
	if !ok {
		webapi.Error(w, http.StatusUnauthorized, "not logged in")
		return
	}
	m.writeSession(w, s.User, s.CSRF)
}

func (m *Manager) writeSession(w http.ResponseWriter, user, csrf string) {
	u, _ := m.users.Get(user)
	webapi.Write(w, http.StatusOK, sessionReply{User: user, CSRF: csrf, Admin: u.Admin, HasPassword: u.PasswordHash != ""})
}

func (m *Manager) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if !webapi.Decode(w, r, maxBody, &req) {
		return
	}
	if m.noPassword {
		m.log.Info("web login refused: password login is turned off", "user", req.User, "remote", r.RemoteAddr)
		m.recordLogin(r, req.User, "password", audit.Refused, "password login is turned off")
		webapi.Error(w, http.StatusForbidden, "password login is turned off on this gateway: sign in with single sign-on")
		return
	}
	var u users.User
	ok, err := m.logins.Check(r.Context(), "web", throttle.Source(r.RemoteAddr), func() bool {
		var err error
		u, err = m.users.CheckPassword(req.User, req.Password)
		return err == nil
	})
	if err != nil {
		m.log.Warn("web login refused: password not checked", "user", req.User, "remote", r.RemoteAddr, "err", err)
		m.recordLogin(r, req.User, "password", audit.Refused, err.Error())
		writeCheckError(w, err)
		return
	}
	if !ok {
		m.log.Info("web login refused", "user", req.User, "remote", r.RemoteAddr)
		m.recordLogin(r, req.User, "password", audit.Refused, "wrong user name or password")
		webapi.Error(w, http.StatusUnauthorized, "wrong user name or password")
		return
	}
	m.login(w, r, u.Name, "password")
}

func (m *Manager) handleFirstRun(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if !webapi.Decode(w, r, maxBody, &req) {
		return
	}
	user, ok := m.consumeFirstRun(req.Token)
	if !ok {
		m.log.Info("first-run login refused: unknown, used or expired link", "remote", r.RemoteAddr)
		m.recordLogin(r, "", "first-run link", audit.Refused, "unknown, used or expired first-run link")
		webapi.Error(w, http.StatusUnauthorized, "this first-run link is not valid: it was used already or has expired (restart the gateway for a new one)")
		return
	}
	m.login(w, r, user, "first-run link")
}

func (m *Manager) login(w http.ResponseWriter, r *http.Request, user, how string) {
	csrf, err := m.StartSession(w, r, user, how)
	if err != nil {
		webapi.Error(w, http.StatusInternalServerError, "login failed")
		return
	}
	m.writeSession(w, user, csrf)
}

// StartSession logs user in on this browser: it sets a new session
// cookie, the same whichever way the user proved who they are (how: a
// password, the first-run link, single sign-on), and logs the web login
// (and records it in the audit log). It returns the session's CSRF token.
func (m *Manager) StartSession(w http.ResponseWriter, r *http.Request, user, how string) (string, error) {
	csrf, err := m.startSession(w, r, user)
	if err != nil {
		m.log.Error("web login failed", "user", user, "method", how, "err", err)
		m.recordLogin(r, user, how, audit.Failed, err.Error())
		return "", fmt.Errorf("web login of %s: %w", user, err)
	}
	m.log.Info("web login", "user", user, "method", how, "remote", r.RemoteAddr)
	m.recordLogin(r, user, how, audit.Success, "")
	return csrf, nil
}

// LoginRefused records a web login refused elsewhere (a single sign-on
// that did not check out) in the audit log; user is the name as far as it
// is known.
func (m *Manager) LoginRefused(r *http.Request, user, how, reason string) {
	m.recordLogin(r, user, how, audit.Refused, reason)
}

func (m *Manager) handleLogout(w http.ResponseWriter, r *http.Request) {
	user, _ := webapi.UserOf(r)
	m.endSession(w, r)
	m.log.Info("web logout", "user", user, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

// recordLogin writes a web.login event. user is the name as typed.
func (m *Manager) recordLogin(r *http.Request, user, how, outcome, reason string) {
	m.audit.Record(audit.Event{Event: audit.WebLogin, User: user, Source: r.RemoteAddr, Outcome: outcome,
		Reason: reason, Method: how})
}

// writeCheckError answers a password that was not checked: throttled, or
// the request ended while it waited for its turn.
func writeCheckError(w http.ResponseWriter, err error) {
	if errors.Is(err, throttle.ErrThrottled) {
		webapi.Error(w, http.StatusTooManyRequests, "too many wrong passwords from your address: wait a minute")
		return
	}
	if errors.Is(err, throttle.ErrUncounted) { // a cluster whose Redis is down
		webapi.Error(w, http.StatusServiceUnavailable, "cluster unavailable: redis unreachable: the password was not checked, try again later")
		return
	}
	webapi.Error(w, http.StatusServiceUnavailable, "the password could not be checked: try again")
}
