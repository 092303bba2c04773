package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/faultproxy"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/gwproc"
	"github.com/tubegate/tubegate/internal/resume"
)

// figRecovery is the time from a reset of the connection under a tube to
// bytes flowing through it again.
const figRecovery = "ms from a reset to bytes flowing again"

// recoveryWait bounds one recovery: a tube not carrying bytes again by
// then fails the figure.
const recoveryWait = 30 * time.Second

// recoveryResult is one way of coming back from a reset, measured runs times.
type recoveryResult struct {
	median, worst time.Duration
	runs          int
}

// sshOver runs the bench user's SSH client over c.
func sshOver(c net.Conn, addr string, id *identity) (*ssh.Client, error) {
	cfg := &ssh.ClientConfig{
		User:            benchUser,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(id.Signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a throw-away gateway on loopback
		Timeout:         gwproc.StartTimeout,
	}
	c.SetDeadline(time.Now().Add(gwproc.StartTimeout))
	sc, chans, reqs, err := ssh.NewClientConn(c, addr, cfg)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("ssh to gateway %s: %w", addr, err)
	}
	c.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// ping sends one byte through c (to the echo service) and reads it back
// by deadline.
func ping(c net.Conn, deadline time.Time) error {
	c.SetDeadline(deadline)
	if _, err := c.Write([]byte{'p'}); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, 1))
	return err
}

// measureRecovery measures, runs times each, how long after a reset (an
// RST from the fault proxy between client and gateway) bytes flow again
// through a -R forward to the echo service: over a resumable tube (the
// same tube and the same TCP connection carry on) and over a raw tube (a
// new tube: redial, SSH handshake, the -R again, a new connection).
func measureRecovery(ctx context.Context, g *gateway, id *identity, tg *targets, runs int) (resumed, redialed recoveryResult, err error) {
	p, err := faultproxy.New("127.0.0.1:0", g.HTTPAddr)
	if err != nil {
		return resumed, redialed, err
	}
	defer p.Close()
	url := "ws://" + p.Addr() + "/ssh"
	if resumed, err = recoverResumed(ctx, p, url, id, tg, runs); err != nil {
		return resumed, redialed, fmt.Errorf("resumed tube: %w", err)
	}
	if redialed, err = recoverRedialed(ctx, p, url, id, tg, runs); err != nil {
		return resumed, redialed, fmt.Errorf("new tube: %w", err)
	}
	return resumed, redialed, nil
}

func recoverResumed(ctx context.Context, p *faultproxy.Proxy, url string, id *identity, tg *targets, runs int) (recoveryResult, error) {
	dctx, cancel := context.WithTimeout(ctx, gwproc.StartTimeout)
	defer cancel()
	c, err := bridge.DialResume(dctx, url, bridge.DialOptions{}, resume.Options{Heartbeat: time.Second})
	if err != nil {
		return recoveryResult{}, err
	}
	client, err := sshOver(c, url, id)
	if err != nil {
		return recoveryResult{}, err
	}
	defer client.Close()
	published, err := remoteForward(client, tg.EchoAddr())
	if err != nil {
		return recoveryResult{}, err
	}
	conn, err := net.DialTimeout("tcp", published, dialTimeout)
	if err != nil {
		return recoveryResult{}, err
	}
	defer conn.Close()
	var times []time.Duration
	for range runs {
		if err := ping(conn, time.Now().Add(recoveryWait)); err != nil {
			return recoveryResult{}, fmt.Errorf("before the reset: %w", err)
		}
		if p.Reset() == 0 {
			return recoveryResult{}, errors.New("nothing to reset")
		}
		start := time.Now()
		if err := ping(conn, start.Add(recoveryWait)); err != nil {
			return recoveryResult{}, fmt.Errorf("after the reset: %w", err)
		}
		times = append(times, time.Since(start))
		if ctx.Err() != nil {
			return recoveryResult{}, ctx.Err()
		}
	}
	return summarize(times), nil
}

func recoverRedialed(ctx context.Context, p *faultproxy.Proxy, url string, id *identity, tg *targets, runs int) (recoveryResult, error) {
	open := func(bind string) (*ssh.Client, string, error) {
		dctx, cancel := context.WithTimeout(ctx, gwproc.StartTimeout)
		defer cancel()
		c, err := bridge.Dial(dctx, url, bridge.DialOptions{})
		if err != nil {
			return nil, "", err
		}
		client, err := sshOver(c, url, id)
		if err != nil {
			return nil, "", err
		}
		ln, err := listen(client, bind)
		if err != nil {
			client.Close()
			return nil, "", err
		}
		go serveForward(ln, tg.EchoAddr())
		return client, ln.Addr().String(), nil
	}
	client, published, err := open("127.0.0.1:0")
	if err != nil {
		return recoveryResult{}, err
	}
	defer func() { client.Close() }()
	var times []time.Duration
	for range runs {
		conn, err := net.DialTimeout("tcp", published, dialTimeout)
		if err != nil {
			return recoveryResult{}, err
		}
		err = ping(conn, time.Now().Add(recoveryWait))
		conn.Close()
		if err != nil {
			return recoveryResult{}, fmt.Errorf("before the reset: %w", err)
		}
		if p.Reset() == 0 {
			return recoveryResult{}, errors.New("nothing to reset")
		}
		start := time.Now()
		client.Wait() // the reset ends the tube; an autossh-like client notices here
		client.Close()
		for {
			client, _, err = open(published) // the same port back
			if err == nil {
				break
			}
			if time.Since(start) > recoveryWait || ctx.Err() != nil {
				return recoveryResult{}, fmt.Errorf("after the reset: %w", err)
			}
		}
		conn, err = net.DialTimeout("tcp", published, dialTimeout)
		if err != nil {
			return recoveryResult{}, err
		}
		err = ping(conn, start.Add(recoveryWait))
		conn.Close()
		if err != nil {
			return recoveryResult{}, fmt.Errorf("after the reset: %w", err)
		}
		times = append(times, time.Since(start))
	}
	return summarize(times), nil
}

// serveForward joins each forwarded connection to a new one to target.
func serveForward(ln net.Listener, target string) {
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
}

func summarize(times []time.Duration) recoveryResult {
	slices.Sort(times)
	return recoveryResult{median: times[len(times)/2], worst: times[len(times)-1], runs: len(times)}
}

// addRecovery adds the two recovery rows.
func (r *Report) addRecovery(resumed, redialed recoveryResult) {
	row := func(name, id string, res recoveryResult, how string) Row {
		return Row{Figure: figRecovery, Path: name, PathID: id,
			Value: ptr(float64(res.median.Microseconds()) / 1000),
			Note:  fmt.Sprintf("median of %d resets, worst %s ms; %s", res.runs, strconv.FormatFloat(float64(res.worst.Microseconds())/1000, 'f', 1, 64), how)}
	}
	r.Rows = append(r.Rows,
		row("gateway WS, Go client, resumable tube (resume)", "recovery-resume", resumed,
			"the same tube and TCP connection through its -R carry on"),
		row("gateway WS, Go client, raw tube (new tube)", "recovery-redial", redialed,
			"redial, SSH handshake, the -R again, a new connection"))
}

// addRecoveryFailed adds the recovery rows of a run that failed.
func (r *Report) addRecoveryFailed(err error) {
	for _, id := range []string{"recovery-resume", "recovery-redial"} {
		r.Rows = append(r.Rows, Row{Figure: figRecovery, Path: "gateway WS, Go client", PathID: id, Note: "failed: " + err.Error()})
	}
}
