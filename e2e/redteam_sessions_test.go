package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"
)

// sessionGateway is a gateway with the user alice (password "alice-password-1", and a key in
// keyFile) for the web-session attacks.
func sessionGateway(t *testing.T) (g *gateway, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	g = startGateway(t, filepath.Join(dir, "data"), gatewayOpts{})
	keyFile = filepath.Join(dir, "alice.pub")
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := ssh.NewPublicKey(pub)
	if err := os.WriteFile(keyFile, ssh.MarshalAuthorizedKey(sp), 0o600); err != nil {
		t.Fatal(err)
	}
	g.mustCLI(t, "alice-password-1\n", "user", "add", "alice", "--key", keyFile, "--password-stdin")
	return g, keyFile
}

// loggedIn reports whether c's session still works (GET /api/session answers 200).
func (c *webClient) loggedIn(t *testing.T) bool {
	t.Helper()
	status, _ := c.call(t, "GET", "/api/session", nil)
	return status == http.StatusOK
}

// browserTube opens a tube on /ssh authorized by c's session cookie, as the page does, and
// returns a channel closed when the gateway ends it.
func (c *webClient) browserTube(t *testing.T, g *gateway) <-chan struct{} {
	t.Helper()
	u, _ := url.Parse(c.base)
	hdr := http.Header{"Origin": {c.base}}
	for _, ck := range c.client.Jar.Cookies(u) {
		hdr.Add("Cookie", ck.Name+"="+ck.Value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, g.wsURL(), &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("browser tube: %v", err)
	}
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	t.Cleanup(func() { nc.Close() })
	conn, chans, reqs, err := ssh.NewClientConn(nc, "gw", &ssh.ClientConfig{User: "alice",
		HostKeyCallback: func(string, net.Addr, ssh.PublicKey) error { return nil }}) // not under test
	if err != nil {
		t.Fatalf("browser tube: SSH handshake with the session cookie: %v", err)
	}
	client := ssh.NewClient(conn, chans, reqs)
	done := make(chan struct{})
	go func() { client.Wait(); close(done) }()
	return done
}

// ended waits up to waitTimeout for the session to stop working and the tube to close, and
// says what it saw.
func sessionEnded(t *testing.T, c *webClient, tube <-chan struct{}) (sessionOK, tubeOpen bool, took time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(waitTimeout)
	for {
		sessionOK = c.loggedIn(t)
		select {
		case <-tube:
			tubeOpen = false
		default:
			tubeOpen = true
		}
		if (!sessionOK && !tubeOpen) || time.Now().After(deadline) {
			return sessionOK, tubeOpen, time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func describeEnd(ok, open bool, took time.Duration) string {
	return fmt.Sprintf("session valid %v, tube open %v, after %v", ok, open, took.Round(100*time.Millisecond))
}

// TestRedteamSessionAdminPasswordChange: an admin sets a new password for alice (gateway user set
// --password-stdin); alice's web session and the browser tube opened from it end within a second.
func TestRedteamSessionAdminPasswordChange(t *testing.T) {
	g, _ := sessionGateway(t)
	web := webLogin(t, g, "alice", "alice-password-1")
	tube := web.browserTube(t, g)
	g.mustCLI(t, "alice-password-2\n", "user", "set", "alice", "--password-stdin")
	ok, open, took := sessionEnded(t, web, tube)
	redteam(t, "keep a web session after an admin changed the password", "session and its tube end", describeEnd(ok, open, took))
	if ok || open {
		t.Fatalf("after the password change: %s", describeEnd(ok, open, took))
	}
	webLogin(t, g, "alice", "alice-password-2")
}

// TestRedteamSessionDeleteReadd: alice is deleted and a user of the same name added again; the
// old alice's session must not work for the new one.
func TestRedteamSessionDeleteReadd(t *testing.T) {
	g, keyFile := sessionGateway(t)
	web := webLogin(t, g, "alice", "alice-password-1")
	tube := web.browserTube(t, g)
	g.mustCLI(t, "", "user", "del", "alice")
	g.mustCLI(t, "another-password\n", "user", "add", "alice", "--key", keyFile, "--password-stdin")
	ok, open, took := sessionEnded(t, web, tube)
	redteam(t, "keep a web session across delete and re-add of the user", "session and its tube end", describeEnd(ok, open, took))
	if ok || open {
		t.Fatalf("after delete and re-add: %s", describeEnd(ok, open, took))
	}
}

// TestRedteamSessionKeyRemoval: an admin removes alice's key (gateway user set --remove-key);
// her web sessions and their tubes end.
func TestRedteamSessionKeyRemoval(t *testing.T) {
	g, keyFile := sessionGateway(t)
	web := webLogin(t, g, "alice", "alice-password-1")
	tube := web.browserTube(t, g)
	res := g.cli(t, "", "user", "set", "alice", "--remove-key", keyFile)
	ok, open, took := sessionEnded(t, web, tube)
	redteam(t, "keep a web session after an admin removed the user's key", "session and its tube end",
		fmt.Sprintf("remove-key exit %d; %s", res.code, describeEnd(ok, open, took)))
	if res.code != 0 {
		t.Fatalf("gateway user set --remove-key: %s", res)
	}
	if ok || open {
		t.Fatalf("after the key removal: %s", describeEnd(ok, open, took))
	}
	if out := g.mustCLI(t, "", "user", "list").stdout; strings.Contains(out, "key(s)") {
		t.Fatalf("the key is still listed: %s", out)
	}
}

// TestRedteamSessionRevoke: `gateway user sessions alice` lists her two sessions with their source;
// `--revoke` ends both, and the tube of each, against the running gateway.
func TestRedteamSessionRevoke(t *testing.T) {
	g, _ := sessionGateway(t)
	a := webLogin(t, g, "alice", "alice-password-1")
	b := webLogin(t, g, "alice", "alice-password-1")
	tubeA, tubeB := a.browserTube(t, g), b.browserTube(t, g)
	list := g.cli(t, "", "user", "sessions", "alice")
	rev := g.cli(t, "", "user", "sessions", "alice", "--revoke")
	okA, openA, took := sessionEnded(t, a, tubeA)
	okB, openB, _ := sessionEnded(t, b, tubeB)
	redteam(t, "an admin ends a user's web sessions (user sessions --revoke)", "both sessions and tubes end",
		fmt.Sprintf("list exit %d, revoke exit %d; A: %s; B valid %v, tube open %v", list.code, rev.code,
			describeEnd(okA, openA, took), okB, openB))
	if list.code != 0 || strings.Count(list.stdout, "127.0.0.1") != 2 {
		t.Fatalf("gateway user sessions alice: want two sessions from 127.0.0.1: %s", list)
	}
	if rev.code != 0 || !strings.Contains(rev.stdout, "ended 2") {
		t.Fatalf("gateway user sessions alice --revoke: %s", rev)
	}
	if okA || openA || okB || openB {
		t.Fatalf("after --revoke: A valid %v tube %v, B valid %v tube %v", okA, openA, okB, openB)
	}
	if out := g.mustCLI(t, "", "user", "sessions", "alice").stdout; !strings.Contains(out, "no web sessions") {
		t.Fatalf("sessions after --revoke: %s", out)
	}
	webLogin(t, g, "alice", "alice-password-1") // the password still works
}

// TestRedteamSessionOwnPasswordChange: alice changes her password on the page from session A: A
// and its tube carry on, her other session B and its tube end.
func TestRedteamSessionOwnPasswordChange(t *testing.T) {
	g, _ := sessionGateway(t)
	a := webLogin(t, g, "alice", "alice-password-1")
	b := webLogin(t, g, "alice", "alice-password-1")
	tubeA, tubeB := a.browserTube(t, g), b.browserTube(t, g)
	status, body := a.call(t, "POST", "/api/password", map[string]string{"current": "alice-password-1", "new": "alice-password-2"})
	if status != http.StatusNoContent {
		t.Fatalf("POST /api/password: %d %s", status, body)
	}
	okB, openB, took := sessionEnded(t, b, tubeB)
	time.Sleep(1500 * time.Millisecond) // a watcher tick past the change: A must still be there
	okA := a.loggedIn(t)
	openA := true
	select {
	case <-tubeA:
		openA = false
	default:
	}
	redteam(t, "keep another web session after changing one's password on the page",
		"the other session and its tube end; the changing one stays",
		fmt.Sprintf("other: %s; own: valid %v, tube open %v", describeEnd(okB, openB, took), okA, openA))
	if okB || openB {
		t.Errorf("the other session: %s", describeEnd(okB, openB, took))
	}
	if !okA || !openA {
		t.Errorf("the session that changed the password: valid %v, tube open %v; want both", okA, openA)
	}
}
