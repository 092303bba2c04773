package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/gwproc"
	"github.com/tubegate/tubegate/internal/resume"
)

// Transports a tube can use.
const (
	transportWS  = "ws"
	transportTCP = "tcp"
	// transportWSResume is a resumable WebSocket tube (bridge.DialResume,
	// as gateway connect and gateway tunnel dial by default).
	transportWSResume = "ws-resume"
)

// goClient is one tube held by an x/crypto/ssh client in this process.
type goClient struct {
	name      string
	transport string
	client    *ssh.Client

	mu  sync.Mutex
	raw net.Conn // the TCP connection under SSH (under the WebSocket for ws)
}

// dialGo opens a tube to the gateway as the soak user, over the gateway's
// WebSocket (bridge.Dial, the native clients' code; bridge.DialResume for
// a resumable one) or TCP. rekey, if not
// zero, is the client's RekeyThreshold: a small one forces key
// re-exchanges while channels are busy.
func dialGo(ctx context.Context, g *gwproc.Gateway, id *gwproc.Identity, name, transport string, rekey uint64) (*goClient, error) {
	gc := &goClient{name: name, transport: transport}
	var d net.Dialer
	dialRaw := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			gc.mu.Lock()
			gc.raw = c
			gc.mu.Unlock()
		}
		return c, err
	}
	var (
		c    net.Conn
		addr string
		err  error
	)
	switch transport {
	case transportWS:
		addr = g.WSURL()
		c, err = bridge.Dial(ctx, addr, bridge.DialOptions{DialContext: dialRaw})
	case transportWSResume:
		addr = g.WSURL()
		c, err = bridge.DialResume(ctx, addr, bridge.DialOptions{DialContext: dialRaw}, resume.Options{})
	default:
		addr = g.SSHTCP
		c, err = dialRaw(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: dial gateway %s: %w", name, addr, err)
	}
	cfg := &ssh.ClientConfig{
		User:            soakUser,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(id.Signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a throw-away gateway on loopback
		Timeout:         gwproc.StartTimeout,
	}
	cfg.RekeyThreshold = rekey
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	sc, chans, reqs, err := ssh.NewClientConn(c, addr, cfg)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: ssh to gateway %s: %w", name, addr, err)
	}
	c.SetDeadline(time.Time{})
	gc.client = ssh.NewClient(sc, chans, reqs)
	return gc, nil
}

// serveForwards answers the gateway's forwarded-tcpip channels: each is
// joined to a new connection to a target, as ssh -R would. Call it before
// publish.
func (gc *goClient) serveForwards(tg *targets) {
	chans := gc.client.HandleChannelOpen("forwarded-tcpip")
	go func() {
		for nc := range chans {
			go func() {
				ch, reqs, err := nc.Accept()
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				tc, err := net.DialTimeout("tcp", tg.next(), 10*time.Second)
				if err != nil {
					ch.Close()
					return
				}
				join(ch, tc.(*net.TCPConn))
			}()
		}
	}()
}

// join copies both ways between a channel and a TCP connection, passing
// each EOF on, and closes both when both directions are done.
func join(ch ssh.Channel, tc *net.TCPConn) {
	done := make(chan struct{})
	go func() {
		io.Copy(tc, ch)
		tc.CloseWrite()
		close(done)
	}()
	io.Copy(ch, tc)
	ch.CloseWrite()
	<-done
	ch.Close()
	tc.Close()
}

// publish asks for -R bind:port and returns the port (the allocated one
// for port 0).
func (gc *goClient) publish(bind string, port uint32) (uint32, error) {
	ok, reply, err := gc.client.SendRequest("tcpip-forward", true, ssh.Marshal(struct {
		Addr string
		Port uint32
	}{bind, port}))
	if err != nil {
		return 0, fmt.Errorf("%s: tcpip-forward %s:%d: %w", gc.name, bind, port, err)
	}
	if !ok {
		return 0, fmt.Errorf("%s: tcpip-forward %s:%d refused", gc.name, bind, port)
	}
	if port == 0 {
		var r struct{ Port uint32 }
		if err := ssh.Unmarshal(reply, &r); err != nil {
			return 0, fmt.Errorf("%s: tcpip-forward reply: %w", gc.name, err)
		}
		return r.Port, nil
	}
	return port, nil
}

// dial opens a direct-tcpip channel through the tube (to a virtual name).
func (gc *goClient) dial(addr string) (net.Conn, error) {
	c, err := gc.client.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("direct-tcpip to %s via %s: %w", addr, gc.name, err)
	}
	return c, nil
}

// drop closes the TCP connection under the tube without an SSH (or
// WebSocket) goodbye, as a crashed client or a lost network would, and
// then lets the client's goroutines end.
func (gc *goClient) drop() {
	gc.mu.Lock()
	raw := gc.raw
	gc.mu.Unlock()
	if raw != nil {
		raw.Close()
	}
	gc.client.Close()
}

// close ends the tube politely.
func (gc *goClient) close() { gc.client.Close() }
