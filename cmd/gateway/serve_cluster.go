package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/nodelink"
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
	// go-redis logs each failed dial on its own; the health loop says
	// "cluster degraded" once instead, and the errors reach their callers.
	redis.SetLogger(redisLog{log.With("part", "redis")})
	cl, err := cluster.Open(ctx, cluster.Config{URL: o.url, NodeID: o.nodeID, NodeAddr: o.nodeAddr,
		Log: log.With("part", "cluster")})
	if err != nil {
		return nil, err
	}
	log.Info("cluster joined", "redis", cluster.Redact(o.url), "node", cl.NodeID(), "node_addr", cl.NodeAddr())
	return cl, nil
}

// joinCluster puts the registry's endpoints in the cluster's directory and
// links this node to the others: it returns the routes peers call
// (/cluster/v1/), to mount on the HTTP listener. ctx bounds the directory's
// refresh loop and the streams served to peers. Call it before anything is
// published.
func joinCluster(ctx context.Context, cl *cluster.Cluster, o clusterServeOptions, registry *forward.Registry,
	log *slog.Logger, reg prometheus.Registerer) (func(chi.Router), error) {
	link, err := nodelink.New(nodelink.Config{Context: ctx, Cluster: cl, NodeID: cl.NodeID(), Local: registry,
		Log: log.With("part", "nodelink"), CAFile: o.ca, Metrics: reg})
	if err != nil {
		return nil, fmt.Errorf("cluster: node link: %w", err)
	}
	dir := cluster.NewDirectory(cl, link, cluster.DirectoryConfig{Log: log.With("part", "directory"), Metrics: reg})
	registry.SetDirectory(dir)
	go dir.Run(ctx)
	return link.Mount, nil
}

// nodeAddrNames is the host of --node-addr when it is a name: the node
// answers to it (peers reach it there), beside its --url host.
func nodeAddrNames(o clusterServeOptions) []string {
	u, err := url.Parse(o.nodeAddr)
	if o.url == "" || err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return nil
	}
	return []string{u.Hostname()}
}

// redisLog sends go-redis's own messages to the log at debug level.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}
