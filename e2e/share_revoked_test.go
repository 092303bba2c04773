package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrowserRevokedLinkNotCached: a page seen through a share link must not be shown again from
// Chromium's cache once the link is revoked. The service sends a Last-Modified a year old and no
// Cache-Control, which a browser may cache for weeks on heuristics; the gateway adds
// Cache-Control: no-store, and the revoked link's page says "This link was revoked".
func TestBrowserRevokedLinkNotCached(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice")
	const body = "secret-dashboard-7731"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Header().Set("Last-Modified", time.Now().AddDate(-1, 0, 0).UTC().Format(http.TimeFormat))
		io.WriteString(rw, "<!doctype html><title>app</title><p>"+body+"</p>")
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	w.remoteForward(t, fmt.Sprintf("app.alice:80:%s", l.Addr()), "alice.ws")
	link := createLink(t, w.gw, "app.alice:80", "--user", "alice")

	b := startBrowser(t, "http://"+w.gw.httpAddr)
	b.open(link.url)
	b.waitJS("the shared page", fmt.Sprintf(`document.body && document.body.innerText.includes(%q)`, body))
	w.gw.mustCLI(t, "", "link", "revoke", link.id)
	b.open("about:blank")
	b.open(link.url) // a plain navigation, as following a bookmark: the cache may answer
	text := b.waitJS("the page after revoking", fmt.Sprintf(`document.body && (document.body.innerText.includes(%q) || document.body.innerText.includes("This link was revoked")) && document.body.innerText`, body))
	if strings.Contains(string(text), body) {
		t.Fatalf("after the link was revoked Chromium still shows the shared page (from its cache): %s", text)
	}
	t.Logf("after revoking: %s", text)
}
