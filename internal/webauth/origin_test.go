package webauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tubegate/tubegate/internal/edge"
	"github.com/tubegate/tubegate/internal/users"
)

func TestBodyLimit(t *testing.T) {
	_, _, _, h := setup(t)
	big := `{"user":"bob","password":"` + strings.Repeat("x", maxBody) + `"}`
	if rec := post(h, "/api/login", big, nil); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a %d-byte login body: %d %s, want 413", len(big), rec.Code, rec.Body)
	}
	if rec := post(h, "/api/login", `{"user":`, nil); rec.Code != http.StatusBadRequest || strings.Contains(rec.Body.String(), "tcp") {
		t.Fatalf("a cut body: %d %s, want 400 without connection details", rec.Code, rec.Body)
	}
}

func TestOriginScheme(t *testing.T) {
	_, _, _, h := setup(t)
	// gw.test over http, and a page on https://gw.test (another origin) posting to it.
	rec := post(h, "/api/login", `{"user":"bob","password":"x"}`, map[string]string{"Origin": "https://gw.test"})
	if rec.Code != http.StatusForbidden {
		t.Fatalf("Origin with the host but another scheme: %d, want 403", rec.Code)
	}
}

// TestSecureCookieBehindTLSProxy: with --url https://..., a request that
// reached the gateway as plain HTTP from a TLS-terminating proxy still
// gets a Secure cookie.
func TestSecureCookieBehindTLSProxy(t *testing.T) {
	_, store, _, h := setup(t)
	hash, err := users.HashPassword("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("https://gw.test")
	h = edge.New(edge.Config{PublicURL: u}).Handler(h)
	rec := post(h, "/api/login", `{"user":"bob","password":"correct-horse"}`, map[string]string{"Origin": "https://gw.test"})
	if rec.Code != http.StatusOK {
		t.Fatalf("login from https://gw.test: %d %s", rec.Code, rec.Body)
	}
	if c := sessionCookie(t, rec); !c.Secure {
		t.Fatalf("session cookie without Secure behind --url https: %+v", c)
	}
}
