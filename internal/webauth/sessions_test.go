package webauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tubegate/tubegate/internal/users"
)

// login logs bob in and returns his cookie and CSRF token.
func login(t *testing.T, h http.Handler) (*http.Cookie, string) {
	t.Helper()
	rec := post(h, "/api/login", `{"user":"bob","password":"correct-horse"}`, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	var s sessionReply
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	return sessionCookie(t, rec), s.CSRF
}

func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://gw.test/", nil)
	r.AddCookie(c)
	return r
}

// TestSessionsFollowCredentials: sessions are listed; new credentials, a re-added user and
// RevokeSessions end them (and what Alive reports for their tubes); a password change on the
// page keeps the session it came from.
func TestSessionsFollowCredentials(t *testing.T) {
	dir, store, m, h := setup(t)
	hash, _ := users.HashPassword("correct-horse")
	if err := store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	a, csrfA := login(t, h)
	b, _ := login(t, h)
	aliveA, aliveB := m.aliveOf(withCookie(a)), m.aliveOf(withCookie(b))
	if list, err := ListSessions(dir, store, "bob"); err != nil || len(list) != 2 {
		t.Fatalf("ListSessions: %v %v, want 2", list, err)
	}

	// bob changes his password from session A.
	rec := post(h, "/api/password", `{"current":"correct-horse","new":"staple-battery"}`,
		map[string]string{CSRFHeader: csrfA}, a)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("password change: %d %s", rec.Code, rec.Body)
	}
	a2 := sessionCookie(t, rec)
	if _, ok := m.userOf(withCookie(a2)); !ok || !aliveA() {
		t.Fatal("the session that changed the password ended")
	}
	if _, ok := m.userOf(withCookie(b)); ok || aliveB() {
		t.Fatal("another session survived the password change")
	}
	if _, ok := m.userOf(withCookie(a)); ok {
		t.Fatal("the old cookie of session A still works")
	}

	// An admin's reset ends A too.
	if n, err := RevokeSessions(dir, store, "bob"); err != nil || n != 1 {
		t.Fatalf("RevokeSessions: %d %v, want 1", n, err)
	}
	if _, ok := m.userOf(withCookie(a2)); ok || aliveA() {
		t.Fatal("session A survived RevokeSessions")
	}

	// Delete and add again: the old session does not open the new account.
	c, _ := func() (*http.Cookie, string) {
		rec := post(h, "/api/login", `{"user":"bob","password":"staple-battery"}`, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("login: %d", rec.Code)
		}
		return sessionCookie(t, rec), ""
	}()
	if err := store.Delete("bob"); err != nil {
		t.Fatal(err)
	}
	if err := store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.userOf(withCookie(c)); ok {
		t.Fatal("a session of the deleted bob opens the new bob's account")
	}
}
