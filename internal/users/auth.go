package users

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"
)

// ErrBadCredentials is returned for a wrong password or key, and for an
// unknown user, so the two cannot be told apart.
var ErrBadCredentials = errors.New("bad credentials")

// dummyHash is compared against when the user does not exist, so that an
// unknown name takes as long to refuse as a wrong password. It is made on
// first use, not when the program starts: a bcrypt takes tens of
// milliseconds, and most runs of the binary (every `gateway connect` an
// ssh starts, the CLI) never check a password.
var dummyHash = newLazyHash("tubegate-dummy")

// lazyHash is the bcrypt hash of a password, computed once, when first
// asked for.
type lazyHash struct {
	get  func() []byte
	made atomic.Bool // the hash has been computed
}

func newLazyHash(pw string) *lazyHash {
	l := &lazyHash{}
	l.get = sync.OnceValue(func() []byte {
		l.made.Store(true)
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			panic(fmt.Sprintf("bcrypt of a constant: %v", err)) // only for a password over 72 bytes
		}
		return h
	})
	return l
}

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
		hash = dummyHash.get()
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
