package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// path is one way from the load generator to the targets.
type path struct {
	ID     string
	Name   string
	Kind   string // "loopback", "openssh" (the ssh -L baseline) or "gateway"
	Cipher string
	setup  func(ctx context.Context) (endpoints, error)
	// procs are the path's long-lived processes (the gateway, sshd) whose
	// CPU time the bulk figure reads, beside those setup starts.
	procs []procRoot
}

// measures are the figures of one path.
type measures struct {
	bulk, back, parallel, conns float64
	rtt                         latency
	// cpu and cpuBack are each process's CPU over the bulk figure's
	// transfer and over the reversed one's.
	cpu, cpuBack []procCPU
	// failed holds the figures that failed, by key (figureKeys), each with
	// its error naming the figure and the path.
	failed map[string]error
}

// figureKeys are the figures measurePath takes, as --figures names them.
var figureKeys = []string{"bulk", "back", "rtt", "conns", "parallel"}

// figureNames name each figure key in messages.
var figureNames = map[string]string{
	"bulk":     figBulk,
	"back":     figBack,
	"rtt":      "RTT µs, 1-byte ping-pong",
	"conns":    figConns,
	"parallel": figParallel,
}

// label names a path with its cipher, for messages.
func (p path) label() string {
	if p.Cipher == "" {
		return p.Name
	}
	return p.Name + ", " + shortCipher(p.Cipher)
}

// run measures every path and the idle tubes and returns the report.
func run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	dir, err := os.MkdirTemp("", "tubebench")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	id, err := newIdentity(dir)
	if err != nil {
		return nil, err
	}
	tg, err := startTargets(ctx)
	if err != nil {
		return nil, err
	}
	defer tg.close()
	sd, err := startSSHD(ctx, dir, id)
	if err != nil {
		return nil, err
	}
	defer sd.Proc.Stop()
	gw, err := startGateway(ctx, cfg.Gateway, dir, id, cfg.ProfileDir != "", cfg.GatewayFlags...)
	if err != nil {
		return nil, err
	}
	defer gw.Stop()

	rep := &Report{Machine: describeMachine(), Config: cfg}
	paths := []path{{ID: "loopback", Name: "loopback TCP", Kind: "loopback",
		setup: func(context.Context) (endpoints, error) {
			return endpoints{echo: tg.EchoAddr(), sink: tg.SinkAddr(), close: func() {}}, nil
		}}}
	for _, c := range cfg.Ciphers {
		short := shortCipher(c)
		paths = append(paths, path{ID: "ssh-L-" + short, Name: "OpenSSH ssh -L", Kind: "openssh", Cipher: c,
			procs: []procRoot{{role: roleSSHD, pid: sd.Proc.PID()}},
			setup: func(ctx context.Context) (endpoints, error) { return sshLocal(ctx, sd, id, c, tg) }})
	}
	for _, c := range cfg.Ciphers {
		short := shortCipher(c)
		for _, tr := range []string{transportWS, transportTCP} {
			paths = append(paths, path{ID: "gw-" + tr + "-go-" + short, Name: "gateway " + trName(tr) + ", Go client -R", Kind: "gateway", Cipher: c,
				setup: func(ctx context.Context) (endpoints, error) { return goTunnel(ctx, gw, tr, c, id, tg) }})
		}
		if cfg.OpenSSHClient {
			for _, tr := range []string{transportWS, transportTCP} {
				name := "gateway TCP, OpenSSH ssh -R"
				if tr == transportWS {
					name = "gateway WS, OpenSSH ssh -R + gateway connect"
				}
				paths = append(paths, path{ID: "gw-" + tr + "-openssh-" + short, Name: name, Kind: "gateway", Cipher: c,
					setup: func(ctx context.Context) (endpoints, error) {
						return sshRemote(ctx, gw, tr, id, c, tg, cfg.ConnectFlags)
					}})
			}
		}
		if c == tunnelCipher {
			paths = append(paths, path{ID: "gw-websocket-tunnel-" + short, Name: "gateway WS, gateway tunnel -R (resumable)", Kind: "gateway", Cipher: c,
				setup: func(ctx context.Context) (endpoints, error) { return gatewayTunnel(ctx, gw, dir, id, tg) }})
		}
	}

	if cfg.Cluster {
		cb, err := startClusterBench(ctx, cfg, dir, id, tg)
		if err != nil {
			err = fmt.Errorf("cluster figures: %w", err)
			fmt.Fprintf(progress, "tubebench: FAILED %v\n", err)
			rep.Failures = append(rep.Failures, err.Error())
		} else {
			defer cb.close()
			paths = append(paths, cb.paths(cfg.Ciphers[0], id)...)
		}
	}

	results := map[string]measures{}
	var ran []path
	gwRoot := procRoot{role: roleGateway, pid: gw.Proc.PID()}
	for _, p := range paths {
		if p.Kind == "gateway" {
			p.procs = append(p.procs, gwRoot)
		}
		if (p.Kind == "gateway" || p.Kind == kindCluster) && cfg.PathFilter != nil && !cfg.PathFilter.MatchString(p.ID) {
			continue
		}
		fmt.Fprintf(progress, "tubebench: %s\n", p.ID)
		pprofAddr := ""
		if p.Kind == "gateway" {
			pprofAddr = gw.PprofAddr
		}
		m := measurePath(ctx, cfg, p, pprofAddr)
		for _, key := range figureKeys {
			if err := m.failed[key]; err != nil {
				fmt.Fprintf(progress, "tubebench: FAILED %v\n", err)
				rep.Failures = append(rep.Failures, err.Error())
			}
		}
		results[p.ID] = m
		ran = append(ran, p)
	}
	rep.addPaths(cfg, ran, results)
	rep.addClusterRatios()
	rep.addCPU(ran, results)

	if cfg.RecoveryRuns > 0 {
		fmt.Fprintf(progress, "tubebench: recovery after a reset, %d runs each\n", cfg.RecoveryRuns)
		resumed, redialed, err := measureRecovery(ctx, gw, id, tg, cfg.RecoveryRuns)
		if err != nil {
			err = fmt.Errorf("%s: %w", figRecovery, err)
			fmt.Fprintf(progress, "tubebench: FAILED %v\n", err)
			rep.Failures = append(rep.Failures, err.Error())
			rep.addRecoveryFailed(err)
		} else {
			rep.addRecovery(resumed, redialed)
		}
	}

	var br browserResult
	var brErr error
	if cfg.BrowserRuns > 0 {
		if br, brErr = measureBrowser(ctx, cfg, dir, gw, id, tg, progress); brErr != nil {
			brErr = fmt.Errorf("browser figures via headless Chromium: %w", brErr)
			fmt.Fprintf(progress, "tubebench: FAILED %v\n", brErr)
			rep.Failures = append(rep.Failures, brErr.Error())
		}
	}

	if cfg.Tubes > 0 {
		for _, tr := range idleTransports {
			fmt.Fprintf(progress, "tubebench: %d idle tubes over %s\n", cfg.Tubes, tr)
			ir, err := idleOnFreshGateway(ctx, cfg, dir, id, tr)
			if err != nil {
				err = fmt.Errorf("%s, %d idle tubes via gateway %s: %w", figIdleRSS, cfg.Tubes, trName(tr), err)
				fmt.Fprintf(progress, "tubebench: FAILED %v\n", err)
				rep.Failures = append(rep.Failures, err.Error())
				rep.addIdleFailed(tr, cfg.Tubes, err)
				continue
			}
			rep.addIdle(tr, ir)
		}
	}
	if len(cfg.ScaleStreams) > 0 || len(cfg.ScaleTubes) > 0 {
		rep.Scaling = measureScaling(ctx, cfg, dir, gw, id, tg, progress)
		for _, f := range rep.Scaling.Failures {
			fmt.Fprintf(progress, "tubebench: FAILED %s\n", f)
			rep.Failures = append(rep.Failures, f)
		}
	}
	switch {
	case cfg.BrowserRuns == 0:
		rep.addBrowserSkipped("skipped: --browser-runs=0")
	case brErr != nil:
		rep.addBrowserSkipped("failed: " + brErr.Error())
	default:
		rep.addBrowser(br, results)
	}
	rep.addGoals(cfg)
	return rep, nil
}

func idleOnFreshGateway(ctx context.Context, cfg Config, dir string, id *identity, transport string) (idleResult, error) {
	flags := append([]string{
		fmt.Sprintf("--max-tubes-per-user=%d", cfg.Tubes+16),
		fmt.Sprintf("--max-forwards-per-user=%d", cfg.Tubes+16),
	}, cfg.GatewayFlags...)
	g, err := startGateway(ctx, cfg.Gateway, dir, id, cfg.ProfileDir != "", flags...)
	if err != nil {
		return idleResult{}, err
	}
	defer g.Stop()
	return idleTubes(ctx, g, transport, cfg.Tubes, id, profiler{cfg.ProfileDir})
}

// measurePath sets a path up and takes its measurements (figureKeys). A figure
// that fails (every one is bounded: a dial by dialTimeout, its I/O by its
// duration plus cfg.IOGrace) is kept in failed, naming the figure and the
// path, and the others are still taken.
func measurePath(ctx context.Context, cfg Config, p path, pprofAddr string) measures {
	m := measures{failed: map[string]error{}}
	fail := func(key string, err error) {
		m.failed[key] = fmt.Errorf("%s via %s: %w", figureNames[key], p.label(), err)
	}
	e, err := p.setup(ctx)
	if err != nil {
		for _, key := range cfg.Figures {
			fail(key, fmt.Errorf("setup: %w", err))
		}
		return m
	}
	defer e.close()
	prof := profiler{cfg.ProfileDir}
	take := func(figure string, fn func() error) {
		if !cfg.wants(figure) {
			return
		}
		err := ctx.Err()
		if err == nil {
			err = prof.cpu(ctx, pprofAddr, p.ID+"."+figure, cfg.Duration, fn)
		}
		if err != nil {
			fail(figure, err)
		}
	}
	// transfer runs one bulk transfer and reads the CPU time of the path's
	// processes over it.
	transfer := func(xfer func(addr string, stop time.Time, grace time.Duration) (int64, time.Duration, error)) (float64, []procCPU, error) {
		roots := append(append([]procRoot(nil), p.procs...), e.procs...)
		before, err := sampleCPU(roots)
		if err != nil {
			return 0, nil, err
		}
		n, el, err := xfer(e.sink, time.Now().Add(cfg.Duration), cfg.IOGrace)
		if err != nil {
			return 0, nil, err
		}
		after, err := sampleCPU(roots)
		if err != nil {
			return 0, nil, err
		}
		return float64(n) / el.Seconds() / 1e6, cpuPerMB(before, after, n), nil
	}
	take("bulk", func() (err error) { m.bulk, m.cpu, err = transfer(bulkStream); return })
	take("back", func() (err error) { m.back, m.cpuBack, err = transfer(bulkBack); return })
	take("rtt", func() (err error) { m.rtt, err = pingPong(e.echo, cfg.Duration, cfg.MaxPings, cfg.IOGrace); return })
	take("conns", func() (err error) {
		m.conns, err = connRate(ctx, e.echo, cfg.Workers, cfg.Duration, cfg.IOGrace)
		return
	})
	take("parallel", func() (err error) {
		m.parallel, err = parallelBulk(e.sink, cfg.Streams, cfg.Duration, cfg.IOGrace)
		return
	})
	return m
}

func shortCipher(c string) string {
	s, _, _ := strings.Cut(c, "@")
	s, _, _ = strings.Cut(s, "-poly1305")
	return s
}

func trName(tr string) string {
	switch tr {
	case transportWS:
		return "WS"
	case transportWSResume:
		return "WS resumable"
	}
	return "TCP"
}
