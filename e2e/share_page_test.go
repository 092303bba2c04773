package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestSharePageLinkOptions: a share link made from a -L forward's row in headless Chromium with
// the row's link options (a user name and password, max uses 1) opens once with the password
// and is refused ("used up") to the next viewer; the row's Copy button puts the URL on the
// clipboard and says "Copied"; the links list shows "1 of 1 uses".
func TestSharePageLinkOptions(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	b := startBrowser(t, "http://"+w.gw.httpAddr)
	requirePage(t, w.gw)
	w.addUser(t, "alice", "--permit-name", "myhost")
	w.gw.mustCLI(t, browserPassword+"\n", "user", "add", "bob", "--password-stdin", "--permit-open", "myhost@alice:22")
	w.remoteForward(t, fmt.Sprintf("myhost:22:localhost:%d", w.target.port), "alice.ws")
	b.open("/")
	b.waitVisible("login")
	b.fill("login-user", "bob")
	b.fill("login-password", browserPassword)
	b.click("login-submit")
	b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)
	connectConsole(b, w)
	b.waitVisible("hostkey-new-panel")
	b.click("hostkey-accept")
	b.waitJS("the console to open", `document.body.dataset.console === "open"`)

	const body = "hello through a guarded link"
	row := addForward(b, fmt.Sprintf("-L 0:127.0.0.1:%d", startHTTP(t, body)))
	rowSel := fmt.Sprintf(`#forwards tr[data-id=%q]`, row["id"])
	var ok bool
	if err := b.eval(fmt.Sprintf(`(() => {
		const r = document.querySelector(%q);
		r.querySelector('.share-options').open = true;
		const g = r.querySelector('.share-guard');
		g.value = 'password';
		g.dispatchEvent(new Event('change'));
		if (r.querySelector('.share-creds').hidden) return false;
		r.querySelector('.share-user').value = 'viewer';
		r.querySelector('.share-password').value = 'open-sesame-1';
		r.querySelector('.share-max-uses').value = '1';
		r.querySelector('.share-expires').value = '24h';
		navigator.clipboard.writeText = (t) => { window.__copied = t; return Promise.resolve(); };
		r.querySelector('.share-link').click();
		return true;
	})()`, rowSel), &ok); err != nil || !ok {
		t.Fatalf("fill the row's link options: %v (the password fields did not show: %v)", err, !ok)
	}
	raw := b.waitJS("the share link's URL", fmt.Sprintf(`(() => { const e = document.querySelector(%q); const s = e ? e.textContent : ""; return (s.startsWith("http") || s.startsWith("share link:")) && s; })()`, rowSel+" .share-url"))
	var url string
	if err := json.Unmarshal(raw, &url); err != nil || !strings.HasPrefix(url, "http") {
		t.Fatalf("share link from the page: %s", raw)
	}

	b.clickCSS(rowSel + " .share-copy")
	b.waitJS("the Copy button to say Copied", fmt.Sprintf(`document.querySelector(%q).textContent === "Copied"`, rowSel+" .share-copy"))
	var copied string
	if err := b.eval(`window.__copied`, &copied); err != nil || copied != url {
		t.Fatalf("Copy put %q (%v) on the clipboard, want %q", copied, err, url)
	}

	auth := func(r *http.Request) { r.SetBasicAuth("viewer", "open-sesame-1") }
	if status, _, _ := httpGet(t, url); status != http.StatusUnauthorized {
		t.Fatalf("GET the link without its password: %d, want 401", status)
	}
	status, got, hdr := httpGet(t, url, auth)
	if status != http.StatusOK || got != body {
		t.Fatalf("first viewer with the password: %d %q, want 200 %q", status, got, body)
	}
	var visit *http.Cookie
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if strings.HasPrefix(c.Name, "tubegate_visit_") {
			visit = c
		}
	}
	if visit == nil {
		t.Fatalf("the first viewer got no visit cookie: %v", hdr.Values("Set-Cookie"))
	}
	if status, got, _ := httpGet(t, url, auth, func(r *http.Request) { r.AddCookie(visit) }); status != http.StatusOK || got != body {
		t.Fatalf("the first viewer again, with its cookie: %d %q, want 200", status, got)
	}
	status, got, _ = httpGet(t, url, auth)
	if status != http.StatusGone || !strings.Contains(got, "used up") {
		t.Fatalf("second viewer with the password: %d, want 410 used up; body %q", status, got)
	}
	var id string
	if err := b.eval(fmt.Sprintf(`document.querySelector(%q).dataset.linkId`, rowSel), &id); err != nil || id == "" {
		t.Fatalf("the row has no link id: %v", err)
	}
	b.waitJS("the links list to show the use", fmt.Sprintf(`(() => { const r = document.querySelector('#links tr[data-id=%q]'); return !!r && r.textContent.includes("1 of 1 uses"); })()`, id))
}
