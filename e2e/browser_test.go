package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/ssh"
)

var reFirstRun = regexp.MustCompile(`msg="first-run login" url=(\S+)`)

// browserPassword is the web password of the test's browser user.
const browserPassword = "e2e-Browser-5521"

// TestBrowser drives the page in headless Chromium against the built gateway and a throw-away
// sshd, one step after another: log in through the first-run link (once only) and with a
// password (a wrong one refused); open a console to the sshd through the virtual name myhost
// (published by alice with ssh -R), trusting its host key on first use, with a private key from
// the page; type into the terminal; resize it; set up -L and -R forwards from the page; and
// finally see a changed host key refused with both fingerprints shown.
func TestBrowser(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	link := w.gw.proc.mustWaitLine(t, reFirstRun, startTimeout)[1]
	base := "http://" + w.gw.httpAddr
	if !strings.HasPrefix(link, base+"/login/first#") {
		t.Fatalf("first-run link %q does not lead to %s/login/first#TOKEN", link, base)
	}
	b := startBrowser(t, base)
	requirePage(t, w.gw)

	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}

	step("first-run link logs in once; admin sets a password in the page", func(t *testing.T) {
		b.t = t
		b.open(link)
		b.waitJS("the page to log in as admin", `document.body.dataset.user === "admin"`)
		if got := b.textOf("user-name"); got != "admin" {
			t.Fatalf("#user-name = %q, want admin", got)
		}
		// The link works once: the page asks admin to set a password, and it works.
		b.waitJS("the page to see admin has no password", `document.body.dataset.hasPassword === "no"`)
		b.waitVisible("password-missing")
		b.fill("password-new", "admin-e2e-password")
		b.click("password-submit")
		b.waitTextContains("password-status", "Password set.")
		b.waitJS("the page to see admin's password", `document.body.dataset.hasPassword === "yes"`)
		b.click("logout")
		b.waitVisible("login")
		b.open(link)
		msg := b.waitTextContains("login-error", "not valid")
		t.Logf("second use of the first-run link: %s", msg)
		b.fill("login-user", "admin")
		b.fill("login-password", "admin-e2e-password")
		b.click("login-submit")
		b.waitJS("admin to log in with the password set in the page", `document.body.dataset.user === "admin"`)
		b.click("logout")
		b.waitVisible("login")
	})

	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-name", "myhost", "--permit-name", "keyhost")
	w.gw.mustCLI(t, browserPassword+"\n", "user", "add", "bob", "--password-stdin",
		"--permit-open", "myhost@alice:22", "--permit-open", fmt.Sprintf("127.0.0.1:%d", echo))

	step("password login", func(t *testing.T) {
		b.t = t
		b.open("/")
		b.waitVisible("login")
		b.fill("login-user", "bob")
		b.fill("login-password", "wrong-password")
		b.click("login-submit")
		b.waitTextContains("login-error", "wrong user name or password")
		var user string
		if err := b.eval(`document.body.dataset.user || ""`, &user); err != nil || user != "" {
			t.Fatalf("after a wrong password the page is logged in as %q (%v)", user, err)
		}
		b.fill("login-password", browserPassword)
		b.click("login-submit")
		b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)
		b.open("/") // the session cookie survives a reload
		b.waitJS("the page to stay logged in as bob", `document.body.dataset.user === "bob"`)
	})

	// A raw tube: the test kills it below and expects the console to end at once.
	owner := w.remoteForward(t, fmt.Sprintf("myhost:22:localhost:%d", w.target.port), "alice.wsraw")
	firstFP := fingerprint(t, w.target.hostKeyPub)

	step("console with host key on first use", func(t *testing.T) {
		b.t = t
		connectConsole(b, w)
		b.waitVisible("hostkey-new-panel")
		if got := b.textOf("hostkey-fingerprint"); got != firstFP {
			t.Fatalf("#hostkey-fingerprint = %q, want the sshd's %s", got, firstFP)
		}
		b.click("hostkey-accept")
		b.waitJS("the console to open", `document.body.dataset.console === "open"`)
		b.waitPrompt()
		b.typeTerminal("echo $((6*7))\r")
		b.waitScreenLine("42")
	})

	step("resize reaches the pty", func(t *testing.T) {
		b.t = t
		before := b.textOf("terminal-size")
		b.run("resize the window", chromedpViewport(700, 500))
		b.waitJS("the terminal to change size", fmt.Sprintf(`document.getElementById("terminal-size").textContent !== %q`, before))
		size := b.textOf("terminal-size")
		cols, rows, ok := strings.Cut(size, "x")
		if !ok {
			t.Fatalf("#terminal-size = %q, want COLSxROWS", size)
		}
		t.Logf("terminal resized from %s to %s", before, size)
		b.typeTerminal("stty size\r")
		b.waitScreenLine(rows + " " + cols)
	})

	step("paste and a 256-colour terminal reach the shell", func(t *testing.T) {
		b.t = t
		// What the browser does on Ctrl+V: a paste event with the clipboard's text on xterm's input.
		var ok bool
		err := b.eval(`(() => {
			const ta = document.querySelector('#terminal textarea');
			if (!ta) return false;
			const dt = new DataTransfer();
			dt.setData('text/plain', 'echo pasted-$((2+3))');
			ta.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
			return true;
		})()`, &ok)
		if err != nil || !ok {
			t.Fatalf("paste into the terminal: %v (no xterm textarea?)", err)
		}
		b.typeTerminal("\r")
		b.waitScreenLine("pasted-5")
		// 256 colours: the host is told so, and programs colour by it.
		b.typeTerminal("echo term=$TERM\r")
		b.waitScreenLine("term=xterm-256color")
	})

	step("-L from the page", func(t *testing.T) {
		b.t = t
		const body = "hello from the host's side"
		httpPort := startHTTP(t, body)
		row := addForward(b, fmt.Sprintf("-L 0:127.0.0.1:%d", httpPort))
		listen := row["listen"]
		if !strings.HasPrefix(listen, "127.0.0.1:") {
			t.Fatalf("-L listens on %q, want a loopback address of the gateway", listen)
		}
		client := w.gw.httpClient(t)
		resp, err := client.Get("http://" + listen + "/")
		if err != nil {
			t.Fatalf("GET through the gateway's listener %s: %v", listen, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(got) != body {
			t.Fatalf("GET through %s: %q (%v), want %q", listen, got, err, body)
		}
		client.CloseIdleConnections() // the row's live count drops back to 0
		b.waitJS("the forward's counters", fmt.Sprintf(`(() => { const r = document.querySelector('#forwards tr[data-id=%q]'); return r && r.dataset.total === "1" && r.dataset.active === "0"; })()`, row["id"]))
		// The row's share link reaches the same service through the gateway's reverse proxy.
		rowSel := fmt.Sprintf(`#forwards tr[data-id=%q]`, row["id"])
		b.run("click the row's .share-link", chromedp.Click(chromedp.CSS(rowSel+" .share-link"), chromedp.NodeVisible))
		share := b.waitJS("the share link's URL", fmt.Sprintf(`(() => { const e = document.querySelector(%q); const s = e ? e.textContent : ""; return (s.startsWith("http") || s.startsWith("share link:")) && s; })()`, rowSel+" .share-url"))
		var url string
		if err := json.Unmarshal(share, &url); err != nil || !strings.HasPrefix(url, "http") {
			t.Fatalf(".share-link: %s", share)
		}
		resp, err = client.Get(url)
		if err != nil {
			t.Fatalf("GET the share link %s: %v", url, err)
		}
		got, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(got) != body {
			t.Fatalf("GET the share link %s: %s %q (%v), want %q", url, resp.Status, got, err, body)
		}
	})

	step("-R from the page", func(t *testing.T) {
		b.t = t
		row := addForward(b, fmt.Sprintf("-R 0:127.0.0.1:%d", echo))
		listen := row["listen"]
		host, port, err := net.SplitHostPort(listen)
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Fatalf("-R listens on %q, want 127.0.0.1:PORT on the host", listen)
		}
		requireEcho(t, listen)
		b.click("forward-remove-" + row["id"])
		b.waitJS("the -R row to go", fmt.Sprintf(`!document.querySelector('#forwards tr[data-id=%q]')`, row["id"]))
		waitRefused(t, listen, waitTimeout)
	})

	step("encrypted PEM key, picked from a file, needs its passphrase", func(t *testing.T) {
		b.t = t
		const passphrase = "e2e-Key-Passphrase"
		key := filepath.Join(shortTempDir(t), "pem_key")
		res := runProgram(t, cmdTimeout, "", nil, w.tl.sshKeygen, "-q", "-t", "ecdsa", "-m", "PEM", "-N", passphrase, "-f", key)
		if res.code != 0 {
			t.Fatalf("ssh-keygen: %s", res)
		}
		if pem := readFile(t, key); !strings.Contains(pem, "BEGIN EC PRIVATE KEY") || !strings.Contains(pem, "ENCRYPTED") {
			t.Fatalf("want an encrypted PEM key, got:\n%s", pem)
		}
		keyHost := startSSHD(t, w.tl, shortTempDir(t), readFile(t, key+".pub"))
		w.remoteForward(t, fmt.Sprintf("keyhost:22:localhost:%d", keyHost.port), "alice.wsraw") // raw: killed at the end of this step, the console through it must end
		w.gw.mustCLI(t, "", "user", "set", "bob", "--permit-open", "myhost@alice:22", "--permit-open", "keyhost@alice:22",
			"--permit-open", fmt.Sprintf("127.0.0.1:%d", echo))
		b.fill("console-target", "keyhost")
		b.fill("console-user", w.login)
		b.fill("console-key", "")
		b.pickFile("console-key-file", key) // the file picker, not a paste
		b.waitJS("the picked key in #console-key", `document.getElementById("console-key").value.includes("BEGIN EC PRIVATE KEY")`)
		b.fill("console-passphrase", "")
		b.click("console-connect")
		b.waitTextContains("console-status", "enter its passphrase")
		b.fill("console-passphrase", passphrase)
		b.click("console-connect")
		b.waitVisible("hostkey-new-panel")
		if got, want := b.textOf("hostkey-fingerprint"), fingerprint(t, keyHost.hostKeyPub); got != want {
			t.Fatalf("#hostkey-fingerprint = %q, want %s", got, want)
		}
		b.click("hostkey-accept")
		b.waitJS("the console to open", `document.body.dataset.console === "open"`)
		b.waitPrompt()
		b.typeTerminal("echo $((6*7))\r")
		b.waitScreenLine("42")
		b.fill("console-passphrase", "")
	})

	step("changed host key refused", func(t *testing.T) {
		b.t = t
		owner.kill() // the console ran through alice's tube: it ends, and says so
		b.waitTextContains("console-status", "disconnected:")
		t.Logf("disconnect reason: %s", b.textOf("console-status"))

		other := startSSHD(t, w.tl, shortTempDir(t), readFile(t, w.targetKey+".pub"))
		deadline := time.Now().Add(waitTimeout)
		for {
			_, err := w.tryRemoteForward(t, fmt.Sprintf("myhost:22:localhost:%d", other.port), "alice.ws")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("alice could not publish myhost:22 again: %v", err)
			}
		}
		connectConsole(b, w)
		b.waitVisible("hostkey-changed-panel")
		secondFP := fingerprint(t, other.hostKeyPub)
		if old, now := b.textOf("hostkey-old"), b.textOf("hostkey-new"); !strings.Contains(old, firstFP) || !strings.Contains(now, secondFP) {
			t.Fatalf("changed host key: shows old %q and new %q, want %s and %s", old, now, firstFP, secondFP)
		}
		b.waitTextContains("console-status", "not connected")
		var state string
		if err := b.eval(`document.body.dataset.console || ""`, &state); err != nil || state != "failed" {
			t.Fatalf("console state %q (%v) after a changed host key, want failed", state, err)
		}
	})
}

// requirePage fails unless the gateway binary serves the built page.
func requirePage(t *testing.T, g *gateway) {
	t.Helper()
	resp, err := g.httpClient(t).Get(g.scheme() + "://" + g.httpAddr + "/")
	if err != nil {
		t.Fatalf("GET /: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s; the binary has no page: run `make web` (make build and make test do) before go test ./e2e/", resp.Status)
	}
}

// connectConsole fills the console form for the throw-away sshd behind myhost, with its private
// key pasted, and clicks connect.
func connectConsole(b *browser, w *world) {
	b.t.Helper()
	b.fill("console-target", "myhost")
	b.fill("console-user", w.login)
	b.fill("console-key", readFile(b.t, w.targetKey))
	b.click("console-connect")
}

// addForward adds a forward from the page and returns its row's id, listen and endpoint.
func addForward(b *browser, spec string) map[string]string {
	b.t.Helper()
	var before int
	if err := b.eval(`document.querySelectorAll("#forwards tr").length`, &before); err != nil {
		b.t.Fatalf("count forwards: %v", err)
	}
	b.fill("forward-spec", spec)
	b.click("forward-add")
	b.waitJS("a new row in #forwards for "+spec, fmt.Sprintf(`document.querySelectorAll("#forwards tr").length > %d || !document.getElementById("forward-error").hidden`, before))
	if msg := b.textOf("forward-error"); msg != "" {
		b.t.Fatalf("forward %s refused: %s", spec, msg)
	}
	var row map[string]string
	if err := b.eval(`(() => { const r = [...document.querySelectorAll("#forwards tr")].pop(); return { id: r.dataset.id, endpoint: r.dataset.endpoint, listen: r.querySelector(".listen").textContent }; })()`, &row); err != nil {
		b.t.Fatalf("read the forward's row: %v", err)
	}
	b.t.Logf("forward %s: %v", spec, row)
	return row
}

// fingerprint returns the SHA256 fingerprint of an authorized_keys line.
func fingerprint(t *testing.T, pub string) string {
	t.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	if err != nil {
		t.Fatalf("parse %q: %v", pub, err)
	}
	return ssh.FingerprintSHA256(k)
}

// startHTTP serves body on a loopback port for the test's lifetime and returns the port.
func startHTTP(t *testing.T, body string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("http service: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}
