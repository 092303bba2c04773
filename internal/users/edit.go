package users

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// The refusals `gateway user` and the admin page share, word for word.
var (
	// ErrNoLogin refuses a new user with neither a key nor a password.
	ErrNoLogin = errors.New("give the user a way to log in: a public key and/or a password")
	// ErrLastLogin refuses a change that leaves a user neither.
	ErrLastLogin = errors.New("that would leave the user no way to log in")
)

// CheckNew validates a user about to be created by an operator: the name,
// a way to log in, and the policy.
func CheckNew(u User) error {
	if err := ValidateName(u.Name); err != nil {
		return err
	}
	if len(u.Keys) == 0 && u.PasswordHash == "" {
		return ErrNoLogin
	}
	_, err := u.Policy()
	return err
}

// Create adds u after CheckNew, journaled as by by.
func (s *Store) Create(u User, by Actor) error {
	if err := CheckNew(u); err != nil {
		return err
	}
	return s.add(u, by)
}

// CreateSSO adds u, who may have neither a key nor a password: they sign
// in to the page through single sign-on. The name and policy are checked
// as CheckNew does.
func (s *Store) CreateSSO(u User, by Actor) error {
	if err := ValidateName(u.Name); err != nil {
		return err
	}
	if _, err := u.Policy(); err != nil {
		return err
	}
	return s.add(u, by)
}

// Edit is a change to one user, as `gateway user set` and the admin page
// make it. The zero Edit changes nothing; only what is set changes.
type Edit struct {
	AddKeys    []string // authorized_keys lines (ParseKeys)
	RemoveKeys []string // compared by key, not comment
	// PasswordHash, if set, replaces the password (HashPassword);
	// NoPassword removes it.
	PasswordHash string
	NoPassword   bool
	// PermitOpen, PermitListen and PermitName, if not nil, replace the
	// lists; a pointer to a nil PermitListen restores the default (any
	// unprivileged loopback port), to a nil PermitName only the user's
	// namespace.
	PermitOpen   *[]string
	PermitListen *[]string
	PermitName   *[]string
	Admin        *bool
}

// Apply makes e's change to u. A new or removed password and a removed key
// move the credential generation on (ending web sessions). It refuses a
// user left without a way to log in (one who had one: a single sign-on
// user may have neither from the start) and a policy that does not parse.
func (e Edit) Apply(u *User) error {
	before := u.PasswordHash
	hadLogin := len(u.Keys) > 0 || u.PasswordHash != "" // a single sign-on user may have none
	removed, err := removeKeys(u, e.RemoveKeys)
	if err != nil {
		return err
	}
	u.Keys = append(u.Keys, e.AddKeys...)
	switch {
	case e.PasswordHash != "":
		u.PasswordHash = e.PasswordHash
	case e.NoPassword:
		u.PasswordHash = ""
	}
	if removed > 0 || u.PasswordHash != before {
		u.Generation++ // credentials changed: end the user's web sessions
	}
	if e.PermitOpen != nil {
		u.PermitOpen = *e.PermitOpen
	}
	if e.PermitListen != nil {
		u.PermitListen = *e.PermitListen
	}
	if e.PermitName != nil {
		u.PermitName = *e.PermitName
	}
	if e.Admin != nil {
		u.Admin = *e.Admin
	}
	if hadLogin && len(u.Keys) == 0 && u.PasswordHash == "" {
		return ErrLastLogin
	}
	_, err = u.Policy()
	return err
}

// Set applies e to the named user, journaled as by by.
func (s *Store) Set(name string, e Edit, by Actor) error {
	return s.UpdateBy(by, func(m map[string]*User) error {
		u, ok := m[name]
		if !ok {
			return fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		c := cloneUser(*u)
		if err := e.Apply(&c); err != nil {
			return err
		}
		*u = c
		return nil
	})
}

// DeleteBy removes a user, journaled as by by.
func (s *Store) DeleteBy(name string, by Actor) error {
	return s.UpdateBy(by, func(m map[string]*User) error {
		if _, ok := m[name]; !ok {
			return fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		delete(m, name)
		return nil
	})
}

// KeyNotFoundError refuses the removal of a key the user does not have.
type KeyNotFoundError struct{ User, Fingerprint string }

func (e *KeyNotFoundError) Error() string {
	return fmt.Sprintf("user %s has no key %s", e.User, e.Fingerprint)
}

// removeKeys drops from u every key in drop and returns how many went; a
// key the user does not have is an error.
func removeKeys(u *User, drop []string) (int, error) {
	blob := func(line string) string {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return line
		}
		return string(k.Marshal())
	}
	removed := 0
	for _, d := range drop {
		want, kept := blob(d), u.Keys[:0:0]
		for _, k := range u.Keys {
			if blob(k) != want {
				kept = append(kept, k)
			}
		}
		if len(kept) == len(u.Keys) {
			fp := d
			if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(d)); err == nil {
				fp = ssh.FingerprintSHA256(k)
			}
			return 0, &KeyNotFoundError{User: u.Name, Fingerprint: fp}
		}
		removed += len(u.Keys) - len(kept)
		u.Keys = kept
	}
	return removed, nil
}
