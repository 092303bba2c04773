package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/bridge"
)

// rekeyStallBound is a liveness bound: a round that moves at all ends in
// seconds; a stalled tube never does.
const rekeyStallBound = 90 * time.Second

// TestRekeyUnderLoad pushes 128 concurrent 1 MiB echo streams, two rounds,
// through a -R forward of a client that re-keys every few KiB, against the
// built gateway: a Go client (x/crypto, as the page's Wasm client and the
// bench use) over the WebSocket and over TCP, and stock OpenSSH with a
// RekeyLimit over `gateway connect`. Before the patched x/crypto the Go
// paths stalled for good in the first rounds.
func TestRekeyUnderLoad(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "alice")
	signer := userSigner(t, w, "alice")
	echoPort := startEcho(t)
	goClient := func(t *testing.T, dial func(ctx context.Context) (net.Conn, error)) string {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		raw, err := dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cc, chans, reqs, err := ssh.NewClientConn(raw, "gw", &ssh.ClientConfig{
			User:            "alice",
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(),
			Config:          ssh.Config{RekeyThreshold: 4 << 10},
		})
		if err != nil {
			t.Fatal(err)
		}
		c := ssh.NewClient(cc, chans, reqs)
		t.Cleanup(func() { c.Close() })
		ln, err := c.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				ch, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer ch.Close()
					up, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", echoPort))
					if err != nil {
						return
					}
					defer up.Close()
					pipeBoth(ch, up)
				}()
			}
		}()
		return ln.Addr().String()
	}
	t.Run("go client over websocket", func(t *testing.T) {
		addr := goClient(t, func(ctx context.Context) (net.Conn, error) {
			return bridge.Dial(ctx, w.gw.wsURL(), bridge.DialOptions{})
		})
		rekeyRounds(t, addr, 128, 2)
	})
	t.Run("go client over tcp", func(t *testing.T) {
		addr := goClient(t, func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", w.gw.sshAddr)
		})
		rekeyRounds(t, addr, 128, 2)
	})
	t.Run("openssh over gateway connect", func(t *testing.T) {
		p := w.remoteForward(t, fmt.Sprintf("0:127.0.0.1:%d", echoPort), "-o", "RekeyLimit=16K", "alice.ws")
		m := p.mustWaitLine(t, regexp.MustCompile(`Allocated port (\d+) for remote forward`), startTimeout)
		rekeyRounds(t, "127.0.0.1:"+m[1], 64, 1)
	})
}

// rekeyRounds runs rounds of n concurrent 1 MiB echo round trips through
// addr, failing on any error; a stalled stream ends in an i/o timeout.
func rekeyRounds(t *testing.T, addr string, n, rounds int) {
	t.Helper()
	for r := range rounds {
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- echoRoundTrip(addr, 1<<20, rekeyStallBound) }()
		}
		wg.Wait()
		close(errs)
		failed := 0
		for err := range errs {
			if err != nil {
				if failed++; failed <= 3 {
					t.Errorf("round %d: %v", r, err)
				}
			}
		}
		if failed > 0 {
			t.Fatalf("round %d: %d of %d streams through %s failed (a stall shows as i/o timeout)", r, failed, n, addr)
		}
	}
}

// pipeBoth copies both ways between a and b until both directions end,
// passing each end of stream on as a half-close.
func pipeBoth(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}
