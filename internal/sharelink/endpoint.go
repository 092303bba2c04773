package sharelink

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tubegate/tubegate/internal/forward"
)

// EndpointRef is a parsed endpoint key.
type EndpointRef struct {
	Key  string // the registry key, as forward.Endpoint.Key spells it
	Host string // virtual name or listen address ("" for all interfaces)
	Port int
	// Virtual is true for a virtual name (no TCP listener).
	Virtual bool
}

// ParseEndpoint turns what a user typed into the registry key of the
// endpoint: "myapp:80" (a virtual name), "127.0.0.1:41234", "[::1]:8080",
// "localhost:41234" or a bare "41234" (both loopback ports).
func ParseEndpoint(s string) (EndpointRef, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, ":") {
		s = "127.0.0.1:" + s
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return EndpointRef{}, fmt.Errorf("endpoint %q: want NAME:PORT or ADDRESS:PORT: %w", s, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return EndpointRef{}, fmt.Errorf("endpoint %q: port must be 1-65535", s)
	}
	ref := EndpointRef{Port: port}
	switch {
	case host == "" || strings.EqualFold(host, "localhost"):
		host, ref.Host = "localhost", "127.0.0.1" // ":PORT", like a bare port: loopback
	case host == "*":
		ref.Host = "" // all interfaces
	case forward.IsVirtualName(host):
		if !forward.ValidName(host) {
			return EndpointRef{}, fmt.Errorf("endpoint %q: %q is not a valid virtual name", s, host)
		}
		ref.Host, ref.Virtual = strings.ToLower(host), true
	default:
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return EndpointRef{}, fmt.Errorf("endpoint %q: bad address: %w", s, err)
		}
		ref.Host = addr.Unmap().String()
	}
	ref.Key = forward.EndpointKey(host, port)
	return ref, nil
}

// Public reports whether the endpoint is a TCP listener that anyone can
// reach: bound to a non-loopback address, and allowed there by pol (so it
// is public by policy, not by accident).
func (e EndpointRef) Public(pol forward.Policy) error {
	if e.Virtual {
		return fmt.Errorf("%s is a virtual name: it has no TCP listener to share; share it as an HTTP link, or publish a port", e.Key)
	}
	addr, _ := netip.ParseAddr(e.Host)
	if addr.IsLoopback() {
		return fmt.Errorf("%s listens on loopback only, so a TCP link would not reach it; publish it on a public address (ssh -R 0.0.0.0:PORT:...), which needs a permit-listen rule for that address, or share it as an HTTP link", e.Key)
	}
	if !pol.AllowsListen(e.Host, e.Port) {
		return fmt.Errorf("%s: listening there is not permitted by the user's policy, so the port is not public", e.Key)
	}
	return nil
}

// LookupEndpoint finds the live endpoint with registry key key, or nil.
func LookupEndpoint(reg *forward.Registry, key string) *forward.Endpoint {
	ref, err := ParseEndpoint(key)
	if err != nil {
		return nil
	}
	ep := reg.Lookup(ref.Host, ref.Port)
	if ep == nil || ep.Key != ref.Key {
		return nil
	}
	return ep
}
