package acmecert

import (
	"context"
	"strings"
	"testing"
)

func TestCheckDomain(t *testing.T) {
	for in, want := range map[string]string{
		"gw.example.com":   "gw.example.com",
		"GW.Example.com.":  "gw.example.com",
		"bücher.example":   "xn--bcher-kva.example",
		" gw.example.com ": "gw.example.com",
	} {
		got, err := CheckDomain(in)
		if err != nil || got != want {
			t.Errorf("CheckDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, why := range map[string]string{
		"*.example.com":          "DNS-01",
		"localhost":              "dot",
		"127.0.0.1":              "IP address",
		"https://gw.example.com": "host name",
		"gw.example.com:443":     "host name",
		"":                       "not a host name",
	} {
		_, err := CheckDomain(in)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("CheckDomain(%q) = %v; want an error saying %q", in, err, why)
		}
	}
}

func TestNewChecks(t *testing.T) {
	if _, err := New(Config{CacheDir: t.TempDir()}); err == nil {
		t.Error("New without domains: no error")
	}
	if _, err := New(Config{Domains: []string{"gw.example.com"}, Directory: "http://ca.example/dir", CacheDir: t.TempDir()}); err == nil ||
		!strings.Contains(err.Error(), "https://") {
		t.Errorf("New with an http directory = %v; want refused", err)
	}
	m, err := New(Config{Domains: []string{"GW.example.com"}, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Domains(); len(d) != 1 || d[0] != "gw.example.com" {
		t.Errorf("Domains() = %v", d)
	}
	if m.cfg.Directory != DefaultDirectory {
		t.Errorf("default directory = %q", m.cfg.Directory)
	}
}

func TestHostPolicy(t *testing.T) {
	names := map[string]bool{"demo": true}
	m, err := New(Config{
		Domains: []string{"gw.example.com", "alt.example.com"}, CacheDir: t.TempDir(),
		ShareDomain: "links.example.net", ShareName: func(l string) bool { return names[l] },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ok := range []string{"gw.example.com", "alt.example.com", "GW.example.com.", "demo.links.example.net", "gw.example.com:8080"} {
		if err := m.HostPolicy(ctx, ok); err != nil {
			t.Errorf("HostPolicy(%q) = %v; want allowed", ok, err)
		}
	}
	for host, why := range map[string]string{
		"other.example.com":                               "not one of --acme-domain",
		"links.example.net":                               "not one of --acme-domain",
		"unknown.links.example.net":                       "named share links",
		"3q2-7wx0abcdefghijklmnopqrstu.links.example.net": "CT logs", // a token
		"a.demo.links.example.net":                        "named share links",
		"example.com":                                     "not one of --acme-domain",
	} {
		err := m.HostPolicy(ctx, host)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("HostPolicy(%q) = %v; want refused (%s)", host, err, why)
		}
	}
}

func TestCertKey(t *testing.T) {
	for key, want := range map[string]bool{
		"gw.example.com":       true,
		"gw.example.com+rsa":   true,
		"gw.example.com+token": false,
		"acme_account+key":     false,
		"abcdef+http-01":       false,
	} {
		if got := certKey(key); got != want {
			t.Errorf("certKey(%q) = %v; want %v", key, got, want)
		}
	}
}
