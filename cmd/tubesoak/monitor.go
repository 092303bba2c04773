package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The gateway's /metrics the soak reads.
const (
	mGoroutines = "go_goroutines"
	mFDs        = "process_open_fds"
	mRSS        = "process_resident_memory_bytes"
	mHeap       = "go_memstats_heap_inuse_bytes"
	mStart      = "process_start_time_seconds"
	mTubes      = "tubegate_tubes"
)

// sample is one reading of the gateway's /metrics.
type sample struct {
	tubes, goroutines, fds, rss, heap, start float64
}

func (s *soak) scrape(ctx context.Context) (sample, error) {
	m, err := s.gw.Metrics(ctx, mGoroutines, mFDs, mRSS, mHeap, mStart)
	if err != nil {
		return sample{}, err
	}
	all, err := s.gw.Scrape(ctx)
	if err != nil {
		return sample{}, err
	}
	return sample{tubes: all[mTubes], goroutines: m[mGoroutines], fds: m[mFDs], rss: m[mRSS], heap: m[mHeap], start: m[mStart]}, nil
}

func (s *soak) readUsage(ctx context.Context) (usage, error) {
	m, err := s.gw.Metrics(ctx, mFDs, mGoroutines)
	if err != nil {
		return usage{}, err
	}
	return usage{fds: m[mFDs], goroutines: m[mGoroutines]}, nil
}

// peaks are the highest readings of the load phase.
type peaks struct {
	mu                          sync.Mutex
	tubes, goroutines, fds, rss float64
}

func (p *peaks) add(x sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tubes = max(p.tubes, x.tubes)
	p.goroutines = max(p.goroutines, x.goroutines)
	p.fds = max(p.fds, x.fds)
	p.rss = max(p.rss, x.rss)
}

// monitor prints one line every interval until ctx ends, and checks that
// the gateway is the one that started (same start time).
func (s *soak) monitor(ctx context.Context, interval time.Duration, start time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastN, lastT := s.stats.total(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			x, err := s.scrape(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.stats.problem("/metrics unreadable", "%v", err)
				}
				continue
			}
			if x.start != s.startTime {
				s.stats.problem("gateway restarted", "start time %v, was %v", x.start, s.startTime)
			}
			s.peaks.add(x)
			n := s.stats.total()
			rate := float64(n-lastN) / now.Sub(lastT).Seconds()
			lastN, lastT = n, now
			fmt.Fprintf(s.out, "tubesoak: %6s  tubes %5.0f  conns/s %4.0f  streams ok %d failed %d (+%d expected)  gateway: goroutines %.0f, fds %.0f, RSS %s, heap %s\n",
				time.Since(start).Round(time.Second), x.tubes, rate, s.stats.ok.Load(),
				s.stats.failed.Load()+s.stats.corrupted.Load()+s.stats.stalled.Load(), s.stats.expectedFailed.Load(),
				x.goroutines, x.fds, mib(x.rss), mib(x.heap))
		}
	}
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// openFilesLimit reads the "Max open files" soft and hard limits of pid.
func openFilesLimit(pid int) string {
	b, err := readProc(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(b, "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) >= 2 {
				return "soft " + f[0] + ", hard " + f[1]
			}
		}
	}
	return "unknown"
}
