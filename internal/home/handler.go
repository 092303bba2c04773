package home

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/webapi"
)

// MaxStreamsPerUser caps the event streams one user may hold open at once
// (each is a connection and a goroutine of the gateway).
const MaxStreamsPerUser = 16

// refresh is how often a stream looks again without a change of the
// registry: live connection counts move without one. It also bounds how
// long a stream outlives its session.
const refresh = 2 * time.Second

// Policies gives a user's policy, read anew for every list.
type Policies interface {
	Policy(user string) (forward.Policy, error)
}

// Config is what the home API serves.
type Config struct {
	// Context ends every event stream when it is done (the gateway stops).
	Context   context.Context
	Registry  *forward.Registry
	Users     Policies
	PublicURL string
	Log       *slog.Logger
}

// API serves GET /api/home and GET /api/home/events.
type API struct {
	cfg Config

	poll *poller // other nodes' endpoints, for the streams (a cluster)

	mu      sync.Mutex
	streams map[string]int // open event streams per user
}

// New returns the home API.
func New(cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, streams: make(map[string]int),
		poll: newPoller(cfg.Context, cfg.Registry, cfg.Users, cfg.Log)}
}

// Mount adds the routes, behind a logged-in session. Both are GETs that
// change nothing; the session cookie is SameSite=Strict, and without CORS
// headers no other origin can read the answers.
func (a *API) Mount(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(webapi.RequireUser)
		r.Get("/api/home", a.handleList)
		r.Get("/api/home/events", a.handleEvents)
	})
}

// list builds user's home list now: this node's endpoints as they are,
// other nodes' from the directory (read now when remote is nil). Whatever
// the directory says, the list is made: without other nodes' endpoints,
// and a note, when it cannot be read.
// It returns the view of other nodes it used.
func (a *API) list(ctx context.Context, user string, remote *view) (List, view, error) {
	pol, err := a.cfg.Users.Policy(user)
	if err != nil {
		return List{}, view{}, fmt.Errorf("policy of %s: %w", user, err)
	}
	if remote == nil {
		v := remoteOf(ctx, a.cfg.Registry, a.cfg.Log, user, pol)
		remote = &v
	}
	live, gone := a.cfg.Registry.Snapshot()
	return List{User: user, PublicURL: a.cfg.PublicURL, Entries: Build(user, pol, live, remote.claims, gone),
		Unavailable: remote.unavailable}, *remote, nil
}

func (a *API) handleList(w http.ResponseWriter, r *http.Request) {
	s, _ := webapi.SessionOf(r)
	l, _, err := a.list(r.Context(), s.User, nil)
	if err != nil {
		webapi.Error(w, http.StatusForbidden, err.Error())
		return
	}
	webapi.Write(w, http.StatusOK, l)
}

// handleEvents streams the list as Server-Sent Events: one "home" event at
// once and one at every change, until the client goes, the session ends
// or the gateway stops. SSE rather than a WebSocket: the data flows one
// way, it is a plain GET under the same cookie, session and origin rules
// as the rest of /api, EventSource reconnects by itself, and proxies pass
// it as any streamed response.
func (a *API) handleEvents(w http.ResponseWriter, r *http.Request) {
	s, _ := webapi.SessionOf(r)
	if !a.take(s.User) {
		a.cfg.Log.Info("home stream refused: too many", "user", s.User, "remote", r.RemoteAddr)
		webapi.Error(w, http.StatusTooManyRequests, fmt.Sprintf("too many open home streams (%d) for %s", MaxStreamsPerUser, s.User))
		return
	}
	defer a.give(s.User)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // a stream is long-lived; --http-read-timeout is for requests
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	if a.cfg.Context != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer context.AfterFunc(a.cfg.Context, cancel)()
		defer cancel()
	}
	if err := a.stream(ctx, s, func(b []byte) error {
		if _, err := fmt.Fprintf(w, "event: home\ndata: %s\n\n", b); err != nil {
			return err
		}
		return rc.Flush()
	}); err != nil {
		a.cfg.Log.Debug("home stream ended", "user", s.User, "err", err)
	}
}

// stream sends s's list through send whenever it differs from the last one
// sent, until ctx ends or the session does. This node's changes wake it
// through the registry; on a cluster, other nodes' endpoints come from the
// node's one poll of the directory (see poller), read afresh only for the
// first list.
func (a *API) stream(ctx context.Context, s *webapi.Session, send func([]byte) error) error {
	tick := time.NewTicker(refresh)
	defer tick.Stop()
	a.poll.join(s.User)
	defer a.poll.leave(s.User)
	var remote *view
	var last []byte
	for {
		changed, polled := a.cfg.Registry.Changed(), a.poll.Changed()
		if s.Alive != nil && !s.Alive() {
			return fmt.Errorf("session of %s ended", s.User)
		}
		if v, ok := a.poll.view(s.User); ok {
			remote = &v
		}
		l, used, err := a.list(ctx, s.User, remote)
		remote = &used
		if err != nil {
			return err
		}
		b, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("encode home list: %w", err)
		}
		if !bytes.Equal(b, last) {
			if err := send(b); err != nil {
				return fmt.Errorf("send home list: %w", err)
			}
			last = b
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-polled:
		case <-tick.C:
		}
	}
}

func (a *API) take(user string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.streams[user] >= MaxStreamsPerUser {
		return false
	}
	a.streams[user]++
	return true
}

func (a *API) give(user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.streams[user]--; a.streams[user] <= 0 {
		delete(a.streams, user)
	}
}
