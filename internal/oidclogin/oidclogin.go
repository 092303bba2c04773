// Package oidclogin is the page's single sign-on: OpenID Connect's
// authorization code flow with PKCE, state and nonce, against one
// provider (github.com/coreos/go-oidc/v3 and golang.org/x/oauth2). A
// person who signs in at the provider gets the same web session a password
// login gives (webauth), for the gateway user named by one claim of their
// ID token (or, when the token lacks it, of the provider's userinfo).
//
// The flow's secrets (state, nonce, PKCE verifier) are bound to the browser
// that started it by a short-lived cookie, authenticated and encrypted
// with a key made at start, and a sign-in completes at most once.
package oidclogin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-chi/chi/v5"
	"golang.org/x/oauth2"

	"github.com/tubegate/tubegate/internal/users"
)

// Paths the handler serves. The redirect URL registered at the provider
// is the gateway's public URL + CallbackPath.
const (
	LoginPath    = "/auth/oidc/login"
	CallbackPath = "/auth/oidc/callback"
)

// DefaultUserClaim is the claim that names the gateway user.
const DefaultUserClaim = "preferred_username"

// Sessions starts the web session of a user who signed in, and records
// the sign-ins refused (webauth.Manager: both go to the audit log as
// web.login events, with method "oidc").
type Sessions interface {
	StartSession(w http.ResponseWriter, r *http.Request, user, how string) (string, error)
	LoginRefused(r *http.Request, user, how, reason string)
}

// Config is what a Handler needs.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document gives it: https, or http to a loopback address.
	Issuer       string
	ClientID     string
	ClientSecret string // empty: a public client (PKCE only)
	// PublicURL is the gateway's public base URL (--url, or its listener's).
	PublicURL string
	// UserClaim names the claim whose value is the user name (default
	// DefaultUserClaim).
	UserClaim string
	// AutoCreate makes a user unknown to the gateway, with an empty policy.
	AutoCreate bool
	Users      *users.Store
	Sessions   Sessions
	Log        *slog.Logger
	// HTTPClient talks to the provider (nil: one with a 15 s timeout).
	HTTPClient *http.Client
}

// Handler serves the sign-in. Create it with New.
type Handler struct {
	cfg      Config
	redirect string
	name     string
	log      *slog.Logger
	client   *http.Client
	pending  *pendingCodec
	used     *usedStates

	mu       sync.Mutex
	provider *oidc.Provider
	failedAt time.Time // the last failed discovery
	failErr  error
}

// discoveryRetry is how soon a failed discovery is tried again: sign-ins
// in between fail at once with the same error, so that they cannot make
// the gateway hammer an unreachable provider.
const discoveryRetry = 2 * time.Second

// New checks cfg. The provider is asked for its discovery document on the
// first sign-in (and by Discover), not here: a provider that is down when
// the gateway starts does not keep it from starting.
func New(cfg Config) (*Handler, error) {
	if err := CheckIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, errors.New("--oidc-client-id is required with --oidc-issuer")
	}
	if cfg.Users == nil || cfg.Sessions == nil {
		return nil, errors.New("oidclogin: users and sessions are required")
	}
	base, err := url.Parse(cfg.PublicURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("oidc: the gateway's public URL %q is not an http(s) URL", cfg.PublicURL)
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = DefaultUserClaim
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &Handler{
		cfg:      cfg,
		redirect: base.Scheme + "://" + base.Host + CallbackPath,
		name:     NameOf(cfg.Issuer),
		log:      cfg.Log.With("sso", "oidc"),
		client:   client,
		pending:  newPendingCodec(),
		used:     newUsedStates(maxUsedStates),
	}, nil
}

// CheckIssuer checks an --oidc-issuer: https, or plain http only to a
// loopback address (a provider on the same host, as in tests).
func CheckIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--oidc-issuer %q: want https://HOST[/PATH], the provider's issuer URL", issuer)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("--oidc-issuer %q: want https (plain http only to a loopback address)", issuer)
}

// NameOf is the name the page gives the provider of issuer: its host.
func NameOf(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return issuer
	}
	return u.Host
}

// RedirectURL is the callback URL to register at the provider.
func (h *Handler) RedirectURL() string { return h.redirect }

// Mount adds GET LoginPath and GET CallbackPath to r.
func (h *Handler) Mount(r chi.Router) {
	r.Get(LoginPath, h.handleLogin)
	r.Get(CallbackPath, h.handleCallback)
}

// Discover fetches the provider's discovery document now, so that a
// misconfiguration shows in the log at start rather than at the first
// sign-in.
func (h *Handler) Discover(ctx context.Context) error {
	_, err := h.discover(ctx)
	return err
}

// discover returns the provider, fetching its discovery document the
// first time (and again after a failure, at most every discoveryRetry).
func (h *Handler) discover(ctx context.Context) (*oidc.Provider, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.provider != nil {
		return h.provider, nil
	}
	if h.failErr != nil && time.Since(h.failedAt) < discoveryRetry {
		return nil, h.failErr
	}
	// Not cut short by the one request that happened to ask first.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	// The provider's key set is fetched later, with this client too.
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, h.client), h.cfg.Issuer)
	if err != nil {
		h.failedAt, h.failErr = time.Now(), fmt.Errorf("discovery of %s: %w", h.cfg.Issuer, err)
		return nil, h.failErr
	}
	h.provider, h.failErr = p, nil
	return p, nil
}

// oauth returns the OAuth 2 client of provider p.
func (h *Handler) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     h.cfg.ClientID,
		ClientSecret: h.cfg.ClientSecret,
		Endpoint:     p.Endpoint(),
		RedirectURL:  h.redirect,
		Scopes:       []string{oidc.ScopeOpenID, "profile"},
	}
}
