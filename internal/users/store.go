// Package users keeps the gateway's users in the data dir (users.json),
// checks their passwords and keys, and gives each its forwarding policy.
// The file is replaced atomically on every change, and a running server
// notices edits made by the command line without a restart.
package users

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tubegate/tubegate/internal/datadir"
	"github.com/tubegate/tubegate/internal/forward"
)

// User is one account. Keys are authorized_keys lines.
type User struct {
	Name         string    `json:"name"`
	Admin        bool      `json:"admin,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Keys         []string  `json:"keys,omitempty"`
	PermitOpen   []string  `json:"permit_open,omitempty"`
	PermitListen []string  `json:"permit_listen,omitempty"`
	PermitName   []string  `json:"permit_name,omitempty"`
	Created      time.Time `json:"created"`
	// ID is random and made with the record: a user deleted and added
	// again under the same name has another, so nothing issued to the old
	// one (a web session) works for the new one.
	ID string `json:"id,omitempty"`
	// Generation counts credential changes: a new password, a removed key,
	// an admin's reset. Web sessions carry the generation they were made
	// in and end when it moves.
	Generation uint64 `json:"generation,omitempty"`
}

// NewID returns a fresh random user record id.
func NewID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// Policy parses the user's permit-open and permit-listen rules.
func (u *User) Policy() (forward.Policy, error) {
	var p forward.Policy
	for _, s := range u.PermitOpen {
		r, err := forward.ParseOpenRule(s)
		if err != nil {
			return p, fmt.Errorf("user %s: %w", u.Name, err)
		}
		p.Open = append(p.Open, r)
	}
	for _, s := range u.PermitListen {
		r, err := forward.ParseListenRule(s)
		if err != nil {
			return p, fmt.Errorf("user %s: %w", u.Name, err)
		}
		p.Listen = append(p.Listen, r)
	}
	for _, s := range u.PermitName {
		r, err := forward.ParseNameRule(s)
		if err != nil {
			return p, fmt.Errorf("user %s: %w", u.Name, err)
		}
		p.Names = append(p.Names, r)
	}
	return p, nil
}

// ErrNotFound is returned for a user that does not exist.
var ErrNotFound = errors.New("no such user")

// ErrExists refuses a new user whose name is taken.
var ErrExists = errors.New("already exists")

var validName = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

// ValidateName checks that name is a usable account name.
func ValidateName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("user name %q: use 1-32 of a-z 0-9 _ . - starting with a letter or _", name)
	}
	return nil
}

type fileData struct {
	Users []*User `json:"users"`
	// Changes is the journal of the last changes (see Change).
	Changes []Change `json:"changes,omitempty"`
}

// File is the users' document: the data dir's file, and its name in a
// cluster's store.
const File = "users.json"

// Store is the users file of one data dir, or a cluster's users document.
type Store struct {
	file datadir.Document[fileData]

	mu      sync.Mutex
	version uint64
	byName  map[string]*User
	changes []Change
	actor   Actor // who changes made through Update are by
}

// Open returns the store of data dir dir (the file need not exist yet).
func Open(dir string) (*Store, error) {
	if err := datadir.Ensure(dir); err != nil {
		return nil, err
	}
	return open(datadir.NewJSONFile[fileData](filepath.Join(dir, File)))
}

// OpenShared returns the store of a cluster: the users document in b
// (Redis is the store; the data dir's users.json is not read).
func OpenShared(b datadir.Blob) (*Store, error) {
	return open(datadir.NewBlobDoc[fileData](b))
}

func open(doc datadir.Document[fileData]) (*Store, error) {
	s := &Store{file: doc}
	if _, err := s.snapshot(); err != nil {
		return nil, err
	}
	return s, nil
}

// snapshot returns the current users by name, rereading the file if it
// changed. The map is shared: callers copy what they hand out.
func (s *Store) snapshot() (map[string]*User, error) {
	fd, version, err := s.file.Load()
	if fd == nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	// A broken file keeps the last good users in service (see Load).
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byName == nil || version != s.version {
		m := make(map[string]*User, len(fd.Users))
		for _, u := range fd.Users {
			m[u.Name] = u
		}
		s.byName, s.version, s.changes = m, version, fd.Changes
	}
	return s.byName, nil
}

// Get returns a copy of the named user.
func (s *Store) Get(name string) (User, error) {
	m, err := s.snapshot()
	if err != nil {
		return User{}, err
	}
	u, ok := m[name]
	if !ok {
		return User{}, fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	return *u, nil
}

// Policy returns the named user's forwarding policy as it is now: callers
// read it on every request, so edits apply to live tubes.
func (s *Store) Policy(name string) (forward.Policy, error) {
	u, err := s.Get(name)
	if err != nil {
		return forward.Policy{}, err
	}
	return u.Policy()
}

// NameClaimant returns a user other than user whose policy claims the
// virtual name (their namespace, or an exact --permit-name), or "".
func (s *Store) NameClaimant(name, user string) (string, error) {
	m, err := s.snapshot()
	if err != nil {
		return "", err
	}
	for _, u := range m {
		if u.Name == user {
			continue
		}
		if forward.InNamespace(u.Name, name) {
			return u.Name, nil
		}
		for _, r := range u.PermitName {
			if nr, err := forward.ParseNameRule(r); err == nil && nr.Exact() && string(nr) == strings.ToLower(name) {
				return u.Name, nil
			}
		}
	}
	return "", nil
}

// List returns every user, ordered by name.
func (s *Store) List() ([]User, error) {
	m, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(m))
	for _, u := range m {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Actor is who made a change, for the journal.
type Actor struct {
	By     string // a user of the admin page, or "cli:OSUSER"
	Source string // their address, if they came over the network
}

// SetActor names who the changes made through this store are by, in the
// journal (see Change), when a call does not say: "cli:OSUSER" for the
// command line.
func (s *Store) SetActor(a Actor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actor = a
}

// Actor is who SetActor named.
func (s *Store) Actor() Actor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.actor
}

// Update runs fn on the users by name, under a lock shared with other
// processes, and writes the result atomically. fn may add, change or
// delete entries. What changed is journaled as by the store's actor.
func (s *Store) Update(fn func(users map[string]*User) error) error {
	s.mu.Lock()
	by := s.actor
	s.mu.Unlock()
	return s.UpdateBy(by, fn)
}

// UpdateBy is Update, journaled as made by by. In a cluster fn may run
// more than once (each time on the users as they are then) when another
// node writes at the same time.
func (s *Store) UpdateBy(by Actor, fn func(users map[string]*User) error) error {
	return s.file.Update(func(fd *fileData) error {
		m := make(map[string]*User, len(fd.Users))
		before := make(map[string]User, len(fd.Users))
		for _, u := range fd.Users {
			m[u.Name] = u
			before[u.Name] = cloneUser(*u)
		}
		if err := fn(m); err != nil {
			return err
		}
		fd.Changes = journal(fd.Changes, before, m, by, time.Now().UTC())
		fd.Users = fd.Users[:0]
		for _, u := range m {
			if u.ID == "" { // a record from before ids: give it one
				u.ID = NewID()
			}
			fd.Users = append(fd.Users, u)
		}
		sort.Slice(fd.Users, func(i, j int) bool { return fd.Users[i].Name < fd.Users[j].Name })
		return nil
	})
}

// Add creates a user; it fails if the name is taken or invalid.
func (s *Store) Add(u User) error {
	if err := ValidateName(u.Name); err != nil {
		return err
	}
	if _, err := u.Policy(); err != nil {
		return err
	}
	s.mu.Lock()
	by := s.actor
	s.mu.Unlock()
	return s.add(u, by)
}

func (s *Store) add(u User, by Actor) error {
	return s.UpdateBy(by, func(m map[string]*User) error {
		if _, ok := m[u.Name]; ok {
			return fmt.Errorf("user %s %w", u.Name, ErrExists)
		}
		if u.Created.IsZero() {
			u.Created = time.Now().UTC()
		}
		u.ID, u.Generation = NewID(), 0
		m[u.Name] = &u
		return nil
	})
}

// Delete removes a user.
func (s *Store) Delete(name string) error {
	return s.Update(func(m map[string]*User) error {
		if _, ok := m[name]; !ok {
			return fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		delete(m, name)
		return nil
	})
}

// EnsureIDs gives every user record an id (records from before ids have
// none); it writes only if one is missing.
func (s *Store) EnsureIDs() error {
	list, err := s.List()
	if err != nil {
		return err
	}
	for _, u := range list {
		if u.ID == "" {
			return s.Update(func(map[string]*User) error { return nil }) // Update fills them in
		}
	}
	return nil
}

// EndSessions moves the named user's credential generation on, which ends
// every web session they have (and the browser tubes opened from them).
func (s *Store) EndSessions(name string) error {
	return s.Update(func(m map[string]*User) error {
		u, ok := m[name]
		if !ok {
			return fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		u.Generation++
		return nil
	})
}

// CheckFile checks that data is a users document (users.json) and counts
// its users, for the import into a cluster.
func CheckFile(data []byte) (int, error) {
	var fd fileData
	if err := json.Unmarshal(data, &fd); err != nil {
		return 0, err
	}
	for _, u := range fd.Users {
		if _, err := u.Policy(); err != nil {
			return 0, err
		}
	}
	return len(fd.Users), nil
}
