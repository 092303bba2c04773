package webapi

import (
	"crypto/subtle"
	"net/http"

	"github.com/tubegate/tubegate/internal/edge"
)

// CSRFHeader carries the session's CSRF token on state-changing calls.
const CSRFHeader = "X-CSRF-Token"

// crossOrigin is the standard library's check: a browser's Sec-Fetch-Site,
// or else its Origin against the Host. Safe methods (GET, HEAD, OPTIONS)
// pass.
var crossOrigin = func() *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	c.SetDenyHandler(http.HandlerFunc(denyForeign))
	return c
}()

func denyForeign(w http.ResponseWriter, r *http.Request) {
	Error(w, http.StatusForbidden, "request from a foreign origin refused")
}

// SameOrigin refuses (403) a state-changing request a browser sent from
// another origin: http.CrossOriginProtection, and then an Origin the
// request carries must be the gateway's own to the scheme, host and port
// (edge.SameOrigin; the standard check leaves the scheme out when a browser
// sends no Sec-Fetch-Site). Requests with neither header (non-browser
// clients) pass: they cannot carry a browser's cookie without the browser.
func SameOrigin(next http.Handler) http.Handler {
	return crossOrigin.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) {
			if origin := r.Header.Get("Origin"); origin != "" && !edge.SameOrigin(r, origin) {
				denyForeign(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	}))
}

// RequireCSRF guards a state-changing call (403 when refused): SameOrigin,
// a logged-in session, and that session's token in CSRFHeader.
func RequireCSRF(next http.Handler) http.Handler {
	return SameOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) && !tokenMatches(r) {
			Error(w, http.StatusForbidden, "missing or wrong CSRF token")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

func tokenMatches(r *http.Request) bool {
	s, ok := SessionOf(r)
	got := r.Header.Get(CSRFHeader)
	return ok && got != "" && s.CSRF != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
