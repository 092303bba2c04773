package webauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/tubegate/tubegate/internal/users"
)

// FirstRunUser is the admin made when the gateway starts with no users.
const FirstRunUser = "admin"

// FirstRunTTL is how long the first-run login link works.
const FirstRunTTL = time.Hour

// firstRunToken is the one live first-run link: only its hash is kept.
type firstRunToken struct {
	hash    [32]byte
	user    string
	expires time.Time
}

// FirstRun makes the admin user when there are no users at all, and then,
// while an admin has no way to log in (no password, no key), logs a
// one-time login link for it that expires after FirstRunTTL. base is the
// gateway's URL, e.g. http://127.0.0.1:8080. It returns the link, or "" if
// none was needed.
func (m *Manager) FirstRun(base string) (string, error) {
	list, err := m.users.List()
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		err := m.users.Add(users.User{Name: FirstRunUser, Admin: true})
		switch {
		case errors.Is(err, users.ErrExists): // another node of a cluster made it first
			if list, err = m.users.List(); err != nil {
				return "", err
			}
		case err != nil:
			return "", fmt.Errorf("first-run admin: %w", err)
		default:
			m.log.Warn("no users yet: made the admin user, who logs in once with the first-run link",
				"user", FirstRunUser)
			list = []users.User{{Name: FirstRunUser, Admin: true}}
		}
	}
	user := ""
	for _, u := range list {
		if u.Admin && u.PasswordHash == "" && len(u.Keys) == 0 {
			user = u.Name
			break
		}
	}
	if user == "" {
		return "", nil
	}
	token := randomToken(32)
	expires := time.Now().Add(FirstRunTTL)
	m.mu.Lock()
	m.first = &firstRunToken{hash: sha256.Sum256([]byte(token)), user: user, expires: expires}
	m.mu.Unlock()
	link := base + "/login/first#" + token
	m.log.Warn("first-run login", "url", link, "user", user, "expires", expires.UTC().Format(time.RFC3339))
	return link, nil
}

// consumeFirstRun checks a first-run token and, if it is the live one,
// spends it and returns its user.
func (m *Manager) consumeFirstRun(token string) (string, bool) {
	h := sha256.Sum256([]byte(token))
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.first
	if f == nil || subtle.ConstantTimeCompare(h[:], f.hash[:]) != 1 {
		return "", false
	}
	m.first = nil // one time, whatever happens next
	if time.Now().After(f.expires) {
		return "", false
	}
	return f.user, true
}

// BaseURL is the URL a person would type to reach a listener at addr: an
// unspecified address (0.0.0.0, ::) becomes localhost.
func BaseURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
