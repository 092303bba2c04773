package oidclogin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/tubegate/tubegate/internal/edge"
)

const (
	// stateCookie carries a sign-in in progress from LoginPath to
	// CallbackPath in the browser that started it.
	stateCookie = "tubegate_oidc"
	// PendingTTL is how long a started sign-in may take at the provider.
	PendingTTL = 10 * time.Minute
	// maxUsedStates caps the sign-ins remembered as done (each for
	// PendingTTL): past it, sign-ins are refused until some expire.
	maxUsedStates = 100_000
)

// pending is one sign-in in progress, as its cookie holds it.
type pending struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"` // PKCE code verifier
	Issued   int64  `json:"t"`
}

// pendingCodec seals pending sign-ins into cookies: authenticated and
// encrypted with keys made at start (a sign-in in progress across a
// restart must start again).
type pendingCodec struct {
	codec *securecookie.SecureCookie
}

func newPendingCodec() *pendingCodec {
	c := securecookie.New(securecookie.GenerateRandomKey(64), securecookie.GenerateRandomKey(32))
	c.SetSerializer(securecookie.JSONEncoder{})
	c.MaxAge(int(PendingTTL / time.Second))
	return &pendingCodec{codec: c}
}

// start makes a new pending sign-in and sets its cookie on w.
func (c *pendingCodec) start(w http.ResponseWriter, r *http.Request, verifier string) (pending, error) {
	p := pending{State: randomToken(), Nonce: randomToken(), Verifier: verifier, Issued: time.Now().Unix()}
	v, err := c.codec.Encode(stateCookie, p)
	if err != nil {
		return pending{}, fmt.Errorf("sign-in cookie: %w", err)
	}
	// Lax, not Strict: the provider sends the browser back with a
	// top-level navigation from its own site, and the cookie must come
	// along. Only the callback path ever sees it.
	http.SetCookie(w, &http.Cookie{
		Name: stateCookie, Value: v, Path: CallbackPath, MaxAge: int(PendingTTL / time.Second),
		HttpOnly: true, Secure: edge.Secure(r), SameSite: http.SameSiteLaxMode,
	})
	return p, nil
}

// take reads r's pending sign-in, and clears its cookie whatever it
// holds: a cookie is good for one callback.
func (c *pendingCodec) take(w http.ResponseWriter, r *http.Request) (pending, string) {
	ck, err := r.Cookie(stateCookie)
	if err != nil {
		return pending{}, "no sign-in was started in this browser (or it took longer than " + PendingTTL.String() + ")"
	}
	http.SetCookie(w, &http.Cookie{
		Name: stateCookie, Value: "", Path: CallbackPath, MaxAge: -1,
		HttpOnly: true, Secure: edge.Secure(r), SameSite: http.SameSiteLaxMode,
	})
	var p pending
	if err := c.codec.Decode(stateCookie, ck.Value, &p); err != nil {
		return pending{}, "the sign-in cookie is not valid (expired, or from before a restart)"
	}
	if time.Since(time.Unix(p.Issued, 0)) > PendingTTL {
		return pending{}, "the sign-in took longer than " + PendingTTL.String()
	}
	return p, ""
}

// matches reports whether state is p's, in constant time.
func (p pending) matches(state string) bool {
	return state != "" && subtle.ConstantTimeCompare([]byte(state), []byte(p.State)) == 1
}

// usedStates remembers the states of completed sign-ins until their
// cookies expire, so that a callback cannot be replayed.
type usedStates struct {
	max int

	mu   sync.Mutex
	seen map[string]time.Time // state -> when it may be forgotten
}

func newUsedStates(max int) *usedStates {
	return &usedStates{max: max, seen: make(map[string]time.Time)}
}

// used reports whether state completed a sign-in already.
func (u *usedStates) used(state string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	exp, ok := u.seen[state]
	return ok && time.Now().Before(exp)
}

// spend records state as used until its cookie could no longer be
// valid. It reports false if it was used already, or the cap is reached
// (with the reason).
func (u *usedStates) spend(state string, issued time.Time) (bool, string) {
	now := time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if exp, ok := u.seen[state]; ok && now.Before(exp) {
		return false, "this sign-in was completed already: the callback was replayed"
	}
	if len(u.seen) >= u.max {
		for s, exp := range u.seen {
			if !now.Before(exp) {
				delete(u.seen, s)
			}
		}
		if len(u.seen) >= u.max {
			return false, fmt.Sprintf("too many sign-ins in the last %v (%d): try again later", PendingTTL, u.max)
		}
	}
	u.seen[state] = issued.Add(PendingTTL + time.Minute) // a minute for clock steps
	return true, ""
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
