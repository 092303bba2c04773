package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/acceptloop"
	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/gwclient"
)

// Reconnect backoff: 1 s doubling to 60 s, ±25% jitter; a tube that lived
// this long resets it, so that one drop after a long run retries at once.
const (
	backoffMin   = time.Second
	backoffMax   = 60 * time.Second
	backoffLived = 30 * time.Second
)

// tunnel is one `gateway tunnel` run: its local listeners, the current
// tube (nil while reconnecting) and its -R forwards.
type tunnel struct {
	cfg  *tunnelConfig
	log  *slog.Logger
	auth *tunnelAuth
	pin  *hostPin
	tls  *tls.Config // --ca (nil: the system roots)

	mu      sync.Mutex
	tube    *gwclient.Tube
	changed chan struct{} // closed and replaced when tube changes
	// published[i]: -R i was published once; a refusal after that is the
	// gateway still holding it for our old tube, and is retried.
	published []bool
	// wasUp: a tube was up once; a proxy's refusal after that is retried.
	wasUp bool
}

func runTunnel(ctx context.Context, cfg *tunnelConfig, stdin io.Reader) error {
	log, err := newLogger(cfg.logLevel)
	if err != nil {
		return err
	}
	auth, err := loadAuth(cfg, stdin)
	if err != nil {
		return err
	}
	tlsCfg, err := bridge.ClientTLS(cfg.ca)
	if err != nil {
		return err
	}
	tn := &tunnel{cfg: cfg, log: log, auth: auth, tls: tlsCfg, changed: make(chan struct{}),
		pin:       &hostPin{path: cfg.knownHosts, hostPort: cfg.hostPort, log: log},
		published: make([]bool, len(cfg.remotes))}
	if cfg.stdio != nil {
		return tn.runStdio(ctx)
	}
	if err := tn.listenLocal(ctx); err != nil {
		return err
	}
	return tn.supervise(ctx)
}

// listenLocal opens the -L and -D listeners, which stay open across
// reconnects.
func (tn *tunnel) listenLocal(ctx context.Context) error {
	type local struct {
		sp   gwclient.Spec
		dial gwclient.DialFunc
	}
	var all []local
	for _, sp := range tn.cfg.locals {
		sp := sp
		all = append(all, local{sp, func(ctx context.Context, _ net.Conn) (net.Conn, error) {
			return tn.open(ctx, sp.Host, sp.Port)
		}})
	}
	for _, sp := range tn.cfg.dynamics {
		all = append(all, local{sp, gwclient.SOCKSDial(tn.open)})
	}
	for _, l := range all {
		raw, err := gwclient.ListenLocal(l.sp.BindHost, l.sp.BindPort)
		if err != nil {
			return fmt.Errorf("%s: %w", l.sp, err)
		}
		ln := acceptloop.Wrap(raw, "forward", tn.log, nil)
		context.AfterFunc(ctx, func() { ln.Close() })
		tn.log.Info("listening", "forward", l.sp.String(), "addr", raw.Addr().String())
		spec := l.sp.String()
		go gwclient.Serve(ln, l.dial, &forward.Conns{}, func(err error) {
			tn.log.Warn("connection failed", "forward", spec, "err", err)
		})
	}
	return nil
}

// open opens host:port through the current tube, waiting for one while
// the tunnel reconnects (up to ctx's deadline).
func (tn *tunnel) open(ctx context.Context, host string, port int) (net.Conn, error) {
	for {
		tn.mu.Lock()
		t, changed := tn.tube, tn.changed
		tn.mu.Unlock()
		if t != nil {
			return t.Open(ctx, host, port)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: still reconnecting", gwclient.ErrNoTube)
		}
	}
}

func (tn *tunnel) setTube(t *gwclient.Tube) {
	tn.mu.Lock()
	tn.tube = t
	close(tn.changed)
	tn.changed = make(chan struct{})
	tn.mu.Unlock()
}

// supervise keeps a tube up until ctx ends or a refusal is permanent.
func (tn *tunnel) supervise(ctx context.Context) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.RandomizationFactor, bo.Multiplier = backoffMin, backoffMax, 0.25, 2
	for attempt := 1; ; attempt++ {
		tn.log.Info("connecting", "gateway", tn.cfg.gateway.Redacted(), "attempt", attempt)
		t, r, err := tn.connect(ctx)
		var perm *permanentError
		var pr *bridge.ProxyRefusedError
		if errors.As(err, &pr) && !tn.wasUp && (pr.StatusCode == http.StatusProxyAuthRequired || pr.StatusCode == http.StatusForbidden) {
			// The proxy wants credentials, or refuses the gateway: as
			// with bad credentials, retrying will not help.
			err = permanent(err)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &perm):
			tn.log.Error("giving up", "err", err)
			return err
		case err != nil:
			tn.log.Warn("connect failed", "err", err)
		default:
			up := time.Now()
			tn.wasUp = true
			tn.setTube(t)
			go t.Keepalive(ctx, tn.cfg.keepalive, tn.cfg.keepaliveMax, r)
			select {
			case <-ctx.Done():
				t.Close()
				return ctx.Err()
			case <-t.Done():
			}
			tn.setTube(nil)
			lived := time.Since(up)
			tn.log.Warn("tunnel down", "err", t.Err(), "up", lived.Round(time.Millisecond))
			if lived >= backoffLived {
				bo.Reset()
			}
		}
		wait := bo.NextBackOff()
		tn.log.Info("reconnecting", "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// connect dials the gateway, logs in and publishes the -R forwards. It
// returns the tube's resumable transport too (nil for a raw one).
func (tn *tunnel) connect(ctx context.Context) (*gwclient.Tube, gwclient.Resumable, error) {
	t, r, err := tn.login(ctx)
	if err != nil {
		return nil, nil, err
	}
	for i := range tn.cfg.remotes {
		if err := tn.publish(t, i); err != nil {
			t.Close()
			return nil, nil, err
		}
	}
	tn.log.Info("tunnel up", "gateway", tn.cfg.gateway.Redacted(), "user", tn.cfg.user, "resumable", r != nil)
	return t, r, nil
}

// login dials the gateway and runs the SSH handshake.
func (tn *tunnel) login(ctx context.Context) (*gwclient.Tube, gwclient.Resumable, error) {
	ctx, cancel := context.WithTimeout(ctx, tn.cfg.timeout)
	defer cancel()
	check, algos, err := tn.pin.prepare()
	if err != nil {
		return nil, nil, err
	}
	methods, done := tn.auth.methods(tn.log)
	defer done()
	if len(methods) == 0 {
		return nil, nil, permanent(errors.New("no credentials: give --key, run ssh-agent (SSH_AUTH_SOCK), or a password (--password-stdin, TUBEGATE_PASSWORD)"))
	}
	var keyErr error
	cfg := &ssh.ClientConfig{
		User: tn.cfg.user,
		Auth: methods,
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			keyErr = check(host, remote, key)
			return keyErr
		},
		HostKeyAlgorithms: algos,
	}
	conn, r, err := tn.dialGateway(ctx)
	if err != nil {
		return nil, nil, err
	}
	t, err := gwclient.NewTube(ctx, conn, tn.cfg.hostPort, cfg)
	switch {
	case keyErr != nil:
		return nil, nil, keyErr
	case err != nil && strings.Contains(err.Error(), "unable to authenticate"):
		return nil, nil, permanent(fmt.Errorf("the gateway refused the login of %s: bad credentials (%v)", tn.cfg.user, err))
	case err != nil:
		return nil, nil, fmt.Errorf("ssh to %s: %w", tn.cfg.gateway.Redacted(), err)
	}
	return t, r, nil
}

// publish asks the gateway for -R i and carries its connections to their
// destination from this machine. A port the gateway allocated is asked
// for again on the next tube, to keep it.
func (tn *tunnel) publish(t *gwclient.Tube, i int) error {
	sp := &tn.cfg.remotes[i]
	ln, err := t.Listen(sp.BindHost, sp.BindPort)
	switch {
	case errors.Is(err, gwclient.ErrListenRefused) && !tn.published[i]:
		return permanent(fmt.Errorf("%s: %w", sp, err))
	case err != nil:
		return fmt.Errorf("%s: %w", sp, err)
	}
	tn.published[i] = true
	if sp.BindPort == 0 {
		tn.log.Info("port allocated", "forward", sp.String(), "port", ln.Port)
		sp.BindPort = ln.Port
	}
	tn.log.Info("forward published", "forward", sp.String(), "endpoint", ln.Address.String())
	target, spec := sp.Target(), sp.String()
	dial := func(ctx context.Context, _ net.Conn) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", target)
	}
	go gwclient.Serve(ln, dial, &forward.Conns{}, func(err error) {
		tn.log.Warn("connection failed", "forward", spec, "err", err)
	})
	go func() {
		select {
		case <-ln.Lost():
			// The gateway's listener failed; a new tube publishes it again.
			tn.log.Warn("forward lost; reconnecting to publish it again", "forward", spec, "err", ln.LostErr())
			t.Close()
		case <-t.Done():
		}
	}()
	return nil
}

// runStdio is -W: one connection joined to stdin/stdout, no reconnecting.
func (tn *tunnel) runStdio(ctx context.Context) error {
	t, _, err := tn.login(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	octx, cancel := context.WithTimeout(ctx, tn.cfg.timeout)
	c, err := t.Open(octx, tn.cfg.stdio.Host, tn.cfg.stdio.Port)
	cancel()
	if err != nil {
		return err
	}
	growPipes(os.Stdin, os.Stdout)
	return relay(ctx, c, os.Stdin, os.Stdout)
}
