package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"
)

// TestBrowserTubeRefusals checks who gets a tube over /ssh: a logged-in browser from the
// gateway's own page does, with no SSH credentials; a WebSocket from a foreign Origin is refused,
// even when it carries a valid session cookie, both from Go and from a real page on another origin
// in Chromium; and a WebSocket with neither a cookie nor SSH credentials gets no tube.
func TestBrowserTubeRefusals(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.gw.mustCLI(t, browserPassword+"\n", "user", "add", "bob", "--password-stdin")
	base := "http://" + w.gw.httpAddr
	cookie := sessionCookie(t, w.gw, "bob", browserPassword)

	t.Run("cookie from the own origin gets a tube", func(t *testing.T) {
		hdr := http.Header{"Cookie": {cookie}, "Origin": {base}}
		if err := sshOverWebSocket(t, w.gw, hdr); err != nil {
			t.Fatalf("a logged-in browser's WebSocket got no tube: %v", err)
		}
	})
	t.Run("foreign origin refused", func(t *testing.T) {
		for _, hdr := range []http.Header{
			{"Origin": {"http://evil.example"}},
			{"Origin": {"http://evil.example"}, "Cookie": {cookie}},
		} {
			status := wsStatus(t, w.gw, hdr)
			if status != http.StatusForbidden {
				t.Fatalf("WebSocket with %v: status %d, want 403", hdr, status)
			}
		}
	})
	t.Run("no cookie and no credentials gets no tube", func(t *testing.T) {
		err := sshOverWebSocket(t, w.gw, http.Header{"Origin": {base}})
		if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Fatalf("SSH over /ssh with no cookie and no credentials: %v, want an authentication failure", err)
		}
	})
	t.Run("foreign page in chromium refused", func(t *testing.T) {
		b := startBrowser(t, base)
		b.open("/")
		b.fill("login-user", "bob")
		b.fill("login-password", browserPassword)
		b.click("login-submit")
		b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)
		// Another port is another origin but the same site, so the browser sends the
		// SameSite=Strict cookie along: only the Origin check stands between this page and a tube.
		evil := startHTTP(t, fmt.Sprintf(`<!doctype html><title>evil</title><script>
const ws = new WebSocket("ws://%s/ssh");
ws.binaryType = "arraybuffer";
ws.onopen = () => { document.title = "opened"; };
ws.onerror = () => { if (document.title !== "opened") document.title = "refused"; };
</script>`, w.gw.httpAddr))
		b.open(fmt.Sprintf("http://127.0.0.1:%d/", evil))
		title := b.waitJS("the foreign page's WebSocket to settle", `document.title !== "evil" && document.title`)
		if string(title) != `"refused"` {
			t.Fatalf("a WebSocket from a foreign page: %s, want refused", title)
		}
		if lines := w.gw.proc.out.linesMatching("foreign origin"); len(lines) == 0 {
			t.Fatalf("the gateway logged no refusal of the foreign origin\n%s", w.gw.proc.out)
		}
	})
}

// sessionCookie logs in through the API as a browser on the gateway's own page would and returns the
// session cookie as a Cookie header value.
func sessionCookie(t *testing.T, g *gateway, user, password string) string {
	t.Helper()
	base := g.scheme() + "://" + g.httpAddr
	body := fmt.Sprintf(`{"user":%q,"password":%q}`, user, password)
	req, err := http.NewRequest(http.MethodPost, base+"/api/login", strings.NewReader(body))
	if err != nil {
		t.Fatalf("login request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := g.httpClient(t).Do(req)
	if err != nil {
		t.Fatalf("POST /api/login: %v", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/login as %s: %s %s", user, resp.Status, msg)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "tubegate_session" {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("session cookie is not HttpOnly and SameSite=Strict: %+v", c)
			}
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("POST /api/login set no tubegate_session cookie: %v", resp.Header["Set-Cookie"])
	return ""
}

// wsStatus dials /ssh with hdr and returns the HTTP status of the answer (101 when upgraded).
func wsStatus(t *testing.T, g *gateway, hdr http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, g.wsURL(), &websocket.DialOptions{HTTPClient: g.httpClient(t), HTTPHeader: hdr})
	if err == nil {
		c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("WebSocket dial %s: %v", g.wsURL(), err)
	}
	return resp.StatusCode
}

// sshOverWebSocket dials /ssh with hdr and runs an SSH handshake offering no credentials at all
// (only the "none" method). It returns nil when the gateway accepted the tube.
func sshOverWebSocket(t *testing.T, g *gateway, hdr http.Header) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, g.wsURL(), &websocket.DialOptions{HTTPClient: g.httpClient(t), HTTPHeader: hdr})
	if err != nil {
		return fmt.Errorf("WebSocket: %w", err)
	}
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	conn, chans, reqs, err := ssh.NewClientConn(nc, "gw", &ssh.ClientConfig{
		User:            "bob",
		HostKeyCallback: func(string, net.Addr, ssh.PublicKey) error { return nil }, // not under test
	})
	if err != nil {
		return err
	}
	go ssh.DiscardRequests(reqs)
	go func() {
		for nc := range chans {
			nc.Reject(ssh.Prohibited, "test")
		}
	}()
	defer conn.Close()
	// The tube works: the gateway answers a session with its status text.
	client := ssh.NewClient(conn, chans, reqs)
	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("session on an accepted tube: %w", err)
	}
	var out bytes.Buffer
	sess.Stdout = &out
	if err := sess.Run(""); err != nil && !errors.As(err, new(*ssh.ExitError)) {
		return fmt.Errorf("status session: %w", err)
	}
	if !strings.Contains(out.String(), "bob") {
		return fmt.Errorf("the gateway's status does not name bob: %q", out.String())
	}
	return nil
}
