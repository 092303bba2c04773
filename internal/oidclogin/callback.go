package oidclogin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tubegate/tubegate/internal/users"
)

// exchangeTimeout bounds the calls to the provider in one callback.
const exchangeTimeout = 15 * time.Second

// handleLogin starts a sign-in: GET LoginPath sets the pending sign-in's
// cookie and sends the browser to the provider. It takes no parameters:
// where the browser goes afterwards is always the page, so there is
// nothing to redirect elsewhere.
func (h *Handler) handleLogin(w http.ResponseWriter, r *http.Request) {
	p, err := h.discover(r.Context())
	if err != nil {
		h.deny(w, r, denial{status: http.StatusServiceUnavailable, reason: "not started: " + err.Error(),
			page: "The sign-in provider " + h.name + " could not be reached. Try again in a moment."})
		return
	}
	verifier := oauth2.GenerateVerifier()
	pend, err := h.pending.start(w, r, verifier)
	if err != nil {
		h.log.Error("sign-in not started", "err", err)
		h.refuse(w, http.StatusInternalServerError, "The sign-in could not be started.")
		return
	}
	u := h.oauth(p).AuthCodeURL(pend.State, oidc.Nonce(pend.Nonce), oauth2.S256ChallengeOption(verifier))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

// handleCallback completes a sign-in: GET CallbackPath?code=…&state=…, in
// the browser that started it. On success it starts the user's web session
// and sends the browser to the page; on any refusal it shows a page with
// the reason (and logs it).
func (h *Handler) handleCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pend, bad := h.pending.take(w, r)
	if bad == "" && !pend.matches(q.Get("state")) {
		bad = "the state parameter does not match the sign-in this browser started"
	}
	if bad == "" && h.used.used(pend.State) {
		bad = "this sign-in was completed already: the callback was replayed"
	}
	if bad != "" {
		// A forged or replayed callback (login CSRF), or a stale tab.
		h.deny(w, r, denial{status: http.StatusBadRequest, reason: bad, page: "Sign-in refused: " + bad + ". Start again from the page."})
		return
	}
	if e := q.Get("error"); e != "" {
		what := clip(e+" "+q.Get("error_description"), 200)
		h.deny(w, r, denial{status: http.StatusForbidden, reason: "the provider refused: " + what,
			page: "The sign-in provider " + h.name + " refused the sign-in: " + what})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), exchangeTimeout)
	defer cancel()
	subject, name, err := h.identify(ctx, q.Get("code"), pend)
	if err != nil {
		d := denial{status: http.StatusForbidden, reason: err.Error(), page: "Sign-in refused: the answer of " + h.name + " did not check out."}
		if errors.Is(err, errUnreachable) {
			d.status, d.page = http.StatusBadGateway, "The sign-in provider "+h.name+" could not be reached. Try again in a moment."
		}
		h.deny(w, r, d)
		return
	}
	// The provider vouched for this sign-in: it is complete, whatever the
	// gateway makes of it, and its callback is not taken twice.
	if ok, why := h.used.spend(pend.State, time.Unix(pend.Issued, 0)); !ok {
		h.deny(w, r, denial{status: http.StatusBadRequest, subject: subject, reason: why, page: "Sign-in refused: " + why + "."})
		return
	}
	if err := users.ValidateName(name); err != nil {
		h.deny(w, r, denial{status: http.StatusForbidden, subject: subject,
			reason: fmt.Sprintf("the claim %s is %q, not a valid user name", h.cfg.UserClaim, clip(name, 80)),
			page:   fmt.Sprintf("Sign-in refused: your %s at %s is %q, which is not a valid user name on this gateway. Ask its admin.", h.cfg.UserClaim, h.name, clip(name, 80))})
		return
	}
	created, err := h.ensureUser(r, name)
	if errors.Is(err, users.ErrNotFound) {
		h.deny(w, r, denial{status: http.StatusForbidden, user: name, subject: subject, reason: "no such user",
			page: fmt.Sprintf("You signed in at %s as %q, but this gateway has no user %q. Ask its admin to add you.", h.name, name, name)})
		return
	}
	if err != nil {
		h.log.Error("sign-in failed: the user could not be made", "user", name, "err", err)
		h.refuse(w, http.StatusInternalServerError, "The sign-in could not be completed.")
		return
	}
	if created {
		h.log.Info("sign-in made a new user with an empty policy", "user", name, "subject", subject)
	}
	// The web login is logged, and goes to the audit log, there.
	if _, err := h.cfg.Sessions.StartSession(w, r, name, "oidc"); err != nil {
		h.refuse(w, http.StatusInternalServerError, "The sign-in could not be completed.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// denial is a sign-in refused: what is logged, and what the browser sees.
type denial struct {
	status        int
	user, subject string // as far as they are known
	reason        string // for the log
	page          string // for the person
}

// deny logs a refused sign-in, records it (a refused web.login in the
// audit log), and answers with the refusal page. Every refused sign-in
// passes here.
func (h *Handler) deny(w http.ResponseWriter, r *http.Request, d denial) {
	attrs := []any{"reason", d.reason, "remote", r.RemoteAddr}
	if d.user != "" {
		attrs = append(attrs, "user", d.user)
	}
	if d.subject != "" {
		attrs = append(attrs, "subject", d.subject)
	}
	h.log.Warn("sign-in refused", attrs...)
	h.cfg.Sessions.LoginRefused(r, d.user, "oidc", d.reason)
	h.refuse(w, d.status, d.page)
}

// errUnreachable marks a failure to talk to the provider, as opposed to an
// answer that did not check out.
var errUnreachable = errors.New("provider unreachable")

// identify redeems code (with p's PKCE verifier), verifies the ID token
// (signature, issuer, audience, expiry, and p's nonce) and returns its
// subject and the user claim: from the ID token, or else from the
// provider's userinfo for the same subject.
func (h *Handler) identify(ctx context.Context, code string, p pending) (subject, name string, err error) {
	if code == "" {
		return "", "", errors.New("the callback has no code")
	}
	prov, err := h.discover(ctx)
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", errUnreachable, err)
	}
	ctx = oidc.ClientContext(ctx, h.client)
	tok, err := h.oauth(prov).Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		if _, refused := errors.AsType[*oauth2.RetrieveError](err); refused {
			return "", "", fmt.Errorf("code refused by the token endpoint: %w", err)
		}
		return "", "", fmt.Errorf("%w: token endpoint: %w", errUnreachable, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", "", errors.New("the token endpoint's answer has no id_token")
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: h.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return "", "", fmt.Errorf("id_token: %w", err)
	}
	if !p.matchesNonce(idt.Nonce) {
		return "", "", errors.New("id_token: its nonce is not the one this sign-in sent")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return "", "", fmt.Errorf("id_token claims: %w", err)
	}
	v, ok := claims[h.cfg.UserClaim]
	if !ok {
		info, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return "", "", fmt.Errorf("the id_token has no %s, and userinfo: %w", h.cfg.UserClaim, err)
		}
		// OpenID Connect Core 5.3.2: userinfo must be about the same subject.
		if info.Subject != idt.Subject {
			return "", "", fmt.Errorf("userinfo is about subject %q, the id_token about %q", info.Subject, idt.Subject)
		}
		claims = nil
		if err := info.Claims(&claims); err != nil {
			return "", "", fmt.Errorf("userinfo claims: %w", err)
		}
		if v, ok = claims[h.cfg.UserClaim]; !ok {
			return "", "", fmt.Errorf("neither the id_token nor userinfo has the claim %s", h.cfg.UserClaim)
		}
	}
	s, ok := v.(string)
	if !ok {
		return "", "", fmt.Errorf("the claim %s is a %T, not a string", h.cfg.UserClaim, v)
	}
	return idt.Subject, s, nil
}

// matchesNonce reports whether nonce is p's, in constant time.
func (p pending) matchesNonce(nonce string) bool {
	return pending{State: p.Nonce}.matches(nonce)
}

// ensureUser finds the gateway user name, making them (with an empty
// policy, no password and no keys; journaled, and so audited, as made by
// "oidc:PROVIDER" from r's address) under AutoCreate. It reports whether
// it made them; without AutoCreate an unknown user is users.ErrNotFound.
func (h *Handler) ensureUser(r *http.Request, name string) (bool, error) {
	_, err := h.cfg.Users.Get(name)
	if err == nil || !errors.Is(err, users.ErrNotFound) || !h.cfg.AutoCreate {
		return false, err
	}
	err = h.cfg.Users.CreateSSO(users.User{Name: name}, users.Actor{By: "oidc:" + h.name, Source: r.RemoteAddr})
	if err != nil {
		if _, again := h.cfg.Users.Get(name); again == nil {
			return false, nil // made meanwhile, by another sign-in or the CLI
		}
		return false, fmt.Errorf("add user %s: %w", name, err)
	}
	return true, nil
}

// clip shortens s to n bytes at most, for logs and pages.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
