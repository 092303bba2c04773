package webauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/users"
)

func setup(t *testing.T) (string, *users.Store, *Manager, http.Handler) {
	t.Helper()
	dir := t.TempDir()
	store, err := users.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Dir: dir, Users: store})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	m.Mount(r)
	return dir, store, m, r
}

func post(h http.Handler, path, body string, hdr map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "http://gw.test"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func sessionCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", rec.Result().Header)
	return nil
}

func TestPasswordLoginCSRFLogoutAndRestart(t *testing.T) {
	dir, store, m, h := setup(t)
	hash, err := users.HashPassword("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	if rec := post(h, "/api/login", `{"user":"bob","password":"wrong-horse"}`, nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d %s", rec.Code, rec.Body)
	}
	if rec := post(h, "/api/login", `{"user":"bob","password":"correct-horse"}`, map[string]string{"Origin": "http://evil.test"}); rec.Code != http.StatusForbidden {
		t.Fatalf("login from a foreign origin: %d", rec.Code)
	}
	rec := post(h, "/api/login", `{"user":"bob","password":"correct-horse"}`, map[string]string{"Origin": "http://gw.test"})
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	c := sessionCookie(t, rec)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure {
		t.Fatalf("cookie flags: %+v", c)
	}
	var csrf string
	if i := strings.Index(rec.Body.String(), `"csrf":"`); i >= 0 {
		csrf = strings.SplitN(rec.Body.String()[i+8:], `"`, 2)[0]
	}
	req := httptest.NewRequest(http.MethodPost, "http://gw.test/api/x", nil)
	req.AddCookie(c)
	if u, ok := m.userOf(req); !ok || u != "bob" {
		t.Fatalf("User = %q, %v", u, ok)
	}
	if m.checkCSRF(req) {
		t.Fatal("CheckCSRF without the header passed")
	}
	req.Header.Set(CSRFHeader, csrf)
	if !m.checkCSRF(req) {
		t.Fatal("CheckCSRF with the right token failed")
	}
	req.Header.Set("Origin", "http://evil.test")
	if m.checkCSRF(req) {
		t.Fatal("CheckCSRF from a foreign origin passed")
	}

	// A restart reads the same keys: the session survives.
	m2, err := New(Config{Dir: dir, Users: store})
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := m2.userOf(req); !ok || u != "bob" {
		t.Fatalf("after a restart User = %q, %v", u, ok)
	}

	if rec := post(h, "/api/logout", "", nil, c); rec.Code != http.StatusForbidden {
		t.Fatalf("logout without CSRF token: %d", rec.Code)
	}
	if rec := post(h, "/api/logout", "", map[string]string{CSRFHeader: csrf}, c); rec.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	if _, ok := m.userOf(req); ok {
		t.Fatal("the session still works after logout")
	}
	m3, err := New(Config{Dir: dir, Users: store})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m3.userOf(req); ok {
		t.Fatal("a logged-out session works again after a restart")
	}
}

func TestFirstRun(t *testing.T) {
	_, store, m, h := setup(t)
	link, err := m.FirstRun("http://gw.test")
	if err != nil || !strings.HasPrefix(link, "http://gw.test/login/first#") {
		t.Fatalf("FirstRun = %q, %v", link, err)
	}
	if u, err := store.Get(FirstRunUser); err != nil || !u.Admin {
		t.Fatalf("first-run admin: %+v, %v", u, err)
	}
	token := strings.SplitN(link, "#", 2)[1]
	if rec := post(h, "/api/login/first", `{"token":"nope"}`, nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", rec.Code)
	}
	rec := post(h, "/api/login/first", `{"token":"`+token+`"}`, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"user":"admin"`) {
		t.Fatalf("first-run login: %d %s", rec.Code, rec.Body)
	}
	sessionCookie(t, rec)
	if rec := post(h, "/api/login/first", `{"token":"`+token+`"}`, nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("second use of the first-run token: %d", rec.Code)
	}
	// With users that can log in, there is no link.
	hash, _ := users.HashPassword("correct-horse")
	store.Update(func(m map[string]*users.User) error { m[FirstRunUser].PasswordHash = hash; return nil })
	if link, err := m.FirstRun("http://gw.test"); err != nil || link != "" {
		t.Fatalf("FirstRun with a usable admin = %q, %v", link, err)
	}
}

func TestLoginThrottle(t *testing.T) {
	_, store, _, h := setup(t)
	hash, err := users.HashPassword("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < DefaultMaxFailures; i++ {
		if rec := post(h, "/api/login", `{"user":"bob","password":"guess"}`, nil); rec.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, rec.Code)
		}
	}
	// Past the limit even the right password waits: guessing learns nothing.
	if rec := post(h, "/api/login", `{"user":"bob","password":"correct-horse"}`, nil); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong passwords: %d, want 429", DefaultMaxFailures, rec.Code)
	}
}
