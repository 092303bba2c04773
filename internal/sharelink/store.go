package sharelink

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tubegate/tubegate/internal/datadir"
	"github.com/tubegate/tubegate/internal/forward"
)

// DefaultExpiry is a link's lifetime when its maker names none.
const DefaultExpiry = 24 * time.Hour

// DefaultMaxExpiry is the longest lifetime allowed when the operator sets
// no maximum.
const DefaultMaxExpiry = 7 * 24 * time.Hour

// Options tune a Store.
type Options struct {
	// DefaultExpiry is the lifetime of a link made without one (0: 24h,
	// capped at MaxExpiry).
	DefaultExpiry time.Duration
	// MaxExpiry is the longest lifetime a link may have (0: 7 days). It is
	// enforced when links are made and again whenever one is used, so
	// lowering it also shortens links made earlier.
	MaxExpiry time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Store is the links file of one data dir. It is safe for concurrent use
// and by several processes at once.
type Store struct {
	file *datadir.JSONFile[fileData]
	opts Options

	mu      sync.Mutex
	version uint64
	byID    map[string]*Link
	byHash  map[string]*Link
}

type fileData struct {
	Links []*Link `json:"links"`
}

// Open returns the store of data dir dir (the file need not exist yet).
func Open(dir string, opts Options) (*Store, error) {
	if err := datadir.Ensure(dir); err != nil {
		return nil, err
	}
	if opts.MaxExpiry <= 0 {
		opts.MaxExpiry = DefaultMaxExpiry
	}
	if opts.DefaultExpiry <= 0 {
		opts.DefaultExpiry = DefaultExpiry
	}
	opts.DefaultExpiry = min(opts.DefaultExpiry, opts.MaxExpiry)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{file: datadir.NewJSONFile[fileData](filepath.Join(dir, "links.json")), opts: opts}
	if _, _, err := s.current(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the links file.
func (s *Store) Path() string { return s.file.Path() }

// indexLinks maps links by id and by token hash.
func indexLinks(links []*Link) (byID, byHash map[string]*Link) {
	byID = make(map[string]*Link, len(links))
	byHash = make(map[string]*Link, len(links))
	for _, l := range links {
		byID[l.ID] = l
		if l.TokenHash != "" {
			byHash[l.TokenHash] = l
		}
	}
	return byID, byHash
}

// current returns the links as of now (rereading a changed file). A file
// that cannot be read keeps the last good state, so a half-edited file
// never opens links; the error is returned for logging.
func (s *Store) current() (map[string]*Link, map[string]*Link, error) {
	fd, version, err := s.file.Load()
	if err != nil {
		err = fmt.Errorf("share links: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fd != nil && (s.byID == nil || version != s.version) {
		s.byID, s.byHash = indexLinks(fd.Links)
		s.version = version
	}
	if s.byID == nil {
		return map[string]*Link{}, map[string]*Link{}, err
	}
	return s.byID, s.byHash, err
}

// ExpiresAt is when a link stops working: its own expiry, or its creation
// plus the store's maximum if that is sooner.
func (s *Store) ExpiresAt(l *Link) time.Time {
	capped := l.Created.Add(s.opts.MaxExpiry)
	if l.Expires.After(capped) {
		return capped
	}
	return l.Expires
}

// live reports whether the link is unexpired at now.
func (s *Store) live(l *Link, now time.Time) bool { return now.Before(s.ExpiresAt(l)) }

// ByToken returns the live HTTP link whose token is token.
func (s *Store) ByToken(token string) (Link, bool) {
	if !ValidTokenSyntax(token) {
		return Link{}, false
	}
	h := HashToken(token)
	_, byHash, _ := s.current()
	l, ok := byHash[h]
	if !ok || !hashesEqual(l.TokenHash, h) || l.Kind != KindHTTP || !s.live(l, s.opts.Now()) {
		return Link{}, false
	}
	return *l, true
}

// ByName returns the live HTTP link with host-name label name.
func (s *Store) ByName(name string) (Link, bool) {
	if name == "" {
		return Link{}, false
	}
	byID, _, _ := s.current()
	now := s.opts.Now()
	for _, l := range byID {
		if l.Name == name && l.Kind == KindHTTP && s.live(l, now) {
			return *l, true
		}
	}
	return Link{}, false
}

// Live reports whether link id still exists and has not expired. The
// proxy asks this to cut connections of revoked and expired links.
func (s *Store) Live(id string) bool {
	byID, _, _ := s.current()
	l, ok := byID[id]
	return ok && s.live(l, s.opts.Now())
}

// List returns the live links of user ("" for every user), newest first.
func (s *Store) List(user string) ([]Link, error) {
	byID, _, err := s.current()
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	var out []Link
	for _, l := range byID {
		if (user == "" || l.User == user) && s.live(l, now) {
			out = append(out, *l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// update runs fn on the links under a lock shared with other processes,
// drops expired links, and writes the result atomically.
func (s *Store) update(fn func(links map[string]*Link) error) error {
	return s.file.Update(func(fd *fileData) error {
		m := make(map[string]*Link, len(fd.Links))
		for _, l := range fd.Links {
			m[l.ID] = l
		}
		if err := fn(m); err != nil {
			return err
		}
		now := s.opts.Now()
		fd.Links = fd.Links[:0]
		for _, l := range m {
			if s.live(l, now) {
				fd.Links = append(fd.Links, l)
			}
		}
		sort.Slice(fd.Links, func(i, j int) bool { return fd.Links[i].ID < fd.Links[j].ID })
		return nil
	})
}

// Create makes a link. For an HTTP link it returns the token, which is
// not stored and cannot be shown again; a TCP link has none. pol is the
// user's forwarding policy, consulted for TCP links.
func (s *Store) Create(p Params, pol forward.Policy) (Link, string, error) {
	if p.User == "" {
		return Link{}, "", errors.New("share link: no user")
	}
	ref, err := ParseEndpoint(p.Endpoint)
	if err != nil {
		return Link{}, "", err
	}
	life := p.Expires
	switch {
	case life == 0:
		life = s.opts.DefaultExpiry
	case life < 0:
		return Link{}, "", fmt.Errorf("expiry %v: must be positive", life)
	case life > s.opts.MaxExpiry:
		return Link{}, "", fmt.Errorf("expiry %v is longer than this gateway's maximum of %v", life, s.opts.MaxExpiry)
	}
	now := s.opts.Now().UTC().Truncate(time.Second)
	l := Link{User: p.User, Endpoint: ref.Key, Kind: KindHTTP, Created: now, Expires: now.Add(life),
		LoginRequired: p.LoginRequired, Name: p.Name}
	if p.Name != "" {
		if err := ValidateName(p.Name); err != nil {
			return Link{}, "", err
		}
	}
	var token string
	if p.TCP {
		if p.BasicAuth != "" || p.LoginRequired {
			return Link{}, "", errors.New("a TCP link cannot have basic auth or require a login: the port is public")
		}
		if err := ref.Public(pol); err != nil {
			return Link{}, "", fmt.Errorf("no TCP link: %w", err)
		}
		l.Kind = KindTCP
	} else {
		if token, l.TokenHash, err = NewToken(); err != nil {
			return Link{}, "", err
		}
	}
	if p.BasicAuth != "" {
		user, pw, err := splitBasicAuth(p.BasicAuth)
		if err != nil {
			return Link{}, "", err
		}
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			return Link{}, "", fmt.Errorf("basic auth: %w", err)
		}
		l.BasicAuthUser, l.BasicAuthHash = user, string(h)
	}
	err = s.update(func(links map[string]*Link) error {
		for _, o := range links {
			if l.Name != "" && o.Name == l.Name && s.live(o, now) {
				return fmt.Errorf("link name %q is taken", l.Name)
			}
		}
		for {
			id, err := newID()
			if err != nil {
				return err
			}
			if _, taken := links[id]; !taken {
				l.ID = id
				break
			}
		}
		c := l
		links[l.ID] = &c
		return nil
	})
	if err != nil {
		return Link{}, "", err
	}
	return l, token, nil
}

// Revoke deletes link id, which must belong to user ("" for any user).
// Live connections through it are cut by the proxy within its poll
// interval.
func (s *Store) Revoke(id, user string) error {
	return s.update(func(links map[string]*Link) error {
		l, ok := links[id]
		if !ok || (user != "" && l.User != user) {
			return fmt.Errorf("link %s: %w", id, ErrNotFound)
		}
		delete(links, id)
		return nil
	})
}
