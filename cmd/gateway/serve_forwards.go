package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/tubegate/tubegate/internal/acceptloop"
	"github.com/tubegate/tubegate/internal/connlimit"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/idlepoll"
	"github.com/tubegate/tubegate/internal/listenset"
)

// forwardServeOptions are serve's caps on forwards: how many a tube and a
// user may publish, and how many connections anyone may hold open to the
// published ports.
type forwardServeOptions struct {
	maxPerTube, maxPerUser      int // Registry.MaxPerOwner, MaxPerUser
	maxConnsPerSource, maxConns int // Registry.ConnLimits
}

// Defaults of the published ports' connection caps: one source (an
// anonymous client, when a port is public) cannot hold more than a tube's
// channels (sshserver.Limits.MaxChannels, 1024 by default).
const (
	defaultForwardConnsPerSource = 256
	defaultForwardConns          = 16384
)

func forwardServeFlags(f *pflag.FlagSet, o *forwardServeOptions) {
	f.IntVar(&o.maxPerTube, "max-forwards", forward.DefaultMaxPerOwner, "forwards per tube")
	f.IntVar(&o.maxPerUser, "max-forwards-per-user", forward.DefaultMaxPerUser, "forwards per user, across their tubes")
	f.IntVar(&o.maxConnsPerSource, "max-forward-conns-per-source", defaultForwardConnsPerSource,
		"connections open at once from one IP address to published ports, all ports together; 0: no cap")
	f.IntVar(&o.maxConns, "max-forward-conns", defaultForwardConns,
		"connections open at once to published ports in all; 0: no cap")
}

func checkForwardFlags(o forwardServeOptions) error {
	if o.maxPerTube < 0 || o.maxPerUser < 0 {
		return fmt.Errorf("--max-forwards and --max-forwards-per-user: want 0 (the default) or more")
	}
	if o.maxConnsPerSource < 0 || o.maxConns < 0 {
		return fmt.Errorf("--max-forward-conns-per-source and --max-forward-conns: want 0 (no cap) or more")
	}
	return nil
}

// newRegistry makes the gateway's forward registry with o's caps, and
// counts its connections and refusals in reg. Idle published ports wait
// in idle (nil: a goroutine each).
func newRegistry(o forwardServeOptions, log *slog.Logger, accepts acceptloop.Counter, idle *idlepoll.Poller, reg prometheus.Registerer) *forward.Registry {
	registry := forward.NewRegistry(log)
	registry.AcceptMetrics = accepts
	registry.MaxPerOwner = cmp.Or(o.maxPerTube, forward.DefaultMaxPerOwner)
	registry.MaxPerUser = cmp.Or(o.maxPerUser, forward.DefaultMaxPerUser)
	lim := connlimit.New(connlimit.Config{
		PerSource: o.maxConnsPerSource, Total: o.maxConns, Log: log.With("listener", "forward"),
	})
	registry.WrapListener = func(ln net.Listener) net.Listener { return lim.Wrap(ln) }
	registry.Listeners = listenset.New(idle, 0)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tubegate_endpoints", Help: "Published ports and virtual names.",
	}, func() float64 { return float64(registry.Count()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tubegate_forward_connections", Help: "Connections open now to published ports.",
	}, func() float64 { return float64(lim.Open()) }))
	for _, reason := range []string{connlimit.ReasonPerSource, connlimit.ReasonTotal} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "tubegate_forward_connections_refused_total",
			Help:        "Connections to published ports closed at once: past --max-forward-conns-per-source or --max-forward-conns.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(lim.Refused(reason)) }))
	}
	return registry
}
