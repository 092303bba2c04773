package sharelink

import (
	"context"
	"errors"
	"time"
)

// DefaultGrace is how long, on a cluster, a node keeps serving a link from
// its last copy read from Redis while Redis is unreachable. Past it the
// link answers 503 until Redis is back.
const DefaultGrace = 30 * time.Second

// ErrUnavailable marks a refusal because the cluster's Redis cannot be
// reached: nothing was changed, try again later. Its message reads
// "cluster unavailable: redis unreachable: ...".
var ErrUnavailable = errors.New("cluster unavailable")

// backend is a store of links other than the data dir's links.db: Redis,
// on a cluster (redis.go). A Store with a backend hands every call to it;
// the checks that do not depend on where links are kept (newLink,
// ExpiresAt) stay in the Store.
type backend interface {
	byHash(tokenHash string) (Link, bool)
	byName(name string) (Link, bool)
	live(id string) bool
	list(user string) ([]Link, error)
	all() ([]Link, error)
	// create admits l (the user's cap, the name) and stores it, filling in
	// its ID, in one atomic step.
	create(l *Link) error
	revoke(id, user string) error
	revoked(tokenHash string) bool
	visit(id, visit string) (string, error)
	pending() int
	run(ctx context.Context, retry time.Duration)
	// unavailable is non-nil while the store cannot be asked (Redis
	// unreachable), so that a link not found may be told from one that
	// could not be looked up.
	unavailable() error
}

// Unavailable is non-nil, wrapping ErrUnavailable, while the store cannot
// look links up (on a cluster, while Redis is unreachable and this node
// has no recent copy of the link). A lookup that found nothing then means
// "cannot tell", not "no such link": the proxy answers 503. The data dir's
// store is always available (its errors are logged, and the links in
// memory serve).
func (s *Store) Unavailable() error {
	if s.remote == nil {
		return nil
	}
	return s.remote.unavailable()
}
