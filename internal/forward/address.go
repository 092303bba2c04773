package forward

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Address names an endpoint, and is the one rule for naming it: the
// registry keys endpoints by it, share links store its String, the page
// shows it. It is either a virtual name and port, or a listener's address
// and port. Two spellings of one endpoint make equal Addresses, so an
// Address can be compared and used as a map key.
type Address struct {
	// Name is a virtual name in lower case, or "" for a listener.
	Name string
	// IP is a listener's address (invalid for a virtual name): 127.0.0.1
	// for the loopback port, which holds both families (localhost, ::1),
	// and :: for all interfaces.
	IP   netip.Addr
	Port int
}

var (
	loopback4  = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	allAddress = netip.IPv6Unspecified()
)

// AddressOf is the endpoint that host:port names, host as a tcpip-forward's
// bind address or a direct-tcpip's target names it: a virtual name when
// host is a name (see IsVirtualName); else a listener's address, with
// localhost, 127.0.0.1 and ::1 the one loopback port and "" or "*" all
// interfaces.
func AddressOf(host string, port int) Address {
	if IsVirtualName(host) {
		return Address{Name: strings.ToLower(host), Port: port}
	}
	switch strings.ToLower(host) {
	case "", "*":
		return Address{IP: allAddress, Port: port}
	case "localhost":
		return Address{IP: loopback4, Port: port}
	}
	a, _ := netip.ParseAddr(host) // a valid address: IsVirtualName said so
	if a == netip.IPv6Loopback() {
		a = loopback4 // one loopback port, both families (see Registry.listenPort)
	}
	return Address{IP: a.Unmap(), Port: port}
}

// ParseAddress reads an endpoint's address as String writes it, or as a
// person types it: "myapp:80" (a virtual name), "127.0.0.1:41234",
// "[::1]:8080", "localhost:41234", ":41234" or a bare "41234" (the loopback
// port), "*:8080" (all interfaces). The port must be 1-65535.
func ParseAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, ":") {
		s = "127.0.0.1:" + s
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return Address{}, fmt.Errorf("endpoint %q: want NAME:PORT or ADDRESS:PORT: %w", s, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return Address{}, fmt.Errorf("endpoint %q: port must be 1-65535", s)
	}
	switch {
	case host == "":
		host = "localhost" // ":PORT", like a bare port: loopback
	case IsVirtualName(host) && !ValidName(host):
		return Address{}, fmt.Errorf("endpoint %q: %q is not a valid virtual name", s, host)
	}
	return AddressOf(host, port), nil
}

// String is the address as HOST:PORT: "myapp:80", "127.0.0.1:41234",
// "[::]:8080". It is what share links store, so it never changes for an
// endpoint; the zero Address is "".
func (a Address) String() string {
	switch {
	case a.Name != "":
		return a.Name + ":" + strconv.Itoa(a.Port)
	case a.IP.IsValid():
		return JoinHostPort(a.IP.String(), a.Port)
	}
	return ""
}

// Virtual reports whether the address is a virtual name, which has no
// TCP listener.
func (a Address) Virtual() bool { return a.Name != "" }

// Host is the virtual name, or the listener's IP as text.
func (a Address) Host() string {
	if a.Name != "" {
		return a.Name
	}
	return a.IP.String()
}

// loopbackPort reports whether the address is the loopback port, which is
// listened on in both families.
func (a Address) loopbackPort() bool { return a.IP == loopback4 }

// listenOn is the address to listen on for a (non-loopback) listener:
// ":PORT" for all interfaces.
func (a Address) listenOn() string {
	if a.IP == allAddress {
		return JoinHostPort("", a.Port)
	}
	return JoinHostPort(a.IP.String(), a.Port)
}

// withPort is the address with another port (an allocated one).
func (a Address) withPort(port int) Address {
	a.Port = port
	return a
}
