// Command tubesoak holds the gateway under sustained load for a bounded
// time and fails if a tube ever stalls. Against the built gateway binary it
// opens thousands of idle tubes (Go clients over WebSocket and TCP, one -R
// each: a virtual name, or a published loopback port for one in ten), then
// runs a churn of new forwarded connections at a target rate through Go
// and OpenSSH clients with small rekey thresholds, bursts of many busy
// channels on one tube, and clients killed mid-stream. Every stream is
// checked by sha256 end to end and bounded by a stall watchdog; every 10 s
// it prints the gateway's goroutines, open fds, RSS and heap; at the end
// the gateway's fds and goroutines must be back within 2% of their
// baseline, or one of it.
//
//	go run ./cmd/tubesoak --gateway bin/gateway --duration 10m
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// soakUser is the gateway user every client logs in as.
const soakUser = "soak"

// config bounds one soak.
type config struct {
	Gateway      string
	Duration     time.Duration
	Tubes        int // idle tubes; 0: 10,000, or 2,000 for a run under 5 minutes
	PortEvery    int
	Rate         float64
	Workers      int
	ChurnPerKind int
	Dialers      int
	Targets      int
	GoRekey      uint64
	OpenSSHRekey string
	StallTimeout time.Duration
	KillEvery    time.Duration
	BurstEvery   time.Duration
	Interval     time.Duration
	SettleWait   time.Duration
	HeapDir      string        // save heap profiles of the gateway here ("" for none)
	HeapEvery    time.Duration // how often during the load, with HeapDir
	StallDumpDir string        // goroutine dumps of both ends on a stall ("": $TMPDIR/tubesoak-stalls)
}

func defaultConfig() config {
	return config{
		Gateway:      "bin/gateway",
		Duration:     10 * time.Minute,
		PortEvery:    10,
		Rate:         1000,
		Workers:      512,
		ChurnPerKind: 2,
		Dialers:      4,
		Targets:      8,
		GoRekey:      256 << 10,
		OpenSSHRekey: "256K",
		StallTimeout: 30 * time.Second,
		KillEvery:    3 * time.Second,
		BurstEvery:   15 * time.Second,
		Interval:     10 * time.Second,
		SettleWait:   90 * time.Second,
		HeapEvery:    time.Minute,
	}
}

// fullTubes is the idle tube count of a full run; shortTubes that of a
// run shorter than shortRun, whose tubes would take much of its time to open.
const (
	fullTubes  = 10000
	shortTubes = 2000
	shortRun   = 5 * time.Minute
)

func (c *config) idleTubes() int {
	switch {
	case c.Tubes > 0:
		return c.Tubes
	case c.Duration < shortRun:
		return shortTubes
	default:
		return fullTubes
	}
}

func main() {
	cfg := defaultConfig()
	f := pflag.CommandLine
	f.StringVar(&cfg.Gateway, "gateway", cfg.Gateway, "the gateway binary (make build)")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the load runs (idle tubes are opened before, and closed after)")
	f.IntVar(&cfg.Tubes, "tubes", 0, fmt.Sprintf("idle tubes (default %d, or %d for a run under %v)", fullTubes, shortTubes, shortRun))
	f.IntVar(&cfg.PortEvery, "port-every", cfg.PortEvery, "one idle tube in this many publishes a loopback port, the others a virtual name")
	f.Float64Var(&cfg.Rate, "rate", cfg.Rate, "new forwarded connections per second to aim at")
	f.IntVar(&cfg.Workers, "workers", cfg.Workers, "connections in flight at most")
	f.IntVar(&cfg.ChurnPerKind, "churn-tubes", cfg.ChurnPerKind, "churn clients of each kind (Go WS, Go TCP, OpenSSH WS, OpenSSH TCP)")
	f.Uint64Var(&cfg.GoRekey, "go-rekey", cfg.GoRekey, "RekeyThreshold (bytes) of the Go churn and dialer clients")
	f.StringVar(&cfg.OpenSSHRekey, "openssh-rekey", cfg.OpenSSHRekey, "RekeyLimit of the OpenSSH clients")
	f.DurationVar(&cfg.StallTimeout, "stall-timeout", cfg.StallTimeout, "a stream with no byte moving for this long has stalled")
	f.DurationVar(&cfg.KillEvery, "kill-every", cfg.KillEvery, "start (and kill mid-stream) a client this often")
	f.DurationVar(&cfg.BurstEvery, "burst-every", cfg.BurstEvery, fmt.Sprintf("send %d streams of %d MiB at once through one Go tube this often", burstCount, burstSize>>20))
	f.StringVar(&cfg.StallDumpDir, "stall-dumps", "", "where to write goroutine dumps of the gateway and the clients when streams stall (default $TMPDIR/tubesoak-stalls)")
	f.StringVar(&cfg.HeapDir, "heap-profiles", "", "save the gateway's heap profiles after a forced GC (baseline, start of the load, every --heap-every, end of the load, every client gone) in this directory, for go tool pprof -base")
	f.DurationVar(&cfg.HeapEvery, "heap-every", cfg.HeapEvery, "how often to save a heap profile during the load, with --heap-profiles")
	f.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := run(ctx, cfg, os.Stdout)
	if sum != nil {
		sum.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tubesoak: FAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("tubesoak: PASS")
}

// raiseOpenFiles sets this process's soft open-files limit to the hard
// one (the Go runtime does this too; this makes it explicit) and returns
// the limit it runs under.
func raiseOpenFiles() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return l.Cur, nil
}

func readProc(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return string(b), nil
}
