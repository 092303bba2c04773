package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// tunnelCipher is the cipher `gateway tunnel` negotiates: it has no cipher
// flag and takes x/crypto's first choice, so its path is measured beside
// the other paths of this cipher only.
const tunnelCipher = "aes128-gcm@openssh.com"

// gatewayTunnel is `gateway tunnel -R` over the WebSocket: the gateway's
// own native client, in its own process like ssh -R + gateway connect,
// with its defaults: a resumable tube (tubegate.resume.v1), as users run it.
func gatewayTunnel(ctx context.Context, g *gateway, dir string, id *identity, tg *targets) (endpoints, error) {
	kh := filepath.Join(dir, "tunnel_known_hosts")
	env := append(os.Environ(), "SSH_AUTH_SOCK=")
	return runForwarderProg(ctx, "gateway tunnel -R", g.Bin, env, procRoot{role: roleTunnel}, func(ep, sp int) []string {
		return []string{"tunnel", "--user", benchUser, "--key", id.KeyFile, "--known-hosts", kh, "--log-level", "warn",
			"-R", fmt.Sprintf("127.0.0.1:%d:%s", ep, tg.EchoAddr()),
			"-R", fmt.Sprintf("127.0.0.1:%d:%s", sp, tg.SinkAddr()),
			g.WSURL()}
	})
}
