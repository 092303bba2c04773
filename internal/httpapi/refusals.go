package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
)

// maxReason bounds how much of a refusal's body is kept for its log line.
const maxReason = 512

// logRefusals logs every refusal of the page's JSON API (/api/...) at info
// with the client's address: a foreign origin, a missing or wrong CSRF
// token, a policy that forbids the call (403), and bodies refused for their
// size or type (413, 415). The reason is the answer's {"error": ...}.
func logRefusals(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/api/") {
				next.ServeHTTP(w, r)
				return
			}
			rw := &refusalWriter{ResponseWriter: w}
			next.ServeHTTP(rw, r)
			if !rw.refused() {
				return
			}
			var answer struct {
				Error string `json:"error"`
			}
			reason := strings.TrimSpace(string(rw.body))
			if json.Unmarshal(rw.body, &answer) == nil && answer.Error != "" {
				reason = answer.Error
			}
			log.Info("web API refused", "method", r.Method, "path", r.URL.Path, "status", rw.status,
				"reason", reason, "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"))
		})
	}
}

// refusalWriter notes the status of an answer and, for a refusal, the
// start of its body.
type refusalWriter struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (w *refusalWriter) refused() bool {
	switch w.status {
	case http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return true
	}
	return false
}

func (w *refusalWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *refusalWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.refused() && len(w.body) < maxReason {
		w.body = append(w.body, p[:min(len(p), maxReason-len(w.body))]...)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
