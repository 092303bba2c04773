package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/gwproc"
	"github.com/tubegate/tubegate/internal/resume"
)

// Transports a tube can use.
const (
	transportWS  = "websocket"
	transportTCP = "tcp"
	// transportWSResume is a resumable WebSocket tube (bridge.DialResume).
	transportWSResume = "websocket-resume"
)

// idleTransports are the transports idle tubes can be measured over.
var idleTransports = []string{transportWS, transportWSResume, transportTCP}

// dialTube opens one SSH connection to the gateway as the bench user, over
// the gateway's WebSocket (bridge.Dial, the clients' code path) or TCP.
func dialTube(ctx context.Context, g *gateway, transport, cipher string, id *identity) (*ssh.Client, error) {
	var (
		c    net.Conn
		addr string
		err  error
	)
	switch transport {
	case transportWS:
		addr = g.WSURL()
		c, err = bridge.Dial(ctx, addr, bridge.DialOptions{})
	case transportWSResume:
		addr = g.WSURL()
		c, err = bridge.DialResume(ctx, addr, bridge.DialOptions{}, resume.Options{})
	case transportTCP:
		addr = g.SSHTCP
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", addr)
	default:
		return nil, fmt.Errorf("unknown transport %q", transport)
	}
	if err != nil {
		return nil, fmt.Errorf("dial gateway %s: %w", addr, err)
	}
	cfg := &ssh.ClientConfig{
		User:            benchUser,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(id.Signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a throw-away gateway on loopback
		Timeout:         gwproc.StartTimeout,
	}
	if cipher != "" {
		cfg.Ciphers = []string{cipher}
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	sc, chans, reqs, err := ssh.NewClientConn(c, addr, cfg)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("ssh to gateway %s: %w", addr, err)
	}
	c.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// remoteForward asks the gateway for `-R 127.0.0.1:0:target` on client
// and serves it as OpenSSH would: each forwarded-tcpip channel is joined
// to a new connection to target. It returns the published address.
func remoteForward(client *ssh.Client, target string) (string, error) {
	ln, err := listen(client, "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("tcpip-forward for %s: %w", target, err)
	}
	go func() {
		for {
			ch, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc, err := net.DialTimeout("tcp", target, dialTimeout)
				if err != nil {
					ch.Close()
					return
				}
				forward.Pipe(ch, tc)
			}()
		}
	}()
	return ln.Addr().String(), nil
}

// goTunnel is a Go client holding -R forwards to the echo server and sink.
func goTunnel(ctx context.Context, g *gateway, transport, cipher string, id *identity, tg *targets) (endpoints, error) {
	dctx, cancel := context.WithTimeout(ctx, gwproc.StartTimeout)
	defer cancel()
	client, err := dialTube(dctx, g, transport, cipher, id)
	if err != nil {
		return endpoints{}, err
	}
	echo, err1 := remoteForward(client, tg.EchoAddr())
	sink, err2 := remoteForward(client, tg.SinkAddr())
	if err := errors.Join(err1, err2); err != nil {
		client.Close()
		return endpoints{}, err
	}
	return endpoints{echo: echo, sink: sink, close: func() { client.Close() }}, nil
}

// listen is client.Listen bounded by gwproc.StartTimeout: a tube that
// does not answer its tcpip-forward fails the figure instead of hanging.
func listen(client *ssh.Client, addr string) (net.Listener, error) {
	type listened struct {
		ln  net.Listener
		err error
	}
	ch := make(chan listened, 1)
	go func() {
		ln, err := client.Listen("tcp", addr)
		ch <- listened{ln, err}
	}()
	select {
	case l := <-ch:
		return l.ln, l.err
	case <-time.After(gwproc.StartTimeout):
		go func() {
			if l := <-ch; l.ln != nil {
				l.ln.Close()
			}
		}()
		return nil, fmt.Errorf("tcpip-forward %s: no answer in %v", addr, gwproc.StartTimeout)
	}
}
