package sharelink

import (
	"testing"
	"time"
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
