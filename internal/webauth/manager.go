package webauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/datadir"
	"github.com/tubegate/tubegate/internal/edge"
	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webapi"
)

const (
	// CookieName is the session cookie.
	CookieName = "tubegate_session"
	// CSRFHeader carries the session's CSRF token on state-changing calls.
	CSRFHeader = webapi.CSRFHeader
	// DefaultMaxAge is how long a session lasts without logging in again.
	DefaultMaxAge = 12 * time.Hour
)

// Config is what a Manager needs.
type Config struct {
	// Dir is the data dir, where the cookie keys are kept.
	Dir   string
	Users *users.Store
	Log   *slog.Logger
	// MaxAge is the session lifetime (0: DefaultMaxAge).
	MaxAge time.Duration
	// Failures throttles wrong passwords per source address, shared with
	// the gateway's other password checks (nil: a throttle of its own,
	// DefaultMaxFailures per minute).
	Failures *throttle.Failures
	// Audit records logins (nil: not recorded).
	Audit *audit.Log
	// NoPasswordLogin turns the page's password login off (POST /api/login
	// answers 403): users sign in through SSO only. The first-run link
	// still works, and SSH password auth is not this package's.
	NoPasswordLogin bool
	// SSO lists the single sign-on providers the page offers.
	SSO []LoginMethod
	// Shared, in a cluster, keeps the cookie keys, the issued sessions and
	// the logged-out ones in the cluster's store rather than in Dir, so
	// that every node accepts a session made on any and a logout on one
	// ends it on all (nil: the data dir).
	Shared datadir.Blobs
}

// DefaultMaxFailures is how many wrong passwords one source may send per
// minute when no shared throttle is given.
const DefaultMaxFailures = throttle.DefaultMax

// Manager issues and checks web sessions. Create it with New.
type Manager struct {
	dir    string
	users  *users.Store
	log    *slog.Logger
	maxAge time.Duration
	codec  *securecookie.SecureCookie

	logins *throttle.Failures
	audit  *audit.Log
	table  *sessionTable // issued sessions (sessions.json)

	noPassword bool
	sso        []LoginMethod

	mu      sync.Mutex
	revoked map[string]time.Time // logged-out session IDs until they expire anyway
	first   *firstRunToken

	revSaves revokedSaver // writes revoked outside mu
}

// session is what the cookie holds, encrypted and authenticated.
type session struct {
	ID     string `json:"id"`
	User   string `json:"u"`
	CSRF   string `json:"c"`
	Issued int64  `json:"t"`
	// UID and Gen are the user record's id and credential generation when
	// the session was made: a re-added user or new credentials end it.
	UID string `json:"uid"`
	Gen uint64 `json:"g"`
}

// New loads (or makes) the cookie keys in cfg.Dir and returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Users == nil {
		return nil, errors.New("webauth: a users store is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Failures == nil {
		cfg.Failures = throttle.Default()
	}
	loadKeys, loadRevoked := loadOrCreateKeys, loadRevoked
	if cfg.Shared != nil {
		loadKeys = func(dir string) ([]byte, []byte, error) { return sharedKeys(cfg.Shared, dir) }
		loadRevoked = func(string) (map[string]time.Time, error) { return sharedRevoked(cfg.Shared) }
	}
	hashKey, blockKey, err := loadKeys(cfg.Dir)
	if err != nil {
		return nil, err
	}
	codec := securecookie.New(hashKey, blockKey)
	codec.SetSerializer(securecookie.JSONEncoder{})
	codec.MaxAge(int(cfg.MaxAge / time.Second))
	revoked, err := loadRevoked(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if err := cfg.Users.EnsureIDs(); err != nil {
		return nil, err
	}
	m := &Manager{
		dir:     cfg.Dir,
		users:   cfg.Users,
		log:     cfg.Log,
		maxAge:  cfg.MaxAge,
		codec:   codec,
		logins:  cfg.Failures,
		audit:   cfg.Audit,
		revoked: revoked,
		table:   sessionTableOf(cfg.Dir, cfg.Shared),

		noPassword: cfg.NoPasswordLogin,
		sso:        cfg.SSO,
	}
	if cfg.Shared != nil {
		m.revSaves.write = saveSharedRevoked(cfg.Shared)
	}
	return m, nil
}

// Sessions is the middleware that gives handlers the request's session
// (webapi.SessionOf): a valid, unrevoked session cookie of a user who
// still exists, with the same credentials. The cookie is decoded at most
// once per request, when first asked for, however many times Sessions
// stands in front (Mount's routes have it of their own).
func (m *Manager) Sessions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, done := r.Context().Value(sessionKey{}).(func() (session, bool)); done {
			next.ServeHTTP(w, r)
			return
		}
		own := sync.OnceValues(func() (session, bool) { return m.session(r) })
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, own))
		next.ServeHTTP(w, webapi.Provide(r, func() (*webapi.Session, bool) {
			s, ok := own()
			if !ok {
				return nil, false
			}
			return &webapi.Session{User: s.User, CSRF: s.CSRF, Alive: m.alive(s)}, true
		}))
	})
}

type sessionKey struct{}

// current is r's session: the one Sessions decoded, or (without Sessions
// in front) the cookie decoded now.
func (m *Manager) current(r *http.Request) (session, bool) {
	if own, ok := r.Context().Value(sessionKey{}).(func() (session, bool)); ok {
		return own()
	}
	return m.session(r)
}

func (m *Manager) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return session{}, false
	}
	var s session
	if err := m.codec.Decode(CookieName, c.Value, &s); err != nil {
		return session{}, false
	}
	if time.Since(time.Unix(s.Issued, 0)) > m.maxAge || m.isRevoked(s.ID) {
		return session{}, false
	}
	// A deleted user, a user of the same name added again, new credentials
	// or `gateway user sessions --revoke` end the session.
	u, err := m.users.Get(s.User)
	if err != nil || u.ID != s.UID || u.Generation != s.Gen {
		return session{}, false
	}
	if rec, ok := m.table.get(s.ID); !ok || rec.User != s.User || rec.UID != s.UID {
		return session{}, false
	}
	return s, true
}

// alive is the check that s is still valid; a tube opened from it is
// closed when the check fails (see sshserver.ConnOptions).
func (m *Manager) alive(s session) func() bool {
	expires := time.Unix(s.Issued, 0).Add(m.maxAge)
	return func() bool {
		if time.Now().After(expires) || m.isRevoked(s.ID) {
			return false
		}
		rec, ok := m.table.get(s.ID)
		return ok && rec.User == s.User && rec.UID == s.UID && rec.current(m.users)
	}
}

func (m *Manager) isRevoked(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.revoked[id]
	return ok
}

// startSession sets a new session cookie for user and returns its CSRF token.
func (m *Manager) startSession(w http.ResponseWriter, r *http.Request, user string) (string, error) {
	u, err := m.users.Get(user)
	if err != nil {
		return "", err
	}
	s := session{ID: randomToken(16), User: user, CSRF: randomToken(32), Issued: time.Now().Unix(), UID: u.ID, Gen: u.Generation}
	issued := time.Unix(s.Issued, 0)
	err = m.table.update(m.users, func(all map[string]*sessionRecord) error {
		all[s.ID] = &sessionRecord{ID: s.ID, User: user, UID: s.UID, Gen: s.Gen, Created: issued.UTC(),
			Expires: issued.Add(m.maxAge).UTC(), Source: r.RemoteAddr}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("session list: %w", err)
	}
	if err := m.setCookie(w, r, s); err != nil {
		return "", err
	}
	return s.CSRF, nil
}

// setCookie sends s as the session cookie.
func (m *Manager) setCookie(w http.ResponseWriter, r *http.Request, s session) error {
	v, err := m.codec.Encode(CookieName, s)
	if err != nil {
		return fmt.Errorf("session cookie: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: v, Path: "/", MaxAge: int(m.maxAge / time.Second),
		HttpOnly: true, Secure: edge.Secure(r), SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// endSession revokes r's session, if any, for good (the list is kept in
// the data dir), and clears the cookie.
func (m *Manager) endSession(w http.ResponseWriter, r *http.Request) {
	if s, ok := m.current(r); ok {
		m.mu.Lock()
		prune(m.revoked, time.Now())
		m.revoked[s.ID] = time.Unix(s.Issued, 0).Add(m.maxAge)
		snap := m.revSaves.snapshot(m.revoked)
		m.mu.Unlock()
		// Written outside mu: every authenticated request takes it. The
		// logout is answered once it is on disk.
		if err := m.revSaves.save(m.dir, snap); err != nil {
			m.log.Error("logout not kept across a restart", "user", s.User, "err", err)
		}
		err := m.table.update(m.users, func(all map[string]*sessionRecord) error {
			delete(all, s.ID)
			return nil
		})
		if err != nil {
			m.log.Error("logged-out session still listed", "user", s.User, "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: edge.Secure(r), SameSite: http.SameSiteStrictMode,
	})
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
