package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/faultproxy"
)

// `gateway tunnel` over a resumable WebSocket tube (issue 9): resets of
// the path heal under the SSH connection, and the same tube carries on.

var reForwardPublished = regexp.MustCompile(`msg="forward published"`)

// bulkAcrossResets sends total random bytes through addr (an echo behind
// it) and reads them back, calling reset when at of them have come back,
// for each at; it fails the test unless the sha256 matches both ways.
func bulkAcrossResets(t *testing.T, addr string, total int64, at []int64, reset func() int) (resets int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute)) // liveness only
	var got atomic.Int64
	done := make(chan struct{})
	defer close(done)
	counts := make(chan int, len(at))
	go func() {
		defer close(counts)
		for _, a := range at {
			for got.Load() < a {
				select {
				case <-done:
					return
				case <-time.After(time.Millisecond):
				}
			}
			counts <- reset()
		}
	}()
	sent := sha256.New()
	werr := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.MultiWriter(c, sent), io.LimitReader(rand.Reader, total))
		werr <- err
	}()
	recv := sha256.New()
	buf := make([]byte, 64<<10)
	for got.Load() < total {
		n, err := c.Read(buf)
		recv.Write(buf[:n])
		got.Add(int64(n))
		if err != nil {
			t.Fatalf("read back %d of %d bytes through %s: %v", got.Load(), total, addr, err)
		}
	}
	if err := <-werr; err != nil {
		t.Fatalf("send through %s: %v", addr, err)
	}
	for n := range counts {
		if n == 0 {
			t.Error("a reset found no connection to reset")
		}
		resets++
	}
	if fmt.Sprintf("%x", sent.Sum(nil)) != fmt.Sprintf("%x", recv.Sum(nil)) {
		t.Fatalf("sha256 of %d bytes differs after %d resets", total, resets)
	}
	return resets
}

// TestTunnelResumesAcrossResets: `gateway tunnel -R` through the fault
// proxy carries 32 MiB each way over one connection while the proxy resets
// the WebSocket three times: the bytes arrive intact, and the tunnel
// resumes the same tube each time (one "tunnel up", one publication of the
// -R on the gateway, three "tube resumed" on both sides).
func TestTunnelResumesAcrossResets(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	echo := startEcho(t)
	w.addUser(t, "alice")
	p, err := faultproxy.New("127.0.0.1:0", w.gw.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	pub := freePort(t)
	tun := w.startTunnel(t, nil, append(w.tunnelArgs("alice"), "-R", fmt.Sprintf("%d:127.0.0.1:%d", pub, echo),
		fmt.Sprintf("ws://%s/ssh", p.Addr()))...)
	addr := fmt.Sprintf("127.0.0.1:%d", pub)
	tun.mustWaitLine(t, reForwardPublished, startTimeout)
	waitDial(t, addr, startTimeout)

	const total = 32 << 20
	resets := bulkAcrossResets(t, addr, total, []int64{8 << 20, 16 << 20, 24 << 20}, p.Reset)
	if resets != 3 {
		t.Fatalf("%d resets, want 3\n--- tunnel\n%s", resets, tun.out)
	}
	waitLines(t, tun, `msg="tube resumed"`, 3, startTimeout)
	requireEcho(t, addr)
	ups, pubs := len(tun.out.linesMatching(`msg="tunnel up"`)), len(tun.out.linesMatching(`msg="forward published"`))
	gwPubs := len(w.gw.proc.out.linesMatching(`msg="forward published"`))
	if ups != 1 || pubs != 1 || gwPubs != 1 || tun.exited() {
		t.Fatalf("want the same tube throughout: tunnel %d \"tunnel up\", %d \"forward published\", gateway %d \"forward published\" (want 1 each)\n--- tunnel\n%s", ups, pubs, gwPubs, tun.out)
	}
	if n := len(w.gw.proc.out.linesMatching(`msg="tube resumed"`)); n < 3 {
		t.Errorf("the gateway logged %d resumes, want at least 3", n)
	}
	if n := len(w.gw.proc.out.linesMatching(`msg="tube open"`)); n != 1 {
		t.Errorf("the gateway opened %d tubes, want 1 (resumed, never replaced)", n)
	}
	t.Logf("32 MiB each way across %d resets over one tube, published once; %d connections through the proxy", resets, p.Accepted())
}

// TestTunnelThroughSquid: `gateway tunnel` gets out through squid (CONNECT
// only, Basic auth) to a wss:// gateway whose CA it is given with --ca,
// publishes a -R and carries a real ssh session; without credentials it
// exits non-zero at once with the proxy's 407 in one line.
func TestTunnelThroughSquid(t *testing.T) {
	ca, cert, key := makeTLSFiles(t, t.TempDir())
	w, sq := proxyWorld(t, gatewayOpts{tlsCert: cert, tlsKey: key, caFile: ca}, squidOpts{})
	pub := freePort(t)
	args := append(w.tunnelArgs("alice"), "--ca", ca, "-R", fmt.Sprintf("%d:localhost:%d", pub, w.target.port), w.proxyURL(t))
	tun := w.startTunnel(t, []string{"HTTPS_PROXY=" + sq.URL(true)}, args...)
	tun.mustWaitLine(t, reForwardPublished, startTimeout)
	w.requireTargetVia(t, pub)
	if !strings.Contains(tun.out.String(), "resumable=true") {
		t.Errorf("the tunnel through squid is not resumable:\n%s", tun.out)
	}
	tun.kill()
	<-tun.done

	start := time.Now()
	res := runProgram(t, startTimeout, "", []string{"SSH_AUTH_SOCK=", "HTTPS_PROXY=" + sq.URL(false)}, w.gw.bin, args...)
	took := time.Since(start).Round(time.Millisecond)
	_, port := splitHostPort(t, w.gw.httpAddr)
	want := fmt.Sprintf("refused CONNECT to %s:%s: 407 Proxy Authentication Required (set credentials in HTTPS_PROXY as http://user:pass@host:port)",
		proxyGatewayName, port)
	if res.code <= 0 || !strings.Contains(res.stderr, want) || strings.Contains(res.stderr, "reconnecting") {
		t.Fatalf("gateway tunnel through squid without credentials: want exit non-zero at once, saying %q: %s", want, res)
	}
	t.Logf("without credentials: exit %d after %v: %s", res.code, took, lastLine(res.stderr))
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
