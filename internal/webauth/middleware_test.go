package webauth

import (
	"net/http"
	"net/http/httptest"

	"github.com/tubegate/tubegate/internal/webapi"
)

// through serves r through Sessions (and the guards given) and returns the
// session the handler behind saw, nil if it was not reached or saw none.
func (m *Manager) through(r *http.Request, guards ...func(http.Handler) http.Handler) (s *webapi.Session, reached bool) {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		s, _ = webapi.SessionOf(r)
	})
	for i := len(guards) - 1; i >= 0; i-- {
		h = guards[i](h)
	}
	m.Sessions(h).ServeHTTP(httptest.NewRecorder(), r)
	return s, reached
}

// userOf is the logged-in user handlers behind Sessions see for r.
func (m *Manager) userOf(r *http.Request) (string, bool) {
	s, _ := m.through(r)
	if s == nil {
		return "", false
	}
	return s.User, true
}

// checkCSRF reports whether r passes webapi.RequireCSRF behind Sessions.
func (m *Manager) checkCSRF(r *http.Request) bool {
	_, reached := m.through(r, webapi.RequireCSRF)
	return reached
}

// aliveOf is the Alive check of r's session, nil without one.
func (m *Manager) aliveOf(r *http.Request) func() bool {
	s, _ := m.through(r)
	if s == nil {
		return nil
	}
	return s.Alive
}
