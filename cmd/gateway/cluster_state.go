package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/cluster/state"
	"github.com/tubegate/tubegate/internal/datadir"
	"github.com/tubegate/tubegate/internal/hostkeys"
	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/users"
)

// stateOpts is where a command finds the gateway's state: the data dir,
// or with --cluster the cluster's Redis.
type stateOpts struct {
	data, cluster string
}

// clusterUsage is --cluster's help for the commands that read or write state.
const clusterUsage = "work on the users of the cluster in Redis at URL (redis:// or rediss://, as serve --cluster) instead of the data dir"

// stateFlags adds --data and --cluster to cmd.
func stateFlags(cmd *cobra.Command, o *stateOpts) {
	dataFlag(cmd, &o.data)
	cmd.Flags().StringVar(&o.cluster, "cluster", "", clusterUsage)
}

// cliOpenTimeout bounds the command line's wait for Redis.
const cliOpenTimeout = 5 * time.Second

// shared joins the cluster for a command (nil, nil without --cluster).
// The process is short-lived: the connection ends with it.
func (o stateOpts) shared(ctx context.Context) (*state.Store, error) {
	if o.cluster == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, cliOpenTimeout)
	defer cancel()
	cl, err := cluster.Open(ctx, cluster.Config{URL: o.cluster, NodeID: "cli-" + cluster.DefaultNodeID()})
	if err != nil {
		return nil, err
	}
	return state.New(cl), nil
}

// users opens the users (the cluster's with --cluster) for a command that
// changes them, journaled as by "cli:OSUSER"; blobs is the cluster's
// store, nil for the data dir.
func (o stateOpts) users(ctx context.Context) (store *users.Store, blobs datadir.Blobs, err error) {
	sh, err := o.shared(ctx)
	if err != nil {
		return nil, nil, err
	}
	if sh == nil {
		store, err = openUsers(o.data)
		return store, nil, err
	}
	if store, err = users.OpenShared(sh.Blob(users.File)); err != nil {
		return nil, nil, err
	}
	store.SetActor(users.Actor{By: "cli:" + osUserName()})
	return store, sh, nil
}

// clusterState is what serve keeps in the cluster rather than in its data
// dir when it has one (cl non-nil): the host keys, the users, the web
// sessions' state (webauth.Config.Shared) and the password throttle's count.
type clusterState struct {
	keys     []ssh.Signer
	store    *users.Store
	shared   datadir.Blobs // nil on a single node
	failures *throttle.Failures
	// resumes counts failed resume tokens: failures itself on a single
	// node, a per-node count in a cluster (a token is only good on the
	// node that holds its tube, and a Redis outage must not stop a dropped
	// tube from resuming).
	resumes *throttle.Failures
}

// openState loads serve's state from the data dir data, or from the cluster.
func openState(data string, cl *cluster.Cluster, reg prometheus.Registerer, log *slog.Logger) (clusterState, error) {
	var s clusterState
	var err error
	if cl == nil {
		if s.keys, err = hostkeys.LoadOrCreate(data); err != nil {
			return s, err
		}
		if s.store, err = users.Open(data); err != nil {
			return s, err
		}
		s.failures = throttle.Default(throttle.WithMetrics(reg))
		s.resumes = s.failures
		return s, nil
	}
	sh := state.New(cl)
	s.shared = sh
	if s.keys, err = hostkeys.LoadOrCreateShared(data, sh); err != nil {
		return s, err
	}
	if s.store, err = users.OpenShared(sh.Blob(users.File)); err != nil {
		return s, err
	}
	// Counted in Redis across the nodes; the bound on bcrypts running at
	// once stays this node's. Redis down: password checks are refused.
	s.failures = throttle.Default(throttle.WithMetrics(reg), throttle.WithShared(state.NewThrottle(cl)))
	s.resumes = s.failures.Local()
	log.Info("cluster state in redis: users, web sessions, session and host keys, password throttle")
	return s, nil
}
