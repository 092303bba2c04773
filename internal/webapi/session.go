package webapi

import (
	"context"
	"net/http"
	"sync"
)

// Session is a request's logged-in web session.
type Session struct {
	User string
	// CSRF is the token state-changing calls carry in CSRFHeader.
	CSRF string
	// Alive reports whether the session still holds (not logged out, not
	// expired, its user's credentials unchanged); nil: always. A tube
	// opened from the session is closed when it fails.
	Alive func() bool
}

type sessionKey struct{}

// lookup finds a request's session at most once, when first asked.
type lookup func() (*Session, bool)

// Provide returns r with find as the way to its session: the middleware
// of a web login calls it, so handlers can ask SessionOf. find runs at
// most once, and only when a handler asks: static files cost nothing.
func Provide(r *http.Request, find func() (*Session, bool)) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, lookup(sync.OnceValues(find))))
}

// SessionOf returns r's logged-in session. Without a web login's
// middleware in front (see Provide) there is none.
func SessionOf(r *http.Request) (*Session, bool) {
	find, ok := r.Context().Value(sessionKey{}).(lookup)
	if !ok {
		return nil, false
	}
	return find()
}

// UserOf returns the logged-in user of r, if any.
func UserOf(r *http.Request) (string, bool) {
	s, ok := SessionOf(r)
	if !ok {
		return "", false
	}
	return s.User, true
}

// RequireUser answers 401 to a request without a logged-in session.
func RequireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := SessionOf(r); !ok {
			Error(w, http.StatusUnauthorized, "log in first")
			return
		}
		next.ServeHTTP(w, r)
	})
}
