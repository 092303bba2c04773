package gwproc

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxLog bounds how much of a child's output is kept for error messages.
const maxLog = 64 << 10

// Proc is a child process in its own process group whose output is kept
// (the last maxLog bytes) and can be waited on line by line.
type Proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	out     []byte
	changed chan struct{}
}

// Start starts prog; Stop kills it with its process group.
func Start(name string, env []string, prog string, args ...string) (*Proc, error) {
	p := &Proc{name: name, done: make(chan struct{}), changed: make(chan struct{})}
	p.cmd = exec.Command(prog, args...)
	p.cmd.Env = env
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Write keeps the tail of the output and wakes waiters.
func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.out = append(p.out, b...)
	if len(p.out) > maxLog {
		p.out = append(p.out[:0], p.out[len(p.out)-maxLog/2:]...)
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	return len(b), nil
}

// Output is the kept tail of the output.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(bytes.Clone(p.out))
}

// Name is the name the process was started with.
func (p *Proc) Name() string { return p.name }

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitState describes how the process ended ("" while it runs).
func (p *Proc) ExitState() string {
	select {
	case <-p.done:
		return p.cmd.ProcessState.String()
	default:
		return ""
	}
}

// WaitLine waits for output matching re and returns its submatches.
func (p *Proc) WaitLine(ctx context.Context, re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		m := re.FindStringSubmatch(string(p.out))
		ch := p.changed
		p.mu.Unlock()
		if m != nil {
			return m, nil
		}
		select {
		case <-ch:
		case <-p.done:
			return nil, fmt.Errorf("%s exited before printing %q: %s", p.name, re, Tail(p.Output()))
		case <-timer.C:
			return nil, fmt.Errorf("%s did not print %q within %v: %s", p.name, re, timeout, Tail(p.Output()))
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", p.name, ctx.Err())
		}
	}
}

// Kill sends SIGKILL to the process alone (not its group) and returns
// at once.
func (p *Proc) Kill() error {
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	return nil
}

// Stop kills the process group and waits (bounded) for the exit.
func (p *Proc) Stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// Tail is the last few lines of s, for error messages.
func Tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// RSSKiB reads a process's resident set size from /proc.
func RSSKiB(pid int) (int64, error) {
	b, err := ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) < 1 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// ReadFile is os.ReadFile with the path in the error.
func ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
