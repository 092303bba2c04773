package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// dialTimeout bounds every connection the load generator opens.
const dialTimeout = 10 * time.Second

// ioGrace is added to a measurement's duration to bound its last I/O (the
// default of Config.IOGrace).
const ioGrace = 20 * time.Second

func dial(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// bulkConn dials the sink at addr for a transfer until stop, its I/O
// bounded by grace past it, and makes its block buffer.
func bulkConn(addr string, stop time.Time, grace time.Duration) (net.Conn, []byte, error) {
	c, err := dial(addr)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(stop.Add(grace))
	return c, make([]byte, blockSize), nil
}

// bulkStream sends blocks to the sink at addr until stop, then waits for
// the sink's count and returns the bytes delivered and the time taken.
func bulkStream(addr string, stop time.Time, grace time.Duration) (int64, time.Duration, error) {
	c, buf, err := bulkConn(addr, stop, grace)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	start := time.Now()
	var sent int64
	for {
		last := !time.Now().Before(stop)
		if last {
			buf[0] = blockLast
		}
		if _, err := c.Write(buf); err != nil {
			return 0, 0, fmt.Errorf("bulk write to %s: %w", addr, err)
		}
		sent += blockSize
		if last {
			break
		}
	}
	var ack [8]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		return 0, 0, fmt.Errorf("bulk ack from %s: %w", addr, err)
	}
	if got := int64(binary.BigEndian.Uint64(ack[:])); got != sent {
		return 0, 0, fmt.Errorf("bulk to %s: sink got %d bytes, sent %d", addr, got, sent)
	}
	return sent, time.Since(start), nil
}

// bulkBack asks the sink at addr to send blocks and reads them until stop:
// the bulk figure reversed, the bytes flowing from the target to the load
// generator. It returns the bytes read and the time taken.
func bulkBack(addr string, stop time.Time, grace time.Duration) (int64, time.Duration, error) {
	c, buf, err := bulkConn(addr, stop, grace)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	buf[0] = blockSendBack
	start := time.Now()
	if _, err := c.Write(buf); err != nil {
		return 0, 0, fmt.Errorf("bulk request to %s: %w", addr, err)
	}
	var got int64
	for time.Now().Before(stop) {
		n, err := c.Read(buf)
		got += int64(n)
		if err != nil {
			return 0, 0, fmt.Errorf("bulk read from %s after %d bytes: %w", addr, got, err)
		}
	}
	return got, time.Since(start), nil
}

// parallelBulk measures the aggregate MB/s of n streams at once for d.
func parallelBulk(addr string, n int, d, grace time.Duration) (float64, error) {
	total, el, err := concurrentStreams(addr, n, d, grace)
	if err != nil {
		return 0, err
	}
	return float64(total) / el.Seconds() / 1e6, nil
}

// latency is the round-trip time of 1-byte ping-pongs.
type latency struct{ p50, p99 time.Duration }

// pingPong measures 1-byte round trips to the echo server at addr for d
// (at most maxPings), after a short warm-up.
func pingPong(addr string, d time.Duration, maxPings int, grace time.Duration) (latency, error) {
	c, err := dial(addr)
	if err != nil {
		return latency{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d + grace))
	b := []byte{'x'}
	one := func() error {
		if _, err := c.Write(b); err != nil {
			return fmt.Errorf("ping %s: %w", addr, err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("pong %s: %w", addr, err)
		}
		return nil
	}
	for range 20 {
		if err := one(); err != nil {
			return latency{}, err
		}
	}
	rtts := make([]time.Duration, 0, 4096)
	stop := time.Now().Add(d)
	for len(rtts) < maxPings && time.Now().Before(stop) {
		t0 := time.Now()
		if err := one(); err != nil {
			return latency{}, err
		}
		rtts = append(rtts, time.Since(t0))
	}
	if len(rtts) == 0 {
		return latency{}, fmt.Errorf("no round trip to %s in %v", addr, d)
	}
	slices.Sort(rtts)
	return latency{p50: rtts[len(rtts)/2], p99: rtts[len(rtts)*99/100]}, nil
}

// connRate measures connections per second to the echo server at addr:
// each opens, echoes 1 KiB and closes, workers at a time, for d.
func connRate(ctx context.Context, addr string, workers int, d, grace time.Duration) (float64, error) {
	stop := time.Now().Add(d)
	start := time.Now()
	var done atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]byte, 1024)
			in := make([]byte, 1024)
			for time.Now().Before(stop) && ctx.Err() == nil {
				if err := echoOnce(addr, out, in, stop.Add(grace)); err != nil {
					errs <- err
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(done.Load()) / el.Seconds(), nil
}

func echoOnce(addr string, out, in []byte, deadline time.Time) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if _, err := c.Write(out); err != nil {
		return fmt.Errorf("echo write %s: %w", addr, err)
	}
	if _, err := io.ReadFull(c, in); err != nil {
		return fmt.Errorf("echo read %s: %w", addr, err)
	}
	return nil
}

// waitEcho polls until one 1 KiB echo through addr succeeds, for paths
// whose forward is set up by another process.
func waitEcho(ctx context.Context, addr string, timeout time.Duration) error {
	out, in := make([]byte, 1024), make([]byte, 1024)
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if err = echoOnce(addr, out, in, time.Now().Add(2*time.Second)); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %v: %w", addr, timeout, err)
}
