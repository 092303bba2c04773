package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// idleConcurrency bounds the handshakes in flight while idle tubes are
// opened, below the gateway's --max-handshakes-per-source.
const idleConcurrency = 16

// idleTubes are the many tubes that mostly sit there, one -R each.
type idleTubes struct {
	clients []*goClient
	routes  []route
	took    time.Duration
	// ws, wsResume, tcp count the tubes of each transport.
	ws, wsResume, tcp int
	names             int
	ports             int
}

// openIdle opens n tubes, in turn over a raw WebSocket, TCP and a
// resumable WebSocket (whose gateway end parks both its readers); every
// portEvery-th publishes a loopback port, the others a virtual name.
// Each serves its forward, so the churn can reach some of them.
func (s *soak) openIdle(ctx context.Context, n, portEvery int) (*idleTubes, error) {
	it := &idleTubes{clients: make([]*goClient, n), routes: make([]route, n)}
	start := time.Now()
	sem := make(chan struct{}, idleConcurrency)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			tr := []string{transportWS, transportTCP, transportWSResume}[i%3]
			name := fmt.Sprintf("idle-%s-%d", tr, i)
			dctx, cancel := context.WithTimeout(ctx, openTimeout)
			defer cancel()
			gc, err := dialGo(dctx, s.gw, s.id, name, tr, 0)
			if err != nil {
				errs <- err
				return
			}
			gc.serveForwards(s.tg)
			var rt route
			if i%portEvery == 0 {
				port, err := gc.publish("127.0.0.1", 0)
				if err != nil {
					gc.close()
					errs <- err
					return
				}
				rt = portRoute(fmt.Sprintf("127.0.0.1:%d", port), name)
			} else {
				vname := fmt.Sprintf("idle-%d", i)
				if _, err := gc.publish(vname, namePort); err != nil {
					gc.close()
					errs <- err
					return
				}
				rt = s.dialers.nameRoute(vname, name)
			}
			mu.Lock()
			it.clients[i], it.routes[i] = gc, rt
			switch tr {
			case transportWS:
				it.ws++
			case transportWSResume:
				it.wsResume++
			default:
				it.tcp++
			}
			if i%portEvery == 0 {
				it.ports++
			} else {
				it.names++
			}
			done := it.ws + it.wsResume + it.tcp
			mu.Unlock()
			if done%1000 == 0 {
				fmt.Fprintf(s.out, "tubesoak: %d idle tubes opened (%v)\n", done, time.Since(start).Round(time.Second))
			}
		}()
	}
	wg.Wait()
	it.took = time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		it.closeAll()
		return nil, fmt.Errorf("idle tubes: %w", err)
	}
	if err := ctx.Err(); err != nil {
		it.closeAll()
		return nil, err
	}
	return it, nil
}

// closeAll ends every idle tube politely, many at a time.
func (it *idleTubes) closeAll() {
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, c := range it.clients {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.close()
		}()
	}
	wg.Wait()
}
