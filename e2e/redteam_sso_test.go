package e2e

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// The single sign-on attacks, each against the built gateway and the test
// provider (e2e/testdata/oidcprovider) on loopback.

var ssoPeople = []oidcUser{
	{ID: "id-alice", Username: "alice", Password: "alice-at-the-idp"},
	{ID: "id-mallory", Username: "mallory", Password: "mallory-at-the-idp"},
}

// startSignIn GETs the gateway's /auth/oidc/login with c (not followed)
// and returns the authorization URL it sends the browser to.
func startSignIn(t *testing.T, c *http.Client, base, query string) *url.URL {
	t.Helper()
	status, loc, _, body := getNoFollow(t, c, base+"/auth/oidc/login"+query)
	u, err := url.Parse(loc)
	if status != http.StatusFound || err != nil {
		t.Fatalf("GET /auth/oidc/login: %d, Location %q:\n%s", status, loc, body)
	}
	return u
}

// TestRedteamSSOLoginCSRF: mallory signs in at the provider as herself and
// has the victim's browser open the callback URL she got, to log the victim
// in as mallory (login CSRF). The state is bound to mallory's browser, so
// the victim's is refused, with or without a sign-in of its own under way.
func TestRedteamSSOLoginCSRF(t *testing.T) {
	w := newSSOWorld(t, ssoPeople, nil)
	w.gw.mustCLI(t, "", "user", "add", "mallory", "--sso")
	base := "http://" + w.gw.httpAddr
	cb := providerSignIn(t, ssoClient(), base+"/auth/oidc/login", "mallory", "mallory-at-the-idp")

	fresh := ssoClient() // a victim with no sign-in under way
	busy := ssoClient()  // a victim in the middle of their own
	startSignIn(t, busy, base, "")
	var seen []string
	for name, victim := range map[string]*http.Client{"no sign-in": fresh, "own sign-in": busy} {
		status, _, cookies, body := getNoFollow(t, victim, cb.String())
		user := sessionUser(t, victim, base)
		seen = append(seen, fmt.Sprintf("%s: %d, session %v, user %q", name, status, hasSessionCookie(cookies), user))
		if status != http.StatusBadRequest || hasSessionCookie(cookies) || user != "" {
			t.Errorf("mallory's callback in a victim's browser (%s): %d, session cookie %v, logged in as %q:\n%s",
				name, status, hasSessionCookie(cookies), user, body)
		}
		if !strings.Contains(body, "Start again") {
			t.Errorf("the refusal page does not say what to do:\n%s", body)
		}
	}
	w.gw.waitLog(t, `msg="sign-in refused"`, "no sign-in was started in this browser")
	w.gw.waitLog(t, `msg="sign-in refused"`, "state parameter does not match")
	redteam(t, "SSO login CSRF: mallory's callback URL opened in a victim's browser",
		"refused (400), no session", strings.Join(seen, "; "))
}

// TestRedteamSSOReplayedCallback: after alice signs in, someone who captured
// her callback URL and sign-in cookie (a proxy log, a shared machine) replays
// them. The sign-in was completed once: refused before the code is redeemed
// again.
func TestRedteamSSOReplayedCallback(t *testing.T) {
	w := newSSOWorld(t, ssoPeople, nil)
	w.gw.mustCLI(t, "", "user", "add", "alice", "--sso")
	base := "http://" + w.gw.httpAddr
	c := ssoClient()
	cb := providerSignIn(t, c, base+"/auth/oidc/login", "alice", "alice-at-the-idp")
	stolen := c.Jar.Cookies(cb)
	status, _, cookies, body := getNoFollow(t, c, cb.String())
	if status != http.StatusSeeOther || !hasSessionCookie(cookies) {
		t.Fatalf("alice's own sign-in: %d:\n%s", status, body)
	}
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(cb, stolen)
	thief := ssoClient()
	thief.Jar = jar
	status, _, cookies, body = getNoFollow(t, thief, cb.String())
	user := sessionUser(t, thief, base)
	if status != http.StatusBadRequest || hasSessionCookie(cookies) || user != "" || !strings.Contains(body, "replayed") {
		t.Fatalf("replayed callback: %d, session cookie %v, logged in as %q:\n%s", status, hasSessionCookie(cookies), user, body)
	}
	w.gw.waitLog(t, `msg="sign-in refused"`, "callback was replayed")
	redteam(t, "SSO callback replayed with the captured cookie after a sign-in",
		"refused (400) before the code is redeemed again", fmt.Sprintf("%d, session %v, user %q, logged: replayed", status, hasSessionCookie(cookies), user))
}

// TestRedteamSSOOpenRedirect: the sign-in start is given somewhere else to
// send the browser (next, return_to, redirect_uri). It takes no parameters:
// the provider is sent the gateway's own callback, and a completed sign-in
// lands on the page.
func TestRedteamSSOOpenRedirect(t *testing.T) {
	w := newSSOWorld(t, ssoPeople, nil)
	w.gw.mustCLI(t, "", "user", "add", "alice", "--sso")
	base := "http://" + w.gw.httpAddr
	c := ssoClient()
	evil := "?next=https://evil.test/&return_to=//evil.test/&redirect_uri=https://evil.test/cb&redirect=https://evil.test/"
	authz := startSignIn(t, c, base, evil)
	redirectURI := authz.Query().Get("redirect_uri")
	if redirectURI != base+"/auth/oidc/callback" || strings.Contains(authz.String(), "evil") {
		t.Fatalf("the provider is asked to send the browser to %q (%s)", redirectURI, authz)
	}
	cb := providerSignIn(t, c, authz.String(), "alice", "alice-at-the-idp")
	status, loc, _, body := getNoFollow(t, c, cb.String()+"&next=https://evil.test/")
	if status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("callback: %d, Location %q, want 303 to /:\n%s", status, loc, body)
	}
	redteam(t, "SSO open redirect: next/return_to/redirect_uri on the sign-in start and callback",
		"ignored: redirect_uri is the gateway's callback, the sign-in lands on /", fmt.Sprintf("redirect_uri %s, then %d to %q", redirectURI, status, loc))
}

// TestRedteamSSOClaimNotAUserName: people whose preferred_username at the
// provider is not a gateway user name, some one normalization away from the
// admin's, sign in with --oidc-auto-create on. Each is refused: no session,
// no user made, and nobody becomes admin.
func TestRedteamSSOClaimNotAUserName(t *testing.T) {
	names := []string{"Admin", "admin ", "../admin", "admin@example.com", "ad min", "ａdmin"}
	var people []oidcUser
	for i, n := range names {
		people = append(people, oidcUser{ID: fmt.Sprintf("id-%d", i), Username: n, Password: "pw-at-the-idp"})
	}
	w := newSSOWorld(t, people, []string{"--oidc-auto-create"})
	base := "http://" + w.gw.httpAddr
	before := w.gw.mustCLI(t, "", "user", "list").stdout
	refused := 0
	for _, n := range names {
		c := ssoClient()
		cb := providerSignIn(t, c, base+"/auth/oidc/login", n, "pw-at-the-idp")
		status, _, cookies, body := getNoFollow(t, c, cb.String())
		if status == http.StatusForbidden && !hasSessionCookie(cookies) && strings.Contains(body, "not a valid user name") && sessionUser(t, c, base) == "" {
			refused++
		} else {
			t.Errorf("preferred_username %q: %d, session cookie %v:\n%s", n, status, hasSessionCookie(cookies), body)
		}
	}
	after := w.gw.mustCLI(t, "", "user", "list").stdout
	if after != before {
		t.Errorf("users changed:\n--- before\n%s--- after\n%s", before, after)
	}
	w.gw.waitLog(t, `msg="sign-in refused"`, "not a valid user name")
	redteam(t, "SSO claim that is not a user name (Admin, ../admin, fullwidth ａdmin, ...) with --oidc-auto-create",
		"refused (403), no user made, no session", fmt.Sprintf("%d of %d refused, users unchanged: %v", refused, len(names), after == before))
}

// TestRedteamSSOCodeForAnotherClient: an authorization code the provider
// issued to another application (client otherapp, whose ID token is for
// that audience) is brought to the gateway's callback, with a state the
// gateway issued. The gateway redeems codes with its own client
// credentials and checks the ID token's audience: refused.
func TestRedteamSSOCodeForAnotherClient(t *testing.T) {
	w := newSSOWorld(t, ssoPeople, nil, "otherapp:other-secret:http://127.0.0.1:1/unused")
	w.gw.mustCLI(t, "", "user", "add", "alice", "--sso")
	base := "http://" + w.gw.httpAddr
	c := ssoClient()
	authz := startSignIn(t, c, base, "")
	// The same request, for the other client: the provider sends its code
	// to the gateway's callback only if otherapp registered it, so the
	// attacker brings it by hand.
	q := authz.Query()
	q.Set("client_id", "otherapp")
	q.Set("redirect_uri", "http://127.0.0.1:1/unused")
	authz.RawQuery = q.Encode()
	cb := providerSignInTo(t, c, authz.String(), "alice", "alice-at-the-idp", "/unused")
	forged := base + "/auth/oidc/callback?" + cb.RawQuery
	status, _, cookies, body := getNoFollow(t, c, forged)
	user := sessionUser(t, c, base)
	if status != http.StatusForbidden || hasSessionCookie(cookies) || user != "" {
		t.Fatalf("otherapp's code at the gateway: %d, session cookie %v, logged in as %q:\n%s", status, hasSessionCookie(cookies), user, body)
	}
	ln := w.gw.waitLog(t, `msg="sign-in refused"`, "code refused by the token endpoint")
	grant := "?"
	if strings.Contains(ln, "invalid_grant") {
		grant = "invalid_grant"
	}
	redteam(t, "SSO code issued to another client (otherapp) brought to the gateway's callback with its state",
		"refused (403): redeemed as the gateway's client, the provider refuses it",
		fmt.Sprintf("%d, session %v; logged: code refused by the token endpoint (%s)", status, hasSessionCookie(cookies), grant))
}
