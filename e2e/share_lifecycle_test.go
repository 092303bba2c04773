package e2e

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// liveStream is a download through a link that is still streaming.
type liveStream struct {
	ended chan time.Time // gets the moment the body read failed or ended
	resp  *http.Response
}

// startStream GETs /stream through the link and waits until lines arrive.
func startStream(t *testing.T, url string) *liveStream {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, want 200", url, resp.StatusCode)
	}
	s := &liveStream{ended: make(chan time.Time, 1), resp: resp}
	got := make(chan struct{})
	go func() {
		r := bufio.NewReader(resp.Body)
		for n := 0; ; n++ {
			if _, err := r.ReadString('\n'); err != nil {
				s.ended <- time.Now()
				return
			}
			if n == 3 {
				close(got)
			}
		}
	}()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatalf("GET %s: no streamed lines within 10s", url)
	}
	return s
}

// requireCut waits for the stream to break and returns how long after since it did.
func (s *liveStream) requireCut(t *testing.T, since time.Time, what string) time.Duration {
	t.Helper()
	select {
	case at := <-s.ended:
		d := at.Sub(since)
		t.Logf("%s: the streaming download was cut %v later", what, d.Round(time.Millisecond))
		return d
	case <-time.After(waitTimeout):
		t.Fatalf("%s: the streaming download was still running %v later", what, waitTimeout)
		return 0
	}
}

// TestShareLinkRevoke: `gateway link revoke ID` from the command line, against a running gateway,
// makes the link answer 404 and cuts a download that is still streaming and a WebSocket that is
// open, within a second (measured and logged; polled for up to waitTimeout).
func TestShareLinkRevoke(t *testing.T) {
	w := newShareWorld(t)
	link := createLink(t, w.gw, "myapp:80", "--user", "alice")
	other := createLink(t, w.gw, "myapp:80", "--user", "alice")
	stream := startStream(t, link.pathURL(w.gw, "stream"))
	otherStream := startStream(t, other.pathURL(w.gw, "stream"))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+w.gw.httpAddr+"/s/"+link.token+"/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket through the link: %v", err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "alpha: hi" {
		t.Fatalf("WebSocket echo: %q %v", msg, err)
	}
	wsCut := make(chan time.Time, 1)
	go func() {
		_, _, err := ws.Read(context.Background())
		if err != nil {
			wsCut <- time.Now()
		}
	}()

	start := time.Now()
	w.gw.mustCLI(t, "", "link", "revoke", link.id)
	stream.requireCut(t, start, "revoke")
	select {
	case at := <-wsCut:
		t.Logf("revoke: the WebSocket was cut %v later", at.Sub(start).Round(time.Millisecond))
	case <-time.After(waitTimeout):
		t.Fatalf("revoke: the WebSocket through the link was still open %v later", waitTimeout)
	}
	if status, body, _ := httpGet(t, link.url); status != http.StatusNotFound || strings.Contains(body, "alpha") {
		t.Fatalf("GET after revoke: %d %q, want 404", status, body)
	}
	select {
	case <-otherStream.ended:
		t.Fatal("revoking one link cut the download of another link to the same endpoint")
	default:
	}
	if res := w.gw.mustCLI(t, "", "link", "list"); strings.Contains(res.stdout, link.id) || !strings.Contains(res.stdout, other.id) {
		t.Fatalf("link list after revoke: want %s gone and %s kept: %s", link.id, other.id, res.stdout)
	}
	if res := w.gw.cli(t, "", "link", "revoke", link.id); res.code == 0 {
		t.Fatalf("revoking a revoked link succeeded: %s", res)
	}
}

// TestShareLinkExpiry: a link made with --expires 3s works, then answers 404 once it expires, and
// a download still streaming through it is cut within a second of the expiry.
func TestShareLinkExpiry(t *testing.T) {
	w := newShareWorld(t)
	made := time.Now()
	link := createLink(t, w.gw, "myapp:80", "--user", "alice", "--expires", "3s")
	if status, body, _ := httpGet(t, link.url); status != http.StatusOK || body != "hello from alpha" {
		t.Fatalf("GET before expiry: %d %q", status, body)
	}
	stream := startStream(t, link.pathURL(w.gw, "stream"))
	// The store keeps whole seconds: the link ends between 2 and 3 s after it was made.
	expiry := made.Add(3 * time.Second)
	select {
	case at := <-stream.ended:
		if at.Before(made.Add(2 * time.Second)) {
			t.Fatalf("the download was cut %v after the link was made, before it expired", at.Sub(made))
		}
		t.Logf("expiry: the streaming download was cut %v after the link was made (expires 3s)", at.Sub(made).Round(time.Millisecond))
	case <-time.After(time.Until(expiry) + waitTimeout):
		t.Fatalf("the download through the link was still running %v after it expired", waitTimeout)
	}
	if status, body, _ := httpGet(t, link.url); status != http.StatusNotFound || strings.Contains(body, "alpha") {
		t.Fatalf("GET after expiry: %d %q, want 404", status, body)
	}
	if res := w.gw.cli(t, "", "link", "create", "myapp:80", "--user", "alice", "--expires", "30d"); res.code == 0 || !strings.Contains(res.stderr, "maximum") {
		t.Fatalf("link create --expires 30d: want a refusal naming the maximum: %s", res)
	}
}

// TestShareLinkOffline: when the tube behind a link dies, the link answers 502 with a clear page;
// once the owner reconnects and publishes the same name, the same link works again.
func TestShareLinkOffline(t *testing.T) {
	w := newShareWorld(t)
	link := createLink(t, w.gw, "myapp:80", "--user", "alice")
	if status, _, _ := httpGet(t, link.url); status != http.StatusOK {
		t.Fatalf("GET while online: %d", status)
	}
	w.alice.kill()
	body, took := waitStatus(t, link.url, http.StatusBadGateway, 10*time.Second)
	t.Logf("502 %v after the owner's ssh was killed", took.Round(time.Millisecond))
	if !strings.Contains(body, "the tunnel behind this link is offline") {
		t.Fatalf("502 page: want \"the tunnel behind this link is offline\", got:\n%s", body)
	}
	deadline := time.Now().Add(startTimeout)
	for {
		if _, err := w.tryRemoteForward(t, w.aliceSpec(), "alice.tcp"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice could not publish myapp:80 again")
		}
	}
	if status, body, _ := httpGet(t, link.url); status != http.StatusOK || body != "hello from alpha" {
		t.Fatalf("GET after re-publishing: %d %q, want 200 \"hello from alpha\"", status, body)
	}
}

// TestShareLinkRestart: links are kept in the data dir: after a restart the same URL path works
// again once the owner re-publishes, and the list still shows the link.
func TestShareLinkRestart(t *testing.T) {
	w := newShareWorld(t)
	link := createLink(t, w.gw, "myapp:80", "--user", "alice", "--basic-auth", "viewer:open-sesame")
	auth := func(r *http.Request) { r.SetBasicAuth("viewer", "open-sesame") }
	if status, _, _ := httpGet(t, link.url, auth); status != http.StatusOK {
		t.Fatalf("GET before restart: %d", status)
	}
	w.gw.stop(t)
	w.alice.waitExit(t, 15*time.Second)
	w.gw = startGateway(t, w.gw.dataDir, w.gw.opts)
	w.writeConfig(t)
	url := link.pathURL(w.gw, "") // the gateway listens on a new port; the token is the same
	if status, body, _ := httpGet(t, url, auth); status != http.StatusBadGateway {
		t.Fatalf("GET after restart, before re-publishing: %d %q, want 502", status, body)
	}
	w.remoteForward(t, w.aliceSpec(), "alice.ws")
	if status, body, _ := httpGet(t, url, auth); status != http.StatusOK || body != "hello from alpha" {
		t.Fatalf("GET after restart: %d %q, want 200", status, body)
	}
	if status, _, _ := httpGet(t, url); status != http.StatusUnauthorized {
		t.Fatalf("GET after restart without the password: %d, want 401 (guards survive too)", status)
	}
	if res := w.gw.mustCLI(t, "", "link", "list"); !strings.Contains(res.stdout, link.id) {
		t.Fatalf("link list after restart: want %s: %s", link.id, res.stdout)
	}
}
