// Copyright 2026 The Tubegate Authors. Patch to golang.org/x/crypto/ssh;
// see third_party/patches/x-crypto-0020-incoming-without-a-waiting-goroutine.patch.

package ssh

import (
	"sync"
	"testing"
	"time"
)

// TestNotifyIncoming takes a server's channels and requests only when
// NotifyIncoming says there are some, on a taker that stops whenever both
// are empty (as the gateway's tubes do), while a client opens channels and
// sends requests from several goroutines. Every one must be taken and
// answered, and the close of both must be told.
func TestNotifyIncoming(t *testing.T) {
	sc, chans, reqs, client := testServerPair(t, &ServerConfig{NoClientAuth: true}, nil)
	var (
		mu      sync.Mutex
		running bool
		taken   int
		closed  = make(chan struct{})
	)
	var take func()
	take = func() {
		for {
			select {
			case nc, ok := <-chans:
				if !ok {
					chans = nil
					continue
				}
				mu.Lock()
				taken++ // before the answer the client waits for
				mu.Unlock()
				nc.Reject(Prohibited, "taken")
				continue
			case r, ok := <-reqs:
				if !ok {
					reqs = nil
					continue
				}
				mu.Lock()
				taken++
				mu.Unlock()
				r.Reply(true, nil)
				continue
			default:
			}
			if chans == nil && reqs == nil {
				close(closed)
				return
			}
			mu.Lock()
			if len(chans) == 0 && len(reqs) == 0 {
				running = false
				mu.Unlock()
				return
			}
			mu.Unlock()
		}
	}
	sc.NotifyIncoming(func() {
		mu.Lock()
		defer mu.Unlock()
		if !running {
			running = true
			go take()
		}
	})
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if i%2 == 0 {
					if ok, _, err := client.SendRequest("test", true, nil); err != nil || !ok {
						t.Errorf("request: %v %v", ok, err)
						return
					}
				} else if _, _, err := client.OpenChannel("test", nil); err == nil {
					t.Error("channel opened; want it rejected")
					return
				}
			}
		}()
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Fatal("requests or channels were left untaken: a notification was missed")
	}
	mu.Lock()
	got := taken
	mu.Unlock()
	if got != workers*each {
		t.Errorf("took %d requests and channels; want %d", got, workers*each)
	}
	client.Close()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the close of the requests and channels was not told")
	}
}
