package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/gwproc"
)

// scalingCipher is the cipher of the streams figure's tube.
const scalingCipher = "aes128-gcm@openssh.com"

// Scaling is how the gateway's figures change with the load (issue 15):
// concurrent streams through one tube, and idle tubes.
type Scaling struct {
	Streams []StreamsPoint `json:"streams,omitempty"`
	// StreamsPath names the tube the streams cross.
	StreamsPath string      `json:"streams_path,omitempty"`
	Idle        []IdlePoint `json:"idle,omitempty"`
	// IdlePath names the tubes' transport; IdleWindow is how long the
	// gateway's CPU at idle is read.
	IdlePath   string        `json:"idle_path,omitempty"`
	IdleWindow time.Duration `json:"idle_window_ns,omitempty"`
	Failures   []string      `json:"failures,omitempty"`
}

// StreamsPoint is n concurrent streams through one tube.
type StreamsPoint struct {
	Streams int     `json:"streams"`
	MBs     float64 `json:"mb_per_s"`
	// The gateway's CPU over the transfer.
	GatewayCores   float64 `json:"gateway_cores_busy"`
	GatewayMsPerMB float64 `json:"gateway_cpu_ms_per_mb"`
}

// IdlePoint is the gateway holding n idle tubes.
type IdlePoint struct {
	Tubes         int     `json:"tubes"`
	Ports         int     `json:"ports"` // tubes holding a port; the others a virtual name
	RSSKiB        int64   `json:"rss_kib"`
	RSSPerTubeKiB float64 `json:"rss_per_tube_kib"`
	// IdleCores is the gateway's CPU over the idle window, in cores
	// (keepalives, timers, the runtime).
	IdleCores float64 `json:"idle_cores_busy"`
}

// measureStreamsScaling runs each count of concurrent bulk streams for d
// through one Go client -R over WebSocket, reading the gateway's CPU over
// each.
func measureStreamsScaling(ctx context.Context, cfg Config, gw *gateway, id *identity, tg *targets, sc *Scaling) error {
	sc.StreamsPath = "gateway WS, Go client -R, " + shortCipher(scalingCipher)
	e, err := goTunnel(ctx, gw, transportWS, scalingCipher, id, tg)
	if err != nil {
		return err
	}
	defer e.close()
	roots := []procRoot{{role: roleGateway, pid: gw.Proc.PID()}}
	for _, n := range cfg.ScaleStreams {
		before, err := sampleCPU(roots)
		if err != nil {
			return err
		}
		bytes, el, err := concurrentStreams(e.sink, n, cfg.Duration, cfg.IOGrace)
		if err != nil {
			return fmt.Errorf("%d streams: %w", n, err)
		}
		after, err := sampleCPU(roots)
		if err != nil {
			return err
		}
		p := StreamsPoint{Streams: n, MBs: float64(bytes) / el.Seconds() / 1e6}
		for _, c := range cpuPerMB(before, after, bytes) {
			if c.Role == roleGateway {
				p.GatewayCores, p.GatewayMsPerMB = c.CoresBusy, c.MsPerMB
			}
		}
		sc.Streams = append(sc.Streams, p)
	}
	return nil
}

// concurrentStreams runs n bulk streams to the sink at addr at once for d
// and returns the bytes delivered and the time taken.
func concurrentStreams(addr string, n int, d, grace time.Duration) (int64, time.Duration, error) {
	stop := time.Now().Add(d)
	start := time.Now()
	var total atomic.Int64
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _, err := bulkStream(addr, stop, grace)
			if err != nil {
				errs <- err
				return
			}
			total.Add(b)
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	return total.Load(), el, nil
}

// measureIdleScaling opens idle tubes over cfg.IdleTransport to a fresh gateway,
// step by step up to the last of cfg.ScaleTubes, and at each step reads
// the gateway's RSS and its CPU over cfg.IdleWindow.
func measureIdleScaling(ctx context.Context, cfg Config, dir string, id *identity, sc *Scaling) error {
	steps := cfg.ScaleTubes
	last := steps[len(steps)-1]
	sc.IdlePath, sc.IdleWindow = "gateway "+trName(cfg.IdleTransport)+", one -R each", cfg.IdleWindow
	flags := append([]string{
		fmt.Sprintf("--max-tubes-per-user=%d", last+16),
		fmt.Sprintf("--max-forwards-per-user=%d", last+16),
	}, cfg.GatewayFlags...)
	g, err := startGateway(ctx, cfg.Gateway, dir, id, false, flags...)
	if err != nil {
		return err
	}
	defer g.Stop()
	time.Sleep(idleSettle / 4)
	base, err := gwproc.RSSKiB(g.Proc.PID())
	if err != nil {
		return err
	}
	ports := idlePorts(last)
	clients := make([]*ssh.Client, last)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	opened := 0
	roots := []procRoot{{role: roleGateway, pid: g.Proc.PID()}}
	for _, n := range steps {
		if err := openIdleTubes(ctx, g, cfg.IdleTransport, id, clients[opened:n], opened, ports); err != nil {
			return err
		}
		opened = n
		time.Sleep(idleSettle)
		rss, err := gwproc.RSSKiB(g.Proc.PID())
		if err != nil {
			return err
		}
		before, err := sampleCPU(roots)
		if err != nil {
			return err
		}
		select {
		case <-time.After(cfg.IdleWindow):
		case <-ctx.Done():
			return ctx.Err()
		}
		after, err := sampleCPU(roots)
		if err != nil {
			return err
		}
		p := IdlePoint{Tubes: n, Ports: min(n, ports), RSSKiB: rss, RSSPerTubeKiB: float64(rss-base) / float64(n)}
		for _, c := range cpuPerMB(before, after, 0) {
			if c.Role == roleGateway {
				p.IdleCores = c.CoresBusy
			}
		}
		sc.Idle = append(sc.Idle, p)
	}
	return nil
}

// measureScaling takes the scaling figures that cfg asks for; a figure
// that fails is kept in sc.Failures, and the others are still taken.
func measureScaling(ctx context.Context, cfg Config, dir string, gw *gateway, id *identity, tg *targets, progress io.Writer) *Scaling {
	sc := &Scaling{}
	if len(cfg.ScaleStreams) > 0 {
		fmt.Fprintf(progress, "tubebench: scaling, %v streams through one tube\n", cfg.ScaleStreams)
		if err := measureStreamsScaling(ctx, cfg, gw, id, tg, sc); err != nil {
			sc.Failures = append(sc.Failures, fmt.Sprintf("scaling, streams through one tube via %s: %v", sc.StreamsPath, err))
		}
	}
	if len(cfg.ScaleTubes) > 0 {
		fmt.Fprintf(progress, "tubebench: scaling, %v idle tubes\n", cfg.ScaleTubes)
		if err := measureIdleScaling(ctx, cfg, dir, id, sc); err != nil {
			sc.Failures = append(sc.Failures, fmt.Sprintf("scaling, idle tubes via %s: %v", sc.IdlePath, err))
		}
	}
	return sc
}

// markdownScaling renders the scaling figures as two small tables.
func (r *Report) markdownScaling(b *strings.Builder) {
	sc := r.Scaling
	if sc == nil {
		return
	}
	if len(sc.Streams) > 0 {
		fmt.Fprintf(b, "\nConcurrent streams through one tube (%s), %v each; the gateway's CPU over the transfer:\n\n", sc.StreamsPath, r.Config.Duration)
		b.WriteString("| streams | aggregate MB/s | gateway cores busy | gateway CPU ms per MB |\n|--:|--:|--:|--:|\n")
		for _, p := range sc.Streams {
			fmt.Fprintf(b, "| %d | %s | %.2f | %.2f |\n", p.Streams, formatValue(p.MBs), p.GatewayCores, p.GatewayMsPerMB)
		}
	}
	if len(sc.Idle) > 0 {
		fmt.Fprintf(b, "\nIdle tubes (%s), one gateway, opened step by step; its CPU at idle over %v:\n\n", sc.IdlePath, sc.IdleWindow)
		b.WriteString("| idle tubes | of which ports | gateway RSS MiB | RSS KiB per tube | CPU at idle, % of a core |\n|--:|--:|--:|--:|--:|\n")
		for _, p := range sc.Idle {
			fmt.Fprintf(b, "| %d | %d | %.0f | %.1f | %.2f |\n", p.Tubes, p.Ports, float64(p.RSSKiB)/1024, p.RSSPerTubeKiB, p.IdleCores*100)
		}
	}
}
