package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/tubegate/tubegate/internal/gwproc"
)

// opensshClient is a stock OpenSSH `ssh -N -R` holding a virtual name and
// a published loopback port, over TCP or through `gateway connect`.
type opensshClient struct {
	name      string
	transport string
	vname     string // virtual name, published as vname:namePort
	port      int    // published loopback port
	proc      *gwproc.Proc
}

// startOpenSSH runs ssh with -R vname:namePort:target and
// -R 127.0.0.1:PORT:target, rekeying every rekeyLimit bytes, and waits
// until a stream passes through the published port. A port taken between
// the check and ssh's bind makes ssh exit (ExitOnForwardFailure): it is
// tried again with another.
func startOpenSSH(ctx context.Context, g *gwproc.Gateway, id *gwproc.Identity, name, transport, vname, rekeyLimit, target string) (*opensshClient, error) {
	host, gwPort, err := net.SplitHostPort(g.SSHTCP)
	if err != nil {
		return nil, fmt.Errorf("gateway ssh address: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := gwproc.FreePort()
		if err != nil {
			return nil, err
		}
		args := []string{
			"-F", "/dev/null", "-N", "-T",
			"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "IdentitiesOnly=yes", "-i", id.KeyFile, "-o", "ExitOnForwardFailure=yes",
			"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "RekeyLimit=" + rekeyLimit,
			"-R", fmt.Sprintf("%s:%d:%s", vname, namePort, target),
			"-R", fmt.Sprintf("127.0.0.1:%d:%s", port, target),
		}
		if transport == transportWS {
			args = append(args, "-o", "ProxyCommand="+g.Bin+" connect "+g.WSURL())
		} else {
			args = append(args, "-p", gwPort)
		}
		args = append(args, soakUser+"@"+host)
		p, err := gwproc.Start(name, os.Environ(), "ssh", args...)
		if err != nil {
			return nil, err
		}
		oc := &opensshClient{name: name, transport: transport, vname: vname, port: port, proc: p}
		if err := waitStream(ctx, p, func() (net.Conn, error) { return dialTCP(oc.addr()) }); err != nil {
			lastErr = fmt.Errorf("%s: %w: %s", name, err, gwproc.Tail(p.Output()))
			p.Stop()
			continue
		}
		return oc, nil
	}
	return nil, lastErr
}

// addr is the published port's address.
func (oc *opensshClient) addr() string { return "127.0.0.1:" + strconv.Itoa(oc.port) }
