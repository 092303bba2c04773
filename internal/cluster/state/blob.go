package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/datadir"
)

// ErrUnavailable prefixes every error that comes from Redis being
// unreachable: what clients are told.
var ErrUnavailable = errors.New("cluster unavailable")

// maxAttempts bounds the optimistic retries of one Update.
const maxAttempts = 64

// Store is the cluster's documents: Blob(name) is the hash
// tubegate:doc:NAME with the fields data (the document's bytes, the same
// as the data dir's file NAME) and rev (a random revision, new with each
// write).
type Store struct {
	c *cluster.Cluster
}

// New returns the documents of cluster c.
func New(c *cluster.Cluster) *Store { return &Store{c: c} }

// Blob returns the document name (a data dir file name: users.json).
func (s *Store) Blob(name string) datadir.Blob {
	return &blob{c: s.c, name: name, key: cluster.Key("doc", name)}
}

// DocKey is the Redis key of document name.
func DocKey(name string) string { return cluster.Key("doc", name) }

type blob struct {
	c         *cluster.Cluster
	name, key string
}

func (b *blob) Name() string { return "redis " + b.key }

// fail wraps a Redis error: unreachable is ErrUnavailable ("cluster
// unavailable: redis unreachable: ...").
func fail(err error) error {
	if err == nil {
		return nil
	}
	err = cluster.Wrap(err)
	if errors.Is(err, cluster.ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// healthy fails fast while the health loop says Redis does not answer,
// rather than hold the caller for a timeout on every call.
func healthy(c *cluster.Cluster) error {
	if err := c.Health(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

func (b *blob) Revision(ctx context.Context) (string, error) {
	if err := healthy(b.c); err != nil {
		return "", err
	}
	rev, err := b.c.Client().HGet(ctx, b.key, "rev").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fail(err)
	}
	return rev, nil
}

func (b *blob) Read(ctx context.Context) ([]byte, string, error) {
	if err := healthy(b.c); err != nil {
		return nil, "", err
	}
	return read(ctx, b.c.Client(), b.key)
}

// read gets the document and revision through r (a client or a WATCHing
// transaction).
func read(ctx context.Context, r redis.Cmdable, key string) ([]byte, string, error) {
	vals, err := r.HMGet(ctx, key, "data", "rev").Result()
	if err != nil {
		return nil, "", fail(err)
	}
	data, _ := vals[0].(string)
	rev, _ := vals[1].(string)
	if vals[0] == nil {
		return nil, rev, nil
	}
	return []byte(data), rev, nil
}

// fnError marks an error of Update's fn, which ends the update as it is.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func (b *blob) Update(ctx context.Context, fn func(old []byte) ([]byte, error)) (string, error) {
	if err := healthy(b.c); err != nil {
		return "", err
	}
	rdb := b.c.Client()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		rev := newRev()
		err := rdb.Watch(ctx, func(tx *redis.Tx) error {
			old, _, err := read(ctx, tx, b.key)
			if err != nil {
				return err
			}
			data, err := fn(old)
			if err != nil {
				return fnError{err}
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, b.key, "data", data, "rev", rev)
				return nil
			})
			return err
		}, b.key)
		var fe fnError
		switch {
		case err == nil:
			return rev, nil
		case errors.As(err, &fe):
			return "", fe.err
		case errors.Is(err, redis.TxFailedErr):
			// Another writer got there first: read again, after a short
			// random pause so that the writers do not collide in step.
			if err := sleep(ctx, jitter(attempt)); err != nil {
				return "", fmt.Errorf("update %s: %w", b.Name(), fail(err))
			}
		default:
			return "", fmt.Errorf("update %s: %w", b.Name(), fail(err))
		}
	}
	return "", fmt.Errorf("update %s: %d writers in a row got there first", b.Name(), maxAttempts)
}

// Put writes data as document name whatever it held (the import).
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	err := s.c.Client().HSet(ctx, DocKey(name), "data", data, "rev", newRev()).Err()
	if err != nil {
		return fmt.Errorf("write %s: %w", DocKey(name), fail(err))
	}
	return nil
}

// Exists reports whether document name is in Redis.
func (s *Store) Exists(ctx context.Context, name string) (bool, error) {
	n, err := s.c.Client().Exists(ctx, DocKey(name)).Result()
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", DocKey(name), fail(err))
	}
	return n > 0, nil
}

func newRev() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func jitter(attempt int) time.Duration {
	limit := int64(time.Millisecond) << min(attempt, 5)
	n, err := rand.Int(rand.Reader, big.NewInt(limit))
	if err != nil {
		return time.Millisecond
	}
	return time.Duration(n.Int64())
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
