package main

import (
	"strings"
	"testing"
)

func TestDomainsOverlap(t *testing.T) {
	for _, c := range []struct {
		ui, share string
		want      bool
	}{
		{"gw.example.com", "gw.example.com", true},
		{"gw.example.com", "links.gw.example.com", true},
		{"gw.example.com", "example.com", true},
		{"GW.example.com.", "example.com:8443", true},
		{"gw.example.com", "example.net", false},
		{"gw.example.com", "agw.example.com", false},
	} {
		if got := domainsOverlap(c.ui, c.share); got != c.want {
			t.Errorf("domainsOverlap(%q, %q) = %v, want %v", c.ui, c.share, got, c.want)
		}
	}
}

func TestCheckShareDomain(t *testing.T) {
	for _, c := range []struct {
		url, share string
		ok         bool
		want       string // in the error
	}{
		{"", "", true, ""},
		{"https://gw.example.com", "", true, ""},
		{"", "links.example.net", false, "needs --url"},
		{"https://gw.example.com", "links.example.net", true, ""},
		{"https://gw.example.com", "links.example.com", false, "registrable domain example.com"},
		{"https://gw.example.co.uk", "share.example.co.uk", false, "registrable domain example.co.uk"},
		{"https://gw.example.co.uk", "share.other.co.uk", true, ""},
		{"https://example.com", "links.example.com", false, "overlaps"},
		{"https://gw.example.com:8443", "LINKS.Example.COM.:8443", false, "registrable domain example.com"},
		{"https://alice.github.io", "github.io", false, "overlaps"},
		{"https://gw.example.com", "github.io", true, ""}, // a public suffix: each link is its own site
		{"http://127.0.0.1:8080", "share.test", true, ""},
		{"https://gw.example.com", "192.0.2.1", false, "DNS name"},
		{"gw.example.com", "links.example.net", false, "--url"},
	} {
		err := checkShareDomain(c.url, c.share)
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("--url %q --share-domain %q: %v, want ok=%v (error with %q)", c.url, c.share, err, c.ok, c.want)
		}
	}
}
