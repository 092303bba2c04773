package users

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"
)

// ErrBadCredentials is returned for a wrong password or key, and for an
// unknown user, so the two cannot be told apart.
var ErrBadCredentials = errors.New("bad credentials")

// dummyHash is compared against when the user does not exist, so that an
// unknown name takes as long to refuse as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("tubegate-dummy"), bcrypt.DefaultCost)

// HashPassword returns the bcrypt hash of a password.
func HashPassword(pw string) (string, error) {
	if len(pw) < 8 {
		return "", fmt.Errorf("password: at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	return string(h), nil
}

// CheckPassword returns the user if pw is their password.
func (s *Store) CheckPassword(name, pw string) (User, error) {
	u, err := s.Get(name)
	hash := []byte(u.PasswordHash)
	if err != nil || len(hash) == 0 {
		hash = dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pw)) != nil || err != nil || u.PasswordHash == "" {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

// CheckKey returns the user if key is one of their authorized keys.
func (s *Store) CheckKey(name string, key ssh.PublicKey) (User, error) {
	u, err := s.Get(name)
	if err != nil {
		return User{}, ErrBadCredentials
	}
	want := key.Marshal()
	for _, line := range u.Keys {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err == nil && bytes.Equal(k.Marshal(), want) {
			return u, nil
		}
	}
	return User{}, ErrBadCredentials
}

// ParseKeys parses authorized_keys content, returning one normalized line
// per key; comments and blank lines are skipped.
func ParseKeys(data []byte) ([]string, error) {
	var out []string
	for len(bytes.TrimSpace(data)) > 0 {
		k, comment, _, rest, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return nil, fmt.Errorf("authorized key: %w", err)
		}
		line := string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(k)))
		if comment != "" {
			line += " " + comment
		}
		out = append(out, line)
		data = rest
	}
	return out, nil
}
