// Package forward owns Tubegate's endpoints: who may dial or publish what
// (policy), the published ports and virtual names of live tubes (registry),
// and the copying of bytes between two connections (pump).
package forward

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one permitopen / permitlisten entry. An empty Host or Port of "*"
// matches anything; both are only ever wildcards when written explicitly.
type Rule struct {
	Host string // a name, an IP address, a CIDR prefix, or "*"
	Port string // a number or "*"
	// Owner, set only in permit-open, makes the rule name another user's
	// virtual names (NAME@OWNER:PORT, NAME a glob) instead of real
	// destinations.
	Owner string
}

// String renders the rule the way it is written on the command line.
func (r Rule) String() string {
	if r.Owner != "" {
		return r.Host + "@" + r.Owner + ":" + r.Port
	}
	if strings.Contains(r.Host, ":") && !strings.Contains(r.Host, "/") {
		return "[" + r.Host + "]:" + r.Port
	}
	return r.Host + ":" + r.Port
}

// ParseOpenRule parses a permitopen entry: HOST:PORT, [V6]:PORT, with "*"
// allowed for either part, for real destinations; NAME@OWNER:PORT for the
// virtual names of user OWNER (NAME a glob such as * or db-*).
func ParseOpenRule(s string) (Rule, error) {
	host, port, err := splitHostPort(s)
	if err != nil {
		return Rule{}, fmt.Errorf("permit-open %q: %w", s, err)
	}
	if host == "" {
		return Rule{}, fmt.Errorf("permit-open %q: missing host (write * for any host)", s)
	}
	if name, owner, ok := strings.Cut(host, "@"); ok {
		if name == "" || owner == "" || strings.Contains(owner, "@") {
			return Rule{}, fmt.Errorf("permit-open %q: write NAME@OWNER:PORT for another user's virtual name", s)
		}
		nr, err := ParseNameRule(name)
		if err != nil {
			return Rule{}, fmt.Errorf("permit-open %q: %w", s, err)
		}
		r, err := newRule(string(nr), port, "permit-open", s)
		r.Owner = strings.ToLower(owner)
		return r, err
	}
	return newRule(host, port, "permit-open", s)
}

// ParseListenRule parses a permitlisten entry: [HOST:]PORT. A bare port
// means a loopback listener, as in OpenSSH.
func ParseListenRule(s string) (Rule, error) {
	if !strings.Contains(s, ":") {
		return newRule("localhost", s, "permit-listen", s)
	}
	host, port, err := splitHostPort(s)
	if err != nil {
		return Rule{}, fmt.Errorf("permit-listen %q: %w", s, err)
	}
	if host == "" {
		host = "localhost"
	}
	return newRule(host, port, "permit-listen", s)
}

func splitHostPort(s string) (string, string, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", "", fmt.Errorf("want HOST:PORT")
	}
	host, port := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return host, port, nil
}

func newRule(host, port, kind, orig string) (Rule, error) {
	if port != "*" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return Rule{}, fmt.Errorf("%s %q: port must be 0-65535 or *", kind, orig)
		}
		port = strconv.Itoa(n)
	}
	if strings.Contains(host, "/") {
		if _, err := netip.ParsePrefix(host); err != nil {
			return Rule{}, fmt.Errorf("%s %q: bad CIDR prefix: %w", kind, orig, err)
		}
	}
	return Rule{Host: strings.ToLower(host), Port: port}, nil
}

func (r Rule) matchPort(port int) bool {
	return r.Port == "*" || r.Port == strconv.Itoa(port)
}

// matchHost reports whether the rule's host covers a requested name or a
// resolved address (either may be empty).
func (r Rule) matchHost(name string, addr netip.Addr) bool {
	switch {
	case r.Host == "*":
		return true
	case name != "" && strings.EqualFold(r.Host, name):
		return true
	case !addr.IsValid():
		return false
	case strings.Contains(r.Host, "/"):
		p, err := netip.ParsePrefix(r.Host)
		return err == nil && p.Contains(addr.Unmap())
	default:
		a, err := netip.ParseAddr(r.Host)
		return err == nil && a.Unmap() == addr.Unmap()
	}
}

// Policy is what one user may dial (direct-tcpip) and publish (tcpip-forward).
type Policy struct {
	// Open lists the destinations the gateway may dial for the user (rules
	// without an Owner), and the other users' virtual names the user may
	// reach (rules with one). Empty: none.
	Open []Rule
	// Listen lists where the user may publish ports. Nil: the default, any
	// unprivileged loopback port.
	Listen []Rule
	// Names lists the virtual names the user may publish besides their own
	// namespace (see AllowsName). Empty: their namespace only.
	Names []NameRule
}

// DefaultListen is the listen policy of a user with no permit-listen rules.
var DefaultListen = []Rule{{Host: "localhost", Port: "*"}}

// AllowsOpen reports whether the user may reach name:port, where name is
// what the client asked for and addr what it resolved to (invalid if it was
// not resolved, as for a virtual name).
func (p Policy) AllowsOpen(name string, addr netip.Addr, port int) bool {
	for _, r := range p.Open {
		if r.Owner == "" && r.matchPort(port) && r.matchHost(name, addr) {
			return true
		}
	}
	return false
}

// AllowsOpenName reports whether the user may reach owner's virtual name
// name:port: only a rule naming that owner (NAME@OWNER:PORT) grants it.
func (p Policy) AllowsOpenName(owner, name string, port int) bool {
	for _, r := range p.Open {
		if r.Owner != "" && strings.EqualFold(r.Owner, owner) && r.matchPort(port) && NameRule(r.Host).match(name) {
			return true
		}
	}
	return false
}

// AllowsListen reports whether the user may listen on bind:port, where bind
// is "" for all interfaces. Privileged ports need a rule naming the port.
func (p Policy) AllowsListen(bind string, port int) bool {
	rules := p.Listen
	if rules == nil {
		rules = DefaultListen
	}
	addr, _ := netip.ParseAddr(bind)
	loopback := bind == "localhost" || (addr.IsValid() && addr.IsLoopback())
	for _, r := range rules {
		if !r.matchPort(port) {
			continue
		}
		if port != 0 && port < 1024 && r.Port == "*" {
			continue // privileged ports only by explicit number
		}
		switch {
		case r.Host == "*":
			return true
		case bind == "":
			continue // all interfaces need a "*" host rule
		case r.Host == "localhost" && loopback:
			return true
		case r.matchHost(bind, addr):
			return true
		}
	}
	return false
}

// IsVirtualName reports whether a tcpip-forward bind address is a name
// rather than an address, so that it makes a virtual name, not a listener.
func IsVirtualName(bind string) bool {
	if bind == "" || bind == "*" || strings.EqualFold(bind, "localhost") {
		return false
	}
	if _, err := netip.ParseAddr(bind); err == nil {
		return false
	}
	return true
}

// ValidName reports whether s is acceptable as a virtual name: a DNS-style
// label sequence of at most 253 characters.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// JoinHostPort is net.JoinHostPort with an int port.
func JoinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
