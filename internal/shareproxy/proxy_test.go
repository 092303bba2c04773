package shareproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/webapi"
)

// owner is a forward.Owner that carries each connection straight to a
// local backend, standing in for a tube.
type owner struct {
	user, addr string
}

func (o *owner) User() string { return o.user }
func (o *owner) ID() string   { return "test-" + o.user }
func (o *owner) OpenForwarded(ctx context.Context, ep *forward.Endpoint, origin net.Addr) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", o.addr)
}
func (o *owner) Probe(ctx context.Context) bool { return true }
func (o *owner) Close() error                   { return nil }

// fakeSessions logs in whoever sends "Cookie: user=NAME", with the CSRF
// token "good".
func fakeSessions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, webapi.Provide(r, func() (*webapi.Session, bool) {
			c, err := r.Cookie("user")
			if err != nil {
				return nil, false
			}
			return &webapi.Session{User: c.Value, CSRF: "good"}, true
		}))
	})
}

type rig struct {
	proxy   *Proxy
	svc     *sharelink.Service
	reg     *forward.Registry
	srv     *httptest.Server
	backend *httptest.Server
	alice   *owner
}

func newRig(t *testing.T, shareDomain string) *rig {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(w, "tick %d\n", i); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		case "/login":
			http.Redirect(w, r, "/home", http.StatusFound)
		default:
			fmt.Fprintf(w, "path=%s host=%s cookie=%s", r.URL.Path, r.Host, r.Header.Get("Cookie"))
		}
	}))
	t.Cleanup(backend.Close)
	log := slog.New(slog.DiscardHandler)
	reg := forward.NewRegistry(log)
	store, err := sharelink.Open(t.TempDir(), sharelink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := &sharelink.Service{Store: store, Registry: reg, URLs: sharelink.URLs{ShareDomain: shareDomain}}
	p := New(Config{Links: svc, Registry: reg, Log: log, PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go p.Run(ctx)
	r := chi.NewRouter()
	r.Use(fakeSessions)
	p.Mount(r)
	srv := httptest.NewServer(p.WithHosts(r))
	t.Cleanup(srv.Close)
	alice := &owner{user: "alice", addr: backend.Listener.Addr().String()}
	return &rig{proxy: p, svc: svc, reg: reg, srv: srv, backend: backend, alice: alice}
}

func (g *rig) publish(t *testing.T, o *owner, name string, port int) *forward.Endpoint {
	t.Helper()
	ep, err := g.reg.Publish(context.Background(), o, forward.Policy{}, name, port)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func (g *rig) create(t *testing.T, p sharelink.Params) (sharelink.Link, string) {
	t.Helper()
	c, err := g.svc.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(c.PathURL, "/s/")
	return c.Link, strings.TrimSuffix(c.PathURL[i+3:], "/")
}

func get(t *testing.T, url string, mod ...func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for _, m := range mod {
		m(req)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestProxyPathLink(t *testing.T) {
	g := newRig(t, "")
	g.publish(t, g.alice, "myapp", 80)
	_, tok := g.create(t, sharelink.Params{User: "alice", Endpoint: "myapp:80"})
	base := g.srv.URL + "/s/" + tok

	resp, body := get(t, base+"/a%2Fb/c?q=1", func(r *http.Request) { r.Header.Set("Cookie", "tubegate_session=x; app=y") })
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "path=/a/b/c host="+g.srv.Listener.Addr().String()+" cookie=app=y") {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	if csp := resp.Header.Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != pathLinkSandbox {
		t.Errorf("path link CSP %q: want the sandbox, so the page cannot act on the gateway's origin", csp)
	}
	resp, _ = get(t, base+"/login")
	if loc := resp.Header.Get("Location"); loc != "/s/"+tok+"/home" {
		t.Fatalf("Location %q, want /s/TOKEN/home", loc)
	}
	for _, u := range []string{g.srv.URL + "/s/" + strings.Repeat("x", 32) + "/", g.srv.URL + "/s/nope/"} {
		if resp, _ := get(t, u); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", u, resp.StatusCode)
		}
	}
	// Someone else's endpoint under the same key: 404, not their content.
	g.reg.UnpublishAll(g.alice)
	resp, body = get(t, base+"/")
	if resp.StatusCode != 502 || !strings.Contains(body, "the tunnel behind this link is offline") {
		t.Fatalf("offline: %d %q", resp.StatusCode, body)
	}
	g.publish(t, &owner{user: "bob", addr: g.alice.addr}, "myapp", 80)
	if resp, _ := get(t, base+"/"); resp.StatusCode != 404 {
		t.Fatalf("endpoint now bob's: %d, want 404", resp.StatusCode)
	}
}

func TestProxyHostLink(t *testing.T) {
	g := newRig(t, "links.test")
	g.publish(t, g.alice, "myapp", 80)
	_, tok := g.create(t, sharelink.Params{User: "alice", Endpoint: "myapp:80", Name: "demo"})
	for _, h := range []string{tok + ".links.test", "demo.links.test"} {
		resp, body := get(t, g.srv.URL+"/x", func(r *http.Request) { r.Host = h })
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "path=/x host="+h) {
			t.Errorf("Host %s: %d %q", h, resp.StatusCode, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != "" {
			t.Errorf("host-name link got CSP %q: its own origin needs no sandbox", csp)
		}
	}
	// The path form on the gateway's host only redirects: tunnelled pages
	// never run on the gateway's origin when there is a share domain.
	resp, _ := get(t, g.srv.URL+"/s/"+tok+"/a/b?c=d")
	if want := "http://" + tok + ".links.test/a/b?c=d"; resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
		t.Errorf("path form with a share domain: %d %q, want 307 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	for _, h := range []string{"links.test", "other.links.test", "x.demo.links.test"} {
		if resp, _ := get(t, g.srv.URL+"/s/"+tok+"/", func(r *http.Request) { r.Host = h }); resp.StatusCode != 404 {
			t.Errorf("Host %s: %d, want 404", h, resp.StatusCode)
		}
	}
	// A login-required link cannot work on the share domain: the login cookie is not there.
	_, tok2 := g.create(t, sharelink.Params{User: "alice", Endpoint: "myapp:80", LoginRequired: true})
	if resp, _ := get(t, g.srv.URL+"/", func(r *http.Request) { r.Host = tok2 + ".links.test"; r.Header.Set("Cookie", "user=bob") }); resp.StatusCode != 403 {
		t.Errorf("login-required link on the share domain: %d, want 403", resp.StatusCode)
	}
	if resp, _ := get(t, g.srv.URL+"/s/"+tok2+"/", func(r *http.Request) { r.Header.Set("Cookie", "user=bob") }); resp.StatusCode != 200 {
		t.Errorf("login-required link, logged in, on the gateway's host: %d, want 200", resp.StatusCode)
	}
	if resp, _ := get(t, g.srv.URL+"/s/"+tok2+"/"); resp.StatusCode != 401 {
		t.Errorf("login-required link, not logged in: %d, want 401", resp.StatusCode)
	}
}

// TestRevokeCutsStream: a revoke made through another Store on the same
// file (as the command line does) cuts a live download.
func TestRevokeCutsStream(t *testing.T) {
	g := newRig(t, "")
	g.publish(t, g.alice, "myapp", 80)
	l, tok := g.create(t, sharelink.Params{User: "alice", Endpoint: "myapp:80"})
	resp, err := http.Get(g.srv.URL + "/s/" + tok + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	if n := g.proxy.Conns().Count(l.ID); n != 1 {
		t.Fatalf("tracked connections: %d, want 1", n)
	}
	dir := filepath.Dir(g.svcPath())
	other, err := sharelink.Open(dir, sharelink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := other.Revoke(l.ID, ""); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	select {
	case <-done:
		t.Logf("stream cut %v after the revoke", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("stream still running 5s after the revoke")
	}
}

func (g *rig) svcPath() string { return g.svc.Store.Path() }

func TestAPI(t *testing.T) {
	g := newRig(t, "")
	g.publish(t, g.alice, "myapp", 80)
	call := func(method, path, body, user, csrf string) (*http.Response, string) {
		req, _ := http.NewRequest(method, g.srv.URL+path, strings.NewReader(body))
		if user != "" {
			req.Header.Set("Cookie", "user="+user)
		}
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := call("GET", "/api/links", "", "", ""); resp.StatusCode != 401 {
		t.Fatalf("list without login: %d", resp.StatusCode)
	}
	if resp, _ := call("POST", "/api/links", `{"endpoint":"myapp:80"}`, "alice", "bad"); resp.StatusCode != 403 {
		t.Fatalf("create with a bad CSRF token: %d", resp.StatusCode)
	}
	if resp, body := call("POST", "/api/links", `{"endpoint":"myapp:80"}`, "bob", "good"); resp.StatusCode != 403 {
		t.Fatalf("bob creates a link for alice's endpoint: %d %s", resp.StatusCode, body)
	}
	if resp, body := call("POST", "/api/links", `{"endpoint":"myapp:80","expires":"forever"}`, "alice", "good"); resp.StatusCode != 400 {
		t.Fatalf("bad expiry: %d %s", resp.StatusCode, body)
	}
	resp, body := call("POST", "/api/links", `{"endpoint":"myapp:80","expires":"2h","basic_auth":"u:password1"}`, "alice", "good")
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var made LinkJSON
	if err := json.Unmarshal([]byte(body), &made); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(made.URL, g.srv.URL+"/s/") || made.Endpoint != "myapp:80" || !made.BasicAuth ||
		made.Expires.Sub(made.Created) != 2*time.Hour {
		t.Fatalf("created: %+v", made)
	}
	if resp, _ := get(t, made.URL, func(r *http.Request) { r.SetBasicAuth("u", "password1") }); resp.StatusCode != 200 {
		t.Fatalf("GET the new link: %d", resp.StatusCode)
	}
	_, body = call("GET", "/api/links", "", "alice", "")
	var list []LinkJSON
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 1 || list[0].ID != made.ID || list[0].URL != "" {
		t.Fatalf("list: %s (%v), want the link without its secret URL", body, err)
	}
	if _, body = call("GET", "/api/links", "", "bob", ""); strings.TrimSpace(body) != "[]" {
		t.Fatalf("bob's list: %s", body)
	}
	if resp, _ := call("DELETE", "/api/links/"+made.ID, "", "bob", "good"); resp.StatusCode != 404 {
		t.Fatalf("bob deletes alice's link: %d", resp.StatusCode)
	}
	if resp, _ := call("DELETE", "/api/links/"+made.ID, "", "alice", ""); resp.StatusCode != 403 {
		t.Fatalf("delete without CSRF: %d", resp.StatusCode)
	}
	if resp, _ := call("DELETE", "/api/links/"+made.ID, "", "alice", "good"); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := get(t, made.URL); resp.StatusCode != 404 {
		t.Fatalf("GET a deleted link: %d", resp.StatusCode)
	}
}

func TestRewriteLocation(t *testing.T) {
	ep := &forward.Endpoint{BindHost: "myapp"}
	out := httptest.NewRequest("GET", "http://gw.example/", nil)
	out.Header.Set("X-Forwarded-Proto", "https")
	tp := &target{ep: ep, prefix: "/s/tok"}
	th := &target{ep: ep}
	for _, c := range []struct {
		t        *target
		in, want string
	}{
		{tp, "/a?b=1#c", "/s/tok/a?b=1#c"},
		{tp, "rel/x", "rel/x"},
		{tp, "//evil.example/x", "//evil.example/x"},
		{tp, "http://gw.example/x", "https://gw.example/s/tok/x"},
		{tp, "http://localhost:3000/x?y", "https://gw.example/s/tok/x?y"},
		{tp, "http://myapp/", "https://gw.example/s/tok/"},
		{tp, "http://127.0.0.1:8080", "https://gw.example/s/tok/"},
		{tp, "https://other.example/x", "https://other.example/x"},
		{th, "/a", "/a"},
		{th, "http://localhost:3000/a", "https://gw.example/a"},
	} {
		if got := rewriteLocation(c.in, c.t, out); got != c.want {
			t.Errorf("rewriteLocation(%q, prefix %q) = %q, want %q", c.in, c.t.prefix, got, c.want)
		}
	}
}

func TestFilterSetCookies(t *testing.T) {
	p := New(Config{Links: &sharelink.Service{}, GatewayCookies: []string{"sid"}})
	h := http.Header{}
	for _, v := range []string{
		"tubegate_session=evil; Path=/", "__Host-tubegate_csrf=x; Path=/; Secure", "sid=1",
		"app=1; Domain=example.net; Path=/; HttpOnly", "bare=2", "garbage",
		"wide=1; Domain=links.test", "wider=1; Domain=.TEST", "own=1; Domain=a.links.test",
	} {
		h.Add("Set-Cookie", v)
	}
	p.filterSetCookies(h, "/s/tok", "a.links.test:8080")
	got := strings.Join(h.Values("Set-Cookie"), " | ")
	want := "app=1; Path=/s/tok/; HttpOnly | bare=2; Path=/s/tok/ | own=1; Path=/s/tok/"
	if got != want {
		t.Fatalf("Set-Cookie after filtering:\n got %s\nwant %s", got, want)
	}
	// A host-name link: no prefix, and a sibling's domain is as wide.
	h = http.Header{"Set-Cookie": {"s=1; Domain=links.test; Path=/", "t=2; Path=/x"}}
	p.filterSetCookies(h, "", "tok.links.test")
	if got := strings.Join(h.Values("Set-Cookie"), " | "); got != "t=2; Path=/x" {
		t.Fatalf("host-name link, Set-Cookie after filtering: %s, want t=2; Path=/x", got)
	}
}

func TestBasicAuthThrottled(t *testing.T) {
	g := newRig(t, "")
	g.publish(t, g.alice, "myapp", 80)
	_, tok := g.create(t, sharelink.Params{User: "alice", Endpoint: "myapp:80", BasicAuth: "viewer:open-sesame"})
	url := g.srv.URL + "/s/" + tok + "/"
	for i := 0; i < 10; i++ {
		if resp, _ := get(t, url, func(r *http.Request) { r.SetBasicAuth("viewer", "guess") }); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, body := get(t, url, func(r *http.Request) { r.SetBasicAuth("viewer", "open-sesame") })
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many wrong passwords") {
		t.Fatalf("after 10 wrong passwords: %d, want 429 and an explanation", resp.StatusCode)
	}
}
