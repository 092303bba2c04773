package gwclient

import (
	"context"
	"net"
	"time"

	"github.com/tubegate/tubegate/internal/forward"
)

// OpenTimeout bounds opening the far side of one forwarded connection.
const OpenTimeout = 30 * time.Second

// DialFunc opens the far side of a connection that came in from c.
type DialFunc func(ctx context.Context, c net.Conn) (net.Conn, error)

// Serve carries each connection accepted on ln to the far side that dial
// opens, until Accept fails, counting it in conns (the connecting side is
// the one accepted). A dial that fails closes the connection and is
// reported to onErr. All four forward directions are this loop: a local
// or host listener into a channel of the tube (native -L, page -R), and a
// gateway Listener out to a local or host dial (native -R, page -L).
func Serve(ln net.Listener, dial DialFunc, conns *forward.Conns, onErr func(error)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go Carry(c, dial, conns, onErr)
	}
}

// Carry dials the far side for c and pipes the two, counted in conns.
func Carry(c net.Conn, dial DialFunc, conns *forward.Conns, onErr func(error)) {
	ctx, cancel := context.WithTimeout(context.Background(), OpenTimeout)
	out, err := dial(ctx, c)
	cancel()
	if err != nil {
		if onErr != nil {
			onErr(err)
		}
		c.Close()
		return
	}
	counted, ok := conns.Track(c, false)
	if !ok { // the forward is closing
		c.Close()
		out.Close()
		return
	}
	forward.Pipe(counted, out)
}
