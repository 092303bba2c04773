package users

import (
	"slices"
	"sort"
	"time"
)

// Change is one entry of the users file's journal: every change made
// through a Store (the command line's or a running gateway's admin page)
// is noted in the file itself, so a running gateway can write it to its
// audit log with who made it, whichever process did.
type Change struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	By     string    `json:"by,omitempty"`
	Source string    `json:"source,omitempty"`
	Action string    `json:"action"` // ActionCreated, ActionChanged or ActionDeleted
	User   string    `json:"user"`
	// Fields are what changed: password, keys, permit_open, permit_listen,
	// permit_name, admin, sessions (web sessions ended).
	Fields []string `json:"fields,omitempty"`
}

// Journal actions.
const (
	ActionCreated = "created"
	ActionChanged = "changed"
	ActionDeleted = "deleted"
)

// JournalMax is how many changes the journal keeps. A gateway that looks
// once a second misses changes only past this many in a second.
const JournalMax = 256

func cloneUser(u User) User {
	u.Keys = slices.Clone(u.Keys)
	u.PermitOpen = slices.Clone(u.PermitOpen)
	u.PermitListen = slices.Clone(u.PermitListen)
	u.PermitName = slices.Clone(u.PermitName)
	return u
}

// journal appends to j what differs between before and after.
func journal(j []Change, before map[string]User, after map[string]*User, by Actor, now time.Time) []Change {
	var seq uint64
	if len(j) > 0 {
		seq = j[len(j)-1].Seq
	}
	add := func(action, user string, fields []string) {
		seq++
		j = append(j, Change{Seq: seq, Time: now, By: by.By, Source: by.Source, Action: action, User: user, Fields: fields})
	}
	var names []string
	for n := range before {
		names = append(names, n)
	}
	for n := range after {
		if _, ok := before[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		b, had := before[n]
		a, has := after[n]
		switch {
		case !had:
			add(ActionCreated, n, nil)
		case !has:
			add(ActionDeleted, n, nil)
		case a.ID != b.ID && b.ID != "":
			add(ActionDeleted, n, nil)
			add(ActionCreated, n, nil)
		default:
			if f := changedFields(b, *a); len(f) > 0 {
				add(ActionChanged, n, f)
			}
		}
	}
	if len(j) > JournalMax {
		j = slices.Clone(j[len(j)-JournalMax:])
	}
	return j
}

func changedFields(b, a User) []string {
	var f []string
	if a.PasswordHash != b.PasswordHash {
		f = append(f, "password")
	}
	if !slices.Equal(a.Keys, b.Keys) {
		f = append(f, "keys")
	}
	if !slices.Equal(a.PermitOpen, b.PermitOpen) {
		f = append(f, "permit_open")
	}
	if !slices.Equal(a.PermitListen, b.PermitListen) || (a.PermitListen == nil) != (b.PermitListen == nil) {
		f = append(f, "permit_listen")
	}
	if !slices.Equal(a.PermitName, b.PermitName) {
		f = append(f, "permit_name")
	}
	if a.Admin != b.Admin {
		f = append(f, "admin")
	}
	if a.Generation != b.Generation && a.PasswordHash == b.PasswordHash && len(a.Keys) >= len(b.Keys) {
		f = append(f, "sessions")
	}
	return f
}

// ChangesSince returns the journaled changes after seq, oldest first, and
// the newest seq. A gateway remembers the seq and asks again.
func (s *Store) ChangesSince(seq uint64) ([]Change, uint64, error) {
	if _, err := s.snapshot(); err != nil {
		return nil, seq, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Change
	last := seq
	for _, c := range s.changes {
		if c.Seq > seq {
			out = append(out, c)
		}
		last = max(last, c.Seq)
	}
	return out, last, nil
}
