package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRedteamLinkCap: one user makes share links until refused. With --max-links-per-user 3 the
// fourth is refused with a clear error by the page's API, the SSH command and the CLI alike.
func TestRedteamLinkCap(t *testing.T) {
	w := &shareWorld{world: newWorld(t, gatewayOpts{sshListen: true, args: []string{"--max-links-per-user", "3"}})}
	w.addUser(t, "alice", "--permit-name", "myapp")
	w.alpha = startShareBackend(t, "alpha")
	w.alice = w.remoteForward(t, w.aliceSpec(), "alice.ws")
	w.gw.mustCLI(t, "alice-web-password\n", "user", "set", "alice", "--password-stdin")
	web := webLogin(t, w.gw, "alice", "alice-web-password")

	made, refused := 0, 0
	var lastBody string
	for i := 0; i < 10; i++ {
		status, body := web.call(t, "POST", "/api/links", map[string]any{"endpoint": "myapp:80"})
		switch status {
		case http.StatusCreated:
			made++
		case http.StatusForbidden:
			refused++
			lastBody = body
		default:
			t.Fatalf("POST /api/links: %d %s", status, body)
		}
	}
	ssh := w.sshRun(t, "alice.ws", "link", "create", "myapp:80")
	cli := w.gw.cli(t, "", "link", "create", "myapp:80", "--user", "alice", "--max-links-per-user", "3")
	redteam(t, "one user makes 10 share links (cap 3)", "3 made; API, SSH and CLI refuse the 4th",
		fmt.Sprintf("%d made, %d refused by the API; ssh exit %d, CLI exit %d", made, refused, ssh.code, cli.code))
	if made != 3 || refused != 7 {
		t.Fatalf("%d links made and %d refused, want 3 and 7", made, refused)
	}
	const why = "the most this gateway allows"
	if !strings.Contains(lastBody, why) {
		t.Errorf("API refusal %q does not say why", lastBody)
	}
	if ssh.code == 0 || !strings.Contains(ssh.stderr, why) {
		t.Errorf("ssh link create past the cap: %s", ssh)
	}
	if cli.code == 0 || !strings.Contains(cli.stderr, why) {
		t.Errorf("gateway link create past the cap: %s", cli)
	}
	// Revoking one makes room again.
	list := w.gw.mustCLI(t, "", "link", "list")
	id := strings.Fields(strings.Split(strings.TrimSpace(list.stdout), "\n")[1])[0]
	w.gw.mustCLI(t, "", "link", "revoke", id)
	if status, body := web.call(t, "POST", "/api/links", map[string]any{"endpoint": "myapp:80"}); status != http.StatusCreated {
		t.Fatalf("after a revoke: %d %s", status, body)
	}
}

// immutable makes path unwritable, even for root (chattr +i), until the test ends or undo is called.
func immutable(t *testing.T, path string) func() {
	t.Helper()
	var undo func()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o400); err != nil {
			t.Fatal(err)
		}
		undo = func() { os.Chmod(path, 0o600) }
	} else {
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Fatalf("chattr +i %s: %v %s", path, err, out)
		}
		undo = func() { exec.Command("chattr", "-i", path).Run() }
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(undo) })
	return func() { once.Do(undo) }
}

// TestRedteamRevokeFailsOpen: the links store cannot be written (an unwritable file, as on a full
// disk). A revoke from the page still stops the link at once and cuts its live download; the API
// says the change is not saved without showing a server path; once the disk is writable again the
// gateway saves the revocation by itself, so it survives a restart.
func TestRedteamRevokeFailsOpen(t *testing.T) {
	w := newShareWorld(t)
	w.gw.mustCLI(t, "alice-web-password\n", "user", "set", "alice", "--password-stdin")
	web := webLogin(t, w.gw, "alice", "alice-web-password")
	status, body := web.call(t, "POST", "/api/links", map[string]any{"endpoint": "myapp:80"})
	var made struct{ ID, URL string }
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &made) != nil {
		t.Fatalf("POST /api/links: %d %s", status, body)
	}
	stream := startStream(t, made.URL+"stream")

	var undo []func()
	for _, name := range []string{"links.db", "links.json"} {
		if p := filepath.Join(w.gw.dataDir, name); fileExists(p) {
			undo = append(undo, immutable(t, p))
		}
	}
	start := time.Now()
	revStatus, revBody := web.call(t, "DELETE", "/api/links/"+made.ID, nil)
	getStatus, _, _ := httpGet(t, made.URL)
	cut := false
	select {
	case at := <-stream.ended:
		cut = true
		t.Logf("the download was cut %v after the revoke", at.Sub(start).Round(time.Millisecond))
	case <-time.After(waitTimeout):
	}
	crStatus, crBody := web.call(t, "POST", "/api/links", map[string]any{"endpoint": "myapp:80"})
	leak := strings.Contains(revBody, w.gw.dataDir) || strings.Contains(crBody, w.gw.dataDir) ||
		strings.Contains(revBody, "/") && strings.Contains(revBody, "links.") || strings.Contains(crBody, "/links.")
	redteam(t, "revoke a link while the data dir cannot be written", "link dead and cut at once, error without path",
		fmt.Sprintf("revoke %d, link then %d, stream cut %v, path in error %v", revStatus, getStatus, cut, leak))
	if getStatus != http.StatusNotFound {
		t.Errorf("the link answered %d after a revoke whose save failed, want 404", getStatus)
	}
	if !cut {
		t.Errorf("the download through the link was still running %v after the revoke", waitTimeout)
	}
	if revStatus != http.StatusInternalServerError {
		t.Errorf("DELETE with a failing disk: %d %s, want 500 (not saved)", revStatus, revBody)
	}
	if crStatus == http.StatusCreated {
		t.Errorf("POST /api/links with a failing disk: %d %s, want an error", crStatus, crBody)
	}
	if leak {
		t.Errorf("an API error shows a server path: %q / %q", revBody, crBody)
	}
	if t.Failed() {
		return
	}
	for _, u := range undo {
		u()
	}
	if _, err := w.gw.proc.waitLine(regexp.MustCompile(`share link revocations saved`), 10*time.Second); err != nil {
		t.Fatalf("the gateway did not save the revocation once the disk was writable: %v", err)
	}
	w.gw.stop(t)
	w.gw = startGateway(t, w.gw.dataDir, w.gw.opts)
	if res := w.gw.mustCLI(t, "", "link", "list"); strings.Contains(res.stdout, made.ID) {
		t.Fatalf("after a restart the revoked link is back: %s", res.stdout)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestShareLinksKill9: links made through the page while the gateway is killed with SIGKILL are
// all there after a restart (every one whose creation was answered 201), and the store opens.
func TestShareLinksKill9(t *testing.T) {
	w := newShareWorld(t)
	w.gw.mustCLI(t, "alice-web-password\n", "user", "set", "alice", "--password-stdin")
	web := webLogin(t, w.gw, "alice", "alice-web-password")
	var mu sync.Mutex
	var ids []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			status, body, err := web.try("POST", "/api/links", map[string]any{"endpoint": "myapp:80"})
			if err != nil || status != http.StatusCreated {
				return // the gateway is gone
			}
			var l struct{ ID string }
			if json.Unmarshal([]byte(body), &l) == nil {
				mu.Lock()
				ids = append(ids, l.ID)
				mu.Unlock()
			}
		}
	}()
	for {
		mu.Lock()
		n := len(ids)
		mu.Unlock()
		if n >= 20 {
			break
		}
		select {
		case <-done:
			t.Fatalf("the creating loop ended after %d links", n)
		case <-time.After(5 * time.Millisecond):
		}
	}
	w.gw.proc.kill()
	<-done
	w.gw.proc.waitExit(t, waitTimeout)
	w.gw = startGateway(t, w.gw.dataDir, w.gw.opts)
	list := w.gw.mustCLI(t, "", "link", "list").stdout
	missing := 0
	for _, id := range ids {
		if !strings.Contains(list, id) {
			missing++
		}
	}
	t.Logf("%d links made before the SIGKILL; %d missing after the restart", len(ids), missing)
	if missing > 0 {
		t.Fatalf("%d of %d links answered 201 are gone after kill -9", missing, len(ids))
	}
}

// try is call without failing the test on a transport error (the gateway may be gone).
func (c *webClient) try(method, path string, body any) (int, string, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), err
}
