package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/tubegate/tubegate/internal/cluster"
)

// clusterServeOptions are serve's cluster flags.
type clusterServeOptions struct {
	url, nodeID, nodeAddr string
	// ca is --cluster-ca: PEM certificates trusted, besides the system
	// roots, for peers whose --node-addr is https (nodelink.Config.CAFile).
	ca string
}

func clusterServeFlags(f *pflag.FlagSet, o *clusterServeOptions) {
	f.StringVar(&o.url, "cluster", "", "join a cluster of gateways sharing users, links and endpoints through Redis: redis://[:PASSWORD@]HOST:PORT[/DB] or rediss:// for TLS (default: a single node, no Redis)")
	f.StringVar(&o.nodeID, "node-id", "", "this node's name in the cluster (default: the hostname plus a random suffix)")
	f.StringVar(&o.nodeAddr, "node-addr", "", "the base URL other nodes reach this node's --listen at, e.g. http://10.0.0.5:8080 (needed with --cluster)")
	f.StringVar(&o.ca, "cluster-ca", "", "PEM file of CA certificates trusted, besides the system roots, for other nodes whose --node-addr is https (default: the system roots only)")
}

// openCluster joins the cluster, or returns nil without --cluster. The
// caller runs its health loop and closes it.
func openCluster(ctx context.Context, o clusterServeOptions, log *slog.Logger) (*cluster.Cluster, error) {
	if o.url == "" {
		if o.nodeID != "" || o.nodeAddr != "" || o.ca != "" {
			return nil, fmt.Errorf("--node-id, --node-addr and --cluster-ca need --cluster")
		}
		return nil, nil
	}
	if o.nodeAddr == "" {
		return nil, fmt.Errorf("--cluster needs --node-addr: the URL other nodes reach this one at")
	}
	cl, err := cluster.Open(ctx, cluster.Config{URL: o.url, NodeID: o.nodeID, NodeAddr: o.nodeAddr,
		Log: log.With("part", "cluster")})
	if err != nil {
		return nil, err
	}
	log.Info("cluster joined", "redis", cluster.Redact(o.url), "node", cl.NodeID(), "node_addr", cl.NodeAddr())
	return cl, nil
}
