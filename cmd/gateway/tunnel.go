package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tubegate/tubegate/internal/procs"
)

// tunnelOptions are `gateway tunnel`'s flags, merged with --config.
type tunnelOptions struct {
	url                  string
	locals, remotes      []string // -L, -R
	dynamics             []string // -D
	stdio                string   // -W
	config               string
	user                 string
	key                  string
	passwordStdin        bool
	knownHosts           string
	keepalive            time.Duration
	keepaliveMax         int
	timeout              time.Duration
	logLevel             string
	ca                   string // --ca: PEM CAs to trust for wss://
	noResume             bool   // --no-resume: a raw WebSocket tube
	passwordFromEnv      string // TUBEGATE_PASSWORD
	defaultKnownHostsErr error  // why there is no default known-hosts file
}

func newTunnel() *cobra.Command { return newTunnelCmd(&tunnelOptions{}) }

// newTunnelCmd is the tunnel command, its flags set into o.
func newTunnelCmd(o *tunnelOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tunnel [flags] URL",
		Short: "Keep forwards up through the gateway, reconnecting as needed (autossh built in)",
		Long: `tunnel is a native client of the gateway: it keeps OpenSSH-style forwards up
with no OpenSSH on this machine, and reconnects with backoff (1 s doubling to
60 s, with jitter) when the tube drops, publishing its -R forwards again and
taking back their names and ports.

  -L [bind:]port:host:hostport  listen here; each connection goes to host:hostport
                                through the gateway (under your --permit-open)
  -R [bind:]port:host:hostport  the gateway listens (bind may be a virtual name);
                                each connection comes here and goes to host:hostport
  -D [bind:]port                a SOCKS5 proxy here (CONNECT, no auth); each
                                connection goes through the gateway (under your policy)
  -W host:port                  join stdin/stdout to host:port and exit when it ends
                                (for ssh's ProxyCommand; not with other forwards)

URL is ws://HOST/ssh or wss://HOST/ssh (the WebSocket) or ssh://HOST:PORT (the
gateway's --ssh-listen). The WebSocket tube is resumable (docs/resume.md): when
it drops or goes silent, tunnel redials and resumes the same tube within the
gateway's resume window (2 minutes by default), so forwards and connections
carry on; only a tube that cannot be resumed is replaced by a new one, with
backoff. --no-resume speaks the raw protocol. Through a proxy: HTTPS_PROXY,
HTTP_PROXY and NO_PROXY, as for connect; --ca trusts a private CA. -L and -D listen on localhost unless a bind address
is given; their listeners stay open across reconnects, and a connection that
comes while the tube is down waits for it (up to 30 s).

Authentication, in this order: ssh-agent (SSH_AUTH_SOCK), --key (an OpenSSH or
PEM private key; a passphrase is asked on the terminal), then a password from
--password-stdin or TUBEGATE_PASSWORD. The gateway's host key is pinned on
first use in --known-hosts, keyed by the URL's host and port; a changed key is
refused, showing both fingerprints and the line to remove.

It exits non-zero at once on a permanent refusal: bad credentials, a changed
host key, a forward the gateway refuses the first time (not permitted, or in
use). Every failure after the first success is retried.

--config FILE reads the same settings from a TOML file (forwards from it and
from the command line add up; other flags win over it):

  url = "wss://gw.example.com/ssh"
  user = "alice"
  key = "/home/alice/.ssh/id_ed25519"
  remote = ["myhost.alice:22:localhost:22"]
  local = ["5432:db.internal:5432"]
  dynamic = ["1080"]
  keepalive = "15s"

Every flag can also be set with GATEWAY_ and its name (GATEWAY_KEY, and
GATEWAY_REMOTE=a,b for forwards). It runs its Go code on one thread at a
time, as OpenSSH's ssh does, unless GOMAXPROCS is set.`,
		Example: `  # publish this host's sshd as the virtual name myhost.alice, and keep it published
  gateway tunnel -R myhost.alice:22:localhost:22 --key ~/.ssh/id_ed25519 wss://gw.example.com/ssh

  # reach a database behind the gateway on localhost:5432, and a SOCKS proxy on 1080
  gateway tunnel -L 5432:db.internal:5432 -D 1080 wss://gw.example.com/ssh
  curl --socks5-hostname localhost:1080 http://intranet.example/

  # stock ssh to a virtual name, with the gateway's client as the ProxyCommand
  ssh -o ProxyCommand='gateway tunnel -W %h:%p wss://gw.example.com/ssh' bob@myhost.alice

  # for scripts: the password on stdin
  echo "$PASSWORD" | gateway tunnel --password-stdin -R 8080:localhost:3000 ssh://gw.example.com:2222`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.url = args[0]
			}
			o.passwordFromEnv = os.Getenv("TUBEGATE_PASSWORD")
			cfg, err := o.resolve(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			procs.One()
			err = runTunnel(ctx, cfg, cmd.InOrStdin())
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.locals, "local", "L", nil, "-L [bind:]port:host:hostport: listen here, connect through the gateway (repeatable)")
	f.StringArrayVarP(&o.remotes, "remote", "R", nil, "-R [bind:]port:host:hostport: the gateway listens, connect from here (repeatable)")
	f.StringArrayVarP(&o.dynamics, "dynamic", "D", nil, "-D [bind:]port: a SOCKS5 proxy here, connecting through the gateway (repeatable)")
	f.StringVarP(&o.stdio, "stdio", "W", "", "-W host:port: join stdin/stdout to host:port through the gateway")
	f.StringVar(&o.config, "config", "", "TOML file with url, user, key, known_hosts, keepalive, local, remote, dynamic")
	f.StringVar(&o.user, "user", os.Getenv("USER"), "gateway user name")
	f.StringVar(&o.key, "key", "", "private key file (OpenSSH or PEM)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	defKnown, err := defaultKnownHosts()
	o.defaultKnownHostsErr = err
	f.StringVar(&o.knownHosts, "known-hosts", defKnown, "file pinning the gateway's host key (trust on first use)")
	f.DurationVar(&o.keepalive, "keepalive", 15*time.Second, "send a keepalive this often (0: never); keeps idle tubes through proxies that cut at 60 s")
	f.IntVar(&o.keepaliveMax, "keepalive-max", 3, "unanswered keepalives in a row before the tube is taken as dead")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time allowed to connect and log in, each attempt")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.ca, "ca", "", "PEM file of CAs to trust for wss:// besides the system roots (a private CA, or a TLS-intercepting proxy's)")
	f.BoolVar(&o.noResume, "no-resume", false, "raw WebSocket tube: a drop ends it and a new tube is made (no resumption)")
	return cmd
}

// tunnelConfigFlags maps --config keys to flag names.
var tunnelConfigFlags = map[string]string{
	"user": "user", "key": "key", "known_hosts": "known-hosts", "keepalive": "keepalive",
	"keepalive_max": "keepalive-max", "timeout": "timeout", "log_level": "log-level",
	"ca": "ca", "no_resume": "no-resume",
}

// resolve merges --config into the flags and checks the result.
func (o *tunnelOptions) resolve(cmd *cobra.Command) (*tunnelConfig, error) {
	if o.config != "" {
		if err := o.loadConfig(cmd); err != nil {
			return nil, err
		}
	}
	if o.url == "" {
		return nil, errors.New("tunnel: give the gateway's URL (ws://, wss:// or ssh://), as an argument or url in --config")
	}
	if o.knownHosts == "" {
		return nil, fmt.Errorf("tunnel: no --known-hosts file given, and no default: %v", o.defaultKnownHostsErr)
	}
	return newTunnelConfig(o)
}
