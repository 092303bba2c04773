package e2e

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// blackhole is a TCP relay to target that can stop forwarding, without closing, every connection
// it carries at the moment (as a dead NAT does); connections made later pass again.
type blackhole struct {
	ln     net.Listener
	target string
	stop   chan struct{}

	mu    sync.Mutex
	gen   int // connections of an older generation are black-holed
	conns []net.Conn
}

func startBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target, stop: make(chan struct{})}
	go b.serve()
	t.Cleanup(func() {
		close(b.stop)
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
	})
	return b
}

func (b *blackhole) addr() string { return b.ln.Addr().String() }

// hole black-holes every connection carried now.
func (b *blackhole) hole() {
	b.mu.Lock()
	b.gen++
	b.mu.Unlock()
}

func (b *blackhole) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		d, err := net.Dial("tcp", b.target)
		if err != nil {
			c.Close()
			continue
		}
		b.mu.Lock()
		gen := b.gen
		b.conns = append(b.conns, c, d)
		b.mu.Unlock()
		go b.copy(d, c, gen)
		go b.copy(c, d, gen)
	}
}

// copy forwards src to dst until the connection's generation is black-holed, then holds the
// bytes read and forwards nothing more.
func (b *blackhole) copy(dst io.Writer, src io.Reader, gen int) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		b.mu.Lock()
		holed := gen < b.gen
		b.mu.Unlock()
		if holed {
			<-b.stop
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestTunnelKeepaliveNoticesDeadTube: when the path to the gateway silently stops carrying bytes,
// the tunnel's keepalives go unanswered, it takes the tube as dead, says why, reconnects, -L works
// again, and its -R name, still held on the gateway by the old (silent) tube, is taken back.
func TestTunnelKeepaliveNoticesDeadTube(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", echo), "--permit-name", "myhost")
	bh := startBlackhole(t, w.gw.sshAddr)
	port := freePort(t)
	local := fmt.Sprintf("127.0.0.1:%d", port)
	tun := w.startTunnel(t, nil, append(w.tunnelArgs("alice"), "--keepalive", "200ms", "--keepalive-max", "2",
		"-L", fmt.Sprintf("%d:127.0.0.1:%d", port, echo), "-R", fmt.Sprintf("myhost:22:127.0.0.1:%d", w.target.port),
		"ssh://"+bh.addr())...)
	requireEcho(t, local)
	if res := w.sshVia(t, "alice.tcp", "myhost"); res.code != 0 || strings.TrimSpace(res.stdout) != "ok" {
		t.Fatalf("ssh -J alice.tcp myhost: %s", res)
	}

	bh.hole()
	tun.mustWaitLine(t, regexp.MustCompile(`msg="tunnel down".*keepalives`), startTimeout)
	t.Logf("%s", strings.Join(tun.out.linesMatching(`msg="tunnel down"`), "\n"))
	waitLines(t, tun, `msg="tunnel up"`, 2, startTimeout)
	requireEcho(t, local)
	if res := w.sshVia(t, "alice.tcp", "myhost"); res.code != 0 || strings.TrimSpace(res.stdout) != "ok" {
		t.Fatalf("ssh -J alice.tcp myhost after the tunnel reconnected: %s\n--- tunnel\n%s", res, tun.out)
	}
}

// waitLines waits until p has printed n lines containing substr, failing the test after timeout.
func waitLines(t *testing.T, p *proc, substr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		lines, changed := p.out.snapshot()
		count := 0
		for _, ln := range lines {
			if strings.Contains(ln, substr) {
				count++
			}
		}
		if count >= n {
			return
		}
		select {
		case <-changed:
		case <-p.done:
			t.Fatalf("%s exited with %d of %d lines %q\n%s", p.name, count, n, substr, p.out)
		case <-deadline:
			t.Fatalf("%s printed %d of %d lines %q within %v\n%s", p.name, count, n, substr, timeout, p.out)
		}
	}
}
