package forward

import (
	"net/netip"
	"testing"
)

func mustOpen(t *testing.T, specs ...string) Policy {
	t.Helper()
	var p Policy
	for _, s := range specs {
		r, err := ParseOpenRule(s)
		if err != nil {
			t.Fatalf("ParseOpenRule(%q): %v", s, err)
		}
		p.Open = append(p.Open, r)
	}
	return p
}

func TestParseOpenRule(t *testing.T) {
	good := map[string]Rule{
		"db.internal:5432": {Host: "db.internal", Port: "5432"},
		"*:80":             {Host: "*", Port: "80"},
		"10.0.0.1:*":       {Host: "10.0.0.1", Port: "*"},
		"[::1]:22":         {Host: "::1", Port: "22"},
		"10.0.0.0/8:443":   {Host: "10.0.0.0/8", Port: "443"},
		"MyHost:022":       {Host: "myhost", Port: "22"},
	}
	for in, want := range good {
		got, err := ParseOpenRule(in)
		if err != nil || got != want {
			t.Errorf("ParseOpenRule(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "host", ":80", "host:", "host:65536", "host:-1", "host:http", "10.0.0.0/33:1"} {
		if _, err := ParseOpenRule(in); err == nil {
			t.Errorf("ParseOpenRule(%q): want an error", in)
		}
	}
}

func TestParseListenRule(t *testing.T) {
	good := map[string]Rule{
		"8080":         {Host: "localhost", Port: "8080"},
		"*":            {Host: "localhost", Port: "*"},
		"*:443":        {Host: "*", Port: "443"},
		"0.0.0.0:8080": {Host: "0.0.0.0", Port: "8080"},
		":22":          {Host: "localhost", Port: "22"},
	}
	for in, want := range good {
		got, err := ParseListenRule(in)
		if err != nil || got != want {
			t.Errorf("ParseListenRule(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := ParseListenRule("x:y"); err == nil {
		t.Error("ParseListenRule(x:y): want an error")
	}
}

func TestAllowsOpen(t *testing.T) {
	p := mustOpen(t, "db.internal:5432", "10.1.0.0/16:*", "127.0.0.1:8080", "*:8443")
	a := netip.MustParseAddr
	cases := []struct {
		name string
		addr netip.Addr
		port int
		want bool
	}{
		{"db.internal", a("192.0.2.7"), 5432, true},  // by name, whatever it resolves to
		{"db.internal", a("192.0.2.7"), 5433, false}, // wrong port
		{"other", a("10.1.2.3"), 22, true},           // by CIDR on the resolved address
		{"other", a("10.2.0.1"), 22, false},          // outside the prefix
		{"", a("127.0.0.1"), 8080, true},             // by address
		{"", a("::ffff:127.0.0.1"), 8080, true},      // v4-mapped is the same address
		{"", a("127.0.0.2"), 8080, false},            // not that address
		{"anything", netip.Addr{}, 8443, true},       // * host
		{"myhost", netip.Addr{}, 22, false},          // virtual name not listed
	}
	for _, c := range cases {
		if got := p.AllowsOpen(c.name, c.addr, c.port); got != c.want {
			t.Errorf("AllowsOpen(%q, %v, %d) = %v, want %v", c.name, c.addr, c.port, got, c.want)
		}
	}
	if (Policy{}).AllowsOpen("localhost", a("127.0.0.1"), 22) {
		t.Error("empty policy must permit no destination")
	}
}

func TestAllowsListenDefault(t *testing.T) {
	var p Policy // default: unprivileged loopback
	cases := []struct {
		bind string
		port int
		want bool
	}{
		{"localhost", 22222, true},
		{"127.0.0.1", 22222, true},
		{"::1", 22222, true},
		{"localhost", 0, true},
		{"localhost", 22, false},  // privileged
		{"", 22222, false},        // all interfaces
		{"0.0.0.0", 22222, false}, // not loopback
		{"192.0.2.1", 22222, false},
	}
	for _, c := range cases {
		if got := p.AllowsListen(c.bind, c.port); got != c.want {
			t.Errorf("default AllowsListen(%q, %d) = %v, want %v", c.bind, c.port, got, c.want)
		}
	}
}

func TestAllowsListenExplicit(t *testing.T) {
	var p Policy
	for _, s := range []string{"*:8080", "localhost:80", "0.0.0.0:*"} {
		r, err := ParseListenRule(s)
		if err != nil {
			t.Fatal(err)
		}
		p.Listen = append(p.Listen, r)
	}
	cases := []struct {
		bind string
		port int
		want bool
	}{
		{"", 8080, true},        // * host covers all interfaces
		{"localhost", 80, true}, // privileged, named explicitly
		{"127.0.0.1", 80, true},
		{"localhost", 81, false},
		{"0.0.0.0", 9000, true},
		{"0.0.0.0", 443, false},    // * port never covers privileged ports
		{"localhost", 9000, false}, // explicit rules replace the default
	}
	for _, c := range cases {
		if got := p.AllowsListen(c.bind, c.port); got != c.want {
			t.Errorf("AllowsListen(%q, %d) = %v, want %v", c.bind, c.port, got, c.want)
		}
	}
}

func TestIsVirtualName(t *testing.T) {
	for in, want := range map[string]bool{
		"myhost": true, "app.example": true, "": false, "*": false, "localhost": false,
		"LOCALHOST": false, "127.0.0.1": false, "::1": false, "0.0.0.0": false,
	} {
		if got := IsVirtualName(in); got != want {
			t.Errorf("IsVirtualName(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]bool{
		"myhost": true, "a.b-c.d": true, "-bad": false, "bad-": false, "a..b": false, "sp ace": false,
	} {
		if got := ValidName(in); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", in, got, want)
		}
	}
}
