package webauth

import (
	"maps"
	"sync"
	"time"
)

// revokedSaver writes the revoked list outside the Manager's lock, which
// every authenticated request takes, so that a logout's write and fsync
// hold up no one but the logout. Snapshots are taken under Manager.mu, so
// their numbers follow the order of the changes they hold, and written one
// at a time; a snapshot older than one already written is skipped (the
// newer one holds all of it). The zero value writes with saveRevoked.
type revokedSaver struct {
	taken uint64 // snapshots taken; guarded by Manager.mu

	mu    sync.Mutex // held while writing
	saved uint64     // the newest snapshot written
	write func(dir string, m map[string]time.Time) error
}

// revokedSnapshot is a copy of the revoked list and its number.
type revokedSnapshot struct {
	seq     uint64
	revoked map[string]time.Time
}

// snapshot copies m; call it with Manager.mu held, right after the change.
func (s *revokedSaver) snapshot(m map[string]time.Time) revokedSnapshot {
	s.taken++
	return revokedSnapshot{seq: s.taken, revoked: maps.Clone(m)}
}

// save writes snap to dir, unless a newer snapshot is on disk already.
// It returns once the list holding snap's changes is saved.
func (s *revokedSaver) save(dir string, snap revokedSnapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap.seq <= s.saved {
		return nil
	}
	write := s.write
	if write == nil {
		write = saveRevoked
	}
	if err := write(dir, snap.revoked); err != nil {
		return err
	}
	s.saved = snap.seq
	return nil
}
