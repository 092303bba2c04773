package edge

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// seen is what the handler behind the edge was given.
type seen struct {
	remote, scheme, xff string
	called              bool
}

func run(t *testing.T, e *Edge, remote, host string, hdr map[string]string) (int, seen) {
	t.Helper()
	var s seen
	h := e.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s = seen{remote: r.RemoteAddr, scheme: Scheme(r), xff: r.Header.Get("X-Forwarded-For"), called: true}
	}))
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.RemoteAddr, req.Host = remote, host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, s
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestHostCheck(t *testing.T) {
	var logs bytes.Buffer
	noURL := New(Config{ListenHost: "127.0.0.1", Log: slog.New(slog.NewTextHandler(&logs, nil))})
	withURL := New(Config{PublicURL: mustURL(t, "https://gw.example.com"), ShareDomain: "links.example.net"})
	for _, c := range []struct {
		e    *Edge
		host string
		want int
	}{
		{noURL, "127.0.0.1:8080", 200},
		{noURL, "[::1]:8080", 200},
		{noURL, "localhost:8080", 200},
		{noURL, "app.localhost", 200},
		{noURL, "evil.test:8080", 421},
		{noURL, "127.0.0.1.evil.test", 421},
		{noURL, "", 421},
		{withURL, "gw.example.com", 200},
		{withURL, "GW.Example.com.:443", 200},
		{withURL, "192.0.2.10", 200},
		{withURL, "other.example.com", 421},
		{withURL, "gw.example.com.evil.test", 421},
		{withURL, "tok.links.example.net", 200},
		{withURL, "links.example.net.evil.test", 421},
	} {
		code, s := run(t, c.e, "192.0.2.1:5000", c.host, nil)
		if code != c.want || s.called != (c.want == 200) {
			t.Errorf("Host %q: %d (handler called %v), want %d", c.host, code, s.called, c.want)
		}
	}
	if !strings.Contains(logs.String(), "host=evil.test:8080 remote=192.0.2.1:5000") {
		t.Errorf("refusal not logged with host and remote:\n%s", logs.String())
	}
	named := New(Config{ListenHost: "gw.lan"})
	if code, _ := run(t, named, "192.0.2.1:5000", "gw.lan:8080", nil); code != 200 {
		t.Errorf("the listen address's name: %d, want 200", code)
	}
}

func TestTrustedProxy(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseTrustedProxies([]string{"nonsense"}); err == nil {
		t.Error("a bad --trusted-proxy was accepted")
	}
	e := New(Config{TrustedProxies: trusted})
	for _, c := range []struct {
		name, remote, xff, proto string
		wantRemote, wantScheme   string
	}{
		{"trusted proxy", "10.1.2.3:4000", "203.0.113.5", "https", "203.0.113.5:0", "https"},
		{"two trusted hops", "10.1.2.3:4000", "203.0.113.5, 10.9.9.9", "https", "203.0.113.5:0", "https"},
		{"a spoofed left-most hop is not the client", "10.1.2.3:4000", "6.6.6.6, 203.0.113.5", "http", "203.0.113.5:0", "http"},
		{"several headers", "192.0.2.9:4000", "6.6.6.6,203.0.113.7", "", "203.0.113.7:0", "http"},
		{"garbage hop stops the walk", "10.1.2.3:4000", "6.6.6.6, junk, 10.2.2.2", "", "10.2.2.2:0", "http"},
		{"trusted, no header", "10.1.2.3:4000", "", "", "10.1.2.3:4000", "http"},
		{"untrusted peer", "198.51.100.1:4000", "203.0.113.5", "https", "198.51.100.1:4000", "http"},
	} {
		hdr := map[string]string{}
		if c.xff != "" {
			hdr["X-Forwarded-For"] = c.xff
		}
		if c.proto != "" {
			hdr["X-Forwarded-Proto"] = c.proto
		}
		code, s := run(t, e, c.remote, "127.0.0.1", hdr)
		if code != 200 || s.remote != c.wantRemote || s.scheme != c.wantScheme || s.xff != "" {
			t.Errorf("%s: %d remote %q scheme %q X-Forwarded-For %q, want remote %q scheme %q and the header gone",
				c.name, code, s.remote, s.scheme, s.xff, c.wantRemote, c.wantScheme)
		}
	}
}

func TestSchemeFromPublicURL(t *testing.T) {
	e := New(Config{PublicURL: mustURL(t, "https://gw.example.com")})
	if _, s := run(t, e, "127.0.0.1:1", "gw.example.com", nil); s.scheme != "https" {
		t.Errorf("behind a TLS proxy, --url https: scheme %q, want https", s.scheme)
	}
	if _, s := run(t, e, "127.0.0.1:1", "127.0.0.1:8080", nil); s.scheme != "http" {
		t.Errorf("straight to the listener: scheme %q, want http", s.scheme)
	}
	r := httptest.NewRequest("GET", "/", nil)
	if Secure(r) {
		t.Error("a plain request without the edge is Secure")
	}
}

func TestSameOrigin(t *testing.T) {
	e := New(Config{PublicURL: mustURL(t, "https://gw.example.com")})
	for _, c := range []struct {
		host, origin string
		want         bool
	}{
		{"gw.example.com", "https://gw.example.com", true},
		{"gw.example.com", "https://gw.example.com:443", true},
		{"gw.example.com", "http://gw.example.com", false}, // same host, other scheme
		{"gw.example.com", "https://evil.example.com", false},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"127.0.0.1:8080", "https://127.0.0.1:8080", false},
		{"127.0.0.1:8080", "http://127.0.0.1:8081", false},
		{"127.0.0.1:8080", "null", false},
		{"127.0.0.1:8080", "", false},
	} {
		var got bool
		h := e.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = SameOrigin(r, c.origin) }))
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = c.host
		h.ServeHTTP(httptest.NewRecorder(), req)
		if got != c.want {
			t.Errorf("Host %s, Origin %q: %v, want %v", c.host, c.origin, got, c.want)
		}
	}
}

func TestForwardedHeader(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	fwd := New(Config{TrustedProxies: trusted, Header: HeaderForwarded})
	xff := New(Config{TrustedProxies: trusted, Header: HeaderXFF})
	for _, c := range []struct {
		name                   string
		e                      *Edge
		remote                 string
		hdr                    map[string]string
		wantRemote, wantScheme string
		wantVia                bool
	}{
		{"forwarded", fwd, "10.1.2.3:4000", map[string]string{"Forwarded": "for=203.0.113.5;proto=https"}, "203.0.113.5:0", "https", true},
		{"quoted IPv6 with port", fwd, "10.1.2.3:4000", map[string]string{"Forwarded": `for="[2001:db8::1]:4711";proto=https;by=10.1.2.3`}, "[2001:db8::1]:0", "https", true},
		{"IPv4 with port", fwd, "10.1.2.3:4000", map[string]string{"Forwarded": `For="203.0.113.5:999"`}, "203.0.113.5:0", "http", true},
		{"spoofed left-most element", fwd, "10.1.2.3:4000", map[string]string{"Forwarded": "for=6.6.6.6;proto=https, for=203.0.113.5;proto=http"}, "203.0.113.5:0", "http", true},
		{"trusted hops skipped", fwd, "10.1.2.3:4000", map[string]string{"Forwarded": "for=203.0.113.5;proto=https, for=10.7.7.7;proto=http"}, "203.0.113.5:0", "https", true},
		{"unknown right-most", fwd, "10.1.2.3:4000", map[string]string{"Forwarded": "for=6.6.6.6, for=unknown"}, "10.1.2.3:4000", "http", false},
		{"X-Forwarded-For not read when Forwarded is", fwd, "10.1.2.3:4000", map[string]string{"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}, "10.1.2.3:4000", "http", false},
		{"Forwarded not read by default", xff, "10.1.2.3:4000", map[string]string{"Forwarded": "for=203.0.113.5;proto=https"}, "10.1.2.3:4000", "http", false},
		{"untrusted peer", fwd, "198.51.100.1:4000", map[string]string{"Forwarded": "for=203.0.113.5;proto=https"}, "198.51.100.1:4000", "http", false},
		{"all hops trusted", xff, "10.1.2.3:4000", map[string]string{"X-Forwarded-For": "10.5.5.5"}, "10.5.5.5:0", "http", false},
	} {
		var via bool
		var fwdSeen string
		h := c.e.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			via, fwdSeen = ViaProxy(r), r.Header.Get("Forwarded")
		}))
		code, s := run(t, c.e, c.remote, "127.0.0.1", c.hdr)
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr, req.Host = c.remote, "127.0.0.1"
		for k, v := range c.hdr {
			req.Header.Set(k, v)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		if code != 200 || s.remote != c.wantRemote || s.scheme != c.wantScheme || via != c.wantVia || fwdSeen != "" {
			t.Errorf("%s: %d remote %q scheme %q via proxy %v Forwarded %q; want remote %q scheme %q via %v and the header gone",
				c.name, code, s.remote, s.scheme, via, fwdSeen, c.wantRemote, c.wantScheme, c.wantVia)
		}
	}
	for in, want := range map[string]string{"": HeaderXFF, "X-Forwarded-For": HeaderXFF, "Forwarded": HeaderForwarded} {
		if got, err := CheckHeader(in); err != nil || got != want {
			t.Errorf("CheckHeader(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := CheckHeader("X-Real-IP"); err == nil {
		t.Error("CheckHeader(X-Real-IP): no error")
	}
}
