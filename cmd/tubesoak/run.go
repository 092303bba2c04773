package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubegate/tubegate/internal/gwproc"
)

// soak is one run's state.
type soak struct {
	cfg       config
	out       io.Writer
	gw        *gwproc.Gateway
	id        *gwproc.Identity
	tg        *targets
	wd        *watchdog
	stats     *stats
	dialers   *dialers
	idle      *idleTubes
	churn     *churnTubes
	peaks     peaks
	startTime float64
	heap      *heapProfiles

	nKilled, nBursts atomic.Int64
}

// run sets up, loads, tears down and checks; the summary is returned as
// far as the run got, with the reasons it failed.
func run(ctx context.Context, cfg config, out io.Writer) (*summary, error) {
	s := &soak{cfg: cfg, out: out, stats: &stats{}, wd: newWatchdog(cfg.StallTimeout), dialers: &dialers{}}
	s.heap = &heapProfiles{s: s, dir: cfg.HeapDir}
	if cfg.HeapDir != "" {
		if err := os.MkdirAll(cfg.HeapDir, 0o755); err != nil {
			return nil, fmt.Errorf("heap profiles: %w", err)
		}
	}
	sum := &summary{cfg: cfg, stats: s.stats}
	limit, err := raiseOpenFiles()
	if err != nil {
		return nil, err
	}
	sum.limit = limit
	n := cfg.idleTubes()
	fmt.Fprintf(out, "tubesoak: open files limit %d (soft = hard), %d idle tubes, %v of load\n", limit, n, cfg.Duration)
	if n < fullTubes {
		fmt.Fprintf(out, "tubesoak: a short run: %d idle tubes instead of %d\n", n, fullTubes)
	}

	dir, err := os.MkdirTemp("", "tubesoak")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	if s.id, err = gwproc.NewIdentity(dir, "tubesoak"); err != nil {
		return nil, err
	}
	// Dumps outlive the run's temp dir, to be read after a failure.
	dumps := &stallDumps{s: s, dir: cfg.StallDumpDir}
	if dumps.dir == "" {
		dumps.dir = filepath.Join(os.TempDir(), "tubesoak-stalls")
	}
	s.wd.onStall = dumps.onStall
	wctx, stopWatchdog := context.WithCancel(context.Background())
	defer stopWatchdog()
	go s.wd.run(wctx)
	if s.tg, err = startTargets(cfg.Targets, s.wd, s.stats); err != nil {
		return nil, err
	}
	defer s.tg.close()
	if s.gw, err = gwproc.StartGateway(ctx, gwproc.GatewayOptions{
		Bin: cfg.Gateway, Dir: dir, Identity: s.id, User: soakUser, Profile: true,
		// The clients publish names such as idle-15 and churn-go-ws-0,
		// outside the user's own namespace (soak, *.soak).
		UserArgs: []string{"--permit-name", "*"},
		Extra: []string{
			// A killed client's resumable tube waits this long for its
			// client (gateway connect resumes by default): short, so that
			// such tubes are gone well before the final check of fds and
			// goroutines, whose wait is shorter than the 2m default.
			"--resume-window=20s",
			fmt.Sprintf("--max-tubes-per-user=%d", n+1000),
			fmt.Sprintf("--max-forwards-per-user=%d", 2*n+1000),
		},
	}); err != nil {
		return nil, err
	}
	defer s.gw.Stop()
	sum.gwLimit = openFilesLimit(s.gw.Proc.PID())
	fmt.Fprintf(out, "tubesoak: gateway pid %d, open files %s\n", s.gw.Proc.PID(), sum.gwLimit)

	// The baseline, before any client.
	time.Sleep(2 * time.Second)
	first, err := s.scrape(ctx)
	if err != nil {
		return sum, err
	}
	s.startTime = first.start
	time.Sleep(time.Second)
	if sum.base, err = s.readUsage(ctx); err != nil {
		return sum, err
	}
	if sum.heapBase, err = s.heap.take(ctx, "baseline"); err != nil {
		return sum, err
	}
	base, _ := s.scrape(ctx)
	fmt.Fprintf(out, "tubesoak: baseline %v, RSS %s, heap after a forced GC %s\n", sum.base, mib(base.rss), mib(sum.heapBase))

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the gateway must not exit
		select {
		case <-s.gw.Proc.Done():
			s.stats.problem("gateway exited", "%s: %s", s.gw.Proc.ExitState(), gwproc.Tail(s.gw.Proc.Output()))
			cancel()
		case <-lctx.Done():
		}
	}()

	err = s.load(lctx, n, base, sum)
	s.teardown()
	if err != nil {
		s.stats.problem("load", "%v", err)
	}
	select {
	case <-s.gw.Proc.Done():
	default:
		fmt.Fprintf(out, "tubesoak: every client gone; waiting up to %v for the gateway's fds and goroutines\n", cfg.SettleWait)
		after, err := awaitBaseline(ctx, sum.base, s.readUsage, cfg.SettleWait, time.Second)
		sum.after = after
		if err != nil {
			s.stats.problem("fds and goroutines not back to baseline", "%v", err)
		}
		if sum.heapAfter, err = s.heap.take(ctx, "after"); err != nil {
			s.stats.problem("heap unreadable", "%v", err)
		} else if limit := heapLimit(sum.heapBase, sum.maxGoroutines); sum.heapAfter > limit {
			s.stats.problem("heap not back to baseline", "%s in use after a forced GC once every client was gone; baseline %s, at most %s allowed (%s + %s per peak goroutine)",
				mib(sum.heapAfter), mib(sum.heapBase), mib(limit), mib(heapSlack), "1 KiB")
		}
	}
	if x, err := s.scrape(ctx); err == nil && x.start != s.startTime {
		s.stats.problem("gateway restarted", "start time %v, was %v", x.start, s.startTime)
	}
	if msgs, count := s.stats.failures(); count > 0 {
		return sum, fmt.Errorf("%d failures:\n  %s", count, strings.Join(msgs, "\n  "))
	}
	return sum, nil
}

// load opens the idle tubes and the churn's clients and runs the load
// for the configured duration.
func (s *soak) load(ctx context.Context, n int, base sample, sum *summary) error {
	for i := range s.cfg.Dialers {
		tr := transportTCP
		if i%2 == 0 {
			tr = transportWS
		}
		dctx, cancel := context.WithTimeout(ctx, openTimeout)
		gc, err := dialGo(dctx, s.gw, s.id, fmt.Sprintf("dialer-%s-%d", tr, i), tr, s.cfg.GoRekey)
		cancel()
		if err != nil {
			return err
		}
		s.dialers.tubes = append(s.dialers.tubes, gc)
	}
	var err error
	if s.idle, err = s.openIdle(ctx, n, s.cfg.PortEvery); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "tubesoak: %d idle tubes open in %v (%d WS, %d WS resumable, %d TCP; %d virtual names, %d published ports)\n",
		n, s.idle.took.Round(time.Second), s.idle.ws, s.idle.wsResume, s.idle.tcp, s.idle.names, s.idle.ports)
	time.Sleep(2 * time.Second)
	peak, err := s.scrape(ctx)
	if err != nil {
		return err
	}
	s.peaks.add(peak)
	sum.idle = s.idle
	sum.rssPerTube = (peak.rss - base.rss) / float64(n) / 1024
	sum.heapPerTube = (peak.heap - base.heap) / float64(n) / 1024
	sum.idleRSS = peak.rss
	fmt.Fprintf(s.out, "tubesoak: with %d idle tubes: RSS %s (%.1f KiB a tube), heap %s, %.0f goroutines, %.0f fds\n",
		n, mib(peak.rss), sum.rssPerTube, mib(peak.heap), peak.goroutines, peak.fds)

	if s.churn, err = s.openChurn(ctx, s.cfg.ChurnPerKind); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "tubesoak: load for %v: %.0f new connections/s through %d forwards, a burst of %d × %d MiB every %v, a client killed every %v\n",
		s.cfg.Duration, s.cfg.Rate, len(s.churn.routes), burstCount, burstSize>>20, s.cfg.BurstEvery, s.cfg.KillEvery)

	lctx, cancel := context.WithTimeout(ctx, s.cfg.Duration)
	defer cancel()
	p := &pool{rate: s.cfg.Rate, workers: s.cfg.Workers, tick: 10 * time.Millisecond, run: s.churnJob}
	start := time.Now()
	if sum.heapStart, err = s.heap.take(ctx, "load-start"); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, fn := range []func(){
		func() { s.monitor(lctx, s.cfg.Interval, start) },
		func() { s.heap.every(lctx, s.cfg.HeapEvery, start) },
		func() { p.serve(lctx) },
		func() { s.bursts(lctx, s.cfg.BurstEvery) },
		func() { s.victims(lctx, s.cfg.KillEvery) },
	} {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	<-lctx.Done()
	loadTime := time.Since(start)
	wg.Wait() // streams in flight finish, each bounded by the watchdog
	if sum.heapEnd, err = s.heap.take(ctx, "load-end"); err != nil {
		return err
	}
	sum.loadTime = loadTime
	sum.started, sum.missed = p.started.Load(), p.missed.Load()
	sum.killed, sum.bursts = s.nKilled.Load(), s.nBursts.Load()
	s.peaks.mu.Lock()
	sum.maxGoroutines, sum.maxFDs, sum.maxRSS = s.peaks.goroutines, s.peaks.fds, s.peaks.rss
	s.peaks.mu.Unlock()
	if errors.Is(ctx.Err(), context.Canceled) {
		return errors.New("interrupted")
	}
	return nil
}

// teardown ends every client.
func (s *soak) teardown() {
	if s.churn != nil {
		s.churn.close()
	}
	for _, d := range s.dialers.tubes {
		d.close()
	}
	if s.idle != nil {
		s.idle.closeAll()
	}
}

// summary is what the run found.
type summary struct {
	cfg                           config
	stats                         *stats
	limit                         uint64
	gwLimit                       string
	base, after                   usage
	idle                          *idleTubes
	rssPerTube, heapPerTube       float64 // KiB, at the peak tube count
	idleRSS                       float64
	loadTime                      time.Duration
	started, missed               int64
	killed, bursts                int64
	maxGoroutines, maxFDs, maxRSS float64
	// the gateway's heap in use after a forced GC: with no client, at the
	// start and end of the load, and once every client is gone
	heapBase, heapStart, heapEnd, heapAfter float64
}

func (m *summary) print(w io.Writer) {
	st := m.stats
	fmt.Fprintf(w, "\ntubesoak summary (load %v; open files limit %d, gateway's %s)\n", m.loadTime.Round(time.Second), m.limit, m.gwLimit)
	if m.idle != nil {
		fmt.Fprintf(w, "  idle tubes held:        %d (%d WebSocket, %d resumable WebSocket, %d TCP; %d virtual names, %d published ports), opened in %v\n",
			len(m.idle.clients), m.idle.ws, m.idle.wsResume, m.idle.tcp, m.idle.names, m.idle.ports, m.idle.took.Round(time.Second))
		fmt.Fprintf(w, "  RSS per idle tube:      %.1f KiB at %d tubes (gateway RSS %s; Go heap %.1f KiB a tube)\n",
			m.rssPerTube, len(m.idle.clients), mib(m.idleRSS), m.heapPerTube)
	}
	if m.loadTime > 0 {
		secs := m.loadTime.Seconds()
		fmt.Fprintf(w, "  conns/s sustained:      %.0f (target %.0f; %d started, %d not started because all %d workers were busy); all streams %.0f/s\n",
			float64(m.started)/secs, m.cfg.Rate, m.started, m.missed, m.cfg.Workers, float64(st.total())/secs)
		fmt.Fprintf(w, "  max goroutines:         %.0f (max fds %.0f, max RSS %s)\n", m.maxGoroutines, m.maxFDs, mib(m.maxRSS))
		fmt.Fprintf(w, "  clients killed:         %d mid-stream; bursts: %d × %d streams of %d MiB\n", m.killed, m.bursts, burstCount, burstSize>>20)
	}
	fmt.Fprintf(w, "  streams:                %d ok (%.1f GiB checked), %d failed through killed clients (expected), %d failed otherwise, %d corrupted, %d stalled\n",
		st.ok.Load(), float64(st.payload.Load())/(1<<30), st.expectedFailed.Load(), st.failed.Load(), st.corrupted.Load(), st.stalled.Load())
	fmt.Fprintf(w, "  at the targets:         %d ok, %d ended early, %d corrupted, %d stalled\n",
		st.tOK.Load(), st.tFailed.Load(), st.tCorrupted.Load(), st.tStalled.Load())
	fmt.Fprintf(w, "  gateway baseline:       %v; after the clients: %v (must be within %.0f%%, or one)\n", m.base, m.after, baselinePct)
	fmt.Fprintf(w, "  heap after a forced GC: %s with no client; %s at the start of the load, %s at its end; %s once every client was gone (must be at most %s)\n",
		mib(m.heapBase), mib(m.heapStart), mib(m.heapEnd), mib(m.heapAfter), mib(heapLimit(m.heapBase, m.maxGoroutines)))
}
