package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// shareWorld is a world where alice publishes the virtual name myapp:80 (backend "alpha") and bob
// publishes the port 127.0.0.1:BOBPORT (backend "beta"), both with real `ssh -R`.
type shareWorld struct {
	*world
	alpha, beta *shareBackend
	alice, bob  *proc // the ssh -R processes
	bobKey      string
}

func newShareWorld(t *testing.T) *shareWorld {
	t.Helper()
	w := &shareWorld{world: newWorld(t, gatewayOpts{sshListen: true})}
	w.addUser(t, "alice", "--permit-name", "myapp")
	w.addUser(t, "bob")
	w.alpha = startShareBackend(t, "alpha")
	w.beta = startShareBackend(t, "beta")
	w.alice = w.remoteForward(t, w.aliceSpec(), "alice.wsraw") // raw: TestShareLinkOffline kills it
	bobPort := freePort(t)
	w.bob = w.remoteForward(t, fmt.Sprintf("127.0.0.1:%d:localhost:%d", bobPort, w.beta.port), "bob.tcp")
	w.bobKey = fmt.Sprintf("127.0.0.1:%d", bobPort)
	return w
}

func (w *shareWorld) aliceSpec() string { return fmt.Sprintf("myapp:80:localhost:%d", w.alpha.port) }

// TestShareLinkHTTP: links made from the command line and from an SSH session reach the service
// behind `ssh -R` through the reverse proxy: GET, a 10 MiB POST with its sha256 checked, a
// WebSocket echo, redirects kept under the link, X-Forwarded-* set, the gateway's cookies and
// CSRF header never forwarded nor settable; forged tokens and links to someone else's endpoint
// answer 404; basic auth and login-required guards; TCP links refused for loopback listeners.
func TestShareLinkHTTP(t *testing.T) {
	w := newShareWorld(t)
	link := createLink(t, w.gw, "myapp:80", "--user", "alice", "--expires", "2h")
	t.Logf("link %s: %s", link.id, link.url)

	t.Run("GET", func(t *testing.T) {
		status, body, _ := httpGet(t, link.url)
		if status != http.StatusOK || body != "hello from alpha" {
			t.Fatalf("GET %s: %d %q, want 200 \"hello from alpha\"", link.url, status, body)
		}
		status, _, hdr := httpGet(t, strings.TrimSuffix(link.url, "/"))
		if status != http.StatusPermanentRedirect || hdr.Get("Location") != "/s/"+link.token+"/" {
			t.Fatalf("GET without the trailing slash: %d Location %q, want 308 to /s/TOKEN/", status, hdr.Get("Location"))
		}
	})

	t.Run("headers", func(t *testing.T) {
		status, body, _ := httpGet(t, link.pathURL(w.gw, "headers?a=b%2Fc"), func(r *http.Request) {
			r.Header.Set("Cookie", "tubegate_session=secret; app=keep")
			r.Header.Set("X-CSRF-Token", "csrf-secret")
			r.Header.Set("X-Forwarded-For", "6.6.6.6")
		})
		if status != http.StatusOK {
			t.Fatalf("GET headers: %d %s", status, body)
		}
		var seen seenRequest
		if err := json.Unmarshal([]byte(body), &seen); err != nil {
			t.Fatalf("backend answer %q: %v", body, err)
		}
		t.Logf("the backend saw: %+v", seen)
		checks := []struct{ what, got, want string }{
			{"path (prefix stripped)", seen.Path, "/headers"},
			{"query", seen.Query, "a=b%2Fc"},
			{"Host", seen.Host, w.gw.httpAddr},
			{"X-Forwarded-For (the viewer, not a spoofed value)", seen.Header.Get("X-Forwarded-For"), "127.0.0.1"},
			{"X-Forwarded-Proto", seen.Header.Get("X-Forwarded-Proto"), "http"},
			{"X-Forwarded-Host", seen.Header.Get("X-Forwarded-Host"), w.gw.httpAddr},
			{"X-Forwarded-Prefix", seen.Header.Get("X-Forwarded-Prefix"), "/s/" + link.token},
			{"Cookie (the gateway's removed, the app's kept)", seen.Header.Get("Cookie"), "app=keep"},
			{"X-CSRF-Token", seen.Header.Get("X-CSRF-Token"), ""},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: backend saw %q, want %q", c.what, c.got, c.want)
			}
		}
	})

	t.Run("POST 10 MiB", func(t *testing.T) {
		const n = 10 << 20
		data := make([]byte, n)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		start := time.Now()
		resp, err := noRedirectClient().Post(link.pathURL(w.gw, "upload"), "application/octet-stream", bytes.NewReader(data))
		if err != nil {
			t.Fatalf("POST 10 MiB: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		want := fmt.Sprintf("%d %s", n, hex.EncodeToString(sum[:]))
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Fatalf("POST 10 MiB: %d %q, want 200 %q", resp.StatusCode, body, want)
		}
		t.Logf("10 MiB through the link in %v, sha256 matches", time.Since(start).Round(time.Millisecond))
	})

	t.Run("WebSocket echo", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		wsURL := "ws://" + w.gw.httpAddr + "/s/" + link.token + "/ws"
		c, _, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			t.Fatalf("WebSocket %s: %v", wsURL, err)
		}
		defer c.CloseNow()
		for i := 0; i < 3; i++ {
			msg := fmt.Sprintf("ping %d", i)
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatalf("write: %v", err)
			}
			_, got, err := c.Read(ctx)
			if err != nil || string(got) != "alpha: "+msg {
				t.Fatalf("read: %q %v, want %q", got, err, "alpha: "+msg)
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
	})

	t.Run("redirects stay under the link", func(t *testing.T) {
		for path, want := range map[string]string{
			"redirect":     "/s/" + link.token + "/target?x=1",
			"redirect-abs": "http://" + w.gw.httpAddr + "/s/" + link.token + "/target",
		} {
			status, _, hdr := httpGet(t, link.pathURL(w.gw, path))
			if status != http.StatusFound || hdr.Get("Location") != want {
				t.Errorf("GET %s: %d Location %q, want 302 %q", path, status, hdr.Get("Location"), want)
			}
		}
	})

	t.Run("cookies", func(t *testing.T) {
		status, _, hdr := httpGet(t, link.pathURL(w.gw, "cookie"))
		got := hdr.Values("Set-Cookie")
		want := []string{"app=1; Path=/s/" + link.token + "/"}
		if status != http.StatusOK || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("Set-Cookie from the tunnelled service: %d %q, want %q (the gateway's cookie dropped, no Domain, path under the link)", status, got, want)
		}
	})

	t.Run("link made over SSH", func(t *testing.T) {
		res := w.sshRun(t, "alice.ws", "link", "create", "myapp:80", "--expires", "1h")
		if res.code != 0 {
			t.Fatalf("ssh alice link create: %s", res)
		}
		l := parseCreated(t, res.stdout)
		if !strings.HasPrefix(l.url, "http://"+w.gw.httpAddr+"/s/") {
			t.Errorf("ssh link create printed %q, want a URL on the gateway", l.url)
		}
		if status, body, _ := httpGet(t, l.url); status != http.StatusOK || body != "hello from alpha" {
			t.Fatalf("GET %s: %d %q", l.url, status, body)
		}
		res = w.sshRun(t, "alice.ws", "link", "list")
		if res.code != 0 || !strings.Contains(res.stdout, l.id) || !strings.Contains(res.stdout, link.id) {
			t.Fatalf("ssh alice link list: want %s and %s: %s", l.id, link.id, res)
		}
		if res := w.sshRun(t, "bob.ws", "link", "revoke", l.id); res.code == 0 {
			t.Fatalf("bob revoked alice's link over SSH: %s", res)
		}
		if res := w.sshRun(t, "bob.ws", "link", "create", "myapp:80"); res.code == 0 || !strings.Contains(res.stderr, "you publish no endpoint") {
			t.Fatalf("bob made a link for alice's endpoint over SSH: want a refusal: %s", res)
		}
		if res := w.sshRun(t, "alice.ws", "link", "revoke", l.id); res.code != 0 {
			t.Fatalf("ssh alice link revoke: %s", res)
		}
		waitStatus(t, l.url, http.StatusNotFound, waitTimeout)
	})

	t.Run("forged and foreign tokens answer 404", func(t *testing.T) {
		forged := []string{
			"http://" + w.gw.httpAddr + "/s/" + strings.Repeat("a", 32) + "/",
			"http://" + w.gw.httpAddr + "/s/" + link.token[:31] + otherChar(link.token[31]) + "/",
			"http://" + w.gw.httpAddr + "/s/" + strings.ToUpper(link.token) + "/",
			"http://" + w.gw.httpAddr + "/s/" + link.id + "/",
			"http://" + w.gw.httpAddr + "/s/../healthz",
		}
		for _, u := range forged {
			if status, body, _ := httpGet(t, u); status != http.StatusNotFound || strings.Contains(body, "alpha") {
				t.Errorf("GET %s: %d %q, want 404", u, status, body)
			}
		}
		// bob's link reaches bob's endpoint, never alice's...
		bobs := createLink(t, w.gw, w.bobKey, "--user", "bob")
		if status, body, _ := httpGet(t, bobs.url); status != http.StatusOK || body != "hello from beta" {
			t.Fatalf("bob's link: %d %q, want bob's backend", status, body)
		}
		// ...and a link bob makes offline for alice's endpoint leads nowhere.
		stolen := createLink(t, w.gw, "myapp:80", "--user", "bob")
		if status, body, _ := httpGet(t, stolen.url); status != http.StatusNotFound || strings.Contains(body, "alpha") {
			t.Fatalf("bob's link to alice's endpoint: %d %q, want 404", status, body)
		}
	})

	t.Run("basic auth", func(t *testing.T) {
		l := createLink(t, w.gw, "myapp:80", "--user", "alice", "--basic-auth", "viewer:open-sesame")
		status, _, hdr := httpGet(t, l.url)
		if status != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("no credentials: %d %q, want 401 with a Basic challenge", status, hdr.Get("WWW-Authenticate"))
		}
		if status, _, _ := httpGet(t, l.url, func(r *http.Request) { r.SetBasicAuth("viewer", "wrong-password") }); status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d, want 401", status)
		}
		status, body, _ := httpGet(t, l.pathURL(w.gw, "headers"), func(r *http.Request) { r.SetBasicAuth("viewer", "open-sesame") })
		if status != http.StatusOK || strings.Contains(body, "Authorization") {
			t.Fatalf("right password: %d %s, want 200 and no Authorization header at the service", status, body)
		}
	})

	t.Run("login required", func(t *testing.T) {
		l := createLink(t, w.gw, "myapp:80", "--user", "alice", "--login-required")
		if status, body, _ := httpGet(t, l.url); status != http.StatusUnauthorized || strings.Contains(body, "alpha") {
			t.Fatalf("not logged in: %d %q, want 401", status, body)
		}
	})

	t.Run("TCP links only for public listeners", func(t *testing.T) {
		for _, ep := range []string{w.bobKey, "myapp:80"} {
			res := w.gw.cli(t, "", "link", "create", ep, "--user", "bob", "--tcp")
			if res.code == 0 || !strings.Contains(res.stderr, "no TCP link") {
				t.Errorf("link create %s --tcp: want a clear refusal: %s", ep, res)
			}
		}
	})

	t.Run("list", func(t *testing.T) {
		res := w.gw.mustCLI(t, "", "link", "list")
		if !strings.Contains(res.stdout, link.id) || strings.Contains(res.stdout, link.token) {
			t.Fatalf("link list: want the id %s and never the token: %s", link.id, res)
		}
	})
}

// otherChar is a base32 character other than c: a one-character forgery
// of a token (a fixed "b" was the token itself when it ended in b).
func otherChar(c byte) string {
	if c == 'b' {
		return "c"
	}
	return "b"
}
