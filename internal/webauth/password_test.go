package webauth

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tubegate/tubegate/internal/users"
)

// loginAs logs bob in and returns his cookie and CSRF token.
func loginAs(t *testing.T, h http.Handler, user, pw string) (*http.Cookie, string) {
	t.Helper()
	rec := post(h, "/api/login", `{"user":"`+user+`","password":"`+pw+`"}`, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, rec.Code, rec.Body)
	}
	var s sessionReply
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if !s.HasPassword {
		t.Errorf("session of a user with a password says has_password false")
	}
	return sessionCookie(t, rec), s.CSRF
}

func TestChangeOwnPassword(t *testing.T) {
	_, store, _, h := setup(t)
	hash, _ := users.HashPassword("old-password")
	if err := store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	cookie, csrf := loginAs(t, h, "bob", "old-password")
	withCSRF := map[string]string{CSRFHeader: csrf}
	cases := []struct {
		body string
		hdr  map[string]string
		want int
	}{
		{`{"current":"old-password","new":"new-password"}`, nil, http.StatusForbidden}, // no CSRF token
		{`{"current":"wrong","new":"new-password"}`, withCSRF, http.StatusUnauthorized},
		{`{"current":"old-password","new":"short"}`, withCSRF, http.StatusBadRequest},
		{`{"current":"old-password","new":"new-password"}`, withCSRF, http.StatusNoContent},
	}
	for _, c := range cases {
		if rec := post(h, "/api/password", c.body, c.hdr, cookie); rec.Code != c.want {
			t.Errorf("POST /api/password %s: %d %s, want %d", c.body, rec.Code, rec.Body, c.want)
		}
	}
	if _, err := store.CheckPassword("bob", "new-password"); err != nil {
		t.Errorf("the new password does not work: %v", err)
	}
	if _, err := store.CheckPassword("bob", "old-password"); err == nil {
		t.Error("the old password still works")
	}
}

func TestFirstRunAdminSetsAPassword(t *testing.T) {
	_, store, m, h := setup(t)
	link, err := m.FirstRun("http://gw.test")
	if err != nil || link == "" {
		t.Fatalf("FirstRun: %q, %v", link, err)
	}
	token := link[len("http://gw.test/login/first#"):]
	rec := post(h, "/api/login/first", `{"token":"`+token+`"}`, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("first-run login: %d %s", rec.Code, rec.Body)
	}
	var s sessionReply
	json.Unmarshal(rec.Body.Bytes(), &s)
	if s.HasPassword {
		t.Error("the first-run admin's session says has_password true")
	}
	// No current password to give: there is none.
	rec = post(h, "/api/password", `{"new":"admin-password"}`, map[string]string{CSRFHeader: s.CSRF}, sessionCookie(t, rec))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("set the first password: %d %s", rec.Code, rec.Body)
	}
	if _, err := store.CheckPassword(FirstRunUser, "admin-password"); err != nil {
		t.Errorf("admin cannot log in with the password just set: %v", err)
	}
}
