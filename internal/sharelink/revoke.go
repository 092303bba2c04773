package sharelink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Revoke deletes link id, which must belong to user ("" for any user). It
// takes effect in memory first: the link stops resolving at once, and the
// proxy cuts its connections, even if the deletion cannot be saved. A
// failed save is returned (with ErrNotSaved) and logged; while Run runs,
// it is retried until it succeeds.
func (s *Store) Revoke(id, user string) error {
	if s.remote != nil {
		return s.remote.revoke(id, user)
	}
	s.refresh()
	s.mu.Lock()
	l, ok := s.idx.byID[id]
	if !ok || (user != "" && l.User != user) {
		s.mu.Unlock()
		return fmt.Errorf("link %s: %w", id, ErrNotFound)
	}
	s.idx.remove(l)
	s.pending[id] = struct{}{}
	if l.TokenHash != "" {
		s.revokedHere[l.TokenHash] = s.ExpiresAt(l)
	}
	s.mu.Unlock()
	err := s.flush()
	if err == nil {
		return nil
	}
	if !s.running.Load() {
		// No one will retry (the command line): the revocation would be lost
		// with this process, so it does not happen.
		s.mu.Lock()
		delete(s.pending, id)
		delete(s.revokedHere, l.TokenHash)
		s.idx.add(l, s.live(l, s.opts.Now()))
		s.mu.Unlock()
		return fmt.Errorf("link %s is not revoked: %w: %v", id, ErrNotSaved, s.pathless(err))
	}
	s.log.Error("SHARE LINK REVOKED IN MEMORY ONLY: the revocation could not be saved; it holds while this gateway runs and the save is retried",
		"link", id, "err", err)
	s.kick()
	return fmt.Errorf("link %s is revoked, but the revocation was %w (the gateway keeps retrying): %v", id, ErrNotSaved, s.pathless(err))
}

// flush saves the pending revocations.
func (s *Store) flush() error {
	s.write.Lock()
	defer s.write.Unlock()
	s.mu.Lock()
	ids := make([]string, 0, len(s.pending))
	for id := range s.pending {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	now := s.opts.Now()
	err := s.save(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := buryLink(tx, id, s.ExpiresAt, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	for h, until := range s.revokedHere {
		if !now.Before(until) {
			delete(s.revokedHere, h)
		}
	}
	for _, id := range ids {
		delete(s.pending, id)
	}
	s.mu.Unlock()
	return nil
}

// Pending returns how many revocations are in memory but not saved yet.
func (s *Store) Pending() int {
	if s.remote != nil {
		return s.remote.pending()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

func (s *Store) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// sweepInterval is how often Run deletes expired links from the file.
const sweepInterval = 10 * time.Minute

// Run keeps the file in step with memory until ctx ends: it retries
// revocations that could not be saved (every retry seconds, the first at
// once when one fails) and deletes expired links now and every ten
// minutes. The gateway runs it; the command line does not.
func (s *Store) Run(ctx context.Context, retry time.Duration) {
	if s.remote != nil {
		s.remote.run(ctx, retry)
		return
	}
	if retry <= 0 {
		retry = time.Second
	}
	s.running.Store(true)
	defer s.running.Store(false)
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	tick := time.NewTicker(retry)
	defer tick.Stop()
	s.sweep()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			s.sweep()
			continue
		case <-s.wake:
		case <-tick.C:
		}
		if s.Pending() == 0 {
			continue
		}
		if err := s.flush(); err != nil {
			failures++
			if failures == 1 || failures%30 == 0 {
				s.log.Error("share link revocations still not saved; retrying", "pending", s.Pending(), "attempts", failures, "err", err)
			}
			continue
		}
		if failures > 0 {
			s.log.Warn("share link revocations saved after failures", "attempts", failures+1)
		}
		failures = 0
	}
}

// sweep deletes expired links from the file (they are ignored in memory
// already). A failure waits for the next sweep.
func (s *Store) sweep() {
	now := s.opts.Now()
	var dead []*Link
	s.mu.Lock()
	for _, l := range s.idx.byID {
		if !s.live(l, now) {
			dead = append(dead, l)
		}
	}
	s.mu.Unlock()
	if len(dead) == 0 {
		return
	}
	s.write.Lock()
	defer s.write.Unlock()
	err := s.save(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLinks)
		for _, l := range dead {
			if err := b.Delete([]byte(l.ID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("share links: expired links not deleted from the file; next sweep retries", "err", err)
		return
	}
	s.mu.Lock()
	for _, l := range dead {
		if cur := s.idx.byID[l.ID]; cur != nil {
			s.idx.remove(cur)
		}
	}
	s.mu.Unlock()
}

// pathless is err's message without server paths, for messages a client
// sees: the data dir's path is dropped, leaving file names ("open
// links.db: no space left on device"). The full error goes to the log.
func (s *Store) pathless(err error) string {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path != "" {
		msg = strings.ReplaceAll(msg, pe.Path, filepath.Base(pe.Path))
	}
	return strings.ReplaceAll(msg, filepath.Dir(s.path)+string(filepath.Separator), "")
}
