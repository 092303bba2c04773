package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// adminRoutes are every route of the admin API, with a body for the ones
// that take one.
var adminRoutes = []struct {
	method, path string
	body         any
}{
	{"GET", "/api/admin/users", nil},
	{"POST", "/api/admin/users", map[string]any{"name": "mallory", "password": "mallory-password-1", "admin": true}},
	{"PATCH", "/api/admin/users/bob", map[string]any{"admin": true}},
	{"DELETE", "/api/admin/users/root", nil},
	{"GET", "/api/admin/tubes", nil},
	{"DELETE", "/api/admin/tubes/t1", nil},
	{"GET", "/api/admin/links", nil},
	{"DELETE", "/api/admin/links/LINK", nil},
	{"GET", "/api/admin/audit", nil},
}

// TestRedteamAdminAPI: bob, logged in but no administrator, calls every
// admin route with his valid session and CSRF token (make himself admin,
// add an admin, delete root, drop root's tube, revoke root's link, read
// the users, tubes, links and audit log); root's own session is used from
// a foreign origin and without its CSRF token. Every call must be refused
// with 403 and change nothing.
func TestRedteamAdminAPI(t *testing.T) {
	w := newAdminWorld(t)
	g := w.g
	root := webLogin(t, g, "root", rootPassword)
	bob := webLogin(t, g, "bob", bobPassword)
	tube, done := w.bobTube(t)
	link := createLink(t, g, publishHTTP(t, tube, "ok"), "--user", "bob")

	refused, total := 0, 0
	var wrong []string
	try := func(who string, c *webClient, method, path string, body any, mod func(*http.Request)) {
		total++
		status := callWith(t, c, method, strings.Replace(path, "LINK", link.id, 1), body, mod)
		if status == http.StatusForbidden {
			refused++
		} else {
			wrong = append(wrong, fmt.Sprintf("%s %s %s: %d", who, method, path, status))
		}
	}
	for _, r := range adminRoutes {
		try("bob", bob, r.method, r.path, r.body, nil)
	}
	for _, r := range adminRoutes {
		if r.method == "GET" {
			continue
		}
		try("root cross-origin", root, r.method, r.path, r.body, func(req *http.Request) {
			req.Header.Set("Origin", "http://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		})
		try("root without CSRF", root, r.method, r.path, r.body, func(req *http.Request) { req.Header.Del("X-CSRF-Token") })
	}
	out := g.mustCLI(t, "", "user", "list").stdout
	var changed []string
	if strings.Contains(out, "mallory") {
		changed = append(changed, "mallory added")
	}
	if !strings.Contains(out, "\nroot ") {
		changed = append(changed, "root deleted")
	}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "bob" && f[1] != "false" {
			changed = append(changed, "bob made admin")
		}
	}
	select {
	case <-done:
		changed = append(changed, "bob's tube closed")
	default:
	}
	if !strings.Contains(g.mustCLI(t, "", "link", "list").stdout, link.id) {
		changed = append(changed, "the link revoked")
	}
	redteam(t, "a non-admin session calls every /api/admin route; an admin's calls cross-origin or without CSRF",
		"403 each, nothing changed", fmt.Sprintf("%d of %d refused with 403; changed: %v", refused, total, orNothing(changed)))
	if refused != total || len(changed) > 0 {
		t.Fatalf("not refused: %v; changed: %v", wrong, changed)
	}
	// The refusals are logged, the admin's own calls work.
	g.proc.mustWaitLine(t, reAdminRefused, startTimeout)
	if status, body := root.call(t, "GET", "/api/admin/users", nil); status != 200 || !strings.Contains(body, `"bob"`) {
		t.Fatalf("root's own GET /api/admin/users: %d %s", status, body)
	}
}

func orNothing(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

var reAdminRefused = regexp.MustCompile(`msg="admin call refused: not an administrator".*user=bob`)

// callWith is c.call with mod applied to the request last; it returns the
// status.
func callWith(t *testing.T, c *webClient, method, path string, body any, mod func(*http.Request)) int {
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
	req.Header.Set("X-CSRF-Token", c.csrf)
	if mod != nil {
		mod(req)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
