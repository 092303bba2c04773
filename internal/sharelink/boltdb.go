package sharelink

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tubegate/tubegate/internal/datadir"
)

// The links database (links.db) is a bbolt file: one key per link in the
// links bucket, and a change counter in the meta bucket. A write costs a
// few B+tree pages, whatever the number of links.
//
// No process holds the file open between operations: each write opens it
// (bbolt takes an exclusive flock, waited for up to Options.LockTimeout),
// commits one transaction and closes it. So the command line can change
// links while a gateway runs, and the gateway keeps its links in memory and
// notices another process's change by the file's stamp and the counter.
var (
	bucketLinks = []byte("links")
	bucketMeta  = []byte("meta")
	keySeq      = []byte("seq")
)

// racyWindow is how long after a file's modification time its stamp alone
// cannot be trusted: two writes within one clock tick of the file system
// leave the same stamp, so the change counter is read instead.
const racyWindow = 2 * time.Second

// stamp identifies one state of the file: a write changes its time or size.
type stamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	st := stamp{mod: fi.ModTime(), size: fi.Size()}
	st.ino = datadir.FileID(path, fi)
	return st, nil
}

// openDB opens the database for one operation.
func (s *Store) openDB(readOnly bool, timeout time.Duration) (*bolt.DB, error) {
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: readOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: another process holds the links database", ErrBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("open links database: %w", err)
	}
	return db, nil
}

// boltWrite runs fn in one write transaction of a freshly opened database,
// bumps the change counter, and returns the new counter and the file's
// stamp as of this write (taken before the lock is released).
func (s *Store) boltWrite(fn func(tx *bolt.Tx) error) (uint64, stamp, error) {
	db, err := s.openDB(false, s.opts.LockTimeout)
	if err != nil {
		return 0, stamp{}, err
	}
	defer db.Close()
	var seq uint64
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketLinks); err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		seq = readSeq(tx) + 1
		return meta.Put(keySeq, binary.BigEndian.AppendUint64(nil, seq))
	})
	if err != nil {
		return 0, stamp{}, err
	}
	st, err := statFile(s.path)
	if err != nil {
		st = stamp{} // the next read looks at the counter
	}
	return seq, st, nil
}

// readSeq returns the change counter (0 for a new database).
func readSeq(tx *bolt.Tx) uint64 {
	if b := tx.Bucket(bucketMeta); b != nil {
		if v := b.Get(keySeq); len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
	}
	return 0
}

// readAll returns every link stored.
func readAll(tx *bolt.Tx) ([]*Link, error) {
	b := tx.Bucket(bucketLinks)
	if b == nil {
		return nil, nil
	}
	var out []*Link
	err := b.ForEach(func(k, v []byte) error {
		l := new(Link)
		if err := json.Unmarshal(v, l); err != nil {
			return fmt.Errorf("link %s: %w", k, err)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

func putLink(tx *bolt.Tx, l *Link) error {
	v, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLinks).Put([]byte(l.ID), v)
}

// migrateJSON moves the links of a links.json (the store before bbolt) into
// the database once, then renames it links.json.migrated. Run on Open.
func (s *Store) migrateJSON(jsonPath string) error {
	data, err := os.ReadFile(jsonPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("migrate links.json: %w", err)
	}
	var old struct {
		Links []*Link `json:"links"`
	}
	if err := json.Unmarshal(data, &old); err != nil {
		return fmt.Errorf("migrate links.json: %w (fix or remove the file)", err)
	}
	_, _, err = s.boltWrite(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLinks)
		for _, l := range old.Links {
			if l.ID == "" || b.Get([]byte(l.ID)) != nil {
				continue
			}
			if err := putLink(tx, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate links.json: %w", err)
	}
	if err := os.Rename(jsonPath, jsonPath+".migrated"); err != nil {
		return fmt.Errorf("migrate links.json: %w", err)
	}
	s.log.Info("share links moved from links.json to links.db", "links", len(old.Links))
	return nil
}
