package sharelink

import (
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// MaxUsesLimit is the most uses a link may be given: each use keeps a
// hash in the link's record.
const MaxUsesLimit = 1000

// ErrUsedUp refuses a new visitor to a link whose uses are all taken.
var ErrUsedUp = errors.New("share link used up")

// Uses is how many of a link's uses are taken.
func (l *Link) Uses() int { return len(l.Visits) }

// checkMaxUses checks a link's max uses: 0 for no limit.
func checkMaxUses(n int, tcp bool) error {
	switch {
	case n < 0 || n > MaxUsesLimit:
		return fmt.Errorf("max uses %d: want 0 (no limit) to %d", n, MaxUsesLimit)
	case n > 0 && tcp:
		return errors.New("a TCP link cannot have max uses: the port is public")
	}
	return nil
}

// Visit admits a viewer to link id when the link limits its uses. visit
// is the viewer's visit token from an earlier Visit ("" for none): a
// known one is let in again at no cost. Otherwise a use is taken, saved,
// and a new visit token returned for the viewer to keep (a cookie); with
// every use taken, the error is ErrUsedUp. A link without max uses
// admits everyone and returns "". The count is checked and taken under
// the database's lock, so that processes sharing the data dir agree.
func (s *Store) Visit(id, visit string) (string, error) {
	if s.remote != nil {
		return s.remote.visit(id, visit)
	}
	s.refresh()
	s.mu.Lock()
	l, ok := s.idx.byID[id]
	if !ok {
		s.mu.Unlock()
		return "", fmt.Errorf("link %s: %w", id, ErrNotFound)
	}
	limit, known := l.MaxUses, visit != "" && slices.Contains(l.Visits, HashToken(visit))
	s.mu.Unlock()
	if limit == 0 {
		return "", nil
	}
	if known {
		return visit, nil
	}
	token, hash, err := NewToken()
	if err != nil {
		return "", err
	}
	s.write.Lock()
	defer s.write.Unlock()
	var refused error
	err = s.save(func(tx *bolt.Tx) error {
		s.mu.Lock()
		cur, ok := s.idx.byID[id]
		var next Link
		switch {
		case !ok:
			refused = fmt.Errorf("link %s: %w", id, ErrNotFound)
		case len(cur.Visits) >= cur.MaxUses:
			refused = fmt.Errorf("link %s: %w (%d of %d)", id, ErrUsedUp, len(cur.Visits), cur.MaxUses)
		default:
			next = *cur
			next.Visits = append(slices.Clip(cur.Visits), hash)
		}
		s.mu.Unlock()
		if refused != nil {
			return refused
		}
		return putLink(tx, &next)
	})
	if refused != nil {
		return "", refused
	}
	if err != nil {
		s.log.Error("share link use not saved", "link", id, "err", err)
		return "", fmt.Errorf("share link %s use %w: %v", id, ErrNotSaved, s.pathless(err))
	}
	s.mu.Lock()
	if cur, ok := s.idx.byID[id]; ok && !slices.Contains(cur.Visits, hash) {
		cur.Visits = append(slices.Clip(cur.Visits), hash)
	}
	s.mu.Unlock()
	return token, nil
}
