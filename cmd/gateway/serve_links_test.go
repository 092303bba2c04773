package main

import "testing"

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
