package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/bridge"
)

// The web attacks of issue "Safe against its own users" §3, §6 and §9: slow
// bodies, connection floods, DNS rebinding, a sibling share domain, and API
// refusals that must be logged. New settings are given through GATEWAY_*
// variables, which a gateway without the flag ignores: the attack then runs
// against the old behaviour and fails on it.

// rawRequest opens a connection from the loopback address src to addr and
// writes req on it.
func rawRequest(t *testing.T, src, addr, req string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write to %s: %v", addr, err)
	}
	return c
}

// readStatus reads one HTTP response's status from c by deadline: 0 when
// the server closed the connection without one, -1 when it did neither.
func readStatus(c net.Conn, deadline time.Time) int {
	c.SetReadDeadline(deadline)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return -1
		}
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// clientFrom is an HTTP client whose connections come from the loopback
// address src.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func getFrom(t *testing.T, c *http.Client, url string, mod ...func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mod {
		m(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestRedteamSlowBody: connections that send a request's headers and never
// its body are closed after --http-read-timeout, while an upload through a
// share link and a WebSocket tube, both longer than that, carry on.
func TestRedteamSlowBody(t *testing.T) {
	const attackers = 20
	w := &shareWorld{world: newWorld(t, gatewayOpts{sshListen: true, env: []string{"GATEWAY_HTTP_READ_TIMEOUT=1s"}})}
	w.addUser(t, "alice", "--permit-name", "myapp")
	w.alpha = startShareBackend(t, "alpha")
	w.alice = w.remoteForward(t, w.aliceSpec(), "alice.ws")
	link := createLink(t, w.gw, "myapp:80", "--user", "alice")

	// A legitimate slow upload through the link, and a tube, started first.
	pr, pw := io.Pipe()
	upload := make(chan string, 1)
	go func() {
		resp, err := http.Post(link.pathURL(w.gw, "upload"), "application/octet-stream", pr)
		if err != nil {
			upload <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		upload <- fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}()
	sum := sha256.New()
	part := []byte(strings.Repeat("upload ", 1000))
	pw.Write(part)
	sum.Write(part)
	tube, err := bridge.Dial(context.Background(), w.gw.wsURL(), bridge.DialOptions{})
	if err != nil {
		t.Fatalf("tube: %v", err)
	}
	defer tube.Close()

	req := fmt.Sprintf("POST /api/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n", w.gw.httpAddr)
	var conns []net.Conn
	for i := 0; i < attackers; i++ {
		conns = append(conns, rawRequest(t, "127.0.0.1", w.gw.httpAddr, req))
	}
	w.gw.requireHealthy(t)
	closed := 0
	deadline := time.Now().Add(15 * time.Second) // liveness bound
	for _, c := range conns {
		if readStatus(c, deadline) >= 0 { // a 400 or a plain close: either way, not held
			closed++
		}
	}
	if closed != attackers {
		redteam(t, fmt.Sprintf("%d connections send a login's headers, never its body (read timeout 1s)", attackers),
			"each closed after the read timeout; a slower upload through a link and a tube live on",
			fmt.Sprintf("%d of %d closed within 15s", closed, attackers))
		t.Fatalf("%d of %d connections without a body were held past 15s", attackers-closed, attackers)
	}
	// The read timeout has passed for every one of them: the upload and
	// the tube, older than all, must still work.
	pw.Write(part)
	sum.Write(part)
	pw.Close()
	got := <-upload
	want := fmt.Sprintf("200 %d %s", 2*len(part), hex.EncodeToString(sum.Sum(nil))) // /upload: size and sha256
	_, _, _, err = ssh.NewClientConn(tube, "gw", &ssh.ClientConfig{User: "nobody", HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	tubeOK := err != nil && strings.Contains(err.Error(), "unable to authenticate")
	w.gw.requireHealthy(t)
	status, _ := getFrom(t, clientFrom("127.0.0.2"), "http://"+w.gw.httpAddr+"/api/session")
	redteam(t, fmt.Sprintf("%d connections send a login's headers, never its body (read timeout 1s)", attackers),
		"each closed after the read timeout; a slower upload through a link and a tube live on",
		fmt.Sprintf("%d of %d closed; upload %v; tube handshake after the timeout %v; /api/session %d", closed, attackers,
			got == want, tubeOK, status))
	if got != want {
		t.Errorf("upload through the link across the read timeout: %q, want %q", got, want)
	}
	if !tubeOK {
		t.Errorf("SSH handshake on a tube older than the read timeout: %v, want it to reach authentication", err)
	}
	if status != http.StatusUnauthorized {
		t.Errorf("a legitimate GET /api/session: %d, want 401", status)
	}
}

// TestRedteamConnsPerSource: connections past --max-conns-per-source are
// closed at once, logged and counted; another source is served.
func TestRedteamConnsPerSource(t *testing.T) {
	const limit, attempts = 8, 20
	g := startGateway(t, t.TempDir(), gatewayOpts{env: []string{fmt.Sprintf("GATEWAY_MAX_CONNS_PER_SOURCE=%d", limit)}})
	req := fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", g.httpAddr)
	var conns []net.Conn
	for i := 0; i < attempts; i++ {
		conns = append(conns, rawRequest(t, "127.0.0.1", g.httpAddr, req))
	}
	served, refused := 0, 0
	deadline := time.Now().Add(10 * time.Second) // liveness bound
	for _, c := range conns {
		switch readStatus(c, deadline) {
		case http.StatusOK:
			served++ // and kept open: keep-alive
		case 0:
			refused++ // closed without an answer
		}
	}
	other := clientFrom("127.0.0.2")
	healthy, _ := getFrom(t, other, "http://"+g.httpAddr+"/healthz")
	_, metrics := getFrom(t, other, "http://"+g.httpAddr+"/metrics")
	counted := strings.Contains(metrics, fmt.Sprintf(`tubegate_http_connections_refused_total{reason="per_source"} %d`, attempts-limit))
	logged := len(g.proc.out.linesMatching("connection refused: too many open connections")) > 0
	redteam(t, fmt.Sprintf("%d open connections from one address (--max-conns-per-source %d)", attempts, limit),
		fmt.Sprintf("%d served, %d closed, logged and counted; another address served", limit, attempts-limit),
		fmt.Sprintf("%d served, %d closed; logged %v, counted %v; other address /healthz %d", served, refused, logged, counted, healthy))
	if served != limit || refused != attempts-limit {
		t.Errorf("%d served and %d refused, want %d and %d", served, refused, limit, attempts-limit)
	}
	if healthy != http.StatusOK {
		t.Errorf("/healthz from another address: %d", healthy)
	}
	if !counted {
		t.Errorf("/metrics does not count %d per-source refusals:\n%s", attempts-limit, grepLines(metrics, "tubegate_http"))
	}
	if !logged {
		t.Error("no log line for the refused connections")
	}
}

// TestRedteamHostRebinding: a page on an attacker's name that resolves to
// the gateway (DNS rebinding) sends its own Host: /metrics and the API
// must not answer it, while the gateway's own addresses and a share-domain
// host still do.
func TestRedteamHostRebinding(t *testing.T) {
	g := startGateway(t, t.TempDir(), gatewayOpts{})
	gw := startGateway(t, t.TempDir(), gatewayOpts{args: []string{"--url", "https://gw.example.com", "--share-domain", "links.example.net"}})
	c := clientFrom("127.0.0.1")
	var seen []string
	for _, cse := range []struct {
		g          *gateway
		host, path string
		want       int
	}{
		{g, "rebind.attacker.test:" + port(g), "/metrics", http.StatusMisdirectedRequest},
		{g, "rebind.attacker.test", "/api/session", http.StatusMisdirectedRequest},
		{g, "rebind.attacker.test", "/", http.StatusMisdirectedRequest},
		{gw, "rebind.attacker.test", "/metrics", http.StatusMisdirectedRequest},
		{g, g.httpAddr, "/metrics", http.StatusOK},
		{g, "localhost:" + port(g), "/healthz", http.StatusOK},
		{gw, "gw.example.com", "/healthz", http.StatusOK},
		{gw, "nosuchlink.links.example.net", "/healthz", http.StatusNotFound}, // the share proxy's answer
	} {
		status, body := getFrom(t, c, "http://"+cse.g.httpAddr+cse.path, func(r *http.Request) { r.Host = cse.host })
		seen = append(seen, fmt.Sprintf("%s%s %d", cse.host, cse.path, status))
		if status != cse.want {
			t.Errorf("GET %s with Host %s: %d %q, want %d", cse.path, cse.host, status, body, cse.want)
		}
	}
	logged := len(g.proc.out.linesMatching("not addressed to this gateway")) > 0
	redteam(t, "DNS rebinding: GET /metrics, /api/session with an attacker's Host",
		"421; the gateway's own hosts and share-domain hosts served", strings.Join(seen[:4], ", ")+fmt.Sprintf("; logged %v", logged))
	if !logged {
		t.Error("no log line for the misdirected requests")
	}
}

func port(g *gateway) string {
	_, p, _ := net.SplitHostPort(g.httpAddr)
	return p
}

// TestRedteamSiblingShareDomain: a share domain beside the page's domain
// (links.example.com next to gw.example.com) lets a page behind a link set
// cookies for .example.com; the gateway refuses to start with it, and
// with a share domain but no --url.
func TestRedteamSiblingShareDomain(t *testing.T) {
	bin := requireGatewayBinary(t)
	serve := func(args ...string) result {
		args = append([]string{"serve", "--listen", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "data")}, args...)
		return runProgram(t, 10*time.Second, "", nil, bin, args...)
	}
	sibling := serve("--url", "https://gw.example.com", "--share-domain", "links.example.com")
	noURL := serve("--share-domain", "links.example.net")
	redteam(t, "start with --share-domain links.example.com beside --url https://gw.example.com, and without --url",
		"refused at start with the fix explained", fmt.Sprintf("sibling: exit %d; no --url: exit %d", sibling.code, noURL.code))
	if sibling.code <= 0 || !strings.Contains(sibling.stderr, "registrable domain example.com") {
		t.Errorf("sibling share domain: %s\nwant a refusal naming the registrable domain example.com", sibling)
	}
	if noURL.code <= 0 || !strings.Contains(noURL.stderr, "needs --url") {
		t.Errorf("share domain without --url: %s\nwant a refusal asking for --url", noURL)
	}
}

// TestRedteamWebAPIRefusalsLogged: the page's API refuses a login from a
// foreign origin (another host, or the gateway's host under another
// scheme) and a logout without its CSRF token, each with a log line at
// info that names the client's address.
func TestRedteamWebAPIRefusalsLogged(t *testing.T) {
	g := startGateway(t, t.TempDir(), gatewayOpts{})
	post := func(path, origin string) int {
		req, err := http.NewRequest(http.MethodPost, "http://"+g.httpAddr+path, strings.NewReader(`{"user":"x","password":"y"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := clientFrom("127.0.0.3").Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	statuses := []int{
		post("/api/login", "http://evil.test"),
		post("/api/login", "https://"+g.httpAddr), // the gateway's host, but not its scheme
		post("/api/logout", ""),
	}
	var lines []string
	deadline := time.Now().Add(waitTimeout)
	for len(lines) < 3 && time.Now().Before(deadline) {
		lines = g.proc.out.linesMatching(`msg="web API refused"`)
		time.Sleep(20 * time.Millisecond)
	}
	withRemote := 0
	for _, ln := range lines {
		if strings.Contains(ln, "level=INFO") && strings.Contains(ln, "remote=127.0.0.3:") {
			withRemote++
		}
	}
	redteam(t, "cross-origin logins (other host, other scheme) and a logout without CSRF token",
		"403 each, logged at info with the remote address", fmt.Sprintf("statuses %v; %d of 3 logged with the remote", statuses, withRemote))
	for i, s := range statuses {
		if s != http.StatusForbidden {
			t.Errorf("refusal %d: status %d, want 403", i+1, s)
		}
	}
	if withRemote != 3 {
		t.Errorf("%d of 3 refusals logged at info with remote=127.0.0.3; log lines:\n%s", withRemote, strings.Join(lines, "\n"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, ln := range strings.Split(s, "\n") {
		if strings.Contains(ln, substr) {
			out = append(out, ln)
		}
	}
	return strings.Join(out, "\n")
}
