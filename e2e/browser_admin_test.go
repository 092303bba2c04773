package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// clickAll clicks every element matching the CSS selector sel (after
// waiting for one), n times each: the admin page asks for a second click
// to confirm what it cannot undo.
func clickSel(b *browser, sel string, n int) {
	b.t.Helper()
	b.waitJS(sel+" to be shown", fmt.Sprintf(`!!document.querySelector(%q)`, sel))
	for range n {
		var ok bool
		if err := b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.click(); return true; })()`, sel), &ok); err != nil || !ok {
			b.t.Fatalf("click %s: %v\n--- page text\n%s", sel, err, b.text())
		}
	}
}

// cliError is what `gateway ARGS` says on failure, without "gateway: ".
func cliError(t *testing.T, g *gateway, stdin string, args ...string) string {
	t.Helper()
	res := g.cli(t, stdin, args...)
	if res.code == 0 {
		t.Fatalf("gateway %v succeeded, want a refusal", args)
	}
	return strings.TrimPrefix(strings.TrimSpace(res.stderr), "gateway: ")
}

// TestBrowserAdmin: an administrator, in Chromium, on /admin: adds a user
// (a short password refused with the CLI's words), changes one (a bad
// permit-open refused with the CLI's words), disconnects a live tube,
// revokes another user's share link, and deletes a user whose tube is cut
// off within a second; the CLI sees every change, and the page lists the
// audit events.
func TestBrowserAdmin(t *testing.T) {
	w := newAdminWorld(t)
	g := w.g
	outer := t // what must outlive a step (bob's second tube) is cleaned up with the test
	requirePage(t, g)
	b := startBrowser(t, "http://"+g.httpAddr)
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}
	step("an admin finds the admin page", func(t *testing.T) {
		b.t = t
		b.open("/")
		b.fill("login-user", "root")
		b.fill("login-password", rootPassword)
		b.click("login-submit")
		b.waitJS("the page to log in as root", `document.body.dataset.user === "root"`)
		b.waitVisible("admin-link")
		b.click("admin-link")
		b.waitVisible("admin")
		b.waitJS("bob in the users", `!!document.querySelector('#admin-users tr[data-name="bob"]')`)
	})

	step("add a user", func(t *testing.T) {
		b.t = t
		want := cliError(t, g, "short\n", "user", "add", "dave", "--password-stdin")
		if err := b.eval(`document.getElementById("user-add-box").open = true`, new(bool)); err != nil {
			t.Fatal(err)
		}
		b.fill("user-name", "carol")
		b.fill("user-password", "short")
		b.click("user-add")
		if got := b.waitTextContains("user-error", "password"); got != want {
			t.Errorf("short password: the page says %q, gateway user add says %q", got, want)
		}
		b.fill("user-password", "carol-password-1")
		b.fill("user-permit-open", "localhost:22")
		b.click("user-add")
		b.waitJS("carol in the users", `!!document.querySelector('#admin-users tr[data-name="carol"]')`)
		if out := g.mustCLI(t, "", "user", "list").stdout; !strings.Contains(out, "carol") || !strings.Contains(out, "localhost:22") {
			t.Errorf("gateway user list after the page added carol:\n%s", out)
		}
	})

	step("change a user", func(t *testing.T) {
		b.t = t
		want := cliError(t, g, "", "user", "set", "carol", "--permit-open", "nohost")
		clickSel(b, `#admin-users tr[data-name="carol"] .user-edit`, 1)
		b.waitVisible("edit-form")
		b.fill("edit-permit-open", "nohost")
		b.click("edit-save")
		if got := b.waitTextContains("edit-error", "nohost"); got != want {
			t.Errorf("bad permit-open: the page says %q, gateway user set says %q", got, want)
		}
		b.fill("edit-permit-open", "127.0.0.1:8080")
		if err := b.eval(`document.getElementById("edit-admin").checked = true`, new(bool)); err != nil {
			t.Fatal(err)
		}
		b.click("edit-save")
		b.waitJS("the edit form to close", `document.getElementById("edit-form").hidden`)
		out := g.mustCLI(t, "", "user", "list").stdout
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "carol ") {
				line = l
			}
		}
		if f := strings.Fields(line); len(f) < 4 || f[1] != "true" || !strings.Contains(line, "127.0.0.1:8080") {
			t.Errorf("carol after the change, by gateway user list: %q", line)
		}
	})

	step("disconnect a tube", func(t *testing.T) {
		b.t = t
		_, done := w.bobTube(t)
		clickSel(b, `#admin-tubes tr[data-user="bob"] .tube-disconnect`, 2)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("bob's tube still open 10 s after Disconnect")
		}
		b.waitJS("bob's tube gone from the list", `!document.querySelector('#admin-tubes tr[data-user="bob"]')`)
	})

	var deleted <-chan struct{}
	step("revoke another user's share link", func(t *testing.T) {
		b.t = t
		tube, done := w.bobTube(outer)
		deleted = done
		ep := publishHTTP(t, tube, "bob's service")
		link := createLink(t, g, ep, "--user", "bob")
		if code, body, _ := httpGet(t, link.url); code != 200 || body != "bob's service" {
			t.Fatalf("the link before: %d %q", code, body)
		}
		clickSel(b, fmt.Sprintf(`#admin-links tr[data-id=%q] .link-revoke`, link.id), 2)
		b.waitJS("the link gone from the list", fmt.Sprintf(`!document.querySelector('#admin-links tr[data-id=%q]')`, link.id))
		if code, _, _ := httpGet(t, link.url); code == 200 {
			t.Errorf("the link still opens after Revoke: %d", code)
		}
		if out := g.mustCLI(t, "", "link", "list").stdout; strings.Contains(out, link.id) {
			t.Errorf("gateway link list still has %s:\n%s", link.id, out)
		}
	})

	step("delete a user: cut off within a second", func(t *testing.T) {
		b.t = t
		select {
		case <-deleted:
			t.Fatal("bob's tube closed before he was deleted")
		default:
		}
		start := time.Now()
		clickSel(b, `#admin-users tr[data-name="bob"] .user-delete`, 2)
		select {
		case <-deleted:
			t.Logf("bob's tube closed %v after the delete was clicked", time.Since(start).Round(time.Millisecond))
		case <-time.After(waitTimeout):
			t.Fatalf("bob's tube still open %v after he was deleted", waitTimeout)
		}
		if out := g.mustCLI(t, "", "user", "list").stdout; strings.Contains(out, "\nbob ") {
			t.Errorf("gateway user list still has bob:\n%s", out)
		}
	})

	step("the audit events on the page", func(t *testing.T) {
		b.t = t
		for _, ev := range []string{"user.create", "user.change", "user.delete", "tube.disconnect", "link.revoke", "web.login"} {
			b.waitJS(ev+" in the events", fmt.Sprintf(`!!document.querySelector('#admin-events tr[data-event=%q]')`, ev))
		}
	})
}

// TestBrowserAdminRefused: a user who is not an administrator sees no
// link to the admin page, and /admin shows nothing but the refusal.
func TestBrowserAdminRefused(t *testing.T) {
	w := newAdminWorld(t)
	requirePage(t, w.g)
	b := startBrowser(t, "http://"+w.g.httpAddr)
	b.open("/")
	b.fill("login-user", "bob")
	b.fill("login-password", bobPassword)
	b.click("login-submit")
	b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)
	b.open("/admin")
	msg := b.waitTextContains("admin-error", "administrators only")
	t.Logf("the admin page to bob: %q", msg)
	var shown bool
	if err := b.eval(`!document.getElementById("admin").hidden || document.querySelectorAll("#admin-users tr").length > 0`, &shown); err != nil || shown {
		t.Errorf("the admin page showed its tables to a non-admin (%v)", err)
	}
	b.open("/")
	b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)
	if err := b.eval(`!document.getElementById("admin-link").hidden`, &shown); err != nil || shown {
		t.Errorf("the main page shows bob the admin link (%v)", err)
	}
}
