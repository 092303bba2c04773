package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestShareLinkPage: the page's share links list (web/src/links.js) in headless Chromium shows
// the logged-in user's links, made from the command line too, and its Revoke button revokes one:
// the row goes and the link answers 404, while the other link keeps working.
func TestShareLinkPage(t *testing.T) {
	w := newShareWorld(t)
	requirePage(t, w.gw)
	w.gw.mustCLI(t, browserPassword+"\n", "user", "set", "alice", "--password-stdin")
	keep := createLink(t, w.gw, "myapp:80", "--user", "alice")
	gone := createLink(t, w.gw, "myapp:80", "--user", "alice", "--basic-auth", "viewer:open-sesame")
	createLink(t, w.gw, w.bobKey, "--user", "bob") // not alice's: never listed for her

	b := startBrowser(t, "http://"+w.gw.httpAddr)
	b.open("/")
	b.waitVisible("login")
	b.fill("login-user", "alice")
	b.fill("login-password", browserPassword)
	b.click("login-submit")
	b.waitJS("the page to log in as alice", `document.body.dataset.user === "alice"`)

	rows := `[...document.querySelectorAll("#links tr")].map(r => r.dataset.id).sort().join(",")`
	want := []string{keep.id, gone.id}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	b.waitJS("both of alice's links listed", fmt.Sprintf(`%s === %q`, rows, strings.Join(want, ",")))
	var guards string
	if err := b.eval(fmt.Sprintf(`document.querySelector('#links tr[data-id=%q]').textContent`, gone.id), &guards); err != nil || !strings.Contains(guards, "password") {
		t.Fatalf("the basic-auth link's row %q (%v) does not show its guard", guards, err)
	}

	b.click("link-revoke-" + gone.id)
	b.waitJS("the revoked link's row to go", fmt.Sprintf(`%s === %q`, rows, keep.id))
	if status, _, _ := httpGet(t, gone.url, func(r *http.Request) { r.SetBasicAuth("viewer", "open-sesame") }); status != http.StatusNotFound {
		t.Fatalf("GET the link revoked from the page: %d, want 404", status)
	}
	if status, body, _ := httpGet(t, keep.url); status != http.StatusOK || body != "hello from alpha" {
		t.Fatalf("GET the other link: %d %q", status, body)
	}
	if res := w.gw.mustCLI(t, "", "link", "list"); strings.Contains(res.stdout, gone.id) {
		t.Fatalf("link list still shows the link revoked from the page:\n%s", res.stdout)
	}
}
