package webauth

import (
	"errors"
	"net/http"

	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webapi"
)

// handlePassword sets the logged-in user's own password:
// POST /api/password {"current","new"} with the CSRF token. The current
// password is required when there is one (the first-run admin has none);
// a wrong one counts against the source like a wrong login.
func (m *Manager) handlePassword(w http.ResponseWriter, r *http.Request) {
	user, _ := webapi.UserOf(r) // RequireCSRF made sure there is one
	var req struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if !webapi.Decode(w, r, maxBody, &req) {
		return
	}
	u, err := m.users.Get(user)
	if err != nil {
		webapi.Error(w, http.StatusUnauthorized, "not logged in")
		return
	}
	if u.PasswordHash != "" {
		ok, err := m.logins.Check(r.Context(), "web", throttle.Source(r.RemoteAddr), func() bool {
			_, err := m.users.CheckPassword(user, req.Current)
			return err == nil
		})
		if err != nil {
			m.log.Warn("password change refused: password not checked", "user", user, "remote", r.RemoteAddr, "err", err)
			writeCheckError(w, err)
			return
		}
		if !ok {
			m.log.Info("password change refused: wrong current password", "user", user, "remote", r.RemoteAddr)
			webapi.FieldError(w, http.StatusUnauthorized, "current", "the current password is wrong")
			return
		}
	}
	hash, err := users.HashPassword(req.New)
	if err != nil {
		webapi.FieldError(w, http.StatusBadRequest, "new", "new "+err.Error())
		return
	}
	err = m.setPassword(w, r, user, hash)
	if errors.Is(err, users.ErrNotFound) {
		webapi.Error(w, http.StatusUnauthorized, "not logged in")
		return
	}
	if err != nil {
		m.log.Error("password change failed", "user", user, "err", err)
		webapi.Error(w, http.StatusInternalServerError, "the password could not be saved")
		return
	}
	m.log.Info("password changed", "user", user, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}
