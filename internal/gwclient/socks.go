package gwclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/socks5"
)

// OpenFunc opens host:port through the gateway, as Tube.Open does.
type OpenFunc func(ctx context.Context, host string, port int) (net.Conn, error)

// SOCKSDial is the DialFunc of a -D forward: it reads the SOCKS5 CONNECT
// request from the connection, opens its destination with open (a
// direct-tcpip under the user's policy) and answers the client: success,
// or the refusal that matches the gateway's reason (not allowed by
// ruleset for a policy refusal, host unreachable for a failed dial).
func SOCKSDial(open OpenFunc) DialFunc {
	return func(ctx context.Context, c net.Conn) (net.Conn, error) {
		if dl, ok := ctx.Deadline(); ok {
			c.SetDeadline(dl)
			defer c.SetDeadline(time.Time{})
		}
		host, port, err := socks5.ReadRequest(c)
		if err != nil {
			return nil, fmt.Errorf("-D from %s: %w", c.RemoteAddr(), err)
		}
		out, err := open(ctx, host, port)
		if err != nil {
			socks5.Reply(c, socksCode(err))
			return nil, fmt.Errorf("-D from %s: %w", c.RemoteAddr(), err)
		}
		if err := socks5.Reply(c, socks5.Succeeded); err != nil {
			out.Close()
			return nil, fmt.Errorf("-D from %s: reply: %w", c.RemoteAddr(), err)
		}
		return out, nil
	}
}

// socksCode is the SOCKS5 reply for a failed open.
func socksCode(err error) byte {
	var oe *OpenError
	switch {
	case errors.As(err, &oe) && oe.Reason == ssh.Prohibited:
		return socks5.NotAllowed
	case errors.As(err, &oe):
		return socks5.HostUnreachable
	case errors.Is(err, ErrNoTube):
		return socks5.NetworkUnreachable
	}
	return socks5.GeneralFailure
}

// ErrNoTube is wrapped by an open that found no tube to the gateway up.
var ErrNoTube = errors.New("no connection to the gateway")
