package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestSSOSignIn signs in through the test provider's own login page
// without a browser: the gateway's session is a web session like a password
// login's (it reaches /api/session), and the provider's answer came through
// userinfo (its ID tokens carry no preferred_username). The audit log has
// the sign-in, and a refused one, as web.login events of method oidc.
func TestSSOSignIn(t *testing.T) {
	auditLog := filepath.Join(shortTempDir(t), "audit.jsonl")
	w := newSSOWorld(t, []oidcUser{{ID: "id-alice", Username: "alice", Password: "alice-at-the-idp"},
		{ID: "id-carol", Username: "carol", Password: "carol-at-the-idp"}}, []string{"--audit-log", auditLog})
	w.gw.mustCLI(t, "", "user", "add", "alice", "--sso")
	base := "http://" + w.gw.httpAddr
	c := ssoClient()
	cb := providerSignIn(t, c, base+"/auth/oidc/login", "alice", "alice-at-the-idp")
	status, loc, cookies, body := getNoFollow(t, c, cb.String())
	if status != http.StatusSeeOther || loc != "/" || !hasSessionCookie(cookies) {
		t.Fatalf("callback: %d, Location %q, session cookie %v:\n%s", status, loc, hasSessionCookie(cookies), body)
	}
	if got := sessionUser(t, c, base); got != "alice" {
		t.Fatalf("after sign-in, /api/session says %q, want alice", got)
	}
	ln := w.gw.waitLog(t, `msg="web login"`, "user=alice", "method=oidc")
	if !strings.Contains(ln, "remote=127.0.0.1:") {
		t.Fatalf("web login line without the remote address: %s", ln)
	}
	waitAudit(t, auditLog, map[string]string{"event": "web.login", "outcome": "success", "user": "alice", "method": "oidc"})

	c = ssoClient()
	cb = providerSignIn(t, c, base+"/auth/oidc/login", "carol", "carol-at-the-idp")
	if status, _, cookies, body := getNoFollow(t, c, cb.String()); status != http.StatusForbidden || hasSessionCookie(cookies) {
		t.Fatalf("carol, unknown to the gateway: %d:\n%s", status, body)
	}
	e := waitAudit(t, auditLog, map[string]string{"event": "web.login", "outcome": "refused", "user": "carol", "method": "oidc", "reason": "no such user"})
	if !strings.HasPrefix(e.s("source"), "127.0.0.1:") {
		t.Fatalf("refused web.login without its source: %v", e)
	}
}
