package main

import (
	"strings"
	"testing"
)

// A flag combination that cannot work is refused before anything starts.
func TestServeACMEFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--acme-domain", "gw.example.com", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil, "choose one source"},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, map[string]string{"GATEWAY_ACME_DOMAIN": "gw.example.com"}, "choose one source"},
		{[]string{"--acme-domain", "*.example.com"}, nil, "DNS-01"},
		{[]string{"--acme-domain", "gw.example.com,127.0.0.1"}, nil, "not an IP address"},
		{[]string{"--acme-http", ":80"}, nil, "need --acme-domain"},
		{[]string{"--acme-domain", "gw.example.com", "--acme-directory", "http://ca.example/dir"}, nil, "https://"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		args := append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.args...)
		_, err := run(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("gateway %s (env %v) = %v; want an error saying %q", strings.Join(args, " "), tc.env, err, tc.want)
		}
		for k := range tc.env {
			t.Setenv(k, "")
		}
	}
}
