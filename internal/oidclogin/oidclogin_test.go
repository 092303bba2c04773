package oidclogin

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/users"
)

// recordSessions stands in for webauth: it records who was logged in.
type recordSessions struct {
	mu      sync.Mutex
	logins  []string
	refused []string
}

func (s *recordSessions) StartSession(w http.ResponseWriter, r *http.Request, user, how string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins = append(s.logins, user+"/"+how)
	return "csrf", nil
}

func (s *recordSessions) LoginRefused(r *http.Request, user, how, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused = append(s.refused, user+"/"+how+": "+reason)
}

func (s *recordSessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.logins)
}

type rig struct {
	t        *testing.T
	idp      *fakeIssuer
	store    *users.Store
	sessions *recordSessions
	h        *Handler
	router   http.Handler
}

const testClient = "tubegate"

func newRig(t *testing.T, autoCreate bool) *rig {
	t.Helper()
	idp := newFakeIssuer(t)
	store, err := users.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(users.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	s := &recordSessions{}
	h, err := New(Config{Issuer: idp.srv.URL, ClientID: testClient, ClientSecret: "s3cret", PublicURL: "https://gw.example.com",
		AutoCreate: autoCreate, Users: store, Sessions: s})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	h.Mount(r)
	return &rig{t: t, idp: idp, store: store, sessions: s, h: h, router: r}
}

// flow is a started sign-in: its cookie and what the authorization
// request carried.
type flow struct {
	cookie                            *http.Cookie
	state, nonce, challenge, redirect string
}

func (g *rig) begin(host string) flow {
	g.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://"+host+LoginPath+"?next=https://evil.test/", nil)
	rec := httptest.NewRecorder()
	g.router.ServeHTTP(rec, req)
	if rec.Code != http.StatusFound {
		g.t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), g.idp.srv.URL+"/auth?") {
		g.t.Fatalf("login sent the browser to %q", rec.Header().Get("Location"))
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("client_id") != testClient || q.Get("response_type") != "code" {
		g.t.Fatalf("authorization request: %v", q)
	}
	var c *http.Cookie
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == stateCookie {
			c = ck
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != CallbackPath {
		g.t.Fatalf("sign-in cookie: %+v", c)
	}
	return flow{cookie: c, state: q.Get("state"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
}

func (g *rig) callback(c *http.Cookie, query string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "https://gw.example.com"+CallbackPath+"?"+query, nil)
	if c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	g.router.ServeHTTP(rec, req)
	return rec
}

func (g *rig) signIn(f flow, claims, userinfo map[string]any) *httptest.ResponseRecorder {
	g.idp.issue("code-"+f.state[:8], f.challenge, claims, userinfo)
	return g.callback(f.cookie, url.Values{"code": {"code-" + f.state[:8]}, "state": {f.state}}.Encode())
}

func TestSignInAndReplay(t *testing.T) {
	g := newRig(t, false)
	f := g.begin("gw.example.com")
	if f.redirect != "https://gw.example.com"+CallbackPath || f.state == "" || f.nonce == "" || f.state == f.nonce {
		t.Fatalf("authorization request: redirect %q, state %q, nonce %q", f.redirect, f.state, f.nonce)
	}
	claims := g.idp.standardClaims(testClient, f.nonce)
	claims["preferred_username"] = "alice"
	rec := g.signIn(f, claims, nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Fatalf("sign-in: %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if g.sessions.logins[0] != "alice/oidc" {
		t.Fatalf("sessions: %v", g.sessions.logins)
	}
	// The same callback again, with the same cookie: refused before the
	// provider is asked.
	rec = g.callback(f.cookie, url.Values{"code": {"code-" + f.state[:8]}, "state": {f.state}}.Encode())
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "replayed") || g.sessions.count() != 1 || g.idp.redeemed != 1 {
		t.Fatalf("replay: %d, %d sessions, %d redeemed: %s", rec.Code, g.sessions.count(), g.idp.redeemed, rec.Body)
	}
}

func TestRedirectURLIgnoresHost(t *testing.T) {
	g := newRig(t, false)
	if f := g.begin("evil.test"); f.redirect != "https://gw.example.com"+CallbackPath {
		t.Fatalf("redirect_uri with Host evil.test: %q", f.redirect)
	}
}

func TestUserinfoFallback(t *testing.T) {
	g := newRig(t, false)
	f := g.begin("gw.example.com")
	if rec := g.signIn(f, g.idp.standardClaims(testClient, f.nonce), map[string]any{"sub": "sub-1", "preferred_username": "alice"}); rec.Code != http.StatusSeeOther {
		t.Fatalf("userinfo sign-in: %d %s", rec.Code, rec.Body)
	}
	f = g.begin("gw.example.com")
	if rec := g.signIn(f, g.idp.standardClaims(testClient, f.nonce), map[string]any{"sub": "someone-else", "preferred_username": "alice"}); rec.Code != http.StatusForbidden {
		t.Fatalf("userinfo of another subject: %d %s", rec.Code, rec.Body)
	}
	if g.sessions.count() != 1 {
		t.Fatalf("sessions: %v", g.sessions.logins)
	}
}

func TestTokenChecks(t *testing.T) {
	for _, c := range []struct {
		name  string
		tweak func(claims map[string]any, f flow, idp *fakeIssuer)
	}{
		{"another audience", func(c map[string]any, _ flow, _ *fakeIssuer) { c["aud"] = "other-app" }},
		{"another nonce", func(c map[string]any, _ flow, _ *fakeIssuer) { c["nonce"] = "not-" + c["nonce"].(string) }},
		{"no nonce", func(c map[string]any, _ flow, _ *fakeIssuer) { delete(c, "nonce") }},
		{"another issuer", func(c map[string]any, _ flow, _ *fakeIssuer) { c["iss"] = "https://evil.test" }},
		{"expired", func(c map[string]any, _ flow, _ *fakeIssuer) { c["exp"] = time.Now().Add(-time.Hour).Unix() }},
		{"claim not a string", func(c map[string]any, _ flow, _ *fakeIssuer) { c["preferred_username"] = []string{"alice"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newRig(t, true)
			f := g.begin("gw.example.com")
			claims := g.idp.standardClaims(testClient, f.nonce)
			claims["preferred_username"] = "alice"
			c.tweak(claims, f, g.idp)
			if rec := g.signIn(f, claims, nil); rec.Code != http.StatusForbidden || g.sessions.count() != 0 {
				t.Fatalf("%s: %d, sessions %v: %s", c.name, rec.Code, g.sessions.logins, rec.Body)
			}
		})
	}
}

func TestStateChecks(t *testing.T) {
	g := newRig(t, false)
	f := g.begin("gw.example.com")
	claims := g.idp.standardClaims(testClient, f.nonce)
	claims["preferred_username"] = "alice"
	g.idp.issue("code-1", f.challenge, claims, nil)
	other := g.begin("gw.example.com") // another browser's sign-in
	for name, c := range map[string]struct {
		cookie *http.Cookie
		query  string
	}{
		"tampered state":      {f.cookie, "code=code-1&state=" + url.QueryEscape(f.state+"x")},
		"no state":            {f.cookie, "code=code-1"},
		"no cookie":           {nil, "code=code-1&state=" + url.QueryEscape(f.state)},
		"another's cookie":    {other.cookie, "code=code-1&state=" + url.QueryEscape(f.state)},
		"forged cookie":       {&http.Cookie{Name: stateCookie, Value: "AAAA"}, "code=code-1&state=" + url.QueryEscape(f.state)},
		"provider error only": {nil, "error=access_denied"},
	} {
		if rec := g.callback(c.cookie, c.query); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Start again") {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	if g.sessions.count() != 0 || g.idp.redeemed != 0 || len(g.sessions.refused) != 6 {
		t.Fatalf("refused callbacks: %d sessions, %d codes redeemed, refusals recorded %q", g.sessions.count(), g.idp.redeemed, g.sessions.refused)
	}
}

func TestUserNames(t *testing.T) {
	for _, auto := range []bool{false, true} {
		g := newRig(t, auto)
		for _, name := range []string{"Alice", "alice ", "../alice", "alice@example.com", "", "bob\nadmin"} {
			f := g.begin("gw.example.com")
			claims := g.idp.standardClaims(testClient, f.nonce)
			claims["preferred_username"] = name
			if rec := g.signIn(f, claims, nil); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "not a valid user name") {
				t.Errorf("auto-create %v, claim %q: %d %s", auto, name, rec.Code, rec.Body)
			}
		}
		f := g.begin("gw.example.com")
		claims := g.idp.standardClaims(testClient, f.nonce)
		claims["preferred_username"] = "carol"
		rec := g.signIn(f, claims, nil)
		list, _ := g.store.List()
		if !auto {
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `no user &#34;carol&#34;`) || len(list) != 1 {
				t.Fatalf("unknown user: %d, users %v: %s", rec.Code, list, rec.Body)
			}
			continue
		}
		u, err := g.store.Get("carol")
		if rec.Code != http.StatusSeeOther || err != nil || u.Admin || len(u.PermitOpen)+len(u.PermitListen)+len(u.PermitName)+len(u.Keys) != 0 || u.PasswordHash != "" {
			t.Fatalf("auto-created user: %d %+v %v: %s", rec.Code, u, err, rec.Body)
		}
	}
}

func TestCheckIssuer(t *testing.T) {
	for issuer, ok := range map[string]bool{
		"https://idp.example.com":       true,
		"https://idp.example.com/realm": true,
		"http://127.0.0.1:5556":         true,
		"http://localhost:5556/dex":     true,
		"http://idp.example.com":        false,
		"idp.example.com":               false,
		"https://idp.example.com/?x=1":  false,
		"https://u:p@idp.example.com":   false,
	} {
		if err := CheckIssuer(issuer); (err == nil) != ok {
			t.Errorf("CheckIssuer(%q) = %v", issuer, err)
		}
	}
}

func TestUsedStatesCap(t *testing.T) {
	u := newUsedStates(2)
	now := time.Now()
	for _, s := range []string{"a", "b"} {
		if ok, why := u.spend(s, now); !ok {
			t.Fatal(why)
		}
	}
	if ok, _ := u.spend("a", now); ok {
		t.Fatal("a spent twice")
	}
	if ok, _ := u.spend("c", now); ok {
		t.Fatal("past the cap")
	}
	u.seen["a"] = now.Add(-time.Second) // expired: makes room
	if ok, why := u.spend("c", now); !ok {
		t.Fatal(why)
	}
}

func TestProviderDown(t *testing.T) {
	g := newRig(t, false)
	g.idp.srv.Close()
	for i := range 2 { // the second within discoveryRetry: the same answer, without asking
		rec := httptest.NewRecorder()
		g.router.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://gw.example.com"+LoginPath, nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "could not be reached") || len(rec.Result().Cookies()) != 0 {
			t.Fatalf("sign-in %d with the provider down: %d %v %s", i, rec.Code, rec.Result().Cookies(), rec.Body)
		}
	}
}
