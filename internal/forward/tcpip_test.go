package forward

import (
	"net"
	"testing"
)

// TestOriginatorAlwaysValid: the originator declared in a channel is
// always an IP address and a port, since clients (x/crypto/ssh) refuse
// anything else; OpenSSH's placeholder stands in for the rest.
func TestOriginatorAlwaysValid(t *testing.T) {
	cases := map[string]struct {
		host string
		port uint32
	}{
		"10.1.2.3:4567": {"10.1.2.3", 4567},
		"[::1]:22":      {"::1", 22},
		"0.0.0.0:0":     {"127.0.0.1", 65535},
		"websocket/x":   {"127.0.0.1", 65535},
		"myhost:22":     {"127.0.0.1", 65535},
		"1.2.3.4:99999": {"127.0.0.1", 65535},
	}
	for in, want := range cases {
		h, p := Originator(Addr{Net: "tcp", Address: in})
		if h != want.host || p != want.port {
			t.Errorf("Originator(%q) = %s, %d; want %s, %d", in, h, p, want.host, want.port)
		}
	}
	if h, p := Originator(nil); h != "127.0.0.1" || p != 65535 {
		t.Errorf("Originator(nil) = %s, %d", h, p)
	}
	if m := NewForwardedTCPIP("web.alice", 80, nil); m.OriginAddr != "127.0.0.1" || m.OriginPort != 65535 {
		t.Errorf("NewForwardedTCPIP without an origin: %+v", m)
	}
}

// TestOriginFallsBack: a channel that declares no usable originator
// (x/crypto/ssh sends 0.0.0.0:0) is taken to come from the carrier.
func TestOriginFallsBack(t *testing.T) {
	tube := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5555}
	for _, c := range []struct {
		addr string
		port uint32
		want string
	}{
		{"10.0.0.1", 4000, "10.0.0.1:4000"},
		{"0.0.0.0", 0, tube.String()},
		{"browser", 7, tube.String()},
		{"10.0.0.1", 70000, tube.String()},
	} {
		m := DirectTCPIP{Host: "x", Port: 22, OriginAddr: c.addr, OriginPort: c.port}
		if got := m.Origin(tube).String(); got != c.want {
			t.Errorf("Origin of %s:%d = %s, want %s", c.addr, c.port, got, c.want)
		}
	}
	if got := (ForwardedTCPIP{OriginAddr: "nope"}).Origin(nil).String(); got != "127.0.0.1:65535" {
		t.Errorf("Origin without a fallback = %s, want the placeholder", got)
	}
}
