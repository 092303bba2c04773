package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/cluster/redistest"
)

// The shared state of a cluster (issue 13): two gateways on one Redis, each with its own data
// dir, share users, host keys, web sessions and the password throttle.

// clusterPair is a throw-away redis-server and two gateway nodes on it.
type clusterPair struct {
	redis *redistest.Server
	a, b  *gateway
}

func startClusterPair(t *testing.T) clusterPair {
	t.Helper()
	r := redistest.Start(t)
	node := func(name string) *gateway {
		port := freePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		return startGateway(t, shortTempDir(t), gatewayOpts{sshListen: true, args: []string{
			"--listen", addr, "--cluster", r.URL(), "--node-id", name, "--node-addr", "http://" + addr}})
	}
	return clusterPair{redis: r, a: node("node-a"), b: node("node-b")}
}

// cli runs `gateway ARGS... --cluster URL` (the users of the cluster, not of a data dir).
func (c clusterPair) cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return c.a.mustCLI(t, stdin, append(args, "--cluster", c.redis.URL())...)
}

// clusterKey makes an ed25519 key, writes its public half to a file and returns the signer and
// the file.
func clusterKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id.pub")
	if err := os.WriteFile(path, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	return signer, path
}

// dialKey logs user in over SSH to g with key and returns the tube and the host key it showed.
func dialKey(t *testing.T, g *gateway, user string, key ssh.Signer) (*ssh.Client, string, error) {
	t.Helper()
	var hostKey string
	c, err := ssh.Dial("tcp", g.sshAddr, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, Timeout: cmdTimeout,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			hostKey = ssh.FingerprintSHA256(k)
			return nil
		},
	})
	return c, hostKey, err
}

// TestClusterStateUsersAndHostKeys: a user added with `gateway user add --cluster` logs in over
// SSH on both nodes, and both nodes are the same gateway to it: the same host key fingerprints.
func TestClusterStateUsersAndHostKeys(t *testing.T) {
	c := startClusterPair(t)
	for typ, fp := range c.a.hostKeys {
		if c.b.hostKeys[typ] != fp {
			t.Fatalf("host key %s: node A %s, node B %s", typ, fp, c.b.hostKeys[typ])
		}
	}
	key, pub := clusterKey(t)
	c.cli(t, "", "user", "add", "alice", "--key", pub)
	var seen []string
	for name, g := range map[string]*gateway{"A": c.a, "B": c.b} {
		client, hostKey, err := dialKey(t, g, "alice", key)
		if err != nil {
			t.Fatalf("alice on node %s: %v", name, err)
		}
		client.Close()
		seen = append(seen, hostKey)
		if hostKey != c.a.hostKeys["ssh-ed25519"] {
			t.Fatalf("node %s showed host key %s, node A logs %s", name, hostKey, c.a.hostKeys["ssh-ed25519"])
		}
	}
	if res := c.a.cli(t, "", "user", "list"); strings.Contains(res.stdout, "alice") {
		t.Fatalf("alice is in node A's data dir too: the cluster's users must be in Redis only: %s", res)
	}
	t.Logf("host keys seen: %v", seen)
}

// TestClusterStateWebSession: a web session made on node A works on node B, and a logout on A
// ends it on B.
func TestClusterStateWebSession(t *testing.T) {
	c := startClusterPair(t)
	c.cli(t, "bob-web-password\n", "user", "add", "bob", "--password-stdin")
	web := webLogin(t, c.a, "bob", "bob-web-password")
	onB := *web
	onB.base = "http://" + c.b.httpAddr
	if status, body := onB.call(t, "GET", "/api/session", nil); status != http.StatusOK || !strings.Contains(body, `"bob"`) {
		t.Fatalf("node A's session on node B: %d %s", status, body)
	}
	u, _ := url.Parse(web.base)
	cookies := web.client.Jar.Cookies(u) // the jar drops them at logout: keep them to replay
	if status, body := web.call(t, "POST", "/api/logout", nil); status/100 != 2 {
		t.Fatalf("logout on node A: %d %s", status, body)
	}
	req, err := http.NewRequest(http.MethodGet, onB.base+"/api/session", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := (&http.Client{Timeout: cmdTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(cookies) == 0 || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("node A's logged-out session (%d cookies) replayed on node B: %d, want 401", len(cookies), resp.StatusCode)
	}
}

// TestRedteamClusterDeletedUserCut: a user deleted through node A's admin page loses the live
// tube they hold on node B.
func TestRedteamClusterDeletedUserCut(t *testing.T) {
	c := startClusterPair(t)
	c.cli(t, "root-web-password\n", "user", "add", "root", "--admin", "--password-stdin")
	key, pub := clusterKey(t)
	c.cli(t, "", "user", "add", "mallory", "--key", pub)
	tube, _, err := dialKey(t, c.b, "mallory", key)
	if err != nil {
		t.Fatalf("mallory on node B: %v", err)
	}
	defer tube.Close()
	admin := webLogin(t, c.a, "root", "root-web-password")
	if status, body := admin.call(t, "DELETE", "/api/admin/users/mallory", nil); status/100 != 2 {
		t.Fatalf("DELETE mallory on node A: %d %s", status, body)
	}
	deleted := time.Now()
	ended := make(chan error, 1)
	go func() { ended <- tube.Wait() }()
	seen := "tube on node B still up after " + waitTimeout.String()
	select {
	case <-ended:
		seen = fmt.Sprintf("tube on node B closed %v after the delete on node A", time.Since(deleted).Round(100*time.Millisecond))
	case <-time.After(waitTimeout):
	}
	redteam(t, "a user deleted on node A keeps their live tube on node B",
		"node B closes the tube within about a second", seen)
	if strings.Contains(seen, "still up") {
		t.Fatal(seen)
	}
	if _, _, err := dialKey(t, c.b, "mallory", key); err == nil {
		t.Fatal("deleted mallory logs in again on node B")
	}
}

// TestRedteamClusterPasswordGuesses: wrong passwords sent half to node A and half to node B add
// up to one budget: after 10 the right password is refused on both.
func TestRedteamClusterPasswordGuesses(t *testing.T) {
	c := startClusterPair(t)
	c.cli(t, "alice-web-password\n", "user", "add", "alice", "--password-stdin")
	client := &http.Client{Timeout: cmdTimeout}
	try := func(g *gateway, pw string) int {
		body := fmt.Sprintf(`{"user":"alice","password":%q}`, pw)
		req, err := http.NewRequest(http.MethodPost, "http://"+g.httpAddr+"/api/login", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range passwordBudget {
		g := c.a
		if i%2 == 1 {
			g = c.b
		}
		if code := try(g, fmt.Sprintf("wrong-guess-%d", i)); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, code)
		}
	}
	onA, onB := try(c.a, "alice-web-password"), try(c.b, "alice-web-password")
	redteam(t, fmt.Sprintf("%d wrong web passwords from one address, half to each of two nodes", passwordBudget),
		"one budget: the right password is then refused (429) on both nodes",
		fmt.Sprintf("right password then: node A %d, node B %d", onA, onB))
	if onA != http.StatusTooManyRequests || onB != http.StatusTooManyRequests {
		t.Fatalf("after %d guesses across two nodes the right password got %d on A and %d on B, want 429", passwordBudget, onA, onB)
	}
}

// TestClusterStateRedisDown: while Redis is down a node keeps the users it last read (a key login
// works, a live tube stays up) and refuses password checks it cannot count cluster-wide, saying
// why; when Redis is back, passwords work again without a restart.
func TestClusterStateRedisDown(t *testing.T) {
	c := startClusterPair(t)
	key, pub := clusterKey(t)
	c.cli(t, "", "user", "add", "alice", "--key", pub)
	c.cli(t, "carol-ssh-password\n", "user", "add", "carol", "--password-stdin")
	live, _, err := dialKey(t, c.a, "alice", key)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	password := func() (string, error) {
		var banner string
		cl, err := ssh.Dial("tcp", c.a.sshAddr, &ssh.ClientConfig{
			User: "carol", Auth: []ssh.AuthMethod{ssh.Password("carol-ssh-password")}, Timeout: cmdTimeout,
			HostKeyCallback: ssh.InsecureIgnoreHostKey(),
			BannerCallback:  func(m string) error { banner += m; return nil },
		})
		if err == nil {
			cl.Close()
		}
		return banner, err
	}
	c.redis.Stop()
	c.a.proc.mustWaitLine(t, regexp.MustCompile(`cluster degraded: redis unreachable`), startTimeout)
	banner, err := password()
	if err == nil || !strings.Contains(banner, "cluster unavailable: redis unreachable") {
		t.Fatalf("password login while Redis is down: err %v, banner %q; want refused, saying why", err, banner)
	}
	client, _, err := dialKey(t, c.a, "alice", key)
	if err != nil {
		t.Fatalf("key login while Redis is down: %v", err)
	}
	client.Close()
	if _, _, err := live.SendRequest("keepalive@openssh.com", true, nil); err != nil {
		t.Fatalf("alice's live tube while Redis is down: %v", err)
	}
	c.redis.Restart()
	c.a.proc.mustWaitLine(t, regexp.MustCompile(`cluster recovered`), startTimeout)
	if _, err := password(); err != nil {
		t.Fatalf("password login once Redis is back: %v", err)
	}
}
