package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// webClient is a logged-in browser stand-in: a cookie jar with the gateway's session cookie, and
// the session's CSRF token.
type webClient struct {
	base   string
	client *http.Client
	csrf   string
}

// webLogin logs user in with password through POST /api/login and reads the CSRF token from
// GET /api/session.
func webLogin(t *testing.T, g *gateway, user, password string) *webClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &webClient{base: "http://" + g.httpAddr, client: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	status, body := c.call(t, "POST", "/api/login", map[string]string{"user": user, "password": password})
	if status != http.StatusOK {
		t.Fatalf("POST /api/login as %s: %d %s", user, status, body)
	}
	status, body = c.call(t, "GET", "/api/session", nil)
	var s struct{ CSRF string }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil || s.CSRF == "" {
		t.Fatalf("GET /api/session: %d %s", status, body)
	}
	c.csrf = s.CSRF
	return c
}

// call sends a JSON request (body nil for none) with the CSRF token and returns status and body.
func (c *webClient) call(t *testing.T, method, path string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestShareLinkAPI: the page's JSON API with a real web login: create (URL shown once), list
// (no secret URL), delete; CSRF required; a login-required link opens only for a logged-in viewer,
// and the gateway's session cookie never reaches the tunnelled service.
func TestShareLinkAPI(t *testing.T) {
	w := newShareWorld(t)
	w.gw.mustCLI(t, "alice-web-password\n", "user", "set", "alice", "--password-stdin")
	web := webLogin(t, w.gw, "alice", "alice-web-password")

	status, body := web.call(t, "POST", "/api/links", map[string]any{"endpoint": "myapp:80", "expires": "2h"})
	if status != http.StatusCreated {
		t.Fatalf("POST /api/links: %d %s", status, body)
	}
	var made struct{ ID, URL, Endpoint string }
	if err := json.Unmarshal([]byte(body), &made); err != nil || made.Endpoint != "myapp:80" || !strings.HasPrefix(made.URL, web.base+"/s/") {
		t.Fatalf("POST /api/links answered %s (%v)", body, err)
	}
	if status, body, _ := httpGet(t, made.URL); status != http.StatusOK || body != "hello from alpha" {
		t.Fatalf("GET the new link: %d %q", status, body)
	}
	status, body = web.call(t, "GET", "/api/links", nil)
	var list []struct{ ID, URL, Endpoint string }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list) != 1 || list[0].ID != made.ID || list[0].URL != "" {
		t.Fatalf("GET /api/links: %d %s, want the one link without its secret URL", status, body)
	}

	t.Run("CSRF required", func(t *testing.T) {
		noCSRF := *web
		noCSRF.csrf = ""
		if status, body := noCSRF.call(t, "POST", "/api/links", map[string]any{"endpoint": "myapp:80"}); status != http.StatusForbidden {
			t.Fatalf("POST without CSRF token: %d %s, want 403", status, body)
		}
		if status, _ := noCSRF.call(t, "DELETE", "/api/links/"+made.ID, nil); status != http.StatusForbidden {
			t.Fatalf("DELETE without CSRF token: %d, want 403", status)
		}
	})

	t.Run("login required", func(t *testing.T) {
		status, body := web.call(t, "POST", "/api/links", map[string]any{"endpoint": "myapp:80", "login_required": true})
		var l struct{ URL string }
		if status != http.StatusCreated || json.Unmarshal([]byte(body), &l) != nil {
			t.Fatalf("POST login_required link: %d %s", status, body)
		}
		if status, body, _ := httpGet(t, l.URL); status != http.StatusUnauthorized || strings.Contains(body, "alpha") {
			t.Fatalf("not logged in: %d %q, want 401", status, body)
		}
		status, body = web.call(t, "GET", strings.TrimPrefix(l.URL, web.base)+"headers", nil)
		var seen seenRequest
		if status != http.StatusOK || json.Unmarshal([]byte(body), &seen) != nil || seen.Backend != "alpha" {
			t.Fatalf("logged in: %d %s", status, body)
		}
		if c := seen.Header.Get("Cookie"); strings.Contains(c, "tubegate") {
			t.Fatalf("the tunnelled service got the gateway's cookie: %q", c)
		}
		if h := seen.Header.Get("X-CSRF-Token"); h != "" {
			t.Fatalf("the tunnelled service got the gateway's CSRF token: %q", h)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if status, body := web.call(t, "DELETE", "/api/links/"+made.ID, nil); status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", status, body)
		}
		waitStatus(t, made.URL, http.StatusNotFound, waitTimeout)
	})

	t.Run("not logged in", func(t *testing.T) {
		if status, _, _ := httpGet(t, web.base+"/api/links"); status != http.StatusUnauthorized {
			t.Fatalf("GET /api/links without a session: %d, want 401", status)
		}
	})
}
