package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/tubegate/tubegate/internal/gwclient"
)

// tunnelFile is the --config file: TOML, with the flags' names.
type tunnelFile struct {
	URL          string   `toml:"url"`
	User         string   `toml:"user"`
	Key          string   `toml:"key"`
	KnownHosts   string   `toml:"known_hosts"`
	Keepalive    string   `toml:"keepalive"`
	KeepaliveMax *int     `toml:"keepalive_max"`
	Timeout      string   `toml:"timeout"`
	LogLevel     string   `toml:"log_level"`
	CA           string   `toml:"ca"`
	NoResume     *bool    `toml:"no_resume"`
	Local        []string `toml:"local"`
	Remote       []string `toml:"remote"`
	Dynamic      []string `toml:"dynamic"`
}

// loadConfig reads --config: its forwards add to the command line's, and
// its other settings apply where the command line (or GATEWAY_*) left the
// flag unset.
func (o *tunnelOptions) loadConfig(cmd *cobra.Command) error {
	var tf tunnelFile
	md, err := toml.DecodeFile(o.config, &tf)
	if err != nil {
		return fmt.Errorf("--config %s: %w", o.config, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return fmt.Errorf("--config %s: unknown setting %q", o.config, un[0].String())
	}
	if o.url == "" {
		o.url = tf.URL
	}
	o.locals = append(tf.Local, o.locals...)
	o.remotes = append(tf.Remote, o.remotes...)
	o.dynamics = append(tf.Dynamic, o.dynamics...)
	set := map[string]string{"user": tf.User, "key": tf.Key, "known_hosts": tf.KnownHosts,
		"keepalive": tf.Keepalive, "timeout": tf.Timeout, "log_level": tf.LogLevel, "ca": tf.CA}
	if tf.KeepaliveMax != nil {
		set["keepalive_max"] = fmt.Sprint(*tf.KeepaliveMax)
	}
	if tf.NoResume != nil {
		set["no_resume"] = fmt.Sprint(*tf.NoResume)
	}
	for key, v := range set {
		flag := cmd.Flags().Lookup(tunnelConfigFlags[key])
		if v == "" || flag.Changed {
			continue
		}
		if err := flag.Value.Set(v); err != nil {
			return fmt.Errorf("--config %s: %s = %q: %w", o.config, key, v, err)
		}
	}
	return nil
}

// tunnelConfig is what a tunnel runs with, checked.
type tunnelConfig struct {
	*tunnelOptions
	gateway  *url.URL
	hostPort string // the URL's host:port, the key of its pinned host key
	locals   []gwclient.Spec
	remotes  []gwclient.Spec
	dynamics []gwclient.Spec
	stdio    *gwclient.Spec
}

func newTunnelConfig(o *tunnelOptions) (*tunnelConfig, error) {
	c := &tunnelConfig{tunnelOptions: o}
	var err error
	if c.gateway, c.hostPort, err = parseGatewayURL(o.url); err != nil {
		return nil, err
	}
	parse := func(kind byte, args []string) ([]gwclient.Spec, error) {
		var out []gwclient.Spec
		for _, a := range args {
			sp, err := gwclient.ParseArg(kind, a)
			if err != nil {
				return nil, err
			}
			out = append(out, sp)
		}
		return out, nil
	}
	if c.locals, err = parse('L', o.locals); err != nil {
		return nil, err
	}
	if c.remotes, err = parse('R', o.remotes); err != nil {
		return nil, err
	}
	if c.dynamics, err = parse('D', o.dynamics); err != nil {
		return nil, err
	}
	n := len(c.locals) + len(c.remotes) + len(c.dynamics)
	if o.stdio != "" {
		sp, err := gwclient.ParseArg('W', o.stdio)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, fmt.Errorf("-W %s: use it alone, without -L, -R or -D", o.stdio)
		}
		if o.passwordStdin {
			return nil, fmt.Errorf("-W %s uses stdin: give the password in TUBEGATE_PASSWORD instead of --password-stdin", o.stdio)
		}
		c.stdio = &sp
	} else if n == 0 {
		return nil, fmt.Errorf("tunnel: nothing to do: give -L, -R, -D or -W")
	}
	if o.user == "" {
		return nil, fmt.Errorf("tunnel: give --user (USER is not set)")
	}
	return c, nil
}

// parseGatewayURL checks URL and returns it with its host:port (the
// scheme's default port when none is given).
func parseGatewayURL(raw string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("bad URL %q: %w", raw, err)
	}
	port := map[string]string{"ws": "80", "wss": "443", "ssh": "22"}[strings.ToLower(u.Scheme)]
	if port == "" {
		return nil, "", fmt.Errorf("bad URL %q: the scheme must be ws, wss or ssh", raw)
	}
	if u.Hostname() == "" {
		return nil, "", fmt.Errorf("bad URL %q: no host", raw)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	return u, net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}
