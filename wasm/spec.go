package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tubegate/tubegate/internal/forward"
)

// Spec is a forward from the page in OpenSSH syntax:
// -L [bind:]port:host:hostport or -R [bind:]port:host:hostport.
type Spec struct {
	Kind     byte   // 'L' or 'R'
	BindHost string // "localhost" unless given
	BindPort int    // 0: allocated by the listener's side
	Host     string // destination, seen from the host (-L) or the gateway (-R)
	Port     int
}

// String renders the spec as OpenSSH would take it.
func (s Spec) String() string {
	return fmt.Sprintf("-%c %s:%s", s.Kind, forward.JoinHostPort(s.BindHost, s.BindPort), forward.JoinHostPort(s.Host, s.Port))
}

// ParseSpec parses "-L [bind:]port:host:hostport" or the same with -R.
// The listen part follows permit-listen syntax and the destination
// permit-open syntax, without wildcards.
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	var sp Spec
	switch {
	case strings.HasPrefix(s, "-L"):
		sp.Kind = 'L'
	case strings.HasPrefix(s, "-R"):
		sp.Kind = 'R'
	default:
		return Spec{}, fmt.Errorf("forward %q: start with -L or -R", s)
	}
	rest := strings.TrimSpace(s[2:])
	listen, dest, err := splitDest(rest)
	if err != nil {
		return Spec{}, fmt.Errorf("forward %q: %w", s, err)
	}
	lr, err := forward.ParseListenRule(listen)
	if err != nil {
		return Spec{}, fmt.Errorf("forward %q: %w", s, err)
	}
	dr, err := forward.ParseOpenRule(dest)
	if err != nil {
		return Spec{}, fmt.Errorf("forward %q: %w", s, err)
	}
	if lr.Host == "*" && sp.Kind == 'L' {
		return Spec{}, fmt.Errorf("forward %q: the gateway listens on loopback or a named address, not *", s)
	}
	if lr.Port == "*" || dr.Port == "*" || dr.Host == "*" {
		return Spec{}, fmt.Errorf("forward %q: no wildcards in a forward", s)
	}
	sp.BindHost = lr.Host
	sp.BindPort, _ = strconv.Atoi(lr.Port)
	sp.Host = dr.Host
	sp.Port, _ = strconv.Atoi(dr.Port)
	if sp.Port == 0 {
		return Spec{}, fmt.Errorf("forward %q: the destination needs a port", s)
	}
	return sp, nil
}

// splitDest splits "[bind:]port:host:hostport" into its listen part and
// "host:hostport", where host may be a bracketed IPv6 address.
func splitDest(s string) (listen, dest string, err error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", "", fmt.Errorf("want [bind:]port:host:hostport")
	}
	hostEnd := i
	var j int
	if hostEnd > 0 && s[hostEnd-1] == ']' {
		j = strings.LastIndex(s[:hostEnd], "[")
		if j <= 0 || s[j-1] != ':' {
			return "", "", fmt.Errorf("want [bind:]port:host:hostport")
		}
		j--
	} else {
		j = strings.LastIndex(s[:hostEnd], ":")
	}
	if j <= 0 {
		return "", "", fmt.Errorf("want [bind:]port:host:hostport")
	}
	return s[:j], s[j+1:], nil
}
