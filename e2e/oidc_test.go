package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The OpenID provider of the single sign-on tests is e2e/testdata/oidcprovider:
// zitadel/oidc's certified provider package (pkg/op) with its example server's
// login page, built once per run from its own module and started per test on
// a loopback port with the test's users and clients.

var oidcProviderBuild struct {
	once sync.Once
	bin  string
	err  error
}

// requireOIDCProvider builds the test provider once, failing the test if it cannot.
func requireOIDCProvider(t *testing.T) string {
	t.Helper()
	b := &oidcProviderBuild
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "tubegate-oidcprovider-")
		if err != nil {
			b.err = err
			return
		}
		src, err := filepath.Abs(filepath.Join("testdata", "oidcprovider"))
		if err != nil {
			b.err = err
			return
		}
		b.bin = filepath.Join(dir, "oidcprovider")
		build := exec.Command("go", "build", "-o", b.bin, ".")
		build.Dir = src
		if out, err := build.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", src, err, out)
		}
	})
	if b.err != nil {
		t.Fatalf("the test OpenID provider could not be built: %v", b.err)
	}
	return b.bin
}

// oidcUser is a person at the provider: the example server's users file
// format. Username is what the provider gives as preferred_username.
type oidcUser struct {
	ID       string
	Username string
	Password string
}

// ssoSecret is the gateway's client secret at the test provider.
const ssoSecret = "e2e-oidc-client-secret"

// ssoWorld is a gateway with single sign-on and its provider.
type ssoWorld struct {
	*world
	issuer   string
	provider *proc
}

// newSSOWorld reserves the provider's port, starts the gateway with
// --oidc-issuer on it (plus args) and then the provider, which registers
// client "tubegate" with the gateway's callback and more clients
// (ID:SECRET:REDIRECT) if given.
func newSSOWorld(t *testing.T, people []oidcUser, args []string, moreClients ...string) *ssoWorld {
	t.Helper()
	bin := requireOIDCProvider(t)
	port := freePort(t)
	// localhost, not 127.0.0.1: to the browser the provider is another site
	// than the gateway, as it is in a real deployment, so the cookies'
	// SameSite rules are those a real sign-in meets.
	issuer := fmt.Sprintf("http://localhost:%d", port)
	w := newTargetWorld(t)
	secretFile := filepath.Join(w.dir, "oidc-secret")
	writeFile(t, secretFile, ssoSecret+"\n", 0o600)
	w.gw = startGateway(t, filepath.Join(w.dir, "data"), gatewayOpts{args: append([]string{
		"--oidc-issuer", issuer, "--oidc-client-id", "tubegate", "--oidc-client-secret-file", secretFile,
	}, args...)})
	w.writeKnownHosts(t)
	w.writeConfig(t)
	byID := map[string]oidcUser{}
	for _, p := range people {
		byID[p.ID] = p
	}
	data, err := json.Marshal(byID)
	if err != nil {
		t.Fatal(err)
	}
	usersFile := filepath.Join(w.dir, "oidc-users.json")
	writeFile(t, usersFile, string(data), 0o600)
	pargs := []string{"-listen", fmt.Sprintf("127.0.0.1:%d", port), "-issuer", issuer, "-users", usersFile,
		"-client", "tubegate:" + ssoSecret + ":http://" + w.gw.httpAddr + "/auth/oidc/callback"}
	for _, c := range moreClients {
		pargs = append(pargs, "-client", c)
	}
	p := startProc(t, "oidcprovider", nil, bin, pargs...)
	p.mustWaitLine(t, regexp.MustCompile(`^issuer (\S+)`), startTimeout)
	// The gateway found the provider down at its start: sign-ins wait until
	// it has asked again (liveness only).
	deadline := time.Now().Add(startTimeout)
	for {
		status, _, _, body := getNoFollow(t, ssoClient(), "http://"+w.gw.httpAddr+"/auth/oidc/login")
		if status == http.StatusFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /auth/oidc/login: %d within %v, want a redirect to the provider:\n%s", status, startTimeout, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return &ssoWorld{world: w, issuer: issuer, provider: p}
}

// ssoClient is a browser stand-in for the tests that need no page: a
// cookie jar, and redirects followed except into the gateway's callback.
func ssoClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/auth/oidc/callback" || req.URL.Path == "/unused" || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

var reLoginID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// providerSignIn follows startURL (the gateway's /auth/oidc/login, or an
// authorization URL at the provider) to the provider's own login page,
// signs in there as user, and returns the callback URL the provider sends
// the browser to (not followed).
func providerSignIn(t *testing.T, c *http.Client, startURL, user, password string) *url.URL {
	t.Helper()
	return providerSignInTo(t, c, startURL, user, password, "/auth/oidc/callback")
}

// providerSignInTo is providerSignIn for a client whose redirect URI has
// the path callback.
func providerSignInTo(t *testing.T, c *http.Client, startURL, user, password, callback string) *url.URL {
	t.Helper()
	resp, err := c.Get(startURL)
	if err != nil {
		t.Fatalf("GET %s: %v", startURL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := reLoginID.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET %s: want the provider's login page, got %s at %s:\n%s", startURL, resp.Status, resp.Request.URL, body)
	}
	login := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	resp, err = c.PostForm(login.String(), url.Values{"id": {string(m[1])}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatalf("POST %s: %v", login, err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || loc.Path != callback {
		t.Fatalf("signing in at the provider as %s: %s, Location %v, want a redirect to %s:\n%s", user, resp.Status, loc, callback, body)
	}
	return loc
}

// getNoFollow GETs u with c and returns the status, the Location and the
// cookies the answer set, and its body.
func getNoFollow(t *testing.T, c *http.Client, u string) (int, string, []*http.Cookie, string) {
	t.Helper()
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := nc.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), resp.Cookies(), string(body)
}

// hasSessionCookie reports whether cookies set a web session.
func hasSessionCookie(cookies []*http.Cookie) bool {
	for _, c := range cookies {
		if c.Name == "tubegate_session" && c.Value != "" && c.MaxAge >= 0 {
			return true
		}
	}
	return false
}

// sessionUser asks the gateway who c is logged in as ("" if nobody).
func sessionUser(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, err := c.Get(base + "/api/session")
	if err != nil {
		t.Fatalf("GET /api/session: %v", err)
	}
	defer resp.Body.Close()
	var s struct {
		User string `json:"user"`
	}
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("GET /api/session: %v", err)
	}
	return s.User
}

// waitLog waits (bounded, for liveness only) for a gateway log line containing all of parts.
func (g *gateway) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		lines, changed := g.proc.out.snapshot()
		for _, ln := range lines {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(ln, p)
			}
			if all {
				return ln
			}
		}
		select {
		case <-changed:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("no gateway log line with %q within %v\n%s", parts, startTimeout, g.proc.out)
			return ""
		}
	}
}
