package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/gwclient"
)

// HostKeyFunc decides whether to trust a host's key (trust on first use is
// the page's job: it remembers keys in the browser). A non-nil error
// refuses the key and is shown as the reason.
type HostKeyFunc func(ctx context.Context, host, keyType, fingerprint string) error

// PromptFunc answers keyboard-interactive questions by asking the person.
type PromptFunc func(ctx context.Context, name, instruction string, questions []string, echos []bool) ([]string, error)

// HostOptions say how to reach and log in to a host.
type HostOptions struct {
	Target     string // host:port, or a host (port 22), or a virtual name
	User       string
	Password   string
	Key        []byte // a private key, PEM or OpenSSH; never leaves the page
	Passphrase string
	HostKey    HostKeyFunc
	Prompt     PromptFunc
}

// Host is an SSH connection to a host, carried in a direct-tcpip channel of
// the gateway tube: the gateway relays ciphertext it cannot read.
type Host struct {
	Target string // normalized host:port
	client *ssh.Client
	gw     *Gateway

	// IDs, when set, numbers forwards across the page's several host
	// connections, so that a forward's ID is unique on the page.
	IDs *atomic.Int64

	mu       sync.Mutex
	forwards map[string]*Forward
	nextID   int

	done chan struct{}
	err  error
}

// SplitTarget normalizes a console target to host and port (default 22).
func SplitTarget(target string) (string, int, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return "", 0, errors.New("enter a target: host:port or a virtual name")
	}
	host, portStr, err := net.SplitHostPort(target)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return strings.ToLower(strings.Trim(target, "[]")), 22, nil
		}
		return "", 0, fmt.Errorf("target %q: %w", target, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("target %q: bad port", target)
	}
	return strings.ToLower(host), port, nil
}

// DialHost opens the channel to the target and runs SSH to it end to end.
func (g *Gateway) DialHost(ctx context.Context, o HostOptions) (*Host, error) {
	host, port, err := SplitTarget(o.Target)
	if err != nil {
		return nil, err
	}
	if o.User == "" {
		return nil, errors.New("enter the user name to log in to the host as")
	}
	auth, err := authMethods(ctx, o)
	if err != nil {
		return nil, err
	}
	target := forward.JoinHostPort(host, port)
	c, err := g.Open(ctx, host, port)
	if err != nil {
		return nil, err
	}
	var hostKeyErr error
	cfg := &ssh.ClientConfig{
		Config: ssh.Config{Ciphers: ciphers()},
		User:   o.User,
		Auth:   auth,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if o.HostKey == nil {
				hostKeyErr = errors.New("no host key check configured")
			} else {
				hostKeyErr = o.HostKey(ctx, target, key.Type(), ssh.FingerprintSHA256(key))
			}
			return hostKeyErr
		},
	}
	conn, chans, reqs, err := gwclient.Handshake(ctx, c, func(c net.Conn) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
		return ssh.NewClientConn(c, target, cfg)
	})
	switch {
	case hostKeyErr != nil:
		return nil, hostKeyErr
	case err != nil && strings.Contains(err.Error(), "unable to authenticate"):
		return nil, fmt.Errorf("%s refused the login of %s: %w", target, o.User, err)
	case err != nil:
		return nil, fmt.Errorf("ssh to %s: %w", target, err)
	}
	h := &Host{Target: target, client: ssh.NewClient(conn, chans, reqs), gw: g,
		forwards: make(map[string]*Forward), done: make(chan struct{})}
	go func() {
		h.err = h.client.Wait()
		h.closeForwards()
		close(h.done)
	}()
	return h, nil
}

// authMethods builds the auth methods in OpenSSH's order: public key,
// then keyboard-interactive (asking the page), then password.
func authMethods(ctx context.Context, o HostOptions) ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if len(strings.TrimSpace(string(o.Key))) > 0 {
		signer, err := parseKey(o.Key, o.Passphrase)
		if err != nil {
			return nil, err
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	usedPassword := false
	methods = append(methods, ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		if len(questions) == 0 {
			return nil, nil
		}
		// One hidden "Password:" question: answer with the password given,
		// once, as OpenSSH does for PAM.
		if o.Password != "" && !usedPassword && len(questions) == 1 && !echos[0] &&
			strings.Contains(strings.ToLower(questions[0]), "password") {
			usedPassword = true
			return []string{o.Password}, nil
		}
		if o.Prompt == nil {
			return nil, errors.New("the host asks questions and the page cannot show them")
		}
		return o.Prompt(ctx, name, instruction, questions, echos)
	}))
	if o.Password != "" {
		methods = append(methods, ssh.Password(o.Password))
	}
	return methods, nil
}

// parseKey parses a PEM or OpenSSH private key, with its passphrase if any.
func parseKey(key []byte, passphrase string) (ssh.Signer, error) {
	if passphrase != "" {
		s, err := ssh.ParsePrivateKeyWithPassphrase(key, []byte(passphrase))
		if err != nil {
			if strings.Contains(err.Error(), "not password protected") {
				return parseKey(key, "")
			}
			return nil, fmt.Errorf("private key: %w (is the passphrase right?)", err)
		}
		return s, nil
	}
	s, err := ssh.ParsePrivateKey(key)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, errors.New("private key: it is encrypted; enter its passphrase")
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return s, nil
}

// Done is closed when the host connection has ended.
func (h *Host) Done() <-chan struct{} { return h.done }

// Reason says why the host connection ended, or is ending.
func (h *Host) Reason() string {
	select {
	case <-h.gw.Done():
		return "the connection to the gateway was lost: " + h.gw.Err().Error()
	default:
	}
	select {
	case <-h.done:
		if h.err != nil && !errors.Is(h.err, net.ErrClosed) && h.err.Error() != "EOF" {
			return h.Target + " closed the connection: " + h.err.Error()
		}
		return h.Target + " closed the connection"
	default:
		return ""
	}
}

// Close ends the host connection and its forwards.
func (h *Host) Close() error { return h.client.Close() }
