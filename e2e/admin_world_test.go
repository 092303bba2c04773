package e2e

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// adminWorld is a gateway with an audit log (GATEWAY_AUDIT_LOG), the
// administrator root and the user bob (a key and a password), for the
// admin page and audit log tests.
type adminWorld struct {
	g        *gateway
	auditLog string
	bob      ssh.Signer
	bobKey   string // bob's public key file
}

const (
	rootPassword = "root-password-1"
	bobPassword  = "bob-password-1"
)

func newAdminWorld(t *testing.T, extraEnv ...string) *adminWorld {
	t.Helper()
	dir := t.TempDir()
	w := &adminWorld{auditLog: filepath.Join(dir, "audit.log")}
	w.g = startGateway(t, filepath.Join(dir, "data"), gatewayOpts{sshListen: true,
		env: append([]string{"GATEWAY_AUDIT_LOG=" + w.auditLog}, extraEnv...)})
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if w.bob, err = ssh.NewSignerFromKey(priv); err != nil {
		t.Fatal(err)
	}
	w.bobKey = filepath.Join(dir, "bob.pub")
	if err := os.WriteFile(w.bobKey, ssh.MarshalAuthorizedKey(w.bob.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	w.g.mustCLI(t, rootPassword+"\n", "user", "add", "root", "--admin", "--password-stdin")
	w.g.mustCLI(t, bobPassword+"\n", "user", "add", "bob", "--key", w.bobKey, "--password-stdin")
	return w
}

// bobTube opens an SSH tube as bob over TCP, and returns it with a
// channel closed when it ends.
func (w *adminWorld) bobTube(t *testing.T) (*ssh.Client, <-chan struct{}) {
	t.Helper()
	c, err := ssh.Dial("tcp", w.g.sshAddr, &ssh.ClientConfig{User: "bob", Auth: []ssh.AuthMethod{ssh.PublicKeys(w.bob)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}) // host keys are not under test here
	if err != nil {
		t.Fatalf("ssh as bob: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	return c, done
}

// publishHTTP publishes a -R port on c and serves body over HTTP on it;
// it returns the endpoint ("127.0.0.1:PORT").
func publishHTTP(t *testing.T, c *ssh.Client, body string) string {
	t.Helper()
	ln, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("-R: %v", err)
	}
	go http.Serve(ln, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { fmt.Fprint(rw, body) }))
	return ln.Addr().String()
}

// auditEvent is one line of the audit log.
type auditEvent map[string]any

func (e auditEvent) s(k string) string { v, _ := e[k].(string); return v }

// readAudit returns the events in path (none if it does not exist).
func readAudit(t *testing.T, path string) []auditEvent {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// match reports whether e has every key=value of want.
func (e auditEvent) match(want map[string]string) bool {
	for k, v := range want {
		if e.s(k) != v {
			return false
		}
	}
	return true
}

// waitAudit waits (bounded) for an event in path with every key=value of
// want, and returns it.
func waitAudit(t *testing.T, path string, want map[string]string) auditEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range readAudit(t, path) {
			if e.match(want) {
				return e
			}
		}
		if time.Now().After(deadline) {
			var lines []string
			for _, e := range readAudit(t, path) {
				b, _ := json.Marshal(e)
				lines = append(lines, string(b))
			}
			t.Fatalf("no audit event %v in %s:\n%s", want, path, strings.Join(lines, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// host is the address part of host:port.
func host(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// parseJSONLink reads the id and URL of a link from the answer to POST
// /api/links.
func parseJSONLink(t *testing.T, body string) shareLink {
	t.Helper()
	var j struct{ ID, URL string }
	if err := json.Unmarshal([]byte(body), &j); err != nil || j.ID == "" || j.URL == "" {
		t.Fatalf("POST /api/links answered %s (%v)", body, err)
	}
	return shareLink{id: j.ID, url: j.URL}
}
