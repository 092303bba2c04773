package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tubegate/tubegate/internal/gwproc"
	"github.com/tubegate/tubegate/internal/throwaway"
)

// endpoints are where the load generator connects for one path: the
// address that reaches the echo server and the one that reaches the sink.
type endpoints struct {
	echo, sink string
	close      func()
	// procs are the path's processes whose CPU time the bulk figure
	// reads (none for loopback and the in-process Go client).
	procs []procRoot
}

// sshArgs are the options every OpenSSH client run uses.
func sshArgs(id *identity, cipher string) []string {
	return []string{
		"-F", "/dev/null", "-N", "-T",
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-i", id.KeyFile, "-o", "ExitOnForwardFailure=yes",
		"-o", "LogLevel=ERROR", "-o", "Compression=no", "-c", cipher,
	}
}

// runForwarder starts an ssh client with forwards to echo and sink on two
// fresh loopback ports and waits until both carry data.
func runForwarder(ctx context.Context, name string, args func(echoPort, sinkPort int) []string) (endpoints, error) {
	return runForwarderProg(ctx, name, "ssh", os.Environ(), procRoot{role: roleSSH}, args)
}

// runForwarderProg is runForwarder with another client program and
// environment; root names the program's processes in the CPU figures (its
// pid is filled in).
func runForwarderProg(ctx context.Context, name, prog string, env []string, root procRoot, args func(echoPort, sinkPort int) []string) (endpoints, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before ssh binds it
		ep, err := gwproc.FreePort()
		if err != nil {
			return endpoints{}, err
		}
		sp, err := gwproc.FreePort()
		if err != nil {
			return endpoints{}, err
		}
		p, err := gwproc.Start(name, env, prog, args(ep, sp)...)
		if err != nil {
			return endpoints{}, err
		}
		e := endpoints{
			echo:  "127.0.0.1:" + strconv.Itoa(ep),
			sink:  "127.0.0.1:" + strconv.Itoa(sp),
			close: p.Stop,
		}
		root.pid = p.PID()
		e.procs = []procRoot{root}
		err = waitEcho(ctx, e.echo, gwproc.StartTimeout)
		if err == nil {
			_, _, err = bulkStream(e.sink, time.Now(), ioGrace)
		}
		if err == nil {
			return e, nil
		}
		lastErr = fmt.Errorf("%s: %w: %s", name, err, gwproc.Tail(p.Output()))
		p.Stop()
	}
	return endpoints{}, lastErr
}

// sshd is a throw-away OpenSSH server on loopback.
type sshd struct {
	addr string
	port int
	Proc *gwproc.Proc
}

var sshdListening = regexp.MustCompile(`Server listening on 127\.0\.0\.1 port (\d+)`)

// startSSHD runs sshd with its own host key and config in a new directory
// under dir, accepting the bench key for the current user; extra are more
// sshd_config lines.
func startSSHD(ctx context.Context, dir string, id *identity, extra ...string) (*sshd, error) {
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("sshd privilege separation dir: %w", err)
	}
	dir, err := os.MkdirTemp(dir, "sshd")
	if err != nil {
		return nil, fmt.Errorf("sshd dir: %w", err)
	}
	hostKey := filepath.Join(dir, "sshd_host_ed25519_key")
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sshd host key: %v: %s", err, out)
	}
	sshdBin, err := exec.LookPath("sshd")
	if err != nil {
		sshdBin = "/usr/sbin/sshd"
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := gwproc.FreePort()
		if err != nil {
			return nil, err
		}
		config := filepath.Join(dir, fmt.Sprintf("sshd_config.%d", attempt))
		conf := throwaway.SSHDConfig(port, hostKey, id.PubKey,
			append([]string{"AllowTcpForwarding yes", "MaxStartups 100", "MaxSessions 1000"}, extra...)...)
		if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
			return nil, fmt.Errorf("sshd config: %w", err)
		}
		p, err := gwproc.Start("sshd", os.Environ(), sshdBin, "-D", "-e", "-f", config)
		if err != nil {
			return nil, err
		}
		if _, err := p.WaitLine(ctx, sshdListening, gwproc.StartTimeout); err != nil {
			lastErr = err
			p.Stop()
			continue
		}
		return &sshd{addr: fmt.Sprintf("127.0.0.1:%d", port), port: port, Proc: p}, nil
	}
	return nil, fmt.Errorf("throw-away sshd: %w", lastErr)
}

// sshLocal is OpenSSH's `ssh -L` to the throw-away sshd: the baseline.
func sshLocal(ctx context.Context, s *sshd, id *identity, cipher string, tg *targets) (endpoints, error) {
	return runForwarder(ctx, "ssh -L "+cipher, func(ep, sp int) []string {
		return append(sshArgs(id, cipher),
			"-p", strconv.Itoa(s.port),
			"-L", fmt.Sprintf("127.0.0.1:%d:%s", ep, tg.EchoAddr()),
			"-L", fmt.Sprintf("127.0.0.1:%d:%s", sp, tg.SinkAddr()),
			"root@127.0.0.1")
	})
}

// sshRemote is OpenSSH's `ssh -R` to the gateway, over TCP or over the
// WebSocket with `gateway connect` as the ProxyCommand.
// connectFlags are extra flags of `gateway connect` (--connect-flag).
func sshRemote(ctx context.Context, g *gateway, transport string, id *identity, cipher string, tg *targets, connectFlags []string) (endpoints, error) {
	host, port, err := net.SplitHostPort(g.SSHTCP)
	if err != nil {
		return endpoints{}, fmt.Errorf("gateway ssh address: %w", err)
	}
	// ssh's ProxyCommand, `gateway connect`, is its own row.
	root := procRoot{role: roleSSH, sub: map[string]string{commName(g.Bin): roleConnect}}
	return runForwarderProg(ctx, "ssh -R "+transport+" "+cipher, "ssh", os.Environ(), root, func(ep, sp int) []string {
		a := sshArgs(id, cipher)
		if transport == transportWS {
			a = append(a, "-o", "ProxyCommand="+strings.Join(append([]string{g.Bin, "connect"}, append(connectFlags, g.WSURL())...), " "))
		} else {
			a = append(a, "-p", port)
		}
		return append(a,
			"-R", fmt.Sprintf("127.0.0.1:%d:%s", ep, tg.EchoAddr()),
			"-R", fmt.Sprintf("127.0.0.1:%d:%s", sp, tg.SinkAddr()),
			benchUser+"@"+host)
	})
}
