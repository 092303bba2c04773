package main

import (
	"context"

	"github.com/tubegate/tubegate/internal/gwproc"
)

// benchUser is the gateway user every tunnel logs in as, with the bench
// key; the page logs in as it with benchPassword.
const (
	benchUser     = "bench"
	benchPassword = "tubebench-Page-4172"
)

// identity is the client key pair, as a signer and as OpenSSH files.
type identity = gwproc.Identity

// gateway is a running `gateway serve` with its own data dir.
type gateway = gwproc.Gateway

// newIdentity makes an ed25519 key and writes it (and its .pub) in dir.
func newIdentity(dir string) (*identity, error) { return gwproc.NewIdentity(dir, "tubebench") }

// startGateway adds the bench user (key and password) to a fresh data dir
// under dir and runs the gateway on loopback ports with extra flags; with
// profile, it serves /debug/pprof on loopback too.
func startGateway(ctx context.Context, bin, dir string, id *identity, profile bool, extra ...string) (*gateway, error) {
	return gwproc.StartGateway(ctx, gwproc.GatewayOptions{
		Bin: bin, Dir: dir, Identity: id, User: benchUser, Password: benchPassword, Profile: profile, Extra: extra,
	})
}
