package gwclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// Tube is an SSH client connection to the gateway. It is an ssh.Client,
// whose DialContext opens direct-tcpip and whose Listen sends tcpip-forward
// with the bind address as given (so a virtual name is published as such),
// plus what the gateway adds: forward-lost@tubegate closes the Listener it
// names, and keepalives notice a dead tube.
type Tube struct {
	client *ssh.Client

	mu        sync.Mutex
	listeners map[forward.Address]*Listener
	closeErr  error // why the tube was closed on purpose (keepalives)

	done chan struct{}
	err  error // why the tube ended, valid after done
}

// NewTube runs the SSH handshake on c, a connection to the gateway at addr
// (the name the host key callback sees), giving up when ctx ends.
func NewTube(ctx context.Context, c net.Conn, addr string, cfg *ssh.ClientConfig) (*Tube, error) {
	conn, chans, reqs, err := Handshake(ctx, c, func(c net.Conn) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
		return ssh.NewClientConn(c, addr, cfg)
	})
	if err != nil {
		return nil, err
	}
	t := &Tube{listeners: make(map[forward.Address]*Listener), done: make(chan struct{})}
	// ssh.Client answers every global request itself; the gateway's
	// forward-lost@tubegate is taken out on the way.
	rest := make(chan *ssh.Request)
	go t.serveRequests(reqs, rest)
	t.client = ssh.NewClient(conn, chans, rest)
	go func() {
		err := t.client.Wait()
		t.mu.Lock()
		if t.closeErr != nil {
			err = t.closeErr
		}
		t.mu.Unlock()
		t.err = err
		close(t.done)
	}()
	return t, nil
}

// Handshake runs an SSH handshake on c that gives up when ctx ends.
func Handshake(ctx context.Context, c net.Conn, fn func(net.Conn) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error)) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	conn, chans, reqs, err := fn(c)
	if !stop() && err == nil {
		err = ctx.Err() // the handshake won the race but ctx has ended
	}
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
	}
	return conn, chans, reqs, err
}

// Client is the tube's SSH client, for what this package does not wrap.
func (t *Tube) Client() *ssh.Client { return t.client }

// Done is closed when the tube has ended.
func (t *Tube) Done() <-chan struct{} { return t.done }

// Err says why the tube ended (valid once Done is closed).
func (t *Tube) Err() error {
	if t.err == nil || errors.Is(t.err, net.ErrClosed) {
		return errors.New("the gateway closed the connection")
	}
	return t.err
}

// Close ends the tube and everything carried in it.
func (t *Tube) Close() error { return t.client.Close() }

// closeWith ends the tube, giving err as the reason.
func (t *Tube) closeWith(err error) {
	t.mu.Lock()
	if t.closeErr == nil {
		t.closeErr = err
	}
	t.mu.Unlock()
	t.client.Close()
}

// OpenError is a direct-tcpip the gateway refused, with its reason.
type OpenError struct {
	Target  string
	Reason  ssh.RejectionReason
	Message string
}

func (e *OpenError) Error() string { return e.Target + ": " + e.Message }

// Open opens a direct-tcpip channel to host:port through the gateway: a
// virtual name, a published port, or a destination the user's policy
// permits the gateway to dial. A refusal is an *OpenError. It is
// ssh.Client.DialContext, which declares 0.0.0.0:0 as the originator: the
// gateway then takes the tube's own address, which is the truth.
func (t *Tube) Open(ctx context.Context, host string, port int) (net.Conn, error) {
	target := forward.JoinHostPort(host, port)
	c, err := t.client.DialContext(ctx, "tcp", target)
	if err != nil {
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			return nil, &OpenError{Target: target, Reason: oce.Reason, Message: oce.Message}
		}
		return nil, fmt.Errorf("open %s through the gateway: %w", target, err)
	}
	return c, nil
}

// ErrListenRefused is wrapped by Listen's error when the gateway said no:
// the user's policy does not permit the address, or it is in use.
var ErrListenRefused = errors.New("the gateway refused to listen")

// Listener is a tcpip-forward on the gateway: each connection to it
// arrives as a forwarded-tcpip channel, accepted here.
type Listener struct {
	net.Listener
	// Address is the endpoint on the gateway, with the port it listens on.
	Address forward.Address
	// Bind and Port are the bind address as asked for, and the port.
	Bind string
	Port int

	tube    *Tube
	lost    chan struct{}
	lostErr error
	once    sync.Once
}

// Listen asks the gateway to listen on bind:port (port 0: any) and returns
// the listener. bind may be a virtual name: ssh.Client.Listen sends it as
// given and matches forwarded-tcpip channels by it.
func (t *Tube) Listen(bind string, port int) (*Listener, error) {
	at := forward.JoinHostPort(bind, port)
	ln, err := t.client.Listen("tcp", at)
	if err != nil {
		// x/crypto says a refusal only in words.
		if strings.Contains(err.Error(), "denied by peer") {
			return nil, fmt.Errorf("%w on %s: not permitted by your policy, or already in use", ErrListenRefused, at)
		}
		return nil, fmt.Errorf("ask the gateway to listen on %s: %w", at, err)
	}
	if port == 0 {
		port = ln.Addr().(*net.TCPAddr).Port
	}
	l := &Listener{Listener: ln, Address: forward.AddressOf(bind, port), Bind: bind, Port: port,
		tube: t, lost: make(chan struct{})}
	t.mu.Lock()
	t.listeners[l.Address] = l
	t.mu.Unlock()
	return l, nil
}

// Close cancels the tcpip-forward and stops accepting.
func (l *Listener) Close() error {
	l.tube.mu.Lock()
	if l.tube.listeners[l.Address] == l {
		delete(l.tube.listeners, l.Address)
	}
	l.tube.mu.Unlock()
	var err error
	l.once.Do(func() { err = l.Listener.Close() })
	return err
}

// Lost is closed when the gateway said the listener died on its own
// (forward-lost@tubegate); LostErr then says so.
func (l *Listener) Lost() <-chan struct{} { return l.lost }

// LostErr says why the listener was lost (valid once Lost is closed).
func (l *Listener) LostErr() error { return l.lostErr }

// serveRequests passes the gateway's global requests on to the
// ssh.Client, except forward-lost@tubegate, which closes the listener it
// names.
func (t *Tube) serveRequests(in <-chan *ssh.Request, out chan<- *ssh.Request) {
	defer close(out)
	for req := range in {
		if req.Type != forward.ReqForwardLost {
			out <- req
			continue
		}
		var p forward.ForwardRequest
		if ssh.Unmarshal(req.Payload, &p) == nil {
			at := forward.AddressOf(p.BindAddr, int(p.BindPort))
			t.mu.Lock()
			l := t.listeners[at]
			delete(t.listeners, at)
			t.mu.Unlock()
			if l != nil {
				l.lostErr = fmt.Errorf("its listener %s on the gateway failed and was closed", at)
				close(l.lost)
				go l.Close() // sends a cancel, answered while this loop goes on
			}
		}
		if req.WantReply {
			req.Reply(false, nil)
		}
	}
}
