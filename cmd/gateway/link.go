package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/users"
)

// linkOptions are the flags every `gateway link` subcommand has.
type linkOptions struct {
	data, url, shareDomain string
	maxExpiry              time.Duration
	maxPerUser             int
}

func linkFlags(cmd *cobra.Command, o *linkOptions) {
	dataFlag(cmd, &o.data)
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the gateway's public base URL, for printing links")
	f.StringVar(&o.shareDomain, "share-domain", "", "the gateway's share domain, as given to serve (links print as TOKEN.DOMAIN)")
	f.DurationVar(&o.maxExpiry, "link-max-expiry", sharelink.DefaultMaxExpiry, "longest lifetime a link may have, as given to serve")
	f.IntVar(&o.maxPerUser, "max-links-per-user", sharelink.DefaultMaxPerUser, "live links one user may have, as given to serve")
}

func (o *linkOptions) service() (*sharelink.Service, *users.Store, error) {
	ls, err := sharelink.Open(o.data, sharelink.Options{MaxExpiry: o.maxExpiry, MaxPerUser: o.maxPerUser})
	if err != nil {
		return nil, nil, err
	}
	us, err := users.Open(o.data)
	if err != nil {
		return nil, nil, err
	}
	return &sharelink.Service{
		Store: ls,
		URLs:  sharelink.URLs{Base: o.url, ShareDomain: o.shareDomain},
		Policy: func(name string) (forward.Policy, error) {
			u, err := us.Get(name)
			if err != nil {
				return forward.Policy{}, err
			}
			return u.Policy()
		},
	}, us, nil
}

func newLink() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Manage share links: URLs that reach a forwarded service, expiring and revocable",
		Long: `A share link reaches one endpoint a user publishes (ssh -R myapp:80:localhost:3000 makes
the endpoint myapp:80; ssh -R 8080:localhost:3000 the endpoint 127.0.0.1:8080) through the
gateway's reverse proxy at /s/TOKEN/, for anyone who has the link, until it expires or is revoked.

Links live in the data dir (links.db, a bbolt database that no process keeps open between
changes, so these commands work while a gateway runs). A running gateway picks up changes at
once: a revoked link stops answering and its live connections are cut within a second.`,
	}
	cmd.AddCommand(newLinkCreate(), newLinkList(), newLinkRevoke())
	return cmd
}

func newLinkCreate() *cobra.Command {
	var (
		o       linkOptions
		p       sharelink.Params
		expires string
	)
	cmd := &cobra.Command{
		Use:   "create ENDPOINT",
		Short: "Make a share link and print its URL (shown only now: only a hash is stored)",
		Long: `Make a share link for ENDPOINT, one of the user's forwards: a virtual name like myapp:80
or a published port like 127.0.0.1:41234 (a bare port means loopback). The endpoint need not be
up yet; the link answers 502 while it is offline.

The URL is printed on the first line. Its secret token is not stored and cannot be shown again.

--tcp makes a TCP link instead: the gateway's host and the port, for a port whose listener is
public by policy (published on a non-loopback address the user may listen on).`,
		Example: `  gateway link create myapp:80 --user alice --expires 2h
  gateway link create 127.0.0.1:41234 --user alice --basic-auth viewer:correct-horse
  gateway link create 0.0.0.0:2222 --user alice --tcp`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, us, err := o.service()
			if err != nil {
				return err
			}
			if p.User == "" {
				list, err := us.List()
				if err != nil {
					return err
				}
				if len(list) != 1 {
					return errors.New("say whose link this is: --user NAME (the user who publishes the endpoint)")
				}
				p.User = list[0].Name
			}
			if _, err := us.Get(p.User); err != nil {
				return err
			}
			if p.Expires, err = sharelink.ParseExpiry(expires); err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			p.Endpoint = args[0]
			c, err := svc.Create(p)
			if err != nil {
				return err
			}
			sharelink.WriteCreated(cmd.OutOrStdout(), c, svc.URLs)
			return nil
		},
	}
	linkFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVar(&expires, "expires", "", "lifetime, e.g. 30m, 2h or 7d (default 24h)")
	f.StringVar(&p.BasicAuth, "basic-auth", "", "USER:PASS that viewers must give")
	f.StringVar(&p.User, "user", "", "the user who publishes the endpoint (default: the only user)")
	f.BoolVar(&p.LoginRequired, "login-required", false, "viewers must be logged in to the gateway")
	f.StringVar(&p.Name, "name", "", "a host-name label: NAME.SHARE-DOMAIN serves the link (not a secret)")
	f.BoolVar(&p.TCP, "tcp", false, "a TCP link (gateway host:port) for a public listener")
	return cmd
}

func newLinkList() *cobra.Command {
	var (
		o    linkOptions
		user string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List live share links",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, _, err := o.service()
			if err != nil {
				return err
			}
			links, err := svc.Store.List(user)
			if err != nil {
				return err
			}
			sharelink.WriteList(cmd.OutOrStdout(), links, svc.Store, svc.URLs, true)
			return nil
		},
	}
	linkFlags(cmd, &o)
	cmd.Flags().StringVar(&user, "user", "", "only this user's links")
	return cmd
}

func newLinkRevoke() *cobra.Command {
	var o linkOptions
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a share link; a running gateway cuts its live connections within a second",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, _, err := o.service()
			if err != nil {
				return err
			}
			if err := svc.Store.Revoke(args[0], ""); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	linkFlags(cmd, &o)
	return cmd
}
