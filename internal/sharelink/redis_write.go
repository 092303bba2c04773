package sharelink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/tubegate/tubegate/internal/forward"
)

// createScript admits and stores a link in one step: the user's live
// links are counted (their set, expired IDs dropped first) and the name
// checked, under Redis's single thread, so two nodes never both admit the
// last link of a cap or the same name.
//
//	KEYS: link, token ("" for none), name ("" for none), user's set, all
//	ARGV: link JSON, expiry (ms), now (ms), max per user, ID
var createScript = redis.NewScript(`
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if KEYS[3] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then return {'name', 0} end
local n = redis.call('ZCARD', KEYS[4])
if n >= tonumber(ARGV[4]) then return {'many', n} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'id', 0} end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], ARGV[5], 'PXAT', ARGV[2]) end
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[5], 'PXAT', ARGV[2]) end
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[5])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
return {'ok', n + 1}
`)

// revokeScript deletes a link and its index entries, leaves its
// tombstone and its place in the revoked set until it would have expired,
// and publishes the revocation, in one step.
//
//	KEYS: link, token (""), name (""), user's set, all, visits, grave (""), revoked set
//	ARGV: ID, until (ms), now (ms), channel
var revokeScript = redis.NewScript(`
local existed = redis.call('DEL', KEYS[1])
if KEYS[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if KEYS[3] ~= '' and redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('DEL', KEYS[6])
local now = tonumber(ARGV[3])
if tonumber(ARGV[2]) > now then
  if KEYS[7] ~= '' then redis.call('SET', KEYS[7], '1', 'PXAT', ARGV[2]) end
  redis.call('ZADD', KEYS[8], ARGV[2], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', now)
redis.call('PUBLISH', ARGV[4], ARGV[1] .. ' ' .. ARGV[2])
return existed
`)

// visitScript takes one of a link's uses, unless the viewer's visit is
// known already or every use is taken, in one step: the uses are counted
// across every node.
//
//	KEYS: link, visits
//	ARGV: known visit hash (""), new visit hash, max uses, until (ms)
var visitScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone', 0} end
if ARGV[1] ~= '' and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return {'known', 0} end
local n = redis.call('SCARD', KEYS[2])
if n >= tonumber(ARGV[3]) then return {'full', n} end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
return {'ok', n + 1}
`)

// scriptResult reads a script's {status, n}.
func scriptResult(v any) (string, int64, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return "", 0, fmt.Errorf("share links in redis: unexpected script result %v", v)
	}
	status, _ := a[0].(string)
	n, _ := a[1].(int64)
	return status, n, nil
}

func orNone(ok bool, key string) string {
	if !ok {
		return ""
	}
	return key
}

func (r *redisStore) create(l *Link) error {
	now := r.opts.Now()
	until := r.expiresAt(l).UnixMilli()
	ctx, cancel := redisCtx()
	defer cancel()
	for range 8 {
		id, err := newID()
		if err != nil {
			return err
		}
		l.ID = id
		data, err := json.Marshal(l)
		if err != nil {
			return err
		}
		keys := []string{linkKey(id), orNone(l.TokenHash != "", tokenKey(l.TokenHash)), orNone(l.Name != "", nameKey(l.Name)),
			userLinksKey(l.User), allLinksKey}
		res, err := createScript.Run(ctx, r.rdb, keys, data, until, now.UnixMilli(), r.opts.MaxPerUser, id).Result()
		if err := r.note(err); err != nil {
			r.log.Error("share link not created: redis", "user", l.User, "err", err)
			return fmt.Errorf("share link not created: %w", err)
		}
		status, n, err := scriptResult(res)
		if err != nil {
			return err
		}
		switch status {
		case "ok":
			r.remember(*l, now)
			return nil
		case "name":
			return fmt.Errorf("link name %q is taken", l.Name)
		case "many":
			return fmt.Errorf("%w: %w: %s has %d live links, the most this gateway allows; revoke some first",
				forward.ErrRefused, ErrTooMany, l.User, n)
		}
		// "id": taken, draw another
	}
	return errors.New("share link: no free id")
}

// current reads link id for a change: from Redis, or (Redis unreachable)
// from this node's copy, however old, since the change is only kept here
// until Redis takes it.
func (r *redisStore) current(id string) (*Link, error) {
	ctx, cancel := redisCtx()
	defer cancel()
	l, err := r.fetch(ctx, id)
	if err == nil || !errors.Is(err, ErrUnavailable) {
		return l, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.copies[id]; ok && !r.deadLocked(id, r.opts.Now()) {
		return &c.l, nil
	}
	return nil, err
}

// revoke takes effect on this node first (lookups and live connections),
// then in Redis, which publishes it to every node. If Redis cannot be
// reached, a gateway (Run running) keeps it and retries until Redis takes
// it; the command line, which would lose it, refuses.
func (r *redisStore) revoke(id, user string) error {
	l, err := r.current(id)
	if err != nil {
		return fmt.Errorf("link %s is not revoked: %w", id, err)
	}
	if l == nil || (user != "" && l.User != user) {
		return fmt.Errorf("link %s: %w", id, ErrNotFound)
	}
	until := r.expiresAt(l)
	r.mu.Lock()
	r.gone[id] = until
	if l.TokenHash != "" {
		r.graves[l.TokenHash] = until
	}
	r.forgetLocked(id)
	r.mu.Unlock()
	err = r.bury(l, until.UnixMilli())
	if err == nil {
		return nil
	}
	if !r.running.Load() {
		r.mu.Lock()
		delete(r.gone, id)
		delete(r.graves, l.TokenHash)
		r.mu.Unlock()
		return fmt.Errorf("link %s is not revoked: %w", id, err)
	}
	r.mu.Lock()
	r.waiting[id] = *l
	r.mu.Unlock()
	r.log.Error("SHARE LINK REVOKED ON THIS NODE ONLY: redis did not take the revocation; it holds here and is retried until redis does",
		"link", id, "err", err)
	kick(r.wake)
	return fmt.Errorf("link %s is revoked, but the revocation was %w (the gateway keeps retrying): %v", id, ErrNotSaved, err)
}

// bury runs revokeScript for l.
func (r *redisStore) bury(l *Link, until int64) error {
	ctx, cancel := redisCtx()
	defer cancel()
	keys := []string{linkKey(l.ID), orNone(l.TokenHash != "", tokenKey(l.TokenHash)), orNone(l.Name != "", nameKey(l.Name)),
		userLinksKey(l.User), allLinksKey, visitsKey(l.ID), orNone(l.TokenHash != "", graveKey(l.TokenHash)), revokedIDsKey}
	err := revokeScript.Run(ctx, r.rdb, keys, l.ID, until, r.opts.Now().UnixMilli(), RevokedChannel).Err()
	return r.note(err)
}

// flush saves the revocations waiting for Redis.
func (r *redisStore) flush() error {
	r.mu.Lock()
	links := make([]Link, 0, len(r.waiting))
	for _, l := range r.waiting {
		links = append(links, l)
	}
	r.mu.Unlock()
	for _, l := range links {
		if err := r.bury(&l, r.expiresAt(&l).UnixMilli()); err != nil {
			return err
		}
		r.mu.Lock()
		delete(r.waiting, l.ID)
		r.mu.Unlock()
		r.log.Warn("share link revocation saved in redis after it failed", "link", l.ID)
	}
	return nil
}

func (r *redisStore) visit(id, visit string) (string, error) {
	l, err := r.get(id)
	if err != nil {
		return "", fmt.Errorf("share link %s use not counted: %w", id, err)
	}
	if l == nil {
		return "", fmt.Errorf("link %s: %w", id, ErrNotFound)
	}
	if l.MaxUses == 0 {
		return "", nil
	}
	known := ""
	if visit != "" {
		known = HashToken(visit)
	}
	token, hash, err := NewToken()
	if err != nil {
		return "", err
	}
	ctx, cancel := redisCtx()
	defer cancel()
	res, err := visitScript.Run(ctx, r.rdb, []string{linkKey(id), visitsKey(id)},
		known, hash, l.MaxUses, r.expiresAt(l).UnixMilli()).Result()
	if err := r.note(err); err != nil {
		r.log.Error("share link use not counted: redis", "link", id, "err", err)
		return "", fmt.Errorf("share link %s use not counted: %w", id, err)
	}
	status, n, err := scriptResult(res)
	switch {
	case err != nil:
		return "", err
	case status == "gone":
		return "", fmt.Errorf("link %s: %w", id, ErrNotFound)
	case status == "known":
		return visit, nil
	case status == "full":
		return "", fmt.Errorf("link %s: %w (%d of %d)", id, ErrUsedUp, n, l.MaxUses)
	}
	return token, nil
}

func (r *redisStore) list(user string) ([]Link, error) {
	key := allLinksKey
	if user != "" {
		key = userLinksKey(user)
	}
	now := r.opts.Now()
	links, err := r.read(key, "("+strconv.FormatInt(now.UnixMilli(), 10), true)
	if err != nil {
		return nil, err
	}
	out := links[:0]
	for _, l := range links {
		if (user == "" || l.User == user) && now.Before(r.expiresAt(&l)) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// all reads every link without keeping copies: it is the audit's poll,
// once a second on every node, and a copy is what a node serves from while
// Redis is down, which should be the links this node served, not all.
func (r *redisStore) all() ([]Link, error) { return r.read(allLinksKey, "-inf", false) }

// read returns the links whose IDs set key holds with a score from from
// on, with their uses, keeping a copy of each if keep.
func (r *redisStore) read(key, from string, keep bool) ([]Link, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*redisTimeout)
	defer cancel()
	at := r.opts.Now()
	ids, err := r.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: from, Stop: "+inf", ByScore: true}).Result()
	if err := r.note(err); err != nil {
		return nil, fmt.Errorf("share links: %w", err)
	}
	var out []Link
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		keys := make([]string, len(chunk))
		for i, id := range chunk {
			keys[i] = linkKey(id)
		}
		vals, err := r.rdb.MGet(ctx, keys...).Result()
		if err := r.note(err); err != nil {
			return nil, fmt.Errorf("share links: %w", err)
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue // expired or revoked since the set was read
			}
			var l Link
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				return nil, fmt.Errorf("share link %s in redis: %w", chunk[i], err)
			}
			out = append(out, l)
		}
	}
	pipe := r.rdb.Pipeline()
	uses := map[int]*redis.StringSliceCmd{}
	for i, l := range out {
		if l.MaxUses > 0 {
			uses[i] = pipe.SMembers(ctx, visitsKey(l.ID))
		}
	}
	if len(uses) > 0 {
		_, err := pipe.Exec(ctx)
		if err := r.note(err); err != nil {
			return nil, fmt.Errorf("share links: %w", err)
		}
		for i, cmd := range uses {
			out[i].Visits = cmd.Val()
		}
	}
	for _, l := range out {
		if !keep {
			break
		}
		c := l
		c.Visits = nil
		r.remember(c, at)
	}
	return out, nil
}
