package sharelink

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// refresh rereads the file if another process changed it. It costs a stat
// when nothing changed; a file written in the last racyWindow also has its
// counter read, at most every 100 ms. A file that cannot be read keeps the
// links in memory; the error is returned for logging.
func (s *Store) refresh() error {
	st, err := statFile(s.path)
	if err != nil {
		return fmt.Errorf("share links: %s", s.pathless(err))
	}
	now := time.Now()
	s.mu.Lock()
	changed := st != s.stamp
	racy := now.Sub(st.mod) < racyWindow && now.Sub(s.checked) >= 100*time.Millisecond
	if !changed && racy {
		s.checked = now
	}
	s.mu.Unlock()
	if !changed && !racy {
		return nil
	}
	if !s.write.TryLock() {
		return nil // a write of this process is under way and rereads itself
	}
	defer s.write.Unlock()
	err = s.reload(time.Nanosecond) // never wait: next look
	if errors.Is(err, ErrBusy) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("share links: %s", s.pathless(err))
	}
	return nil
}

// missWait bounds how long a lookup that found nothing waits for a write
// of this process before it looks again (see refreshAfterMiss).
const missWait = 500 * time.Millisecond

// refreshAfterMiss is for a lookup that found nothing while the file has
// changed since it was read: refresh does not wait for a write or reload
// of this process under way, so a link another process (the command
// line) wrote a moment ago could be missed. It waits, at most missWait,
// for that to end, rereads the file if it moved, and reports whether the
// lookup is worth making again. A lookup that finds its link, and any
// lookup while the file is unchanged, never waits.
func (s *Store) refreshAfterMiss() bool {
	st, err := statFile(s.path)
	if err != nil {
		return false
	}
	s.mu.Lock()
	changed := st != s.stamp
	s.mu.Unlock()
	if !changed {
		return false
	}
	deadline := time.Now().Add(missWait)
	for !s.write.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	defer s.write.Unlock()
	s.reload(time.Until(deadline))
	return true
}

// reload reads the file's counter and, if it moved, every link. Call it
// with s.write held.
func (s *Store) reload(timeout time.Duration) error {
	st, err := statFile(s.path)
	if err != nil {
		return err
	}
	db, err := s.openDB(true, timeout)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		seq := readSeq(tx)
		s.mu.Lock()
		same := seq == s.seq && seq != 0
		if same {
			s.stamp = st
		}
		s.mu.Unlock()
		if same {
			return nil
		}
		links, err := readAll(tx)
		if err != nil {
			return err
		}
		s.install(links, readRevoked(tx), seq, st)
		return nil
	})
}
