package main

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/linkcmd"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/users"
)

// linkOptions are the flags of `gateway link`: where the links are, and
// serve's link flags, for printing and checking links alike.
type linkOptions struct {
	data, url, shareDomain string
	cluster                string // a cluster's Redis URL: the links are there
	maxExpiry              time.Duration
	maxPerUser             int
}

func linkFlags(cmd *cobra.Command, o *linkOptions) {
	f := cmd.PersistentFlags()
	f.StringVar(&o.data, "data", defaultData, dataUsage)
	f.StringVar(&o.url, "url", "", "the gateway's public base URL, for printing links (default: the one serve recorded in the data dir, else "+fallbackURL+")")
	f.StringVar(&o.cluster, "cluster", "", "the cluster's Redis URL, as given to serve: the links are in Redis, not the data dir")
	f.StringVar(&o.shareDomain, "share-domain", "", "the gateway's share domain, as given to serve (links print as TOKEN.DOMAIN)")
	f.DurationVar(&o.maxExpiry, "link-max-expiry", sharelink.DefaultMaxExpiry, "longest lifetime a link may have, as given to serve")
	f.IntVar(&o.maxPerUser, "max-links-per-user", sharelink.DefaultMaxPerUser, "live links one user may have, as given to serve")
}

// open opens the links and the users, in the data dir or with --cluster in
// Redis.
func (o linkOptions) open() (*sharelink.Service, *users.Store, error) {
	ls, err := o.openLinks()
	if err != nil {
		return nil, nil, err
	}
	// The owner check and TCP links' policy read the same users as serve:
	// the data dir's, or with --cluster the cluster's.
	us, _, err := stateOpts{data: o.data, cluster: o.cluster}.users(context.Background())
	if err != nil {
		return nil, nil, err
	}
	base := o.url
	if base == "" {
		if base, err = recordedPublicURL(o.data); err != nil {
			return nil, nil, err
		}
		base = cmp.Or(base, fallbackURL)
	}
	return &sharelink.Service{Store: ls, URLs: sharelink.URLs{Base: base, ShareDomain: o.shareDomain}, Policy: us.Policy}, us, nil
}

// openLinks opens the links store that --data and --cluster name.
func (o linkOptions) openLinks() (*sharelink.Store, error) {
	opts := sharelink.Options{MaxExpiry: o.maxExpiry, MaxPerUser: o.maxPerUser}
	if o.cluster == "" {
		return sharelink.Open(o.data, opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The command line is no node of the cluster; it only reads and writes links.
	cl, err := cluster.Open(ctx, cluster.Config{URL: o.cluster, NodeID: "gateway-link"})
	if err != nil {
		return nil, err
	}
	return sharelink.OpenRedis(cl, opts), nil
}

// newLink is `gateway link`: the share links' command (internal/linkcmd)
// for the administrator, on the data dir.
func newLink() *cobra.Command {
	var o linkOptions
	// Opened once the flags are parsed, when a subcommand runs.
	type opened struct {
		svc *sharelink.Service
		us  *users.Store
	}
	open := sync.OnceValues(func() (opened, error) {
		svc, us, err := o.open()
		return opened{svc, us}, err
	})
	cmd := linkcmd.New(linkcmd.Config{
		Service: func() (*sharelink.Service, error) {
			d, err := open()
			return d.svc, err
		},
		Owner: func(name string) (string, error) {
			d, err := open()
			if err != nil {
				return "", err
			}
			if name == "" {
				list, err := d.us.List()
				if err != nil {
					return "", err
				}
				if len(list) != 1 {
					return "", errors.New("say whose link this is: --user NAME (the user who publishes the endpoint)")
				}
				name = list[0].Name
			}
			if _, err := d.us.Get(name); err != nil {
				return "", err
			}
			return name, nil
		},
	})
	cmd.Long += `

Links live in the data dir (links.db, a bbolt database that no process keeps open between
changes, so these commands work while a gateway runs). A running gateway picks up changes at
once: a revoked link stops answering and its live connections are cut within a second.

On a cluster (--cluster URL, or GATEWAY_CLUSTER, as given to serve) the links are in Redis:
every node sees a change at once, and a revocation reaches every node's live connections
within a second. Redis unreachable: nothing is changed, and the command says so.`
	linkFlags(cmd, &o)
	return cmd
}
