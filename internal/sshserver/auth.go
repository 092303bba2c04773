package sshserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/throttle"
	"github.com/tubegate/tubegate/internal/users"
)

// extUser is the Permissions extension that carries the gateway user a
// tube authenticated as (which, for a browser tube, need not be the SSH
// user name the client sent).
const extUser = "tubegate-user"

// serverVersion is announced in the SSH banner.
const serverVersion = "SSH-2.0-Tubegate"

// serverConfig builds the per-tube SSH configuration: the auth callbacks
// close over the tube's transport, its pre-authenticated user, if any, and
// its tube slot, which admit reserves for the user who authenticates.
// ctx bounds the wait for a password check (the handshake's lifetime).
func (s *Server) serverConfig(ctx context.Context, opts ConnOptions, log *slog.Logger, slot *tubeSlot) *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		ServerVersion: serverVersion,
		MaxAuthTries:  s.limits.MaxAuthTries,
		AuthLogCallback: func(md ssh.ConnMetadata, method string, err error) {
			if err != nil && method != "none" {
				log.Info("auth failed", "ssh_user", md.User(), "method", method, "err", err)
				s.cfg.Metrics.authFailed(method)
			}
		},
	}
	cfg.Config.Ciphers = s.ciphers
	cfg.WindowBudget = func(ssh.ConnMetadata) ssh.WindowBudget { return s.windowBudgetFor(slot) }
	for _, k := range s.cfg.HostKeys {
		cfg.AddHostKey(k)
	}
	if opts.PreAuthUser != "" {
		user := opts.PreAuthUser
		cfg.NoClientAuth = true
		cfg.NoClientAuthCallback = func(md ssh.ConnMetadata) (*ssh.Permissions, error) {
			if _, err := s.cfg.Users.Get(user); err != nil {
				return nil, fmt.Errorf("session user %s: %w", user, err)
			}
			return s.admit(slot, user)
		}
		return cfg
	}
	cfg.PasswordCallback = func(md ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
		// Every guess costs a bcrypt: guesses are counted per source, like
		// OpenSSH's PerSourcePenalties, and across the web login too.
		var u users.User
		ok, err := s.cfg.Failures.Check(ctx, "ssh", throttle.Source(md.RemoteAddr().String()), func() bool {
			var err error
			u, err = s.cfg.Users.CheckPassword(md.User(), string(pw))
			return err == nil
		})
		if errors.Is(err, throttle.ErrThrottled) {
			s.cfg.Metrics.refused("password_throttle")
			return nil, &ssh.BannerError{
				Err:     err,
				Message: "tubegate: too many wrong passwords from your address; wait a minute\r\n",
			}
		}
		if errors.Is(err, throttle.ErrUncounted) {
			s.cfg.Metrics.refused("password_uncounted")
			return nil, &ssh.BannerError{
				Err:     fmt.Errorf("password not checked: %w", err),
				Message: "tubegate: cluster unavailable: redis unreachable; password not checked, try again later\r\n",
			}
		}
		if err != nil {
			return nil, fmt.Errorf("password not checked: %w", err)
		}
		if !ok {
			return nil, users.ErrBadCredentials
		}
		return s.admit(slot, u.Name)
	}
	cfg.PublicKeyCallback = func(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		u, err := s.cfg.Users.CheckKey(md.User(), key)
		if err != nil {
			return nil, err
		}
		return s.admit(slot, u.Name)
	}
	return cfg
}

// admit accepts an authenticated user unless they already hold as many
// tubes as the limit allows: it reserves the tube's slot for the user
// under the lock that counts tubes. The refusal is shown to the client.
func (s *Server) admit(slot *tubeSlot, user string) (*ssh.Permissions, error) {
	if n, ok := s.reserveTube(slot, user); !ok {
		s.cfg.Metrics.refused("tubes_per_user")
		return nil, &ssh.BannerError{
			Err:     errors.New("too many tubes"),
			Message: fmt.Sprintf("tubegate: %s already has %d connections, the limit\r\n", user, n),
		}
	}
	return &ssh.Permissions{Extensions: map[string]string{extUser: user}}, nil
}

// serverCiphers is x/crypto/ssh's default cipher list in the gateway's
// preference order.
func serverCiphers() []string {
	var c ssh.Config
	c.SetDefaults()
	return preferredCiphers(c.Ciphers)
}

// preferredCiphers puts the AEAD ciphers first: they are the fastest and
// what OpenSSH itself prefers.
func preferredCiphers(have []string) []string {
	first := []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"}
	out := make([]string, 0, len(have))
	seen := map[string]bool{}
	for _, c := range first {
		for _, h := range have {
			if h == c {
				out = append(out, c)
				seen[c] = true
			}
		}
	}
	for _, h := range have {
		if !seen[h] {
			out = append(out, h)
		}
	}
	return out
}
