package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostPin pins the gateway's host key in an OpenSSH known_hosts file,
// keyed by the URL's host and port, trusting it on first use as OpenSSH's
// StrictHostKeyChecking=accept-new does.
type hostPin struct {
	path     string
	hostPort string
	log      *slog.Logger
}

// anyTCPAddr stands for the gateway's address in knownhosts, which
// checks the name given and wants a TCP address beside it.
var anyTCPAddr = &net.TCPAddr{IP: net.IPv4zero}

// prepare reads the file for one attempt and returns the host key callback
// and the host key algorithms to ask for: those of the keys already known
// for the gateway (nil when none is), so that a gateway with several keys
// shows the pinned one, as OpenSSH orders its HostKeyAlgorithms.
func (p *hostPin) prepare() (ssh.HostKeyCallback, []string, error) {
	if err := os.MkdirAll(filepath.Dir(p.path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("--known-hosts: %w", err)
	}
	f, err := os.OpenFile(p.path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("--known-hosts: %w", err)
	}
	f.Close()
	check, err := knownhosts.New(p.path)
	if err != nil {
		return nil, nil, permanent(fmt.Errorf("--known-hosts: %w", err))
	}
	var known []knownhosts.KnownKey
	var ke *knownhosts.KeyError
	if errors.As(check(p.hostPort, anyTCPAddr, dummyKey()), &ke) {
		known = ke.Want
	}
	var algos []string
	for _, k := range known {
		algos = append(algos, algorithmsFor(k.Key.Type())...)
	}
	cb := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		err := check(p.hostPort, anyTCPAddr, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return p.pin(key)
		case errors.As(err, &ke):
			return permanent(changedKeyError(p.hostPort, ke.Want, key))
		}
		return err
	}
	return cb, algos, nil
}

// pin appends the gateway's key to the file.
func (p *hostPin) pin(key ssh.PublicKey) error {
	f, err := os.OpenFile(p.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("pin the gateway's host key: %w", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(p.hostPort)}, key)); err != nil {
		return fmt.Errorf("pin the gateway's host key in %s: %w", p.path, err)
	}
	p.log.Warn("gateway host key pinned on first use", "host", p.hostPort, "type", key.Type(),
		"fingerprint", ssh.FingerprintSHA256(key), "file", p.path)
	return nil
}

// changedKeyError says, as OpenSSH does, that the key differs from the
// pinned one, with both fingerprints and the line to remove.
func changedKeyError(hostPort string, want []knownhosts.KnownKey, got ssh.PublicKey) error {
	k := want[0]
	for _, w := range want {
		if w.Key.Type() == got.Type() {
			k = w
			break
		}
	}
	return fmt.Errorf("the gateway's host key for %s has changed: someone may be intercepting the connection, or its key was replaced. "+
		"Pinned: %s %s (%s line %d); offered: %s %s. If the change is expected, remove line %d of %s (ssh-keygen -R '%s' -f %s) and connect again",
		hostPort, k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line, got.Type(), ssh.FingerprintSHA256(got),
		k.Line, k.Filename, knownhosts.Normalize(hostPort), k.Filename)
}

// algorithmsFor returns the host key algorithms that show a key of type t.
func algorithmsFor(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{t}
}
