package sharelink

import (
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A revoked link leaves a tombstone until it would have expired: its token
// hash and that time, in the revoked bucket, so that the proxy can tell a
// visitor "this link was revoked" rather than "not found", also when
// another process (gateway link revoke) revoked it or the gateway
// restarted since. Only the hash is kept, as for live links.
var bucketRevoked = []byte("revoked")

// readRevoked returns the tombstones stored: token hash -> until when.
func readRevoked(tx *bolt.Tx) map[string]time.Time {
	out := map[string]time.Time{}
	b := tx.Bucket(bucketRevoked)
	if b == nil {
		return out
	}
	_ = b.ForEach(func(k, v []byte) error {
		if len(v) == 8 {
			out[string(k)] = time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
		}
		return nil
	})
	return out
}

// buryLink deletes link id and leaves its tombstone, dropping tombstones
// that have run out by now.
func buryLink(tx *bolt.Tx, id string, until func(*Link) time.Time, now time.Time) error {
	links := tx.Bucket(bucketLinks)
	graves, err := tx.CreateBucketIfNotExists(bucketRevoked)
	if err != nil {
		return err
	}
	if v := links.Get([]byte(id)); v != nil {
		var l Link
		if json.Unmarshal(v, &l) == nil && l.TokenHash != "" {
			end := until(&l)
			if err := graves.Put([]byte(l.TokenHash), binary.BigEndian.AppendUint64(nil, uint64(end.Unix()))); err != nil {
				return err
			}
		}
	}
	var stale [][]byte
	_ = graves.ForEach(func(k, v []byte) error {
		if len(v) != 8 || !now.Before(time.Unix(int64(binary.BigEndian.Uint64(v)), 0)) {
			stale = append(stale, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range stale {
		if err := graves.Delete(k); err != nil {
			return err
		}
	}
	return links.Delete([]byte(id))
}

// Revoked reports whether token is that of a link revoked before it
// expired (and not expired yet).
func (s *Store) Revoked(token string) bool {
	if s.remote != nil && ValidTokenSyntax(token) {
		return s.remote.revoked(HashToken(token))
	}
	if !ValidTokenSyntax(token) {
		return false
	}
	h := HashToken(token)
	s.refresh()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	for _, m := range []map[string]time.Time{s.revoked, s.revokedHere} {
		if until, ok := m[h]; ok && now.Before(until) {
			return true
		}
	}
	return false
}
