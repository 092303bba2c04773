// Package e2e drives the built gateway binary with real OpenSSH ssh and sshd.
//
// TestMain builds ./cmd/gateway once. Every test gets its own data dir, throw-away sshd,
// ssh_config and known_hosts under a temporary directory, and every process it starts is
// killed (with its process group) in t.Cleanup. A missing tool is a failure, never a skip.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds how long a process may take to become ready.
	startTimeout = 20 * time.Second
	// cmdTimeout bounds a short command such as `ssh host echo ok` or `gateway user add`.
	cmdTimeout = 30 * time.Second
)

var (
	gatewayBin      string // path of the binary built by TestMain
	gatewayBuildErr error  // set when the build failed; tests needing the binary fail with it
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tubegate-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: temp dir for the gateway binary: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gatewayBin = filepath.Join(dir, "gateway")
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: module root: %v\n", err)
		return 1
	}
	// TUBEGATE_E2E_BUILDFLAGS adds go build flags: `-race` runs the suite
	// against a race-detector build of the gateway (make e2e-race).
	args := append([]string{"build"}, strings.Fields(os.Getenv("TUBEGATE_E2E_BUILDFLAGS"))...)
	build := exec.Command("go", append(args, "-o", gatewayBin, "./cmd/gateway")...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		gatewayBuildErr = fmt.Errorf("go build -o %s ./cmd/gateway (in %s): %v\n%s", gatewayBin, root, err, out)
	}
	// Under -race, every gateway writes race reports to files here, and any
	// report fails the run: a race the tests provoke must not pass quietly.
	raceLogs := filepath.Join(dir, "race")
	os.Setenv("GORACE", "log_path="+raceLogs)
	code := m.Run()
	printRedteamTable(os.Stdout)
	if reports, _ := filepath.Glob(raceLogs + ".*"); len(reports) > 0 {
		for _, r := range reports {
			data, _ := os.ReadFile(r)
			fmt.Fprintf(os.Stderr, "e2e: the gateway reported a data race (%s):\n%s\n", r, data)
		}
		return 1
	}
	return code
}

// requireGatewayBinary fails the test when TestMain could not build the gateway.
func requireGatewayBinary(t *testing.T) string {
	t.Helper()
	if gatewayBuildErr != nil {
		t.Fatalf("gateway binary not available: %v", gatewayBuildErr)
	}
	return gatewayBin
}

// tools holds absolute paths of the OpenSSH programs the tests run.
type tools struct {
	ssh, sshd, sshKeygen string
}

// requireTools finds ssh, sshd and ssh-keygen, failing the test (not skipping it) when one is missing.
func requireTools(t *testing.T) tools {
	t.Helper()
	var tl tools
	var missing []string
	find := func(name string, candidates ...string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, c := range candidates {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				return c
			}
		}
		missing = append(missing, name)
		return ""
	}
	tl.ssh = find("ssh", "/usr/bin/ssh")
	tl.sshd = find("sshd", "/usr/sbin/sshd")
	tl.sshKeygen = find("ssh-keygen", "/usr/bin/ssh-keygen")
	if len(missing) > 0 {
		t.Fatalf("required tools missing: %s (install openssh-client and openssh-server)", strings.Join(missing, ", "))
	}
	if !filepath.IsAbs(tl.sshd) {
		abs, err := filepath.Abs(tl.sshd)
		if err != nil {
			t.Fatalf("absolute path of sshd %q: %v", tl.sshd, err)
		}
		tl.sshd = abs
	}
	return tl
}

// shortTempDir returns a fresh directory with a short path (unix socket paths such as an ssh
// ControlPath must stay under ~100 bytes), removed when the test ends.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tg")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// writeFile writes data to path with the given mode, failing the test on error.
func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// readFile returns the contents of path, failing the test on error.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// genKey makes an ed25519 key pair without a passphrase at path and path.pub.
func genKey(t *testing.T, tl tools, path string) {
	t.Helper()
	res := runProgram(t, cmdTimeout, "", nil, tl.sshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", filepath.Base(path), "-f", path)
	if res.code != 0 {
		t.Fatalf("ssh-keygen %s: %s", path, res)
	}
}

// handedOut holds the ports freePort has returned: the kernel may offer a port again as soon as
// its probe listener closes, and two listeners of one test on one port (haproxy binds with
// SO_REUSEPORT, so both binds succeed) share its connections between them.
var handedOut sync.Map

// freePort returns a loopback TCP port that was free a moment ago and that no earlier call of
// this test process returned.
func freePort(t *testing.T) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, dup := handedOut.LoadOrStore(port, true); !dup {
			return port
		}
	}
}

// waitDial polls until addr accepts a TCP connection, failing the test after timeout.
func waitDial(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not accept connections within %v: %v", addr, timeout, lastErr)
}

// waitRefused polls until a TCP connection to addr is refused and returns how long that took,
// failing the test after timeout.
func waitRefused(t *testing.T, addr string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return time.Since(start)
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections %v later", addr, timeout)
	return 0
}

// result is the outcome of a finished program.
type result struct {
	cmdline        string
	stdout, stderr string
	code           int   // exit code; -1 when it did not exit normally
	err            error // start failure or timeout
}

func (r result) String() string {
	s := fmt.Sprintf("%s: exit %d", r.cmdline, r.code)
	if r.err != nil {
		s += fmt.Sprintf(" (%v)", r.err)
	}
	return s + fmt.Sprintf("\n--- stdout\n%s--- stderr\n%s", r.stdout, r.stderr)
}

// runProgram runs a program to completion with stdin, extra environment and a timeout after which
// its whole process group is killed. It never fails the test itself.
func runProgram(t *testing.T, timeout time.Duration, stdin string, env []string, name string, args ...string) result {
	t.Helper()
	return runProgramStdin(t, timeout, strings.NewReader(stdin), env, name, args...)
}

// runProgramStdin is runProgram reading stdin from r (an *os.File is handed to the child as is).
func runProgramStdin(t *testing.T, timeout time.Duration, stdin io.Reader, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	res := result{cmdline: strings.Join(append([]string{name}, args...), " "), code: -1}
	err := cmd.Run()
	res.stdout, res.stderr = stdout.String(), stderr.String()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.err = fmt.Errorf("killed after %v timeout", timeout)
	case err == nil:
		res.code = 0
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		res.err = err
	}
	return res
}

// lineLog is an io.Writer that keeps everything written to it as lines and lets a test wait for a
// line matching a pattern.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	changed chan struct{} // closed and replaced whenever a line arrives
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, strings.TrimRight(string(l.partial[:i]), "\r"))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// snapshot returns the complete lines so far and a channel closed when more arrive.
func (l *lineLog) snapshot() ([]string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...), l.changed
}

// String returns everything written so far.
func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ln := range l.lines {
		b.WriteString(ln)
		b.WriteByte('\n')
	}
	b.Write(l.partial)
	return b.String()
}

// linesMatching returns the lines so far that contain substr.
func (l *lineLog) linesMatching(substr string) []string {
	lines, _ := l.snapshot()
	var out []string
	for _, ln := range lines {
		if strings.Contains(ln, substr) {
			out = append(out, ln)
		}
	}
	return out
}

// proc is a long-running child process in its own process group with stdout and stderr collected
// in one lineLog.
type proc struct {
	name    string
	cmd     *exec.Cmd
	out     *lineLog
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done
}

// startProc starts a program in the background. Cleanup kills its process group and, if the test
// failed, logs its output.
func startProc(t *testing.T, name string, env []string, prog string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: newLineLog(), done: make(chan struct{})}
	p.cmd = exec.Command(prog, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s (%s): %v", name, prog, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("=== output of %s: %s\n%s=== end of %s", p.name, strings.Join(p.cmd.Args, " "), p.out, p.name)
		}
	})
	return p
}

// kill sends SIGKILL to the process group of p.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode returns the exit code after the process has exited (-1 if killed by a signal).
func (p *proc) exitCode() int {
	<-p.done
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitExit waits up to timeout for the process to exit and returns its exit code.
func (p *proc) waitExit(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.exitCode()
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v\n%s", p.name, timeout, p.out)
		return -1
	}
}

// waitLine waits until the output has a line matching re and returns its submatches. It returns
// an error when the process exits first or the timeout passes.
func (p *proc) waitLine(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	exited := false
	for {
		lines, changed := p.out.snapshot()
		for _, ln := range lines {
			if m := re.FindStringSubmatch(ln); m != nil {
				return m, nil
			}
		}
		if exited {
			return nil, fmt.Errorf("%s exited (%v) before printing a line matching %q", p.name, p.waitErr, re)
		}
		select {
		case <-changed:
		case <-p.done:
			exited = true // look at the final output once more
		case <-timer.C:
			return nil, fmt.Errorf("%s printed no line matching %q within %v", p.name, re, timeout)
		}
	}
}

// mustWaitLine is waitLine that fails the test, showing the output so far.
func (p *proc) mustWaitLine(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	m, err := p.waitLine(re, timeout)
	if err != nil {
		t.Fatalf("%v\n--- output of %s\n%s", err, p.name, p.out)
	}
	return m
}
