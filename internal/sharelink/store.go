package sharelink

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"

	"github.com/tubegate/tubegate/internal/datadir"
	"github.com/tubegate/tubegate/internal/forward"
)

// DefaultExpiry is a link's lifetime when its maker names none.
const DefaultExpiry = 24 * time.Hour

// DefaultMaxExpiry is the longest lifetime allowed when the operator sets
// no maximum.
const DefaultMaxExpiry = 7 * 24 * time.Hour

// DefaultMaxPerUser is how many live links one user may have when the
// operator sets no cap.
const DefaultMaxPerUser = 100

// DefaultLockTimeout is how long a write waits for another process (the
// command line, or the gateway) to finish with the links database.
const DefaultLockTimeout = 5 * time.Second

// Options tune a Store.
type Options struct {
	// DefaultExpiry is the lifetime of a link made without one (0: 24h,
	// capped at MaxExpiry).
	DefaultExpiry time.Duration
	// MaxExpiry is the longest lifetime a link may have (0: 7 days). It is
	// enforced when links are made and again whenever one is used, so
	// lowering it also shortens links made earlier.
	MaxExpiry time.Duration
	// MaxPerUser caps the live links of one user (0: DefaultMaxPerUser).
	MaxPerUser int
	// LockTimeout bounds the wait for another process's write (0:
	// DefaultLockTimeout).
	LockTimeout time.Duration
	// Grace is how long a link read from Redis keeps being served from
	// this node's copy while Redis is unreachable (cluster only; 0:
	// DefaultGrace).
	Grace time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Log gets failed saves and their retries (nil: discarded).
	Log *slog.Logger
}

// ErrTooMany refuses a link beyond the user's cap.
var ErrTooMany = errors.New("too many share links")

// ErrBusy is returned when another process held the links database for
// longer than the lock timeout.
var ErrBusy = errors.New("share links busy")

// ErrNotSaved marks a change that could not be written to the data dir.
var ErrNotSaved = errors.New("not saved")

// Store is the links database of one data dir (links.db, see boltdb.go).
// Lookups are served from memory; changes are written through. It is safe
// for concurrent use and by several processes at once.
type Store struct {
	path string
	opts Options
	log  *slog.Logger
	// commit is the write step (boltWrite); tests swap in one that fails.
	commit func(fn func(tx *bolt.Tx) error) (uint64, stamp, error)
	// running is set while Run retries failed saves.
	running atomic.Bool
	wake    chan struct{}

	// write serializes this process's writes and rereads; the file's lock
	// serializes processes.
	write sync.Mutex

	mu      sync.Mutex // guards what follows
	idx     index
	seq     uint64    // the file's change counter as of idx
	stamp   stamp     // the file's stamp as of seq
	checked time.Time // when the counter was last read for a racy stamp
	// pending are links revoked in memory whose deletion is not saved yet:
	// they stay revoked, whatever the file says, until it is.
	pending map[string]struct{}
	// revoked are the file's tombstones (see tombstone.go); revokedHere
	// those of this process's revocations, saved or not.
	revoked, revokedHere map[string]time.Time

	// remote, when set, keeps the links instead of links.db: Redis, on a
	// cluster (see OpenRedis). The fields above are then unused.
	remote backend
}

// Open returns the store of data dir dir, making the database if needed
// and moving a links.json of an older version into it.
func Open(dir string, opts Options) (*Store, error) {
	if err := datadir.Ensure(dir); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	s := &Store{path: filepath.Join(dir, "links.db"), opts: opts, log: opts.Log,
		wake: make(chan struct{}, 1), idx: newIndex(), pending: make(map[string]struct{}),
		revoked: map[string]time.Time{}, revokedHere: map[string]time.Time{}}
	s.commit = s.boltWrite
	s.write.Lock()
	defer s.write.Unlock()
	if err := s.migrateJSON(filepath.Join(dir, "links.json")); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(s.path); err == nil && fi.Size() > 0 {
		if err := s.reload(s.opts.LockTimeout); err != nil {
			return nil, fmt.Errorf("share links: %w", err)
		}
		return s, nil
	}
	// A no-op write makes the file (bbolt also initializes an empty one).
	if err := s.save(func(*bolt.Tx) error { return nil }); err != nil {
		return nil, fmt.Errorf("share links: %w", err)
	}
	return s, nil
}

// withDefaults fills in the zero fields of o.
func (opts Options) withDefaults() Options {
	if opts.MaxExpiry <= 0 {
		opts.MaxExpiry = DefaultMaxExpiry
	}
	if opts.DefaultExpiry <= 0 {
		opts.DefaultExpiry = DefaultExpiry
	}
	opts.DefaultExpiry = min(opts.DefaultExpiry, opts.MaxExpiry)
	if opts.MaxPerUser <= 0 {
		opts.MaxPerUser = DefaultMaxPerUser
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	return opts
}

// Path is the links database ("" on a cluster: the links are in Redis).
func (s *Store) Path() string { return s.path }

// save runs fn in one write transaction, after bringing the links in
// memory up to date with the file (another process may have written it).
// Call it with s.write held.
func (s *Store) save(fn func(tx *bolt.Tx) error) error {
	seq, st, err := s.commit(func(tx *bolt.Tx) error {
		s.mu.Lock()
		known := s.seq
		s.mu.Unlock()
		if cur := readSeq(tx); cur != known || known == 0 {
			links, err := readAll(tx)
			if err != nil {
				return err
			}
			s.install(links, readRevoked(tx), cur, stamp{})
		}
		return fn(tx)
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.seq, s.stamp = seq, st
	s.mu.Unlock()
	return nil
}

// install replaces the links and tombstones in memory with those read at
// counter seq.
func (s *Store) install(links []*Link, revoked map[string]time.Time, seq uint64, st stamp) {
	now := s.opts.Now()
	idx := newIndex()
	for _, l := range links {
		idx.add(l, s.live(l, now))
	}
	s.mu.Lock()
	for id := range s.pending {
		if l := idx.byID[id]; l != nil {
			idx.remove(l)
		}
	}
	s.idx, s.revoked, s.seq, s.stamp = idx, revoked, seq, st
	s.mu.Unlock()
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
	if s.remote != nil && ValidTokenSyntax(token) {
		return s.remote.byHash(HashToken(token))
	}
	if !ValidTokenSyntax(token) {
		return Link{}, false
	}
	h := HashToken(token)
	s.refresh()
	l, ok := s.byHash(h)
	if !ok && s.refreshAfterMiss() {
		l, ok = s.byHash(h)
	}
	return l, ok
}

// byHash looks up the live HTTP link whose token hashes to h, in memory.
func (s *Store) byHash(h string) (Link, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.idx.byHash[h]
	if !ok || !hashesEqual(l.TokenHash, h) || l.Kind != KindHTTP || !s.live(l, s.opts.Now()) {
		return Link{}, false
	}
	return *l, true
}

// ByName returns the live HTTP link with host-name label name.
func (s *Store) ByName(name string) (Link, bool) {
	if s.remote != nil && name != "" {
		return s.remote.byName(name)
	}
	if name == "" {
		return Link{}, false
	}
	s.refresh()
	l, ok := s.byName(name)
	if !ok && s.refreshAfterMiss() {
		l, ok = s.byName(name)
	}
	return l, ok
}

// byName looks up the live HTTP link named name, in memory.
func (s *Store) byName(name string) (Link, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.idx.byName[name]
	if !ok || l.Kind != KindHTTP || !s.live(l, s.opts.Now()) {
		return Link{}, false
	}
	return *l, true
}

// Live reports whether link id still exists and has not expired. The
// proxy asks this to cut connections of revoked and expired links.
func (s *Store) Live(id string) bool {
	if s.remote != nil {
		return s.remote.live(id)
	}
	s.refresh()
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.idx.byID[id]
	return ok && s.live(l, s.opts.Now())
}

// List returns the live links of user ("" for every user), newest first.
func (s *Store) List(user string) ([]Link, error) {
	if s.remote != nil {
		return s.remote.list(user)
	}
	err := s.refresh()
	now := s.opts.Now()
	var out []Link
	s.mu.Lock()
	for _, l := range s.idx.byID {
		if (user == "" || l.User == user) && s.live(l, now) {
			out = append(out, *l)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// All returns every link the store holds, expired ones too until they are
// swept from the file, in no order: the audit log's watch tells expiry
// from revocation with it.
func (s *Store) All() ([]Link, error) {
	if s.remote != nil {
		return s.remote.all()
	}
	err := s.refresh()
	s.mu.Lock()
	out := make([]Link, 0, len(s.idx.byID))
	for _, l := range s.idx.byID {
		out = append(out, *l)
	}
	s.mu.Unlock()
	return out, err
}

// Create makes a link. For an HTTP link it returns the token, which is
// not stored and cannot be shown again; a TCP link has none. pol is the
// user's forwarding policy, consulted for TCP links. The user's cap and
// the name's uniqueness are checked under the database's lock, against
// the links as they are then.
func (s *Store) Create(p Params, pol forward.Policy) (Link, string, error) {
	l, token, err := s.newLink(p, pol)
	if err != nil {
		return Link{}, "", err
	}
	if s.remote != nil {
		if err := s.remote.create(&l); err != nil {
			return Link{}, "", err
		}
		return l, token, nil
	}
	s.write.Lock()
	defer s.write.Unlock()
	var refused error
	err = s.save(func(tx *bolt.Tx) error {
		s.mu.Lock()
		refused = s.admit(&l, s.opts.Now())
		s.mu.Unlock()
		if refused != nil {
			return refused
		}
		return putLink(tx, &l)
	})
	if refused != nil {
		return Link{}, "", refused
	}
	if err != nil {
		s.log.Error("share link not created: the links database cannot be written", "user", l.User, "err", err)
		return Link{}, "", fmt.Errorf("share link %w: %v", ErrNotSaved, s.pathless(err))
	}
	c := l
	s.mu.Lock()
	s.idx.add(&c, true)
	s.mu.Unlock()
	return l, token, nil
}

// admit checks a new link against the links in memory and gives it an
// id. Call it with s.mu held.
func (s *Store) admit(l *Link, now time.Time) error {
	if l.Name != "" {
		if o := s.idx.byName[l.Name]; o != nil && s.live(o, now) {
			return fmt.Errorf("link name %q is taken", l.Name)
		}
	}
	n := 0
	for _, o := range s.idx.byUser[l.User] {
		if s.live(o, now) {
			n++
		}
	}
	if n >= s.opts.MaxPerUser {
		return fmt.Errorf("%w: %w: %s has %d live links, the most this gateway allows; revoke some first",
			forward.ErrRefused, ErrTooMany, l.User, n)
	}
	for {
		id, err := newID()
		if err != nil {
			return err
		}
		if _, taken := s.idx.byID[id]; !taken {
			l.ID = id
			return nil
		}
	}
}

// newLink checks p and builds the link it asks for, without an id.
func (s *Store) newLink(p Params, pol forward.Policy) (Link, string, error) {
	if p.User == "" {
		return Link{}, "", errors.New("share link: no user")
	}
	addr, err := forward.ParseAddress(p.Endpoint)
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
	l := Link{User: p.User, Endpoint: addr.String(), Kind: KindHTTP, Created: now, Expires: now.Add(life),
		LoginRequired: p.LoginRequired, Name: p.Name, MaxUses: p.MaxUses}
	if err := checkMaxUses(p.MaxUses, p.TCP); err != nil {
		return Link{}, "", err
	}
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
		if err := checkPublic(addr, pol); err != nil {
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
	return l, token, nil
}
