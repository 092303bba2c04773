// Package httpapi is the gateway's HTTP surface: the /ssh WebSocket that
// carries tubes, health and metrics, and the mount point for the page,
// its API and share links.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/edge"
	"github.com/tubegate/tubegate/internal/idlepoll"
	"github.com/tubegate/tubegate/internal/resume"
	"github.com/tubegate/tubegate/internal/sshserver"
	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/webapi"
)

// Config is what the router serves.
type Config struct {
	// Context bounds the life of every tube accepted over /ssh.
	Context context.Context
	SSH     *sshserver.Server
	Log     *slog.Logger
	// Metrics serves /metrics (nil: 404).
	Metrics http.Handler
	// Sessions is the web login's middleware: it gives every route the
	// request's session (webapi.SessionOf). A browser tube with a session
	// needs no SSH credentials and is closed when the session ends (nil:
	// no sessions, SSH auth only).
	Sessions func(http.Handler) http.Handler
	// Mount adds further routes: the page, its API, share links.
	Mount []func(chi.Router)
	// Resume, if set, offers resumable tubes on /ssh (the
	// tubegate.resume.v1 subprotocol); nil: raw tubes only.
	Resume *resume.Server
	// IdleReads, if set, is where a raw tube's reader waits while its
	// client is idle, with no goroutine of its own (plain-TCP listeners).
	IdleReads *idlepoll.Poller
	// Health, if set, is checked by /healthz: an error makes it answer
	// 503 "degraded: ..." (a cluster node whose Redis is unreachable).
	Health func() error
}

// New returns the gateway's HTTP handler.
func New(cfg Config) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(securityHeaders)
	r.Use(logRefusals(cfg.Log))
	if cfg.Sessions != nil {
		r.Use(cfg.Sessions)
	}
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if cfg.Health != nil {
			if err := cfg.Health(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "degraded: %v\n", err)
				return
			}
		}
		w.Write([]byte("ok\n"))
	})
	if cfg.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", cfg.Metrics)
	}
	r.Get("/ssh", tubeHandler(cfg))
	for _, m := range cfg.Mount {
		m(r)
	}
	return r
}

// tubeHandler upgrades /ssh to a WebSocket and serves one tube on it. A
// browser request (it carries an Origin) must come from the gateway's own
// origin, to the scheme (the WebSocket library checks the host as well);
// with a valid session the tube needs no SSH credentials.
func tubeHandler(cfg Config) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		log := cfg.Log.With("remote", r.RemoteAddr)
		if origin := r.Header.Get("Origin"); origin != "" && !edge.SameOrigin(r, origin) {
			log.Warn("websocket refused: foreign origin", "origin", origin, "host", r.Host)
			http.Error(w, "tubegate: WebSocket from a foreign origin refused", http.StatusForbidden)
			return
		}
		opts := sshserver.ConnOptions{Transport: "websocket"}
		if s, ok := webapi.SessionOf(r); ok {
			opts.PreAuthUser, opts.Alive = s.User, s.Alive
		}
		// A tube is long-lived on purpose: the HTTP server's read deadline
		// is not for it (its limits are the tube limits).
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		c, err := bridge.AcceptTube(cfg.Context, w, r, bridge.TubeOptions{
			Resume: cfg.Resume, Source: throttle.Source(r.RemoteAddr), Idle: cfg.IdleReads,
		})
		if err != nil {
			log.Info("websocket tube not started", "err", err)
			return
		}
		if c == nil { // a resume: the tube's own goroutine carries on
			return
		}
		// The tube outlives the request (the connection is hijacked): serve it
		// on its own goroutine so this one, deep in net/http, ends here.
		go cfg.SSH.ServeConn(cfg.Context, c, opts)
	}
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if edge.Secure(r) {
			h.Set("Strict-Transport-Security", "max-age=15552000") // 180 days
		}
		next.ServeHTTP(w, r)
	})
}
