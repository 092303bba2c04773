// Command tubebench measures the gateway against its baselines in one run:
// bulk MB/s, 1-byte round-trip latency, new connections per second and the
// aggregate MB/s of parallel streams through a -R tunnel over WebSocket and
// over TCP, beside plain loopback TCP and OpenSSH's own ssh -L to a
// throw-away sshd; the gateway's memory per idle tube; and the browser
// client's figures: the wasm's bytes on the wire, and in headless Chromium
// the time from page load to a shell prompt and MB/s through a -L set up
// from the page; and the time from a reset to bytes flowing again, over a
// resumed tube and over a new one. It runs the real gateway binary, real OpenSSH and Debian's
// Chromium, all on loopback, and prints one Markdown table (or JSON with
// --json).
//
//	go run ./cmd/tubebench --gateway bin/gateway
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

func main() {
	cfg := defaultConfig()
	var asJSON bool
	var paths string
	f := pflag.CommandLine
	f.StringVar(&cfg.Gateway, "gateway", cfg.Gateway, "the gateway binary (make build)")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long each throughput, latency and rate figure runs")
	f.IntVar(&cfg.Streams, "streams", cfg.Streams, "parallel streams for the aggregate figure")
	f.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent openers for the connection-rate figure")
	f.IntVar(&cfg.Tubes, "tubes", cfg.Tubes, "idle tubes for the memory figure (0: skip)")
	f.IntSliceVar(&cfg.ScaleStreams, "scale-streams", cfg.ScaleStreams, "scaling: concurrent streams through one tube, each count for --duration (0: skip)")
	f.IntSliceVar(&cfg.ScaleTubes, "scale-tubes", cfg.ScaleTubes, "scaling: idle tubes held by one gateway, opened step by step (0: skip)")
	f.DurationVar(&cfg.IdleWindow, "idle-window", cfg.IdleWindow, "scaling: how long the gateway's CPU at idle is read at each step of --scale-tubes")
	f.StringVar(&cfg.IdleTransport, "idle-transport", cfg.IdleTransport, "scaling: the idle tubes' transport: "+strings.Join(idleTransports, ", "))
	f.IntVar(&cfg.MaxPings, "max-pings", cfg.MaxPings, "at most this many round trips per latency figure")
	f.StringSliceVar(&cfg.Ciphers, "ciphers", cfg.Ciphers, "SSH ciphers to measure, each against ssh -L with the same cipher")
	f.BoolVar(&cfg.OpenSSHClient, "openssh-client", cfg.OpenSSHClient, "also measure OpenSSH ssh -R through the gateway")
	f.StringSliceVar(&cfg.GatewayFlags, "gateway-flag", nil, "extra flag for gateway serve (repeatable), e.g. --gateway-flag=--pprof=127.0.0.1:6060")
	f.StringSliceVar(&cfg.ConnectFlags, "connect-flag", nil, "extra flag for `gateway connect` in ssh -R's ProxyCommand (repeatable), e.g. --connect-flag=--no-resume")
	f.StringVar(&paths, "paths", "", "only measure paths whose id matches this regexp (baselines always run)")
	f.StringSliceVar(&cfg.Figures, "figures", cfg.Figures, "which path figures to take: bulk, back (bulk from the target to the load generator), rtt, conns, parallel")
	f.BoolVar(&cfg.Cluster, "cluster", cfg.Cluster, "also measure a connection that crosses cluster nodes, beside the same through one node (needs redis-server)")
	f.IntVar(&cfg.RecoveryRuns, "recovery-runs", cfg.RecoveryRuns, "resets for the time to bytes flowing again, resumed and with a new tube (0: skip)")
	f.IntVar(&cfg.BrowserRuns, "browser-runs", cfg.BrowserRuns, "page loads to a shell prompt in headless Chromium, with the HTTP cache off and again on (0: skip the browser figures)")
	f.StringVar(&cfg.Chromium, "chromium", "", "the Chromium binary (default: chromium on PATH, else /usr/bin/chromium)")
	f.StringVar(&cfg.ProfileDir, "profile", "", "save CPU profiles of the gateway and of the client side per figure, and heap and goroutine profiles of idle tubes, in this directory")
	f.DurationVar(&cfg.IOGrace, "io-grace", cfg.IOGrace, "how long past its duration a figure's I/O may take before the figure fails")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of a Markdown table")
	f.Parse(os.Args[1:])
	cfg.ScaleStreams, cfg.ScaleTubes = positive(cfg.ScaleStreams), positive(cfg.ScaleTubes)
	if !slices.Contains(idleTransports, cfg.IdleTransport) {
		fmt.Fprintf(os.Stderr, "tubebench: --idle-transport %q: one of %s\n", cfg.IdleTransport, strings.Join(idleTransports, ", "))
		os.Exit(2)
	}
	if paths != "" {
		re, err := regexp.Compile(paths)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tubebench: --paths: %v\n", err)
			os.Exit(2)
		}
		cfg.PathFilter = re
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "tubebench: --profile: %v\n", err)
			os.Exit(2)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Budget())
	defer cancel()
	rep, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tubebench: %v\n", err)
		os.Exit(1)
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(os.Stderr, "tubebench: %v\n", err)
			os.Exit(1)
		}
	} else {
		fmt.Print(rep.Markdown())
	}
	if len(rep.Failures) > 0 {
		fmt.Fprintf(os.Stderr, "tubebench: %d figures failed:\n", len(rep.Failures))
		for _, f := range rep.Failures {
			fmt.Fprintf(os.Stderr, "  %s\n", f)
		}
		os.Exit(1)
	}
}

// positive returns the counts above zero, in increasing order.
func positive(counts []int) []int {
	var out []int
	for _, n := range counts {
		if n > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Config bounds one run.
type Config struct {
	Gateway       string         `json:"-"`
	Duration      time.Duration  `json:"duration_ns"`
	Streams       int            `json:"streams"`
	Workers       int            `json:"workers"`
	Tubes         int            `json:"tubes"`
	ScaleStreams  []int          `json:"scale_streams,omitempty"`
	ScaleTubes    []int          `json:"scale_tubes,omitempty"`
	IdleWindow    time.Duration  `json:"idle_window_ns"`
	IdleTransport string         `json:"idle_transport"`
	MaxPings      int            `json:"max_pings"`
	Ciphers       []string       `json:"ciphers"`
	OpenSSHClient bool           `json:"openssh_client"`
	GatewayFlags  []string       `json:"gateway_flags,omitempty"`
	ConnectFlags  []string       `json:"connect_flags,omitempty"`
	PathFilter    *regexp.Regexp `json:"-"`
	Figures       []string       `json:"figures"`
	ProfileDir    string         `json:"-"`
	BrowserRuns   int            `json:"browser_runs"`
	RecoveryRuns  int            `json:"recovery_runs"`
	// Cluster adds the cluster figures: two nodes on a throw-away Redis.
	Cluster  bool   `json:"cluster"`
	Chromium string `json:"-"`
	// IOGrace bounds each figure's last I/O past its duration: a figure
	// whose path stalls fails after it, with the figure and path named.
	IOGrace time.Duration `json:"io_grace_ns"`
}

// wants reports whether figure (one of figureKeys) is to be taken.
func (c Config) wants(figure string) bool { return slices.Contains(c.Figures, figure) }

func defaultConfig() Config {
	return Config{
		Gateway:       "bin/gateway",
		Duration:      1500 * time.Millisecond,
		Streams:       100,
		Workers:       8,
		Tubes:         1000,
		ScaleStreams:  []int{1, 10, 100},
		ScaleTubes:    []int{1000, 3000, 10000},
		IdleWindow:    10 * time.Second,
		IdleTransport: transportWS,
		MaxPings:      20000,
		Ciphers:       []string{"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"},
		OpenSSHClient: true,
		Figures:       slices.Clone(figureKeys),
		BrowserRuns:   5,
		RecoveryRuns:  5,
		Cluster:       true,
		IOGrace:       ioGrace,
	}
}

// Budget bounds the whole run: every figure's duration plus generous
// set-up time per path, time for the idle tubes, and for the browser's
// page loads.
func (c Config) Budget() time.Duration {
	paths := 2 + len(c.Ciphers)*5 + 2 // + gateway tunnel -R, one cipher, and the two cluster paths
	browser := time.Duration(0)
	if c.BrowserRuns > 0 {
		browser = time.Duration(2*c.BrowserRuns+5)*browserStep + browserBulkTime(c)
	}
	recovery := time.Duration(2*c.RecoveryRuns) * recoveryWait / 10 // a recovery takes well under a tenth of its bound
	scaling := time.Duration(0)
	if len(c.ScaleStreams) > 0 {
		scaling += time.Duration(len(c.ScaleStreams))*(c.Duration+c.IOGrace) + 30*time.Second
	}
	if n := len(c.ScaleTubes); n > 0 {
		scaling += time.Duration(c.ScaleTubes[n-1])*20*time.Millisecond + time.Duration(n)*(c.IdleWindow+idleSettle) + 30*time.Second
	}
	return time.Duration(paths)*(4*(c.Duration+c.IOGrace)+30*time.Second) + time.Duration(c.Tubes)*60*time.Millisecond + browser + recovery + scaling + time.Minute
}
