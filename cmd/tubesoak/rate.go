package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pacer says how many jobs are due at a target rate: after elapsed time,
// rate×elapsed in all, whatever the ticks between.
type pacer struct {
	rate   float64 // jobs per second
	issued int64
}

// due is how many jobs to start now, elapsed after the start.
func (p *pacer) due(elapsed time.Duration) int64 {
	want := int64(p.rate * elapsed.Seconds())
	n := want - p.issued
	if n < 0 {
		return 0
	}
	p.issued = want
	return n
}

// pool runs jobs on a bounded number of workers at a target rate. A job
// due while every worker is busy and the queue is full is not started and
// is counted as missed, so the rate actually sustained is what is reported,
// never a backlog that grows without bound.
type pool struct {
	rate    float64
	workers int
	tick    time.Duration
	run     func(ctx context.Context, seq int64)

	started, missed atomic.Int64
}

// serve dispatches jobs until ctx ends, then waits for the running ones.
func (p *pool) serve(ctx context.Context) {
	jobs := make(chan int64, p.workers)
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobs {
				p.run(ctx, seq)
			}
		}()
	}
	pc := &pacer{rate: p.rate}
	start := time.Now()
	t := time.NewTicker(p.tick)
	defer t.Stop()
	var seq int64
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-t.C:
			for n := pc.due(now.Sub(start)); n > 0; n-- {
				if ctx.Err() != nil {
					break loop // a tick ready at once with Done: start nothing more
				}
				select {
				case jobs <- seq:
					p.started.Add(1)
				default:
					p.missed.Add(1)
				}
				seq++
			}
		}
	}
	close(jobs)
	wg.Wait()
}
