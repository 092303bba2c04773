package main

import (
	"context"
	"fmt"
	"math"
	"time"
)

// baselinePct is how close to their baseline the gateway's open fds and
// goroutines must come back once every client is gone.
const baselinePct = 2.0

// usage is the gateway's count of open fds and goroutines.
type usage struct {
	fds, goroutines float64
}

func (u usage) String() string {
	return fmt.Sprintf("%.0f fds, %.0f goroutines", u.fds, u.goroutines)
}

// within reports whether cur is within pct percent of base, either way,
// or within one of it: a count of twenty goroutines moves by one when a
// goroutine that was passing through at the baseline (the scrape's own
// connection, a timer's) is gone, and that is no leak.
func within(base, cur, pct float64) bool {
	return math.Abs(cur-base) <= max(1, base*pct/100)
}

// backToBaseline reports whether both counts are within baselinePct of base.
func backToBaseline(base, cur usage) bool {
	return within(base.fds, cur.fds, baselinePct) && within(base.goroutines, cur.goroutines, baselinePct)
}

// awaitBaseline polls read every interval until both counts are back
// within baselinePct of base, for at most timeout. It returns the last
// reading and an error saying both numbers if they did not come back.
func awaitBaseline(ctx context.Context, base usage, read func(context.Context) (usage, error), timeout, interval time.Duration) (usage, error) {
	deadline := time.Now().Add(timeout)
	var cur usage
	var err error
	for {
		cur, err = read(ctx)
		if err == nil && backToBaseline(base, cur) {
			return cur, nil
		}
		if !time.Now().Add(interval).Before(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
	if err != nil {
		return cur, fmt.Errorf("reading the gateway's fds and goroutines: %w", err)
	}
	return cur, fmt.Errorf("the gateway did not come back to within %.0f%% of its baseline in %v: baseline %v, now %v",
		baselinePct, timeout, base, cur)
}

// The gateway's heap in use after a forced GC, once every client is gone,
// must be within heapSlack plus heapPerGoroutine for each goroutine of the
// load's peak of its baseline: the Go runtime never frees a goroutine's
// descriptor (about 400 bytes), and pools and log buffers keep a few MiB.
// Anything kept per connection or per tube beyond that fails the soak.
const (
	heapSlack        = 16 << 20
	heapPerGoroutine = 1 << 10
)

// heapLimit is the most heap in use the gateway may keep once every
// client is gone, given its baseline and the load's peak goroutines.
func heapLimit(base, maxGoroutines float64) float64 {
	return base + heapSlack + heapPerGoroutine*maxGoroutines
}
