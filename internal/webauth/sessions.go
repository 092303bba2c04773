package webauth

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"time"

	"github.com/tubegate/tubegate/internal/datadir"
	"github.com/tubegate/tubegate/internal/users"
)

// sessionsFile lists the web sessions issued and not ended, so that they
// can be listed and ended from the command line (`gateway user sessions`).
// A session is valid only while it is listed here and carries its user's
// record id and credential generation (users.User.ID, .Generation).
const sessionsFile = "sessions.json"

// sessionRecord is one issued session as kept in the data dir.
type sessionRecord struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	UID     string    `json:"uid"` // users.User.ID when issued
	Gen     uint64    `json:"gen"` // users.User.Generation when issued (or moved on by its own password change)
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Source  string    `json:"source,omitempty"` // the remote address that logged in
}

type sessionsDoc struct {
	Sessions map[string]*sessionRecord `json:"sessions"`
}

// sessionTable is the sessions file of one data dir.
type sessionTable struct {
	file datadir.Document[sessionsDoc]
}

func openSessionTable(dir string) *sessionTable {
	return &sessionTable{file: datadir.NewJSONFile[sessionsDoc](filepath.Join(dir, sessionsFile))}
}

// get returns the record of session id, if it is listed.
func (t *sessionTable) get(id string) (sessionRecord, bool) {
	doc, _, _ := t.file.Load() // a broken file keeps the last good one
	if doc == nil || doc.Sessions == nil {
		return sessionRecord{}, false
	}
	r, ok := doc.Sessions[id]
	if !ok {
		return sessionRecord{}, false
	}
	return *r, true
}

// update changes the table under the file's lock, dropping expired
// sessions and those whose user record or generation has moved on.
func (t *sessionTable) update(us *users.Store, fn func(m map[string]*sessionRecord) error) error {
	return t.file.Update(func(doc *sessionsDoc) error {
		if doc.Sessions == nil {
			doc.Sessions = make(map[string]*sessionRecord)
		}
		if err := fn(doc.Sessions); err != nil {
			return err
		}
		// One look at the users for all the records (in a cluster, each
		// look is a round trip to Redis).
		list, err := us.List()
		if err != nil {
			return fmt.Errorf("web sessions: %w", err)
		}
		byName := make(map[string]users.User, len(list))
		for _, u := range list {
			byName[u.Name] = u
		}
		now := time.Now()
		for id, r := range doc.Sessions {
			if u, ok := byName[r.User]; now.After(r.Expires) || !ok || !r.currentFor(u) {
				delete(doc.Sessions, id)
			}
		}
		return nil
	})
}

// current reports whether the record's user still exists as the same
// record, with credentials no newer than the session.
func (r *sessionRecord) current(us *users.Store) bool {
	u, err := us.Get(r.User)
	return err == nil && r.currentFor(u)
}

// currentFor is current with the record's user u already looked up.
func (r *sessionRecord) currentFor(u users.User) bool {
	return u.ID == r.UID && r.Gen >= u.Generation
}

// SessionInfo is one live web session, as `gateway user sessions` lists it.
type SessionInfo struct {
	ID      string
	User    string
	Created time.Time
	Expires time.Time
	// Source is the remote address the login came from.
	Source string
}

// ListSessions returns the live web sessions of user kept in data dir
// dir, oldest first. The last time a session was used is not kept.
func ListSessions(dir string, us *users.Store, user string) ([]SessionInfo, error) {
	return listSessions(openSessionTable(dir), us, user)
}

func listSessions(t *sessionTable, us *users.Store, user string) ([]SessionInfo, error) {
	if _, err := us.Get(user); err != nil {
		return nil, err
	}
	doc, _, err := t.file.Load()
	if err != nil {
		return nil, fmt.Errorf("web sessions: %w", err)
	}
	now := time.Now()
	var out []SessionInfo
	for _, r := range doc.Sessions {
		if r.User == user && now.Before(r.Expires) && r.current(us) {
			out = append(out, SessionInfo{ID: r.ID, User: r.User, Created: r.Created, Expires: r.Expires, Source: r.Source})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// RevokeSessions ends every web session of user: it moves the user's
// credential generation on (a running gateway then refuses the sessions
// and closes the browser tubes opened from them within a second) and
// drops them from the list. It returns how many were live.
func RevokeSessions(dir string, us *users.Store, user string) (int, error) {
	return revokeSessions(openSessionTable(dir), us, user)
}

func revokeSessions(t *sessionTable, us *users.Store, user string) (int, error) {
	live, err := listSessions(t, us, user)
	if err != nil {
		return 0, err
	}
	if err := us.EndSessions(user); err != nil {
		return 0, err
	}
	// The list is tidied too; the generation alone already ends them.
	err = t.update(us, func(map[string]*sessionRecord) error { return nil })
	if err != nil {
		return len(live), fmt.Errorf("web sessions ended, but the list was not tidied: %w", err)
	}
	return len(live), nil
}

// setPassword sets user's password hash from the page: the credential
// generation moves on, ending the user's other sessions (and their
// tubes), while the session that made the change is carried over to the
// new generation, its tubes included, with a fresh cookie.
func (m *Manager) setPassword(w http.ResponseWriter, r *http.Request, user, hash string) error {
	s, ok := m.current(r)
	if !ok || s.User != user {
		return users.ErrNotFound
	}
	err := m.users.Update(func(all map[string]*users.User) error {
		u, ok := all[user]
		if !ok || u.ID != s.UID {
			return users.ErrNotFound
		}
		u.PasswordHash = hash
		u.Generation++
		s.Gen = u.Generation
		// Moved on before the users file is: this session never looks stale.
		return m.table.update(m.users, func(all map[string]*sessionRecord) error {
			if rec := all[s.ID]; rec != nil {
				rec.Gen = s.Gen
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	return m.setCookie(w, r, s)
}
