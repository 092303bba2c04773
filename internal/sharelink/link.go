// Package sharelink keeps the gateway's share links in the data dir
// (links.db, a bbolt database): which endpoint each link reaches, whose it
// is, until when, and behind which guards. Only a hash of each link's
// secret token is stored; the token itself is shown once, when the link is
// made. Each change is one transaction; a running server notices changes
// made by the command line (a revoke, say) on its next look.
package sharelink

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Kind says how a link is reached.
type Kind string

const (
	// KindHTTP links are served by the gateway's reverse proxy at /s/TOKEN/
	// (and TOKEN.SHARE-DOMAIN or NAME.SHARE-DOMAIN).
	KindHTTP Kind = "http"
	// KindTCP links name a published port whose listener is public: the
	// link is the gateway's host and that port, and has no token.
	KindTCP Kind = "tcp"
)

// Link is one share link as stored.
type Link struct {
	ID string `json:"id"`
	// Name is an optional host-name label: NAME.SHARE-DOMAIN serves the
	// link. Unlike the token it is not a secret.
	Name string `json:"name,omitempty"`
	// TokenHash is HashToken of the link's token (HTTP links only).
	TokenHash string `json:"token_hash,omitempty"`
	// User made the link; the endpoint must be published by this user.
	User string `json:"user"`
	// Endpoint is the registry key: "name:port" or "ip:port".
	Endpoint      string    `json:"endpoint"`
	Kind          Kind      `json:"kind"`
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires"`
	BasicAuthUser string    `json:"basic_auth_user,omitempty"`
	BasicAuthHash string    `json:"basic_auth_hash,omitempty"` // bcrypt
	LoginRequired bool      `json:"login_required,omitempty"`
	// MaxUses limits how many viewers may open the link (0: no limit);
	// Visits holds a hash of each one's visit token (see Store.Visit).
	MaxUses int      `json:"max_uses,omitempty"`
	Visits  []string `json:"visits,omitempty"`
}

// HasBasicAuth reports whether viewers must give a user name and password.
func (l *Link) HasBasicAuth() bool { return l.BasicAuthHash != "" }

// CheckBasicAuth reports whether user and password open the link. It is
// slow (bcrypt); callers cache successes.
func (l *Link) CheckBasicAuth(user, password string) bool {
	if !l.HasBasicAuth() {
		return true
	}
	hashOK := bcrypt.CompareHashAndPassword([]byte(l.BasicAuthHash), []byte(password)) == nil
	return hashOK && user == l.BasicAuthUser
}

// ErrNotFound is returned for a link that does not exist (or is not the
// caller's, or has expired).
var ErrNotFound = errors.New("no such share link")

// Params is what a new link is made of.
type Params struct {
	User     string
	Endpoint string // as typed: "myapp:80", "127.0.0.1:41234", "localhost:41234", "41234"
	// Expires is the link's lifetime; 0 means the store's default.
	Expires time.Duration
	// BasicAuth is "USER:PASSWORD", or empty for none.
	BasicAuth     string
	LoginRequired bool
	TCP           bool
	Name          string
	// MaxUses is how many viewers may open the link (0: no limit).
	MaxUses int
}

var nameSyntax = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?$`)

// ValidateName checks a link's host-name label: 1-24 of a-z 0-9 and -, not
// starting or ending with -. (Tokens are 32 characters, so the two never
// collide.)
func ValidateName(name string) error {
	if !nameSyntax.MatchString(name) {
		return fmt.Errorf("link name %q: use 1-24 of a-z 0-9 and -, not starting or ending with -", name)
	}
	return nil
}

// splitBasicAuth splits "USER:PASSWORD" and checks both parts.
func splitBasicAuth(s string) (user, password string, err error) {
	user, password, ok := strings.Cut(s, ":")
	switch {
	case !ok || user == "":
		return "", "", errors.New("basic auth: want USER:PASSWORD")
	case len(password) < 8:
		return "", "", errors.New("basic auth: the password needs at least 8 characters")
	}
	return user, password, nil
}

// ParseExpiry parses a link lifetime: a Go duration ("90m", "2h") or a
// number of days ("7d").
func ParseExpiry(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("expiry %q: want a duration like 30m, 2h or 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("expiry %q: want a duration like 30m, 2h or 7d", s)
	}
	return d, nil
}
