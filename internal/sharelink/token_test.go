package sharelink

import (
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/forward"
)

func TestToken(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok, hash, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidTokenSyntax(tok) || len(tok)*5 < 128 {
			t.Fatalf("token %q: bad syntax or under 128 bits", tok)
		}
		if hash != HashToken(tok) || len(hash) != 64 || !hashesEqual(hash, HashToken(tok)) {
			t.Fatalf("hash of %q", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q repeated", tok)
		}
		seen[tok] = true
	}
}

func TestParseExpiry(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "90m": 90 * time.Minute, "2h": 2 * time.Hour, "7d": 7 * 24 * time.Hour} {
		if got, err := ParseExpiry(in); err != nil || got != want {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-1h", "0s", "0d", "d", "1.5d"} {
		if _, err := ParseExpiry(in); err == nil {
			t.Errorf("ParseExpiry(%q): want an error", in)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"myapp:80":        "myapp:80",
		"MyApp.Lan:8080":  "myapp.lan:8080",
		"41234":           "127.0.0.1:41234",
		"localhost:41234": "127.0.0.1:41234",
		"127.0.0.1:41234": "127.0.0.1:41234",
		// A loopback port is one endpoint in both families.
		"[::1]:8080":   "127.0.0.1:8080",
		"0.0.0.0:8080": "0.0.0.0:8080",
		// All interfaces: the key the registry gives ssh -R *:8080 (it was
		// 0.0.0.0:8080, which no published endpoint ever had).
		"*:8080": "[::]:8080",
	} {
		ref, err := ParseEndpoint(in)
		if err != nil || ref.Key != want {
			t.Errorf("ParseEndpoint(%q) = %q, %v; want %q", in, ref.Key, err, want)
		}
	}
	// A link names an endpoint by the registry's own key for it.
	for _, bind := range []string{"*", "localhost", "127.0.0.1", "::1", "myapp"} {
		ref, err := ParseEndpoint(forward.JoinHostPort(bind, 8080))
		if want := forward.EndpointKey(bind, 8080); err != nil || ref.Key != want {
			t.Errorf("ParseEndpoint(%s:8080) = %q, %v; the registry's key is %q", bind, ref.Key, err, want)
		}
	}
	for _, in := range []string{"myapp", "myapp:0", "myapp:70000", "bad name:80", "-x:80", "1.2.3:80x"} {
		if ref, err := ParseEndpoint(in); err == nil {
			t.Errorf("ParseEndpoint(%q) = %q, want an error", in, ref.Key)
		}
	}
}

func TestURLs(t *testing.T) {
	u := URLs{Base: "https://gw.example.com/"}
	l := Link{Kind: KindHTTP}
	if got := u.Primary(l, "tok"); got != "https://gw.example.com/s/tok/" {
		t.Errorf("Primary without a share domain: %q", got)
	}
	u.ShareDomain = "links.example.net"
	if got := u.Primary(l, "tok"); got != "https://tok.links.example.net/" {
		t.Errorf("Primary with a share domain: %q", got)
	}
	l.LoginRequired = true
	if got := u.Primary(l, "tok"); got != "https://gw.example.com/s/tok/" {
		t.Errorf("Primary of a login-required link: %q, want the gateway's own host", got)
	}
	if got := u.TCP(Link{Kind: KindTCP, Endpoint: "0.0.0.0:2222"}); got != "gw.example.com:2222" {
		t.Errorf("TCP: %q", got)
	}
	if got := u.TCP(Link{Kind: KindTCP, Endpoint: "192.0.2.7:2222"}); got != "192.0.2.7:2222" {
		t.Errorf("TCP on an address: %q", got)
	}
	if got := u.Listed(Link{Kind: KindHTTP, Name: "demo"}); got != "https://demo.links.example.net/" {
		t.Errorf("Listed named: %q", got)
	}
	if got := u.Listed(Link{Kind: KindHTTP}); got != "" {
		t.Errorf("Listed unnamed: %q, want \"\" (the token is not stored)", got)
	}
}
