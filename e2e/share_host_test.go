package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestShareLinkHostName: with --share-domain (here through GATEWAY_SHARE_DOMAIN, which the CLI
// reads too) a link is served at TOKEN.DOMAIN and, with --name, at NAME.DOMAIN, when the request
// carries that Host header; nothing else of the gateway is served under the share domain; the
// tunnelled service can set no cookie for other hosts.
func TestShareLinkHostName(t *testing.T) {
	const domain = "share.test"
	t.Setenv("GATEWAY_SHARE_DOMAIN", domain)
	t.Setenv("GATEWAY_URL", "http://gw.test") // a share domain needs the page's own address
	w := newShareWorld(t)
	link := createLink(t, w.gw, "myapp:80", "--user", "alice")
	if want := "http://" + link.token + "." + domain + "/"; link.url != want {
		t.Fatalf("link create printed %q, want the share-domain URL %q first", link.url, want)
	}
	named := createLink(t, w.gw, "myapp:80", "--user", "alice", "--name", "demo")
	gw := "http://" + w.gw.httpAddr
	host := func(h string) func(*http.Request) { return func(r *http.Request) { r.Host = h } }

	for _, h := range []string{link.token + "." + domain, "demo." + domain, "DEMO." + strings.ToUpper(domain) + ":8080"} {
		if status, body, _ := httpGet(t, gw+"/", host(h)); status != http.StatusOK || body != "hello from alpha" {
			t.Errorf("GET / with Host %s: %d %q, want 200 \"hello from alpha\"", h, status, body)
		}
	}
	t.Run("path not prefixed, redirects and cookies as the host's own", func(t *testing.T) {
		status, _, hdr := httpGet(t, gw+"/redirect", host("demo."+domain))
		if status != http.StatusFound || hdr.Get("Location") != "/target?x=1" {
			t.Errorf("redirect: %d %q, want 302 /target?x=1", status, hdr.Get("Location"))
		}
		_, _, hdr = httpGet(t, gw+"/cookie", host("demo."+domain))
		if got := strings.Join(hdr.Values("Set-Cookie"), "|"); got != "app=1; Path=/" {
			t.Errorf("Set-Cookie: %q, want only \"app=1; Path=/\" (no gateway cookie, no Domain)", got)
		}
	})
	t.Run("the gateway itself is not under the share domain", func(t *testing.T) {
		for _, h := range []string{domain, "nope." + domain, "a.b." + domain, named.id + "." + domain} {
			if status, body, _ := httpGet(t, gw+"/healthz", host(h)); status != http.StatusNotFound || body == "ok\n" {
				t.Errorf("GET /healthz with Host %s: %d %q, want 404", h, status, body)
			}
		}
		// /healthz under a link's host goes to the tunnelled service, not the gateway.
		if status, body, _ := httpGet(t, gw+"/healthz", host("demo."+domain)); body == "ok\n" {
			t.Errorf("GET /healthz with a link's Host answered the gateway's own %d %q", status, body)
		}
		if status, body, _ := httpGet(t, gw+"/healthz"); status != http.StatusOK || body != "ok\n" {
			t.Errorf("GET /healthz on the gateway's own host: %d %q", status, body)
		}
	})
	t.Run("the /s/ form redirects to the share domain", func(t *testing.T) {
		status, _, hdr := httpGet(t, link.pathURL(w.gw, "headers?a=1"))
		if want := "http://" + link.token + "." + domain + "/headers?a=1"; status != http.StatusTemporaryRedirect || hdr.Get("Location") != want {
			t.Errorf("GET /s/TOKEN/headers: %d %q, want 307 to %q", status, hdr.Get("Location"), want)
		}
	})
	t.Run("WebSocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws://"+w.gw.httpAddr+"/ws", &websocket.DialOptions{Host: "demo." + domain})
		if err != nil {
			t.Fatalf("WebSocket with Host demo.%s: %v", domain, err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.Read(ctx); err != nil || string(msg) != "alpha: hi" {
			t.Fatalf("echo: %q %v", msg, err)
		}
	})
	t.Run("revoked name answers 404", func(t *testing.T) {
		w.gw.mustCLI(t, "", "link", "revoke", named.id)
		waitStatus(t, gw+"/", http.StatusNotFound, waitTimeout, host("demo."+domain))
		if status, _, _ := httpGet(t, gw+"/", host(link.token+"."+domain)); status != http.StatusOK {
			t.Errorf("the other link: %d, want 200", status)
		}
	})
}
