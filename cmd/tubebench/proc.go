package main

import (
	"bytes"
	"context"
	"fmt"
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

// proc is a child process in its own process group whose output is kept
// (the last maxLog bytes) and can be waited on line by line.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	out     []byte
	changed chan struct{}
}

// startProc starts prog; stop kills it with its process group.
func startProc(name string, env []string, prog string, args ...string) (*proc, error) {
	p := &proc{name: name, done: make(chan struct{}), changed: make(chan struct{})}
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
func (p *proc) Write(b []byte) (int, error) {
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
func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(bytes.Clone(p.out))
}

// PID is the process id.
func (p *proc) PID() int { return p.cmd.Process.Pid }

// waitLine waits for output matching re and returns its submatches.
func (p *proc) waitLine(ctx context.Context, re *regexp.Regexp, timeout time.Duration) ([]string, error) {
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
			return nil, fmt.Errorf("%s exited before printing %q: %s", p.name, re, tail(p.Output()))
		case <-timer.C:
			return nil, fmt.Errorf("%s did not print %q within %v: %s", p.name, re, timeout, tail(p.Output()))
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", p.name, ctx.Err())
		}
	}
}

// stop kills the process group and waits (bounded) for the exit.
func (p *proc) stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// tail is the last few lines of s, for error messages.
func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// rssKiB reads a process's resident set size from /proc.
func rssKiB(pid int) (int64, error) {
	b, err := readFile(fmt.Sprintf("/proc/%d/status", pid))
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
