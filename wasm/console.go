package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Console is an interactive shell with a PTY on a host.
type Console struct {
	host  *Host
	sess  *ssh.Session
	stdin io.WriteCloser

	mu     sync.Mutex
	queue  [][]byte
	size   [2]int // cols, rows waiting to be sent
	resize bool
	wake   chan struct{}
	done   chan struct{}
	reason string
}

// DefaultLocale is sent as LANG and LC_CTYPE when the page names none: a
// UTF-8 locale every system has, so that the shell reads what the page
// types (é, 漢字) as characters, not as Meta keys.
const DefaultLocale = "C.UTF-8"

// LocaleEnv is the environment a console sends for locale, as OpenSSH's
// SendEnv LANG LC_* does ("" is DefaultLocale).
func LocaleEnv(locale string) map[string]string {
	if locale == "" {
		locale = DefaultLocale
	}
	return map[string]string{"LANG": locale, "LC_CTYPE": locale}
}

// OpenConsole starts a login shell with an xterm-256color PTY of cols x
// rows, after sending env (env requests; a host whose sshd does not accept
// a variable, by its AcceptEnv, ignores it, as with OpenSSH). Output from
// the host goes to out, which may block to apply backpressure (the host
// then waits, as SSH windows fill).
func (h *Host) OpenConsole(cols, rows int, env map[string]string, out io.Writer) (*Console, error) {
	sess, err := h.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open a session on %s: %w", h.Target, err)
	}
	w := &lockedWriter{w: out}
	sess.Stdout, sess.Stderr = w, w
	stdin, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("session stdin: %w", err)
	}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		_ = sess.Setenv(k, env[k]) // refused unless the sshd's AcceptEnv names it: not an error
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm-256color", rows, cols, modes); err != nil {
		sess.Close()
		return nil, fmt.Errorf("%s refused a terminal: %w", h.Target, err)
	}
	if err := sess.Shell(); err != nil {
		sess.Close()
		return nil, fmt.Errorf("%s refused a shell: %w", h.Target, err)
	}
	c := &Console{host: h, sess: sess, stdin: stdin, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.input()
	go c.wait()
	return c, nil
}

// Write queues keystrokes for the host; it never blocks.
func (c *Console) Write(p []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, append([]byte(nil), p...))
	c.mu.Unlock()
	c.poke()
}

// Resize tells the host the terminal's new size; it never blocks, and only
// the latest size is sent.
func (c *Console) Resize(cols, rows int) {
	c.mu.Lock()
	c.size, c.resize = [2]int{cols, rows}, true
	c.mu.Unlock()
	c.poke()
}

func (c *Console) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// input sends queued keystrokes and resizes, in order, from one goroutine.
func (c *Console) input() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		for {
			c.mu.Lock()
			queue, size, resize := c.queue, c.size, c.resize
			c.queue, c.resize = nil, false
			c.mu.Unlock()
			if len(queue) == 0 && !resize {
				break
			}
			if resize {
				c.sess.WindowChange(size[1], size[0])
			}
			for _, p := range queue {
				if _, err := c.stdin.Write(p); err != nil {
					return
				}
			}
		}
	}
}

func (c *Console) wait() {
	err := c.sess.Wait()
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case errors.As(err, &exit) && exit.Signal() != "":
		c.reason = fmt.Sprintf("the shell on %s was killed by signal %s", c.host.Target, exit.Signal())
	case errors.As(err, &exit):
		c.reason = fmt.Sprintf("the shell on %s exited with status %d", c.host.Target, exit.ExitStatus())
	case err == nil:
		c.reason = fmt.Sprintf("the shell on %s exited with status 0", c.host.Target)
	default:
		select { // the session usually ends a moment before its connection does
		case <-c.host.Done():
		case <-time.After(2 * time.Second):
		}
		if r := c.host.Reason(); r != "" {
			c.reason = r
		} else if errors.As(err, &missing) {
			c.reason = fmt.Sprintf("%s closed the session without an exit status", c.host.Target)
		} else {
			c.reason = fmt.Sprintf("the session on %s ended: %v", c.host.Target, err)
		}
	}
	close(c.done)
}

// Wait waits for the shell to end and says why it did.
func (c *Console) Wait() string {
	<-c.done
	return c.reason
}

// Close ends the shell.
func (c *Console) Close() error { return c.sess.Close() }

// lockedWriter serializes the session's stdout and stderr copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
