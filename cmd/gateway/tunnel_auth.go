package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"
)

// permanentError is a refusal that retrying cannot fix: the tunnel exits.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

// tunnelAuth holds the credentials of every attempt: read once (a key's
// passphrase and a password are asked for once), the agent asked anew
// each time.
type tunnelAuth struct {
	signer   ssh.Signer // from --key
	password string
}

// loadAuth reads --key (asking for its passphrase on the terminal) and
// the password (--password-stdin or TUBEGATE_PASSWORD).
func loadAuth(c *tunnelConfig, stdin io.Reader) (*tunnelAuth, error) {
	a := &tunnelAuth{password: c.passwordFromEnv}
	if c.key != "" {
		pem, err := os.ReadFile(c.key)
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		a.signer, err = ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			a.signer, err = askPassphrase(c.key, pem)
		}
		if err != nil {
			return nil, fmt.Errorf("--key %s: %w", c.key, err)
		}
	}
	if c.passwordStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return nil, fmt.Errorf("--password-stdin: read the password: %w", err)
		}
		a.password = strings.TrimRight(line, "\r\n")
	}
	return a, nil
}

// askPassphrase asks for the key's passphrase on the terminal.
func askPassphrase(path string, pem []byte) (ssh.Signer, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		return nil, errors.New("the key is encrypted and there is no terminal to ask its passphrase on (use ssh-agent)")
	}
	defer tty.Close()
	fmt.Fprintf(tty, "Enter passphrase for key '%s': ", path)
	pass, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("read the passphrase: %w", err)
	}
	return ssh.ParsePrivateKeyWithPassphrase(pem, pass)
}

// methods returns the auth methods of one attempt, in OpenSSH's order:
// the agent's keys, --key, then the password (also for keyboard-
// interactive's password prompt). done releases the agent connection.
func (a *tunnelAuth) methods(log *slog.Logger) (methods []ssh.AuthMethod, done func()) {
	done = func() {}
	var signers []ssh.Signer
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			log.Warn("ssh-agent not reachable", "SSH_AUTH_SOCK", sock, "err", err)
		} else {
			done = func() { conn.Close() }
			if s, err := agent.NewClient(conn).Signers(); err != nil {
				log.Warn("ssh-agent keys", "err", err)
			} else {
				signers = append(signers, s...)
			}
		}
	}
	if a.signer != nil {
		signers = append(signers, a.signer)
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if a.password != "" {
		pw := a.password
		methods = append(methods, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, echos []bool) ([]string, error) {
				if len(questions) == 1 && !echos[0] {
					return []string{pw}, nil
				}
				if len(questions) == 0 {
					return nil, nil
				}
				return nil, errors.New("the gateway asks questions this client cannot answer")
			}))
	}
	return methods, done
}

// defaultKnownHosts is where the gateway's host keys are pinned unless
// --known-hosts says otherwise: tubegate/known_hosts in the user's config
// directory.
func defaultKnownHosts() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "tubegate", "known_hosts"), nil
}

// dummyKey is a key no gateway has, to ask a known-hosts file which keys
// it knows for a host.
func dummyKey() ssh.PublicKey {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := ssh.NewPublicKey(pub)
	return k
}
