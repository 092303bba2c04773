package main

import (
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Subsystem is a subsystem channel ("sftp") on a host connection: two byte
// streams, end to end with the host's sshd like the console. The page's
// SFTP client, a second Wasm module loaded on first use, speaks its
// protocol over them through JavaScript.
type Subsystem struct {
	sess   *ssh.Session
	stdin  io.WriteCloser
	stdout io.Reader

	closeOnce sync.Once
}

// OpenSubsystem starts the named subsystem on a new session channel.
func (h *Host) OpenSubsystem(name string) (*Subsystem, error) {
	sess, err := h.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open a session on %s: %w", h.Target, err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("%s subsystem stdin: %w", name, err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("%s subsystem stdout: %w", name, err)
	}
	if err := sess.RequestSubsystem(name); err != nil {
		sess.Close()
		return nil, fmt.Errorf("%s refused the %s subsystem: %w", h.Target, name, err)
	}
	return &Subsystem{sess: sess, stdin: stdin, stdout: stdout}, nil
}

// Read reads what the subsystem sent; io.EOF once it has closed.
func (s *Subsystem) Read(p []byte) (int, error) { return s.stdout.Read(p) }

// Write sends p, blocking while the channel's window is full.
func (s *Subsystem) Write(p []byte) (int, error) { return s.stdin.Write(p) }

// Close ends the subsystem's channel.
func (s *Subsystem) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.stdin.Close()
		err = s.sess.Close()
	})
	return err
}
