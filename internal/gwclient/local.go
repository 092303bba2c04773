//go:build !js

package gwclient

import (
	"fmt"
	"net"
	"strings"

	"github.com/tubegate/tubegate/internal/forward"
)

// ListenLocal listens on this machine for a native -L or -D forward, with
// OpenSSH's meaning of the bind address: localhost (the default) is the
// IPv4 loopback, "*" all interfaces, anything else an address or a name
// to resolve.
func ListenLocal(bind string, port int) (net.Listener, error) {
	host := bind
	switch strings.ToLower(bind) {
	case "localhost":
		host = "127.0.0.1"
	case "*":
		host = ""
	}
	ln, err := net.Listen("tcp", forward.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", forward.JoinHostPort(bind, port), err)
	}
	return ln, nil
}
