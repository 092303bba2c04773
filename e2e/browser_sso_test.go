package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// signInAtProvider clicks the page's "Sign in with" button and signs in on
// the provider's own login page (the example server's form) as user.
func signInAtProvider(b *browser, issuer, user, password string) {
	b.t.Helper()
	b.waitVisible("login-sso")
	b.click("login-sso")
	b.waitJS("the provider's login page", fmt.Sprintf(`location.origin === %q && !!document.getElementById("username")`, issuer))
	b.fill("username", user)
	b.fill("password", password)
	b.run("submit the provider's login form", chromedp.Click(chromedp.CSS(`button[type="submit"]`), chromedp.NodeVisible))
}

// TestBrowserSSO: in Chromium, a full sign-in through the provider's own
// login page ends in a working console; a person the gateway does not know
// is refused with a page that says so; a callback whose state was tampered
// with is refused, and signing in again then works.
func TestBrowserSSO(t *testing.T) {
	people := []oidcUser{
		{ID: "id-alice", Username: "alice", Password: "alice-at-the-idp"},
		{ID: "id-carol", Username: "carol", Password: "carol-at-the-idp"},
	}
	w := newSSOWorld(t, people, nil)
	base := "http://" + w.gw.httpAddr
	b := startBrowser(t, base)
	requirePage(t, w.gw)
	w.addUser(t, "alice", "--permit-name", "myhost") // her key publishes myhost; the page is hers by SSO
	w.remoteForward(t, fmt.Sprintf("myhost:22:localhost:%d", w.target.port), "alice.ws")
	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}

	step("sign in through the provider, then a console", func(t *testing.T) {
		b.t = t
		b.open("/")
		b.waitVisible("login-sso")
		b.waitVisible("login-form") // password login stays on by default
		if got := b.textOf("login-sso"); got != "Sign in with "+strings.TrimPrefix(w.issuer, "http://") {
			t.Fatalf("#login-sso = %q", got)
		}
		signInAtProvider(b, w.issuer, "alice", "alice-at-the-idp")
		b.waitJS("the page to be signed in as alice", fmt.Sprintf(`location.origin === %q && document.body.dataset.user === "alice"`, base))
		w.gw.waitLog(t, `msg="web login"`, "user=alice", "method=oidc")
		connectConsole(b, w.world)
		b.waitVisible("hostkey-new-panel")
		b.click("hostkey-accept")
		b.waitJS("the console to open", `document.body.dataset.console === "open"`)
		b.waitPrompt()
		b.typeTerminal("echo sso-$((6*7))\r")
		b.waitScreenLine("sso-42")
		b.click("logout")
		b.waitVisible("login")
	})

	step("unknown user refused", func(t *testing.T) {
		b.t = t
		b.open("/")
		signInAtProvider(b, w.issuer, "carol", "carol-at-the-idp")
		msg := b.waitTextContains("sso-error", `this gateway has no user "carol"`)
		t.Logf("carol sees: %s", msg)
		b.click("sso-back")
		b.waitVisible("login")
		var user string
		if err := b.eval(`document.body.dataset.user || ""`, &user); err != nil || user != "" {
			t.Fatalf("after the refusal the page is logged in as %q (%v)", user, err)
		}
		w.gw.waitLog(t, `msg="sign-in refused"`, `reason="no such user"`, "user=carol")
	})

	step("tampered state refused", func(t *testing.T) {
		b.t = t
		paused := make(chan *fetch.EventRequestPaused, 4)
		if err := chromedp.Listen(b.ctx, func(ev any) {
			if ev, ok := ev.(*fetch.EventRequestPaused); ok {
				select {
				case paused <- ev:
				default:
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		intercept := func(on bool) chromedp.Action[chromedp.Void] {
			return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				if !on {
					_, err := cdp.Call(ctx, tg, fetch.Disable, cdp.Empty{})
					return err
				}
				_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/auth/oidc/callback*"}}})
				return err
			})
		}
		b.open("/")
		b.run("hold the callback", intercept(true))
		signInAtProvider(b, w.issuer, "alice", "alice-at-the-idp")
		var ev *fetch.EventRequestPaused
		select {
		case ev = <-paused:
		case <-time.After(browserTimeout):
			t.Fatalf("the provider did not send the browser to the callback within %v\n%s", browserTimeout, b.text())
		}
		// The browser never reaches the gateway with the real callback: it is
		// answered here, and the browser is sent to a tampered one instead,
		// with the sign-in cookie it holds.
		b.run("answer the held callback", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: http.StatusNoContent})
			return err
		}), intercept(false))
		cb, err := url.Parse(ev.Request.URL)
		if err != nil {
			t.Fatal(err)
		}
		q := cb.Query()
		state := q.Get("state")
		q.Set("state", strings.ToUpper(state[:1])+state[1:]+"A")
		cb.RawQuery = q.Encode()
		b.open(cb.String())
		msg := b.waitTextContains("sso-error", "state parameter does not match")
		t.Logf("tampered state: %s", msg)
		w.gw.waitLog(t, `msg="sign-in refused"`, "state parameter does not match")
		b.click("sso-back")
		b.waitVisible("login")
		signInAtProvider(b, w.issuer, "alice", "alice-at-the-idp")
		b.waitJS("a fresh sign-in to work after the refusal", `document.body.dataset.user === "alice"`)
	})
}

// TestBrowserSSOAutoCreate: with --oidc-auto-create and
// --password-login=false, the page shows no password form, a person new to
// the gateway signs in and gets a user with an empty policy, and the
// password API refuses even a right password.
func TestBrowserSSOAutoCreate(t *testing.T) {
	auditLog := filepath.Join(shortTempDir(t), "audit.jsonl")
	w := newSSOWorld(t, []oidcUser{{ID: "id-dave", Username: "dave", Password: "dave-at-the-idp"}},
		[]string{"--oidc-auto-create", "--password-login=false", "--audit-log", auditLog})
	base := "http://" + w.gw.httpAddr
	w.gw.mustCLI(t, browserPassword+"\n", "user", "add", "bob", "--password-stdin")
	b := startBrowser(t, base)
	requirePage(t, w.gw)
	b.open("/")
	b.waitVisible("login-sso")
	b.waitJS("the password form to be hidden", `document.body.dataset.passwordLogin === "off" && document.getElementById("login-form").hidden`)
	signInAtProvider(b, w.issuer, "dave", "dave-at-the-idp")
	b.waitJS("the page to be signed in as dave", `document.body.dataset.user === "dave"`)
	w.gw.waitLog(t, `msg="sign-in made a new user with an empty policy"`, "user=dave")
	list := w.gw.mustCLI(t, "", "user", "list").stdout
	var dave string
	for _, ln := range strings.Split(list, "\n") {
		if f := strings.Fields(ln); len(f) > 0 && f[0] == "dave" {
			dave = ln
		}
	}
	if dave == "" || !strings.Contains(dave, "false") {
		t.Fatalf("dave in `gateway user list` (want not admin):\n%s", list)
	}
	t.Logf("auto-created: %s", dave)
	waitAudit(t, auditLog, map[string]string{"event": "user.create", "subject": "dave", "by": "oidc:" + strings.TrimPrefix(w.issuer, "http://")})

	// The password API, with bob's right password: refused, from the page
	// and from a script alike.
	var got struct {
		Status int    `json:"status"`
		Error  string `json:"error"`
	}
	var started bool
	if err := b.eval(fmt.Sprintf(`(() => { window.pwLogin = null; fetch("/api/login", {method: "POST", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({user: "bob", password: %q})}).then(async (r) => { window.pwLogin = {status: r.status, error: (await r.json()).error}; }); return true; })()`,
		browserPassword), &started); err != nil || !started {
		t.Fatalf("password login call from the page: %v", err)
	}
	raw := b.waitJS("the page's password login call", `window.pwLogin`)
	if err := json.Unmarshal(raw, &got); err != nil || got.Status != http.StatusForbidden || !strings.Contains(got.Error, "password login is turned off") {
		t.Fatalf("POST /api/login from the page: %s (%v)", raw, err)
	}
	resp, err := http.Post(base+"/api/login", "application/json", strings.NewReader(fmt.Sprintf(`{"user":"bob","password":%q}`, browserPassword)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || hasSessionCookie(resp.Cookies()) {
		t.Fatalf("POST /api/login: %s, session cookie %v", resp.Status, hasSessionCookie(resp.Cookies()))
	}
	w.gw.waitLog(t, `msg="web login refused: password login is turned off"`, "user=bob")
	waitAudit(t, auditLog, map[string]string{"event": "web.login", "outcome": "refused", "user": "bob", "method": "password", "reason": "password login is turned off"})
}
