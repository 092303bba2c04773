package gwclient

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tubegate/tubegate/internal/forward"
)

// Spec is a forward in OpenSSH syntax:
//   - -L [bind:]port:host:hostport and -R [bind:]port:host:hostport;
//   - -D [bind:]port, a SOCKS proxy (no destination: each connection names
//     its own);
//   - -W host:port, stdio to one destination (no listener).
//
// Who listens and who dials depends on the client: natively (`gateway
// tunnel`), -L and -D listen on this machine and -R on the gateway; in the
// page, -L listens on the gateway and -R on the host.
type Spec struct {
	Kind     byte   // 'L', 'R', 'D' or 'W'
	BindHost string // "localhost" unless given; "" for -W
	BindPort int    // 0: allocated by the listener's side
	Host     string // destination; "" for -D
	Port     int
}

// String renders the spec as OpenSSH would take it.
func (s Spec) String() string {
	switch s.Kind {
	case 'D':
		return fmt.Sprintf("-D %s", forward.JoinHostPort(s.BindHost, s.BindPort))
	case 'W':
		return fmt.Sprintf("-W %s", forward.JoinHostPort(s.Host, s.Port))
	}
	return fmt.Sprintf("-%c %s:%s", s.Kind, forward.JoinHostPort(s.BindHost, s.BindPort), forward.JoinHostPort(s.Host, s.Port))
}

// Listen is the spec's listening address, [bind]:port.
func (s Spec) Listen() string { return forward.JoinHostPort(s.BindHost, s.BindPort) }

// Target is the spec's destination, host:port.
func (s Spec) Target() string { return forward.JoinHostPort(s.Host, s.Port) }

// ParseSpec parses a forward written with its option: "-L 8080:web:80",
// "-R myhost:22:localhost:22", "-D 1080", "-W db:5432".
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '-' || !strings.ContainsRune("LRDW", rune(s[1])) {
		return Spec{}, fmt.Errorf("forward %q: start with -L, -R, -D or -W", s)
	}
	return ParseArg(s[1], s[2:])
}

// ParseArg parses the argument of -L, -R, -D or -W (kind). The listen part
// follows permit-listen syntax and the destination permit-open syntax,
// without wildcards.
func ParseArg(kind byte, arg string) (Spec, error) {
	arg = strings.TrimSpace(arg)
	sp := Spec{Kind: kind}
	fail := func(err error) (Spec, error) {
		return Spec{}, fmt.Errorf("forward -%c %q: %w", kind, arg, err)
	}
	var listen, dest string
	switch kind {
	case 'L', 'R':
		var err error
		if listen, dest, err = splitDest(arg); err != nil {
			return fail(err)
		}
	case 'D':
		listen = arg
	case 'W':
		dest = arg
	default:
		return Spec{}, fmt.Errorf("forward -%c: not one of -L, -R, -D, -W", kind)
	}
	if listen != "" || kind != 'W' {
		lr, err := forward.ParseListenRule(listen)
		if err != nil {
			return fail(err)
		}
		if lr.Port == "*" {
			return fail(fmt.Errorf("no wildcards in a forward"))
		}
		sp.BindHost = lr.Host
		sp.BindPort, _ = strconv.Atoi(lr.Port)
	}
	if dest != "" || kind == 'W' {
		dr, err := forward.ParseOpenRule(dest)
		if err != nil {
			return fail(err)
		}
		if dr.Port == "*" || dr.Host == "*" {
			return fail(fmt.Errorf("no wildcards in a forward"))
		}
		if dr.Owner != "" {
			return fail(fmt.Errorf("a destination is host:port or name:port, not NAME@OWNER"))
		}
		sp.Host = dr.Host
		sp.Port, _ = strconv.Atoi(dr.Port)
		if sp.Port == 0 {
			return fail(fmt.Errorf("the destination needs a port"))
		}
	}
	return sp, nil
}

// splitDest splits "[bind:]port:host:hostport" into its listen part and
// "host:hostport", where host may be a bracketed IPv6 address.
func splitDest(s string) (listen, dest string, err error) {
	errWant := errors.New("want [bind:]port:host:hostport")
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", "", errWant
	}
	var j int
	if i > 0 && s[i-1] == ']' {
		j = strings.LastIndex(s[:i], "[")
		if j <= 0 || s[j-1] != ':' {
			return "", "", errWant
		}
		j--
	} else {
		j = strings.LastIndex(s[:i], ":")
	}
	if j <= 0 {
		return "", "", errWant
	}
	return s[:j], s[j+1:], nil
}
