package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestData pushes 64 MiB of random data through a -R tunnel to an in-test echo service and back,
// comparing sha256 of what was sent and what came back, then runs 50 concurrent connections through
// the same tunnel, each checked the same way. Over the WebSocket and over TCP.
func TestData(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "alice")
	echo := startEcho(t)

	for _, transport := range []string{"ws", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			port := freePort(t)
			w.remoteForward(t, fmt.Sprintf("%d:127.0.0.1:%d", port, echo), "alice."+transport)
			addr := fmt.Sprintf("localhost:%d", port)
			waitDial(t, addr, startTimeout)

			t.Run("64 MiB", func(t *testing.T) {
				const n = 64 << 20
				start := time.Now()
				if err := echoRoundTrip(addr, n, 3*time.Minute); err != nil {
					t.Fatal(err)
				}
				d := time.Since(start)
				t.Logf("64 MiB each way in %v (%.1f MB/s each way)", d, float64(n)/1e6/d.Seconds())
			})

			t.Run("50 concurrent connections", func(t *testing.T) {
				const conns, n = 50, 512 << 10
				var wg sync.WaitGroup
				errs := make(chan error, conns)
				for i := 0; i < conns; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := echoRoundTrip(addr, n, 2*time.Minute); err != nil {
							errs <- fmt.Errorf("connection %d: %w", i, err)
						}
					}()
				}
				wg.Wait()
				close(errs)
				failed := 0
				for err := range errs {
					failed++
					t.Error(err)
				}
				if failed > 0 {
					t.Fatalf("%d of %d concurrent connections failed", failed, conns)
				}
			})
		})
	}
}
