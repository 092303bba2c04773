package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/faultproxy"
)

// Resumable tubes (issue 9): `gateway connect` resumes by default; these
// tests put the fault proxy between it and the gateway.

// resumeHeartbeat is what the tests' `gateway connect` asks for: a dead
// connection is noticed after three of them.
const resumeHeartbeat = "1s"

// faultWorld is a world with the fault proxy in front of the gateway's
// HTTP port and, for every user NAME given, a host NAME.rs that reaches
// the gateway through it with `gateway connect` (resuming).
func faultWorld(t *testing.T, opts gatewayOpts, users ...string) (*world, *faultproxy.Proxy) {
	t.Helper()
	w := newWorld(t, opts)
	p, err := faultproxy.New("127.0.0.1:0", w.gw.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for _, u := range users {
		w.addUser(t, u, "--permit-open", fmt.Sprintf("localhost:%d", w.target.port))
	}
	w.appendProxiedHosts(t, p, users...)
	return w, p
}

// appendProxiedHosts adds NAME.rs hosts through the fault proxy to the ssh_config.
func (w *world) appendProxiedHosts(t *testing.T, p *faultproxy.Proxy, users ...string) {
	t.Helper()
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "\nHost %s.rs\n  HostName gw\n  User %s\n  IdentityFile %s\n  HostKeyAlias gw\n  ProxyCommand %s connect --resume-heartbeat %s ws://%s/ssh\n",
			u, u, filepath.Join(w.dir, u), w.gw.bin, resumeHeartbeat, p.Addr())
	}
	f, err := os.OpenFile(w.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// TestResumeBulkAcrossResets (issue 9, result 1): 64 MiB each way through
// `ssh -L` over `gateway connect`, with the fault proxy resetting the
// connection three times in the middle: the sha256 matches both ways and
// ssh never exits.
func TestResumeBulkAcrossResets(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", echo))
	p, err := faultproxy.New("127.0.0.1:0", w.gw.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	w.appendProxiedHosts(t, p, "alice")
	lport := freePort(t)
	ssh := w.sshStart(t, "ssh -L", "-N", "-T", "-o", "ExitOnForwardFailure=yes",
		"-L", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", lport, echo), "alice.rs")
	laddr := fmt.Sprintf("127.0.0.1:%d", lport)
	waitDial(t, laddr, startTimeout)

	const total = 64 << 20
	var got atomic.Int64
	resets := make(chan int, 3)
	go func() { // reset at 16, 32 and 48 MiB received
		defer close(resets)
		for _, at := range []int64{16 << 20, 32 << 20, 48 << 20} {
			for got.Load() < at {
				time.Sleep(time.Millisecond)
				if ssh.exited() {
					return
				}
			}
			resets <- p.Reset()
		}
	}()
	c, err := net.DialTimeout("tcp", laddr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Minute)) // liveness only
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
			t.Fatalf("read back %d of %d bytes: %v\n%s", got.Load(), total, err, ssh.out)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	reset := 0
	for n := range resets {
		if n == 0 {
			t.Error("a reset found no connection to reset")
		}
		reset++
	}
	if reset != 3 {
		t.Fatalf("%d resets, want 3", reset)
	}
	if fmt.Sprintf("%x", sent.Sum(nil)) != fmt.Sprintf("%x", recv.Sum(nil)) {
		t.Fatalf("sha256 differs after 64 MiB across 3 resets")
	}
	if ssh.exited() {
		t.Fatalf("ssh exited across the resets\n%s", ssh.out)
	}
	requireEcho(t, laddr)
	if n := len(w.gw.proc.out.linesMatching(`msg="tube resumed"`)); n < 3 {
		t.Errorf("the gateway logged %d resumes, want at least 3", n)
	}
	if len(ssh.out.linesMatching("gateway connect: resumed")) < 3 {
		t.Errorf("gateway connect reported fewer than 3 resumes:\n%s", ssh.out)
	}
	t.Logf("64 MiB each way across %d resets; %d connections through the proxy", reset, p.Accepted())
}

// counterScript prints "tick N" every 200 ms, n times.
func counterScript(n int) string {
	return fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "tick $i"; i=$((i+1)); sleep 0.2; done; echo done`, n)
}

// requireCounter checks that out has "tick 0" .. "tick n-1", each once, in order.
func requireCounter(t *testing.T, out string, n int) {
	t.Helper()
	var ticks []string
	for _, ln := range strings.Split(out, "\n") {
		if ln = strings.TrimRight(ln, "\r"); strings.HasPrefix(ln, "tick ") {
			ticks = append(ticks, ln)
		}
	}
	for i, ln := range ticks {
		if ln != fmt.Sprintf("tick %d", i) {
			t.Fatalf("line %d is %q, want \"tick %d\": a line lost or doubled\n%s", i, ln, i, out)
		}
	}
	if len(ticks) != n {
		t.Fatalf("%d ticks, want %d\n%s", len(ticks), n, out)
	}
}

// TestResumeInteractiveAcrossBlackHole (issue 9, result 2): an
// interactive ssh session (a pty) through the gateway to the host's sshd
// prints a counter every 200 ms; the network under `gateway connect` goes
// dead for 10 s (current and new connections black-holed); no line is
// lost or doubled and ssh carries on.
func TestResumeInteractiveAcrossBlackHole(t *testing.T) {
	w, p := faultWorld(t, gatewayOpts{}, "alice")
	const n = 80 // 16 s of ticks
	ssh := w.sshStart(t, "ssh -tt counter", "-tt", "-J", "alice.rs", "-p", fmt.Sprint(w.target.port), "localhost", counterScript(n))
	ssh.mustWaitLine(t, regexp.MustCompile(`^tick 5\b`), startTimeout)
	holed := p.BlackHoleFor(10 * time.Second)
	if holed == 0 {
		t.Fatal("nothing to black-hole")
	}
	ssh.mustWaitLine(t, regexp.MustCompile(`gateway connect: reconnecting`), startTimeout)
	if code := ssh.waitExit(t, 90*time.Second); code != 0 {
		t.Fatalf("ssh exited %d across the black hole\n%s", code, ssh.out)
	}
	requireCounter(t, ssh.out.String(), n)
	if len(ssh.out.linesMatching("gateway connect: resumed")) == 0 {
		t.Errorf("no resume reported\n%s", ssh.out)
	}
	t.Logf("%d connections through the proxy, %d black-holed at the cut", p.Accepted(), holed)
}

// TestResumeWindowPassedEndsTube: a tube whose client does not come back
// within --resume-window ends as a dropped tube did before: logged, its
// ssh gone.
func TestResumeWindowPassedEndsTube(t *testing.T) {
	w, p := faultWorld(t, gatewayOpts{args: []string{"--resume-window", "2s"}}, "alice")
	ssh := w.sshStart(t, "ssh -tt counter", "-tt", "-J", "alice.rs", "-p", fmt.Sprint(w.target.port), "localhost", counterScript(300))
	ssh.mustWaitLine(t, regexp.MustCompile(`^tick 2\b`), startTimeout)
	p.BlackHoleFor(time.Hour)
	w.gw.proc.mustWaitLine(t, regexp.MustCompile(`msg="tube ended: not resumed within the resume window"`), startTimeout)
	w.gw.proc.mustWaitLine(t, regexp.MustCompile(`msg="tube closed"`), startTimeout)
	if code := ssh.waitExit(t, startTimeout); code == 0 {
		t.Fatalf("ssh exited 0 after its tube ended\n%s", ssh.out)
	}
	ssh.mustWaitLine(t, regexp.MustCompile(`gateway connect: failed:`), startTimeout)
}

// TestResumeWindowZero: --resume-window 0 ends a tube on a drop (the
// subprotocol is still spoken), as raw tubes always did.
func TestResumeWindowZero(t *testing.T) {
	w, p := faultWorld(t, gatewayOpts{args: []string{"--resume-window", "0"}}, "alice")
	ssh := w.sshStart(t, "ssh -tt counter", "-tt", "-J", "alice.rs", "-p", fmt.Sprint(w.target.port), "localhost", counterScript(300))
	ssh.mustWaitLine(t, regexp.MustCompile(`^tick 2\b`), startTimeout)
	p.Reset()
	if code := ssh.waitExit(t, startTimeout); code == 0 {
		t.Fatalf("ssh exited 0\n%s", ssh.out)
	}
	ssh.mustWaitLine(t, regexp.MustCompile(`resume window 0`), startTimeout)
	w.gw.proc.mustWaitLine(t, regexp.MustCompile(`resumption is off`), startTimeout)
}

// TestResumeNoResumeFlag: `gateway connect --no-resume` speaks the raw
// protocol, which the gateway still serves unchanged; a reset ends it.
func TestResumeNoResumeFlag(t *testing.T) {
	w, p := faultWorld(t, gatewayOpts{}, "alice")
	cfg := readFile(t, w.config)
	writeFile(t, w.config, strings.ReplaceAll(cfg, " connect --resume-heartbeat", " connect --no-resume --resume-heartbeat"), 0o600)
	res := w.sshRun(t, "-J", "alice.rs", "-p", fmt.Sprint(w.target.port), "localhost", "echo raw-ok")
	if res.code != 0 || strings.TrimSpace(res.stdout) != "raw-ok" {
		t.Fatalf("--no-resume: %s", res)
	}
	ssh := w.sshStart(t, "ssh -tt counter", "-tt", "-J", "alice.rs", "-p", fmt.Sprint(w.target.port), "localhost", counterScript(300))
	ssh.mustWaitLine(t, regexp.MustCompile(`^tick 2\b`), startTimeout)
	p.Reset()
	if code := ssh.waitExit(t, startTimeout); code == 0 {
		t.Fatalf("raw tube survived a reset?\n%s", ssh.out)
	}
	if len(w.gw.proc.out.linesMatching("tube resumed")) != 0 {
		t.Error("a raw tube was resumed")
	}
}
