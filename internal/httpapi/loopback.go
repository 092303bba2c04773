package httpapi

import (
	"net"
	"net/http"
)

// LoopbackOnly serves h only to clients on this machine (127.0.0.0/8,
// ::1), and refuses everyone else with 403: for /metrics, which a scraper
// on the same host reads and the world need not.
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "tubegate: this is served to the gateway's own host only (see --metrics)", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
