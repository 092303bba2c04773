package shareproxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tubegate/tubegate/internal/sharelink"
)

func TestProxyNoStoreAndRevokedPage(t *testing.T) {
	g := newRig(t, "")
	g.publish(t, g.alice, "myapp", 80)
	l, tok := g.create(t, sharelink.Params{User: "alice", Endpoint: "myapp:80"})
	base := g.srv.URL + "/s/" + tok + "/"

	resp, _ := get(t, base)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET through the link: %d, Cache-Control %q, want 200 and no-store", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if err := g.svc.Store.Revoke(l.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	html := func(r *http.Request) { r.Header.Set("Accept", "text/html,application/xhtml+xml") }
	resp, body := get(t, base, html)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "This link was revoked") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("revoked link, browser: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = get(t, base)
	if resp.StatusCode != http.StatusNotFound || body != "this link was revoked\n" {
		t.Fatalf("revoked link, curl: %d %q", resp.StatusCode, body)
	}
	// A token that never was a link is still just not found.
	resp, _ = get(t, g.srv.URL+"/s/"+strings.Repeat("a", len(tok))+"/", html)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown token: %d, want 404", resp.StatusCode)
	}
}
