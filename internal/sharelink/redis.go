package sharelink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tubegate/tubegate/internal/cluster"
)

// On a cluster the links live in Redis, which is their store (not a cache
// of a data dir). Keys, under cluster.Prefix:
//
//	link:ID              the link's JSON (Link, without Visits); expires with the link
//	link:token:HASH      ID of the link with that token hash (HTTP links)
//	link:name:NAME       ID of the link with that host-name label
//	link:visits:ID       set of the visit-token hashes of a link with max uses
//	link:revoked:HASH    "1" while a revoked link would still have been live (the "revoked" page)
//	links:user:USER      sorted set: the user's link IDs, scored by expiry (ms), for the cap
//	links:all            sorted set: every link ID, scored by expiry (ms), for lists
//	links:revoked-ids    sorted set: revoked link IDs, scored by when they would have expired
//
// and the pub/sub channel links:revoked, on which each revocation is
// published as "ID UNTIL_MS". Every write that checks something (the
// user's cap, a name, a use of a link with max uses, a revocation) is one
// Lua script, so nodes never race each other.

// RevokedChannel is the pub/sub channel revocations are published on.
var RevokedChannel = cluster.Key("links", "revoked")

func linkKey(id string) string        { return cluster.Key("link", id) }
func tokenKey(hash string) string     { return cluster.Key("link", "token", hash) }
func nameKey(name string) string      { return cluster.Key("link", "name", name) }
func visitsKey(id string) string      { return cluster.Key("link", "visits", id) }
func graveKey(hash string) string     { return cluster.Key("link", "revoked", hash) }
func userLinksKey(user string) string { return cluster.Key("links", "user", user) }

var (
	allLinksKey   = cluster.Key("links", "all")
	revokedIDsKey = cluster.Key("links", "revoked-ids")
)

const (
	// redisFresh is how long a copy read from Redis answers lookups
	// without asking again: a revocation whose message a node missed still
	// stops new requests within it.
	redisFresh = time.Second
	// redisTimeout bounds each call to Redis.
	redisTimeout = 3 * time.Second
	// catchUpEvery is how often a node checks its copies against the
	// revoked set, beside every reconnection.
	catchUpEvery = 30 * time.Second
)

// redisStore is the backend of a Store on a cluster. Reads go to Redis,
// each link's last copy kept for redisFresh (and, while Redis is
// unreachable, for Options.Grace); writes go to Redis at once, but for a
// revocation that fails, which holds on this node and is retried.
type redisStore struct {
	c         *cluster.Cluster
	rdb       *redis.Client
	opts      Options
	log       *slog.Logger
	expiresAt func(*Link) time.Time
	running   atomic.Bool
	wake      chan struct{} // a revocation waits to be saved
	catchUp   chan struct{} // compare the copies with the revoked set

	mu      sync.Mutex // guards what follows
	copies  map[string]linkCopy
	hashIdx map[string]string // token hash -> ID, of the copies
	nameIdx map[string]string // name -> ID, of the copies
	// gone are links known revoked (here, by a message, or by the revoked
	// set), by ID, until they would have expired: they stay dead while
	// Redis cannot be asked.
	gone map[string]time.Time
	// graves are the token hashes of links revoked here, until they would
	// have expired, so that Revoked answers without Redis.
	graves map[string]time.Time
	// waiting are the revocations made here that Redis has not taken yet.
	waiting map[string]Link
	// failed is the last call's failure to reach Redis (nil once one
	// succeeds).
	failed error
}

// linkCopy is a link as last read from Redis, and when.
type linkCopy struct {
	l  Link
	at time.Time
}

// OpenRedis returns the store of a cluster's share links, kept in Redis
// (see the keys above). Run it (Store.Run) for revocations to reach this
// node's live connections and for those made while Redis was down to be
// saved once it is back.
func OpenRedis(c *cluster.Cluster, opts Options) *Store {
	opts = opts.withDefaults()
	s := &Store{opts: opts, log: opts.Log}
	r := &redisStore{c: c, rdb: c.Client(), opts: opts, log: opts.Log, expiresAt: s.ExpiresAt,
		wake: make(chan struct{}, 1), catchUp: make(chan struct{}, 1),
		copies: map[string]linkCopy{}, hashIdx: map[string]string{}, nameIdx: map[string]string{},
		gone: map[string]time.Time{}, graves: map[string]time.Time{}, waiting: map[string]Link{}}
	c.OnReconnect(func(context.Context) { kick(r.catchUp) })
	s.remote = r
	return s
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func redisCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), redisTimeout)
}

// note records whether a call reached Redis and returns its error, marked
// with ErrUnavailable if Redis could not be reached.
func (r *redisStore) note(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		r.mu.Lock()
		r.failed = nil
		r.mu.Unlock()
		return err
	}
	err = cluster.Wrap(err)
	if !errors.Is(err, cluster.ErrUnavailable) {
		return fmt.Errorf("share links in redis: %w", err)
	}
	err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	r.mu.Lock()
	r.failed = err
	r.mu.Unlock()
	return err
}

// healthy reports whether the cluster's health check last reached Redis:
// lookups do not wait on a Redis known to be down.
func (r *redisStore) healthy() bool { return r.c.Health() == nil }

func (r *redisStore) unavailable() error {
	if err := r.c.Health(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// deadLocked reports whether link id is known revoked. Call it with r.mu held.
func (r *redisStore) deadLocked(id string, now time.Time) bool {
	if _, ok := r.waiting[id]; ok {
		return true
	}
	until, ok := r.gone[id]
	return ok && now.Before(until)
}

// remember keeps l as read from Redis at.
func (r *redisStore) remember(l Link, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgetLocked(l.ID)
	r.copies[l.ID] = linkCopy{l: l, at: at}
	if l.TokenHash != "" {
		r.hashIdx[l.TokenHash] = l.ID
	}
	if l.Name != "" {
		r.nameIdx[l.Name] = l.ID
	}
}

// forgetLocked drops the copy of link id. Call it with r.mu held.
func (r *redisStore) forgetLocked(id string) {
	c, ok := r.copies[id]
	if !ok {
		return
	}
	delete(r.copies, id)
	if r.hashIdx[c.l.TokenHash] == id {
		delete(r.hashIdx, c.l.TokenHash)
	}
	if r.nameIdx[c.l.Name] == id {
		delete(r.nameIdx, c.l.Name)
	}
}

// fetch reads link id from Redis and keeps a copy; nil if there is none.
func (r *redisStore) fetch(ctx context.Context, id string) (*Link, error) {
	at := r.opts.Now()
	data, err := r.rdb.Get(ctx, linkKey(id)).Bytes()
	if err = r.note(err); errors.Is(err, redis.Nil) {
		r.mu.Lock()
		r.forgetLocked(id)
		r.mu.Unlock()
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("share link %s: %w", id, err)
	}
	var l Link
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("share link %s in redis: %w", id, err)
	}
	r.remember(l, at)
	return &l, nil
}

// get returns link id: the copy if fresh, else Redis's, else (Redis
// unreachable) the copy if within the grace. nil: no such link.
func (r *redisStore) get(id string) (*Link, error) {
	now := r.opts.Now()
	r.mu.Lock()
	dead := r.deadLocked(id, now)
	c, have := r.copies[id]
	r.mu.Unlock()
	if dead {
		return nil, nil
	}
	if have && now.Sub(c.at) < redisFresh {
		return &c.l, nil
	}
	var err error
	if r.healthy() {
		ctx, cancel := redisCtx()
		l, ferr := r.fetch(ctx, id)
		cancel()
		if ferr == nil {
			return l, nil
		}
		err = ferr
	} else {
		err = r.unavailable()
	}
	if have && errors.Is(err, ErrUnavailable) && now.Sub(c.at) < r.opts.Grace {
		return &c.l, nil
	}
	return nil, err
}

// lookup finds the link whose index entry (token hash or name) is k, by
// the copies' index idx or Redis's key.
func (r *redisStore) lookup(idx map[string]string, k, key string) (*Link, error) {
	r.mu.Lock()
	id, ok := idx[k]
	r.mu.Unlock()
	if !ok && r.healthy() {
		ctx, cancel := redisCtx()
		var err error
		id, err = r.rdb.Get(ctx, key).Result()
		cancel()
		if err = r.note(err); errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if id == "" {
		return nil, r.unavailable()
	}
	return r.get(id)
}

func (r *redisStore) byHash(h string) (Link, bool) {
	l, err := r.lookup(r.hashIdx, h, tokenKey(h))
	if err != nil || l == nil || l.Kind != KindHTTP || !hashesEqual(l.TokenHash, h) || !r.opts.Now().Before(r.expiresAt(l)) {
		return Link{}, false
	}
	return *l, true
}

func (r *redisStore) byName(name string) (Link, bool) {
	l, err := r.lookup(r.nameIdx, name, nameKey(name))
	if err != nil || l == nil || l.Kind != KindHTTP || l.Name != name || !r.opts.Now().Before(r.expiresAt(l)) {
		return Link{}, false
	}
	return *l, true
}

// live answers from the copy, asking Redis at most every redisFresh: a
// link revoked on another node is cut by its message, or at the latest by
// the next ask. While Redis is unreachable a link not known revoked stays
// live (its connections are this node's, already admitted).
func (r *redisStore) live(id string) bool {
	now := r.opts.Now()
	r.mu.Lock()
	dead := r.deadLocked(id, now)
	c, have := r.copies[id]
	r.mu.Unlock()
	if dead {
		return false
	}
	if (!have || now.Sub(c.at) >= redisFresh) && r.healthy() {
		ctx, cancel := redisCtx()
		l, err := r.fetch(ctx, id)
		cancel()
		if err == nil {
			if l == nil {
				return false
			}
			c, have = linkCopy{l: *l}, true
		}
	}
	return !have || now.Before(r.expiresAt(&c.l))
}

func (r *redisStore) revoked(h string) bool {
	now := r.opts.Now()
	r.mu.Lock()
	until, ok := r.graves[h]
	r.mu.Unlock()
	if ok && now.Before(until) {
		return true
	}
	if !r.healthy() {
		return false
	}
	ctx, cancel := redisCtx()
	defer cancel()
	n, err := r.rdb.Exists(ctx, graveKey(h)).Result()
	return r.note(err) == nil && n == 1
}

func (r *redisStore) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiting)
}
